"""Offline (no key, replay backend), the gateway's answer to a prompt the replay set lacks says, in the answer,
that it is the recorded answer to another prompt (issue 8, item 4)."""

from __future__ import annotations

from pathlib import Path

import httpx2

from tiered.config import parse_config_text
from tiered.gateway import build_gateway
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.testing import running_gateway
from tiered.models.replay import NEAREST_NOTE_START


def test_a_replayed_answer_to_another_prompt_says_so(tmp_path: Path) -> None:
    text = (f'[backend]\nkind = "replay"\n[telemetry]\nsinks = ["sqlite"]\n[telemetry.sqlite]\n'
            f'path = "{tmp_path / "r.db"}"\n[routes.default]\npolicy = "direct"\ntarget = "sonnet"\n')
    app = build_gateway(parse_config_text(text, source="test"), GatewaySettings(), env={})
    with running_gateway(app) as url:
        r = httpx2.post(f"{url}/v1/messages", headers={"x-api-key": "k"},
                        json={"model": "tiered/default", "max_tokens": 256,
                              "messages": [{"role": "user", "content": "What is the capital of France?"}]})
    assert r.status_code == 200, r.text
    answer = r.json()["content"][0]["text"]
    first_line = answer.split("\n", 1)[0]
    assert first_line.startswith(NEAREST_NOTE_START), first_line
    assert "different prompt" in first_line and "ANTHROPIC_API_KEY" in first_line
