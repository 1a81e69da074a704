"""A classroom on one server: many processes playing real scenarios into ONE records file at once.

Each worker is a separate Python process (as each trainee's ``crisis-sim`` is): it loads the
bundled library, opens the shared records file with ``Store.open``, and plays several attempts
of random scenarios with a seeded random policy through the real recorder
(``simulator.recorder.begin`` + ``Session.subscribe``), so every decision is committed as it
is made, exactly as in play. Workers start together (they wait for a "go" on stdin once loaded)
and, by default, decide without thinking time: a worst case, far denser than real trainees.

Each worker times each of its own commits (every ``Store.write``: the trainee, the attempt,
every decision, the grade: lock wait + write + fsync) and reports, as one JSON line on stdout,
what it committed (attempt ids and the decisions whose commit returned), the commit times and
every error. The parent then reads the file and checks that every reported decision is stored
exactly once, in order, and nothing else is, and prints: processes, attempts finished,
decisions stored vs expected, lost / unexpected, errors (busy/locked and other), commit time
p50 / p95 / slowest, wall time. Baseline (same run): one worker alone, its median commit.
``python -m benchmarks`` runs the classroom twice: without pause (a stress test) and at about
0.3 s per decision (closer to a real class, where trainees take several seconds).

    python -m benchmarks --only classroom                  # 30 processes x 3 attempts
    python -m benchmarks.classroom --processes 8 --attempts 2 [--db PATH] [--think-ms 0] [--json]

The stand-alone form exits 1 when anything was lost, stored twice or unexpected, or a worker
failed or met an error; ``python -m benchmarks`` stops with an AssertionError then.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.timing import NO_CONFIG, Result, alternate, median_spread, table

NAME = "classroom"
REPO = Path(__file__).resolve().parent.parent
WAIT = 600.0
"""Seconds the parent waits for the workers before it calls it a hang."""


# ---- the worker: one trainee's process --------------------------------------------------------


def worker(number: int, db: str, attempts: int, seed: int, think_ms: float) -> dict[str, Any]:
    """Play ``attempts`` attempts into ``db``; return what was committed, the commit times, errors."""
    from scoring.catalog import load_graded
    from simulator.engine import Session
    from simulator.library import library_files
    from simulator.recorder import begin
    from simulator.records import StoreError, open_store

    library = [g for g in (load_graded(p) for p in library_files(None)) if g.ok]
    rng = random.Random(seed)
    commits: list[float] = []
    errors: list[str] = []
    played: list[dict[str, Any]] = []
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return {"worker": number, "attempts": [], "commits": [], "errors": ["no go from the parent"]}
    try:
        store = open_store(db)
    except StoreError as exc:
        return {"worker": number, "attempts": [], "commits": [], "errors": [str(exc)]}
    write = store.write

    def timed_write(sql: str, params: Sequence[Any] = (), **checks: Any) -> None:
        start = time.perf_counter()
        try:
            write(sql, params, **checks)
        finally:
            commits.append(time.perf_counter() - start)

    store.write = timed_write  # type: ignore[method-assign]
    trainee = f"trainee-{number:02d}"
    for _ in range(attempts):
        graded = rng.choice(library)
        entry: dict[str, Any] = {"id": None, "scenario": graded.scenario.id, "decisions": [], "finished": False}
        played.append(entry)
        try:
            recorder = begin(store, trainee, graded.scenario, graded.rubric, mode="assessment", front_end="app",
                             time_pressure=True,
                             trainee_name=f"Trainee {number}")
            entry["id"] = recorder.attempt_id
            session = Session(graded.scenario)
            session.subscribe(recorder)
            session.start()
            while session.waiting:
                if think_ms:
                    time.sleep(rng.uniform(0.5, 1.5) * think_ms / 1000)
                offered = session.offered()
                if offered:
                    session.choose(rng.choice(offered).id)
                else:
                    session.expire()
                last = session.decisions[-1]  # the recorder returned: it is committed
                entry["decisions"].append([last.sequence, last.scene, last.choice])
            if session.finished:
                recorder.finish(session, graded.rubric)
                entry["finished"] = True
        except StoreError as exc:
            errors.append(str(exc))
    store.close()
    return {"worker": number, "attempts": played, "commits": commits, "errors": errors}


# ---- the parent: start the classroom, check the file, print the figures -----------------------


@dataclass
class Classroom:
    """What one run found; ``ok`` means nothing lost, duplicated, unexpected or failed."""

    processes: int
    attempts_each: int
    think_ms: float
    wall: float = 0.0
    started: int = 0
    finished: int = 0
    expected: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    orphans: int = 0
    busy_errors: int = 0
    other_errors: int = 0
    failed_workers: int = 0
    integrity: str = ""
    commits: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.orphans or self.busy_errors
                    or self.other_errors or self.failed_workers or self.integrity != "ok")

    def percentile(self, q: float) -> float:
        if not self.commits:
            return 0.0
        ordered = sorted(self.commits)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "processes": self.processes, "attempts_each": self.attempts_each, "think_ms": self.think_ms,
            "attempts_started": self.started, "attempts_finished": self.finished,
            "decisions_expected": self.expected, "decisions_stored": self.stored, "lost": self.lost,
            "duplicated": self.duplicated, "unexpected": self.unexpected, "orphan_attempts": self.orphans,
            "busy_errors": self.busy_errors, "other_errors": self.other_errors,
            "failed_workers": self.failed_workers, "integrity": self.integrity, "commits": len(self.commits),
            "commit_p50_ms": round(self.percentile(0.5) * 1000, 2),
            "commit_p95_ms": round(self.percentile(0.95) * 1000, 2),
            "commit_max_ms": round(max(self.commits, default=0.0) * 1000, 2),
            "wall_s": round(self.wall, 2), "ok": self.ok, "problems": self.problems[:20],
        }


def _spawn(number: int, db: Path | str, attempts: int, seed: int, think_ms: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.classroom", "--worker", str(number), "--db", str(db),
         "--attempts", str(attempts), "--seed", str(seed), "--think-ms", str(think_ms)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )


def _wait_ready(proc: subprocess.Popen[str], deadline: float) -> bool:
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            return proc.stdout.readline().strip() == "ready"
        if proc.poll() is not None:
            return False
    return False


def run_classroom(
    db: Path | str, processes: int, attempts: int, *, seed: int = 2026, think_ms: float = 0.0
) -> Classroom:
    """Start the classroom on ``db`` (created by the workers if missing), wait, check, report."""
    result = Classroom(processes, attempts, think_ms)
    procs = [_spawn(n, db, attempts, seed + n, think_ms) for n in range(processes)]
    try:
        deadline = time.monotonic() + WAIT
        for n, proc in enumerate(procs):
            if not _wait_ready(proc, deadline):
                result.failed_workers += 1
                result.problems.append(f"worker {n} did not get ready")
        start = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write("go\n")
                proc.stdin.flush()
        for n, proc in enumerate(procs):
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            lines = [line for line in out.splitlines() if line.startswith("{")]
            if proc.returncode != 0 or not lines:
                result.failed_workers += 1
                result.problems.append(f"worker {n} exited {proc.returncode}: {err.strip()[-300:]}")
                continue
            result.reports.append(json.loads(lines[-1]))
        result.wall = time.perf_counter() - start
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    _check(db, result)
    return result


def _check(db: Path | str, result: Classroom) -> None:
    """Compare what the workers committed with what the file holds."""
    reported: dict[str, list[tuple[int, str, str | None]]] = {}
    finished: set[str] = set()
    for report in result.reports:
        result.commits += report["commits"]
        for message in report["errors"]:
            if "locked" in message or "busy" in message:
                result.busy_errors += 1
            else:
                result.other_errors += 1
            result.problems.append(f"worker {report['worker']}: {message}")
        for attempt in report["attempts"]:
            if attempt["id"] is None:
                continue
            reported[attempt["id"]] = [tuple(d) for d in attempt["decisions"]]  # type: ignore[misc]
            if attempt["finished"]:
                finished.add(attempt["id"])
    result.started = len(reported)
    result.finished = len(finished)
    result.expected = sum(len(log) for log in reported.values())
    if isinstance(db, Path) and not db.exists():
        result.integrity = "no records file"
        return
    statuses, rows = _read_back(db, result)
    stored: dict[str, list[tuple[int, str, str | None]]] = {}
    for aid, seq, scene, choice, copies in rows:
        stored.setdefault(aid, []).append((seq, scene, choice))
        result.duplicated += copies > 1
    result.stored = sum(len(stored.get(a, [])) for a in reported)
    for aid, log in reported.items():
        have = stored.get(aid, [])
        missing = [d for d in log if d not in have]
        extra = [d for d in have if d not in log]
        result.lost += len(missing)
        result.unexpected += len(extra)
        if missing or extra:
            result.problems.append(f"attempt {aid[:8]}: {len(missing)} lost, {len(extra)} unexpected")
        elif have != sorted(have):
            result.problems.append(f"attempt {aid[:8]}: decisions out of order")
            result.unexpected += 1
        want = "completed" if aid in finished else "in_progress"
        if statuses.get(aid) != want:
            result.problems.append(f"attempt {aid[:8]}: status {statuses.get(aid)}, expected {want}")
            result.other_errors += 1
    orphans = set(statuses) - set(reported)
    result.orphans = len(orphans)
    result.unexpected += sum(len(stored.get(a, [])) for a in orphans)


def _read_back(db: Path | str, result: Classroom) -> tuple[dict[str, str], list[tuple[Any, ...]]]:
    """Every attempt's status and every stored decision (with how many copies of it), read
    independently of the workers: SQLite through a read-only connection, PostgreSQL through
    the records interface's checked open."""
    query = ("SELECT attempt_id, sequence, scene, choice, count(*) OVER (PARTITION BY attempt_id, sequence) "
             "FROM decisions ORDER BY attempt_id, sequence")
    if isinstance(db, str):
        from simulator.records import StoreError, open_store

        try:
            with open_store(db, create=False) as store:
                store.check_integrity()
                result.integrity = "ok"
                return ({a.id: a.status for a in store.attempts()}, [tuple(r) for r in store._query(query)])
        except StoreError as exc:
            result.integrity = str(exc)
            return {}, []
    with contextlib.closing(sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)) as conn:
        result.integrity = "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
        return dict(conn.execute("SELECT id, status FROM attempts")), conn.execute(query).fetchall()


