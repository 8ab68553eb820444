"""Build `Model`s from catalog entries, and the tier -> model set the policy driver calls.

Which backend answers a catalog model (`build_model(..., backend=...)`):

    "anthropic"  the Messages API through the SDK (provider "anthropic"); needs its API key
    "emulator"   the same SDK path against `base_url` (tiered's emulator); any key will do
    "replay"     recorded answers from an outcome dataset (ReplayModel), offline
    "auto"       provider "openai" -> OpenAICompatModel; provider "replay" -> replay;
                 provider "anthropic" -> "anthropic" when its key is set, else "emulator" when a
                 base_url is given, else "replay" on the sample packaged with tiered

so with no ANTHROPIC_API_KEY, tiered still answers, offline: a prompt the replay set lacks gets the
nearest recorded prompt's answer, marked as such (`on_miss="nearest"`, the default here and in the
config; `on_miss="error"` raises `NoAnswer` instead). The key comes from the environment
variable the catalog names (`api_key_env`), by default ANTHROPIC_API_KEY or OPENAI_API_KEY; it is
read here, handed to the SDK client and never logged or put in a repr. For a catalog entry with
provider "replay", `api_base` names the dataset and `upstream_model` the dataset model that plays it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from tiered.catalog import Catalog, ModelInfo
from tiered.errors import CatalogError, ConfigError
from tiered.models.base import Model
from tiered.models.effort import at_effort, rung
from tiered.models.replay import DEFAULT_DATASET, DEFAULT_MODELS, OnMiss, ReplayBook, ReplayModel

Backend = Literal["auto", "anthropic", "replay", "emulator"]
BACKENDS: tuple[Backend, ...] = ("auto", "anthropic", "replay", "emulator")
DEFAULT_KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
EMULATOR_KEY = "tiered-emulator"
"""The placeholder key sent to an emulator: it checks that a key is present, not which."""


def key_env(info: ModelInfo) -> str:
    """The environment variable that holds `info`'s API key."""
    if info.api_key_env:
        return info.api_key_env
    return DEFAULT_KEY_ENV.get(info.provider) or "TIERED_" + "".join(
        c if c.isalnum() else "_" for c in info.id.upper()) + "_API_KEY"


def replay_mapping(catalog: Catalog, by_tier: Mapping[str, str] = DEFAULT_MODELS) -> dict[str, str]:
    """Every name of each tiered model (id, aliases, tier) -> the dataset model that plays its tier."""
    mapping: dict[str, str] = {}
    for info in catalog.models.values():
        played = by_tier.get(info.tier)
        if played is not None and info.provider == "anthropic":
            mapping.update(dict.fromkeys((info.id, *info.aliases), played))
    mapping.update(by_tier)
    return mapping


def default_book(catalog: Catalog, dataset: str | os.PathLike[str] = DEFAULT_DATASET) -> ReplayBook:
    """The replay book over `dataset` (default: routerbench3, packaged), with the default tier mapping.

    One book per dataset and mapping in a process: a book is read-only once loaded (its nearest-prompt
    index is built once), so every model set built here shares it instead of reloading the dataset.
    """
    from tiered.datasets import resolve_dataset_path

    path = resolve_dataset_path(dataset).resolve()  # a name finds different data from different folders
    return _shared_book(str(path), path.stat().st_mtime_ns, tuple(sorted(replay_mapping(catalog).items())))


@functools.lru_cache(maxsize=8)
def _shared_book(path: str, _mtime_ns: int, mapping: tuple[tuple[str, str], ...]) -> ReplayBook:
    return ReplayBook.load(path, dict(mapping))


