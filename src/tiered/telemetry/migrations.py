"""Append-only, named schema migrations shared by the SQLite and PostgreSQL sinks (llm style).

    MIGRATIONS = []          # in definition order
    @migration
    def m001_requests(db): db.execute("CREATE TABLE ...")

Each migration runs once per database; its name goes into `_migrations` when it has run. Never
edit or reorder a migration that has shipped: add `m00N_...` after it. The DDL is written once for
both databases (SQLite reads `BIGINT` as INTEGER and `DOUBLE PRECISION` as REAL); where they truly
differ (an auto-increment key), the migration asks `db.dialect`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Literal, Protocol

Dialect = Literal["sqlite", "postgres"]


class MigrationTarget(Protocol):
    """What a migration may use: the dialect, and a way to run one DDL statement."""

    @property
    def dialect(self) -> Dialect: ...

    def execute(self, sql: str) -> None: ...


Migration = Callable[[MigrationTarget], None]
MIGRATIONS: list[Migration] = []

CREATE_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
)


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration. Its `__name__` (m00N_...) is its identity."""
    if not fn.__name__.startswith("m") or any(m.__name__ == fn.__name__ for m in MIGRATIONS):
        raise ValueError(f"migration {fn.__name__!r}: names are unique and start with m00N_")
    MIGRATIONS.append(fn)
    return fn


def pending(applied: Collection[str]) -> list[Migration]:
    """The migrations not yet applied, in order."""
    return [m for m in MIGRATIONS if m.__name__ not in applied]


def _serial_pk(db: MigrationTarget) -> str:
    return "INTEGER PRIMARY KEY AUTOINCREMENT" if db.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"


@migration
def m001_requests(db: MigrationTarget) -> None:
    db.execute(
        """CREATE TABLE requests (
            trace_id TEXT PRIMARY KEY,
            created_at DOUBLE PRECISION NOT NULL,
            route TEXT NOT NULL,
            policy TEXT NOT NULL,
            task TEXT,
            requested_model TEXT,
            model TEXT,
            tier TEXT,
            outcome TEXT NOT NULL,
            decision_policy TEXT NOT NULL,
            decision_tier TEXT,
            decision_reason TEXT NOT NULL,
            decision_scores TEXT NOT NULL,
            cost_usd TEXT NOT NULL,
            cost_nano_usd BIGINT NOT NULL,
            latency_ms DOUBLE PRECISION NOT NULL,
            degraded INTEGER NOT NULL,
            escalated INTEGER NOT NULL,
            fell_back INTEGER NOT NULL,
            quality DOUBLE PRECISION
        )"""
    )
    db.execute("CREATE INDEX requests_route_created ON requests (route, created_at)")


@migration
def m002_attempts(db: MigrationTarget) -> None:
    db.execute(
        """CREATE TABLE attempts (
            trace_id TEXT NOT NULL REFERENCES requests (trace_id),
            idx INTEGER NOT NULL,
            model TEXT NOT NULL,
            tier TEXT,
            purpose TEXT NOT NULL,
            outcome TEXT NOT NULL,
            input_tokens BIGINT NOT NULL,
            output_tokens BIGINT NOT NULL,
            cache_read_input_tokens BIGINT NOT NULL,
            cache_creation_input_tokens BIGINT NOT NULL,
            cost_usd TEXT NOT NULL,
            cost_nano_usd BIGINT NOT NULL,
            latency_ms DOUBLE PRECISION NOT NULL,
            ttft_ms DOUBLE PRECISION,
            status INTEGER,
            reason TEXT NOT NULL,
            PRIMARY KEY (trace_id, idx)
        )"""
    )


@migration
def m003_quality(db: MigrationTarget) -> None:
    """Quality labels arrive later (a human, a judge); appended, never updated: the latest wins."""
    db.execute(
        f"""CREATE TABLE quality (
            id {_serial_pk(db)},
            trace_id TEXT NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            source TEXT,
            created_at DOUBLE PRECISION NOT NULL
        )"""
    )
    db.execute("CREATE INDEX quality_trace ON quality (trace_id, id)")


