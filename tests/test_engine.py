"""Sessions: effects and clamping, auto and timeout moves, refusal, determinism."""

from __future__ import annotations

import subprocess
import sys

import pytest
from scenario_factory import AUTO_LOOP, SAMPLE, SAMPLE_BEST, load

from simulator.engine import (
    AutoMoved,
    ChoiceMade,
    ChoicesOffered,
    Decision,
    EndingReached,
    SceneEntered,
    Session,
    SessionError,
    Stuck,
    TimedOut,
)
from simulator.loader import load_scenario

BODY = """\
start: a
scenes:
  a:
    text: Scene A.
    lines:
      - {who: sam, says: First time., if: "visits(a) == 1"}
      - {who: sam, says: Again?, if: "visits(a) > 1"}
    timeout: {seconds: 10, to: waited, effects: {agitation: 2}, set: {asked: true}}
    choices:
      - {id: calm, text: Calm, to: b, effects: {agitation: -9, rapport: 20}}
      - {id: loop, text: Loop, to: a, if: "visits(a) < 2", effects: {agitation: 1}}
      - {id: only-if-asked, text: Hidden, to: b, if: asked}
  waited:
    auto:
      - {if: "agitation >= 7", to: bad}
      - {to: a}
  b:
    text: Scene B.
    auto:
      - {if: "rapport >= 10 and agitation == 0", to: good}
    choices:
      - {id: finish, text: Finish, to: bad}
  good:
    end: {rating: good, outcome: Good.}
  bad:
    end: {rating: poor, outcome: Bad.}
"""


@pytest.fixture
def tiny(tmp_path):
    return load(tmp_path, BODY)


def test_effects_are_clamped_and_auto_moves_follow(tiny):
    s = Session(tiny)
    s.start()
    events = s.choose("calm")
    made = events[0]
    assert isinstance(made, ChoiceMade)
    assert made.meters_before == {"agitation": 5, "rapport": 1}
    assert made.meters_after == {"agitation": 0, "rapport": 10}  # clamped to min 0 and max 10
    kinds = [type(e) for e in events]
    assert kinds == [ChoiceMade, SceneEntered, AutoMoved, SceneEntered, EndingReached]
    assert s.finished and s.ending.rating == "good" and s.scene == "good"


def test_conditional_choices_and_lines_follow_visits(tiny):
    s = Session(tiny)
    first = s.start()
    assert first[0].lines[0].says == "First time."
    assert [c.id for c in s.offered()] == ["calm", "loop"]
    events = s.choose("loop")
    entered = next(e for e in events if isinstance(e, SceneEntered))
    assert [line.says for line in entered.lines] == ["Again?"]
    assert [c.id for c in s.offered()] == ["calm"]  # visits(a) is now 2


def test_unavailable_choice_is_refused_and_changes_nothing(tiny):
    s = Session(tiny)
    s.start()
    before = (s.scene, dict(s.meters), dict(s.flags), dict(s.visits), len(s.events))
    with pytest.raises(SessionError, match=r"not on offer.*offered: calm, loop"):
        s.choose("only-if-asked")
    with pytest.raises(SessionError, match="not on offer"):
        s.choose("no-such-choice")
    with pytest.raises(SessionError, match="no choice 7"):
        s.choose_position(7)
    assert (s.scene, dict(s.meters), dict(s.flags), dict(s.visits), len(s.events)) == before
    assert s.decisions == []


def test_timeout_applies_its_effects_and_moves(tiny):
    s = Session(tiny)
    s.start()
    assert s.timeout_seconds() == 10
    events = s.expire()
    timed = events[0]
    assert isinstance(timed, TimedOut) and timed.to == "waited"
    assert timed.meters_after["agitation"] == 7
    assert s.flags["asked"] is True
    # agitation 7 -> the first auto move of 'waited' goes to the poor ending
    assert s.finished and s.scene == "bad"
    assert s.decisions == [Decision(1, "a", None)]


def test_timeout_then_flag_unlocks_a_choice(tmp_path):
    scenario = load(tmp_path, BODY.replace("effects: {agitation: 2}, ", ""))
    s = Session(scenario)
    s.start()
    s.expire()  # agitation stays 5: 'waited' moves back to 'a'
    assert s.scene == "a"
    assert [c.id for c in s.offered()] == ["calm", "only-if-asked"]


