"""Grading examples on the sample and small inline scenarios: best path 100 and passes, worst
fails, critical errors fail and report below the pass mark, acceptable options, the rule for
decisions with nothing positive on offer, not-applicable dimensions, key order irrelevance.
The invariants over generated scenarios live in test_grading_properties.py."""

from __future__ import annotations

import random
import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scenario_factory import GOOD_ENDING_FAILS, SAMPLE, SAMPLE_BEST, load, random_playthrough

from scoring.analysis import analyze
from scoring.grading import grade
from scoring.rubric import find_rubric, load_rubric
from simulator.engine import Decision, Session
from simulator.loader import load_scenario

BEST = SAMPLE_BEST


@pytest.fixture(scope="module")
def rubric():
    return load_rubric(find_rubric("default")).rubric


@pytest.fixture(scope="module")
def sample():
    return load_scenario(SAMPLE).scenario


def play(scenario, choices):
    s = Session(scenario)
    s.start()
    for c in choices:
        s.choose(c)
    return s.decisions


def play_worst(scenario, rubric):
    """Always take the option on offer with the lowest weighted value (critical first)."""
    from scoring.grading import option_value

    s = Session(scenario)
    s.start()
    while s.waiting:
        options = s.offered()
        worst = min(options, key=lambda c: (c.critical is None, option_value(c.scores, rubric)))
        s.choose(worst.id)
    return s.decisions


def test_best_path_scores_100_and_passes(sample, rubric):
    g = grade(sample, rubric, play(sample, BEST))
    assert g.overall == 100.0 and g.passed and g.proficient and g.reasons == []
    assert g.ending.rating == "good"
    assert all(r.better == [] for r in g.decisions)  # every choice was the best on offer
    applicable = [d for d in g.dimensions if d.score is not None]
    assert applicable and all(d.score == 100.0 and d.decisions >= 1 for d in applicable)
    assert g.performance == 100.0 and g.scored == g.at_stake > 0


def test_always_worst_fails(sample, rubric):
    g = grade(sample, rubric, play_worst(sample, rubric))
    assert not g.passed
    assert g.overall == 0.0
    assert g.critical_errors


def test_critical_error_fails_whatever_the_points(tmp_path, rubric):
    scenario = load(
        tmp_path,
        """\
        start: a
        scenes:
          a:
            choices:
              - {id: good, text: Good, to: done, scores: {active_listening: 3}}
              - id: great-but-critical
                text: Great points but a critical error
                to: done
                scores: {active_listening: 3, empathy_validation: 3}
                critical: unsafe_promise_or_lie
          done:
            end: {rating: good, outcome: Done.}
        """,
    )
    g = grade(scenario, rubric, play(scenario, ["great-but-critical"]))
    # its points are worth more than 'good', but a critical error earns nothing: it is credited
    # with the worst on offer and never more than 0...
    assert g.decisions[0].value == 120 and g.decisions[0].credited == 0 and g.performance == 0.0
    assert not g.passed and g.overall == 0.0  # ...and it fails
    assert g.reasons[0] == "critical error at decision 1: Unsafe promise or lie"
    assert g.critical_errors[0].id == "unsafe_promise_or_lie" and g.critical_errors[0].sequence == 1
    assert [o.id for o in g.decisions[0].better] == ["good"]
    # a critical option is never the best: 'good' is measured against itself
    assert grade(scenario, rubric, play(scenario, ["good"])).passed


def test_a_run_that_fails_reports_below_the_pass_mark_and_keeps_its_performance(tmp_path, rubric):
    scenario = load(
        tmp_path,
        """\
        start: a
        scenes:
          a:
            choices:
              - {id: listen, text: Listen, to: b, scores: {active_listening: 3}}
              - {id: rush, text: Rush, to: b, scores: {active_listening: -3}}
          b:
            choices:
              - {id: stay, text: Stay, to: done, scores: {empathy_validation: 1}}
              - id: promise
                text: Promise
                to: done
                scores: {empathy_validation: 1}
                critical: unsafe_promise_or_lie
          done:
            end: {rating: good, outcome: Done.}
        """,
    )
    g = grade(scenario, rubric, play(scenario, ["listen", "promise"]))
    # 60 of 80 at stake: performance 75, above the pass mark, but the critical error fails it
    assert (g.scored, g.at_stake, g.performance) == (60, 80, 75.0)
    assert not g.passed and g.overall == 69.0 and g.capped
    assert g.as_dict()["performance"] == 75.0 and g.as_dict()["overall"] == 69.0
    from scoring.report import format_grade

    text = format_grade(g)
    assert "Overall score: 69/100 - NOT PASSED (pass mark 70)" in text
    assert "performance 75; a run that does not pass reports at most 69" in text
    # below the cap the performance is reported as it is
    low = grade(scenario, rubric, play(scenario, ["rush", "stay"]))
    assert not low.passed and low.overall == low.performance == 0.0 and not low.capped


