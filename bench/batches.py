"""Batch-blind against batch-aware serving of the same requests through the gateway, in one run.

Requests (the first turns of the agentic workload's conversations, plus short questions) go through
the gateway (a cache-blind router route) in front of the local emulator (batches end after 0.2 s).
A share of them can wait (an evaluation, a nightly job) and say so with `x-tiered-deadline-s: 3600`:

- batch-blind: every request is answered at once, at the standard price;
- deadline-aware: with `[gateway] batch_deadline_s = 60`, the ones that can wait go through a
  one-request batch each, at the batch price;
- client batch: the ones that can wait are sent as one client batch (POST /v1/messages/batches),
  routed per request, the others at once.

Prints the cost of each, the tier mix (the same routing either way) and one JSON line.

    .venv/bin/python bench/batches.py [--requests 40] [--deferrable 0.6]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from decimal import Decimal

import anthropic

from tiered.config import parse_config_text
from tiered.emulator.config import EmulatorConfig
from tiered.emulator.testing import running_emulator
from tiered.evaluation.agentic import agentic_workload
from tiered.gateway import build_gateway
from tiered.gateway.batches import batch_cost
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.testing import running_gateway

KEY = "bench-key"
ROUTE = """
[routes.work]
policy = "router"
"""


def main(n: int, deferrable: float) -> None:
    rng = random.Random(0)
    firsts = [c.turns[0].request for c in agentic_workload(max(1, n // 2), seed=5, max_turns=8)]
    bodies = [{**r.to_body("tiered/work"), "max_tokens": 512} for r in firsts]
    bodies += [{"model": "tiered/work", "max_tokens": 256, "messages": [{"role": "user", "content": q}]}
               for q in (f"Question {i}: explain briefly why test {i} fails." for i in range(n - len(bodies)))]
    waits = [rng.random() < deferrable for _ in bodies]
    text = '[backend]\nkind = "emulator"\nbase_url = "{url}"\n' + ROUTE
    out: dict[str, object] = {"requests": len(bodies), "deferrable": sum(waits)}
    with running_emulator(EmulatorConfig(batch_seconds=0.2)) as url:
        costs: dict[str, Decimal] = {}
        for mode in ("batch-blind", "deadline-aware", "client batch"):
            config = parse_config_text(text.format(url=url), source="bench")
            settings = GatewaySettings(keys=frozenset({KEY}), batch_deadline_s=60)
            app = build_gateway(config, settings, env={}, sinks=[])
            started = time.perf_counter()
            with running_gateway(app) as gw:
                client = anthropic.Anthropic(api_key=KEY, base_url=gw, max_retries=0, timeout=120)
                total = Decimal(0)
                batched = []
                for i, (body, can_wait) in enumerate(zip(bodies, waits, strict=True)):
                    if mode == "client batch" and can_wait:
                        batched.append({"custom_id": f"r{i}", "params": body})
                        continue
                    headers = {"x-tiered-deadline-s": "3600"} if mode == "deadline-aware" and can_wait else {}
                    raw = client.messages.with_raw_response.create(**body, extra_headers=headers)
                    total += Decimal(raw.headers["x-tiered-cost-usd"])
                if batched:
                    batch = client.messages.batches.create(requests=batched)  # type: ignore[arg-type]
                    while client.messages.batches.retrieve(batch.id).processing_status != "ended":
                        time.sleep(0.1)
                    list(client.messages.batches.results(batch.id))
                    total += batch_cost(app.core, batch.id) or Decimal(0)
            costs[mode] = total
            print(f"{mode:<16} ${float(total):.4f} for {len(bodies)} requests ({time.perf_counter() - started:.1f} s)")
    blind = costs["batch-blind"]
    for mode, cost in costs.items():
        out[f"{mode.replace(' ', '_').replace('-', '_')}_usd"] = float(cost)
        out[f"{mode.replace(' ', '_').replace('-', '_')}_saving"] = round(float(1 - cost / blind), 4)
    print(json.dumps(out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--deferrable", type=float, default=0.6)
    args = parser.parse_args()
    main(args.requests, args.deferrable)
