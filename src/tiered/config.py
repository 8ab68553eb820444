"""One TOML file declares where calls go, where records go, the models, and the routes' policies.

    default_route = "default"
    [backend]                      # "auto": the API when its key is set, else offline replay
    kind = "auto"                  # auto | replay | emulator | anthropic
    api_key = "env:ANTHROPIC_API_KEY"
    [telemetry]
    sinks = ["sqlite"]             # sqlite | jsonl | postgres | otel (tiered[otel])
    [models.fast]                  # a LiteLLM-style alias for a catalog model
    model = "claude-haiku-4-5"
    [routes.default]               # a policy table (see tiered.policy_specs for every kind)
    policy = "fallback"
    chain = [{ policy = "cascade", tiers = ["fast", "sonnet"] }, "opus"]

Loading is strict and happens once: the file is parsed into frozen dataclasses, every key is checked
(an unknown one is an error that names it, e.g. `routes.code.thresholds: unknown key 'cutz'`), every
model name is resolved against the catalog, and only then does `tiered.routes` build
objects from the specs, through the one registry in `tiered.policy_registry`. Secrets are
`env:VAR` / `os.environ/VAR` references, resolved when a backend is built, never stored.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from tiered.catalog import Catalog
from tiered.config_tables import Table
from tiered.errors import ConfigError
from tiered.policy_registry import SpecReader
from tiered.policy_specs import Spec, Target

BackendKind = Literal["auto", "anthropic", "replay", "emulator"]
SinkKind = Literal["sqlite", "jsonl", "postgres", "otel"]
BACKENDS: tuple[BackendKind, ...] = ("auto", "anthropic", "replay", "emulator")
SINKS: tuple[SinkKind, ...] = ("sqlite", "jsonl", "postgres", "otel")
SERVER_TABLES = ("gateway", "state", "learning")
"""Tables that only `tiered serve` reads (`tiered.gateway.settings`); the library's config leaves them out."""
_TOP = ("default_route", "backend", "telemetry", "catalog", "models", "policies", "routes")
_DSN_SECRET = re.compile(r"password\s*=|://[^/@\s]*:[^/@\s]*@", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class BackendConfig:
    kind: BackendKind = "auto"
    base_url: str | None = None
    """Where "emulator" (or a proxied "anthropic") sends calls."""
    dataset: str | None = None
    """The outcome dataset replay answers from (default: the packaged routerbench3 sample)."""
    on_miss: Literal["nearest", "error"] = "nearest"
    """What replay does with a prompt the dataset lacks: the nearest recorded prompt's answer, or an error."""
    api_key_env: str | None = None
    """The variable that holds the Anthropic key, when not ANTHROPIC_API_KEY."""


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    sinks: tuple[SinkKind, ...] = ("sqlite",)
    sqlite_path: str | None = None
    """Default `$TIERED_DB`, else the per-user data directory."""
    jsonl_path: str = "tiered-requests.jsonl"
    postgres_dsn: str | None = None
    """A DSN without a password (use `postgres_dsn_env` or libpq's PGPASSWORD for one)."""
    postgres_dsn_env: str | None = None
    postgres_schema: str = "tiered"
    spool_dir: str | None = None
    """`[telemetry.spool] dir`: where the gateway spools records before storing them (default: beside the
    SQLite file; the per-user data folder for PostgreSQL)."""
    spool_max_mb: float = 512.0
    spool_when_full: Literal["drop", "refuse"] = "drop"
    """A full spool: "drop" keeps answering and counts records not logged; "refuse" answers 503."""


@dataclass(frozen=True, slots=True)
class ModelAlias:
    """`[models.<name>]`: a name routes use for a catalog model, LiteLLM's model_name."""

    name: str
    model: str
    api_key_env: str | None = None
    api_base: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    catalog: Catalog
    routes: Mapping[str, Target]
    """A policy spec per route; a route may also be just a model or a named policy (`cheap = "haiku"`)."""
    default_route: str
    backend: BackendConfig = field(default_factory=BackendConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    models: Mapping[str, ModelAlias] = field(default_factory=dict)
    policies: Mapping[str, Spec] = field(default_factory=dict)
    """Named policies, referred to by name from routes and other policies."""
    source: str = "<string>"


def read_config_file(path: Path) -> dict[str, Any]:
    """The TOML tables of a config file, unchecked; a file that cannot be read or parsed is a ConfigError."""
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a config file; relative paths inside it are relative to the file."""
    p = Path(path)
    return parse_config(read_config_file(p), source=str(p), base_dir=p.parent)


def parse_config(data: Mapping[str, Any], *, source: str = "<string>", base_dir: Path | None = None) -> Config:
    top = Table(data, "")
    for key in top.names():
        if key not in _TOP:
            raise ConfigError(f"unknown top-level key {key!r}; expected one of {', '.join(_TOP)}")
    backend = _backend(top.table("backend"))
    telemetry = _telemetry(top.table("telemetry"), base_dir)
    models = _models(top.table("models"))
    catalog = _catalog(top.table("catalog"), models, backend, base_dir)
    policy_tables = top.table("policies")
    names = frozenset(policy_tables.names()) if policy_tables else frozenset()
    for name in names:
        if catalog.get(name) is not None:
            raise ConfigError(f"policies.{name}: the name is already a model; pick another")
    reader = SpecReader(catalog, names, base_dir)
    policies = {n: reader.policy(Table(policy_tables.raw(n), f"policies.{n}")) for n in names} if policy_tables else {}
    route_tables = top.table("routes", required=True)
    assert route_tables is not None
    routes = {n: reader.target(route_tables.raw(n), f"routes.{n}") for n in route_tables.names()}
    if not routes:
        raise ConfigError("routes: declare at least one route")
    default = top.text("default_route", "default" if "default" in routes else next(iter(routes)))
    if default not in routes:
        raise ConfigError(f"default_route: no route named {default!r}")
    return Config(catalog, routes, default, backend, telemetry, models, policies, source)


def parse_config_text(text: str, *, source: str = "<string>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from e
    return parse_config(data, source=source)


def _backend(t: Table | None) -> BackendConfig:
    if t is None:
        return BackendConfig()
    kind = t.choice("kind", BACKENDS, "auto")
    on_miss = t.choice("on_miss", ("nearest", "error"), "nearest")
    cfg = BackendConfig(kind=cast(BackendKind, kind), base_url=t.text("base_url", None),
                        dataset=t.text("dataset", None), on_miss=cast(Literal["nearest", "error"], on_miss),
                        api_key_env=t.env("api_key"))
    t.done()
    if cfg.kind == "emulator" and cfg.base_url is None:
        raise ConfigError("backend.base_url: the emulator backend needs the emulator's address")
    return cfg


def _telemetry(t: Table | None, base_dir: Path | None) -> TelemetryConfig:
    if t is None:
        return TelemetryConfig()
    sinks = t.texts("sinks", ("sqlite",))
    for s in sinks:
        if s not in SINKS:
            raise ConfigError(f"telemetry.sinks: unknown sink {s!r}; known: {', '.join(SINKS)}")
    sqlite = t.table("sqlite")
    jsonl = t.table("jsonl")
    pg = t.table("postgres")
    sqlite_path = sqlite.text("path", None) if sqlite else None
    jsonl_path = jsonl.text("path", "tiered-requests.jsonl") if jsonl else "tiered-requests.jsonl"
    dsn = dsn_env = None
    schema = "tiered"
    if pg is not None:
        raw = pg.text("dsn", None)
        if raw is not None and raw.startswith(("env:", "os.environ/")):
            dsn_env = pg.env("dsn")
        elif raw is not None and _DSN_SECRET.search(raw):
            raise ConfigError("telemetry.postgres.dsn: holds a password; write dsn = \"env:VAR\" instead")
        else:
            dsn = raw
        schema = pg.text("schema", "tiered")
        pg.done()
    for sub in (sqlite, jsonl):
        if sub is not None:
            sub.done()
    spool = t.table("spool")
    spool_dir, spool_mb, when_full = None, 512.0, "drop"
    if spool is not None:
        spool_dir = spool.text("dir", None)
        spool_mb = float(spool.number("max_mb", 512.0))
        when_full = spool.text("when_full", "drop")
        spool.done()
        if when_full not in ("drop", "refuse"):
            raise ConfigError(f"telemetry.spool.when_full: expected \"drop\" or \"refuse\", got {when_full!r}")
        if spool_mb <= 0:
            raise ConfigError("telemetry.spool.max_mb: must be above 0")
    t.done()
    if "postgres" in sinks and dsn is None and dsn_env is None:
        raise ConfigError("telemetry.postgres.dsn: the postgres sink needs a dsn")
    return TelemetryConfig(
        sinks=cast(tuple[SinkKind, ...], sinks),
        sqlite_path=_relative(sqlite_path, base_dir), jsonl_path=_relative(jsonl_path, base_dir) or jsonl_path,
        postgres_dsn=dsn, postgres_dsn_env=dsn_env, postgres_schema=schema,
        spool_dir=_relative(spool_dir, base_dir), spool_max_mb=spool_mb,
        spool_when_full="refuse" if when_full == "refuse" else "drop",
    )


def _relative(path: str | None, base_dir: Path | None) -> str | None:
    if path is None or base_dir is None or Path(path).expanduser().is_absolute():
        return None if path is None else str(Path(path).expanduser())
    return str(base_dir / path)


def _models(t: Table | None) -> dict[str, ModelAlias]:
    if t is None:
        return {}
    out: dict[str, ModelAlias] = {}
    for name in t.names():
        m = Table(t.raw(name), t.at(name))
        out[name] = ModelAlias(name, m.text("model"), m.env("api_key"), m.text("api_base", None))
        m.done()
    return out


def _catalog(t: Table | None, models: Mapping[str, ModelAlias], backend: BackendConfig,
             base_dir: Path | None) -> Catalog:
    """The packaged catalog, overlaid by `[catalog] path` (or $TIERED_CATALOG), then `[catalog.models]`/
    `[catalog.tiers]`, then the `[models]` aliases and per-model key references."""
    data: dict[str, Any] = tomllib.loads(resources.files("tiered.data").joinpath("catalog.toml").read_text("utf-8"))
    sources = ["tiered/data/catalog.toml"]
    path = os.environ.get("TIERED_CATALOG")
    if t is not None:
        path = _relative(t.text("path", None), base_dir) or path
        inline = {k: t.raw(k) for k in ("models", "tiers", "prices_checked") if k in t}
        t.done()
    else:
        inline = {}
    if path:
        try:
            data = _overlay(data, tomllib.loads(Path(path).read_text("utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"catalog.path: cannot read {path}: {e}") from e
        sources.append(path)
    data = _overlay(data, inline)
    try:
        catalog = Catalog.from_dict(data, sources=tuple(sources))
    except ConfigError as e:
        raise ConfigError(f"catalog: {e}") from e
    entries: dict[str, Any] = {k: dict(v) for k, v in data.get("models", {}).items()}
    if backend.api_key_env:
        for entry in entries.values():
            if entry.get("provider", "anthropic") == "anthropic":
                entry.setdefault("api_key_env", backend.api_key_env)
    for alias in models.values():
        info = catalog.get(alias.model)
        if info is None:
            raise ConfigError(f"models.{alias.name}.model: unknown model {alias.model!r}")
        other = catalog.get(alias.name)
        if other is not None and other.id != info.id:
            raise ConfigError(f"models.{alias.name}: the name already means {other.id}")
        aliased = entries[info.id]
        aliased["aliases"] = [*aliased.get("aliases", ()), alias.name]
        if alias.api_key_env:
            aliased["api_key_env"] = alias.api_key_env
        if alias.api_base:
            aliased["api_base"] = alias.api_base
    return Catalog.from_dict({**data, "models": entries}, sources=tuple(sources))


def _overlay(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key, recursively; scalars and lists replace (as the catalog's own overlay)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _overlay(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) \
            else value
    return out
