"""Invariants of grading method 2, as hypothesis properties over GENERATED scenarios and decision
logs (``scenario_factory.graded_scenarios``), not only the bundled library:

- a path that takes a best option (or an ``acceptable`` one) at every decision scores exactly 100,
  and 100 in every applicable dimension, and passes when its ending's rating may pass;
- a path that takes the worst option at every decision scores 0 when every decision offered an
  option worth 0 or less (a decision that offers only positive options has no "wrong" choice);
- every dimension and principle is not applicable or in 0..100, and no debrief line shows earned
  above possible, a possible of 0 or less with a score, or a score resting on no decision;
- monotonic: a higher-credited option that leads to the same state never lowers the score or a
  dimension;
- a run that does not pass reports a score below its pass mark in every place one score is shown
  or exported: the debrief headline, ``results``, CSV ``overall``, JSON Lines, xAPI ``result.score``;
- grading is a pure function of (scenario, rubric, decisions);
- analyze's check of grades against endings misses no good ending that random play reaches with
  a failing grade, and every disagreement it reports replays as it says.

The options' credit is computed here from the rule as docs/scoring.md states it, not by calling
the grading module's own judge, so a change to the rule is caught. Planted bugs (full marks where
nothing positive was on offer, method 1's mistake; ignoring ``acceptable``; a weaker choice
scoring more; analyze's check losing its pass margins) are shown to be found by these properties
with the CI budget (``test_the_budget_finds_planted_bugs``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from fractions import Fraction

import pytest
from hypothesis import Phase, event, given, note, settings
from hypothesis import strategies as st
from scenario_factory import graded_scenarios

import scoring.grading as grading
from scoring.analysis import Explorer
from scoring.grading import Judgement, grade, option_value
from scoring.report import format_grade
from simulator.engine import Session

SCENARIOS = graded_scenarios()


# ---- the rule, restated from docs/scoring.md --------------------------------------------------


def options_on_offer(session: Session) -> list:
    scene = session.scenario.scenes[session.scene]
    return [*session.offered(), *([scene.timeout] if scene.timeout else [])]


def credits(options: list, rubric) -> tuple[list[int], int | None]:
    """Each option's credited value and b (None when only critical errors are on offer)."""
    values = [option_value(o.scores, rubric) for o in options]
    safe = [v for o, v in zip(options, values, strict=True) if not o.critical]
    if not safe:
        return [min(0, min(values))] * len(options), None
    best = max(safe)
    floor = min(0, min(values))
    return [floor if o.critical else best if o.acceptable else v for o, v in zip(options, values, strict=True)], best


def option_id(session: Session, option) -> str | None:
    """The choice id of ``option`` on offer in ``session``, None for the timeout."""
    return option.id if any(option is c for c in session.offered()) else None


def take(session: Session, option) -> None:
    choice = option_id(session, option)
    session.expire() if choice is None else session.choose(choice)


def walk(scenario, rubric, pick) -> Session:
    """Play until the end, ``pick(options, credited, best)`` choosing each time."""
    session = Session(scenario)
    session.start()
    while session.waiting:
        options = options_on_offer(session)
        credited, best = credits(options, rubric)
        take(session, pick(options, credited, best))
    return session


def state(session: Session) -> tuple:
    return session.scene, dict(session.meters), dict(session.flags), dict(session.visits), session.finished


DIMENSION_LINE = re.compile(
    r"^  (?P<name>.{24}) (?:  n/a  never at stake|(?P<score>[ \d.]{5})  at stake in (?P<n>\d+) decisions?)$"
)


def check_debrief_lines(g) -> None:
    """The dimension lines of the plain debrief keep the invariant: a score in 0..100 resting on
    at least one decision, or n/a; never an 'earned / possible' pair."""
    text = format_grade(g)
    assert not re.search(r"-?\d+ / -?\d+", text), text
    block = text.split("Dimensions (score 0-100, and the decisions it rests on):\n", 1)[1].split("\n\n", 1)[0]
    lines = block.splitlines()
    assert len(lines) == len(g.dimensions)
    for line, d in zip(lines, g.dimensions, strict=True):
        m = DIMENSION_LINE.match(line)
        assert m, line
        if d.score is None:
            assert m["score"] is None
        else:
            assert 0 <= float(m["score"]) <= 100 and int(m["n"]) >= 1 and d.decisions == int(m["n"])
    headline = text.splitlines()[2]
    assert headline.startswith(f"Overall score: {g.overall:g}/100 - "), headline


# ---- properties -------------------------------------------------------------------------------