def figures(result: Classroom, title: str) -> str:
    s = result.summary()
    rows = [
        ["processes", s["processes"]],
        ["attempts started / finished", f"{s['attempts_started']} / {s['attempts_finished']} "
                                        f"(of {result.processes * result.attempts_each})"],
        ["decisions stored / expected", f"{s['decisions_stored']} / {s['decisions_expected']}"],
        ["lost / duplicated / unexpected", f"{s['lost']} / {s['duplicated']} / {s['unexpected']}"],
        ["errors busy-locked / other", f"{s['busy_errors']} / {s['other_errors']}"],
        ["failed workers", s["failed_workers"]],
        ["integrity_check", s["integrity"]],
        ["commits timed", s["commits"]],
        ["commit p50 ms", s["commit_p50_ms"]],
        ["commit p95 ms", s["commit_p95_ms"]],
        ["slowest commit ms", s["commit_max_ms"]],
        ["wall time s", s["wall_s"]],
        ["decisions per second", round(s["decisions_expected"] / result.wall, 1) if result.wall else 0],
    ]
    return table(["figure", "value"], rows, title=title)


# ---- a class opening crisis-sim serve at once (browser tabs as websocket clients) ----------------


@dataclass
class Opening:
    """Seconds from opening the websocket to the first library screen, for each tab of one wave."""

    tabs: int
    seconds: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.seconds) or [float("nan")]
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class ServeForClass:
    """``crisis-sim serve --port 0`` as its own process, on its own records file and cache folder
    (``cache=False``: an unusable cache folder, so every app process validates the library, as
    before the validated-library cache)."""

    def __init__(self, folder: Path, *, cache: bool, tabs: int):
        env = {**os.environ, "CRISIS_SIM_DB": str(folder / "records.sqlite3"), "CRISIS_SIM_CONFIG": NO_CONFIG,
               "XDG_STATE_HOME": str(folder / "state"), "XDG_DATA_HOME": str(folder / "data")}
        cache_home = folder / "cache"
        if not cache:
            cache_home.write_text("not a folder: no cache\n")
        env["XDG_CACHE_HOME"] = str(cache_home)
        self.log = folder / "serve.log"
        self.waves = 0
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--max-sessions", str(tabs + 5),
                 "--max-per-trainee", "1"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = re.search(r"serving the app at (\S+) ", self.log.read_text(errors="replace"))
            if found:
                self.url = found.group(1)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"serve did not start: {self.log.read_text(errors='replace')[-500:]}")

    def apps(self) -> int:
        """App processes of this server still alive (found by the server pid in their environment)."""
        mark = f"CRISIS_SIM_SERVE_PARENT={self.process.pid}".encode()
        alive = 0
        for entry in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if entry.name.isdigit() and mark in (entry / "environ").read_bytes().split(b"\0"):
                    alive += (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        return alive

    def wave(self, tabs: int) -> Opening:
        """``tabs`` browser tabs (new trainees) opened at once; returns once every app process has
        ended again."""
        self.waves += 1
        result = asyncio.run(_open_tabs(self.url, tabs, self.waves * 1000))
        deadline = time.monotonic() + 60
        while self.apps() and time.monotonic() < deadline:
            time.sleep(0.2)
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def _open_tabs(url: str, tabs: int, first: int) -> Opening:
    import aiohttp
    import pyte

    result = Opening(tabs)
    width, height = 120, 36

    async def tab(number: int, session: aiohttp.ClientSession, go: asyncio.Event) -> None:
        trainee = f"bench-{first + number}"
        screen = pyte.Screen(width, height)
        stream = pyte.ByteStream(screen)
        await go.wait()
        start = time.perf_counter()
        try:
            async with session.ws_connect(f"{url}/ws?width={width}&height={height}",
                                          headers={"X-Remote-User": trainee, "Origin": url}) as ws:
                await ws.send_str(json.dumps(["resize", {"width": width, "height": height}]))
                want = f"signed in as {trainee}"
                while not any(want in line for line in screen.display):
                    message = await asyncio.wait_for(ws.receive(), 300)
                    if message.type != aiohttp.WSMsgType.BINARY:
                        raise RuntimeError(f"the websocket closed ({message.type.name})")
                    stream.feed(message.data)
                result.seconds.append(time.perf_counter() - start)
        except Exception as exc:  # one failed tab is reported, the others still count
            result.failed.append(f"{trainee}: {type(exc).__name__}: {exc}")

    go = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(tab(n, session, go)) for n in range(tabs)]
        await asyncio.sleep(0.1)
        go.set()
        await asyncio.gather(*tasks)
    return result


