"""`[gateway]` / `[state]` tables, keys from the environment, and the `tiered serve` command line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiered.cli import main
from tiered.errors import ConfigError
from tiered.gateway.auth import caller_id
from tiered.gateway.server import configure
from tiered.gateway.settings import gateway_settings, load

ROUTES = '[routes.default]\npolicy = "fallback"\nchain = ["sonnet", "haiku"]\n'


def test_tables_are_read_strictly(tmp_path: Path) -> None:
    path = tmp_path / "tiered.toml"
    path.write_text('[gateway]\nkeys = "env:MY_KEYS"\nrequests_per_minute = 60\nusd_per_day = 2.5\n'
                    'fallback = ["opus", "haiku"]\n[state]\nredis = "redis://127.0.0.1:6379/3"\n' + ROUTES)
    config, settings = load(path, env={"MY_KEYS": "key-one, key-two,,key-three "})
    assert settings.keys == {"key-one", "key-two", "key-three"} and settings.requests_per_minute == 60
    assert settings.usd_per_day == Decimal("2.5") and settings.fallback == ("opus", "haiku")
    assert settings.redis_url == "redis://127.0.0.1:6379/3" and list(config.routes) == ["default"]
    assert "key-" not in repr(settings) and "redis" not in repr(settings)


@pytest.mark.parametrize(("data", "message"), [
    ({"gateway": {"keys": "sk-secret"}}, "gateway.keys: write a reference to an environment variable"),
    ({"gateway": {"rpm": 5}}, "rpm"),
    ({"gateway": {"requests_per_minute": 0}}, "gateway.requests_per_minute"),
    ({"state": {"redis": "http://x"}}, "state.redis: expected a redis:// URL"),
])
def test_mistakes_are_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        gateway_settings(data, env={})


def test_keys_default_to_the_environment_and_open_when_unset() -> None:
    assert gateway_settings({}, env={"TIERED_GATEWAY_KEYS": "k1,k2"}).keys == {"k1", "k2"}
    assert gateway_settings({}, env={}).open
    assert caller_id("k1") != caller_id("k2") and "k1" not in caller_id("k1")


def test_command_line_overrides_the_backend(tmp_path: Path) -> None:
    config, _ = configure(None, "emulator", "http://127.0.0.1:9")
    assert config.backend.kind == "emulator" and config.backend.base_url == "http://127.0.0.1:9"
    assert configure(None, None, None)[0].backend.kind == "replay"  # the offline default
    with pytest.raises(ConfigError, match="--upstream"):
        configure(None, "emulator", None)


def test_serve_is_a_registered_command() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0 and "ANTHROPIC_BASE_URL" in result.output and "--workers" in result.output
    bad = CliRunner().invoke(main, ["serve", "--backend", "emulator", "--port", "18080"])
    assert bad.exit_code != 0 and "--upstream" in bad.output
