"""Outcome datasets (see FORMAT.md): for each prompt, what several models answered and how well.

They feed the replay backend, offline evaluation and router training. `load_dataset` takes a folder
(with `outcomes.jsonl.gz` and `models.json`), a `.jsonl`/`.jsonl.gz` file, or a bare name looked up
in `$TIERED_DATA_DIR`, then `../shared/data` from the working directory and its parents, then the
small sample that ships in the package (`tiered/data/replay/`).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tiered.errors import ConfigError

CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class ModelOutcome:
    quality: float
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    response: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    source: str
    task: str
    split: str | None
    prompt: str
    outcomes: Mapping[str, ModelOutcome]

    def input_tokens(self, model: str) -> int:
        o = self.outcomes.get(model)
        if o is not None and o.input_tokens is not None:
            return o.input_tokens
        return max(1, len(self.prompt) // CHARS_PER_TOKEN)

    def output_tokens(self, model: str) -> int:
        o = self.outcomes.get(model)
        if o is None:
            return 0
        if o.output_tokens is not None:
            return o.output_tokens
        return max(1, len(o.response or "") // CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class DatasetModel:
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    tier_hint: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    items: tuple[Item, ...]
    models: Mapping[str, DatasetModel] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def split(self, split: str | None) -> Dataset:
        """Only the items of `split` ("train"/"test"); None or "all" keeps everything."""
        if split in (None, "all"):
            return self
        return Dataset(self.name, tuple(i for i in self.items if i.split == split), self.models)

    def select(self, split: str | None) -> tuple[Dataset, str | None]:
        """`split(split)` for a command line, with a note when the choice was not taken literally.

        A dataset that labels no item with a split has had nothing trained on it here: all of it is held out,
        so "test" means every item (the note says so). A split with no items otherwise is an error that
        names the splits there are, rather than an empty evaluation.
        """
        if split in (None, "all"):
            return self, None
        labels = sorted({i.split for i in self.items if i.split})
        if not labels and split == "test":
            return self, f"{self.name} labels no item train or test: --split test uses all {len(self)} items"
        part = self.split(split)
        if len(part) == 0:
            there = ", ".join(labels) if labels else "none"
            raise ConfigError(f"{self.name} has no item in split {split!r} (its splits: {there})")
        return part, None

    def with_models(self, models: Sequence[str]) -> Dataset:
        """Only the items that have an outcome for every model in `models`."""
        items = tuple(i for i in self.items if all(m in i.outcomes for m in models))
        return Dataset(self.name, items, self.models)

    @property
    def model_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self.items:
            seen.update(dict.fromkeys(item.outcomes))
        return list(seen)


def _item(raw: Mapping[str, Any]) -> Item:
    outcomes = {
        name: ModelOutcome(
            quality=float(o.get("quality") or 0.0),
            cost_usd=o.get("cost_usd"),
            input_tokens=o.get("input_tokens"),
            output_tokens=o.get("output_tokens"),
            response=o.get("response"),
        )
        for name, o in (raw.get("outcomes") or {}).items()
        if o is not None and o.get("quality") is not None
    }
    return Item(
        id=str(raw["id"]),
        source=str(raw.get("source") or ""),
        task=str(raw.get("task") or ""),
        split=raw.get("split"),
        prompt=str(raw.get("prompt") or ""),
        outcomes=outcomes,
    )


def read_items(path: Path) -> Iterator[Item]:
    """The items of an outcomes file; a file that is not one is a ConfigError naming it (and the line)."""
    opener = gzip.open if path.suffix == ".gz" else open
    n = 0
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                n += 1
                if line.strip():
                    raw = json.loads(line)
                    if not isinstance(raw, dict):
                        raise ValueError("not a JSON object")
                    yield _item(raw)
    except (ValueError, KeyError, AttributeError, TypeError, OSError) as e:
        why = f"missing key {e}" if isinstance(e, KeyError) else getattr(e, "msg", None) or str(e) or type(e).__name__
        raise ConfigError(f"{path}: not an outcomes dataset (line {n}: {why}); a dataset is an outcomes.jsonl(.gz) "
                          "file of one JSON record a line, or a folder holding one (see FORMAT.md)") from e


def _candidates(name: str) -> Iterator[Path]:
    env = os.environ.get("TIERED_DATA_DIR")
    if env:
        yield Path(env) / name
    here = Path.cwd().resolve()
    for parent in (here, *here.parents):
        yield parent / "shared" / "data" / name
        yield parent.parent / "shared" / "data" / name


def packaged_data_dir() -> Path:
    return Path(str(resources.files("tiered.data").joinpath("replay")))


def resolve_dataset_path(spec: str | os.PathLike[str]) -> Path:
    path = Path(spec)
    if path.exists():
        return path
    name = str(spec)
    for candidate in _candidates(name):
        if candidate.exists():
            return candidate
    packaged = packaged_data_dir() / name
    if packaged.exists():
        return packaged
    raise ConfigError(f"dataset {name!r} not found (looked in $TIERED_DATA_DIR, ../shared/data, the package)")


def load_dataset(spec: str | os.PathLike[str]) -> Dataset:
    """Load a dataset folder, file, or name (see the module docstring for the search order)."""
    path = resolve_dataset_path(spec)
    models: dict[str, DatasetModel] = {}
    if path.is_dir():
        folder = path
        files = [p for p in (path / "outcomes.jsonl.gz", path / "outcomes.jsonl") if p.exists()]
        if not files:
            raise ConfigError(f"dataset folder {path} has no outcomes.jsonl(.gz)")
        data_file = files[0]
    else:
        folder, data_file = path.parent, path
    models_file = folder / "models.json"
    if models_file.exists():
        raw = json.loads(models_file.read_text("utf-8"))
        models = {
            k: DatasetModel(
                input_usd_per_mtok=v.get("input_usd_per_mtok"),
                output_usd_per_mtok=v.get("output_usd_per_mtok"),
                tier_hint=v.get("tier_hint"),
                note=str(v.get("note") or ""),
            )
            for k, v in raw.items()
        }
    name = folder.name if path.is_dir() else data_file.name.split(".")[0]
    return Dataset(name=name, items=tuple(read_items(data_file)), models=models)


def load_datasets(specs: Sequence[str | os.PathLike[str]]) -> list[Dataset]:
    return [load_dataset(s) for s in specs]
