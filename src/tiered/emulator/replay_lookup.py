"""Replayed answers: each emulated model answers a prompt as its mapped benchmark model did.

The lookup itself is the replay backend's (`tiered.models.replay.ReplayBook`): the key is the
text of the last user turn, matched exactly up to whitespace, and the answer is the recorded
response as `answer_text` renders it. This module only adds what the emulator needs on top:

- which dataset model each emulated model speaks for: the configured mapping (keys may be ids,
  aliases or tier names), else the book's default per tier (mistral-7b plays Haiku,
  gpt-3.5-turbo Sonnet, gpt-4 Opus on routerbench3) applied to the catalog's tier models;
- a miss (prompt not recorded, or recorded without that model) answers `no_answer_text`, a fixed
  sentence saying so, rather than an error, so a benchmark run keeps going and stays repeatable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tiered.datasets import load_dataset
from tiered.errors import ConfigError
from tiered.models.replay import DEFAULT_MODELS, ReplayBook, answer_text


def last_user_text(messages: list[Mapping[str, Any]]) -> str:
    """The text of the last user turn (text blocks joined by newlines); "" when there is none."""
    for message in reversed(messages):
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            return content
        texts = [b["text"] for b in content if b.get("type") == "text" and isinstance(b.get("text"), str)]
        if texts:
            return "\n".join(texts)
    return ""


def no_answer_text(dataset: str, model: str) -> str:
    return f"[tiered emulator] {dataset} has no recorded answer from {model} for this prompt."


@dataclass(frozen=True, slots=True)
class ReplayAnswers:
    book: ReplayBook
    plays: Mapping[str, str]
    """Emulated model id -> the dataset model that answers for it."""
    canonical: Callable[[str], str | None]
    """A requested name (id, alias, tier) -> the emulated model id."""

    @classmethod
    def load(
        cls, dataset: str, mapping: Mapping[str, str], tiers: Mapping[str, str], canonical: Callable[[str], str | None]
    ) -> ReplayAnswers:
        """`tiers`: the catalog's tier name -> model id, for the default mapping."""
        book = ReplayBook(load_dataset(dataset))
        if not mapping:
            mapping = {tiers[tier]: played for tier, played in DEFAULT_MODELS.items() if tier in tiers}
        known = set(book.dataset.model_names)
        plays: dict[str, str] = {}
        for emulated, recorded in mapping.items():
            if recorded not in known:
                raise ConfigError(
                    f"replay.models.{emulated}: {recorded!r} is not a model of dataset {book.name} "
                    f"(map each emulated model to one of: {', '.join(sorted(known))})"
                )
            plays[canonical(emulated) or emulated] = recorded
        return cls(book=book, plays=plays, canonical=canonical)

    def answer(self, model: str, prompt: str) -> str | None:
        """The recorded answer, `no_answer_text` on a miss, or None when `model` is not replayed."""
        recorded = self.plays.get(self.canonical(model) or model)
        if recorded is None:
            return None
        item = self.book.find(prompt)
        if item is None or recorded not in item.outcomes:
            return no_answer_text(self.book.name, recorded)
        return answer_text(item, recorded)
