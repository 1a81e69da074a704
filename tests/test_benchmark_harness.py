"""The benchmark harness (``benchmarks/timing.py``) measures what it says: the same collector
setting on both sides of a comparison, alternating rounds with a median ratio and its spread, and
the peak memory of the process that did the work. No timing is asserted here: only that the
harness is honest about what it times.
"""

from __future__ import annotations

import contextlib
import gc
import time

import pytest

from benchmarks import BENCHMARKS
from benchmarks.timing import Result, child, compare, repeat


@pytest.mark.parametrize("collector", ["off", "on"])
def test_both_sides_of_a_comparison_run_with_the_same_collector_setting(collector):
    seen: dict[str, list[bool]] = {"baseline": [], "ours": []}

    def baseline():
        seen["baseline"].append(gc.isenabled())

    def ours():
        seen["ours"].append(gc.isenabled())

    was = gc.isenabled()
    compare(baseline, ours, 3, collector=collector)
    assert seen["baseline"] == seen["ours"] == [collector == "on"] * 3
    assert gc.isenabled() == was  # restored afterwards


def test_rounds_alternate_and_the_ratio_is_the_median_of_the_rounds():
    order: list[str] = []
    sleeps = iter([0.01, 0.03, 0.05, 0.01, 0.01, 0.02])  # B O / O B / B O: ratios 3, 5, 2

    def call(name: str) -> None:
        order.append(name)
        time.sleep(next(sleeps))

    pair = compare(lambda: call("b"), lambda: call("o"), 3)
    assert order == ["b", "o", "o", "b", "b", "o"]
    assert len(pair.ratios) == 3
    low, high = pair.spread
    assert low <= pair.ratio <= high and low < high
    assert pair.ratio == sorted(pair.ratios)[1]


def test_repeat_times_every_round_and_keeps_the_last_value():
    calls = iter(range(4))
    timing = repeat(lambda: next(calls), 4)
    assert len(timing.runs) == 4 and timing.value == 3
    assert timing.spread[0] <= timing.median <= timing.spread[1]


def test_a_child_reports_its_own_peak_memory_not_the_parents():
    """Linux keeps ru_maxrss across fork and exec: a small child of a big parent reported the
    parent's peak (3.9 GB for a 50 MiB export)."""
    ballast = bytearray(300 * 1024 * 1024)
    for i in range(0, len(ballast), 4096):  # touch every page so it is resident
        ballast[i] = 1
    small = child("x = 1\n")
    big = child("x = bytearray(120 * 1024 * 1024)\nfor i in range(0, len(x), 4096): x[i] = 1\n")
    del ballast
    assert small.peak_mib < 100, small
    assert big.peak_mib > small.peak_mib + 100, (small, big)


def test_the_export_benchmark_measures_the_export_process_itself(tmp_path):
    from benchmarks import export

    db = tmp_path / "records.sqlite3"
    export.build(db, 20)
    ballast = bytearray(300 * 1024 * 1024)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    peak = export.peak_mib(db, "csv")
    del ballast
    assert 10 < peak < 200, peak


def test_a_failing_child_is_an_error_with_its_message():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        child("1 / 0\n")


def test_results_say_met_or_not_met_next_to_the_target():
    assert Result("b", "ratio", 1.2, 1.5, (1.1, 1.4)).verdict == "met"
    assert Result("b", "ratio", 1.6, 1.5).verdict == "not met"
    assert Result("b", "throughput", 0.95, 0.9, at_least=True).verdict == "met"
    assert Result("b", "throughput", 0.8, 0.9, at_least=True).verdict == "not met"
    info = Result("b", "peak", 50.0, None, unit=" MiB")
    assert info.verdict == "info" and info.passed
    line = Result("b", "ratio", 1.25, 1.5, (1.1, 1.4)).line()
    assert line == "ratio: 1.250 (spread 1.100-1.400); target <= 1.5: met"


def test_every_benchmark_module_has_a_run_function():
    import importlib

    for name, module in BENCHMARKS.items():
        assert callable(importlib.import_module(module).run), name


def test_the_commits_benchmark_stops_when_the_store_does_not_hold_every_decision_once(tmp_path):
    """The records commits figures count only rounds whose file holds every decision the
    writers reported committed, once: a file that holds one more (or fewer) stops the run."""
    import sqlite3

    from benchmarks import records

    pairs = records._commit_rounds(tmp_path, lambda side: records.fresh(tmp_path, f"{side}.sqlite3"), 2, 3, 1)
    assert [len(crowd.commits) for pair in pairs for crowd in pair] == [6, 6]

    def one_too_many(side: str) -> str:
        db, when = records.fresh(tmp_path, f"{side}.sqlite3"), "2026-01-01T00:00:00Z"
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
            conn.execute("INSERT INTO trainees (id, display_name, created_at) VALUES ('x', 'x', ?)", (when,))
            conn.execute(records._INSERT_ATTEMPT, ("a", "x", when))
            conn.execute(records._INSERT_DECISION, ("a", 1, "s", "c", when, 1, "{}", "{}"))
        return db

    with pytest.raises(RuntimeError, match="bare reported 6 commits and the store holds 7 decisions, not 6"):
        records._commit_rounds(tmp_path, one_too_many, 2, 3, 1)
