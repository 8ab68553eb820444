"""The replay driver: runs any policy's `flow` over recorded outcomes, synchronously, with no network.

The policy objects are the ones that run live; only the driver differs. For one dataset item it
steps the generator and answers each step from the record:

- `Call(target)`: the target (a tier name, or anything the catalog resolves to a tier, or a dataset
  model id) goes through the `TierMap` to a dataset model, and the answer is that model's recorded
  outcome for the item: its response text (or a stand-in when none was recorded), its tokens
  (recorded, or estimated at 4 characters a token), and a cost from the `Pricing`. A model with no
  outcome for the item answers with a `NoAnswer` error, as the replay backend does. A benchmark records
  only answers: a call made for another purpose (classify, plan, step, synthesize) gets the same recorded
  text and is priced the same, so the cost of such calls is an estimate.
- `Parallel`: its calls are answered one after the other (order kept); simulated latency takes the max.
- `Sleep`: no wall time passes; the seconds are added to the simulated latency only.

The quality of the item is the recorded quality of the model that served the final outcome.
Latency is simulated by a `LatencyModel` (per-tier time to first token + time per output token,
the emulator's model), since a recorded benchmark has no timings of its own.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from tiered.catalog import Catalog
from tiered.datasets import CHARS_PER_TOKEN, Dataset, Item
from tiered.errors import CatalogError, ConfigError, NoAnswer
from tiered.policies.base import Call, Outcome, Parallel, Policy, Result, Sleep
from tiered.records import Attempt
from tiered.types import Request, Response, Usage

NO_RESPONSE = "[replay: no response text was recorded for this prompt]"


@dataclass(frozen=True, slots=True)
class TierMap:
    """Which dataset model plays each tier: `TierMap.parse("haiku=mistral-7b,opus=gpt-4")`, cheapest first."""

    tiers: Mapping[str, str]

    @classmethod
    def parse(cls, spec: str) -> TierMap:
        tiers: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            tier, sep, model = part.partition("=")
            if not sep or not tier.strip() or not model.strip():
                raise ConfigError(f"--tiers: expected TIER=MODEL, got {part!r}")
            tiers[tier.strip()] = model.strip()
        if not tiers:
            raise ConfigError("--tiers: no tier given")
        return cls(tiers)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.tiers)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.tiers.values())

    def model_for(self, target: str, catalog: Catalog | None = None) -> tuple[str, str] | None:
        """(tier, dataset model) for a call target, or None when the target plays no tier here."""
        if target in self.tiers:
            return target, self.tiers[target]
        for tier, model in self.tiers.items():
            if model == target:
                return tier, model
        if catalog is not None:
            try:
                info = catalog.resolve(target)
            except CatalogError:
                return None
            for tier in (info.tier, *(t for t, m in catalog.tiers.items() if m == info.id)):
                if tier in self.tiers:
                    return tier, self.tiers[tier]
        return None


class Pricing(Protocol):
    def cost(self, item: Item, tier: str, model: str, input_tokens: int, output_tokens: int) -> Decimal:
        """USD for one answer of `model` (playing `tier`) on `item`."""
        ...


@dataclass(frozen=True, slots=True)
class ClaudePricing:
    """Tokens priced at the Claude model that the catalog puts at each tier (`--pricing claude`)."""

    catalog: Catalog

    def cost(self, item: Item, tier: str, model: str, input_tokens: int, output_tokens: int) -> Decimal:
        try:
            prices = self.catalog.resolve(tier).prices
        except CatalogError as e:
            raise ConfigError(f"--pricing claude: tier {tier!r} is not in the catalog") from e
        return (input_tokens * prices.input + output_tokens * prices.output) / Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class DatasetPricing:
    """The dataset's own cost: the recorded `cost_usd`, else tokens at the price in `models.json`."""

    dataset: Dataset

    def cost(self, item: Item, tier: str, model: str, input_tokens: int, output_tokens: int) -> Decimal:
        o = item.outcomes.get(model)
        if o is not None and o.cost_usd is not None:
            return Decimal(str(o.cost_usd))
        m = self.dataset.models.get(model)
        if m is None or m.input_usd_per_mtok is None or m.output_usd_per_mtok is None:
            raise ConfigError(f"--pricing dataset: {self.dataset.name} records no cost or price for {model!r}")
        inp, out = Decimal(str(m.input_usd_per_mtok)), Decimal(str(m.output_usd_per_mtok))
        return (input_tokens * inp + output_tokens * out) / Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """Simulated latency of one call: `ttft_ms[tier] + tpot_ms[tier] * output_tokens`.

    The defaults are round figures of the order published for streaming Claude calls (Haiku's time to
    first token about 0.5 s); they are a model for comparing policies, not a measurement.
    """

    ttft_ms: Mapping[str, float] = field(default_factory=lambda: {"haiku": 500.0, "sonnet": 900.0, "opus": 1400.0})
    tpot_ms: Mapping[str, float] = field(default_factory=lambda: {"haiku": 6.0, "sonnet": 14.0, "opus": 25.0})

    def latency_ms(self, tier: str, output_tokens: int) -> float:
        return self.ttft_ms.get(tier, 1000.0) + self.tpot_ms.get(tier, 15.0) * output_tokens


@dataclass(frozen=True, slots=True)
class ItemRun:
    """What one policy did with one item."""

    item_id: str
    task: str
    tier: str | None
    """The tier that served the final answer (None when every call failed)."""
    model: str | None
    quality: float
    cost_usd: float
    latency_ms: float
    calls: int
    answer_tiers: tuple[str, ...]
    """Tiers of the answer calls, in order (repeats on one tier kept)."""
    result: Result

    @property
    def escalated(self) -> bool:
        """More than one tier was asked to answer."""
        return len(set(self.answer_tiers)) > 1