@given(SCENARIOS, st.randoms(use_true_random=False))
def test_a_best_path_scores_exactly_100_everywhere(graded, rnd):
    scenario, rubric = graded

    def best(options, credited, b):
        top = [o for o, c in zip(options, credited, strict=True) if not o.critical and c == b]
        return rnd.choice(top or options)  # equally good options, acceptable ones included, at random

    session = walk(scenario, rubric, best)
    g = grade(scenario, rubric, session.decisions)
    note(f"{[d.choice for d in session.decisions]} -> {g.overall} {g.reasons}")
    if g.critical_errors:  # a decision offered nothing but critical errors: nothing to prove
        assert not g.passed
        return
    if g.at_stake == 0:
        assert not g.passed and g.performance == 0
        return
    assert g.performance == 100.0 and g.exact_performance == 1
    assert all(d.score in (None, 100.0) for d in g.dimensions), g.dimensions
    assert all(p.score in (None, 100.0) for p in g.principles)
    assert all(r.better == [] for r in g.decisions)
    may_pass = g.ending.rating in rubric.pass_.ratings
    assert g.passed == may_pass, g.reasons
    assert g.overall == (100.0 if may_pass else max(rubric.pass_.score - 1, 0))


@given(SCENARIOS, st.randoms(use_true_random=False))
def test_the_worst_path_scores_0_when_every_decision_offers_something_not_positive(graded, rnd):
    scenario, rubric = graded
    precondition = []

    def worst(options, credited, b):
        precondition.append(min(credited) <= 0)
        return min(zip(options, credited, strict=True), key=lambda oc: (oc[1], oc[0].critical is None))[0]

    session = walk(scenario, rubric, worst)
    g = grade(scenario, rubric, session.decisions)
    note(f"{[d.choice for d in session.decisions]} -> {g.performance} {precondition}")
    event("every decision offered something not positive" if all(precondition) else "precondition not met")
    if all(precondition):
        # Exactly 0 by the rule (the issue asks for "within 10"), and so every dimension.
        assert g.performance == 0.0 and g.overall == 0.0
        assert all(d.score in (None, 0.0) for d in g.dimensions)
        assert not g.passed or (rubric.pass_.score == 0 and g.at_stake == 0)


@given(SCENARIOS, st.randoms(use_true_random=False))
def test_scores_are_bounded_and_lines_keep_the_invariant(graded, rnd):
    scenario, rubric = graded
    session = walk(scenario, rubric, lambda options, credited, b: rnd.choice(options))
    g = grade(scenario, rubric, session.decisions)
    assert 0 <= g.overall <= g.performance <= 100
    for line in [*g.dimensions, *g.principles]:
        assert (line.score is None and line.decisions == 0 and line.stake == 0) or (
            0 <= line.score <= 100 and line.decisions >= 1 and line.stake >= 1
        ), line
    for review in g.decisions:
        assert -review.stakes <= review.scored <= review.stakes
        assert (review.effectiveness is None) == (review.stakes == 0)
        assert not (review.better and review.also_strong)
    check_debrief_lines(g)


@given(SCENARIOS, st.randoms(use_true_random=False))
def test_a_better_option_to_the_same_state_never_lowers_a_score(graded, rnd):
    scenario, rubric = graded

    def low(options, credited, b):  # weak choices leave room for a better one
        if rnd.random() < 0.5:
            return min(zip(options, credited, strict=True), key=lambda oc: oc[1])[0]
        return rnd.choice(options)

    log = walk(scenario, rubric, low).decisions
    swaps = []  # (decision index, alternative option) pairs that qualify
    replay = Session(scenario)
    replay.start()
    for i, decision in enumerate(log):
        options = options_on_offer(replay)
        credited, _ = credits(options, rubric)
        chosen = next(k for k, o in enumerate(options) if option_id(replay, o) == decision.choice)
        after = Session.replay(scenario, log[: i + 1])
        for k, option in enumerate(options):
            if option.critical or credited[k] <= credited[chosen]:
                continue
            other = Session.replay(scenario, log[:i])
            take(other, option)
            if state(other) == state(after):
                swaps.append((i, other.decisions[-1]))
        replay.apply(decision)
    event("a better option to the same state" if swaps else "none on this path")
    if not swaps:
        return
    i, better = rnd.choice(swaps)
    changed = [*log[:i], better, *log[i + 1 :]]
    before, after_swap = grade(scenario, rubric, log), grade(scenario, rubric, changed)
    note(f"decision {i + 1}: {log[i].choice} -> {better.choice}")
    assert after_swap.exact_performance >= before.exact_performance
    assert after_swap.exact_overall >= before.exact_overall
    assert after_swap.passed >= before.passed
    for old, new in zip(before.dimensions, after_swap.dimensions, strict=True):
        assert (old.score is None) == (new.score is None)
        assert old.score is None or new.score >= old.score, (old, new)


