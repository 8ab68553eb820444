"""The model catalog: ids, aliases, tiers, limits and prices, loaded from TOML data.

The packaged `data/catalog.toml` is the base; a user catalog (the `TIERED_CATALOG` environment
variable or an explicit path) adds models or overrides fields of existing ones, so a new model or a
price change needs no release. Prices are `Decimal` USD per million tokens; a model listed without
`input`/`output` has no known price (`ModelInfo.priced` is False): it may be served, and its cost is
reported as unknown, never guessed.

Capabilities are data too (`thinking`, `efforts`, `tools`, `max_output`, `context_window`): what the
API accepts from each model. `tiered.capabilities` adapts a request to the model it is sent to, and
the emulator refuses what the real API would, from the same fields. A field left out means "not
declared": nothing is checked for it (models the user adds, other providers).
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from tiered.errors import CatalogError, ConfigError

STALE_AFTER_DAYS = 90
_PRICE_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
_MODEL_KEYS = {
    "provider", "aliases", "tier", "display_name", "context_window", "max_output",
    "batch_discount", "api_base", "upstream_model", "api_key_env", "thinking", "efforts", "tools", *_PRICE_FIELDS,
}
EFFORTS = ("low", "medium", "high", "xhigh", "max")
"""Every `output_config.effort` value the API knows, lowest first."""
THINKING_TYPES = ("enabled", "adaptive")
"""The `thinking.type` values a model may accept besides "disabled" (always accepted)."""
EFFORT_SEP = "@"
"""A target `model@effort` (e.g. `sonnet@low`) is that model asked at that effort: a rung of its own."""


def split_effort(name: str) -> tuple[str, str | None]:
    """`("sonnet", "low")` for "sonnet@low"; `(name, None)` for a name without an effort."""
    base, sep, effort = name.rpartition(EFFORT_SEP)
    return (base, effort) if sep and base else (name, None)


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per million tokens."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    provider: str
    tier: str
    prices: Prices
    aliases: tuple[str, ...] = ()
    display_name: str = ""
    context_window: int = 200_000
    max_output: int = 64_000
    batch_discount: Decimal = Decimal("0.5")
    """The fraction taken off input and output prices for batch requests."""
    api_base: str | None = None
    upstream_model: str | None = None
    """The id to send upstream when it differs from the catalog id."""
    api_key_env: str | None = None
    """The environment variable holding this model's API key (default per provider, see tiered.models.registry)."""
    priced: bool = True
    """False when the catalog knows no price for the model: `prices` are then zeros, and costs unknown."""
    thinking: tuple[str, ...] | None = None
    """The `thinking.type` values accepted besides "disabled" (() = no extended thinking; None = not declared)."""
    efforts: tuple[str, ...] | None = None
    """The `output_config.effort` values accepted (() = the field is refused; None = not declared)."""
    tools: tuple[str, ...] | None = None
    """The tool types accepted: "custom" and server tool families such as "web_search" (None = not declared)."""


