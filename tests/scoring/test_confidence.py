from __future__ import annotations

from tiered.scoring.confidence import (
    REPORT_TOOL_NAME,
    ConfidenceEstimator,
    Features,
    can_ask_report,
    with_report_tool,
)
from tiered.types import Request, Response, Usage


def _resp(content: tuple[dict[str, object], ...], stop: str = "end_turn") -> Response:
    return Response(id="m", model="claude-haiku-4-5", content=content, stop_reason=stop, usage=Usage(1, 1))


def _report(answer: object, confidence: object) -> Response:
    block: dict[str, object] = {"type": "tool_use", "id": "t", "name": REPORT_TOOL_NAME,
             "input": {"answer": answer, "confidence": confidence}}
    return _resp((block,), "tool_use")


def test_self_report_is_taken_when_the_answer_looks_sure() -> None:
    r = ConfidenceEstimator().read(_report("Paris.", 0.9), asked_report=True)
    assert r.value == 0.9 and r.answer == "Paris." and r.features.report_valid


def test_hedges_and_truncation_lower_the_report() -> None:
    est = ConfidenceEstimator()
    r = est.read(_report("I think it is probably Paris.", 0.9), asked_report=True)
    assert r.features.hedges == ("i think", "probably")
    assert abs(r.value - 0.6) < 1e-9
    cut = est.read(_resp(({"type": "text", "text": "The answer is"},), "max_tokens"), asked_report=False)
    assert cut.features.truncated and abs(cut.value - 0.45) < 1e-9


def test_refusal_and_malformed_report() -> None:
    est = ConfidenceEstimator()
    assert est.read(_report("I can't help with that.", 0.99), asked_report=True).value == 0.0
    bad = est.read(_report("Paris", 7), asked_report=True)
    assert not bad.features.report_valid and bad.value == est.invalid_report
    missing = est.read(_resp(({"type": "text", "text": "Paris"},)), asked_report=True)
    assert not missing.features.report_valid and missing.answer == "Paris"


def test_a_calibrator_replaces_the_hand_set_combination() -> None:
    class Half:
        def probability(self, features: Features) -> float:
            return 0.5 if features.self_report and features.self_report > 0.8 else 0.1

    r = ConfidenceEstimator(calibrator=Half()).read(_report("Paris", 0.95), asked_report=True)
    assert r.value == 0.5 and len(r.features.vector()) == 7


def test_report_tool_is_added_and_forced_only_when_the_request_has_no_tools() -> None:
    req = Request.user("hi")
    forced = with_report_tool(req)
    assert forced.tools[-1]["name"] == REPORT_TOOL_NAME
    assert forced.tool_choice == {"type": "tool", "name": REPORT_TOOL_NAME} and forced.messages == req.messages
    assert can_ask_report(req) and not can_ask_report(forced)
