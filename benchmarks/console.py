"""The instructor's console against a classroom: does watching slow the trainees, and how soon
does the console see a decision?

The classroom of ``benchmarks.classroom`` (separate processes playing real scenarios through the
real recorder into one records file, at a trainee-like ~0.3 s per decision) runs in alternating
rounds (``timing.alternate``) without and with a console poller: another process doing exactly
what ``crisis-sim console`` does every second (``ClassWatch.poll``: one short read transaction
for each trainee's newest attempt and the decisions added since the last poll, then each new
decision played on the attempt's kept session). Figures:

- the trainees' commit p50 and p95 with the console polling / without, per round (median and
  spread): "the trainees' commit times do not rise measurably";
- the console's lag: for every decision the console showed (a trainee's row counting it), the
  time from its commit (``made_at``, stamped just before the insert) to the end of the first
  poll that showed it, p50 / p95 / slowest, against the 2 s the issue asks for. Drawing the
  table adds a few milliseconds on top (not measured here; the poll is the console's whole data
  path). A decision never shown (the trainee's next attempt started before a poll saw the last
  one) has no lag: the console shows each trainee's newest attempt.

    python -m benchmarks --only console
    python -m benchmarks.console --processes 30 --attempts 3 --rounds 2 [--interval 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.classroom import REPO, run_classroom
from benchmarks.timing import Result, alternate, median_spread, table

NAME = "console"
THINK_MS = 300.0


def poller(db: str, interval: float) -> dict[str, Any]:
    """The console's polling loop until "stop" on stdin; returns, for every decision the console
    showed (a trainee's row counting it), when the poll that first showed it ended, and each
    poll's duration. What the console shows is measured, not which rows a query returned: the
    lag holds whatever way the poll reads."""
    from simulator.console.live import ClassWatch
    from simulator.records import StoreError, open_store

    print("ready", flush=True)
    store = None
    shown: list[tuple[str, int, str]] = []
    polls: list[float] = []
    cpus: list[float] = []
    counts: dict[str, int] = {}
    errors: list[str] = []
    while True:
        if select.select([sys.stdin], [], [], interval)[0]:
            break  # "stop" (or the parent went away)
        if store is None:
            try:
                store = open_store(db, create=False)
            except StoreError:
                continue  # the workers have not created it yet
            watch = ClassWatch(store)
        start, cpu = time.perf_counter(), time.process_time()
        try:
            rows = watch.poll()
        except StoreError as exc:
            errors.append(str(exc))
            continue
        polls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        done = datetime.now(UTC).isoformat()
        for row in rows:
            before = counts.get(row.attempt_id, 0)
            shown.extend((row.attempt_id, sequence, done) for sequence in range(before + 1, row.decisions + 1))
            counts[row.attempt_id] = max(before, row.decisions)
    if store is not None:
        store.close()
    return {"shown": shown, "polls": polls, "cpus": cpus, "errors": errors}


def lags_of(db: Path, shown: list[list[Any]]) -> list[float]:
    """Seconds from each shown decision's commit (``made_at``, stamped just before the insert)
    to the end of the poll that first showed it."""
    from simulator.records import open_store, parse_time

    with open_store(db, create=False, check="none") as store:
        made = {(r.attempt_id, r.sequence): r.made_at
                for rows in store.decisions_for(sorted({a for a, _, _ in shown})).values() for r in rows}
    return [(parse_time(done) - parse_time(made[(a, seq)])).total_seconds() for a, seq, done in shown]


def _start_poller(db: Path, interval: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.console", "--poller", "--db", str(db), "--interval", str(interval)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the console poller did not start: {proc.stderr.read() if proc.stderr else ''}")
    return proc


def _stop_poller(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate("stop\n", timeout=120)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the console poller failed: {err.strip()[-1000:]}")
    return json.loads(lines[-1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def measure(processes: int, attempts: int, rounds: int, interval: float) -> dict[str, Any]:
    """Alternating classroom runs without and with the console; per-round commit figures and
    the console's lags."""
    lags: list[float] = []
    polls: list[float] = []
    cpus: list[float] = []
    errors: list[str] = []
    counter = iter(range(10_000))

    def classroom(watched: bool) -> dict[str, float]:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / f"records-{next(counter)}.sqlite3"
            proc = _start_poller(db, interval) if watched else None
            try:
                result = run_classroom(db, processes, attempts, think_ms=THINK_MS)
            finally:
                seen = _stop_poller(proc) if proc is not None else None
            assert result.ok, f"{NAME}: the classroom lost or refused decisions: {result.problems[:5]}"
            if seen is not None:
                lags.extend(lags_of(db, seen["shown"]))
                polls.extend(seen["polls"])
                cpus.extend(seen["cpus"])
                errors.extend(seen["errors"])
            return {"p50": result.percentile(0.5), "p95": result.percentile(0.95),
                    "decisions": float(result.expected)}

    pairs = alternate(rounds, lambda: classroom(False), lambda: classroom(True))
    return {"pairs": pairs, "lags": lags, "polls": polls, "cpus": cpus, "errors": errors}


def run(quick: bool = False) -> list[Result]:
    processes, attempts, rounds = (10, 2, 2) if quick else (30, 3, 2)
    return report(processes, attempts, rounds, 1.0)


def report(processes: int, attempts: int, rounds: int, interval: float) -> list[Result]:
    """Measure, print the rounds, the console's figures and one line per target."""
    found = measure(processes, attempts, rounds, interval)
    pairs, lags, polls, cpus = found["pairs"], found["lags"], found["polls"], found["cpus"]
    rows = [[i + 1, f"{b['p50'] * 1000:.2f}", f"{o['p50'] * 1000:.2f}", f"{b['p95'] * 1000:.2f}",
             f"{o['p95'] * 1000:.2f}", int(o["decisions"])] for i, (b, o) in enumerate(pairs)]
    print(table(["round", "p50 ms alone", "p50 ms watched", "p95 ms alone", "p95 ms watched", "decisions watched"],
                rows, title=f"{NAME}: {processes} trainees x {attempts} attempts at ~{THINK_MS:g} ms per decision, "
                            f"without and with the console polling every {interval:g} s"))
    print(f"  console: {len(lags)} decisions seen; poll p50 {_percentile(polls, 0.5) * 1000:.1f} ms, "
          f"p95 {_percentile(polls, 0.95) * 1000:.1f} ms; lag p50 {_percentile(lags, 0.5):.2f} s, "
          f"p95 {_percentile(lags, 0.95):.2f} s, slowest {max(lags, default=0.0):.2f} s")
    print(f"  console CPU (its own process time, not inflated by the machine's load): per poll p50 "
          f"{_percentile(cpus, 0.5) * 1000:.1f} ms, p95 {_percentile(cpus, 0.95) * 1000:.1f} ms, "
          f"{sum(cpus):.2f} s over {len(cpus)} polls ({100 * sum(cpus) / max(len(cpus) * interval, 1e-9):.1f}% "
          "of one core)")
    for problem in found["errors"][:5]:
        print(f"  console error: {problem}")
    p50, p50_spread = median_spread([o["p50"] / b["p50"] for b, o in pairs])
    p95, p95_spread = median_spread([o["p95"] / b["p95"] for b, o in pairs])
    results = [
        Result(NAME, "trainees' commit p50, console polling / not", p50, 1.25, spread=p50_spread),
        Result(NAME, "trainees' commit p95, console polling / not", p95, 1.25, spread=p95_spread),
        Result(NAME, "console lag to show a decision, p95 seconds", _percentile(lags, 0.95), 2.0),
        Result(NAME, "console lag, slowest decision, seconds", max(lags, default=0.0), None),
        Result(NAME, "console CPU per poll, p95 ms", _percentile(cpus, 0.95) * 1000, None),
    ]
    for result in results:
        print(result.line())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.console", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=30)
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--poller", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.poller:
        print(json.dumps(poller(args.db, args.interval)), flush=True)
        return 0
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(args.processes, args.attempts, args.rounds, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