@dataclass(frozen=True, slots=True)
class Catalog:
    models: Mapping[str, ModelInfo]
    tiers: Mapping[str, str]
    """Tier name -> model id, cheapest first (dict order)."""
    prices_checked: dt.date
    sources: tuple[str, ...] = ()

    @classmethod
    def load(cls, user_path: str | os.PathLike[str] | None = None) -> Catalog:
        """The packaged catalog, overlaid with `user_path` or `$TIERED_CATALOG` when given."""
        base = tomllib.loads(resources.files("tiered.data").joinpath("catalog.toml").read_text("utf-8"))
        sources = ["tiered/data/catalog.toml"]
        path = user_path or os.environ.get("TIERED_CATALOG")
        if path:
            try:
                overlay = tomllib.loads(Path(path).read_text("utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise ConfigError(f"cannot read catalog {path}: {e}") from e
            base = _merge(base, overlay)
            sources.append(str(path))
        return cls.from_dict(base, sources=tuple(sources))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, sources: tuple[str, ...] = ()) -> Catalog:
        unknown = set(data) - {"prices_checked", "tiers", "models"}
        if unknown:
            raise ConfigError(f"unknown catalog key: {sorted(unknown)[0]}")
        models: dict[str, ModelInfo] = {}
        for model_id, raw in (data.get("models") or {}).items():
            models[model_id] = _model(model_id, raw)
        tiers = dict(data.get("tiers") or {})
        for tier, model_id in tiers.items():
            if model_id not in models:
                raise ConfigError(f"tiers.{tier}: unknown model {model_id!r}")
        checked = data.get("prices_checked", dt.date(1970, 1, 1))
        if isinstance(checked, str):
            checked = dt.date.fromisoformat(checked)
        return cls(models=models, tiers=tiers, prices_checked=checked, sources=sources)

    def resolve(self, name: str) -> ModelInfo:
        """A model by id, alias or tier name; `NAME@EFFORT` is that model, checked to accept the effort."""
        base, effort = split_effort(name)
        if effort is not None:
            info = self.resolve(base)
            if effort not in (info.efforts or ()):
                accepts = ", ".join(info.efforts) if info.efforts else "none"
                raise CatalogError(f"{info.id} does not accept effort {effort!r} (it accepts: {accepts})")
            return info
        if name in self.models:
            return self.models[name]
        if name in self.tiers:
            return self.models[self.tiers[name]]
        for info in self.models.values():
            if name in info.aliases:
                return info
        raise CatalogError(f"unknown model {name!r}; known: {', '.join(sorted(self.names()))}")

    def get(self, name: str) -> ModelInfo | None:
        try:
            return self.resolve(name)
        except CatalogError:
            return None

    def names(self) -> Iterator[str]:
        """Every name `resolve` accepts, each once: ids, tier names, then aliases."""
        seen: set[str] = set()
        for name in (*self.models, *self.tiers, *(a for info in self.models.values() for a in info.aliases)):
            if name not in seen:
                seen.add(name)
                yield name

    def tier_rank(self, tier: str) -> int:
        """0 for the cheapest tier of the ladder; unknown tiers rank after all known ones."""
        order = list(self.tiers)
        return order.index(tier) if tier in order else len(order)

    def stale(self, today: dt.date | None = None) -> bool:
        return ((today or dt.date.today()) - self.prices_checked).days > STALE_AFTER_DAYS


def _model(model_id: str, raw: Mapping[str, Any]) -> ModelInfo:
    unknown = set(raw) - _MODEL_KEYS
    if unknown:
        raise ConfigError(f"models.{model_id}: unknown key {sorted(unknown)[0]!r}")
    priced = "input" in raw or "output" in raw
    try:
        inp = Decimal(str(raw["input"])) if priced else Decimal(0)
        out = Decimal(str(raw["output"])) if priced else Decimal(0)
        prices = Prices(
            input=inp,
            output=out,
            cache_write_5m=Decimal(str(raw.get("cache_write_5m", inp * Decimal("1.25")))),
            cache_write_1h=Decimal(str(raw.get("cache_write_1h", inp * 2))),
            cache_read=Decimal(str(raw.get("cache_read", inp * Decimal("0.1")))),
        )
        return ModelInfo(
            id=model_id,
            provider=str(raw.get("provider", "anthropic")),
            tier=str(raw.get("tier", "")),
            prices=prices,
            aliases=tuple(raw.get("aliases", ())),
            display_name=str(raw.get("display_name", model_id)),
            context_window=int(raw.get("context_window", 200_000)),
            max_output=int(raw.get("max_output", 64_000)),
            batch_discount=Decimal(str(raw.get("batch_discount", "0.5"))),
            api_base=raw.get("api_base"),
            upstream_model=raw.get("upstream_model"),
            api_key_env=raw.get("api_key_env"),
            priced=priced,
            thinking=_names(model_id, raw, "thinking", THINKING_TYPES),
            efforts=_names(model_id, raw, "efforts", EFFORTS),
            tools=_names(model_id, raw, "tools", None),
        )
    except KeyError as e:
        raise ConfigError(f"models.{model_id}: missing key {e.args[0]!r}") from e
    except (ArithmeticError, ValueError, TypeError) as e:
        raise ConfigError(f"models.{model_id}: {e}") from e


def _names(model_id: str, raw: Mapping[str, Any], key: str, allowed: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """A capability list: None when the entry does not declare it; each value checked against `allowed`."""
    if key not in raw:
        return None
    value = raw[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"models.{model_id}.{key}: expected a list of strings")
    for v in value:
        if allowed is not None and v not in allowed:
            raise ConfigError(f"models.{model_id}.{key}: unknown value {v!r}; known: {', '.join(allowed)}")
    return tuple(value)


def _merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay tables onto base tables, recursively; scalars and lists are replaced."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
