"""build_model and ModelSet: which backend answers, offline by default, keys from the environment."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tiered.catalog import Catalog
from tiered.errors import CatalogError, ConfigError
from tiered.models.anthropic import AnthropicModel
from tiered.models.openai_compat import OpenAICompatModel
from tiered.models.registry import ModelSet, build_model, choose_backend, key_env, replay_mapping
from tiered.models.replay import ReplayModel
from tiered.types import Request

SECRET = "sk-ant-registry-SECRET"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No shared data anywhere up the tree, no data dir: only the sample packaged with tiered."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TIERED_DATA_DIR", raising=False)


async def test_no_key_means_replay_on_the_packaged_sample(catalog: Catalog, offline: None) -> None:
    models = ModelSet.build(catalog, env={})
    assert set(models) == {"claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"}
    books = {id(m.book) for m in models.values() if isinstance(m, ReplayModel)}
    assert len(books) == 1  # one book shared by every tier
    haiku = models.resolve("haiku")
    assert isinstance(haiku, ReplayModel) and haiku.dataset_model == "mistralai/mistral-7b-chat"
    assert len(haiku.book) == 3148  # distinct prompts of the train (2,205) and test (945) splits
    item = haiku.book.dataset.items[3]
    response = await models.resolve("opus").complete(Request.user(item.prompt))
    assert response.id == f"replay_{item.id}" and response.model == "claude-opus-4-7"
    assert haiku.book.quality(item.prompt, "claude-opus-4-7") == item.outcomes["gpt-4-1106-preview"].quality
    await models.aclose()


def test_key_in_env_means_anthropic(catalog: Catalog) -> None:
    m = build_model("sonnet", catalog, env={"ANTHROPIC_API_KEY": SECRET})
    assert isinstance(m, AnthropicModel) and m.name == "claude-sonnet-4-6"
    assert SECRET not in repr(m)


async def test_base_url_without_key_means_emulator(catalog: Catalog, emulator_url: str) -> None:
    models = ModelSet.build(catalog, env={}, base_url=emulator_url)
    m = models.resolve("claude-haiku-4-5-20251001")  # an alias
    assert isinstance(m, AnthropicModel)
    response = await m.complete(Request.user("hello"))
    assert response.model == "claude-haiku-4-5" and response.text
    await models.aclose()


def test_explicit_backends(catalog: Catalog) -> None:
    assert isinstance(build_model("haiku", catalog, backend="replay", env={"ANTHROPIC_API_KEY": SECRET}),
                      ReplayModel)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        build_model("haiku", catalog, backend="anthropic", env={})
    with pytest.raises(ConfigError, match="base_url"):
        build_model("haiku", catalog, backend="emulator", env={})
    with pytest.raises(ConfigError, match="backend"):
        build_model("haiku", catalog, backend="magic", env={})  # type: ignore[arg-type]
    with pytest.raises(CatalogError):
        build_model("gpt-17", catalog, env={})


def test_choose_backend_rules(catalog: Catalog) -> None:
    haiku = catalog.resolve("haiku")
    assert choose_backend(haiku, "auto", has_key=True, base_url="http://x") == "anthropic"
    assert choose_backend(haiku, "auto", has_key=False, base_url="http://x") == "emulator"
    assert choose_backend(haiku, "auto", has_key=False, base_url=None) == "replay"
    assert choose_backend(haiku, "emulator", has_key=True, base_url="http://x") == "emulator"


def test_replay_mapping_covers_ids_aliases_and_tiers(catalog: Catalog) -> None:
    mapping = replay_mapping(catalog)
    assert mapping["haiku"] == mapping["claude-haiku-4-5"] == mapping["claude-haiku-4-5-20251001"]
    assert mapping["claude-opus-4-7"] == mapping["claude-opus-4-1"] == "gpt-4-1106-preview"


def _user_catalog(tmp_path: Path, dataset: Path, played: str = "strong") -> Catalog:
    path = tmp_path / "catalog.toml"
    path.write_text(f"""
[models."local-llama"]
provider = "openai"
tier = "haiku"
api_base = "http://127.0.0.1:9/v1"
upstream_model = "llama3:8b"
api_key_env = "LOCAL_LLAMA_KEY"
input = "0.10"
output = "0.20"

[models."replayed-strong"]
provider = "replay"
tier = "opus"
api_base = "{dataset}"
upstream_model = "{played}"
input = "5"
output = "25"
""", "utf-8")
    return Catalog.load(path)


def _tiny_dataset(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.jsonl.gz"
    item = {"id": "q1", "source": "t", "task": "t", "split": None, "prompt": "Why?",
            "outcomes": {"strong": {"quality": 1.0, "response": "Because."}}}
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(item) + "\n")
    return path


async def test_openai_and_replay_providers(tmp_path: Path, fake_upstream: tuple[str, Any]) -> None:
    catalog = _user_catalog(tmp_path, _tiny_dataset(tmp_path))
    assert key_env(catalog.resolve("local-llama")) == "LOCAL_LLAMA_KEY"
    assert key_env(catalog.resolve("haiku")) == "ANTHROPIC_API_KEY"
    llama = build_model("local-llama", catalog, env={"LOCAL_LLAMA_KEY": "k"}, base_url=f"{fake_upstream[0]}/v1")
    assert isinstance(llama, OpenAICompatModel)
    response = await llama.complete(Request.user("hi"))
    await llama.aclose()
    assert response.model == "local-llama" and response.text == "Hello"
    assert fake_upstream[1].bodies[-1]["model"] == "llama3:8b"
    assert fake_upstream[1].headers[-1]["authorization"] == "Bearer k"
    strong = build_model("replayed-strong", catalog, env={})
    assert isinstance(strong, ReplayModel)
    assert (await strong.complete(Request.user("Why?"))).text == "Because."


def test_replay_entry_naming_a_model_the_dataset_lacks(tmp_path: Path) -> None:
    catalog = _user_catalog(tmp_path, _tiny_dataset(tmp_path), played="nobody")
    with pytest.raises(ConfigError, match="no model 'nobody'"):
        build_model("replayed-strong", catalog, env={})


def test_model_set_resolution(catalog: Catalog) -> None:
    models = ModelSet.build(catalog, ("haiku", "opus"), backend="replay")
    assert models.resolve("haiku") is models["claude-haiku-4-5"]
    assert models.resolve("claude-opus-4-7") is models.resolve("opus")
    assert models.tier("claude-haiku-4-5-20251001") == "haiku"
    assert models.tier("opus") == "opus"
    assert len(models) == 2
    with pytest.raises(CatalogError, match="not in this model set"):
        models.resolve("sonnet")
    with pytest.raises(CatalogError):
        models.resolve("nope")
