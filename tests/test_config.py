"""The config: strict parsing into frozen specs (errors name the key), secrets as references, and the
example file, which exercises every pattern, loads and builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiered.config import load_config, parse_config_text
from tiered.errors import ConfigError
from tiered.policy_specs import CascadeSpec, FallbackSpec, Ref, RouterSpec, TaskMapSpec, ThresholdsSpec
from tiered.routes import DEFAULT_CONFIG, Routes

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tiered.toml"


def _err(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config_text(text)
    return str(info.value)


def test_the_example_loads_and_builds_every_pattern() -> None:
    from tiered.policies.bypass import Bypass
    from tiered.policies.cascade import Cascade
    from tiered.policies.delegate import Delegate
    from tiered.policies.direct import Direct
    from tiered.policies.fallback import Fallback
    from tiered.policies.router import ComplexityRouter
    from tiered.policies.taskmap import TaskMap

    config = load_config(EXAMPLE)
    assert set(config.routes) == {"default", "code", "resilient", "research", "cheap"}
    assert config.backend.api_key_env == "ANTHROPIC_API_KEY"
    routes = Routes(config, sinks=[])
    built = {name: routes.policy(name) for name in config.routes}
    default = built["default"]
    assert isinstance(default, Fallback)
    inner = default.chain[0]
    assert isinstance(inner, TaskMap) and isinstance(inner.default, Bypass)  # fallback(taskmap(bypass(router)))
    assert isinstance(inner.default.router, ComplexityRouter) and inner.default.share == 0.8
    assert inner.routes["summarize"] == "fast" and inner.routes["code-review"] == "opus"  # packaged + override
    code = built["code"]
    assert isinstance(code, TaskMap) and isinstance(code.default, Cascade)
    assert isinstance(code.routes["code-review"], Fallback)
    assert isinstance(built["research"], Delegate) and isinstance(built["cheap"], Direct)
    # A named policy is built once and shared by every route that names it.
    assert routes.policy("default") is default
    assert config.catalog.resolve("fast").id == "claude-haiku-4-5"
    assert config.catalog.resolve("deep").id == "claude-opus-4-7"


def test_specs_are_plain_frozen_data() -> None:
    config = parse_config_text("""
[policies.up]
policy = "cascade"
tiers = ["haiku", "sonnet"]
[routes.code]
policy = "fallback"
chain = ["up", { policy = "router", thresholds = { tiers = ["haiku", "opus"], cuts = [0.5] } }]
""")
    spec = config.routes["code"]
    assert isinstance(spec, FallbackSpec)
    assert spec.chain == (Ref("up"), RouterSpec(ThresholdsSpec(("haiku", "opus"), (0.5,))))
    assert config.policies["up"] == CascadeSpec(("haiku", "sonnet"))
    assert config.default_route == "code"  # the only route
    with pytest.raises(AttributeError):
        spec.retries = 5  # type: ignore[misc]


@pytest.mark.parametrize(("text", "message"), [
    ("""[routes.code]
policy = "router"
thresholds = { tiers = ["haiku", "opus"], cutz = [0.5] }""", "routes.code.thresholds: unknown key 'cutz'"),
    ("""[routes.default]
policy = "fallback"
chain = ["opus", { policy = "cascade", tiers = ["haiku"], escalate = {} }]""",
     "routes.default.chain[1]: unknown key 'escalate'"),
    ("""[routes.default]
policy = "fallback"
chian = ["opus"]""", "routes.default: unknown key 'chian' (did you mean 'chain'?)"),
    ("""[routes.default]
policy = "fallback"
""", "routes.default: missing key 'chain'"),
    ("""[routes.default]
policy = "direct"
target = "haiku"
retries = 2""", "routes.default: unknown key 'retries'"),
    ("""[backend]
