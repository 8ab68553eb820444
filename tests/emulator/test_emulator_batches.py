"""The emulator's Message Batches API, through the official SDK's client.messages.batches over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import pytest

from tiered.emulator.config import Behaviour, EmulatorConfig

HI = [{"role": "user", "content": "Say hello."}]


def reqs(n: int, model: str = "haiku") -> list[dict[str, object]]:
    return [{"custom_id": f"r{i}", "params": {"model": model, "max_tokens": 32, "messages": HI}} for i in range(n)]


def test_create_get_list_results_delete(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=start_emulator(EmulatorConfig()), max_retries=0)
    batch = client.messages.batches.create(requests=[*reqs(2), *[
        {"custom_id": "s0", "params": {"model": "claude-sonnet-4-6", "max_tokens": 16, "messages": HI}}]])
    assert batch.id.startswith("msgbatch_") and batch.type == "message_batch"
    assert batch.processing_status == "ended" and batch.request_counts.succeeded == 3  # batch_seconds 0
    assert client.messages.batches.retrieve(batch.id).results_url
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert set(results) == {"r0", "r1", "s0"}
    first = results["r0"]
    assert first.type == "succeeded" and first.message.model == "haiku" and first.message.content
    assert first.message.usage.service_tier == "batch"
    assert results["s0"].type == "succeeded" and results["s0"].message.model == "claude-sonnet-4-6"
    listed = client.messages.batches.list(limit=10)
    assert [b.id for b in listed.data] == [batch.id]
    deleted = client.messages.batches.delete(batch.id)
    assert deleted.id == batch.id and deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)


def test_in_progress_then_canceled(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=start_emulator(EmulatorConfig(batch_seconds=3600)),
                                 max_retries=0)
    batch = client.messages.batches.create(requests=reqs(3))
    assert batch.processing_status == "in_progress" and batch.request_counts.processing == 3
    assert batch.results_url is None
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.delete(batch.id)  # not ended yet
    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.request_counts.canceled == 3
    assert {r.result.type for r in client.messages.batches.results(batch.id)} == {"canceled"}


def test_failed_requests_are_errored_never_succeeded(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    config = EmulatorConfig(per_model={"claude-opus-4-7": Behaviour(error_rates={"529": 1.0})})
    client = anthropic.Anthropic(api_key="k", base_url=start_emulator(config), max_retries=0)
    opus = {"custom_id": "o1", "params": {"model": "opus", "max_tokens": 8, "messages": HI}}
    batch = client.messages.batches.create(requests=[*reqs(1), opus])  # type: ignore[list-item]
    assert batch.request_counts.succeeded == 1 and batch.request_counts.errored == 1
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert results["o1"].type == "errored" and results["o1"].error.error.type == "overloaded_error"


def test_bad_batches_get_the_api_error_shape(start_emulator: Callable[[EmulatorConfig], str]) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=start_emulator(EmulatorConfig()), max_retries=0)
    for requests, where in [
        ([], "requests"),
        ([{"custom_id": "a", "params": {"model": "haiku", "messages": HI}}], "requests.0.params.max_tokens"),
        ([*reqs(1), *reqs(1)], "requests.1.custom_id"),
        ([{"custom_id": "a b", "params": {"model": "haiku", "max_tokens": 5, "messages": HI}}], "custom_id"),
        ([{"custom_id": "a", "params": {"model": "haiku", "max_tokens": 5, "messages": HI, "stream": True}}],
         "stream"),
    ]:
        with pytest.raises(anthropic.BadRequestError) as info:
            client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        assert info.value.type == "invalid_request_error" and where in str(info.value.message)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_missing")