def build_model(
    name: str,
    catalog: Catalog,
    *,
    backend: Backend = "auto",
    base_url: str | None = None,
    env: Mapping[str, str] | None = None,
    book: ReplayBook | None = None,
    on_miss: OnMiss = "nearest",
) -> Model:
    """A `Model` for the catalog model `name` (id, alias or tier). See the module docstring for `backend`.

    Args:
        env: where keys are read (default `os.environ`).
        book: the replay book to share between models (default: loaded here, see `default_book`).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    info = catalog.resolve(name)
    key = (os.environ if env is None else env).get(key_env(info)) or None
    chosen = choose_backend(info, backend, has_key=key is not None, base_url=base_url)
    if chosen == "replay":
        return _replay(info, catalog, book, on_miss)
    if chosen == "openai":
        from tiered.models.openai_compat import OpenAICompatModel

        url = base_url or info.api_base
        if url is None:
            raise ConfigError(f"models.{info.id}: provider 'openai' needs api_base (or a base_url)")
        return OpenAICompatModel(info.id, base_url=url, api_key=key or "", upstream_model=info.upstream_model)
    from tiered.models.anthropic import AnthropicModel

    if chosen == "emulator":
        if base_url is None:
            raise ConfigError("the emulator backend needs base_url (the emulator's address)")
        return AnthropicModel(info.id, api_key=key or EMULATOR_KEY, base_url=base_url,
                              upstream_model=info.upstream_model)
    if key is None:
        raise ConfigError(f"{info.id}: the anthropic backend needs an API key in ${key_env(info)}")
    return AnthropicModel(info.id, api_key=key, base_url=base_url or info.api_base, upstream_model=info.upstream_model)


def choose_backend(
    info: ModelInfo, backend: Backend, *, has_key: bool, base_url: str | None
) -> Literal["anthropic", "emulator", "replay", "openai"]:
    """The concrete backend for `info` (the rules of the module docstring)."""
    if info.provider == "replay":
        return "replay"
    if info.provider == "openai":
        return "openai"
    if info.provider != "anthropic":
        raise ConfigError(f"models.{info.id}: unknown provider {info.provider!r}")
    if backend == "auto":
        return "anthropic" if has_key else "emulator" if base_url is not None else "replay"
    return backend


def _replay(info: ModelInfo, catalog: Catalog, book: ReplayBook | None, on_miss: OnMiss) -> ReplayModel:
    """Provider "replay" entries with an `api_base` read that dataset; the rest share `book`."""
    if info.provider == "replay" and info.api_base is not None:
        book = ReplayBook.load(info.api_base, replay_mapping(catalog))
    book = book or default_book(catalog)
    played = (info.upstream_model if info.provider == "replay" else None) or book.dataset_model(info.id)
    if played not in book.dataset.model_names:
        raise ConfigError(f"{info.id}: the replay dataset {book.name!r} has no model {played!r} to play it "
                          f"(set upstream_model, or map tier {info.tier!r})")
    return ReplayModel(info.id, book, dataset_model=played, on_miss=on_miss)


@dataclass(frozen=True)
class ModelSet(Mapping[str, Model]):
    """Catalog model id -> `Model`: what the policy driver calls. `resolve` takes a tier, alias or id.

    Build it with `ModelSet.build(catalog, ...)` (one model per tier, sharing one replay book) or
    from models you made yourself.
    """

    catalog: Catalog
    models: Mapping[str, Model]

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        names: tuple[str, ...] | None = None,
        *,
        backend: Backend = "auto",
        base_url: str | None = None,
        env: Mapping[str, str] | None = None,
        book: ReplayBook | None = None,
        on_miss: OnMiss = "nearest",
    ) -> ModelSet:
        """Models for `names` (default: every tier of the catalog's ladder)."""
        names = tuple(catalog.tiers) if names is None else names
        infos = [catalog.resolve(n) for n in names]
        keys = os.environ if env is None else env
        if book is None and any(
            choose_backend(i, backend, has_key=bool(keys.get(key_env(i))), base_url=base_url) == "replay"
            and not (i.provider == "replay" and i.api_base)
            for i in infos
        ):
            book = default_book(catalog)
        models = {i.id: build_model(i.id, catalog, backend=backend, base_url=base_url, env=env, book=book,
                                    on_miss=on_miss) for i in infos}
        return cls(catalog, models)

    def __getitem__(self, model_id: str) -> Model:
        return self.models[model_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def resolve(self, target: str) -> Model:
        """The model for a tier name, alias or id (`NAME@EFFORT`: at that effort); `CatalogError` if the set
        has none for it."""
        if target in self.models:
            return self.models[target]
        info = self.catalog.resolve(target)
        if info.id not in self.models:
            raise CatalogError(f"{target!r} ({info.id}) is in the catalog but not in this model set")
        return at_effort(self.models[info.id], target)

    def tier(self, target: str) -> str:
        """The tier of a tier name, alias or id ("" when the catalog gives it none); "sonnet@low" for an effort."""
        return rung(self.catalog.resolve(target).tier, target)

    async def aclose(self) -> None:
        for model in self.models.values():
            await model.aclose()
