"""No log line, at any level and from any logger (tiered's, the anthropic SDK's, httpx2's, httpcore2's,
uvicorn's), holds a key: not the gateway key, not a wrong key a caller tried, not the upstream key."""

from __future__ import annotations

import logging
from pathlib import Path

import anthropic
import httpx2
import pytest

from tiered.config import parse_config_text
from tiered.gateway import build_gateway
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.testing import running_gateway

GATEWAY_KEY = "gw-secret-5f1c9a0e7d3b4c2a"
WRONG_KEY = "gw-wrong-8e2d7c6b5a493817"
UPSTREAM_KEY = "sk-ant-upstream-secret-3c4d5e6f7a8b9c0d"
LOGGERS = ("", "tiered", "anthropic", "anthropic._base_client", "httpx2", "httpcore2", "uvicorn", "uvicorn.error",
           "uvicorn.access")
HI = [{"role": "user", "content": "hi"}]


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)


@pytest.mark.parametrize("pass_through", [False, True])
def test_no_key_in_any_log_line(emulator_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                pass_through: bool) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    text = (f'[backend]\nkind = "emulator"\nbase_url = "{emulator_url}"\n'
            f'[telemetry]\nsinks = ["sqlite"]\n[telemetry.sqlite]\npath = "{tmp_path / "r.db"}"\n'
            '[routes.default]\npolicy = "fallback"\nchain = ["opus", "sonnet"]\nretries = 0\n')
    settings = GatewaySettings(keys=frozenset() if pass_through else frozenset({GATEWAY_KEY}),
                               pass_through_key=pass_through)
    app = build_gateway(parse_config_text(text, source="test"), settings, env={"ANTHROPIC_API_KEY": UPSTREAM_KEY})
    with running_gateway(app) as url:
        client = anthropic.Anthropic(api_key=GATEWAY_KEY, base_url=url, max_retries=0)
        answer = client.messages.create(model="auto", max_tokens=16, messages=HI)  # type: ignore[arg-type]
        assert answer.content
        with client.messages.stream(model="auto", max_tokens=16, messages=HI) as s:  # type: ignore[arg-type]
            assert s.get_final_message().content
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(model="auto", max_tokens=-1, messages=HI)  # type: ignore[arg-type]
        wrong = httpx2.post(f"{url}/v1/messages", headers={"x-api-key": WRONG_KEY},
                            json={"model": "auto", "max_tokens": 8, "messages": HI})
        bearer = httpx2.post(f"{url}/v1/chat/completions", headers={"authorization": f"Bearer {GATEWAY_KEY}"},
                             json={"model": "auto", "messages": HI})
        assert bearer.status_code == 200
        if not pass_through:
            assert wrong.status_code == 401
    lines = logged(caplog)
    assert {"anthropic._base_client", "httpx2", "httpcore2.http11"} <= {r.name for r in caplog.records}  # listening
    for key in (GATEWAY_KEY, WRONG_KEY, UPSTREAM_KEY):
        assert key not in lines
        assert key[-12:] not in lines  # nor a tail of it
