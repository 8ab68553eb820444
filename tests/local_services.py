"""Redis and PostgreSQL for the tests: the machine's own servers, else private ones started here.

The machine's servers (127.0.0.1:6379, and 127.0.0.1:5432 with trust auth and a database `test`) are used
when they answer. When one does not and its server binary is installed (`redis-server`; PostgreSQL's
`initdb` and `pg_ctl`, on PATH or under /usr/lib/postgresql/*/bin), a private server is started on a free
port in a temporary folder for the session and stopped after it. Only when neither works is a test
skipped, and the skip says why. `TIERED_TEST_OWN_SERVICES=1` starts private servers even when the
machine's answer (which is how the start-up path itself is exercised).

PostgreSQL refuses to run as root, so as root the private cluster runs as the `postgres` user
(`runuser`), which must exist.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

MACHINE_REDIS = "redis://127.0.0.1:6379/0"
MACHINE_PG = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"


class Unavailable(Exception):
    """Neither the machine's server nor a private one: the reason, for a skip."""


def own_services_forced() -> bool:
    return os.environ.get("TIERED_TEST_OWN_SERVICES", "") not in ("", "0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # the checks answer False while the server is not up yet
        if time.monotonic() > deadline:
            raise Unavailable(f"{what} did not come up within {seconds:.0f} s")
        time.sleep(0.1)


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@contextmanager
def redis_server() -> Iterator[str]:
    """The URL of a Redis server for this session."""
    if not own_services_forced() and _redis_answers(MACHINE_REDIS):
        yield MACHINE_REDIS
        return
    with private_redis() as server:
        yield server.url


class PrivateRedis:
    """A redis-server of this test's own, which a test may stop (SIGSTOP), resume or kill; never the
    machine's shared one."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, args: list[str]) -> None:
        self.proc, self.url, self._args = proc, url, args

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.proc.kill()
        self.proc.wait(10)

    def restart(self) -> None:
        """Start it again on the same port (empty: it saved nothing)."""
        self.proc = subprocess.Popen(self._args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: _redis_answers(self.url), f"the private redis-server at {self.url}")


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A private redis-server on a free port, in a temporary folder, stopped after the block."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise Unavailable("redis-server is not installed")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="tiered-redis-") as folder:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", folder]
        url = f"redis://127.0.0.1:{port}/0"
        server = PrivateRedis(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), url, args)
        try:
            _wait(lambda: _redis_answers(url), f"a private redis-server on port {port}")
            yield server
        finally:
            if server.proc.poll() is None:
                server.proc.send_signal(signal.SIGCONT)
                server.proc.terminate()
                server.proc.wait(10)


def _pg_answers(dsn: str) -> bool:
    import psycopg

    try:
        psycopg.connect(dsn).close()
        return True
    except psycopg.OperationalError:
        return False


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """The DSN of a PostgreSQL server (trust auth, database `test`) for this session."""
    if not own_services_forced() and _pg_answers(MACHINE_PG):
        yield MACHINE_PG
        return
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise Unavailable("PostgreSQL at 127.0.0.1:5432 is unreachable and initdb/pg_ctl are not installed")
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise Unavailable("PostgreSQL is unreachable; a private one cannot run as root without runuser")
        as_user = [runuser, "-u", "postgres", "--"]
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="tiered-pg-"))
    data = folder / "data"
    try:
        if as_user:
            shutil.chown(folder, "postgres")
        subprocess.run([*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w",
                        "start"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            admin = f"host=127.0.0.1 port={port} dbname=postgres user=postgres connect_timeout=3"
            _wait(lambda: _pg_answers(admin), f"a private PostgreSQL on port {port}")
            import psycopg

            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute("CREATE DATABASE test")
            yield f"host=127.0.0.1 port={port} dbname=test user=postgres connect_timeout=3"
        finally:
            subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                           check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.CalledProcessError as e:
        detail = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise Unavailable(f"PostgreSQL is unreachable and a private one failed to start: {detail[0]}") from e
    finally:
        shutil.rmtree(folder, ignore_errors=True)
