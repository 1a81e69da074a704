"""``regrade`` and grades made with an older grading method: reported apart (not as tampering),
and ``regrade --upgrade`` recomputes and stores them with the current method, saying how many
changed and by how much. The old grades are real method-1 output (tests/data/method1)."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from pathlib import Path

from test_run_cli import cli

from simulator.records import Store

OLD = json.loads((Path(__file__).parent / "data" / "method1" / "grades.json").read_text(encoding="utf-8"))


def recorded_with_method_1() -> dict[str, str]:
    """Play each old playthrough with today's crisis-sim, then put the method-1 grade in its
    place, as an older crisis-sim left the file: name -> attempt id. One more attempt keeps its
    method-2 grade."""
    ids = {}
    for name, case in OLD.items():
        out = cli("run", case["scenario"], "--trainee", name, "--choose", ",".join(case["choices"]), "--json")
        ids[name] = json.loads(out.stdout)["attempt_id"]
    cli("run", "overpass-railing", "--trainee", "current", "--choose", "order-down")
    with sqlite3.connect(os.environ["CRISIS_SIM_DB"]) as conn:
        for name, case in OLD.items():
            g = case["grade"]
            conn.execute(
                "UPDATE attempts SET grade_json = ?, overall = ?, passed = ?, grade_method = 1 WHERE id = ?",
                (json.dumps(g, sort_keys=True), g["overall"], int(g["passed"]), ids[name]),
            )
    return ids


def listed() -> dict[str, float]:
    """Trainee -> the score ``results`` shows (these are scripted runs: asked for)."""
    rows = [json.loads(line) for line in cli("results", "--json", "--include-scripted").stdout.splitlines()]
    return {r["trainee_id"]: r["overall"] for r in rows}


def test_older_grades_are_reported_apart_and_upgraded(isolated_user_dirs):
    ids = recorded_with_method_1()
    with Store.open(os.environ["CRISIS_SIM_DB"]) as store:
        ended = {a.id: a.ended_at for a in store.attempts()}

    before = cli("regrade")
    assert before.returncode == 0, before.stdout  # an older method is not tampering
    assert "1 grade(s) recomputed: 1 agree, 0 differ, 0 could not be recomputed" in before.stdout
    assert (
        "3 grade(s) were made with an older grading method (1) and were not compared; "
        "'crisis-sim regrade --upgrade' recomputes and stores them with method 2" in before.stdout
    )
    assert "differ in" not in before.stdout
    assert listed() == {"kitchen-knife-worst": 30.0, "overpass-best": 100.0, "overpass-leave": 74.0, "current": 0.0}

    upgraded = cli("regrade", "--upgrade")
    assert upgraded.returncode == 0, upgraded.stdout
    lines = upgraded.stdout.splitlines()
    assert f"{ids['kitchen-knife-worst'][:8]} kitchen-knife (kitchen-knife-worst): method 1 -> 2: score 30.0 -> 0, " \
        "not passed -> not passed" in lines
    assert f"{ids['overpass-leave'][:8]} overpass-railing (overpass-leave): method 1 -> 2: score 74.0 -> 69, " \
        "not passed -> not passed" in lines
    assert f"{ids['overpass-best'][:8]} overpass-railing (overpass-best): method 1 -> 2: score 100.0 -> 100, " \
        "passed -> passed" in lines
    assert lines[-1] == (
        "upgraded 3 grade(s) from method 1 to method 2: 2 changed score (mean change -17.5, largest -30 on attempt "
        f"{ids['kitchen-knife-worst'][:8]}), 0 changed between passed and not passed, 1 kept their score"
    )

    after = cli("regrade")
    assert after.returncode == 0 and "4 grade(s) recomputed: 4 agree, 0 differ" in after.stdout
    assert "older grading method" not in after.stdout
    assert listed() == {"kitchen-knife-worst": 0.0, "overpass-best": 100.0, "overpass-leave": 69.0, "current": 0.0}
    out = cli("export", "--format", "csv", "--out", "-", "--include-scripted")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {r["grade_method"] for r in rows} == {"2"}
    # re-pinned after the overpass-railing rework: the path is graded with the scenario as it is now
    assert {r["trainee_id"]: r["performance"] for r in rows}["overpass-leave"] == "75.2"
    with Store.open(os.environ["CRISIS_SIM_DB"]) as store:
        assert {a.id: a.ended_at for a in store.attempts()} == ended  # only the grade changed
        assert all(a.grade["method"] == 2 and a.grade_method == 2 for a in store.attempts())
    assert "upgraded" not in cli("regrade", "--upgrade").stdout  # nothing older is left


def test_an_older_grade_with_an_edited_column_is_a_difference(isolated_user_dirs):
    ids = recorded_with_method_1()
    with sqlite3.connect(os.environ["CRISIS_SIM_DB"]) as conn:
        conn.execute("UPDATE attempts SET overall = 95.0 WHERE id = ?", (ids["kitchen-knife-worst"],))
    out = cli("regrade")
    assert out.returncode == 1
    assert (
        f"{ids['kitchen-knife-worst'][:8]} kitchen-knife (kitchen-knife-worst): stored grade (method 1) and its "
        "columns differ in column overall (stored 95.0, in the grade 30.0)" in out.stdout
    )
    assert "2 grade(s) were made with an older grading method (1)" in out.stdout
    # --upgrade leaves a tampered record alone: it is for a method change, not for repairs
    upgraded = cli("regrade", "--upgrade")
    assert upgraded.returncode == 1 and "upgraded 2 grade(s)" in upgraded.stdout


def test_a_grade_from_a_newer_method_cannot_be_recomputed(isolated_user_dirs):
    cli("run", "overpass-railing", "--trainee", "ben", "--choose", "order-down")
    with sqlite3.connect(os.environ["CRISIS_SIM_DB"]) as conn:
        conn.execute("UPDATE attempts SET grade_json = replace(grade_json, '\"method\": 2', '\"method\": 9')")
    out = cli("regrade")
    assert out.returncode == 1
    assert "cannot recompute: graded with method 9, newer than this crisis-sim's method 2; upgrade crisis-sim" in (
        out.stdout
    )