@dataclass(frozen=True, slots=True)
class Answer:
    """A recorded answer as the driver serves it (cached per item and model)."""

    tier: str
    model: str
    response: Response
    input_tokens: int
    output_tokens: int
    cost: Decimal


class ReplayDriver:
    """Steps policies over the items of a dataset; answers are cached per (item, model)."""

    def __init__(self, dataset: Dataset, tiers: TierMap, pricing: Pricing, *,
                 catalog: Catalog | None = None, latency: LatencyModel | None = None) -> None:
        self.dataset = dataset
        self.tiers = tiers
        self.pricing = pricing
        self.catalog = catalog
        self.latency = latency or LatencyModel()
        self._requests: dict[str, Request] = {}
        self._answers: dict[tuple[str, str], Answer | None] = {}

    def request_for(self, item: Item) -> Request:
        """The request a policy sees for `item` (built once: sweeps reuse it)."""
        req = self._requests.get(item.id)
        if req is None:
            req = Request.user(item.prompt, task=item.task or None)
            self._requests[item.id] = req
        return req

    def run(self, policy: Policy, item: Item) -> ItemRun:
        flow: Generator[Any, Any, Result] = policy.flow(self.request_for(item))
        cost = Decimal(0)
        latency = 0.0
        calls = 0
        answer_tiers: list[str] = []
        sent: Any = None
        try:
            while True:
                step = flow.send(sent)
                if isinstance(step, Call):
                    sent, c, lat = self._call(item, step, answer_tiers)
                    cost += c
                    latency += lat
                    calls += 1
                elif isinstance(step, Parallel):
                    outs = [self._call(item, call, answer_tiers) for call in step.calls]
                    sent = tuple(o for o, _, _ in outs)
                    cost += sum((c for _, c, _ in outs), Decimal(0))
                    latency += max((lat for _, _, lat in outs), default=0.0)
                    calls += len(outs)
                elif isinstance(step, Sleep):
                    sent = None
                    latency += step.seconds * 1000.0
                else:
                    raise TypeError(f"policy {policy!r} yielded {step!r}, not a Call, Parallel or Sleep")
        except StopIteration as stop:
            result: Result = stop.value
        final = result.outcome
        hit = self.tiers.model_for(final.call.target, self.catalog) if final.ok else None
        quality = 0.0
        if hit is not None:
            o = item.outcomes.get(hit[1])
            quality = o.quality if o is not None else 0.0
        return ItemRun(
            item_id=item.id, task=item.task, tier=hit[0] if hit else None, model=hit[1] if hit else None,
            quality=quality, cost_usd=float(cost), latency_ms=latency, calls=calls,
            answer_tiers=tuple(answer_tiers), result=result,
        )

    def _call(self, item: Item, call: Call, answer_tiers: list[str]) -> tuple[Outcome, Decimal, float]:
        hit = self.tiers.model_for(call.target, self.catalog)
        answer = self.answer(item, *hit) if hit is not None else None
        if answer is None:
            model = hit[1] if hit else call.target
            err = NoAnswer(f"no recorded answer of {model!r} for {item.id!r}", model=model)
            attempt = Attempt(model=model, tier=hit[0] if hit else None, purpose=call.purpose,
                              outcome=err.error_type, status=err.status, reason=call.reason, kind=call.attempt_kind)
            return Outcome(call=call, attempt=attempt, error=err), Decimal(0), 0.0
        if call.purpose == "answer":
            answer_tiers.append(answer.tier)
        latency = self.latency.latency_ms(answer.tier, answer.output_tokens)
        attempt = Attempt(
            model=answer.model, tier=answer.tier, purpose=call.purpose, outcome="ok",
            input_tokens=answer.input_tokens, output_tokens=answer.output_tokens, cost_usd=answer.cost,
            latency_ms=latency, ttft_ms=self.latency.ttft_ms.get(answer.tier), status=200, reason=call.reason,
            kind=call.attempt_kind,
        )
        return Outcome(call=call, attempt=attempt, response=answer.response), answer.cost, latency

    def answer(self, item: Item, tier: str, model: str) -> Answer | None:
        """`model`'s recorded answer to `item`, playing `tier` (None when it has none)."""
        key = (item.id, model)
        if key in self._answers:
            return self._answers[key]
        o = item.outcomes.get(model)
        answer: Answer | None = None
        if o is not None:
            text = response_text(o.response)
            in_tok = item.input_tokens(model)
            out_tok = o.output_tokens if o.output_tokens is not None else max(1, len(text) // CHARS_PER_TOKEN)
            if o.response is None and o.output_tokens is None:
                out_tok = 1
            response = Response(
                id=f"replay_{item.id}_{model}", model=model, content=({"type": "text", "text": text},),
                stop_reason="end_turn", usage=Usage(input_tokens=in_tok, output_tokens=out_tok),
            )
            cost = self.pricing.cost(item, tier, model, in_tok, out_tok)
            answer = Answer(tier, model, response, in_tok, out_tok, cost)
        self._answers[key] = answer
        return answer


def response_text(raw: str | None) -> str:
    """The recorded response; routerbench stores a list's repr (`"['A\\n']"`), which is unwrapped."""
    if raw is None:
        return NO_RESPONSE
    text = raw
    if len(text) >= 4 and text[:2] in ("['", '["') and text[-2:] in ("']", '"]'):
        import ast

        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "\n".join(value)
    return text
