"""A cache-aware route through the gateway: the ledger sees turn 1 on sonnet, turn 2 stays there."""

from __future__ import annotations

from collections.abc import Callable

import anthropic  # noqa: F401 - imported before the gateway starts: its first import is slow on a loaded machine
import httpx2
from gateway_support import KEY, ServeGateway

from tiered.emulator.config import EmulatorConfig

ROUTES = """
[routes.agent]
policy = "router"
cache_aware = true
thresholds = { tiers = ["haiku", "sonnet", "opus"], cuts = [5.0, 6.0] }
"""
PREFIX = "w" * 8_000  # 2,000 tokens (the heuristic scorer is slow on long prompts)


def turn(n: int) -> dict[str, object]:
    messages: list[dict[str, object]] = [{"role": "user", "content": [{"type": "text", "text": PREFIX}]}]
    for i in range(1, n):
        messages += [{"role": "assistant", "content": f"ok {i}"}, {"role": "user", "content": f"next {i}"}]
    last = messages[-1]["content"]
    text = last[0]["text"] if isinstance(last, list) else last
    messages[-1] = {"role": "user", "content": [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]}
    return {"max_tokens": 1, "messages": messages}  # output cheap next to the prefix: the cache decides


def test_a_cache_aware_route_stays_on_the_warm_tier(start_emulator: Callable[[EmulatorConfig], str],
                                                      serve_gateway: ServeGateway) -> None:
    gw = serve_gateway(start_emulator(EmulatorConfig()), routes=ROUTES)
    headers = {"x-api-key": KEY, "x-claude-code-session-id": "session-42"}
    first = httpx2.post(f"{gw.url}/v1/messages", headers=headers, json={**turn(1), "model": "sonnet"},
                        timeout=60)
    assert first.status_code == 200 and first.json()["usage"]["cache_creation_input_tokens"] >= 2_000
    second = httpx2.post(f"{gw.url}/v1/messages", headers=headers, json={**turn(2), "model": "tiered/agent"},
                         timeout=60)
    assert second.status_code == 200, second.text
    assert second.headers["x-tiered-tier"] == "sonnet"  # scored haiku, kept on sonnet's warm cache
    assert second.json()["usage"]["cache_read_input_tokens"] >= 2_000
    record = gw.records(2)
    reason = next(r.decision.reason for r in record if r.route == "agent")
    assert "stay on sonnet: cache warm, switching to haiku costs $" in reason
    other = httpx2.post(f"{gw.url}/v1/messages", headers={"x-api-key": KEY, "x-claude-code-session-id": "other"},
                        json={**turn(2), "model": "tiered/agent"}, timeout=60)
    assert other.headers["x-tiered-tier"] == "haiku"  # another conversation: nothing warm on its ledger
