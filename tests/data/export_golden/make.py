"""Make the records and the expected exports that tests/test_export_golden.py pins.

Run once, with the code whose output is to be pinned (``.venv/bin/python
tests/data/export_golden/make.py``; ``--exports`` keeps the pinned records and only writes
their exports again): it plays real sessions of three bundled scenarios into a
fresh records file through the store's own API (completed, abandoned, still in progress,
voided, resumed after a break, scripted, a timeout, free text typed, an instructor's flag, a
grade of another rubric, names a spreadsheet would take for formulas), dumps the rows to
``records.json`` and writes each export the test compares byte for byte. The records are stored
as rows, not regraded, so a later change to a scenario or to grading does not move them: only a
change to the exports does, and then the expected files are remade on purpose.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
sys.path.insert(0, str(REPO))

from scoring.catalog import load_graded  # noqa: E402
from scoring.grading import grade  # noqa: E402
from simulator.engine import ChoiceMade, Session  # noqa: E402
from simulator.records import Store  # noqa: E402

TABLES = ("trainees", "attempts", "decisions", "instructor_flags")
"""What ``records.json`` holds (every other table starts empty)."""

EXPORTS: dict[str, tuple[str, ...]] = {
    "attempts.csv": ("--format", "csv"),
    "attempts-all.csv": ("--format", "csv", "--include-void", "--include-scripted"),
    "attempts-knife.csv": ("--format", "csv", "--scenario", "kitchen-knife", "--include-void"),
    "decisions-all.csv": ("--format", "csv", "--decisions", "--include-void", "--include-scripted"),
    "attempts-all.jsonl": ("--format", "jsonl", "--include-void", "--include-scripted"),
    "statements-all.json": ("--format", "xapi", "--include-void", "--include-scripted"),
    "attempts-eve.csv": ("--format", "csv", "--trainee", "eve"),
    "attempts-since-06.csv": ("--format", "csv", "--since", "2026-03-06"),
}
"""Each expected file and the ``crisis-sim export`` options that make it."""


def play(store: Store, trainee: str, scenario: str, day: str, *, picks: list[int | None], finish: bool = True,
         front_end: str = "app", mode: str = "assessment", cohort: str | None = None,
         said: dict[int, str] | None = None, break_after: int | None = None) -> str:
    """Play ``scenario`` taking the ``picks``-th choice on offer (None: let the timer run out),
    then the first on offer to the end when ``finish``; fixed times on ``day``. A
    ``break_after`` leaves a gap of hours after that decision (a resumed attempt)."""
    graded = load_graded(REPO / "scenarios" / f"{scenario}.yaml")
    assert graded.ok, graded.diagnostics
    s, rubric = graded.scenario, graded.rubric
    store.ensure_trainee(trainee)
    aid = store.start_attempt(trainee, scenario_id=s.id, scenario_version=s.version, scenario_sha256=s.sha256,
                              scenario_path=f"scenarios/{scenario}.yaml", rubric_id=rubric.id,
                              rubric_sha256=rubric.sha256, mode=mode, cohort=cohort, front_end=front_end,
                              time_pressure=front_end == "app", scenario_title=s.title, seed=7)
    session = Session(s)
    session.start()
    steps, hour = list(picks), 9
    while session.waiting and (steps or finish):
        pick = steps.pop(0) if steps else 0
        text = (said or {}).get(len(session.decisions) + 1)
        event = (session.expire() if pick is None else session.choose(session.offered()[pick].id, said=text))[0]
        made = event.choice if isinstance(event, ChoiceMade) else None
        store.record_decision(aid, event.sequence, event.scene, made, meters_after=event.meters_after,
                              flags_after=event.flags_after, response_ms=1500 + 333 * event.sequence,
                              made_at=f"{day}T{hour:02d}:{event.sequence:02d}:41.125Z",
                              choice_text=event.text if isinstance(event, ChoiceMade) else None,
                              said=text if made else None)
        if event.sequence == break_after:
            hour += 5
    ended = None
    if finish:
        store.finish_attempt(aid, grade(s, rubric, session.decisions))
        ended = f"{day}T{hour:02d}:59:03.007Z"
    store.write("UPDATE attempts SET started_at = ?, ended_at = ? WHERE id = ?",
                (f"{day}T{9:02d}:00:00.000Z", ended, aid))
    return aid


def build(db: Path) -> None:
    """The varied records, played for real."""
    with Store.open(db) as store:
        for trainee, name in (("ana", "Ana Díaz"), ("ben", '=HYPERLINK("x")'), ("cy", 'Smith, "Cy"\nline two'),
                              ("dee", "-Dee;+1"), ("eve", "Eve;=SUM(1),@x")):
            store.ensure_trainee(trainee, name)
        play(store, "ana", "overpass-railing", "2026-03-01", picks=[], cohort="2026-spring")
        play(store, "ana", "kitchen-knife", "2026-03-01", picks=[1, 1], cohort="2026-spring", mode="coach")
        play(store, "ben", "overpass-railing", "2026-03-02", picks=[None, 1, 2], cohort="2026-spring")
        play(store, "ben", "opioid-overdose", "2026-03-02", picks=[1, 0, 1], break_after=2)  # resumed
        play(store, "cy", "kitchen-knife", "2026-03-03", picks=[0, 1], finish=False)  # still in progress
        gone = play(store, "cy", "opioid-overdose", "2026-03-03", picks=[2], finish=False)
        store.abandon_attempt(gone)
        store.write("UPDATE attempts SET ended_at = ? WHERE id = ?", ("2026-03-03T09:31:00.000Z", gone))
        voided = play(store, "dee", "overpass-railing", "2026-03-04", picks=[2, 2], cohort="=cmd")
        store.void_attempt(voided, "played on a colleague's sign-in", "instructor")
        store.write("UPDATE attempts SET voided_at = ? WHERE id = ?", ("2026-03-05T08:00:00.000Z", voided))
        play(store, "dee", "kitchen-knife", "2026-03-04", picks=[0, 0, 0], front_end="run-scripted")
        typed = play(store, "eve", "overpass-railing", "2026-03-05", picks=[0, 1], front_end="run",
                     said={1: "I'm Eve, from the crisis team; can we talk?", 2: "=1+1, okay"})
        store.flag(typed, 2, "Good opening; slow down here")
        store.write("UPDATE instructor_flags SET flagged_at = ?", ("2026-03-06T12:00:00.000Z",))
        other = play(store, "eve", "kitchen-knife", "2026-03-06", picks=[1])
        # a grade from another rubric: dimensions of its own, in its own order
        stored = json.loads(store.attempt(other).grade_json or "{}")
        dims = stored["dimensions"]
        stored["dimensions"] = [{**dims[1], "id": "scene_safety"}, *dims[2:], {**dims[0], "score": None}]
        stored["rubric_id"] = "academy-2025"
        store.write("UPDATE attempts SET grade_json = ?, rubric_id = ?, rubric_sha256 = ? WHERE id = ?",
                    (json.dumps(stored, sort_keys=True), "academy-2025", "ab" * 32, other))


def dump(db: Path) -> str:
    """Every row of ``TABLES`` as JSON (table -> columns and rows, in key order): loaded with
    parameters, so the same file fills a SQLite file or a PostgreSQL database."""
    conn = sqlite3.connect(db)
    tables: dict[str, Any] = {}
    for table in TABLES:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1, 2").fetchall()
        tables[table] = {"columns": columns, "rows": [list(r) for r in rows]}
    conn.close()
    return json.dumps(tables, ensure_ascii=False, indent=1) + "\n"


def load(store: Any) -> None:
    """Put the rows of ``records.json`` into an empty store (SQLite or PostgreSQL)."""
    tables = json.loads((HERE / "records.json").read_text(encoding="utf-8"))
    assert list(tables) == list(TABLES)
    for table, data in tables.items():
        columns = data["columns"]
        store.write_many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                         data["rows"])


def main() -> None:
    """Play new records and pin them with their exports; with ``--exports``, keep the pinned
    records and write their exports again (after a deliberate change to what an export says)."""
    from click.testing import CliRunner

    from simulator.cli import cli

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "records.sqlite3"
        if "--exports" in sys.argv:
            with Store.open(db) as store:
                load(store)
        else:
            build(db)
            (HERE / "records.json").write_text(dump(db), encoding="utf-8")
        for name, options in EXPORTS.items():
            out = HERE / name
            result = CliRunner().invoke(cli, ["export", *options, "--db", str(db), "--out", str(out)])
            assert result.exit_code == 0, result.output
            out.chmod(0o644)


if __name__ == "__main__":
    main()
