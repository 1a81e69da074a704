"""The benchmark harness: what every benchmark in this folder measures with, so the figures mean
the same thing everywhere.

- ``alternate(rounds, baseline, ours)``: each round's pair of results, the order swapped every
  round, so a burst of load from another process or a slow drift hits both sides (for figures
  that are not a call's own time: a crowd of processes' p95, a child's wall time), and
  ``median_spread`` of the per-round figures.
- ``compare(baseline, ours, repeats)``: the two calls timed with ``alternate``, with the **same
  garbage-collector setting on both sides** (off by default: a full collection runs before each
  call, outside the timed part, and the collector stays off during it). The answer is the
  **median of the per-round ratios** with their spread (min-max), never a best-of-N, which flips
  verdicts with machine load alone.
- ``repeat(fn, repeats)``: one call timed the same way, for figures with no baseline.
- ``child(code, ...)``: a fresh Python process that reports its **own** peak memory. Linux keeps
  a process's ``ru_maxrss`` across fork and exec, so a child started by a benchmark that already
  holds gigabytes reports the parent's peak (the export benchmark once read 3.9 GB for a 50 MiB
  process); the child reads ``VmHWM`` from ``/proc/self/status`` instead, which starts afresh at
  exec.
- ``Result``: one target, with its value, spread, target and ``met`` / ``not met``.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

REPO = Path(__file__).resolve().parent.parent
NO_CONFIG = str(Path(tempfile.gettempdir()) / "crisis-sim-bench-no-such-folder" / "config.toml")
"""``CRISIS_SIM_CONFIG`` for benchmark processes: a config file that does not exist, so every
setting is its default (not /dev/null: a config that is not a regular file is refused)."""
Collector = Literal["off", "on"]
T = TypeVar("T")


@dataclass
class Timing:
    """Seconds for each repeat of one measured call, plus the last call's return value (set
    ``value`` to None once checked, to free a large result)."""

    runs: tuple[float, ...] = ()
    value: Any = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.runs), max(self.runs)


@dataclass
class Comparison:
    """Alternating rounds of a baseline and our code, each round giving one ratio."""

    baseline: Timing = field(default_factory=Timing)
    ours: Timing = field(default_factory=Timing)
    collector: Collector = "off"

    @property
    def ratios(self) -> tuple[float, ...]:
        """ours / baseline for each round (the two calls of a round ran back to back)."""
        return tuple(o / b for o, b in zip(self.ours.runs, self.baseline.runs, strict=True))

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.ratios), max(self.ratios)


def timed(fn: Callable[[], Any], collector: Collector = "off") -> tuple[float, Any]:
    """One call of ``fn``: a full collection first (not timed), then the call with the
    collector ``off`` or ``on``; the collector's earlier state is restored afterwards."""
    was_enabled = gc.isenabled()
    gc.collect()
    if collector == "off":
        gc.disable()
    else:
        gc.enable()
    try:
        start = time.perf_counter()
        value = fn()
        return time.perf_counter() - start, value
    finally:
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def alternate(rounds: int, baseline: Callable[[], T], ours: Callable[[], T]) -> list[tuple[T, T]]:
    """``rounds`` pairs (the baseline's result, ours), the order swapped every round (B O, O B,
    B O...), so a burst of load or a slow drift hits both sides. For figures other than a call's
    own time (a crowd of processes' p95, a child's wall time); ``compare`` times calls with it."""
    pairs = []
    for round_ in range(max(1, rounds)):
        if round_ % 2 == 0:
            b = baseline()
            o = ours()
        else:
            o = ours()
            b = baseline()
        pairs.append((b, o))
    return pairs


def median_spread(values: Sequence[float]) -> tuple[float, tuple[float, float]]:
    """The median of per-round figures and their spread (min, max)."""
    return statistics.median(values), (min(values), max(values))


def compare(
    baseline: Callable[[], Any],
    ours: Callable[[], Any],
    repeats: int = 5,
    *,
    collector: Collector = "off",
) -> Comparison:
    """Time ``baseline`` and ``ours`` ``repeats`` times each, alternating (``alternate``), with
    the same collector setting for both. Only the last return value of each is kept; earlier
    ones are freed before the next call."""
    result = Comparison(collector=collector)

    def side(timing: Timing, fn: Callable[[], Any]) -> Callable[[], None]:
        def call() -> None:
            timing.value = None  # free the previous result before collecting
            seconds, timing.value = timed(fn, collector)
            timing.runs += (seconds,)

        return call

    alternate(repeats, side(result.baseline, baseline), side(result.ours, ours))
    return result


