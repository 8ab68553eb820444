"""`tiered serve --workers N > 1` needs shared state: without `[state] redis` it refuses to start with a
one-line reason (each worker would allow the whole rate and budget), unless `--local-limits` says so."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

SERVE = [str(Path(sys.executable).with_name("tiered")), "serve", "--backend", "replay", "--host", "127.0.0.1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "TIERED_GATEWAY_KEYS")}


def test_workers_without_shared_state_refuse_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run([*SERVE, "--port", str(_free_port()), "--workers", "2"], capture_output=True, text=True,
                          timeout=60, env=_env(), cwd=tmp_path)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "--workers 2" in lines[0] and "[state] redis" in lines[0] and "--local-limits" in lines[0]
    assert "Traceback" not in done.stderr


def test_local_limits_starts_the_workers_on_purpose(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([*SERVE, "--port", str(port), "--workers", "2", "--local-limits"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(), cwd=tmp_path,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
                break
            except httpx2.HTTPError:
                time.sleep(0.2)
        assert status == 200, proc.stderr.read().decode() if proc.poll() is not None and proc.stderr else status
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
