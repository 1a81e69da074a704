"""Many processes, one records store: opening at once, commit latency, throughput, and the
store dialects side by side (issue 16 item 3, issue 17 item 4's store half).

Every figure is ours against a **bare** baseline doing the same work in the same run, on the
same kind of store, in alternating rounds (bare, ours, ours, bare, ...); the value is the
median of the per-round ratios and the spread is their min-max.

- **open**: N processes (30) open one big records file (100,000 attempts, about 1.4 GB, built
  once by ``benchmarks.export.build`` and kept in ``CRISIS_SIM_BENCH_CACHE`` when set) at once
  and run one query (a trainee's progress, the query the app's library runs). Each process
  imports first and waits for a "go"; the time is from "go" to the last process done. Bare:
  ``sqlite3.connect`` + the same query. Ours: ``Store.open`` as play opens (``create=True``,
  the default checks) + ``Store.progress``. Target: <= 3x.
- **commits**: N writers (30, then 100) each commit K decisions as fast as they can into one
  fresh records file, after opening it and starting an attempt (not timed). Bare: a
  ``sqlite3`` connection per writer with **the same journal mode (WAL), synchronous=FULL and
  busy timeout (15 s)** as the store, ``BEGIN IMMEDIATE`` + ``INSERT`` + ``COMMIT`` per
  decision. Ours: ``Store.record_decision`` (the row built, then under the lock the
  schema-cookie check, the insert, the change count, the commit). Figures: commit p95
  (target <= 10x bare at 30 writers) and decisions committed per second over the whole run
  (target >= 0.9x bare at 100 writers). After every round the file must hold exactly the N x K
  decisions reported committed (nothing lost, nothing stored twice), or the benchmark stops.
- **dialects** (with a PostgreSQL server: ``--postgresql URL`` or ``CRISIS_SIM_BENCH_PG``;
  skipped with a line saying so otherwise): decisions per second through ``Store`` into
  PostgreSQL vs into SQLite, 1 and 30 writers, as a ratio (information: no target), and
  ours vs bare ``psycopg`` on PostgreSQL.

    python -m benchmarks --only records [--quick]
    python -m benchmarks.records [--part open|startup|commits|dialects] [--postgresql URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.timing import NO_CONFIG, Result, alternate, child, median_spread, table

NAME = "records"
REPO = Path(__file__).resolve().parent.parent
WAIT = 900.0
BUSY_TIMEOUT_MS = 15_000


# ---- workers: one process each -----------------------------------------------------------------


def _ready_go() -> bool:
    print("ready", flush=True)
    return sys.stdin.readline().strip() == "go"


def worker_open(side: str, db: str, trainee: str) -> dict[str, Any]:
    """Open ``db`` and run the progress query, timed from "go"."""
    if side == "bare":
        import sqlite3

        from simulator.records.sqlite import PROGRESS_SQL  # the very query the store runs

        if not _ready_go():
            return {}
        start = time.monotonic()
        conn = sqlite3.connect(db)
        rows = conn.execute(PROGRESS_SQL, (trainee,)).fetchall()
        conn.close()
    else:
        from simulator.records import open_store

        if not _ready_go():
            return {}
        start = time.monotonic()
        store = open_store(db)
        rows = list(store.progress(trainee).items())
        store.close()
    return {"start": start, "end": time.monotonic(), "rows": len(rows)}


def worker_commits(side: str, db: str, number: int, count: int) -> dict[str, Any]:
    """Commit ``count`` decisions of one attempt, each timed; the set-up is not timed."""
    meters, flags = {"agitation": 5, "rapport": 2}, {"asked": False, "called": True}
    trainee = f"writer-{number:03d}"
    if side == "bare" and db.startswith("postgresql"):
        return _bare_postgresql(db, trainee, count, meters, flags)
    if side == "bare":
        return _bare_sqlite(db, trainee, count, meters, flags)
    from simulator.records import open_store

    store = open_store(db)
    store.ensure_trainee(trainee)
    attempt = store.start_attempt(trainee, scenario_id="bench", scenario_version="1", scenario_sha256="x",
                                  scenario_path="", rubric_id="default", rubric_sha256="x", mode="assessment")
    if not _ready_go():
        return {}
    times, first = [], time.monotonic()
    for seq in range(1, count + 1):
        start = time.monotonic()
        store.record_decision(attempt, seq, "scene", "choice", meters_after=meters, flags_after=flags,
                              response_ms=1000)
        times.append(time.monotonic() - start)
    end = time.monotonic()
    store.close()
    return {"start": first, "end": end, "commits": times}


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bare_sqlite(db: str, trainee: str, count: int, meters: dict[str, int], flags: dict[str, bool]) -> dict[str, Any]:
    import sqlite3
    import uuid

    conn = sqlite3.connect(db, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")  # as the store: WAL, synchronous=FULL, foreign keys
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    attempt = str(uuid.uuid4())
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT OR IGNORE INTO trainees (id, display_name, created_at) VALUES (?, ?, ?)",
                 (trainee, trainee, _now()))
    conn.execute(_INSERT_ATTEMPT, (attempt, trainee, _now()))
    conn.execute("COMMIT")
    if not _ready_go():
        return {}
    meters_text, flags_text = json.dumps(meters, sort_keys=True), json.dumps(flags, sort_keys=True)
    times, first = [], time.monotonic()
    for seq in range(1, count + 1):
        start = time.monotonic()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_INSERT_DECISION, (attempt, seq, "scene", "choice", _now(), 1000, meters_text, flags_text))
        conn.execute("COMMIT")
        times.append(time.monotonic() - start)
    end = time.monotonic()
    conn.close()
    return {"start": first, "end": end, "commits": times}


def _bare_postgresql(db: str, trainee: str, count: int, meters: dict[str, int], flags: dict[str, bool]) -> dict:
    import uuid

    import psycopg

    conn = psycopg.connect(db, autocommit=True, options="-c search_path=crisis_sim")
    attempt = str(uuid.uuid4())
    sql = lambda text: text.replace("?", "%s")  # noqa: E731
    with conn.transaction():
        conn.execute(sql("INSERT INTO trainees (id, display_name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
                     (trainee, trainee, _now()))
        conn.execute(sql(_INSERT_ATTEMPT), (attempt, trainee, _now()))
    if not _ready_go():
        return {}
    meters_text, flags_text = json.dumps(meters, sort_keys=True), json.dumps(flags, sort_keys=True)
    times, first = [], time.monotonic()
    for seq in range(1, count + 1):
        start = time.monotonic()
        with conn.transaction():
            values = (attempt, seq, "scene", "choice", _now(), 1000, meters_text, flags_text)
            conn.execute(sql(_INSERT_DECISION), values)
        times.append(time.monotonic() - start)
    end = time.monotonic()
    conn.close()
    return {"start": first, "end": end, "commits": times}


_INSERT_ATTEMPT = (
    "INSERT INTO attempts (id, trainee_id, scenario_id, scenario_version, scenario_sha256, scenario_path, rubric_id, "
    "rubric_sha256, mode, started_at, status) VALUES (?, ?, 'bench', '1', 'x', '', 'default', 'x', 'assessment', ?, "
    "'in_progress')"
)
_INSERT_DECISION = (
    "INSERT INTO decisions (attempt_id, sequence, scene, choice, made_at, response_ms, meters_after, flags_after) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


# ---- the parent ----------------------------------------------------------------------------------


@dataclass
class Crowd:
    """What N workers reported: their start and end (one monotonic clock) and commit times."""

    reports: list[dict[str, Any]]

    @property
    def wall(self) -> float:
        return max(r["end"] for r in self.reports) - min(r["start"] for r in self.reports)

    @property
    def commits(self) -> list[float]:
        return [t for r in self.reports for t in r.get("commits", [])]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.commits)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    @property
    def per_second(self) -> float:
        return len(self.commits) / self.wall if self.wall else 0.0


def crowd(args_of: Callable[[int], Sequence[str]], processes: int) -> Crowd:
    """Start ``processes`` workers, wait until each is ready, say "go" to all, collect."""
    procs = [
        subprocess.Popen([sys.executable, "-m", "benchmarks.records", "--worker", *args_of(n)], cwd=REPO, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, "CRISIS_SIM_CONFIG": NO_CONFIG})
        for n in range(processes)
    ]
    try:
        deadline = time.monotonic() + WAIT
        for proc in procs:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], max(1.0, deadline - time.monotonic()))
            line = proc.stdout.readline().strip() if ready else ""
            if line != "ready":
                _, err = proc.communicate(timeout=30)
                raise RuntimeError(f"a {NAME} worker did not get ready: {line} {err.strip()[-1500:]}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            lines = [line for line in out.splitlines() if line.startswith("{")]
            if proc.returncode != 0 or not lines:
                raise RuntimeError(f"a {NAME} worker failed ({proc.returncode}): {err.strip()[-1500:]}")
            reports.append(json.loads(lines[-1]))
        return Crowd(reports)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def big_records(attempts: int) -> Path:
    """The big records file (built once; kept in ``CRISIS_SIM_BENCH_CACHE`` when set)."""
    from benchmarks.export import build

    folder = Path(os.environ.get("CRISIS_SIM_BENCH_CACHE") or tempfile.mkdtemp(prefix="crisis-sim-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"records-{attempts}.sqlite3"
    if not path.exists():
        partial = folder / f"records-{attempts}.building.sqlite3"
        for leftover in folder.glob(f"{partial.name}*"):
            leftover.unlink()
        build(partial, attempts)
        partial.rename(path)
    return path


def fresh(folder: Path, name: str) -> str:
    """A new, empty records file made by the store (so both sides use crisis-sim's schema)."""
    from simulator.records import open_store

    path = folder / name
    for leftover in folder.glob(f"{name}*"):
        leftover.unlink()
    open_store(str(path)).close()
    return str(path)


def part_open(quick: bool) -> list[Result]:
    processes, attempts, rounds = (10, 20_000, 3) if quick else (30, 100_000, 5)
    db = str(big_records(attempts))
    size = Path(db).stat().st_size
    args = lambda side: (lambda n: ["open", side, db, f"t{n:05d}"])  # noqa: E731
    crowd(args("ours"), 2)  # warm the page cache for both
    pairs = alternate(rounds, lambda: crowd(args("bare"), processes), lambda: crowd(args("ours"), processes))
    ratio, spread = median_spread([o.wall / b.wall for b, o in pairs])
    rows = [[f"round {n + 1}", b.wall, o.wall, o.wall / b.wall] for n, (b, o) in enumerate(pairs)]
    print(table(["", "bare s", "ours s", "ratio"], rows,
                title=f"{NAME}: {processes} processes open one {attempts:,}-attempt records file ({size / 2**30:.2f} "
                      "GiB) at once and run one query, from 'go' to the last one done"))
    return [Result(NAME, f"{processes} processes opening a {attempts:,}-attempt file at once / bare sqlite3",
                   ratio, 3.0, spread=spread)]


APP = """
import sys
from simulator.tui.launch import start_app

app = start_app(trainee=sys.argv[2], db=sys.argv[1])

async def ready(pilot):
    from simulator.tui.screens.library import LibraryScreen
    from textual.widgets import DataTable
    while not (isinstance(app.screen, LibraryScreen) and app.screen.query_one(DataTable).row_count):
        await pilot.pause()
    app.exit()

app.run(headless=True, auto_pilot=ready)
"""
"""The trainee app started on a records file as a trainee, until its library is interactive
(``benchmarks.startup``'s measure, with the records file and trainee as arguments)."""


def part_startup(quick: bool) -> list[Result]:
    """The app's start-up on a big records file, against a bare Textual app and against the
    same app on an empty records file (what the file's size adds)."""
    from benchmarks.startup import BARE, bytecode_env

    attempts, rounds = (20_000, 5) if quick else (100_000, 7)
    big = str(big_records(attempts))
    size = Path(big).stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        empty = str(Path(tmp) / "empty.sqlite3")
        runs: dict[str, list[float]] = {"bare": [], "empty": [], "big": []}
        # the app's library cache, warmed below; compiled modules for both sides (benchmarks.startup)
        env = {"XDG_CACHE_HOME": str(Path(tmp) / "cache"), **bytecode_env(tmp)}
        calls = {"bare": lambda: child(BARE, env=env).seconds,
                 "empty": lambda: child(APP, empty, "t00001", env=env).seconds,
                 "big": lambda: child(APP, big, "t00001", env=env).seconds}
        for call in calls.values():  # warm the page cache and the library cache, create the empty file
            call()
        for n in range(rounds):
            for name in list(calls)[:: 1 if n % 2 == 0 else -1]:
                runs[name].append(calls[name]())
    big_bare, big_bare_spread = median_spread([b / a for a, b in zip(runs["bare"], runs["big"], strict=True)])
    big_empty, big_empty_spread = median_spread([b / a for a, b in zip(runs["empty"], runs["big"], strict=True)])
    rows = [[name, statistics.median(values), min(values), max(values)] for name, values in runs.items()]
    print(table(["app", "median s", "min s", "max s"], rows,
                title=f"{NAME}: start-up to the library, headless: a bare Textual app; crisis-sim on an empty records "
                      f"file; crisis-sim on a {attempts:,}-attempt file ({size / 2**30:.2f} GiB), trainee with 100 "
                      f"attempts ({rounds} alternating rounds)"))
    print()
    return [
        Result(NAME, f"start-up with a {size / 2**30:.1f} GiB records file / bare Textual app", big_bare, 1.5,
               spread=big_bare_spread),
        Result(NAME, f"start-up with a {size / 2**30:.1f} GiB records file / with an empty one", big_empty, None,
               spread=big_empty_spread),
    ]


def _commit_rounds(folder: Path, db_of: Callable[[str], str], writers: int, count: int, rounds: int,
                   sides: tuple[str, str] = ("bare", "ours")) -> list[tuple[Crowd, Crowd]]:
    def run(side: str) -> Crowd:
        db = db_of(side)
        done = crowd(lambda n: ["commits", side, db, str(n), str(count)], writers)
        stored = _stored_decisions(db)
        if stored != writers * count or len(done.commits) != writers * count:
            raise RuntimeError(f"{NAME}: {side} reported {len(done.commits)} commits and the store holds {stored} "
                               f"decisions, not {writers * count}: something was lost or stored twice")
        return done

    return alternate(rounds, lambda: run(sides[0]), lambda: run(sides[1]))


def _stored_decisions(db: str) -> int:
    """The decisions the store at ``db`` holds after a round (each round starts empty): every
    reported commit must be there, once."""
    if db.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db, options="-c search_path=crisis_sim") as conn:
            return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])
    import sqlite3

    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])


