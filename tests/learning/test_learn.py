"""learn / verify / the router file: the prior holds with no labels, labels move the ranking, files round-trip."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from tiered.errors import ConfigError
from tiered.evaluation.metrics import apgr
from tiered.learning.examples import Example
from tiered.learning.learn import LearnConfig, learn, prepare
from tiered.learning.router import AdaptedRouter, load_router_file, read_metadata
from tiered.learning.verify import verify
from tiered.scoring.learned import LearnedScorer, load_router
from tiered.types import Request

WEAK, STRONG = "small", "big"
TOPICS = {
    "poetry": ["poem", "verse", "rhyme", "sonnet", "stanza", "metaphor", "lyrical", "haiku"],
    "algebra": ["solve", "equation", "variable", "integral", "matrix", "polynomial", "derivative", "root"],
}


@pytest.fixture(scope="module")
def prior() -> LearnedScorer:
    return LearnedScorer.default()


def traffic(n: int, seed: int = 0) -> list[Example]:
    """Two topics; the strong model gains on algebra (70% of the time) and never on poetry."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic = "algebra" if i % 2 else "poetry"
        words = " ".join(rng.choice(TOPICS[topic]) for _ in range(rng.randint(5, 30)))
        prompt = f"Question {i}: please help with this {words}?"
        gain = topic == "algebra" and rng.random() < 0.7
        out.append(Example(prompt=prompt, task=topic, outcomes={WEAK: 0.0 if gain else 1.0, STRONG: 1.0},
                           trace_id=str(i), created_at=1000.0 + i))
    return out


def ranking_apgr(router: object, examples: list[Example]) -> float:
    scores = [router.score(Request.user(e.prompt, task=e.task)) for e in examples]  # type: ignore[attr-defined]
    return apgr(scores, [e.outcomes[WEAK] for e in examples], [e.outcomes[STRONG] for e in examples])


def test_with_no_labels_the_router_ranks_as_the_prior(prior: LearnedScorer) -> None:
    data = traffic(120)
    router = learn(prior, [], [e.prompt for e in data], WEAK, STRONG)
    assert router.metadata["labels"] == 0
    ours = [router.score(Request.user(e.prompt, task=e.task)) for e in data]
    theirs = [prior.score_text(e.prompt) for e in data]
    assert np.array_equal(np.argsort(ours, kind="stable"), np.argsort(theirs, kind="stable"))


@pytest.mark.parametrize("use_tasks", [True, False])
def test_labels_teach_which_traffic_gains(prior: LearnedScorer, use_tasks: bool) -> None:
    data = traffic(400)
    labelled, held_out = data[:200], data[200:]
    router = learn(prior, labelled, [e.prompt for e in data], WEAK, STRONG,
                   config=LearnConfig(use_tasks=use_tasks, clusters=None if not use_tasks else 0))
    before = ranking_apgr(prior, held_out)
    after = ranking_apgr(router, held_out)
    # the best a per-topic ranking can do here is 0.75 (algebra first, random within it)
    assert after > before + 0.05
    assert after > 0.73
    groups = {g.by: g for g in router.groups}
    if use_tasks:
        assert groups["task"].offset["algebra"] > groups["task"].offset["poetry"]
    else:
        assert "cluster" in groups and router.clusters is not None
    assert router.metadata["window"] == [1000.0, 1199.0]
    assert router.metadata["weak"] == WEAK and router.metadata["strong"] == STRONG


def test_verify_reports_apgr_with_an_interval(prior: LearnedScorer) -> None:
    data = traffic(400)
    router = learn(prior, data[:200], [e.prompt for e in data], WEAK, STRONG)
    v = verify(router, data[200:])
    assert v.n == 200 and v.apgr is not None and v.apgr_ci is not None
    assert v.apgr_ci[0] <= v.apgr <= v.apgr_ci[1]
    assert v.apgr == pytest.approx(ranking_apgr(router, data[200:]))
    assert v.cost_ratio_at_target is not None and 0.2 < v.cost_ratio_at_target <= 1.0
    # rows without the strong outcome cannot be measured; none at all is an answer, not an error
    weak_only = [Example(e.prompt, e.task, {WEAK: e.outcomes[WEAK]}) for e in data[:10]]
    assert verify(router, weak_only).n == 0
    with pytest.raises(ValueError, match="weak and the strong"):
        verify(prior, data)


def test_the_router_file_round_trips_with_its_metadata(prior: LearnedScorer, tmp_path: Path) -> None:
    data = traffic(300)
    router = learn(prior, data[:150], [e.prompt for e in data], WEAK, STRONG, route="chat")
    router = router.with_metadata(heldout=verify(router, data[150:]).to_json())
    path = tmp_path / "learned.json.gz"
    router.save(path)
    loaded = load_router(path)
    assert isinstance(loaded, AdaptedRouter) and loaded == router
    assert isinstance(load_router_file(path), AdaptedRouter)
    for e in data[:20]:
        req = Request.user(e.prompt, task=e.task)
        assert loaded.score(req) == router.score(req)
    meta = read_metadata(path)
    assert meta["route"] == "chat" and meta["labels"] == 150 and meta["heldout"]["n"] == 150
    assert meta["prior"].startswith("routerbench3+mmlu_pro+llmrouter@")
    assert set(meta) == {"prior", "route", "window", "labels", "heldout", "created_at", "weak", "strong"}
    with pytest.raises(ValueError, match="unknown router metadata"):
        router.with_metadata(colour="blue")


def test_a_broken_router_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": "tiered-adapted-router", "version": 1, "prior": {}}')
    with pytest.raises(ConfigError):
        load_router(path)


def test_learning_from_a_learned_router_starts_from_its_prior(prior: LearnedScorer) -> None:
    data = traffic(200)
    first = learn(prior, data[:100], [e.prompt for e in data], WEAK, STRONG)
    again = learn(first, data[:100], [e.prompt for e in data], WEAK, STRONG)
    assert again.prior == prior
    assert again.coef == first.coef


def test_the_learning_curve_scores_prompts_as_the_router_file_does(prior: LearnedScorer) -> None:
    """`tiered eval --adapt` scores through `Traffic.parts` + `score_parts`; a saved router through `score`: the
    two must agree, clusters and tasks included, or the curve would measure another router than the one shipped."""
    data = traffic(300, seed=3)
    config = LearnConfig(evidence=0.0, group_sds=(0.05,))  # every part on: length, tasks, clusters
    prepared = prepare(prior, data, config)
    router = learn(prior, data[:200], weak=WEAK, strong=STRONG, config=config, traffic=prepared)
    assert {g.by for g in router.groups} == {"task", "cluster"} and router.clusters is not None
    for e in data:
        direct = router.score(Request.user(e.prompt, task=e.task))
        assert router.score_parts(*prepared.parts(e)) == pytest.approx(direct, abs=1e-12)
