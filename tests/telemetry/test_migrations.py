"""Migrations are named, applied once each, in order, and a later one is added without touching the rest."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tiered.telemetry import SqliteSink, migrations
from tiered.telemetry.migrations import MigrationTarget


def test_every_migration_applies_once(tmp_path: Path) -> None:
    names = [m.__name__ for m in migrations.MIGRATIONS]
    # Named mNNN_what; each engineer appends in a reserved range, so the numbers need not ascend.
    assert len(set(names)) == len(names) and all(re.fullmatch(r"m\d{3}_[a-z0-9_]+", n) for n in names)
    with SqliteSink(tmp_path / "r.db") as sink:
        assert sink.applied_migrations() == names
    with SqliteSink(tmp_path / "r.db") as sink:
        assert sink.migrate() == []  # reopening applies nothing
        assert sink.applied_migrations() == names
    db = sqlite3.connect(tmp_path / "r.db")
    assert db.execute("SELECT COUNT(*) FROM _migrations").fetchone() == (len(names),)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"requests", "attempts", "quality", "_migrations"} <= tables


def test_a_new_migration_is_appended_and_only_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SqliteSink(tmp_path / "r.db"):
        pass
    ran: list[str] = []

    def m999_add_note(db: MigrationTarget) -> None:
        ran.append(db.dialect)
        db.execute("ALTER TABLE requests ADD COLUMN note TEXT")

    monkeypatch.setattr(migrations, "MIGRATIONS", list(migrations.MIGRATIONS))
    migrations.migration(m999_add_note)
    with SqliteSink(tmp_path / "r.db") as sink:
        assert sink.applied_migrations()[-1] == "m999_add_note"
    with SqliteSink(tmp_path / "r.db") as sink:
        assert sink.migrate() == []
    assert ran == ["sqlite"]
    columns = [r[1] for r in sqlite3.connect(tmp_path / "r.db").execute("PRAGMA table_info(requests)")]
    assert columns[-1] == "note"


def test_a_failing_migration_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def m998_broken(db: MigrationTarget) -> None:
        db.execute("CREATE TABLE half_done (x INTEGER)")
        db.execute("THIS IS NOT SQL")

    monkeypatch.setattr(migrations, "MIGRATIONS", list(migrations.MIGRATIONS))
    migrations.migration(m998_broken)
    with pytest.raises(sqlite3.OperationalError):
        SqliteSink(tmp_path / "r.db")
    db = sqlite3.connect(tmp_path / "r.db")
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    assert "m998_broken" not in {r[0] for r in db.execute("SELECT name FROM _migrations")}


def test_names_are_unique_and_prefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", list(migrations.MIGRATIONS))

    def m001_requests(db: MigrationTarget) -> None: ...

    def create_things(db: MigrationTarget) -> None: ...

    for fn in (m001_requests, create_things):
        with pytest.raises(ValueError, match="unique"):
            migrations.migration(fn)
