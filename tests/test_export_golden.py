"""Exports pinned byte for byte: the records in tests/data/export_golden (played for real by its
make.py: completed, abandoned, in progress, voided, resumed, scripted, typed, flagged, three
scenarios and two rubrics) exported with `crisis-sim export` give exactly the files made when
they were pinned. A faster export must write the same bytes; a change to what an export says
remakes the expected files on purpose (run make.py) and updates docs/records-and-exports.md."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_factory import REPO

from simulator.records import Store, open_store

GOLDEN = REPO / "tests" / "data" / "export_golden"
sys.path.insert(0, str(GOLDEN))
from make import EXPORTS, load  # noqa: E402

sys.path.remove(str(GOLDEN))


@pytest.fixture(scope="module")
def golden_db(module_store) -> str:
    """The pinned rows, loaded into a fresh store of each kind at its current schema."""
    with open_store(module_store.db) as store:
        load(store)
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


def test_dimension_columns_follow_the_filtered_attempts_first_rubric(golden_db, tmp_path):
    """The header's dimension columns come from the exported attempts only, in the order their
    rubrics are first met: from the 6th only the second rubric's own order; eve's attempts the
    default rubric's first, then the other's new one."""
    def dims(name: str) -> list[str]:
        header = export(golden_db, tmp_path, name).decode("utf-8").split("\r\n", 1)[0].split(",")
        return [c for c in header if c.startswith("dim_")]

    assert dims("attempts-since-06.csv") == ["dim_scene_safety", "dim_listening_empathy", "dim_suicide_risk",
                                             "dim_respectful_influence", "dim_resolution_care",
                                             "dim_safety_assessment"]
    assert dims("attempts-eve.csv")[-1] == "dim_scene_safety" and dims("attempts-eve.csv")[0] == "dim_safety_assessment"


ATTEMPT_ROW = st.fixed_dictionaries({
    "trainee_id": st.sampled_from(["ana", "ben"]),
    "rubric_id": st.sampled_from(["default", "academy"]),
    "rubric_sha256": st.sampled_from(["a" * 64, "b" * 64]),
    "grade_method": st.sampled_from([None, 1, 2]),
    "graded": st.booleans(),
    "started_at": st.sampled_from([f"2026-03-0{d}T09:00:00.000Z" for d in (1, 2, 3)]),  # ties: ordered by id
    "void": st.booleans(),
    "front_end": st.sampled_from(["app", "run", "run-scripted"]),
})
FILTERS = st.fixed_dictionaries({}, optional={
    "trainee": st.sampled_from(["ana", "ben", "nobody"]),
    "since": st.just("2026-03-02T00:00:00.000Z"),
    "include_void": st.booleans(),
    "include_scripted": st.booleans(),
    "front_end": st.sampled_from(["app", "run-scripted"]),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ATTEMPT_ROW, max_size=12), filters=FILTERS)
def test_first_graded_is_the_first_attempt_of_each_grade_kind_that_attempts_gives(tmp_path, rows, filters):
    """``first_graded`` (one query) picks what walking ``attempts`` would: the first attempt
    with a grade of each rubric id, rubric hash and grading method, in the same order."""
    db = tmp_path / f"r{uuid.uuid4().hex}.sqlite3"
    with Store.open(db) as store:
        for trainee in ("ana", "ben"):
            store.ensure_trainee(trainee)
        store.write_many(
            "INSERT INTO attempts (id, trainee_id, scenario_id, scenario_version, scenario_sha256, scenario_path, "
            "rubric_id, rubric_sha256, mode, started_at, status, grade_json, grade_method, voided_at, voided_by, "
            "void_reason, front_end) "
            "VALUES (?, ?, 's', '1', 'c', 's.yaml', ?, ?, 'assessment', ?, ?, ?, ?, ?, ?, ?, ?)",
            [(str(uuid.uuid4()), r["trainee_id"], r["rubric_id"], r["rubric_sha256"], r["started_at"],
              "completed" if r["graded"] else "in_progress", '{"overall": 1, "passed": false}' if r["graded"] else None,
              r["grade_method"], *(("2026-04-01T00:00:00.000Z", "me", "test") if r["void"] else (None, None, None)),
              r["front_end"]) for r in rows],
        )
        walked: dict[tuple[str, str, int | None], str] = {}
        for attempt in store.attempts(**filters):
            if attempt.grade_json is not None:
                walked.setdefault((attempt.rubric_id, attempt.rubric_sha256, attempt.grade_method), attempt.id)
        assert [a.id for a in store.first_graded(**filters)] == list(walked.values())
    db.unlink()