@given(SCENARIOS, st.randoms(use_true_random=False))
def test_grading_is_pure(graded, rnd):
    scenario, rubric = graded
    session = walk(scenario, rubric, lambda options, credited, b: rnd.choice(options))
    dump = scenario.model_dump()
    first = grade(scenario, rubric, tuple(session.decisions))
    grade(scenario, rubric, [])  # another grade in between changes nothing
    second = grade(scenario, rubric, list(session.decisions))
    assert first == second and first.as_dict() == second.as_dict()
    assert json.dumps(first.as_dict(), sort_keys=True) == json.dumps(second.as_dict(), sort_keys=True)
    assert scenario.model_dump() == dump


# ---- analyze: grades against endings ----------------------------------------------------------


@given(SCENARIOS, st.randoms(use_true_random=False))
def test_analyze_finds_a_good_ending_with_a_failing_grade_whenever_one_exists(graded, rnd):
    """Against random play: when analyze says no path without a critical error reaches a good
    ending with a failing grade (and its check was complete), no random such path does; every
    disagreement it reports replays to the grade and ending it names; its best path never takes
    a critical error."""
    from scoring.analysis import analyze

    scenario, rubric = graded
    a = analyze(scenario, rubric)
    assert a.grade_check_partial == ""  # generated scenarios loop only once, guarded by a flag
    for m in a.grade_mismatches:
        replay = Session(scenario)
        replay.start()
        steps, timeouts = list(m["choices"]), list(m["timeouts"])  # as `run --choose ... --timeout-at ...`
        while replay.waiting:
            if timeouts and replay.scene == timeouts[0]:
                timeouts.pop(0)
                replay.expire()
            else:
                replay.choose(steps.pop(0))
        assert not steps and not timeouts
        g = grade(scenario, rubric, replay.decisions)
        assert (g.overall, g.passed, g.ending.scene) == (m["score"], m["passed"], m["ending"])
        assert not g.critical_errors and g.passed == (m["rating"] == "poor")
    if a.best is not None:
        assert not a.best.grade.critical_errors
    failing_good = {m["ending"] for m in a.grade_mismatches if m["rating"] == "good"}
    for _ in range(20):
        session = walk(scenario, rubric, lambda options, credited, b: rnd.choice(options))
        g = grade(scenario, rubric, session.decisions)
        if g.critical_errors or g.ending is None or g.ending.rating != "good":
            continue
        if not g.passed:
            event("a random path reached a good ending with a failing grade")
            note(f"{[d.choice for d in session.decisions]} -> {g.overall} {g.reasons}")
            assert g.ending.scene in failing_good


# ---- a failed run never shows a passing score -------------------------------------------------


def exported_scores(tmp_path, scenario, rubric, session, g) -> dict[str, float]:
    """The single score of one recorded attempt in every place it is shown or exported."""
    from cli_runner import run_cli

    from simulator.config import AcademySettings
    from simulator.export import ExportFilter
    from simulator.export.tabular import write_csv, write_jsonl
    from simulator.export.xapi import statements
    from simulator.records import Store

    db = tmp_path / "records.sqlite3"
    db.unlink(missing_ok=True)
    with Store.open(db) as store:
        store.ensure_trainee("t1")
        attempt = store.start_attempt(
            "t1", scenario_id=scenario.id, scenario_version=scenario.version, scenario_sha256=scenario.sha256,
            scenario_path=scenario.path, rubric_id=rubric.id, rubric_sha256=rubric.sha256, mode="headless",
        )
        for d in session.decisions:
            store.record_decision(attempt, d.sequence, d.scene, d.choice, meters_after={}, flags_after={})
        store.finish_attempt(attempt, g)
        out = io.StringIO(newline="")
        write_csv(store, out, ExportFilter())
        row = next(csv.DictReader(io.StringIO(out.getvalue())))
        lines = io.StringIO()
        write_jsonl(store, lines, ExportFilter())
        obj = json.loads(lines.getvalue())
        record = next(store.attempts())
        final = next(s for s in statements(record, store.decisions(attempt), AcademySettings())
                     if s["verb"]["id"].endswith(("/passed", "/failed")))
    result = run_cli(["results", "--json", "--db", str(db)])
    assert result.code == 0, result.output
    return {
        "debrief": float(format_grade(g).splitlines()[2].split()[2].split("/")[0]),
        "results": json.loads(result.stdout.splitlines()[0])["overall"],
        "csv": float(row["overall"]),
        "jsonl": obj["overall"],
        "jsonl grade": obj["grade"]["overall"],
        "xapi raw": final["result"]["score"]["raw"],
        "xapi scaled x 100": final["result"]["score"]["scaled"] * 100,
    }


