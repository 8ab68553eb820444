"""POST /v1/tiered/feedback: a label for an answer, from the key that asked for it (`tiered.online.feedback`).

    {"trace_id": "<x-tiered-trace-id>", "score": 0.8}      -> 200 {"type": "feedback", "trace_id", "score",
                                                                   "tier", "model"}

400 invalid_request_error for a bad body, 404 not_found_error for a trace the log does not hold (or a
gateway that keeps no SQL request log), 403 permission_error when another key made the request. The label
goes to the same rows as `tiered label` and `record_quality` (`quality`, and `labels` with source
"feedback", the served tier and model, and the labelling key's id).
"""

from __future__ import annotations

from tiered.gateway.core import Context, Core
from tiered.gateway.wire import HttpError, Receive, Scope, Send, dumps, read_json, send_bytes
from tiered.online.feedback import MAX_BODY_BYTES, BadFeedback, parse_feedback


async def create(core: Core, ctx: Context, scope: Scope, receive: Receive, send: Send) -> None:
    body = await read_json(receive, scope, MAX_BODY_BYTES)
    try:
        fb = parse_feedback(body)
    except BadFeedback as e:
        raise HttpError(400, "invalid_request_error", str(e)) from e
    if core.learning is None:
        raise HttpError(404, "not_found_error", "feedback needs a SQL request log, and this gateway keeps none "
                        "([telemetry] sinks: add \"sqlite\" or \"postgres\")")
    stored = await core.learning.feedback(ctx.caller, fb)
    await send_bytes(send, 200, dumps(stored), [(b"request-id", ctx.request_id.encode()),
                                               (b"x-tiered-trace-id", ctx.trace_id.encode())])