def test_same_decisions_always_give_the_identical_grade(sample, rubric):
    decisions = play(sample, ["slow-approach", "calm-down", "repair", "ask-directly", "promise-secret", "invite-now"])
    grades = [grade(sample, rubric, list(decisions)) for _ in range(3)]
    assert grades[0] == grades[1] == grades[2]
    assert grades[0].as_dict() == grades[1].as_dict()


def test_reordering_yaml_keys_changes_nothing(tmp_path, sample, rubric):
    data = yaml.safe_load(SAMPLE.read_text())
    rng = random.Random(3)

    def shuffle(node):
        if isinstance(node, dict):
            items = list(node.items())
            rng.shuffle(items)
            return {k: shuffle(v) for k, v in items}
        if isinstance(node, list):
            return [shuffle(v) for v in node]  # list order is meaning (choice order), keep it
        return node

    shuffled = tmp_path / "shuffled.yaml"
    shuffled.write_text(yaml.safe_dump(shuffle(data), sort_keys=False, allow_unicode=True))
    other = load_scenario(shuffled).scenario
    assert other is not None
    for choices in (BEST, ["slow-approach", "euphemism", "ask-directly-late", "lecture", "dare"]):
        a = grade(sample, rubric, play(sample, choices)).as_dict()
        b = grade(other, rubric, play(other, choices)).as_dict()
        a.pop("scenario_sha256"), b.pop("scenario_sha256")  # the bytes differ, nothing else
        assert a == b


def test_a_dimension_never_at_stake_is_not_applicable(tmp_path, rubric):
    scenario = load(
        tmp_path,
        """\
        start: a
        scenes:
          a:
            choices:
              - {id: listen, text: Listen, to: done, scores: {active_listening: 2, assess_safety_risk: 1}}
              - {id: rush, text: Rush, to: done, scores: {assess_safety_risk: -1}}
          done:
            end: {rating: acceptable, outcome: Done.}
        """,
    )
    g = grade(scenario, rubric, play(scenario, ["rush"]))
    by_id = {d.id: d for d in g.dimensions}
    assert by_id["suicide_risk"].score is None and by_id["suicide_risk"].decisions == 0
    # 'listen' was worth 60 and 'rush' -20: e = -20/60, clamped to 0 in both dimensions at stake
    assert by_id["listening_empathy"].score == 0.0 and by_id["listening_empathy"].decisions == 1
    assert by_id["safety_assessment"].score == 0.0
    assert g.performance == 0.0
    best = grade(scenario, rubric, play(scenario, ["listen"]))
    assert best.overall == 100.0 and best.passed
    assert {d.id for d in best.dimensions if d.score is not None} == {"listening_empathy", "safety_assessment"}


def test_numbers_add_up(sample, rubric):
    decisions = play(
        sample, ["slow-approach", "euphemism", "repair", "ask-directly", "reasons", "invite-now", "just-chat"]
    )
    g = grade(sample, rubric, decisions)
    assert g.scored == sum(r.scored for r in g.decisions) and g.at_stake == sum(r.stakes for r in g.decisions)
    assert g.performance == round(100 * g.scored / g.at_stake, 1)
    for review in g.decisions:  # b > 0 everywhere on this path: stakes = b, scored = credited clamped
        assert review.stakes == review.best_value > 0
        assert review.scored == max(-review.stakes, min(review.stakes, review.credited))
    assert g.ending.rating == "acceptable"
    review = g.decisions[1]
    assert review.chosen.id == "euphemism" and [o.id for o in review.better] == ["reflect-feeling"]
    assert "plainly" in review.chosen.feedback


def test_timeout_decisions_are_graded(sample, rubric):
    s = Session(sample)
    s.start()
    s.expire()
    g = grade(sample, rubric, s.decisions)
    assert g.decisions[0].chosen.id is None
    assert [o.id for o in g.decisions[0].better] == ["ask-dispatch", "slow-approach"]
    assert "did not reach an ending" in g.reasons[-1]


