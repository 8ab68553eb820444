"""What the emulator does beyond answering: injected faults, latency, replayed content, limits.

One frozen `EmulatorConfig` holds it all, so a benchmark or a test states its upstream in one value
instead of a pile of keyword arguments. It loads from TOML; unknown keys are errors that name the key:

    seed = 7                          # fixes every injected fault (see faults.py for the exact rule)
    batch_seconds = 2.0               # a message batch is in_progress this long (default 0)
    max_body_bytes = 33554432         # larger requests get 413 request_too_large
    models = ["my-finetune"]          # extra model ids to accept besides the catalog's

    [default]                         # behaviour of every model ...
    ttft_ms = 0                       # delay before the first byte of the answer
    tpot_ms = 0                       # delay per output token
    retry_after_ms = 1000             # retry-after(-ms) of injected 429s (header faults may set their own)
    errors = {529 = 0.3, 429 = 0.1, 500 = 0.05, midstream = 0.05}   # probability per request

    [model."claude-haiku-4-5"]        # ... overridden field by field for one model (id, alias or tier)
    ttft_ms = 150

    [replay]                          # answer as a benchmark model did (see replay_lookup.py)
    dataset = "routerbench3"
    models = {"claude-haiku-4-5" = "mistralai/mistral-7b-chat"}
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tiered.errors import ConfigError

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
MIDSTREAM = "midstream"
"""The error-rate key for an `error` event inside an otherwise healthy stream."""


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How one model misbehaves. Error kinds are HTTP statuses as strings ("529") or `MIDSTREAM`."""

    error_rates: Mapping[str, float] = field(default_factory=dict)
    ttft_ms: float = 0.0
    tpot_ms: float = 0.0
    retry_after_ms: int | None = 1000

    def __post_init__(self) -> None:
        for kind, rate in self.error_rates.items():
            if kind != MIDSTREAM and not (kind.isdigit() and 400 <= int(kind) <= 599):
                raise ConfigError(f"errors: {kind!r} is neither an HTTP error status nor {MIDSTREAM!r}")
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"errors.{kind}: rate {rate} is not in [0, 1]")
        if sum(self.error_rates.values()) > 1.0 + 1e-9:
            raise ConfigError("errors: the rates add up to more than 1")
        if self.ttft_ms < 0 or self.tpot_ms < 0:
            raise ConfigError("ttft_ms and tpot_ms must be >= 0")


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """Answer each emulated model with what `models[model]` answered in `dataset`."""

    dataset: str
    models: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    seed: int = 0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    default: Behaviour = field(default_factory=Behaviour)
    per_model: Mapping[str, Behaviour] = field(default_factory=dict)
    extra_models: tuple[str, ...] = ()
    replay: ReplayConfig | None = None
    batch_seconds: float = 0.0
    """How long a message batch takes to process (it answers `in_progress` until then)."""

    def behaviour(self, model: str) -> Behaviour:
        """The behaviour of the section named exactly `model` (the Emulator also resolves aliases)."""
        return self.per_model.get(model, self.default)

    def with_seed(self, seed: int) -> EmulatorConfig:
        return replace(self, seed=seed)

    def with_replay(self, replay: ReplayConfig | None) -> EmulatorConfig:
        return replace(self, replay=replay)

    @classmethod
    def load(cls, path: str | Path) -> EmulatorConfig:
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read emulator config {path}: {e}") from e
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmulatorConfig:
        _no_unknown("", data, {"seed", "max_body_bytes", "models", "default", "model", "replay",
                              "batch_seconds"})
        default_raw = _table("default", data.get("default", {}))
        default = _behaviour("default", default_raw, Behaviour())
        per_model = {
            name: _behaviour(f"model.{name}", _table(f"model.{name}", raw), default)
            for name, raw in _table("model", data.get("model", {})).items()
        }
        extra = data.get("models", [])
        if not isinstance(extra, list) or not all(isinstance(m, str) for m in extra):
            raise ConfigError("models: expected a list of model ids")
        return cls(
            seed=_int("seed", data.get("seed", 0)),
            max_body_bytes=_int("max_body_bytes", data.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)),
            default=default,
            per_model=per_model,
            extra_models=tuple(extra),
            replay=_replay(data["replay"]) if "replay" in data else None,
            batch_seconds=_seconds("batch_seconds", data.get("batch_seconds", 0.0)),
        )


def _behaviour(where: str, raw: Mapping[str, Any], base: Behaviour) -> Behaviour:
    _no_unknown(where, raw, {"errors", "ttft_ms", "tpot_ms", "retry_after_ms"})
    changes: dict[str, Any] = {}
    if "errors" in raw:
        rates = _table(f"{where}.errors", raw["errors"])
        try:
            changes["error_rates"] = {str(k): float(v) for k, v in rates.items()}
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}.errors: {e}") from e
    for key in ("ttft_ms", "tpot_ms"):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{where}.{key}: expected a number")
            changes[key] = float(value)
    if "retry_after_ms" in raw:
        changes["retry_after_ms"] = _int(f"{where}.retry_after_ms", raw["retry_after_ms"])
    try:
        return replace(base, **changes)
    except ConfigError as e:
        raise ConfigError(f"{where}.{e}") from e


def _replay(raw: Any) -> ReplayConfig:
    table = _table("replay", raw)
    _no_unknown("replay", table, {"dataset", "models"})
    dataset, models = table.get("dataset"), _table("replay.models", table.get("models", {}))
    if not isinstance(dataset, str) or not dataset:
        raise ConfigError("replay.dataset: expected a dataset name or path")
    if not all(isinstance(v, str) for v in models.values()):
        raise ConfigError("replay.models: expected emulated model = dataset model strings")
    return ReplayConfig(dataset=dataset, models=dict(models))


def _table(where: str, raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table")
    return raw


def _seconds(where: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
        raise ConfigError(f"{where}: expected a number of seconds >= 0")
    return float(raw)


def _int(where: str, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ConfigError(f"{where}: expected an integer")
    return raw


def _no_unknown(where: str, raw: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")

