"""`Accumulator.partial_usage`: what a stream cut short consumed, never more than it did."""

from __future__ import annotations

from tiered.models.events import Accumulator, response_events
from tiered.models.fake import text_response
from tiered.types import Usage


def test_partial_usage_before_during_and_after_the_stream() -> None:
    events = list(response_events(text_response("abcdefghij" * 4, model="m", input_tokens=50, output_tokens=12),
                                  chunk_chars=10))
    acc = Accumulator(model="m")
    assert acc.partial_usage is None  # nothing known to be billed before message_start
    acc.add(events[0])
    assert acc.partial_usage == Usage(input_tokens=50, output_tokens=0)
    for e in events[1:4]:  # block start and two deltas
        acc.add(e)
    assert acc.partial_usage == Usage(input_tokens=50, output_tokens=2)  # a lower bound: one token per delta
    for e in events[4:]:
        acc.add(e)
    assert acc.partial_usage == Usage(input_tokens=50, output_tokens=12) == acc.response().usage