@given(SCENARIOS, st.randoms(use_true_random=False))
def test_a_run_that_does_not_pass_reports_below_its_pass_mark_everywhere(tmp_path, graded, rnd):
    scenario, rubric = graded
    session = walk(scenario, rubric, lambda options, credited, b: rnd.choice(options))
    g = grade(scenario, rubric, session.decisions)
    if g.passed:
        assert g.overall == g.performance >= g.pass_score
        return
    shown = exported_scores(tmp_path, scenario, rubric, session, g)
    note(f"{shown} performance {g.performance} pass {g.pass_score}")
    for where, score in shown.items():
        if g.pass_score == 0:
            assert score == 0, where  # nothing is below 0: a failed run reports 0
        else:
            assert score < g.pass_score, where
    assert g.overall == min(g.performance, max(g.pass_score - 1, 0)) or g.overall < g.performance


# ---- the budget finds planted bugs ------------------------------------------------------------


def _full_marks_when_nothing_positive(options, values):
    """Method 1's mistake: when nothing positive is on offer, every choice is full marks."""
    j = ORIGINAL_JUDGE(options, values)
    if j.best > 0 or not j.stakes:
        return j
    return Judgement(j.best, j.worst, j.stakes, tuple(j.best for _ in j.credited))


def _no_acceptable_credit(options, values):
    return ORIGINAL_JUDGE([o.model_copy(update={"acceptable": False}) for o in options], values)


def _weaker_scores_more(options, values):
    """Where something positive is on offer, a weaker choice scores more (not monotonic)."""
    j = ORIGINAL_JUDGE(options, values)
    if j.best <= 0:
        return j
    return Judgement(j.best, j.worst, j.stakes, tuple(max(0, j.best - c) for c in j.credited))


ORIGINAL_JUDGE = grading.judge


def _analyze_sees_every_path_pass(self, key, dims):
    """analyze's grade check with its pass margins lost: every path looks like it passes."""
    return {choice: tuple(1.0 for _ in row) for choice, row in ORIGINAL_MARGINS(self, key, dims).items()}


ORIGINAL_MARGINS = Explorer._margins


@pytest.mark.parametrize(
    ("where", "bug", "prop"),
    [
        (
            (grading, "judge"),
            _full_marks_when_nothing_positive,
            test_the_worst_path_scores_0_when_every_decision_offers_something_not_positive,
        ),
        ((grading, "judge"), _no_acceptable_credit, test_a_best_path_scores_exactly_100_everywhere),
        ((grading, "judge"), _weaker_scores_more, test_a_better_option_to_the_same_state_never_lowers_a_score),
        (
            (Explorer, "_margins"),
            _analyze_sees_every_path_pass,
            test_analyze_finds_a_good_ending_with_a_failing_grade_whenever_one_exists,
        ),
    ],
    ids=["full-marks-at-nothing-positive", "no-acceptable-credit", "weaker-scores-more", "analyze-blind"],
)
def test_the_budget_finds_planted_bugs(monkeypatch, where, bug, prop):
    """The property, with the profile's number of examples (no shrinking: finding is enough)."""
    monkeypatch.setattr(*where, bug)
    budget = settings(settings.default, phases=[Phase.generate], database=None)
    with pytest.raises(AssertionError):
        budget(given(SCENARIOS, st.randoms(use_true_random=False))(prop.hypothesis.inner_test))()


def test_the_reference_rule_agrees_with_judge_on_a_hand_example():
    """b > 0: credited / b, clamped; b <= 0: (v - w) / (b - w); acceptable = b; critical <= 0."""

    class Opt:
        def __init__(self, critical=None, acceptable=False):
            self.critical, self.acceptable = critical, acceptable

    options = [Opt(), Opt(acceptable=True), Opt(), Opt(critical="x")]
    j = grading.judge(options, [60, 20, -90, 100])
    assert (j.best, j.stakes, j.credited) == (60, 60, (60, 60, -90, -90))
    assert [j.scored(i) for i in range(4)] == [60, 60, -60, -60]
    j = grading.judge(options[:3], [-10, -40, -50])
    assert (j.best, j.worst, j.stakes) == (-10, -50, 40)
    assert [Fraction(j.scored(i), j.stakes) for i in range(3)] == [1, 1, 0]