@migration
def m004_attempt_kind(db: MigrationTarget) -> None:
    """Why an attempt was made, typed (first | retry | escalation | fallback), beside the readable reason."""
    db.execute("ALTER TABLE attempts ADD COLUMN kind TEXT NOT NULL DEFAULT 'first'")


@migration
def m010_learning(db: MigrationTarget) -> None:
    """Learning from the traffic (issue 11): the prompts of logged requests, written only when learning is on
    (prompts stay in the operator's own log), and labels from feedback, a shadow judge, cascades or a human.

    Label semantics (`source`): feedback / manual = quality in [0, 1] of the answer `tier`/`model` gave;
    judge = 1.0 if `tier`'s answer is as good as `compared_tier`'s, else 0.0 (`agreement` = 1/0 when judged
    twice with the answers swapped, NULL if judged once); cascade = 1.0 the cheap `tier`'s answer passed,
    0.0 it was escalated.
    """
    db.execute(
        """CREATE TABLE request_prompts (
            trace_id TEXT PRIMARY KEY,
            prompt TEXT NOT NULL,
            task TEXT,
            created_at DOUBLE PRECISION NOT NULL
        )"""
    )
    db.execute(
        f"""CREATE TABLE labels (
            id {_serial_pk(db)},
            trace_id TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            source TEXT NOT NULL,
            tier TEXT,
            model TEXT,
            score DOUBLE PRECISION NOT NULL,
            compared_tier TEXT,
            compared_model TEXT,
            key_name TEXT,
            judge_model TEXT,
            judge_cost_usd TEXT,
            agreement DOUBLE PRECISION
        )"""
    )
    db.execute("CREATE INDEX labels_trace ON labels (trace_id, id)")


@migration
def m011_request_keys(db: MigrationTarget) -> None:
    """Which gateway key made each request, as a non-secret caller id (`tiered.gateway.auth.caller_id`, a short
    digest, or "anonymous" on an open gateway): only that key may send feedback on the request."""
    db.execute("CREATE TABLE request_keys (trace_id TEXT PRIMARY KEY, key_name TEXT NOT NULL)")


@migration
def m020_request_key(db: MigrationTarget) -> None:
    """Who called: the gateway key's name (never its secret) and team on every request, for spend per key
    and team; indexed with the time for the dashboard's per-key views and the recent-requests list. And the
    served attempt's time to first token, so the dashboard reads it without joining the attempts."""
    db.execute("ALTER TABLE requests ADD COLUMN key_name TEXT")
    db.execute("ALTER TABLE requests ADD COLUMN team TEXT")
    db.execute("ALTER TABLE requests ADD COLUMN ttft_ms DOUBLE PRECISION")  # the served attempt's, when streamed
    # Covers what the dashboard reads of one key's requests, so a per-key view is an index-only range scan.
    db.execute("CREATE INDEX requests_key_created ON requests (key_name, created_at, route, tier, outcome, "
               "escalated, fell_back, cost_nano_usd, latency_ms, ttft_ms)")
    db.execute("CREATE INDEX requests_created ON requests (created_at)")


@migration
def m021_gateway_keys(db: MigrationTarget) -> None:
    """Gateway keys as data (`tiered keys create | list | revoke`): the SHA-256 of each secret, never the
    secret; limits as text (decimal USD) and lists as JSON."""
    db.execute(
        """CREATE TABLE gateway_keys (
            name TEXT PRIMARY KEY,
            secret_sha256 TEXT NOT NULL UNIQUE,
            team TEXT,
            usd_per_day TEXT,
            usd_per_month TEXT,
            requests_per_minute INTEGER,
            routes TEXT,
            models TEXT,
            expires_at DOUBLE PRECISION,
            admin INTEGER NOT NULL DEFAULT 0,
            created_at DOUBLE PRECISION NOT NULL,
            revoked_at DOUBLE PRECISION
        )"""
    )


@migration
def m022_request_rollup(db: MigrationTarget) -> None:
    """Hourly roll-ups of the requests for the dashboard (`tiered.telemetry.rollup`), filled on first read."""
    from tiered.telemetry.rollup import create_table_sql

    for statement in create_table_sql():
        db.execute(statement)
