"""tiered: send each LLM request to the cheapest model tier that does it well, and prove the saving.

Importing tiered creates no clients, reads no keys and sets no globals.
"""

from tiered.catalog import Catalog, ModelInfo, Prices
from tiered.errors import (
    AllFailed,
    AuthFailed,
    BadRequest,
    ConnectionFailed,
    NoAnswer,
    Overloaded,
    ProviderError,
    RateLimited,
    ServerError,
    SpendLimit,
    TieredError,
    UpstreamTimeout,
)
from tiered.models.base import Model
from tiered.policies.base import Call, Outcome, Parallel, Policy, Result, Sleep
from tiered.pricing import cost_usd
from tiered.records import Attempt, Decision, Record
from tiered.scoring.base import Scorer, Thresholds
from tiered.telemetry.quality import record_quality
from tiered.types import Request, Response, Usage

__all__ = [
    "AllFailed", "Attempt", "AuthFailed", "BadRequest", "Call", "Catalog", "ConnectionFailed", "Decision",
    "Model", "ModelInfo", "NoAnswer", "Outcome", "Overloaded", "Parallel", "Policy", "Prices", "ProviderError",
    "RateLimited", "Record", "Request", "Response", "Result", "Scorer", "ServerError", "Sleep", "SpendLimit",
    "Thresholds", "TieredError", "UpstreamTimeout", "Usage", "cost_usd", "record_quality",
]
