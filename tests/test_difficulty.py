"""Difficulty from measurement (scoring.difficulty): the structure analyze reports and the rule
that turns it into a label, on hand-built scenarios whose figures are known, and as properties
over generated scenarios."""

from __future__ import annotations

from hypothesis import given, settings
from scenario_factory import graded_scenarios, load

from scoring.analysis import Explorer, analyze
from scoring.catalog import load_graded
from scoring.difficulty import DEFENSIBLE, LEVELS, RANDOM_RUNS, RULE, level_of, measure

# Two decisions; every choice ends well: nothing to get wrong.
GENTLE = """\
start: a
scenes:
  a:
    choices:
      - {id: greet, text: Greet, to: b, scores: {respectful_approach: 2}, feedback: Good.}
      - {id: nod, text: Nod, to: b, scores: {respectful_approach: 2}, feedback: Also good.}
  b:
    choices:
      - {id: listen, text: Listen, to: done, scores: {active_listening: 2}, feedback: Good.}
      - {id: wait, text: Wait, to: done, scores: {active_listening: 1}, feedback: Fine.}
  done:
    end: {rating: good, outcome: Done., debrief: Well done.}
"""


def trap_chain(length: int, timers: int) -> str:
    """``length`` decisions in a row, each with a right choice, a wrong one and a critical error
    (both ending the call poorly), the first ``timers`` of them timed."""
    scenes = ["start: s0", "scenes:"]
    for i in range(length):
        nxt = f"s{i + 1}" if i + 1 < length else "good"
        timer = "    timeout: {seconds: 10, to: bad, feedback: Too slow.}\n" if i < timers else ""
        scenes.append(
            f"  s{i}:\n{timer}    choices:\n"
            f"      - {{id: right{i}, text: Right, to: {nxt}, scores: {{active_listening: 2}}, feedback: Good.}}\n"
            f"      - {{id: wrong{i}, text: Wrong, to: bad, scores: {{active_listening: -1}}, feedback: No.}}\n"
            f"      - {{id: grab{i}, text: Grab, to: bad, scores: {{calm_nonverbal: -2}},\n"
            f"         critical: threat_or_force_without_need, feedback: Force.}}"
        )
    scenes.append("  good:\n    end: {rating: good, outcome: Good., debrief: Good.}")
    scenes.append("  bad:\n    end: {rating: poor, outcome: Bad., debrief: Bad.}")
    return "\n".join(scenes) + "\n"


def structure_of(tmp_path, body):
    scenario = load(tmp_path, body)
    graded = load_graded(scenario.path)
    return analyze(graded.scenario, graded.rubric).structure


def test_a_forgiving_short_call_is_introductory(tmp_path):
    s = structure_of(tmp_path, GENTLE)
    assert (s.decision_scenes, s.best_path_decisions, s.timers, s.critical_share) == (2, 2, 0, 0.0)
    assert (s.random_good, s.random_not_poor, s.random_runs) == (1.0, 1.0, RANDOM_RUNS)
    assert s.points == {"length": 0, "traps": 0, "time": 0, "unforgiving": 0}
    assert s.level == "introductory"


def test_defensible_choices_are_those_close_to_the_best(tmp_path):
    # a: two equal options (defensible); b: 1 of 2 is half the best, below DEFENSIBLE (0.75)
    assert DEFENSIBLE == 0.75
    assert structure_of(tmp_path, GENTLE).defensible_share == 0.5
    marked = GENTLE.replace("feedback: Fine.}", "feedback: Fine., acceptable: true}")
    assert structure_of(tmp_path, marked).defensible_share == 1.0


def test_a_long_timed_call_full_of_traps_is_advanced(tmp_path):
    s = structure_of(tmp_path, trap_chain(12, 2))
    assert (s.best_path_decisions, s.timers, s.critical_share) == (12, 2, 1.0)
    # a random player takes the right choice a third of the time, 12 times in a row
    assert s.random_not_poor == s.random_good < 0.01
    assert s.points == {"length": 2, "traps": 2, "time": 1, "unforgiving": 2}
    assert s.level == "advanced"
    assert s.defensible_share == 0.0


def test_the_middle_of_the_rule_is_intermediate(tmp_path):
    s = structure_of(tmp_path, trap_chain(3, 0))
    # 1/27 of random runs get through three traps: unforgiving (2), traps (2), short (0), no timer (0)
    assert s.points == {"length": 0, "traps": 2, "time": 0, "unforgiving": 2}
    assert s.level == "intermediate"


def test_the_rule_thresholds_and_levels():
    assert RULE == {"length": (9, 12), "traps": (0.25, 0.45), "time": (2,), "unforgiving": (0.75, 0.92)}
    assert [level_of(p) for p in range(8)] == ["introductory"] * 3 + ["intermediate"] * 2 + ["advanced"] * 3
    assert LEVELS[-1][1] == "advanced"


def test_analyze_prints_and_exports_the_structure(tmp_path):
    from cli_runner import run_cli

    path = load(tmp_path, trap_chain(12, 2)).path
    code, out, _ = run_cli(["analyze", path])
    assert code == 0, out
    assert "Difficulty (measured): advanced, 7 point(s); labelled introductory" in out
    assert "best path: 12 decisions (2)" in out and "timers: 2 (1)" in out
    code, out, _ = run_cli(["analyze", path, "--json"])
    import json

    assert json.loads(out)["structure"]["level"] == "advanced"


@settings(max_examples=25, deadline=None)
@given(graded_scenarios())
def test_measurement_is_bounded_deterministic_and_follows_the_rule(graded):
    scenario, rubric = graded
    ex = Explorer(scenario, rubric)
    ex.explore()
    first = measure(ex, 3)
    again = measure(ex, 3)
    assert first == again
    for share in (first.defensible_share, first.critical_share, first.random_good, first.random_not_poor):
        assert 0 <= share <= 1
    assert first.random_good <= first.random_not_poor
    assert first.level == level_of(sum(first.points.values()))
    assert all(0 <= p <= len(RULE[name]) for name, p in first.points.items())
