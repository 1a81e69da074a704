"""Replaying without a state machine: ``engine.Run`` (the pure rules, what grading, regrading,
exports, analysis and ``crisis-sim test`` replay through) against the live ``Session`` (the same
run moved by a ``transitions.Machine``), as hypothesis properties over GENERATED scenarios
(``scenario_factory.graded_scenarios`` with auto moves and conditional lines) and decision logs:

- the same decisions give the same events, meters, flags, visits, scene and end state;
- ``grade`` through a Run and through a Session give identical Grades (exact fractions included);
- coach mode's review of one decision from the last offer (``review_decision``) is the review
  grading gives that decision in the whole log;
- a log that does not fit (a choice not on offer, a wrong scene, steps after the end, a timeout
  where there is none) is refused by both the same way: the same GradeError or ReplayError text.

``test_a_planted_difference_is_found`` shows the budget catches a Run that forgets a choice's
flags, so the properties can fail.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scenario_factory import SAMPLE, graded_scenarios

from scoring.catalog import load_graded
from scoring.grading import GradeError, grade, review_decision
from simulator.engine import ChoicesOffered, Decision, ReplayError, Run, Session

SCENARIOS = graded_scenarios(autos=True)
BUDGET = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_log(scenario, seed: int) -> list[Decision]:
    """The decisions of a random playthrough (a live Session), then, one time in three, spoiled:
    cut short, a step's choice or scene changed, or a step added after the end."""
    rnd = random.Random(seed)
    session = Session(scenario)
    session.start()
    while session.waiting:
        if session.timeout_seconds() and rnd.random() < 0.25:
            session.expire()
        else:
            session.choose(rnd.choice(session.offered()).id)
    log = list(session.decisions)
    spoil = rnd.randrange(9)
    if log and spoil == 0:
        log = log[: rnd.randrange(len(log))]
    elif log and spoil == 1:
        i = rnd.randrange(len(log))
        log[i] = Decision(log[i].sequence, log[i].scene, rnd.choice(["c0", "c1", "c2", "c3", "back", None]))
    elif log and spoil == 2:
        i = rnd.randrange(len(log))
        log[i] = Decision(log[i].sequence, rnd.choice(list(scenario.scenes)), log[i].choice)
    elif spoil == 3:
        log.append(Decision(len(log) + 1, session.scene, "c0"))
    return log


def outcome(cls: type[Run], scenario, log: list[Decision]):
    """What replaying ``log`` through ``cls`` gives: its full state, or the refusal's text."""
    try:
        run = cls.replay(scenario, log)
    except ReplayError as exc:
        return ("refused", exc.step, exc.reason)
    return (run.scene, run.events, run.meters, run.flags, dict(run.visits), run.decisions, run.ending, run.stuck,
            run.at_limit, run.waiting, [c.id for c in run.offered()], run.timeout_seconds())


def graded(cls: type[Run], scenario, rubric, log: list[Decision]):
    try:
        return grade(scenario, rubric, log, replay=cls)
    except GradeError as exc:
        return ("refused", str(exc))


@BUDGET
@given(SCENARIOS, st.integers(0, 2**32))
def test_run_and_session_replay_alike(generated, seed):
    replays_like_session(Run, generated, seed)


def replays_like_session(cls: type[Run], generated, seed: int) -> None:
    scenario, _rubric = generated
    log = random_log(scenario, seed)
    assert outcome(cls, scenario, log) == outcome(Session, scenario, log)


@BUDGET
@given(SCENARIOS, st.integers(0, 2**32))
def test_grades_through_run_and_session_are_identical(generated, seed):
    scenario, rubric = generated
    log = random_log(scenario, seed)
    ours, machine = graded(Run, scenario, rubric, log), graded(Session, scenario, rubric, log)
    assert ours == machine
    assert graded(Run, scenario, rubric, log) == ours  # pure: the same again


def test_the_bundled_sample_grades_alike():
    """The sample scenario (auto moves, timers, visit counts), played at random, through both."""
    g = load_graded(SAMPLE)
    for seed in range(40):
        log = random_log(g.scenario, seed)
        assert graded(Run, g.scenario, g.rubric, log) == graded(Session, g.scenario, g.rubric, log)


class _ForgetsFlags(Run):
    """A planted bug: choices change meters but not flags."""

    def _take_choice(self, scene, choice):
        self._apply(choice.effects, {})
        self._at = choice.to


def test_a_planted_difference_is_found():
    with pytest.raises(AssertionError):
        run = settings(BUDGET, phases=[Phase.generate])(  # no shrinking: finding it is the point
            given(SCENARIOS, st.integers(0, 2**32))(lambda generated, seed: replays_like_session(_ForgetsFlags,
                                                                                             generated, seed))
        )
        run()


@BUDGET
@given(SCENARIOS, st.integers(0, 2**32))
def test_coach_review_is_the_grades_review(generated, seed):
    """Coach mode judges the choice just made from the last offer alone (``review_decision``):
    the same review as grading the whole log up to that choice."""
    scenario, rubric = generated
    run = Run(scenario)
    run.start()
    rnd = random.Random(seed)
    while run.waiting:
        offer = next(e for e in reversed(run.events) if isinstance(e, ChoicesOffered))
        if run.timeout_seconds() and rnd.random() < 0.25:
            run.expire()
        else:
            run.choose(rnd.choice(run.offered()).id)
        decision = run.decisions[-1]
        review = review_decision(scenario, rubric, decision.scene, [c.id for c in offer.choices], decision)
        assert review == grade(scenario, rubric, run.decisions).decisions[-1]
