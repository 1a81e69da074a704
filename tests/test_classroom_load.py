"""A classroom at CI size: 8 processes x 2 attempts of real scenarios into one records file at
once, through the real recorder (``benchmarks/classroom.py``, the same harness the 30-process
benchmark runs). Every decision a process committed is stored exactly once, in order, nothing
else is, no process meets a busy/locked error, and the store passes its checks. Run against a
SQLite file and a PostgreSQL database. The
file is read here again, independently of the harness's own check. No timing is asserted:
the commit times are the benchmark's business (``python -m benchmarks --only classroom``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from scenario_factory import REPO

PROCESSES, ATTEMPTS = 8, 2


def test_a_classroom_writing_at_once_stores_every_decision_exactly_once(records_target):
    db = records_target.db
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.classroom", "--processes", str(PROCESSES), "--attempts", str(ATTEMPTS),
         "--db", str(db), "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=300, env={**os.environ, "NO_COLOR": "1"},
    )
    lines = done.stdout.splitlines()
    summary = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    figures = {k: v for k, v in summary.items() if k != "reports"}
    code = done.returncode
    assert code == 0, f"exit {code}: {figures or done.stdout[-2000:]} {done.stderr[-2000:]}"
    assert summary["ok"] and summary["problems"] == [], summary["problems"]
    assert (summary["busy_errors"], summary["other_errors"], summary["failed_workers"]) == (0, 0, 0)
    assert summary["attempts_finished"] == PROCESSES * ATTEMPTS

    # Independently of the harness: what each process says it committed is what the file holds.
    reports = summary["reports"]
    assert sorted(r["worker"] for r in reports) == list(range(PROCESSES))
    committed = {a["id"]: [tuple(d) for d in a["decisions"]] for r in reports for a in r["attempts"]}
    assert len(committed) == PROCESSES * ATTEMPTS and all(committed.values())
    with records_target.open(create=False, check="full") as store:  # SQLite: integrity_check too
        attempts = list(store.attempts())
        statuses = {a.id: a.status for a in attempts}
        trainees = {a.trainee_id for a in attempts}
        stored = {aid: [(d.sequence, d.scene, d.choice) for d in rows]
                  for aid, rows in store.decisions_for(list(statuses)).items() if rows}
        assert store.check_rows() == (len(attempts), sum(map(len, stored.values())))
    assert stored == committed
    for log in stored.values():
        assert [seq for seq, _, _ in log] == list(range(1, len(log) + 1))
    assert set(statuses.values()) == {"completed"} and set(statuses) == set(committed)
    assert trainees == {f"trainee-{n:02d}" for n in range(PROCESSES)}
    assert summary["decisions_stored"] == summary["decisions_expected"] == sum(map(len, committed.values()))