def test_actions_after_the_end_are_refused(tiny):
    s = Session(tiny)
    s.start()
    s.choose("calm")
    with pytest.raises(SessionError, match="ended"):
        s.choose("finish")
    with pytest.raises(SessionError, match="ended"):
        s.expire()


def test_must_start_first_and_only_once(tiny):
    s = Session(tiny)
    with pytest.raises(SessionError, match="not started"):
        s.choose("calm")
    s.start()
    with pytest.raises(SessionError, match="already started"):
        s.start()


def test_scene_without_timeout_refuses_expire(tmp_path):
    scenario = load(tmp_path, BODY.replace("rapport: 20", "rapport: 2"))
    s = Session(scenario)
    s.start()
    s.choose("calm")  # rapport 3: no auto move, 'b' offers 'finish'
    assert s.scene == "b"
    with pytest.raises(SessionError, match="has no timeout"):
        s.expire()


def test_same_choices_give_the_same_events():
    scenario = load_scenario(SAMPLE).scenario
    path = SAMPLE_BEST

    def play() -> list[dict]:
        s = Session(scenario)
        s.start()
        for choice in path:
            s.choose(choice)
        return [e.as_dict() for e in s.events]

    first, second = play(), play()
    assert first == second
    assert first[-1]["event"] == "ending_reached" and first[-1]["rating"] == "good"


def test_replay_reproduces_state_and_listeners_see_every_event():
    scenario = load_scenario(SAMPLE).scenario
    s = Session(scenario)
    s.start()
    for choice in ["slow-approach", "calm-down", "repair", "ask-directly"]:
        s.choose(choice)
    seen = []
    again = Session.replay(scenario, s.decisions, [seen.append])
    assert again.scene == s.scene and again.meters == s.meters and again.flags == s.flags
    assert [e.as_dict() for e in seen] == [e.as_dict() for e in s.events]


def test_replay_refuses_a_decision_from_another_scene():
    scenario = load_scenario(SAMPLE).scenario
    with pytest.raises(SessionError, match="was made in scene 'reasons'"):
        Session.replay(scenario, [Decision(1, "reasons", "call-sister")])


def test_a_scene_with_no_choice_on_offer_reports_stuck(tmp_path):
    scenario = load(
        tmp_path,
        """\
        start: a
        scenes:
          a:
            choices:
              - {id: never, text: Never, to: done, if: asked}
          done:
            end: {rating: good, outcome: Done.}
        """,
    )
    s = Session(scenario)
    events = s.start()
    assert isinstance(events[-1], Stuck) and s.stuck and not s.waiting
    with pytest.raises(SessionError, match="offers no choice"):
        s.choose("never")


def test_an_auto_loop_at_run_time_is_stuck_with_its_reason(tmp_path):
    from simulator.runner import describe, stuck_message

    s = Session(load(tmp_path, AUTO_LOOP))
    events = s.start()
    stuck = events[-1]
    assert isinstance(stuck, Stuck) and s.stuck and not s.waiting
    assert stuck.reason == "auto-loop" and stuck.scene in ("a", "b")
    assert stuck.as_dict()["reason"] == "auto-loop"
    expected = (
        f"auto moves looped more than 1000 times starting at scene '{stuck.scene}'; "
        "check its auto: entries (crisis-sim analyze finds this)"
    )
    assert stuck_message(s) == expected
    assert describe(stuck, s) == ["", f"!! A{expected[1:]}."]


def test_a_dead_end_is_stuck_with_reason_no_choice(tmp_path):
    from simulator.runner import stuck_message

    s = Session(
        load(
            tmp_path,
            "start: a\nscenes:\n  a:\n    choices: [{id: x, text: X, to: b, if: asked}]\n"
            "  b:\n    end: {rating: good, outcome: Done.}\n",
        )
    )
    stuck = s.start()[-1]
    assert isinstance(stuck, Stuck) and stuck.reason == "no-choice"
    assert (
        stuck_message(s)
        == "scene 'a' offers no choice: the scenario has a dead end here (crisis-sim analyze finds this)"
    )


