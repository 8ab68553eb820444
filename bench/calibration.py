"""Calibration of the cascade's confidence calibrator on answers it was not fitted on: ECE (10 bins), Brier.

    python bench/calibration.py [--png DIR]

The recipe of the shipped calibrator (scripts/build_calibrator.py: logistic regression over answer signals
and the prompt's difficulty, with text- and difficulty-masked copies) is fitted and judged three ways:

1. held-out models: fit on Llama-3.1-8B, Mixtral-8x7B and gemini-1.5-flash answers of mmlu_pro, judge on
   Llama-3.1-70B and gemini-1.5-pro;
2. held-out subjects: fit on 9 of mmlu_pro's 14 subjects, judge on the other 5 (all five models);
3. another dataset: fit on all of mmlu_pro, judge on routerbench3's test answers of mistral-7b, gpt-3.5 and gpt-4.

The difficulty column comes from routers that never saw the judged dataset (trained leave-one-source-out
with the shipped recipe), so no figure leaks through the difficulty score. Prints ECE per setting and one
JSON line; `--png` writes reliability diagrams.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from tiered.datasets import load_dataset
from tiered.evaluation.calibration import (
    Row,
    brier,
    ece,
    predict,
    reliability,
    router_digest,
    rows,
    split_rows,
    with_masked_copies,
)
from tiered.scoring.calibrator import LogisticCalibrator, fit, load_calibrator
from tiered.training.fit import RECIPE, train

HELD_OUT_MODELS = ("Meta-Llama-3_1-70B-Instruct", "gemini-1.5-pro-002")
RB_MODELS = ("mistralai/mistral-7b-chat", "gpt-3.5-turbo-1106", "gpt-4-1106-preview")


def _fit(data: list[Row]) -> LogisticCalibrator:
    train_rows = with_masked_copies(data)
    return fit([r.x for r in train_rows], [r.label for r in train_rows])


def _judge(cal: LogisticCalibrator, data: list[Row]) -> dict[str, float]:
    p = predict(cal, data)
    y = np.array([r.label for r in data])
    return {"n": len(data), "ece": round(ece(p, y), 4), "brier": round(brier(p, y), 4),
            "base_rate": round(float(y.mean()), 4), "mean_confidence": round(float(p.mean()), 4),
            "auroc": round(_auroc(p, y), 4)}


def _shifted_ece(cal: LogisticCalibrator, data: list[Row]) -> float:
    """ECE after moving the intercept to each judged model's accuracy (one number per model, see `shifted_to`)."""
    probs: list[float] = []
    labels: list[float] = []
    for model in sorted({r.model for r in data}):
        part = [r for r in data if r.model == model]
        rate = float(np.mean([r.label for r in part]))
        shifted = cal.shifted_to(min(max(rate, 0.01), 0.99), [r.x for r in part])
        probs += [shifted.from_vector(r.x) for r in part]
        labels += [r.label for r in part]
    return ece(probs, labels)


def _auroc(p: np.ndarray, y: np.ndarray) -> float:
    """P(a good answer scores above a bad one), ties counted half: how well the calibrator ranks answers."""
    order = np.argsort(p, kind="stable")
    ranks = np.empty(p.size)
    sorted_p = p[order]
    starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    ends = np.r_[starts[1:], p.size]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2.0
    pos = y > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _plot(name: str, cal: LogisticCalibrator, data: list[Row], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = predict(cal, data)
    y = np.array([r.label for r in data])
    bins = [b for b in reliability(p, y) if b.count]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.plot([b.mean_confidence for b in bins], [b.accuracy for b in bins], marker="o")
    for b in bins:
        ax.annotate(str(b.count), (b.mean_confidence, b.accuracy), fontsize=7, xytext=(3, -9),
                    textcoords="offset points")
    ax.set_xlabel("predicted P(answer good)")
    ax.set_ylabel("observed share good")
    ax.set_title(f"{name}: ECE {ece(p, y):.3f}", fontsize=10)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / f"reliability_{name.replace(' ', '_')}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--png", default=None, help="Write reliability diagrams into this folder.")
    args = ap.parse_args()
    started = time.perf_counter()
    mmlu, rb, llmr = load_dataset("mmlu_pro"), load_dataset("routerbench3"), load_dataset("llmrouter")
    router_for_mmlu = train([rb, llmr], RECIPE)
    router_for_rb = train([mmlu, llmr], RECIPE)
    mmlu_rows = rows(mmlu, scorer=router_for_mmlu)
    rb_rows = rows(rb.split("test"), models=RB_MODELS, scorer=router_for_rb)
    tasks = sorted({r.task for r in mmlu_rows})
    held_tasks = set(tasks[1::3])

    settings: dict[str, tuple[list[Row], list[Row]]] = {
        "held-out models": split_rows(mmlu_rows, lambda r: r.model in HELD_OUT_MODELS),
        "held-out subjects": split_rows(mmlu_rows, lambda r: r.task in held_tasks),
        "routerbench3 (other dataset)": (mmlu_rows, rb_rows),
    }
    results: dict[str, dict[str, float]] = {}
    out = Path(args.png) if args.png else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for name, (fit_on, judge_on) in settings.items():
        cal = _fit(fit_on)
        results[name] = _judge(cal, judge_on)
        results[name]["ece_base_rate_shifted"] = round(_shifted_ece(cal, judge_on), 4)
        r = results[name]
        print(f"{name:<30} n={r['n']:>6}  ECE {r['ece']:.3f}  Brier {r['brier']:.3f}  AUROC {r['auroc']:.3f}  "
              f"base rate {r['base_rate']:.3f}  mean confidence {r['mean_confidence']:.3f}  "
              f"ECE with each model's accuracy known {r['ece_base_rate_shifted']:.3f}")
        if out:
            print(f"  reliability diagram: {_plot(name, cal, judge_on, out)}")
    shipped = load_calibrator(None).meta.get("difficulty", "")
    current = f"sha256:{router_digest()}"
    stale = current not in str(shipped)
    if stale:
        print(f"WARNING: the shipped calibrator's difficulty came from {shipped!r}, not the current router "
              f"({current}): run scripts/build_calibrator.py")
    print(json.dumps({"bench": "calibration", "shipped_calibrator_matches_router": not stale, "bins": 10,
                      "results": results, "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
