"""The replay backend: answer as a Claude tier from an outcome dataset's recorded answers, offline.

A `ReplayBook` indexes a dataset (see `tiered.datasets`) by prompt and maps Claude names (tier,
alias or id) to the dataset model that plays them: by default mistral-7b plays Haiku,
gpt-3.5-turbo-1106 Sonnet and gpt-4-1106 Opus, as in the packaged routerbench3 sample. A prompt is
the request's last user text, matched exactly after whitespace normalisation. The book also holds
what the response must not: the recorded quality (`book.quality(prompt, model)`), for evaluation.

`ReplayModel` answers one Claude model. Its `Response`:
- `id` is `replay_<item id>`, so a caller can find the record (and its quality) again;
- `model` is the Claude model's name and `usage` holds the recorded tokens, or estimates at about
  four characters a token, so `pricing.cost_usd` with the catalog's Claude prices gives the cost;
- the text is the recorded answer (RouterBench stores it as a Python list literal, which is
  unwrapped) or, where the dataset recorded none, a fixed stand-in that states the recorded quality.

An unknown prompt is a miss, handled per `on_miss`:
- `"error"` (default) raises `NoAnswer`;
- `"nearest"` answers with the most similar recorded prompt's answer (Jaccard over word and
  word-pair sets, scoring only prompts that share a distinctive word pair); its `id` is then
  `replay-nearest_<item id>`, input tokens are estimated from the request's own prompt, and the
  text opens with a line saying plainly that it answers another prompt, and which (`nearest_note`),
  so nobody reads it as an answer to theirs.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from tiered.datasets import CHARS_PER_TOKEN, Dataset, Item, load_dataset
from tiered.errors import NoAnswer
from tiered.models.events import response_events
from tiered.types import Request, Response, StreamEvent, Usage

DEFAULT_DATASET = "routerbench3"
DEFAULT_MODELS: Mapping[str, str] = {
    "haiku": "mistralai/mistral-7b-chat",
    "sonnet": "gpt-3.5-turbo-1106",
    "opus": "gpt-4-1106-preview",
}
"""Tier name -> the routerbench3 model that plays it."""

_COMMON_SHARE = 0.05
"""A word pair found in more than this share of prompts (shared few-shot exemplars) finds no candidates."""
_WORD = re.compile(r"\w+")
OnMiss = Literal["error", "nearest"]


def normalize(text: str) -> str:
    """Whitespace-insensitive form used as the lookup key."""
    return " ".join(text.split())


def _shingles(text: str) -> frozenset[str]:
    words = _WORD.findall(text.lower())
    return frozenset(words) | frozenset(f"{a} {b}" for a, b in pairwise(words))


@dataclass(frozen=True, slots=True)
class Match:
    item: Item
    exact: bool
    similarity: float


class ReplayBook:
    """A dataset indexed by normalised prompt, with the Claude-name -> dataset-model mapping.

    Args:
        models: names (tiers, aliases, ids) -> dataset model; a name not in it is taken to be a
            dataset model itself.
    """

    def __init__(self, dataset: Dataset, models: Mapping[str, str] | None = None) -> None:
        self.dataset = dataset
        self.models: Mapping[str, str] = dict(DEFAULT_MODELS if models is None else models)
        self._by_prompt: dict[str, Item] = {}
        for item in dataset:
            self._by_prompt.setdefault(normalize(item.prompt), item)
        self._shingles: list[frozenset[str]] | None = None
        self._postings: dict[str, list[int]] = {}

    @classmethod
    def load(cls, spec: str | os.PathLike[str] = DEFAULT_DATASET, models: Mapping[str, str] | None = None,
             *, split: str | None = None) -> ReplayBook:
        """A book over a dataset name, folder or file (`tiered.datasets.load_dataset`), optionally one split."""
        return cls(load_dataset(spec).split(split), models)

    @property
    def name(self) -> str:
        return self.dataset.name

    def __len__(self) -> int:
        return len(self._by_prompt)

    def dataset_model(self, model: str) -> str:
        return self.models.get(model, model)

    def find(self, prompt: str) -> Item | None:
        """The item whose prompt equals `prompt` up to whitespace, or None."""
        return self._by_prompt.get(normalize(prompt))

    def quality(self, prompt: str, model: str) -> float | None:
        """The recorded quality of `model`'s answer to `prompt`; None if the prompt or the model is not recorded."""
        item = self.find(prompt)
        outcome = item.outcomes.get(self.dataset_model(model)) if item else None
        return outcome.quality if outcome else None

    def nearest(self, prompt: str, *, model: str | None = None) -> Match | None:
        """The recorded prompt most like `prompt` (that has an answer from `model`, when given)."""
        wanted = self.dataset_model(model) if model else None
        exact = self.find(prompt)
        if exact is not None and (wanted is None or wanted in exact.outcomes):
            return Match(exact, True, 1.0)
        shingles = self._index()
        query = _shingles(prompt)
        items = self.dataset.items

        def usable(i: int) -> bool:
            return wanted is None or wanted in items[i].outcomes

        candidates = [i for i in sorted({i for s in query for i in self._postings.get(s, ())}) if usable(i)]
        best: tuple[float, int] | None = None
        for i in candidates or filter(usable, range(len(items))):
            union = len(query | shingles[i])
            score = len(query & shingles[i]) / union if union else 0.0
            if best is None or score > best[0]:
                best = (score, i)
        return Match(items[best[1]], False, best[0]) if best else None

    @property
    def nearest_ready(self) -> bool:
        """Whether the nearest-prompt index is built (`prepare_nearest`)."""
        return self._shingles is not None

    def prepare_nearest(self) -> None:
        """Build the nearest-prompt index now (about a second for the packaged sample), once per book."""
        self._index()

    def _index(self) -> list[frozenset[str]]:
        """Built once, by `prepare_nearest` or on the first miss."""
        if self._shingles is None:
            self._shingles = [_shingles(item.prompt) for item in self.dataset]
            postings: dict[str, list[int]] = {}
            for i, shingles in enumerate(self._shingles):
                for s in shingles:
                    if " " in s:
                        postings.setdefault(s, []).append(i)
            limit = max(1, int(len(self._shingles) * _COMMON_SHARE))
            self._postings = {s: ids for s, ids in postings.items() if len(ids) <= limit}
        return self._shingles