def repeat(fn: Callable[[], Any], repeats: int = 3, *, collector: Collector = "off") -> Timing:
    """Time ``fn`` ``repeats`` times, each call like one side of ``compare``."""
    timing = Timing()
    for _ in range(max(1, repeats)):
        timing.value = None
        seconds, timing.value = timed(fn, collector)
        timing.runs += (seconds,)
    return timing


# ---- fresh child processes -------------------------------------------------------------------

PEAK_MARK = "@@crisis-sim-bench-peak-kib "
_PEAK_PRELUDE = f"""
import atexit as _atexit, sys as _sys

def _report_peak():
    try:
        with open('/proc/self/status') as fh:
            kib = next(int(line.split()[1]) for line in fh if line.startswith('VmHWM:'))
    except (OSError, StopIteration):
        import resource
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if _sys.platform == 'darwin':
            kib //= 1024
    _sys.stdout.flush()
    print({PEAK_MARK!r} + str(kib), file=_sys.stderr, flush=True)

_atexit.register(_report_peak)
"""


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: wall seconds (start to exit, imports included), its own peak
    resident memory in MiB, and what it printed on stdout."""

    seconds: float
    peak_mib: float
    stdout: str


def child(
    code: str,
    *args: str,
    env: dict[str, str] | None = None,
    stdout: bool = False,
    cwd: Path = REPO,
) -> ChildRun:
    """Run ``code`` in a fresh ``python -c`` (arguments in ``sys.argv[1:]``) and return its wall
    time and its own peak memory (``VmHWM``, not the ``ru_maxrss`` it inherits from this process;
    ``ru_maxrss`` only where there is no ``/proc``). Raises ``RuntimeError`` with its stderr when
    the child fails. ``stdout=False`` sends its output to /dev/null."""
    environment = {**os.environ, "CRISIS_SIM_CONFIG": NO_CONFIG, **(env or {})}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_PRELUDE + code, *args],
        stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=cwd,
    )
    seconds = time.perf_counter() - start
    marks = [line for line in done.stderr.splitlines() if line.startswith(PEAK_MARK)]
    if done.returncode != 0 or not marks:
        raise RuntimeError(f"benchmark child exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return ChildRun(seconds, int(marks[-1][len(PEAK_MARK) :]) / 1024, done.stdout or "")


# ---- results and tables ----------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One target a benchmark checks: the value (a median), its spread over the rounds, and the
    target it is held to (``<=``, or ``>=`` with ``at_least``). ``target=None`` is a figure
    printed for information, with no verdict."""

    benchmark: str
    metric: str
    value: float
    target: float | None
    spread: tuple[float, float] | None = None
    at_least: bool = False
    unit: str = ""

    @property
    def passed(self) -> bool:
        if self.target is None:
            return True
        return self.value >= self.target if self.at_least else self.value <= self.target

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "met" if self.passed else "not met"

    @property
    def shown_target(self) -> str:
        if self.target is None:
            return "-"
        return f"{'>=' if self.at_least else '<='} {self.target:g}{self.unit}"

    @property
    def shown_spread(self) -> str:
        if self.spread is None:
            return "-"
        low, high = self.spread
        return f"{_fmt(low)}-{_fmt(high)}"

    def row(self) -> list[Any]:
        return [self.metric, self.value, self.shown_spread, self.shown_target, self.verdict]

    def line(self) -> str:
        """The result as one sentence, for the end of a benchmark's own output."""
        spread = "" if self.spread is None else f" (spread {self.shown_spread})"
        target = "" if self.target is None else f"; target {self.shown_target}: {self.verdict}"
        return f"{self.metric}: {_fmt(self.value)}{self.unit}{spread}{target}"


RESULT_HEADERS = ["metric", "median", "spread (min-max)", "target", "verdict"]


def results_table(results: Sequence[Result], title: str) -> str:
    return table(RESULT_HEADERS, [r.row() for r in results], title=title)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str = "") -> str:
    """A fixed-width text table; numbers are right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out.append(line(cells[0]))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
