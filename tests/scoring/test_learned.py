from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiered.cli import main
from tiered.errors import ConfigError
from tiered.scoring.base import Scorer
from tiered.scoring.features import DENSE_NAMES, extract, final_part
from tiered.scoring.learned import LearnedScorer, load_router
from tiered.types import Request

HARD_WORDS = ["integral", "eigenvalue", "lagrangian", "manifold", "residue", "tensor"]
EASY_WORDS = ["apple", "dog", "red", "sun", "tree", "ball"]
FILLER = ["what", "is", "the", "a", "of", "about", "this", "tell", "me", "please"]


def _write_synthetic(path: Path, n: int = 240, seed: int = 0) -> None:
    """Prompts that mention a HARD word are failed by the weak models; EASY ones are passed by all."""
    rng = random.Random(seed)
    abilities = {"tiny": 0.1, "small": 0.3, "mid": 0.6, "large": 0.9}
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for i in range(n):
            hard = i % 2 == 0
            topic = rng.choice(HARD_WORDS if hard else EASY_WORDS)
            words = [rng.choice(FILLER) for _ in range(rng.randint(3, 12))]
            words.insert(rng.randrange(len(words) + 1), topic)
            prompt = " ".join(words) + "?"
            outcomes = {}
            for model, ability in abilities.items():
                passed = rng.random() < (ability if hard else 0.97)
                outcomes[model] = {"quality": 1.0 if passed else 0.0}
            row = {"id": f"s.{i}", "source": "synthetic", "task": "qa", "split": "train", "prompt": prompt,
                   "outcomes": outcomes}
            fh.write(json.dumps(row) + "\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("train")
    data = folder / "synthetic.jsonl.gz"
    _write_synthetic(data)
    out = folder / "router.json"
    result = CliRunner().invoke(main, ["train", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "trained on 240 prompts" in result.output
    return out


def test_shipped_default_loads_and_scores() -> None:
    scorer = load_router(None)
    assert isinstance(scorer, LearnedScorer)
    assert isinstance(scorer, Scorer)
    assert scorer.meta["sources"] == {"routerbench3": 3164, "mmlu_pro": 5222, "llmrouter": 4756}
    assert sum(len(v) for v in scorer.views.values()) > 1000
    text = "Evaluate the integral of x^2 ln x from 0 to 1.\nA. 1/9\nB. -1/9\nC. 0\nD. 1/3"
    value = scorer.score_text(text)
    assert value == scorer.score_text(text)  # deterministic
    assert value == scorer.score(Request.user(text))
    assert all(isinstance(scorer.score_text(t), float) for t in ("", " ", "é" * 3000, "\n\n\n"))


def test_trained_file_round_trips_and_scores_deterministically(trained: Path, tmp_path: Path) -> None:
    scorer = LearnedScorer.load(trained)
    assert scorer.meta["train_prompts"] == 240
    copy = tmp_path / "copy.json.gz"
    scorer.save(copy)
    again = LearnedScorer.load(copy)
    assert again == scorer
    again.save(tmp_path / "again.json.gz")
    assert (tmp_path / "again.json.gz").read_bytes() == copy.read_bytes()  # deterministic bytes
    prompts = ["what is the integral of this please?", "tell me about the apple", "hi"]
    assert [again.score_text(p) for p in prompts] == [scorer.score_text(p) for p in prompts]
    assert load_router(trained) == scorer


def test_trained_scorer_learns_what_the_weak_models_fail(trained: Path) -> None:
    scorer = LearnedScorer.load(trained)
    hard = [scorer.score_text(f"what is the {w} of this?") for w in HARD_WORDS]
    easy = [scorer.score_text(f"what is the {w} of this?") for w in EASY_WORDS]
    assert min(hard) > max(easy)


def test_bigram_and_non_ascii_tokens_survive_the_file(tmp_path: Path) -> None:
    scorer = LearnedScorer(bias=0.5, dense=tuple(0.0 for _ in DENSE_NAMES),
                           views={"q": {"straße".encode(): 1.0}, "qb": {(b"x", b"y"): 2.0}})
    path = tmp_path / "m.json"
    scorer.save(path)
    loaded = LearnedScorer.load(path)
    assert loaded == scorer
    # tokens: {straße, x, y}; bigrams: {(straße, x), (x, y)} -> 0.5 + 1/sqrt(3) + 2/sqrt(2)
    assert loaded.score_text("Straße x y") == pytest.approx(0.5 + 1 / 3**0.5 + 2 / 2**0.5)


def test_bad_files_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    with pytest.raises(ConfigError, match="not a tiered learned-scorer"):
        LearnedScorer.load(bad)
    bad.write_text('{"format": "tiered-learned-scorer", "version": 1, "dense": {"nope": 1}}')
    with pytest.raises(ConfigError, match="unknown dense"):
        LearnedScorer.load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        LearnedScorer.load(tmp_path / "missing.json")


def test_final_part_is_the_question_after_the_exemplars() -> None:
    shots = "Q: 1+1?\nAnswer: 2\n\nQ: 2+2?\nAnswer: 4\n\n"
    assert final_part(shots + "Q: what is the derivative of x^3 at x = 2?\nAnswer:") == (
        "Q: what is the derivative of x^3 at x = 2?\nAnswer:")
    assert final_part("short") == "short"
    f = extract("Print 42\n\nA) yes\nB) no", views=("q",))
    assert f.final_bigrams == frozenset()
    assert b"42" in f.final_words
    assert len(f.dense) == len(DENSE_NAMES)


def test_train_rejects_missing_or_too_small_data(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["train", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "r.json")])
    assert missing.exit_code != 0
    assert "not found" in missing.output
    tiny = tmp_path / "tiny.jsonl.gz"
    _write_synthetic(tiny, n=4)
    small = runner.invoke(main, ["train", str(tiny), "--out", str(tmp_path / "r.json")])
    assert small.exit_code != 0
    assert "need >= 10 prompts" in small.output
    assert not (tmp_path / "r.json").exists()


def test_trees_add_to_the_score_and_bad_trees_are_rejected(tmp_path: Path) -> None:
    # one stump on log_chars: log1p(len) <= 2.0 (up to 6 chars) adds -1, longer adds +1
    stump = {"feature": ["log_chars", None, None], "threshold": [2.0, 0, 0], "left": [1, -1, -1],
             "right": [2, -1, -1], "value": [0, -1.0, 1.0]}
    raw = {"format": "tiered-learned-scorer", "version": 1, "bias": 0.0, "dense": {}, "views": {},
           "trees": [stump, stump]}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(raw))
    scorer = LearnedScorer.load(path)
    assert scorer.score_text("hi") == -2.0
    assert scorer.score_text("a longer prompt") == 2.0
    scorer.save(tmp_path / "t2.json")
    assert LearnedScorer.load(tmp_path / "t2.json") == scorer
    looping = {**stump, "left": [0, -1, -1]}  # a child that points back at its parent would never end
    path.write_text(json.dumps({**raw, "trees": [looping]}))
    with pytest.raises(ConfigError, match="children outside"):
        LearnedScorer.load(path)
    path.write_text(json.dumps({**raw, "trees": [{**stump, "feature": ["nope", None, None]}]}))
    with pytest.raises(ConfigError, match="malformed"):
        LearnedScorer.load(path)


def test_trained_file_has_trees(trained: Path) -> None:
    scorer = LearnedScorer.load(trained)
    assert len(scorer.trees) == scorer.meta["config"]["trees"] > 0


def test_repr_is_short_because_it_goes_into_every_record() -> None:
    from tiered.policies import ComplexityRouter
    from tiered.scoring.base import Thresholds

    router = ComplexityRouter(load_router(None), Thresholds.of(["haiku", "sonnet", "opus"], [0.3, 0.6]))
    text = repr(router)
    assert "LearnedScorer(" in text
    assert len(text) < 400
