"""What the learning loop's gateway tests share: keys, routes, and the served gateway handle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from tiered.datasets import load_dataset
from tiered.gateway.app import Gateway

KEYS = ("online-key-alice-0123456789", "online-key-bob-9876543210")
ALICE, BOB = KEYS
DIRECT_HAIKU = '[routes.default]\npolicy = "direct"\ntarget = "haiku"\n'


@dataclass
class ServedLoop:
    url: str
    app: Gateway
    db: Path

    def flush(self) -> None:
        self.app.core.recorder.flush()

    def ask(self, prompt: str, *, key: str = ALICE, model: str = "auto", max_tokens: int = 256,
            headers: dict[str, str] | None = None) -> httpx2.Response:
        return httpx2.post(f"{self.url}/v1/messages", headers={"x-api-key": key, **(headers or {})},
                           json={"model": model, "max_tokens": max_tokens,
                                 "messages": [{"role": "user", "content": prompt}]}, timeout=30)

    def feedback(self, body: Any, *, key: str | None = ALICE, raw: bytes | None = None) -> httpx2.Response:
        headers = {"x-api-key": key} if key else {}
        if raw is not None:
            return httpx2.post(f"{self.url}/v1/tiered/feedback", headers={**headers, "content-type":
                               "application/json"}, content=raw, timeout=30)
        return httpx2.post(f"{self.url}/v1/tiered/feedback", headers=headers, json=body, timeout=30)


def routerbench_prompts(n: int) -> list[str]:
    """`n` routerbench3 test prompts that every default-played model answered."""
    out = []
    for item in load_dataset("routerbench3").split("test"):
        if len(item.prompt) < 4000:
            out.append(item.prompt)
        if len(out) == n:
            break
    return out


StartLoop = Callable[..., ServedLoop]
