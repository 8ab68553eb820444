"""Replayed answers: each emulated model answers a prompt as its mapped benchmark model did.

The key is the text of the last user turn, matched exactly against the dataset's prompts (the
first item wins when a prompt repeats). A prompt that is not in the dataset, or that the mapped
model has no response for, gets `no_answer_text`: a fixed sentence saying so, so a caller can tell
a replay miss from an answer and a run stays repeatable. Kept apart from the app so that it can be
merged with the replay model backend (tiered.models.replay) once that exists.

With no explicit mapping, the catalog's tiers, cheapest first, take the first dataset model (in
models.json order) whose tier_hint is "cheap", "medium" and "expensive" respectively.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tiered.datasets import Dataset, load_dataset
from tiered.errors import ConfigError


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
    """Prompt -> {dataset model -> response}, plus which dataset model each emulated model speaks for."""

    dataset: str
    mapping: Mapping[str, str]
    responses: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls, dataset: str, mapping: Mapping[str, str], tiers: Sequence[str] = ()) -> ReplayAnswers:
        """`tiers`: emulated model ids, cheapest first, for the default mapping."""
        data: Dataset = load_dataset(dataset)
        if not mapping:
            mapping = default_mapping(data, tiers)
        known = set(data.model_names)
        for emulated, recorded in mapping.items():
            if recorded not in known:
                raise ConfigError(f"replay.models.{emulated}: {recorded!r} is not a model of dataset {data.name}")
        wanted = set(mapping.values())
        responses: dict[str, dict[str, str]] = {}
        for item in data:
            if item.prompt in responses:
                continue
            responses[item.prompt] = {
                name: o.response for name, o in item.outcomes.items() if name in wanted and o.response is not None
            }
        return cls(dataset=data.name, mapping=dict(mapping), responses=responses)

    def answer(self, model: str, prompt: str) -> str | None:
        """The recorded answer, `no_answer_text` on a miss, or None when `model` is not replayed."""
        recorded = self.mapping.get(model)
        if recorded is None:
            return None
        found = self.responses.get(prompt, {}).get(recorded)
        return found if found is not None else no_answer_text(self.dataset, recorded)


def default_mapping(data: Dataset, tiers: Sequence[str]) -> dict[str, str]:
    by_hint: dict[str, str] = {}
    for name, info in data.models.items():
        if info.tier_hint is not None:
            by_hint.setdefault(info.tier_hint, name)
    hints = ("cheap", "medium", "expensive")
    return {model: by_hint[hint] for model, hint in zip(tiers, hints, strict=False) if hint in by_hint}
