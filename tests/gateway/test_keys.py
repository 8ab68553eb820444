"""Keys as data: [[gateway.keys]] and the key table, their limits, allowlists and expiry, and the key name on
every record; through a real gateway on 127.0.0.1 in front of the emulator."""

from __future__ import annotations

import asyncio
import tomllib
import uuid
from decimal import Decimal
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner
from gateway_support import KEY, ServeGateway

from tiered.cli import main
from tiered.errors import ConfigError
from tiered.gateway.auth import caller_id
from tiered.gateway.keys import secret_hash
from tiered.gateway.settings import GatewaySettings, gateway_settings
from tiered.telemetry.sqlite import SqliteSink

BODY = {"model": "haiku", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
ALICE, BOB, OLD = "tk-alice-secret-0123456789", "tk-bob-secret-0123456789", "tk-old-secret-0123456789"


def settings(toml: str, env: dict[str, str] | None = None) -> GatewaySettings:
    return gateway_settings(tomllib.loads(toml), env=env or {})


KEYS_TOML = f"""
[gateway]
usd_per_day = 100.0
[[gateway.keys]]
name = "alice"
secret_sha256 = "{secret_hash(ALICE)}"
team = "search"
routes = ["default"]
models = ["haiku"]
requests_per_minute = 2
[[gateway.keys]]
name = "bob"
secret_sha256 = "{secret_hash(BOB)}"
team = "search"
usd_per_month = 50.0
[[gateway.keys]]
name = "old"
secret_sha256 = "{secret_hash(OLD)}"
expires = "2020-01-01"
[gateway.teams.search]
usd_per_day = 0.5
"""


def post(url: str, key: str, body: dict[str, object] = BODY) -> httpx2.Response:
    return httpx2.post(f"{url}/v1/messages", headers={"x-api-key": key}, json=body)


def test_the_config_holds_hashes_never_secrets() -> None:
    s = settings(KEYS_TOML)
    assert [k.name for k in s.named_keys] == ["alice", "bob", "old"] and not s.open
    assert s.named_keys[0].routes == ("default",) and s.teams["search"].usd_per_day == Decimal("0.5")
    assert ALICE not in repr(s) and secret_hash(ALICE) not in repr(s)
    with pytest.raises(ConfigError, match="secrets are never written"):
        settings('[[gateway.keys]]\nname = "x"\nsecret = "tk-1"\nsecret_sha256 = "' + "a" * 64 + '"')
    with pytest.raises(ConfigError, match="64 hex digits"):
        settings('[[gateway.keys]]\nname = "x"\nsecret_sha256 = "abc"')
    with pytest.raises(ConfigError, match="used twice"):
        settings(f'[[gateway.keys]]\nname = "x"\nsecret_sha256 = "{"a" * 64}"\n'
                 f'[[gateway.keys]]\nname = "x"\nsecret_sha256 = "{"b" * 64}"')
    # the flat list keeps working beside the named keys
    both = settings(KEYS_TOML, env={"TIERED_GATEWAY_KEYS": "flat-1,flat-2"})
    assert both.keys == frozenset({"flat-1", "flat-2"}) and len(both.named_keys) == 3


def test_named_keys_are_recorded_by_name_and_held_to_their_allowlists(emulator_url: str,
                                                                     serve_gateway: ServeGateway) -> None:
    s = settings(KEYS_TOML.replace("requests_per_minute = 2\n", ""), env={"TIERED_GATEWAY_KEYS": KEY})
    gw = serve_gateway(emulator_url, settings=s)
    assert post(gw.url, ALICE).status_code == 200
    assert post(gw.url, KEY).status_code == 200  # a key of the flat list
    wrong_model = post(gw.url, ALICE, {**BODY, "model": "sonnet"})
    assert wrong_model.status_code == 403 and "may not request model" in wrong_model.json()["error"]["message"]
    wrong_route = post(gw.url, ALICE, {**BODY, "model": "tiered/nope"})
    assert wrong_route.status_code in (403, 404)
    expired = post(gw.url, OLD)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]
    assert post(gw.url, "tk-not-a-key").status_code == 401
    records = gw.records(2)
    assert {(r.key_name, r.team) for r in records} == {(caller_id(KEY), None), ("alice", "search")}
    text = gw.db.read_bytes()
    assert ALICE.encode() not in text and KEY.encode() not in text


def test_a_key_route_allowlist_refuses_other_routes(emulator_url: str, serve_gateway: ServeGateway) -> None:
    routes = "".join(f'[routes.{n}]\npolicy = "fallback"\nchain = ["haiku"]\n' for n in ("default", "code"))
    gw = serve_gateway(emulator_url, routes=routes, settings=settings(KEYS_TOML))
    assert post(gw.url, ALICE, {**BODY, "model": "tiered/default"}).status_code == 200
    refused = post(gw.url, ALICE, {**BODY, "model": "tiered/code"})
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
    assert "may not use route 'code'" in refused.json()["error"]["message"]
    assert post(gw.url, BOB, {**BODY, "model": "tiered/code"}).status_code == 200  # bob has no allowlist


