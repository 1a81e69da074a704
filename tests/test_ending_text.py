"""Ending text that depends on the path: ``outcome``/``debrief`` as lists of ``{if:, text:}``
parts, checked like every condition and resolved when the ending is reached, so a debrief
never praises a trainee for something they did not do."""

from __future__ import annotations

import json

from cli_runner import run_cli
from scenario_factory import load, write

from scoring.analysis import analyze
from scoring.catalog import load_graded
from scoring.grading import grade
from simulator.engine import Session
from simulator.graph import render
from simulator.loader import load_scenario
from simulator.runner import wrap

BODY = """\
start: talk
scenes:
  talk:
    text: Sam is on the bench.
    choices:
      - {id: ask, text: Ask directly about suicide., to: done, set: {asked: true},
         scores: {ask_about_suicide: 2}, feedback: Asking opens the door.}
      - {id: chat, text: Talk about the weather., to: done, effects: {rapport: 1},
         scores: {active_listening: 1}, feedback: "Friendly, but the question stays unasked."}
  done:
    end:
      rating: good
      outcome:
        - text: Sam went with the clinician.
        - {if: asked, text: "He told you about his plan."}
      debrief:
        - text: |
            You stayed calm
            and kept it slow.
        - if: asked
          text: You asked him directly about suicide.
        - if: not asked
          text: You never asked him directly about suicide.
        - if: rapport >= 2
          text: The small talk built some rapport.
"""


def ending_of(tmp_path, choice):
    scenario = load(tmp_path, BODY)
    session = Session(scenario)
    session.start()
    session.choose(choice)
    assert session.ending is not None
    return session.ending


def test_the_debrief_shows_only_the_parts_that_hold_as_paragraphs(tmp_path):
    asked = ending_of(tmp_path, "ask")
    assert asked.debrief.split("\n\n") == [
        "You stayed calm\nand kept it slow.",
        "You asked him directly about suicide.",
    ]
    chatted = ending_of(tmp_path, "chat")
    assert chatted.debrief.split("\n\n") == [
        "You stayed calm\nand kept it slow.",
        "You never asked him directly about suicide.",
        "The small talk built some rapport.",
    ]


def test_the_outcome_parts_join_into_one_line(tmp_path):
    assert ending_of(tmp_path, "ask").outcome == "Sam went with the clinician. He told you about his plan."
    assert ending_of(tmp_path, "chat").outcome == "Sam went with the clinician."


def test_plain_text_endings_read_as_before(tmp_path):
    body = BODY.split("  done:")[0] + "  done:\n    end: {rating: good, outcome: Done., debrief: Well done.}\n"
    scenario = load(tmp_path, body)
    session = Session(scenario)
    session.start()
    session.choose("ask")
    assert (session.ending.outcome, session.ending.debrief) == ("Done.", "Well done.")


def test_the_grade_and_the_json_transcript_carry_the_resolved_text(tmp_path):
    path = write(tmp_path, BODY)
    graded = load_graded(str(path), None)
    session = Session(graded.scenario)
    session.start()
    session.choose("chat")
    result = grade(graded.scenario, graded.rubric, session.decisions)
    assert "You never asked" in result.ending.debrief and "You asked him" not in result.ending.debrief
    code, out, _err = run_cli(["run", str(path), "--choose", "ask", "--json", "--no-record"])
    assert code == 0
    ending = json.loads(out)["grade"]["ending"]
    assert ending["outcome"] == "Sam went with the clinician. He told you about his plan."
    assert "You never asked" not in ending["debrief"]


def test_run_prints_each_paragraph_of_the_resolved_debrief(tmp_path):
    path = write(tmp_path, BODY)
    code, out, _err = run_cli(["run", str(path), "--choose", "chat", "--no-record"])
    assert code == 0
    ending = out.split("=== Ending (good): Sam went with the clinician. ===\n", 1)[1].split("\n\n=== Debrief")[0]
    assert ending == (
        "You stayed calm and kept it slow.\n\nYou never asked him directly about suicide.\n\n"
        "The small talk built some rapport."
    )


def test_wrap_keeps_paragraphs_apart():
    assert wrap("one\ntwo\n\nthree") == ["one two", "", "three"]


def test_a_bad_condition_in_a_part_points_at_its_line(tmp_path):
    path = write(tmp_path, BODY.replace("if: rapport >= 2", "if: rapport >= trust"))
    result = load_scenario(path)
    assert result.scenario is None
    [error] = [d for d in result.diagnostics if d.severity == "error"]
    line = path.read_text().splitlines().index("        - if: rapport >= trust") + 1
    assert (error.code, error.line) == ("bad-condition", line)
    assert "unknown name 'trust'" in error.message


def test_a_malformed_ending_text_is_one_plain_error(tmp_path):
    path = write(tmp_path, BODY.split("  done:")[0] + "  done:\n    end: {rating: good, outcome: Done., debrief: 5}\n")
    result = load_scenario(path)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert len(errors) == 1
    assert "must be text, or a list of parts" in errors[0].message


def test_an_outcome_that_can_be_empty_is_warned_and_analyze_finds_the_path(tmp_path):
    path = write(tmp_path, BODY.replace("        - text: Sam went with the clinician.\n", ""))
    result = load_scenario(path)
    assert [d.code for d in result.diagnostics if d.code == "conditional-outcome"] == ["conditional-outcome"]
    graded = load_graded(str(path), None)
    analysis = analyze(graded.scenario, graded.rubric)
    assert analysis.empty_outcomes == ["done"]
    assert any("empty outcome" in p for p in analysis.problems)
    graded_ok = load_graded(str(write(tmp_path, BODY, name="ok.yaml")), None)
    assert analyze(graded_ok.scenario, graded_ok.rubric).empty_outcomes == []


def test_the_wording_lint_reads_every_part(tmp_path):
    lint_body = BODY.replace("You never asked him directly", "He had committed suicide attempts; you never asked")
    path = write(tmp_path, lint_body)
    result = load_scenario(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "committed suicide" in text)
    found = [(d.line, d.message) for d in result.diagnostics if d.code == "stigmatizing-language"]
    assert found == [(line, found[0][1])] and "debrief of ending 'done' (part 3)" in found[0][1], found


def test_the_graph_says_what_an_ending_varies_with(tmp_path):
    scenario = load(tmp_path, BODY)
    assert "varies with: asked, rapport" in render(scenario, "mermaid", None)
    assert "varies with: asked, rapport" in render(scenario, "dot", None)
