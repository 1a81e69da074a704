"""Exporting many attempts: CSV and xAPI throughput, and peak memory.

Builds a records file of N generated attempts (100,000; ``--quick`` 10,000), each with the
eight decisions and the real stored grade of a played run of the sample scenario, then times:

- **baseline**: a bare ``sqlite3`` read of the attempt rows (with their stored grades) and
  ``csv.writer`` of the same output columns (the dimension scores need the grade parsed, so the
  baseline parses it too): the least code that could produce the same CSV;
- **ours**: ``crisis-sim``'s ``write_csv`` and ``write_statements`` (xAPI), to a null sink.

Targets: CSV time <= 2x the baseline (median of alternating rounds, collector off on both
sides); peak memory of a whole ``crisis-sim export`` process under 150 MiB at the full size, and
roughly flat between the two sizes it is measured at. The peak is the export process's own
(``VmHWM``, see ``benchmarks.timing.child``): ``getrusage`` in a child started by this process
reported this process's gigabytes instead.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import tempfile
import uuid
from pathlib import Path

from benchmarks.timing import Result, child, compare, repeat, table

NAME = "export"


class _Null(io.TextIOBase):
    """A text sink that only counts characters (no disk in the timing)."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def sample_best_path(graded: object) -> list[str]:
    """The sample's best path, as `crisis-sim analyze` finds it (not a copy that could drift)."""
    from scoring.analysis import analyze

    return analyze(graded.scenario, graded.rubric).best.choices  # type: ignore[attr-defined]


def build(path: Path, n: int) -> None:
    """A records file with ``n`` completed attempts of the sample, graded for real."""
    from scoring.catalog import load_graded
    from scoring.grading import grade
    from simulator.engine import Session
    from simulator.records import Store

    repo = Path(__file__).resolve().parent.parent
    graded = load_graded(repo / "scenarios" / "overpass-railing.yaml")
    session = Session(graded.scenario)
    session.start()
    rows = []
    for choice in sample_best_path(graded):
        before = len(session.events)
        session.choose(choice)
        made = session.events[before]
        rows.append((made.scene, choice, json.dumps(made.meters_after), json.dumps(made.flags_after)))
    result = grade(graded.scenario, graded.rubric, session.decisions).as_dict()
    grade_json = json.dumps(result, sort_keys=True)
    s = graded.scenario
    with Store.open(path) as store:
        conn = store.conn
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO trainees (id, display_name, created_at) VALUES (?, ?, '2026-01-01T00:00:00.000Z')",
            [(f"t{i:05d}", f"Trainee {i}") for i in range(1000)],
        )
        for start in range(0, n, 5000):
            attempts, decisions = [], []
            for i in range(start, min(n, start + 5000)):
                aid = str(uuid.UUID(int=i + 1))
                day = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"
                attempts.append(
                    (
                        aid,
                        f"t{i % 1000:05d}",
                        s.id,
                        s.version,
                        s.sha256,
                        s.path,
                        graded.rubric.id,
                        graded.rubric.sha256,
                        "assessment",
                        f"{day}T10:00:00.000Z",
                        f"{day}T10:12:30.500Z",
                        grade_json,
                        result["overall"],
                        int(result["passed"]),
                        "good_ending",
                        "good",
                        "2026-fall",
                        1,
                    )
                )
                decisions += [
                    (aid, seq, scene, choice, f"{day}T10:0{seq}:00.000Z", 4000 + seq, meters, flags)
                    for seq, (scene, choice, meters, flags) in enumerate(rows, 1)
                ]
            conn.executemany(
                "INSERT INTO attempts (id, trainee_id, scenario_id, scenario_version, scenario_sha256, scenario_path, "
                "rubric_id, rubric_sha256, mode, started_at, ended_at, status, grade_json, overall, passed, "
                "ending_scene, ending_rating, cohort, grade_method) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?, ?)",
                attempts,
            )
            conn.executemany(
                "INSERT INTO decisions (attempt_id, sequence, scene, choice, made_at, response_ms, meters_after, "
                "flags_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                decisions,
            )
        conn.execute("COMMIT")


