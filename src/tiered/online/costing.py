"""What the shadow judge costs, from the catalog's prices and typical token counts (for the docs and the demo).

One comparison = the other tier answers the prompt once, and the judge reads the prompt and both answers
(`JUDGE_OVERHEAD_TOKENS` for the rubric, the tool and the section tags) and writes a short tool call; a share
`judge_twice` of comparisons is judged a second time with the answers swapped. A sampled request is compared
with every other tier of its route. Per 1,000 requests that is `1000 * shadow_rate` sampled requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tiered.catalog import Catalog
from tiered.pricing import cost_usd
from tiered.types import Usage

JUDGE_OVERHEAD_TOKENS = 350
JUDGE_OUTPUT_TOKENS = 40


@dataclass(frozen=True, slots=True)
class ShadowCost:
    answers_usd: Decimal
    """The other tiers' answers, per sampled request."""
    judge_usd: Decimal
    """The judge's readings, per sampled request."""

    @property
    def per_sampled_request(self) -> Decimal:
        return self.answers_usd + self.judge_usd

    def per_1000_requests(self, shadow_rate: float) -> Decimal:
        return self.per_sampled_request * Decimal(1000) * Decimal(str(shadow_rate))


def shadow_cost(catalog: Catalog, served: str, route_tiers: Sequence[str], *, judge: str | None = None,
                prompt_tokens: int = 500, answer_tokens: int = 300, judge_twice: float = 0.25) -> ShadowCost:
    """The expected cost of comparing one request served by `served` with the other tiers of `route_tiers`."""
    judge_info = catalog.resolve(judge or list(catalog.tiers)[-1])
    readings = Decimal(1) + Decimal(str(judge_twice))
    answers = judging = Decimal(0)
    for tier in route_tiers:
        if tier == served:
            continue
        answers += cost_usd(catalog.resolve(tier), Usage(input_tokens=prompt_tokens, output_tokens=answer_tokens))
        read = Usage(input_tokens=JUDGE_OVERHEAD_TOKENS + prompt_tokens + 2 * answer_tokens,
                     output_tokens=JUDGE_OUTPUT_TOKENS)
        judging += readings * cost_usd(judge_info, read)
    return ShadowCost(answers, judging)
