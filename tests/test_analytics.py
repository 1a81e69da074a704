"""Cohort analytics (scoring.analytics): numbers checked on a hand-built cohort, computed by
hand here, properties over generated cohorts, and the real grade shape from played records."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.analytics import (
    EASY_FLAG,
    HARD_FLAG,
    NEGATIVE_FLAG,
    TOO_FEW,
    TOO_FEW_FLAG,
    analyse,
    decision_flags,
    histogram,
    point_biserial,
)
from simulator.records.rows import Attempt, DecisionRow


def review(sequence: int, scene: str, choice: str | None, *, stakes: int = 10, scored: int, good: bool,
           critical: str | None = None, better: str = "the better option") -> dict[str, Any]:
    """A stored decision review as grading method 2 writes it (only the keys analytics reads)."""
    best = stakes
    return {
        "sequence": sequence, "scene": scene, "earned": {}, "value": scored, "best_value": best,
        "credited": best if good else scored, "stakes": stakes, "scored": scored,
        "chosen": {"id": choice, "text": f"say {choice}", "critical": critical},
        "better": [] if good else [{"id": "b", "text": better}],
    }


def attempt(trainee: str, reviews: list[dict[str, Any]], *, scenario: str = "s", started: str = "2026-03-01T09:00:00Z",
            passed: bool | None = None, status: str = "completed", method: int = 2,
            dims: dict[str, float | None] | None = None, critical: list[str] = ()) -> tuple[Attempt, list[DecisionRow]]:
    scored = sum(r["scored"] for r in reviews)
    at_stake = sum(r["stakes"] for r in reviews)
    overall = round(100 * max(0, scored) / at_stake, 1) if at_stake else 0.0
    passed = (overall >= 70) if passed is None else passed
    grade: dict[str, Any] = {
        "overall": overall, "passed": passed, "method": method, "decisions": reviews,
        "dimensions": [{"id": d, "name": d.title(), "score": s} for d, s in (dims or {}).items()],
        "critical_errors": [{"id": c, "name": c.replace("_", " "), "sequence": 1} for c in critical],
    }
    if method == 2:
        grade |= {"scored": scored, "at_stake": at_stake}
    done = status == "completed"
    row = Attempt(
        id=f"{trainee}-{scenario}-{started}", trainee_id=trainee, scenario_id=scenario, scenario_version="1",
        scenario_sha256="0" * 64, scenario_path="", rubric_id="default", rubric_sha256="0" * 64, mode="assessment",
        seed=None, cohort="c", started_at=started, ended_at=started if done else None, status=status,
        overall=overall if done else None, passed=passed if done else None, ending_scene=None, ending_rating=None,
        grade_json=json.dumps(grade) if done else None, grade_method=method if done else None,
        trainee_name=trainee.upper(),
    )
    decisions = [
        DecisionRow(row.id, r["sequence"], r["scene"], r["chosen"]["id"], started, 1000, {}, {}) for r in reviews
    ]
    return row, decisions


def cohort(rows: list[tuple[Attempt, list[DecisionRow]]]) -> Any:
    return analyse([a for a, _ in rows], {a.id: d for a, d in rows})


def run(trainee: str, a: bool, b: bool, c: bool, **kw: Any) -> tuple[Attempt, list[DecisionRow]]:
    """Three decisions A, B, C of 10 points each; a good choice scores 10, a poor one 0."""
    return attempt(trainee, [
        review(1, "A", "a-good" if a else "a-poor", scored=10 * a, good=a),
        review(2, "B", "b-good" if b else None, scored=10 * b, good=b, better="wait for backup"),
        review(3, "C", "c-good" if c else "c-poor", scored=10 * c, good=c),
    ], **kw)


HAND = [
    run("t1", True, True, True),
    run("t2", True, False, True),
    run("t3", False, True, False),
    run("t4", False, False, False),
]


def test_hand_built_cohort_facility_and_discrimination():
    # By hand. Item A: t1, t2 chose well (x = 1, 1, 0, 0). Each run's score on its OTHER
    # decisions (B and C, 20 at stake): t1 20/20 = 1, t2 10/20 = .5, t3 10/20 = .5, t4 0.
    # mean x = .5, mean y = .5; cov = .25 + 0 + 0 + .25 = .5; var x = 1; var y = .25 + .25 = .5;
    # r = .5 / sqrt(1 * .5) = sqrt(.5).
    # Item B: x = 1, 0, 1, 0; other decisions (A and C): t1 1, t2 1, t3 0, t4 0: cov = 0, r = 0.
    report = cohort(HAND)
    by_scene = {d.scene: d for d in report.decisions}
    assert [d.scene for d in report.decisions] == ["A", "B", "C"]
    a, b, c = by_scene["A"], by_scene["B"], by_scene["C"]
    assert (a.reached, a.good, a.facility) == (4, 2, 0.5)
    assert a.discrimination == pytest.approx(math.sqrt(0.5))
    assert a.discrimination == pytest.approx(statistics.correlation([1, 1, 0, 0], [1, 0.5, 0.5, 0]))
    assert (b.facility, b.discrimination) == (0.5, 0.0)
    assert c.discrimination == pytest.approx(math.sqrt(0.5))
    assert a.flags == b.flags == (TOO_FEW_FLAG,)  # 4 trainees < TOO_FEW
    # options: shares with counts; the timeout is an option (None); the better option named
    shares = [(o.choice, o.count, o.share, o.good) for o in b.options]
    assert shares == [("b-good", 2, 0.5, True), (None, 2, 0.5, False)]
    assert b.better == ("wait for backup",)
    # most missed: lowest facility first; all three are at .5, then by scenario/scene
    assert [d.scene for d in report.missed()] == ["A", "B", "C"]


def test_first_attempt_only_counts_in_item_analysis_but_all_in_pass_rates():
    again = run("t4", True, True, True, started="2026-03-02T09:00:00Z")  # t4 replays and aces it
    report = cohort([*HAND, again])
    a = next(d for d in report.decisions if d.scene == "A")
    assert (a.reached, a.good) == (4, 2)  # the replay is not a fifth trainee
    s = report.scenarios[0]
    assert (s.attempts, s.completed, s.trainees, s.passed, s.trainees_passed) == (5, 5, 4, 2, 2)
    assert s.pass_rate == pytest.approx(2 / 5)
    assert s.histogram == histogram([100, 66.7, 33.3, 0, 100])
    p = report.progress[("t4", "s")]
    assert (p.attempts, p.completed, p.best, p.passed) == (2, 2, 100.0, True)


def test_negative_discrimination_is_flagged_with_enough_trainees():
    # 10 trainees: the five strongest on A and C choose poorly at B, the five weakest well.
    rows = [run(f"s{i}", True, False, True) for i in range(5)] + [run(f"w{i}", False, True, False) for i in range(5)]
    b = next(d for d in cohort(rows).decisions if d.scene == "B")
    # x = 0 for the strong (their others: 1), 1 for the weak (others 0): r = -1 exactly
    assert b.discrimination == -1.0
    assert b.flags == (NEGATIVE_FLAG,)


def test_everyone_right_is_facility_one_and_too_easy_with_no_discrimination():
    rows = [run(f"t{i}", True, i % 2 == 0, i % 3 == 0) for i in range(TOO_FEW)]
    a = next(d for d in cohort(rows).decisions if d.scene == "A")
    assert (a.facility, a.discrimination, a.flags) == (1.0, None, (EASY_FLAG,))


def test_heat_map_critical_rates_and_older_grades():
    rows = [
        run("t1", True, True, True, dims={"safety": 80.0, "talk": None}, critical=["unsafe_promise"]),
        run("t1", True, True, True, started="2026-03-03T00:00:00Z", dims={"safety": 100.0, "talk": 50.0}),
        run("t2", True, True, True, scenario="other", dims={"safety": 40.0}),
        run("t2", False, False, False, dims={"safety": 60.0}, method=1),
        run("t3", True, True, True, status="in_progress"),
    ]
    report = cohort(rows)
    assert report.dimensions == {"safety": "Safety", "talk": "Talk"}
    # latest completed attempt per scenario, averaged over scenarios
    assert report.heat[("t1", "safety")].score == 100.0
    assert report.heat[("t2", "safety")].score == 50.0 and report.heat[("t2", "safety")].scenarios == 2
    assert ("t3", "safety") not in report.heat
    s = next(x for x in report.scenarios if x.scenario_id == "s")
    assert (s.with_critical, s.critical, s.in_progress) == (1, (("unsafe_promise", "unsafe promise", 1),), 1)
    assert s.critical_rate == pytest.approx(1 / 3)
    assert report.not_analysed == 1  # t2's method-1 grade
    assert report.progress[("t3", "s")].in_progress == 1


def test_flags_thresholds():
    assert decision_flags(TOO_FEW - 1, 1.0, -0.5) == (TOO_FEW_FLAG,)
    assert decision_flags(TOO_FEW, 0.1, -0.5) == (HARD_FLAG, NEGATIVE_FLAG)
    assert decision_flags(TOO_FEW, 0.5, 0.3) == ()


# ---- properties over generated cohorts ----

choices = st.sampled_from(["x", "y", "z", None])


@st.composite
def generated_run(draw: Any, trainee: str) -> tuple[Attempt, list[DecisionRow]]:
    scenes = draw(st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=6))
    reviews = []
    for seq, scene in enumerate(scenes, 1):
        stakes = draw(st.integers(0, 20))
        good = draw(st.booleans())
        scored = stakes if good else draw(st.integers(-stakes, max(stakes - 1, -stakes)))
        reviews.append(review(seq, scene, draw(choices), stakes=stakes, scored=scored, good=good))
    return attempt(trainee, reviews, started=f"2026-03-0{draw(st.integers(1, 9))}T00:00:00Z")


@st.composite
def generated_cohort(draw: Any) -> list[tuple[Attempt, list[DecisionRow]]]:
    n = draw(st.integers(0, 25))
    return [draw(generated_run(f"t{i % max(1, n - 3)}")) for i in range(n)]


@settings(max_examples=150, deadline=None)
@given(generated_cohort())
def test_bounds_and_counts(rows):
    report = cohort(rows)
    firsts = {}
    for a, _ in sorted(rows, key=lambda r: (r[0].started_at, r[0].id)):
        firsts.setdefault(a.trainee_id, a)
    for d in report.decisions:
        assert 1 <= d.reached <= len(firsts)
        assert 0 <= d.good <= d.reached
        assert 0 <= d.facility <= 1 and d.facility == d.good / d.reached
        assert d.discrimination is None or -1 <= d.discrimination <= 1
        assert d.discrimination_runs <= d.reached
        assert sum(o.count for o in d.options) == d.reached
        assert math.isclose(sum(o.share for o in d.options), 1)
        if d.good == d.reached:
            assert d.facility == 1 and d.discrimination is None
        assert (TOO_FEW_FLAG in d.flags) == (d.reached < TOO_FEW)
        if d.too_few:
            assert d.flags == (TOO_FEW_FLAG,)
    for s in report.scenarios:
        assert sum(s.histogram) == len(s.scores) == s.completed
        assert s.passed <= s.completed <= s.attempts and s.trainees_passed <= s.trainees
        assert s.pass_rate is None or 0 <= s.pass_rate <= 1
        assert s.with_critical <= s.completed
    assert sum(p.attempts for p in report.progress.values()) == len(rows)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.fractions(-2, 2)), max_size=30))
def test_point_biserial_is_pearson_and_bounded(pairs):
    r = point_biserial(pairs)
    xs, ys = [float(x) for x, _ in pairs], [float(y) for _, y in pairs]
    if len(pairs) < 2 or len(set(xs)) < 2 or len(set(pairs_y := [y for _, y in pairs])) < 2:
        assert r is None
        return
    assert -1 <= r <= 1
    assert r == pytest.approx(statistics.correlation(xs, ys), abs=1e-9)
    assert pairs_y


# ---- the real grade shape, from played records ----


def test_played_records_are_analysed(tmp_path):
    from records_factory import FAILED_SCRIPT, play
    from scenario_factory import SAMPLE_BEST

    from simulator.records import open_store

    store = open_store(tmp_path / "r.sqlite3")
    play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
    play(store, "ben", FAILED_SCRIPT, started_at="2026-03-01T10:00:00.000Z")
    play(store, "cy", SAMPLE_BEST[:2], started_at="2026-03-01T11:00:00.000Z", finish=False)
    attempts = list(store.attempts())
    report = analyse(attempts, store.decisions_for([a.id for a in attempts]))
    assert report.not_analysed == 0 and report.item_runs == {"overpass-railing": 2}
    first = report.decisions[0]
    assert (first.reached, first.good) == (2, 1)  # ana asked dispatch; ben let the time run out
    assert {o.choice for o in first.options} == {"ask-dispatch", None}
    assert first.better  # ben is shown the better option
    assert report.progress[("cy", "overpass-railing")].in_progress == 1
    assert report.scenarios[0].with_critical == 1
    store.close()


def test_analytics_report_and_live_view_never_import_textual():
    import subprocess
    import sys

    code = (
        "import sys, scoring.analytics, simulator.cohort, simulator.cohort.tables, simulator.cohort.html, "
        "simulator.console.live, simulator.cli.instructor\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