def test_a_log_that_does_not_fit_is_refused(sample, rubric):
    from scoring.grading import GradeError

    with pytest.raises(GradeError, match="not on offer"):
        grade(sample, rubric, [Decision(1, "arrival", "warm-handoff")])


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_random_playthroughs_grade_within_bounds_and_reproducibly(sample, rubric, rnd):
    s = random_playthrough(sample, rnd)
    g = grade(sample, rubric, s.decisions)
    assert 0 <= g.overall <= 100
    assert g == grade(sample, rubric, s.decisions)
    if g.critical_errors:
        assert not g.passed


def test_analysis_of_the_sample(sample, rubric):
    a = analyze(sample, rubric)
    assert not a.bound_hit and not a.grade_check_partial
    assert a.grade_mismatches == [] and a.problems == []
    assert all(a.endings.values())
    assert a.best.grade.overall == 100.0 and a.best.grade.passed
    assert not a.worst.grade.passed
    assert a.uniform_decisions == [] and a.dead_ends == [] and a.farming == []
    assert len(a.dimensions) == 6
    # the paths replay through the real session and give the same grade
    assert grade(sample, rubric, play(sample, a.best.choices)) == a.best.grade


def test_analysis_finds_a_good_ending_reached_with_a_failing_grade(tmp_path, rubric):
    scenario = load(tmp_path, GOOD_ENDING_FAILS)
    a = analyze(scenario, rubric)
    assert [(m["ending"], m["passed"]) for m in a.grade_mismatches] == [("done", False)]
    assert len(a.problems) == 1 and "reaches ending 'done' (rated good) and fails" in a.problems[0]
    mismatch = a.grade_mismatches[0]
    replayed = grade(scenario, rubric, play(scenario, mismatch["choices"]))
    assert (replayed.overall, replayed.passed, replayed.ending.scene) == (mismatch["score"], False, "done")


def test_analysis_reports_the_state_bound_instead_of_hanging(sample, rubric):
    a = analyze(sample, rubric, max_states=50)
    assert a.bound_hit
    assert "state bound (50) was hit" in a.problems[0]


def test_analysis_finds_dead_ends_farming_uniform_and_unreachable(tmp_path, rubric):
    scenario = load(
        tmp_path,
        textwrap.dedent("""\
        start: a
        scenes:
          a:
            choices:
              - {id: praise, text: Praise, to: b, scores: {active_listening: 1}}
              - {id: go, text: Go, to: c, scores: {active_listening: 1}}
          b:
            choices:
              - {id: back, text: Back, to: a}
          c:
            choices:
              - {id: only-if-asked, text: Hidden, to: done, if: asked}
              - {id: never, text: Never, to: lost, if: "agitation > 9"}
          done:
            end: {rating: good, outcome: Done.}
          lost:
            end: {rating: poor, outcome: Lost.}
        """),
    )
    a = analyze(scenario, rubric)
    assert a.endings == {"done": False, "lost": False}
    assert a.dead_ends == [{"scene": "c"}]
    assert {"scene": "a", "choice": "praise"} in a.farming
    assert a.uniform_decisions == [{"scene": "a", "choices": ["praise", "go"]}]
    assert a.best is None
    assert len(a.problems) >= 4


def test_analysis_finds_conditional_auto_loops_that_validate_cannot(tmp_path, rubric):
    from scenario_factory import AUTO_LOOP

    at_start = analyze(load(tmp_path, AUTO_LOOP), rubric)
    assert at_start.auto_loops == [{"scene": "a", "choice": "(start)"}]
    after_choice = load(tmp_path, AUTO_LOOP.replace(
        "start: a\nscenes:\n",
        "start: entry\nscenes:\n  entry:\n    choices:\n"
        "      - {id: enter, text: Enter, to: a, scores: {active_listening: 1}}\n"
        "      - {id: stay, text: Stay, to: done, scores: {active_listening: 2}}\n",
    ), name="after.yaml")
    a = analyze(after_choice, rubric)
    assert a.auto_loops == [{"scene": "entry", "choice": "enter"}]
    assert "auto moves loop forever after choice 'enter' in scene 'entry'" in a.problems
    s = Session(after_choice)
    s.start()
    s.choose("enter")
    assert s.stuck and s.events[-1].reason == "auto-loop"