def _opening_rounds(cache: bool, tabs: int, rounds: int) -> list[tuple[Opening, Opening]]:
    """(one tab alone, ``tabs`` at once) for each round, alternating, on one server."""
    with tempfile.TemporaryDirectory() as tmp:
        server = ServeForClass(Path(tmp), cache=cache, tabs=tabs)
        try:
            return alternate(rounds, lambda: server.wave(1), lambda: server.wave(tabs))
        finally:
            server.stop()


def part_serve(quick: bool, tabs: int | None = None) -> list[Result]:
    """One tab alone (the baseline), then the class's tabs all at once, alternating, on a
    server whose app processes read the validated-library cache, and once on one without it."""
    rounds = 1 if quick else 2
    tabs = tabs or (10 if quick else 30)
    results: list[Result] = []
    for cache in (True, False):
        pairs = _opening_rounds(cache, tabs, rounds if cache else 1)
        problems = [p for solo, crowd in pairs for p in solo.failed + crowd.failed]
        for problem in problems[:10]:
            print(f"  problem: {problem}")
        assert not problems, f"{NAME}: {len(problems)} tab(s) never showed the library"
        where = "with" if cache else "WITHOUT"
        rows = [[f"round {n + 1}", solo.seconds[0], crowd.percentile(0.5), crowd.percentile(0.95), max(crowd.seconds)]
                for n, (solo, crowd) in enumerate(pairs)]
        print(table(["", "one tab s", f"{tabs} tabs p50 s", f"{tabs} tabs p95 s", "slowest s"], rows,
                    title=f"{NAME}: time to the first library screen through crisis-sim serve, {where} the "
                          "validated-library cache"))
        print()
        ratio, spread = median_spread([crowd.percentile(0.95) / solo.seconds[0] for solo, crowd in pairs])
        seconds, seconds_spread = median_spread([crowd.percentile(0.95) for _, crowd in pairs])
        if cache:
            results.append(Result(NAME, f"first screen p95, {tabs} tabs at once / one tab alone", ratio,
                                  float(tabs) / 2, spread=spread))
            results.append(Result(NAME, f"first screen p95, {tabs} tabs at once, seconds", seconds, 10.0,
                                  spread=seconds_spread))
        else:
            results.append(Result(NAME, "the same without the cache: p95 / one tab alone", ratio, None,
                                  spread=spread))
            results.append(Result(NAME, "the same without the cache: p95 seconds", seconds, None,
                                  spread=seconds_spread))
    return results


