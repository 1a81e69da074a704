"""Opening a big SQLite records file stays cheap (issue 16, item 2-3): what an open and the
library's first query read, counted statement by statement. No timing here: the figures are in
``python -m benchmarks --only records``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from records_factory import play
from scenario_factory import SAMPLE_BEST

import simulator.records.sqlite as backend
from simulator.records import SCHEMA_VERSION, Progress, Store, StoreError
from simulator.records.schema import reference


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every SQL statement the store's connections run, in order."""
    seen: list[str] = []
    real = sqlite3.connect

    def connect(*args, **kwargs):
        conn = real(*args, **kwargs)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(backend.sqlite3, "connect", connect)
    return seen


def big_file(tmp_path: Path, monkeypatch) -> Path:
    """A records file the store treats as big (above the full-check threshold)."""
    db = tmp_path / "records.sqlite3"
    with Store.open(db) as store:
        play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
        play(store, "ana", SAMPLE_BEST[:2], started_at="2026-03-02T09:00:00.000Z", finish=False)
        play(store, "ben", SAMPLE_BEST[:1], started_at="2026-03-03T09:00:00.000Z", finish=False)
    monkeypatch.setattr(backend, "FULL_CHECK_MAX_BYTES", 0)
    return db


def test_opening_an_unchanged_file_reads_its_schema_once_and_scans_nothing(tmp_path, monkeypatch, statements):
    db = big_file(tmp_path, monkeypatch)
    reference(SCHEMA_VERSION)  # built once per process, in memory: not a read of the file
    statements.clear()
    Store.open(db).close()
    schema_reads = [s for s in statements if "sqlite_master" in s]
    assert len(schema_reads) == 1, statements
    assert not [s for s in statements if "integrity_check" in s or "quick_check" in s], statements
    writes = [s for s in statements if s.startswith(("BEGIN", "COMMIT"))]
    assert not writes, "an open that changes nothing opens no transaction"


def test_a_schema_changed_between_the_look_and_the_writer_is_still_checked(tmp_path, monkeypatch):
    """The writer's connection skips re-reading the schema only when SQLite's schema cookie is
    the one the read-only look checked: a trigger slipped in between is still refused."""
    db = big_file(tmp_path, monkeypatch)
    real = Store._inspect

    def inspect_then_tamper(path, level):
        checked = real(path, level)
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TRIGGER sneaky BEFORE INSERT ON decisions BEGIN SELECT RAISE(IGNORE); END")
        return checked

    monkeypatch.setattr(Store, "_inspect", staticmethod(inspect_then_tamper))
    with pytest.raises(StoreError, match="a trigger 'sneaky' on decisions that crisis-sim did not create"):
        Store.open(db)


def test_the_library_progress_query_reads_one_trainee_only(tmp_path, monkeypatch):
    """The progress the library shows (best score, status, the attempt to resume) walks the
    trainee's own index; it once ran a subquery per scenario over every trainee's attempts of
    that scenario (0.5 s per open on a 100,000-attempt file)."""
    db = big_file(tmp_path, monkeypatch)
    with sqlite3.connect(db) as conn:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + backend.PROGRESS_SQL, ("ana",))]
    assert any("USING INDEX attempts_by_trainee" in step for step in plan), plan
    assert not [step for step in plan if "SCAN" in step or "attempts_by_scenario" in step or "SUBQUERY" in step], plan
    with Store.open(db) as store:
        assert store.progress("ana") == {"overpass-railing": Progress("passed", 100.0, attempts=2, unfinished=1)}
        assert store.progress("ben") == {"overpass-railing": Progress("in progress", None, attempts=1, unfinished=1)}
        assert store.progress("nobody") == {}