NEAREST_NOTE_START = "[tiered offline replay: no recorded answer to this prompt."


def nearest_note(dataset: str, item: Item, *, excerpt_chars: int = 80) -> str:
    """The first line of a nearest-prompt answer: it answers another prompt, which one, and how to get a real one."""
    prompt = " ".join(item.prompt.split())
    excerpt = prompt if len(prompt) <= excerpt_chars else prompt[: excerpt_chars - 1].rstrip() + "…"
    return (f"{NEAREST_NOTE_START} Below is the recorded answer to a different prompt, the most similar one in "
            f"{dataset} ({item.id}: {excerpt!r}). Set ANTHROPIC_API_KEY for a real answer.]\n\n")


def answer_text(item: Item, dataset_model: str) -> str:
    """The recorded answer as text, or a stand-in stating the recorded outcome when there is none."""
    outcome = item.outcomes[dataset_model]
    raw = outcome.response
    if raw is None:
        return f"[replay] recorded answer not available; recorded quality {outcome.quality}"
    if raw.startswith("[") and raw.endswith("]"):
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return raw
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "".join(value).strip()
    return raw


class ReplayModel:
    """One Claude model answered from a `ReplayBook` (see the module docstring for misses).

    Args:
        dataset_model: the dataset model that plays `name` (default: the book's mapping of `name`).
        latency_s: simulated latency added before answering (default none), slept with `sleep`.
    """

    def __init__(
        self,
        name: str,
        book: ReplayBook,
        *,
        dataset_model: str | None = None,
        on_miss: OnMiss = "error",
        latency_s: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if on_miss not in ("error", "nearest"):
            raise ValueError(f"on_miss must be 'error' or 'nearest', not {on_miss!r}")
        self._name = name
        self.book = book
        self.dataset_model = dataset_model or book.dataset_model(name)
        self.on_miss: OnMiss = on_miss
        if on_miss == "nearest":
            book.prepare_nearest()  # set-up, not latency: a first miss would otherwise pay it inside its attempt
        self._latency_s = latency_s
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"ReplayModel({self._name!r}, dataset={self.book.name!r}, plays={self.dataset_model!r})"

    async def complete(self, request: Request) -> Response:
        if self._latency_s > 0:
            await self._sleep(self._latency_s)
        prompt = request.last_user_text
        item = self.book.find(prompt)
        if item is not None and self.dataset_model in item.outcomes:
            return self._response(f"replay_{item.id}", item, item.input_tokens(self.dataset_model))
        match = self.book.nearest(prompt, model=self.dataset_model) if self.on_miss == "nearest" else None
        if match is None:
            raise NoAnswer(
                f"replay: {self.book.name} has no recorded answer from {self.dataset_model} for this prompt "
                f"(on_miss={self.on_miss!r}; 'nearest' answers with the most similar recorded prompt)",
                model=self._name,
            )
        estimated = max(1, len(request.prompt_text) // CHARS_PER_TOKEN)
        note = nearest_note(self.book.name, match.item)
        return self._response(f"replay-nearest_{match.item.id}", match.item, estimated, note=note)

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        response = await self.complete(request)
        for event in response_events(response):
            yield event

    def _response(self, response_id: str, item: Item, input_tokens: int, *, note: str = "") -> Response:
        return Response(
            id=response_id,
            model=self._name,
            content=({"type": "text", "text": note + answer_text(item, self.dataset_model)},),
            stop_reason="end_turn",
            usage=Usage(input_tokens=input_tokens, output_tokens=item.output_tokens(self.dataset_model)),
        )

    async def aclose(self) -> None:
        return None