def part_commits(quick: bool) -> list[Result]:
    results: list[Result] = []
    rounds = 3 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for writers, count in ((10, 20), (30, 20)) if quick else ((30, 30), (100, 15)):
            pairs = _commit_rounds(folder, lambda side: fresh(folder, f"{side}.sqlite3"), writers, count, rounds)
            p95, p95_spread = median_spread([o.percentile(0.95) / b.percentile(0.95) for b, o in pairs])
            rate, rate_spread = median_spread([o.per_second / b.per_second for b, o in pairs])
            rows = [[f"round {n + 1}", b.percentile(0.5) * 1000, o.percentile(0.5) * 1000, b.percentile(0.95) * 1000,
                     o.percentile(0.95) * 1000, b.per_second, o.per_second] for n, (b, o) in enumerate(pairs)]
            print(table(["", "bare p50 ms", "ours p50 ms", "bare p95 ms", "ours p95 ms", "bare /s", "ours /s"], rows,
                        title=f"{NAME}: {writers} writers x {count} decisions into one SQLite file (WAL, "
                              "synchronous=FULL, busy timeout 15 s on both sides)"))
            print()
            results.append(Result(NAME, f"commit p95, {writers} writers / bare sqlite3", p95, 10.0, spread=p95_spread))
            results.append(Result(NAME, f"decisions per second, {writers} writers / bare sqlite3", rate, 0.9,
                                  spread=rate_spread, at_least=True))
    return results