def test_per_key_rate_limit(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, settings=settings(KEYS_TOML))
    codes = [post(gw.url, ALICE).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert post(gw.url, BOB).status_code == 200  # bob's own bucket


def test_a_team_budget_is_shared_by_its_keys(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, settings=settings(KEYS_TOML))
    asyncio.run(gw.app.core.limits.spend("team:search", Decimal("0.5")))  # what the team spent today
    for key in (ALICE, BOB):
        refused = post(gw.url, key)
        assert refused.status_code == 429
        assert refused.json()["error"]["message"] == "daily budget of $0.5 used up for team 'search'"
        assert refused.headers["x-should-retry"] == "false"
    assert asyncio.run(gw.app.core.limits.held("key:bob")) == 0  # the key's own hold was given back


def test_a_monthly_key_budget(emulator_url: str, serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(emulator_url, settings=settings(KEYS_TOML.replace("usd_per_day = 0.5", "")))
    assert post(gw.url, BOB).status_code == 200
    spent = asyncio.run(gw.app.core.monthly.spent("key:bob"))
    assert spent > 0 and spent == gw.records(1)[0].cost_usd  # the monthly ledger is charged the exact cost
    asyncio.run(gw.app.core.monthly.spend("key:bob", Decimal(50)))
    refused = post(gw.url, BOB)
    assert refused.status_code == 429 and "monthly budget of $50.0 used up for this key" in refused.text


@pytest.mark.redis
def test_team_budgets_hold_across_two_gateways_through_redis(emulator_url: str, serve_gateway: ServeGateway,
                                                             redis_url: str) -> None:
    team = f"t{uuid.uuid4().hex[:10]}"
    toml = KEYS_TOML.replace('"search"', f'"{team}"').replace("teams.search", f"teams.{team}")
    toml = toml.replace("usd_per_day = 0.5", "usd_per_day = 0.01")
    s = settings(toml)
    from dataclasses import replace

    s = replace(s, redis_url=redis_url)
    one, two = serve_gateway(emulator_url, settings=s), serve_gateway(emulator_url, settings=s)
    assert post(one.url, ALICE).status_code == 200
    first = one.records(1)[0].cost_usd

    async def team_spend() -> Decimal:
        from tiered.gateway.redis_limits import RedisLimits

        limits = RedisLimits(redis_url)
        try:
            seen = await limits.spent(f"team:{team}")
            await limits.spend(f"team:{team}", Decimal("0.01"))  # the rest of the team's day
            return seen
        finally:
            await limits.aclose()

    assert asyncio.run(team_spend()) == first  # alice's request, charged in Redis by replica one
    refused = post(two.url, BOB)  # another key of the team, on the other replica
    assert refused.status_code == 429 and f"used up for team '{team}'" in refused.json()["error"]["message"]


def test_keys_cli_and_the_key_table(emulator_url: str, serve_gateway: ServeGateway, tmp_path: Path) -> None:
    runner = CliRunner()
    gw = serve_gateway(emulator_url, settings=settings("[gateway]\nkey_store = true\n"))
    db = str(gw.db)
    made = runner.invoke(main, ["keys", "create", "carol", "--team", "ops", "--usd-per-day", "5", "--rpm", "10",
                                "--model", "haiku", "--expires", "2099-01-01", "--db", db])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("tk-") and len(secret) > 40
    assert runner.invoke(main, ["keys", "create", "carol", "--db", db]).exit_code != 0  # the name is taken
    listed = runner.invoke(main, ["keys", "list", "--db", db])
    assert "carol" in listed.output and "ops" in listed.output and secret not in listed.output
    with SqliteSink(gw.db) as log:
        stored = log._fetch("SELECT * FROM gateway_keys", {})
    assert stored[0]["secret_sha256"] == secret_hash(secret) and secret not in str(stored)
    assert post(gw.url, secret).status_code == 200
    assert gw.records(1)[0].key_name == "carol" and gw.records(1)[0].team == "ops"
    assert runner.invoke(main, ["keys", "revoke", "carol", "--db", db]).exit_code == 0
    gw.app.core.keyring._loaded = -1e18  # the next request re-reads the table (normally within 5 s)
    revoked = post(gw.url, secret)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
    assert runner.invoke(main, ["keys", "revoke", "carol", "--db", db]).exit_code != 0
    toml = runner.invoke(main, ["keys", "create", "dave", "--print-toml"])
    parsed = tomllib.loads(toml.stdout.rsplit("\n", 2)[0])
    assert parsed["gateway"]["keys"][0]["secret_sha256"] == secret_hash(toml.stdout.strip().splitlines()[-1])