# ---- the same class on PostgreSQL --------------------------------------------------------------


@contextlib.contextmanager
def postgresql_url() -> Iterator[str | None]:
    """A PostgreSQL database for the classroom: ``CRISIS_SIM_BENCH_PG``'s server, or a private
    cluster (``tests/pg_cluster.py``) when PostgreSQL is installed; None without either."""
    url = os.environ.get("CRISIS_SIM_BENCH_PG")
    cluster = None
    if not url:
        sys.path.insert(0, str(REPO / "tests"))
        try:
            import pg_cluster

            cluster = pg_cluster.start()
        except (ImportError, RuntimeError) as exc:
            print(f"{NAME}: PostgreSQL part skipped: {exc}")
            yield None
            return
        url = cluster.url()
    from benchmarks.records import _scratch_database

    try:
        with _scratch_database(url) as scratch:
            yield scratch
    finally:
        if cluster is not None:
            cluster.stop()


def run(quick: bool = False) -> list[Result]:
    """Three runs: one process alone (the baseline), the classroom deciding as fast as it can
    (a stress test: the write lock is almost never free, and SQLite's busy wait, a sleep and
    retry, is not a queue, so the slowest commit shows how long an unlucky process can wait),
    and the classroom at a trainee-like pace (a few tenths of a second per decision; real
    trainees take several seconds)."""
    processes, attempts = (10, 2) if quick else (30, 3)
    think = 300.0
    with tempfile.TemporaryDirectory() as tmp:
        solo = run_classroom(Path(tmp) / "solo.sqlite3", 1, attempts)
        print(figures(solo, f"{NAME}: baseline, one process alone ({attempts} attempts)"))
        print()
        crowd = run_classroom(Path(tmp) / "records.sqlite3", processes, attempts)
        print(figures(crowd, f"{NAME}: {processes} processes x {attempts} attempts into one records file, no pause"))
        print()
        paced = run_classroom(Path(tmp) / "paced.sqlite3", processes, attempts, think_ms=think)
        print(figures(paced, f"{NAME}: the same, ~{think:g} ms to think before each decision"))
    for problem in (crowd.problems + paced.problems)[:20]:
        print(f"  problem: {problem}")
    assert solo.ok and crowd.ok and paced.ok, f"{NAME}: the records file lost, duplicated or refused decisions"
    base = solo.percentile(0.5) or 1e-9
    results = [
        Result(NAME, f"commit p95, {processes} processes without pause / one process's median commit",
               crowd.percentile(0.95) / base, float(processes)),
        Result(NAME, "slowest commit without pause, seconds (busy timeout: 15)", max(crowd.commits, default=0.0),
               10.0),
        Result(NAME, f"slowest commit at ~{think:g} ms per decision, seconds", max(paced.commits, default=0.0), 2.0),
    ]
    with postgresql_url() as pg:
        if pg is not None:
            on_pg = run_classroom(pg, processes, attempts)
            print(figures(on_pg, f"{NAME}: {processes} processes x {attempts} attempts into one PostgreSQL database, "
                                 "no pause"))
            print()
            for problem in on_pg.problems[:20]:
                print(f"  problem: {problem}")
            assert on_pg.ok, f"{NAME}: the PostgreSQL store lost, duplicated or refused decisions"
            rate = (on_pg.expected / on_pg.wall) / (crowd.expected / crowd.wall)
            results.append(Result(NAME, f"decisions committed per second, {processes} processes, PostgreSQL / SQLite",
                                  rate, None))
            results.append(Result(NAME, "slowest commit without pause on PostgreSQL, seconds",
                                  max(on_pg.commits, default=0.0), 10.0))
    results += part_serve(quick)
    for result in results:
        print(result.line())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classroom", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=30)
    parser.add_argument("--attempts", type=int, default=3, help="attempts each process plays")
    parser.add_argument("--db", help="the records file or a postgresql:// URL (default: a new file in a temporary "
                        "folder)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--think-ms", type=float, default=0.0, help="mean thinking time before each decision")
    parser.add_argument("--json", action="store_true", help="print the figures and every worker's report as JSON")
    parser.add_argument("--serve", action="store_true", help="only the serve part: the class's browser tabs "
                        "opening at once against crisis-sim serve, vs one tab alone (--processes tabs)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        for result in part_serve(quick=args.processes <= 10, tabs=args.processes):
            print(result.line())
        return 0
    if args.worker is not None:
        print(json.dumps(worker(args.worker, str(args.db), args.attempts, args.seed, args.think_ms)), flush=True)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        given = args.db or str(Path(tmp) / "records.sqlite3")
        db = given if given.startswith("postgresql://") else Path(given)
        result = run_classroom(db, args.processes, args.attempts, seed=args.seed, think_ms=args.think_ms)
    if args.json:
        print(json.dumps({**result.summary(), "reports": result.reports}))
    else:
        print(figures(result, f"{NAME}: {args.processes} processes x {args.attempts} attempts into one records file"))
        for problem in result.problems[:20]:
            print(f"  problem: {problem}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