LOOPING = """\
max_decisions: 3
start: a
scenes:
  a:
    timeout: {seconds: 5, to: a}
    choices:
      - {id: again, text: Again, to: a}
      - {id: leave, text: Leave, to: done}
  done:
    end: {rating: good, outcome: Done.}
"""


def test_a_run_stops_at_max_decisions_counting_timeouts(tmp_path):
    from simulator.runner import stuck_message

    s = Session(load(tmp_path, LOOPING))
    s.start()
    s.choose("again")
    s.expire()
    events = s.choose("again")
    stuck = events[-1]
    assert isinstance(stuck, Stuck) and stuck.reason == "decision-limit" and stuck.limit == 3
    assert not any(isinstance(e, ChoicesOffered) for e in events)  # stops before offering a 4th
    assert s.at_limit and s.stuck and not s.waiting and len(s.decisions) == 3
    assert stuck_message(s) == (
        "the run reached 3 decisions, the most this scenario allows (its max_decisions), and stopped in scene 'a'"
    )
    with pytest.raises(SessionError):
        s.choose("leave")


def test_an_ending_reached_by_the_last_allowed_decision_counts(tmp_path):
    s = Session(load(tmp_path, LOOPING))
    s.start()
    s.choose("again")
    s.choose("again")
    s.choose("leave")
    assert s.finished and not s.at_limit


def test_a_log_longer_than_max_decisions_neither_replays_nor_grades(tmp_path):
    from scoring.grading import GradeError, grade
    from scoring.rubric import load_rubric
    from simulator.engine import ReplayError

    scenario = load(tmp_path, LOOPING)
    log = [Decision(i, "a", "again") for i in (1, 2, 3)] + [Decision(4, "a", "leave")]
    with pytest.raises(ReplayError, match=r"reaches the scenario's max_decisions \(3\) before step 4"):
        Session.replay(scenario, log)
    rubric = load_rubric(SAMPLE.parent.parent / "scoring" / "rubrics" / "default.yaml").rubric
    with pytest.raises(GradeError, match="decision 4 comes after the scenario stopped"):
        grade(scenario, rubric, log)


@pytest.mark.parametrize("value", ["0", "100001", "1.5", "true", '"10"'])
def test_max_decisions_must_be_a_whole_number_in_range(tmp_path, value):
    from scenario_factory import write

    result = load_scenario(write(tmp_path, LOOPING.replace("max_decisions: 3", f"max_decisions: {value}")))
    [d] = result.diagnostics
    assert result.scenario is None and d.message.startswith("max_decisions ") and d.code in (
        "out-of-range", "wrong-type"
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (AUTO_LOOP, "auto moves looped more than 1000 times starting at scene"),
        (
            "start: a\nscenes:\n  a:\n    choices: [{id: x, text: X, to: b, if: asked}]\n"
            "  b:\n    end: {rating: good, outcome: Done.}\n",
            "scene 'a' offers no choice",
        ),
    ],
    ids=["auto-loop", "no-choice"],
)
def test_crisis_sim_run_names_why_it_is_stuck(tmp_path, body, words):
    from scenario_factory import write

    path = write(tmp_path, body)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from simulator.cli import main; main()",
            "run",
            str(path),
            "--no-record",
            "--policy",
            "first",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert words in proc.stderr and "crisis-sim analyze" in proc.stderr, proc.stderr
    assert "crisis-sim validate" not in proc.stderr, proc.stderr
    assert words[1:] in proc.stdout, proc.stdout  # the transcript says it too ("!! A...", "!! S...")


def test_choices_offered_event_lists_positions_and_timeout(tiny):
    s = Session(tiny)
    events = s.start()
    offered = events[-1]
    assert isinstance(offered, ChoicesOffered)
    assert [(c.position, c.id) for c in offered.choices] == [(1, "calm"), (2, "loop")]
    assert offered.timeout_seconds == 10


def test_engine_never_imports_textual():
    code = (
        "import sys, simulator.engine, simulator.loader, simulator.runner, simulator.cli, "
        "simulator.library, simulator.expressions, simulator.rules\n"
        "import scoring\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
