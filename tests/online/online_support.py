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


ROUTER_ROUTE = ('[routes.{name}]\npolicy = "router"\nscorer = "learned"\n'
                'thresholds = {{ tiers = ["haiku", "opus"], cuts = [0.0] }}\n')


def fill_log(sink: Any, route: str, n: int, *, start: float = 1_700_000_000.0) -> list[str]:
    """A request log as a learning gateway leaves it after `n` shadow comparisons on routerbench3's train split
    (haiku played by mistral-7b, opus by gpt-4): a request row, its prompt, and a judge label each. The labels
    follow the recorded outcomes exactly as the emulator's judge does."""
    from decimal import Decimal

    from tiered.emulator.judge import TIE
    from tiered.models.replay import DEFAULT_MODELS
    from tiered.records import Decision, Record

    weak, strong = DEFAULT_MODELS["haiku"], DEFAULT_MODELS["opus"]
    traces = []
    items = [i for i in load_dataset("routerbench3").split("train") if weak in i.outcomes and strong in i.outcomes]
    for k, item in enumerate(items[:n]):
        trace = f"t{k:05d}{route}"
        at = start + k
        sink.emit(Record(trace_id=trace, route=route, policy="test", decision=Decision("test", "haiku", "test"),
                         attempts=(), cost_usd=Decimal(0), latency_ms=1.0, degraded=False, created_at=at,
                         model="claude-haiku-4-5", tier="haiku", task=item.task))
        sink.add_prompt(trace, item.prompt, item.task, at)
        good = item.outcomes[weak].quality >= item.outcomes[strong].quality - TIE
        sink.add_label(trace, 1.0 if good else 0.0, source="judge", tier="haiku", model="claude-haiku-4-5",
                       compared_tier="opus", compared_model="claude-opus-4-7", judge_model="claude-opus-4-7",
                       judge_cost_usd=Decimal("0.001"), created_at=at)
        traces.append(trace)
    return traces


def inverted_router(path: Path) -> Path:
    """A router file that ranks prompts exactly backwards from the shipped one: a router worse than any."""
    from tiered.learning.router import AdaptedRouter
    from tiered.scoring.learned import LearnedScorer

    bad = AdaptedRouter(prior=LearnedScorer.default(),
                        standardise={"prior_mean": 0.0, "prior_sd": 1.0, "length_mean": 0.0, "length_sd": 1.0},
                        coef={"bias": 0.0, "prior": -1.0, "prior2": 0.0, "length": 0.0},
                        metadata={"weak": "haiku", "strong": "opus", "labels": 0, "window": None})
    bad.save(path)
    return path
