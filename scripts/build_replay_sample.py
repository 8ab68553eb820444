"""Build the replay sample that ships in the package (src/tiered/data/replay/routerbench3/).

It is routerbench3 (train and test splits) restricted to the three models of the default Claude mapping
(mistral-7b -> haiku, gpt-3.5-turbo-1106 -> sonnet, gpt-4-1106 -> opus), responses kept, so tiered
answers offline with no API key and no shared data, and `tiered demo` tunes its operating points on the
train split and shows them on the test split, as it does with the shared data. Reproducible: same input,
same bytes (gzip mtime fixed, keys and lines in source order).

    python scripts/build_replay_sample.py [--source ../shared/data/routerbench3] \\
        [--out src/tiered/data/replay/routerbench3]
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

MODELS = ("mistralai/mistral-7b-chat", "gpt-3.5-turbo-1106", "gpt-4-1106-preview")
SPLITS = ("train", "test")
MAX_BYTES = 800_000

README = """# routerbench3 replay sample

What `tiered` answers from when it has no API key: routerbench3's {split} splits ({count} prompts), restricted to
the three models of the default Claude mapping, with their recorded responses and 0/1 quality:

| Claude tier | dataset model |
|---|---|
| haiku | mistralai/mistral-7b-chat |
| sonnet | gpt-3.5-turbo-1106 |
| opus | gpt-4-1106-preview |

Built by `scripts/build_replay_sample.py` from `shared/data/routerbench3`; the format is described in FORMAT.md
of the shared data.

## Source and licence (copied from the source dataset's README)

{attribution}
RouterBench is released under the MIT licence (see LICENSE beside this file).
"""

LICENSE = """MIT License

Copyright (c) the RouterBench authors (withmartian/routerbench)

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def build(source: Path, out: Path) -> int:
    """Write the sample into `out`; returns the number of prompts kept."""
    out.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    with gzip.open(source / "outcomes.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            item = json.loads(line)
            outcomes = item.get("outcomes") or {}
            if item.get("split") not in SPLITS or not all(outcomes.get(m) for m in MODELS):
                continue
            item["outcomes"] = {m: outcomes[m] for m in MODELS}
            lines.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    with (out / "outcomes.jsonl.gz").open("wb") as raw, \
            gzip.GzipFile(filename="outcomes.jsonl", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    models = json.loads((source / "models.json").read_text("utf-8"))
    (out / "models.json").write_text(json.dumps({m: models[m] for m in MODELS}, indent=1) + "\n", "utf-8")
    attribution = (source / "README.md").read_text("utf-8").split("\n", 1)[1].strip()
    readme = README.format(split=" and ".join(SPLITS), count=len(lines), attribution=attribution)
    (out / "README.md").write_text(readme, "utf-8")
    (out / "LICENSE").write_text(LICENSE, "utf-8")
    size = (out / "outcomes.jsonl.gz").stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"sample is {size} bytes, over the {MAX_BYTES} budget")
    return len(lines)


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=root.parent / "shared" / "data" / "routerbench3")
    parser.add_argument("--out", type=Path, default=root / "src" / "tiered" / "data" / "replay" / "routerbench3")
    args = parser.parse_args()
    if not (args.source / "outcomes.jsonl.gz").exists():
        raise SystemExit(f"no dataset at {args.source}")
    count = build(args.source, args.out)
    print(f"{count} prompts -> {args.out} ({(args.out / 'outcomes.jsonl.gz').stat().st_size} bytes)")


if __name__ == "__main__":
    main()
