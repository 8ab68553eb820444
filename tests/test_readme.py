"""The README's Python snippets run as printed, on a fresh machine with no API key (issue 8, item 3)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)


def test_the_readme_has_python_snippets() -> None:
    assert SNIPPETS, "the README should show the library in at least one Python snippet"


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs_as_printed_without_a_key(snippet: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k not in ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "TIERED_CATALOG")}
    env["HOME"] = str(tmp_path)
    script = tmp_path / "snippet.py"
    script.write_text(snippet, "utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip(), "the snippet prints its answer"