knd = "replay"
[routes.default]
policy = "direct"
target = "haiku\"""", "backend: unknown key 'knd'"),
    ("""[telemetry]
sinks = ["sqlite", "kafka"]
[routes.default]
policy = "direct"
target = "haiku\"""", "telemetry.sinks: unknown sink 'kafka'"),
    ("""route = 1
[routes.default]
policy = "direct"
target = "haiku\"""", "unknown top-level key 'route'"),
    ("""[routes.default]
policy = "cascsde"
tiers = ["haiku"]""", "routes.default.policy: must be one of"),
    ("""[routes.default]
policy = "fallback"
chain = ["haiku", "hiaku"]""", "routes.default.chain[1]: unknown model 'hiaku'"),
    ("""[routes.default]
policy = "fallback"
retries = "two"
chain = ["haiku"]""", "routes.default.retries: must be an integer, not a string"),
    ("""[routes.default]
policy = "router"
thresholds = { tiers = ["haiku", "sonnet", "opus"], cuts = [0.5] }""",
     "routes.default.thresholds.cuts: 3 tiers need 2 cuts, got 1"),
    ("""[routes.default]
policy = "router"
thresholds = { tiers = ["haiku", "opus"], cuts = [0.5] }
per_tier = { sonnet = "sonnet" }""", "routes.default.per_tier.sonnet: not one of the thresholds' tiers"),
    ("""[routes.default]
policy = "cascade"
tiers = ["haiku", "sonnet"]
stop = { at_tier = "opus" }""", "routes.default.stop.at_tier: 'opus' is not one of the cascade's tiers"),
    ("""[routes.default]
policy = "taskmap"
default = "sonnet\"""", "routes.default.tasks: map at least one task"),
    ("""[models.fast]
model = "claude-haiku-9"
[routes.default]
policy = "direct"
target = "fast\"""", "models.fast.model: unknown model 'claude-haiku-9'"),
    ("""[models.sonnet]
model = "claude-haiku-4-5"
[routes.default]
policy = "direct"
target = "haiku\"""", "models.sonnet: the name already means claude-sonnet-4-6"),
    ("""[policies.haiku]
policy = "direct"
target = "sonnet"
[routes.default]
policy = "direct"
target = "haiku\"""", "policies.haiku: the name is already a model"),
    ("""default_route = "chat"
[routes.default]
policy = "direct"
target = "haiku\"""", "default_route: no route named 'chat'"),
    ("""[catalog.models."claude-haiku-4-5"]
inptu = "0.8"
[routes.default]
policy = "direct"
target = "haiku\"""", "catalog: models.claude-haiku-4-5: unknown key 'inptu'"),
    ("""[backend]
kind = "emulator"
[routes.default]
policy = "direct"
target = "haiku\"""", "backend.base_url: the emulator backend needs"),
    ("routes = {}", "routes: declare at least one route"),
    ("""[routes.default]
policy = "bypass"
router = { policy = "taskmap", tasks = { a = "haiku" }, default = "sonnet" }""",
     "routes.default.router: bypass wraps a router policy"),
    ("""[routes.default]
policy = "bypass"
share = 1.5
router = { policy = "router" }""", "routes.default.share: a share is at most 1"),
])
def test_errors_name_the_key(text: str, message: str) -> None:
    assert message in _err(text)


def test_a_cycle_of_named_policies_is_reported() -> None:
    config = parse_config_text("""
[policies.a]
policy = "fallback"
chain = ["b"]
[policies.b]
policy = "fallback"
chain = ["a"]
[routes.default]
policy = "direct"
target = "haiku"
[routes.loop]
policy = "fallback"
chain = ["a"]
""")
    with pytest.raises(ConfigError, match="cycle"):
        Routes(config, sinks=[]).policy("loop")


@pytest.mark.parametrize("ref", ["env:MY_KEY", "os.environ/MY_KEY"])
def test_secrets_are_references_to_the_environment(ref: str) -> None:
    config = parse_config_text(f"""
[backend]
api_key = "{ref}"
[models.fast]
model = "haiku"
api_key = "env:FAST_KEY"
[routes.default]
policy = "direct"
target = "fast"
""")
    assert config.backend.api_key_env == "MY_KEY"
    assert config.catalog.resolve("sonnet").api_key_env == "MY_KEY"
    assert config.catalog.resolve("fast").api_key_env == "FAST_KEY"  # the alias's own key wins for its model


def test_a_literal_key_is_refused_without_echoing_it() -> None:
    message = _err("""
[backend]
api_key = "sk-ant-api03-literal-secret"
[routes.default]
policy = "direct"
target = "haiku"
""")
    assert message.startswith("backend.api_key:") and "env:VAR" in message
    assert "sk-ant" not in message


def test_a_postgres_dsn_with_a_password_is_refused() -> None:
    message = _err("""
[telemetry]
sinks = ["postgres"]
postgres = { dsn = "postgresql://app:hunter2@db/tiered" }
[routes.default]
policy = "direct"
target = "haiku"
""")
    assert message.startswith("telemetry.postgres.dsn:") and "hunter2" not in message