def part_dialects(quick: bool, url: str | None) -> list[Result]:
    url = url or os.environ.get("CRISIS_SIM_BENCH_PG")
    if not url:
        print(f"{NAME}: dialects skipped: no PostgreSQL server (give --postgresql URL or set CRISIS_SIM_BENCH_PG)")
        return []
    from simulator.records import open_store

    results: list[Result] = []
    rounds = 3 if quick else 5
    with tempfile.TemporaryDirectory() as tmp, _scratch_database(url) as pg:
        folder = Path(tmp)
        open_store(pg).close()

        def db_of(side: str) -> str:
            if side in ("postgresql", "bare-postgresql"):
                _empty_postgresql(pg)
                return pg
            return fresh(folder, "sqlite.sqlite3")

        for writers, count in ((1, 100), (10, 20)) if quick else ((1, 200), (30, 30)):
            pairs = _commit_rounds(folder, db_of, writers, count, rounds, ("sqlite", "postgresql"))
            rate, spread = median_spread([o.per_second / b.per_second for b, o in pairs])
            rows = [[f"round {n + 1}", b.per_second, o.per_second, b.percentile(0.5) * 1000,
                     o.percentile(0.5) * 1000] for n, (b, o) in enumerate(pairs)]
            print(table(["", "SQLite /s", "PostgreSQL /s", "SQLite p50 ms", "PostgreSQL p50 ms"], rows,
                        title=f"{NAME}: {writers} writer(s) x {count} decisions through Store: SQLite (WAL, "
                              "synchronous=FULL) vs PostgreSQL (synchronous_commit as the server has it)"))
            print()
            results.append(Result(NAME, f"decisions per second, {writers} writer(s), PostgreSQL / SQLite", rate, None,
                                  spread=spread))
    return results


