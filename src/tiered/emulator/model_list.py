"""The models the emulator knows, as /v1/models shows them.

Known ids are the catalog's ids, aliases and tier names, plus every model the emulator config
mentions (its `models` list, its per-model sections and its replay mapping). The list endpoint shows
each catalog model once (by id) and then the extra configured ids, with the API's pagination
(`limit`, `after_id`, `before_id`) and ModelInfo shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from tiered.catalog import Catalog
from tiered.emulator.config import EmulatorConfig

CREATED_AT = "2025-01-01T00:00:00Z"
_LINES = ("haiku", "sonnet", "opus")


class BadQuery(ValueError):
    """A /v1/models query parameter out of range."""


@dataclass(frozen=True, slots=True)
class ModelDirectory:
    infos: Mapping[str, dict[str, Any]]
    """Listed model id -> ModelInfo JSON, in list order."""
    names: Mapping[str, str]
    """Every accepted name (id, alias, tier) -> listed id."""

    @classmethod
    def build(cls, catalog: Catalog, config: EmulatorConfig) -> ModelDirectory:
        infos: dict[str, dict[str, Any]] = {}
        names: dict[str, str] = {}
        for model in catalog.models.values():
            infos[model.id] = _info(model.id, model.display_name or model.id, model.context_window, model.max_output)
            if model.tier in _LINES:
                infos[model.id]["line"] = model.tier
            for name in (model.id, *model.aliases):
                names[name] = model.id
        for tier, model_id in catalog.tiers.items():
            names.setdefault(tier, model_id)
        replayed = config.replay.models if config.replay is not None else {}
        for extra in (*config.extra_models, *config.per_model, *replayed):
            if extra not in names:
                infos[extra] = _info(extra, extra, 200_000, 64_000)
                names[extra] = extra
        return cls(infos=infos, names=names)

    def knows(self, name: str) -> bool:
        return name in self.names

    def get(self, name: str) -> dict[str, Any] | None:
        listed = self.names.get(name)
        return None if listed is None else self.infos[listed]

    def page(self, query: bytes) -> dict[str, Any]:
        params = {k: v[-1] for k, v in parse_qs(query.decode("latin-1")).items()}
        try:
            limit = int(params.get("limit", "20"))
        except ValueError as e:
            raise BadQuery("limit: Input should be a valid integer") from e
        if not 1 <= limit <= 1000:
            raise BadQuery("limit: Input should be between 1 and 1000")
        ids = list(self.infos)
        if "after_id" in params:
            ids = ids[ids.index(params["after_id"]) + 1 :] if params["after_id"] in ids else []
            chosen, more = ids[:limit], len(ids) > limit
        elif "before_id" in params:
            ids = ids[: ids.index(params["before_id"])] if params["before_id"] in ids else []
            chosen, more = ids[-limit:], len(ids) > limit
        else:
            chosen, more = ids[:limit], len(ids) > limit
        return {
            "data": [self.infos[i] for i in chosen],
            "has_more": more,
            "first_id": chosen[0] if chosen else None,
            "last_id": chosen[-1] if chosen else None,
        }


def _info(model_id: str, display_name: str, context_window: int, max_output: int) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name,
        "created_at": CREATED_AT,
        "lifecycle": "active",
        "max_input_tokens": context_window,
        "max_tokens": max_output,
    }
