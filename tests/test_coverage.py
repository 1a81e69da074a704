"""Library coverage (scoring/coverage.py): what a set of scenarios teaches as a whole, read from
each scenario's options and its analysis, and the rules a library is held to."""

from __future__ import annotations

from dataclasses import replace

from scenario_factory import load

from scoring.analysis import analyze
from scoring.coverage import (
    CRITICAL_MIN,
    PRINCIPLE_MIN,
    ScenarioCoverage,
    defensible_share,
    principles_table,
    scenario_coverage,
    shortfalls,
)
from scoring.rubric import find_rubric, load_rubric

RUBRIC = load_rubric(find_rubric("default")).rubric

BODY = """\
start: talk
scenes:
  talk:
    text: Sam is on the floor, breathing slowly.
    choices:
      - {id: narcan, text: Give naloxone (Narcan) and call EMS., to: done,
         scores: {rule_out_medical: 2}, feedback: Naloxone first.}
      - {id: shake, text: Shake him and shout., to: done,
         scores: {calm_nonverbal: -1, rule_out_medical: -2}, feedback: Loses time.}
      - {id: leave, text: Leave him to sleep it off., to: done, critical: missed_medical_emergency,
         scores: {rule_out_medical: -3}, feedback: He could stop breathing.}
  unused:
    text: Never reached.
    choices:
      - {id: push, text: Push past him., to: done, critical: closing_distance_on_armed_person,
         scores: {slow_down_time_distance_cover: -3}, feedback: Never.}
  done:
    end: {rating: good, outcome: Sam went to hospital., debrief: You gave naloxone.}
"""


def test_a_scenario_s_coverage_reads_its_options_and_what_can_be_reached(tmp_path):
    scenario = load(tmp_path, BODY)
    cov = scenario_coverage(scenario, analyze(scenario, RUBRIC))
    assert cov.positive == {"rule_out_medical"}
    assert cov.penalty_only == {"calm_nonverbal", "slow_down_time_distance_cover"}
    # the critical error in a scene nobody reaches does not count as one a trainee can make
    assert cov.critical_errors == {"missed_medical_emergency"}
    assert cov.naloxone is True
    assert (cov.decision_scenes, cov.defensible_scenes) == (1, 0)


def test_naloxone_counts_only_where_it_earns_points(tmp_path):
    body = BODY.replace("scores: {rule_out_medical: 2}, feedback: Naloxone first.",
                        "scores: {rule_out_medical: -1}, feedback: Naloxone first.")
    scenario = load(tmp_path, body)
    assert scenario_coverage(scenario, analyze(scenario, RUBRIC)).naloxone is False


def _full(i: int) -> ScenarioCoverage:
    return ScenarioCoverage(
        id=f"s{i}", positive=frozenset(RUBRIC.principles), penalty_only=frozenset(),
        critical_errors=frozenset(RUBRIC.critical_errors), tags=frozenset({"hold", "diversion"}),
        naloxone=True, decision_scenes=10, defensible_scenes=3,
    )


def test_a_library_meeting_every_rule_has_no_shortfall_and_each_gap_is_named():
    library = [_full(i) for i in range(4)]
    assert shortfalls(library, RUBRIC) == []
    principle = next(iter(RUBRIC.principles))
    critical = next(iter(RUBRIC.critical_errors))
    gappy = [
        replace(c, positive=c.positive - {principle} if i >= PRINCIPLE_MIN - 1 else c.positive,
                critical_errors=c.critical_errors - {critical} if i >= CRITICAL_MIN - 1 else c.critical_errors,
                naloxone=i == 0, tags=frozenset({"diversion"}) if i else c.tags, defensible_scenes=2)
        for i, c in enumerate(library)
    ]
    found = shortfalls(gappy, RUBRIC)
    assert found == [
        f"principle '{principle}' earns points in {PRINCIPLE_MIN - 1} scenario(s), fewer than {PRINCIPLE_MIN}: s0, s1",
        f"critical error '{critical}' can be made in {CRITICAL_MIN - 1} scenario(s), fewer than {CRITICAL_MIN}: s0",
        "naloxone is an option worth points in 1 scenario(s), fewer than 2",
        "1 scenario(s) tagged 'hold', fewer than 3: s0",
        "20% of decision scenes offer two or more defensible choices, under 30%",
    ]
    assert defensible_share(gappy) == 0.2


def test_the_principles_table_marks_points_earned_and_penalties():
    a = replace(_full(0), positive=frozenset({"one_voice"}), penalty_only=frozenset({"means_safety"}))
    table = principles_table([a], RUBRIC).splitlines()
    assert len(table) == 2 + len(RUBRIC.principles)
    assert next(r for r in table if r.startswith("| `one_voice`")).endswith("| ✓ | 1 |")
    assert next(r for r in table if r.startswith("| `means_safety`")).endswith("| ✓\\* | 0 |")
