"""Exports pinned byte for byte: the records in tests/data/export_golden (played for real by its
make.py: completed, abandoned, in progress, voided, resumed, scripted, typed, flagged, three
scenarios and two rubrics) exported with `crisis-sim export` give exactly the files made when
they were pinned. A faster export must write the same bytes; a change to what an export says
remakes the expected files on purpose (run make.py) and updates docs/records-and-exports.md."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from scenario_factory import REPO

from simulator.records import open_store

GOLDEN = REPO / "tests" / "data" / "export_golden"
sys.path.insert(0, str(GOLDEN))
from make import EXPORTS, TABLES  # noqa: E402

sys.path.remove(str(GOLDEN))


@pytest.fixture(scope="module")
def golden_db(module_store) -> str:
    """The pinned rows, loaded into a fresh store of each kind at its current schema."""
    tables = json.loads((GOLDEN / "records.json").read_text(encoding="utf-8"))
    assert list(tables) == list(TABLES)
    with open_store(module_store.db) as store:
        for table, data in tables.items():
            columns = data["columns"]
            store.write_many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                             data["rows"])
    return module_store.db


def export(db: str, tmp_path: Path, name: str) -> bytes:
    out = tmp_path / name
    env = {**os.environ, "CRISIS_SIM_CONFIG": str(tmp_path / "no-config.toml")}
    done = subprocess.run(
        [sys.executable, "-c", "from simulator.cli import main; main()", "export", *EXPORTS[name], "--db", db,
         "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=120, env=env,
    )
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


@pytest.mark.parametrize("name", list(EXPORTS))
def test_export_is_byte_identical_to_the_pinned_file(golden_db, tmp_path, name):
    assert export(golden_db, tmp_path, name) == (GOLDEN / name).read_bytes()


def test_the_pinned_csv_holds_every_kind_of_attempt_and_reads_back(golden_db, tmp_path):
    text = export(golden_db, tmp_path, "attempts-all.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    kinds = {(r["status"], r["front_end"], bool(r["voided_at"])) for r in rows}
    assert {("completed", "app", False), ("completed", "app", True), ("abandoned", "app", False),
            ("in_progress", "app", False), ("completed", "run", False), ("completed", "run-scripted", False)} <= kinds
    assert len({r["scenario_id"] for r in rows}) == 3 and {r["rubric_id"] for r in rows} == {"default", "academy-2025"}
    assert [c for c in rows[0] if c.startswith("dim_")][-1] == "dim_scene_safety"  # the second rubric's own
    assert any(r["trainee_name"] == 'Smith, "Cy"\nline two' for r in rows)
    assert any(r["trainee_name"].startswith("'=HYPERLINK") for r in rows)
    resumed = next(r for r in rows if r["scenario_id"] == "opioid-overdose" and r["status"] == "completed")
    assert float(resumed["duration_seconds"]) > 5 * 3600  # a break of five hours in the middle
