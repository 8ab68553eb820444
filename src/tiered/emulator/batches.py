"""The Message Batches API of the emulator: create, get, list, cancel, delete, results (JSONL).

    POST   /v1/messages/batches                 {"requests": [{"custom_id", "params"}]} -> a MessageBatch
    GET    /v1/messages/batches[?limit&after_id] a page of MessageBatches, newest first
    GET    /v1/messages/batches/{id}            one MessageBatch
    POST   /v1/messages/batches/{id}/cancel     processing_status "canceling"; the batch ends canceled
    DELETE /v1/messages/batches/{id}            {"id", "type": "message_batch_deleted"} (ended batches only)
    GET    /v1/messages/batches/{id}/results    JSONL, one {"custom_id", "result"} per request (ended only)

Each request is validated as a Messages body (no streaming) and answered when the batch is created,
in order, by the same composer, prompt cache and fault draws as /v1/messages: a drawn fault is that
request's `errored` result with the API's error body. Usage says `service_tier: "batch"`. The batch
reads `in_progress` for `batch_seconds` (the emulator config), then `ended` with its counts; a batch
canceled before that ends with every request `canceled`. Times come from an injected clock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from tiered.emulator.wire import Ids, dumps

MAX_REQUESTS = 100_000
EXPIRES_AFTER_S = 86_400.0
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

Answer = Callable[[dict[str, Any]], dict[str, Any]]
"""Checked params -> the request's result: {"type": "succeeded", "message": ...} or {"type": "errored", ...}."""


class BatchError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


@dataclass
class Batch:
    id: str
    created: float
    ends: float
    results: list[tuple[str, dict[str, Any]]]
    canceled_at: float | None = None

    def ended(self, now: float) -> bool:
        return self.canceled_at is not None or now >= self.ends

    def view(self, now: float, base_url: str) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        status = "ended" if self.ended(now) else "in_progress"
        if status == "in_progress":
            counts["processing"] = len(self.results)
        else:
            for _, result in self.final():
                counts[result["type"]] += 1
        ended_at = None if status == "in_progress" else min(self.ends, self.canceled_at or self.ends)
        return {
            "id": self.id, "type": "message_batch", "processing_status": status, "request_counts": counts,
            "created_at": _iso(self.created), "expires_at": _iso(self.created + EXPIRES_AFTER_S),
            "ended_at": _iso(ended_at) if ended_at is not None else None,
            "cancel_initiated_at": _iso(self.canceled_at) if self.canceled_at is not None else None,
            "archived_at": None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if status == "ended" else None,
        }

    def final(self) -> list[tuple[str, dict[str, Any]]]:
        if self.canceled_at is not None and self.canceled_at < self.ends:
            return [(cid, {"type": "canceled"}) for cid, _ in self.results]
        return self.results


class BatchStore:
    def __init__(self, answer: Answer, *, clock: Callable[[], float], processing_s: float, ids: Ids,
                 check: Callable[[Any, str], dict[str, Any]]) -> None:
        """`check(params, path)` validates one request's params (raising `BatchError`)."""
        self._answer = answer
        self._clock = clock
        self._processing_s = processing_s
        self._ids = ids
        self._check = check
        self._batches: dict[str, Batch] = {}

    def handle(self, method: str, path: str, query: bytes, body: Any, base_url: str) -> tuple[int, bytes, bool]:
        """(status, body, is_jsonl) for one batches request; raises `BatchError` for a refused one."""
        rest = path[len("/v1/messages/batches"):].strip("/")
        parts = rest.split("/") if rest else []
        now = self._clock()
        if not parts:
            if method == "POST":
                return 200, dumps(self.create(body, now).view(now, base_url)), False
            if method == "GET":
                return 200, dumps(self.page(query, now, base_url)), False
            raise BatchError(405, "invalid_request_error", f"Method {method} not allowed for {path}")
        batch = self._batches.get(parts[0])
        if batch is None or len(parts) > 2:
            raise BatchError(404, "not_found_error", f"message batch not found: {parts[0]}")
        action = parts[1] if len(parts) == 2 else ""
        if (method, action) == ("GET", ""):
            return 200, dumps(batch.view(now, base_url)), False
        if (method, action) == ("POST", "cancel"):
            if not batch.ended(now):
                batch.canceled_at = now
            view = batch.view(now, base_url)
            if batch.canceled_at == now:
                view["processing_status"] = "canceling"
            return 200, dumps(view), False
        if (method, action) == ("DELETE", ""):
            if not batch.ended(now):
                raise BatchError(400, "invalid_request_error",
                                 f"message batch {batch.id} is still in progress; cancel it or wait for it to end")
            del self._batches[batch.id]
            return 200, dumps({"id": batch.id, "type": "message_batch_deleted"}), False
        if (method, action) == ("GET", "results"):
            if not batch.ended(now):
                raise BatchError(400, "invalid_request_error",
                                 f"message batch {batch.id} has not ended: its results are not ready")
            lines = [dumps({"custom_id": cid, "result": result}) for cid, result in batch.final()]
            return 200, b"\n".join(lines) + b"\n", True
        raise BatchError(404, "not_found_error", f"Not found: {method} {path}")

    def create(self, body: Any, now: float) -> Batch:
        if not isinstance(body, Mapping):
            raise BatchError(400, "invalid_request_error", "The request body must be a JSON object")
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise BatchError(400, "invalid_request_error", "requests: a non-empty list is required")
        if len(requests) > MAX_REQUESTS:
            raise BatchError(400, "invalid_request_error", f"requests: at most {MAX_REQUESTS} requests per batch")
        seen: set[str] = set()
        checked: list[tuple[str, dict[str, Any]]] = []
        for i, item in enumerate(requests):
            where = f"requests.{i}"
            if not isinstance(item, Mapping):
                raise BatchError(400, "invalid_request_error", f"{where}: Input should be a valid dictionary")
            cid = item.get("custom_id")
            if not isinstance(cid, str) or not _CUSTOM_ID.match(cid):
                raise BatchError(400, "invalid_request_error",
                                 f"{where}.custom_id: 1 to 64 letters, digits, '_' or '-' required")
            if cid in seen:
                raise BatchError(400, "invalid_request_error", f"{where}.custom_id: {cid!r} is used twice")
            seen.add(cid)
            params = item.get("params")
            if isinstance(params, Mapping) and params.get("stream"):
                raise BatchError(400, "invalid_request_error", f"{where}.params.stream: batches do not stream")
            checked.append((cid, self._check(params, f"{where}.params")))
        batch = Batch(self._ids.make("msgbatch"), now, now + self._processing_s,
                      [(cid, self._answer(params)) for cid, params in checked])
        self._batches[batch.id] = batch
        return batch

    def page(self, query: bytes, now: float, base_url: str) -> dict[str, Any]:
        args = {k: v[-1] for k, v in parse_qs(query.decode("latin-1")).items()}
        try:
            limit = int(args.get("limit", "20"))
        except ValueError:
            raise BatchError(400, "invalid_request_error", "limit: Input should be a valid integer") from None
        if not 1 <= limit <= 1000:
            raise BatchError(400, "invalid_request_error", "limit: must be between 1 and 1000")
        ordered = list(reversed(self._batches.values()))
        after = args.get("after_id")
        if after is not None:
            ids = [b.id for b in ordered]
            ordered = ordered[ids.index(after) + 1:] if after in ids else []
        chosen = ordered[:limit]
        return {"data": [b.view(now, base_url) for b in chosen], "has_more": len(ordered) > limit,
                "first_id": chosen[0].id if chosen else None, "last_id": chosen[-1].id if chosen else None}


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")