def baseline_csv(path: Path) -> int:
    """The least code that writes the same one-row-per-attempt CSV."""
    out = _Null()
    writer = csv.writer(out, lineterminator="\r\n")
    conn = sqlite3.connect(path)
    cursor = conn.execute(
        "SELECT a.id, a.trainee_id, t.display_name, a.cohort, a.scenario_id, a.scenario_version, a.scenario_sha256, "
        "a.rubric_id, a.rubric_sha256, a.mode, a.started_at, a.ended_at, a.status, a.overall, a.passed, "
        "a.ending_scene, a.ending_rating, a.grade_json FROM attempts a JOIN trainees t ON t.id = a.trainee_id "
        "ORDER BY a.started_at, a.id"
    )
    rows = 0
    for row in cursor:
        grade = json.loads(row[-1])
        dims = [d["score"] for d in grade["dimensions"]]
        errors = ";".join(e["id"] for e in grade["critical_errors"])
        writer.writerow([*row[:-1], errors, *dims])
        rows += 1
    conn.close()
    return rows


def ours_csv(path: Path) -> int:
    from simulator.export import ExportFilter
    from simulator.export.tabular import write_csv
    from simulator.records import Store

    with Store.open(path, create=False) as store:
        return write_csv(store, _Null(), ExportFilter())


def ours_xapi(path: Path) -> int:
    from simulator.config import AcademySettings
    from simulator.export import ExportFilter
    from simulator.export.xapi import write_statements
    from simulator.records import Store

    with Store.open(path, create=False) as store:
        return write_statements(store, _Null(), ExportFilter(), AcademySettings())


_EXPORT = """
import sys
from simulator.cli import cli
cli.main(['export', '--format', sys.argv[2], '--db', sys.argv[1], '--out', '-'], standalone_mode=False)
"""


def peak_mib(path: Path, fmt: str) -> float:
    """Peak resident memory (MiB) of a whole `crisis-sim export` process writing to /dev/null,
    as that process itself reports it."""
    return child(_EXPORT, str(path), fmt).peak_mib


def run(quick: bool = False) -> list[Result]:
    full = 10_000 if quick else 100_000
    small = full // 10
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        memory = {}
        for n in (small, full):
            db = Path(tmp) / f"records-{n}.sqlite3"
            build(db, n)
            size_mb = db.stat().st_size / 1e6
            if n == full:
                pair = compare(lambda db=db: baseline_csv(db), lambda db=db: ours_csv(db), repeats=3)
                assert pair.baseline.value == pair.ours.value == n, (pair.baseline.value, pair.ours.value)
                xapi = repeat(lambda db=db: ours_xapi(db), repeats=1)
                statements = xapi.value
                csv_result = Result(
                    NAME, f"csv time / bare sqlite3+csv.writer ({n:,} attempts)", pair.ratio, 2.0, pair.spread
                )
                rows.append(
                    [
                        n,
                        round(size_mb, 1),
                        pair.baseline.median,
                        pair.ours.median,
                        *csv_result.row()[1:],
                        xapi.median,
                        round(statements / xapi.median),
                    ]
                )
                results.append(csv_result)
            memory[n] = (peak_mib(db, "csv"), peak_mib(db, "xapi"))
            db.unlink()
    print(
        table(
            ["attempts", "db MB", "baseline s", "csv s", "csv ratio", "spread", "target", "verdict", "xapi s",
             "statements/s"],
            rows,
            title=f"{NAME}: exporting attempts with decisions (3 alternating rounds, collector off on both sides)",
        )
    )
    csv_peak, xapi_peak = memory[full]
    growth = max(memory[full]) / max(memory[small])
    results += [
        Result(NAME, f"csv export peak memory ({full:,} attempts)", csv_peak, 150.0, unit=" MiB"),
        Result(NAME, f"xapi export peak memory ({full:,} attempts)", xapi_peak, 150.0, unit=" MiB"),
        Result(NAME, f"peak memory growth {small:,} -> {full:,} attempts (flat = 1)", growth, 1.5),
    ]
    print(
        table(
            ["attempts", "csv peak MiB", "xapi peak MiB"],
            [[n, *memory[n]] for n in sorted(memory)],
            title=f"{NAME}: peak memory of a whole export process (its own VmHWM, one run each)",
        )
    )
    for result in results[1:]:
        print(result.line())
    return results
