"""Fit the shipped confidence calibrator (src/tiered/data/calibrator.json) on mmlu_pro's recorded answers.

    python scripts/build_calibrator.py [--data ../shared/data] [--no-difficulty]

Rows: every chain-of-thought answer of the five models whose responses mmlu_pro keeps, labelled by
whether it was right. The difficulty column is the shipped router's score of the prompt (when the
package has one). bench/calibration.py reports the held-out calibration of the same recipe.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tiered.datasets import load_dataset
from tiered.evaluation.calibration import router_digest, rows, with_masked_copies
from tiered.scoring.calibrator import fit
from tiered.scoring.learned import load_router

OUT = Path(__file__).resolve().parents[1] / "src" / "tiered" / "data" / "calibrator.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="mmlu_pro")
    ap.add_argument("--no-difficulty", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    scorer = None
    source = "none"
    if not args.no_difficulty:
        try:
            scorer = load_router(None)
            source = f"load_router(None) sha256:{router_digest()}"
        except Exception as e:  # noqa: BLE001 - a build without the shipped router fits on the answers alone
            print(f"no shipped router ({e}); fitting without difficulty", file=sys.stderr)
    data = rows(load_dataset(args.dataset), scorer=scorer)
    train = with_masked_copies(data)
    cal = fit([r.x for r in train], [r.label for r in train],
              meta={"fitted_on": f"{args.dataset}: {len(data)} answers of {len({r.model for r in data})} models",
                    "difficulty": source})
    cal.save(args.out)
    print(f"wrote {args.out}: {len(data)} rows; " + ", ".join(f"{n}={w:+.3f}" for n, w in zip(cal.names, cal.weights,
                                                                                                strict=True)))


if __name__ == "__main__":
    main()