@contextlib.contextmanager
def _scratch_database(url: str) -> Iterator[str]:
    """A new database on the server at ``url`` for the benchmark, dropped afterwards."""
    import uuid

    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"crisis_sim_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(url)
    params["dbname"] = name
    try:
        yield _as_url(make_conninfo(**params))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _as_url(conninfo: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(conninfo)
    user = params.pop("user", "")
    host = params.pop("host", "")
    port = params.pop("port", "")
    name = params.pop("dbname", "")
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"postgresql://{user}{'@' if user else ''}{host}{':' + str(port) if port else ''}/{name}" + (
        f"?{query}" if query else "")


def _empty_postgresql(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, options="-c search_path=crisis_sim") as conn:
        conn.execute("DELETE FROM decisions")
        conn.execute("DELETE FROM attempts")
        conn.execute("DELETE FROM trainees")


PARTS = ("open", "startup", "commits", "dialects")


def run(quick: bool = False, parts: Sequence[str] = PARTS, url: str | None = None) -> list[Result]:
    results: list[Result] = []
    if "open" in parts:
        results += part_open(quick)
        print()
    if "startup" in parts:
        results += part_startup(quick)
    if "commits" in parts:
        results += part_commits(quick)
    if "dialects" in parts:
        results += part_dialects(quick, url)
    for result in results:
        print(result.line())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.records", description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS, action="append", help="one part (repeat for several; default: all)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgresql", metavar="URL", help="a PostgreSQL server for the dialects part")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, side, db, *rest = args.worker
        if kind == "open":
            report = worker_open(side, db, rest[0])
        else:
            report = worker_commits(side, db, int(rest[0]), int(rest[1]))
        print(json.dumps(report), flush=True)
        return 0
    run(args.quick, args.part or PARTS, args.postgresql)
    return 0


if __name__ == "__main__":
    sys.exit(main())