def test_catalog_overlay_and_relative_paths(tmp_path: Path) -> None:
    cfg = tmp_path / "conf" / "tiered.toml"
    cfg.parent.mkdir()
    cfg.write_text("""
[catalog.models."claude-haiku-4-5"]
input = "0.80"
[telemetry]
sinks = ["sqlite", "jsonl"]
sqlite = { path = "logs/requests.db" }
jsonl = { path = "/abs/requests.jsonl" }
[routes.default]
policy = "direct"
target = "haiku"
""")
    config = load_config(cfg)
    assert str(config.catalog.resolve("haiku").prices.input) == "0.80"
    assert config.catalog.resolve("haiku").prices.output == config.catalog.resolve("haiku").prices.output
    assert config.telemetry.sqlite_path == str(cfg.parent / "logs" / "requests.db")
    assert config.telemetry.jsonl_path == "/abs/requests.jsonl"


def test_built_in_default_is_taskmap_over_router_inside_fallback_on_replay() -> None:
    from tiered.policies.fallback import Fallback
    from tiered.policies.router import ComplexityRouter
    from tiered.policies.taskmap import TaskMap

    config = parse_config_text(DEFAULT_CONFIG)
    assert config.backend.kind == "replay"
    policy = Routes(config, sinks=[]).policy()
    assert isinstance(policy, Fallback)
    assert isinstance(policy.chain[0], TaskMap) and isinstance(policy.chain[0].default, ComplexityRouter)
    assert isinstance(config.routes["default"], FallbackSpec)
    assert isinstance(config.routes["default"].chain[0], TaskMapSpec)


def test_an_unreadable_or_invalid_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[routes\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_nested_policies_may_be_written_as_sub_tables() -> None:
    config = parse_config_text("""
[routes.default]
policy = "fallback"

[[routes.default.chain]]
policy = "taskmap"
tasks = { commit-message = "haiku" }

[routes.default.chain.default]
policy = "router"
scorer = "heuristic"

[[routes.default.chain]]
policy = "direct"
target = "sonnet"
""")
    spec = config.routes["default"]
    assert isinstance(spec, FallbackSpec) and len(spec.chain) == 2
    first = spec.chain[0]
    assert isinstance(first, TaskMapSpec) and isinstance(first.default, RouterSpec)
    assert first.tasks == {"commit-message": "haiku"}


def test_a_route_may_be_just_a_model_or_a_named_policy() -> None:
    from tiered.policies.cascade import Cascade
    from tiered.policies.direct import Direct

    config = parse_config_text("""
[policies.up]
policy = "cascade"
tiers = ["haiku", "sonnet"]
[routes]
cheap = "haiku"
careful = "up"
""")
    assert config.routes == {"cheap": "haiku", "careful": Ref("up")}
    routes = Routes(config, sinks=[])
    cheap = routes.policy("cheap")
    assert isinstance(cheap, Direct) and cheap.target == "haiku"
    assert isinstance(routes.policy("careful"), Cascade)
    assert "routes.typo: unknown model 'hiaku'" in _err('[routes]\ntypo = "hiaku"')


def test_the_request_log_spool_is_configured_in_telemetry(tmp_path: Path) -> None:
    route = '[routes.default]\npolicy = "direct"\ntarget = "haiku"\n'
    default = parse_config_text(route).telemetry
    assert (default.spool_dir, default.spool_max_mb, default.spool_when_full) == (None, 512.0, "drop")
    cfg = tmp_path / "tiered.toml"
    cfg.write_text('[telemetry.spool]\ndir = "spool"\nmax_mb = 64\nwhen_full = "refuse"\n' + route)
    t = load_config(cfg).telemetry
    assert (t.spool_dir, t.spool_max_mb, t.spool_when_full) == (str(tmp_path / "spool"), 64.0, "refuse")
    with pytest.raises(ConfigError, match=r"telemetry.spool.when_full: expected \"drop\" or \"refuse\""):
        parse_config_text('[telemetry.spool]\nwhen_full = "block"\n' + route)
    with pytest.raises(ConfigError, match="telemetry.spool: unknown key 'size'"):
        parse_config_text('[telemetry.spool]\nsize = 1\n' + route)
