"""Shared helpers: repeated timing with ``time.perf_counter`` and a plain table printer."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Timing:
    """Seconds for each repeat of one measured call, plus the last call's return value
    (set ``value`` to None once checked, to free a large result)."""

    runs: tuple[float, ...]
    value: Any = None

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def measure(fn: Callable[[], Any], repeats: int = 3) -> Timing:
    """Call ``fn`` ``repeats`` times; time each call with ``perf_counter``.

    A full garbage collection runs before each call (outside the timed part) so one call's
    garbage is not billed to the next. The collector stays on during the call: real loads
    pay for it too, and it applies to the baseline and to our code alike.
    """
    return measure_pair(fn, None, repeats)[0]


def measure_pair(
    baseline: Callable[[], Any], ours: Callable[[], Any] | None, repeats: int = 3
) -> tuple[Timing, Timing]:
    """Time two calls in alternation (baseline, ours, baseline, ours, ...), so that a burst of
    load from other processes on a shared machine hits both rather than only one of them.
    Only the last return value of each is kept; earlier ones are freed before the next call.
    """
    timings = (Timing(()), Timing(()))
    for _ in range(max(1, repeats)):
        for timing, fn in zip(timings, (baseline, ours), strict=True):
            if fn is None:
                continue
            timing.value = None  # free the previous result before collecting
            seconds, timing.value = _timed(fn)
            timing.runs += (seconds,)
    return timings


@dataclass(frozen=True)
class Result:
    """One figure a benchmark checks against its target, for the summary table: the value (a
    ratio, usually a median over rounds), its spread (min-max over the rounds, when there were
    rounds) and the target it is held to (``<=``, or ``>=`` with ``at_least``; None: printed for
    information, no verdict)."""

    benchmark: str
    metric: str
    value: float
    target: float | None
    note: str = ""
    spread: tuple[float, float] | None = None
    at_least: bool = False

    @property
    def passed(self) -> bool:
        if self.target is None:
            return True
        return self.value >= self.target if self.at_least else self.value <= self.target

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "PASS" if self.passed else "FAIL"

    @property
    def shown_target(self) -> str:
        return "-" if self.target is None else f"{'>=' if self.at_least else '<='} {self.target:g}"

    @property
    def shown_spread(self) -> str:
        return "-" if self.spread is None else f"{_fmt(self.spread[0])}-{_fmt(self.spread[1])}"

    def line(self) -> str:
        """The result as one sentence, for the end of a benchmark's own output."""
        spread = "" if self.spread is None else f" (spread {self.shown_spread})"
        target = "" if self.target is None else f"; target {self.shown_target}: {self.verdict}"
        return f"{self.metric}: {_fmt(self.value)}{spread}{target}"


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
