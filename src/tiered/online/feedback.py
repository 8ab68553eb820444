"""Feedback bodies: `{"trace_id": "...", "score": 0.8}` (or `"score": "good"` / `"bad"`), checked strictly.

    POST /v1/tiered/feedback
    x-api-key: <the gateway key that made the request>
    {"trace_id": "<the x-tiered-trace-id of the answer>", "score": "good"}

`trace_id` is the answer's `x-tiered-trace-id` header; its `request-id` (`req_tiered_<trace id>`) is
accepted too, since that is what the SDKs expose (`message._request_id`). `score` is a number in [0, 1]
(1 = a good answer) or one of the words `good` (1.0) and `bad` (0.0). Anything else is a `BadFeedback`
naming the field, which the gateway answers as a 400 invalid_request_error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

WORDS = {"good": 1.0, "bad": 0.0}
REQUEST_ID_PREFIX = "req_tiered_"
_TRACE = re.compile(r"[0-9A-Za-z_-]{1,128}")
FIELDS = ("trace_id", "score")
MAX_BODY_BYTES = 16 * 1024


class BadFeedback(ValueError):
    """A feedback body the gateway refuses, with the message it sends back."""


@dataclass(frozen=True, slots=True)
class Feedback:
    trace_id: str
    score: float


def parse_feedback(body: Any) -> Feedback:
    if not isinstance(body, dict):
        raise BadFeedback('the body must be a JSON object: {"trace_id": "...", "score": 0..1 | "good" | "bad"}')
    extra = sorted(set(body) - set(FIELDS))
    if extra:
        raise BadFeedback(f"{extra[0]}: Extra inputs are not permitted (fields: trace_id, score)")
    for name in FIELDS:
        if name not in body:
            raise BadFeedback(f"{name}: Field required")
    trace = body["trace_id"]
    if not isinstance(trace, str):
        raise BadFeedback("trace_id: Input should be a valid string (the x-tiered-trace-id of the answer)")
    trace = trace.strip().removeprefix(REQUEST_ID_PREFIX)
    if not _TRACE.fullmatch(trace):
        raise BadFeedback("trace_id: not a trace id (the x-tiered-trace-id header of the answer, e.g. 32 hex digits)")
    return Feedback(trace, _score(body["score"]))


def _score(raw: Any) -> float:
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in WORDS:
            return WORDS[word]
        raise BadFeedback(f"score: {raw[:40]!r} is not a score; give a number in [0, 1], \"good\" or \"bad\"")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise BadFeedback("score: Input should be a number in [0, 1], \"good\" or \"bad\"")
    value = float(raw)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise BadFeedback(f"score: Input should be between 0 and 1, got {raw}")
    return value
