"""The wording lint: stigmatising or unsafe terms in the scenario's own voice are flagged with
their exact position; characters' spoken lines and the trainee's options are not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scenario_factory import HEADER, SAMPLE, write

from simulator.loader import load_scenario
from simulator.yamlsource import parse_text

BODY = """\
start: a
scenes:
  a:
    text: |
      The caller says her brother is acting strangely.
      NARRATION
    lines:
      - {{who: sam, says: "Get away from me, you psycho! Everyone says I'm crazy."}}
    choices:
      - id: mock
        text: '"Stop acting crazy, you psycho."'
        to: done
        scores: {{active_listening: -2}}
        feedback: FEEDBACK
      - id: listen
        text: Listen.
        to: done
        scores: {{active_listening: 2}}
        feedback: Listening helps.
  done:
    end:
      rating: good
      outcome: OUTCOME
      debrief: |
        First line of the debrief.
        DEBRIEF
"""


def findings(tmp_path, **slots):
    values = {"NARRATION": "He is pacing.", "FEEDBACK": "Mocking hurts.", "OUTCOME": "Done.", "DEBRIEF": "Fine."}
    values.update(slots)
    text = BODY.format()
    for key, value in values.items():
        text = text.replace(key, value)
    path = write(tmp_path, text)
    result = load_scenario(path)
    return [d for d in result.diagnostics if d.code == "stigmatizing-language"], path.read_text().splitlines()


def test_clean_scenario_has_no_findings_even_with_slurs_in_lines_and_options(tmp_path):
    found, _ = findings(tmp_path)
    assert found == []


@pytest.mark.parametrize(
    ("slot", "text", "term"),
    [
        ("NARRATION", "Her son committed suicide last spring.", "committed suicide"),
        ("NARRATION", "Dispatch logged it as an EDP call.", "EDP"),
        ("FEEDBACK", "Calling him a psycho escalates things.", "psycho"),
        ("FEEDBACK", "This looked like excited delirium.", "excited delirium"),
        ("OUTCOME", "He was taken in as a mental patient.", "mental patient"),
        ("DEBRIEF", "After a failed attempt last year, she needs follow-up.", "failed attempt"),
        ("DEBRIEF", "A successful suicide was prevented.", "successful suicide"),
        ("DEBRIEF", "The junkie on the bench needed naloxone.", "junkie"),
    ],
)
def test_terms_are_flagged_at_their_exact_line_and_column(tmp_path, slot, text, term):
    found, lines = findings(tmp_path, **{slot: text})
    assert len(found) == 1, found
    d = found[0]
    assert d.severity == "warning" and f"'{term}'" in d.message
    assert lines[d.line - 1][d.col - 1 : d.col - 1 + len(term)] == term
    assert d.line > HEADER.count("\n")


def test_the_bundled_library_is_clean():
    from simulator.library import library_files

    for path in library_files():
        assert [d for d in load_scenario(path).diagnostics if d.code == "stigmatizing-language"] == []


# ---- the authoring lint -----------------------------------------------------------------------

CLEAN = """\
start: a
scenes:
  a:
    text: Sam paces by the door.
    timeout:
      seconds: 30
      to: done
      feedback: Waiting leaves him alone with it.
    choices:
      - id: listen
        text: Listen.
        to: done
        scores: {active_listening: 2}
        feedback: Listening helps.
      - id: leave
        text: Leave.
        to: done
        feedback: Leaving ends the contact.
  done:
    end:
      rating: good
      outcome: Done.
      debrief: You listened.
"""

NEW_CODES = (
    "missing-feedback",
    "single-option",
    "missing-debrief",
    "long-text",
    "suicide-no-warning",
    "suicide-no-resources",
    "yaml11-ambiguous",
    "unknown-ignore-code",
    "bad-ignore-comment",
)


def variant(tmp_path, *changes, body=CLEAN, header=HEADER, name="tiny.yaml"):
    """The scenario with each (old, new) change made once; (path, its lines, load result)."""
    for old, new in changes:
        assert body.count(old) == 1, old
        body = body.replace(old, new)
    path = write(tmp_path, body, name=name, header=header)
    return path, path.read_text(encoding="utf-8").splitlines(), load_scenario(path)


def line_of(lines, needle, nth=1):
    found = [i + 1 for i, line in enumerate(lines) if needle in line]
    return found[nth - 1]


def only(result, code):
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, [d.format() for d in result.diagnostics]
    assert found[0].severity == "warning"
    return found[0]


def test_the_clean_body_has_no_diagnostics(tmp_path):
    _, _, result = variant(tmp_path)
    assert result.ok and [d.format() for d in result.diagnostics] == []


def test_choice_without_feedback_is_reported_at_the_choice(tmp_path):
    _, lines, result = variant(tmp_path, ("        feedback: Leaving ends the contact.\n", ""))
    d = only(result, "missing-feedback")
    assert (d.line, d.col) == (line_of(lines, "- id: leave"), 9)
    assert "choice 'leave' in scene 'a' has no feedback" in d.message
    assert result.ok  # a warning: the scenario still plays


def test_timeout_without_feedback_is_reported_at_the_timeout(tmp_path):
    _, lines, result = variant(tmp_path, ("      feedback: Waiting leaves him alone with it.\n", ""))
    d = only(result, "missing-feedback")
    assert (d.line, d.col) == (line_of(lines, "timeout:"), 5)
    assert "the timeout of scene 'a'" in d.message


def test_a_single_option_is_reported_at_its_choices(tmp_path):
    _, lines, result = variant(
        tmp_path,
        ("      seconds: 30\n      to: done\n      feedback: Waiting leaves him alone with it.\n", ""),
        ("    timeout:\n", ""),
        (
            "      - id: leave\n        text: Leave.\n        to: done\n        feedback: Leaving ends the contact.\n",
            "",
        ),
    )
    d = only(result, "single-option")
    assert (d.line, d.col) == (line_of(lines, "choices:"), 5)
    assert "a decision needs at least two options; make it an auto move or add an alternative" in d.message


def test_one_choice_with_a_timeout_is_a_decision(tmp_path):
    _, _, result = variant(
        tmp_path,
        (
            "      - id: leave\n        text: Leave.\n        to: done\n        feedback: Leaving ends the contact.\n",
            "",
        ),
    )
    assert [d.code for d in result.diagnostics] == []


def test_ending_without_debrief_is_reported_at_end(tmp_path):
    _, lines, result = variant(tmp_path, ("      debrief: You listened.\n", ""))
    d = only(result, "missing-debrief")
    assert (d.line, d.col) == (line_of(lines, "end:"), 5)
    assert "ending 'done' has no debrief" in d.message


def test_long_narration_gives_its_length_and_the_limit(tmp_path):
    from simulator.lint import LONG_TEXT

    at_limit = "x" * LONG_TEXT
    _, _, result = variant(tmp_path, ("text: Sam paces by the door.", f"text: {at_limit}"))
    assert result.diagnostics == []
    long = "He paces. " * 70  # 700 characters, 699 without the last space
    _, lines, result = variant(tmp_path, ("    text: Sam paces by the door.\n", f"    text: >-\n      {long}\n"))
    d = only(result, "long-text")
    assert (d.line, d.col) == (line_of(lines, "text: >-"), 5)
    assert f"is 699 characters, over the {LONG_TEXT}" in d.message


SUICIDE_HEADER = (
    HEADER + 'tags: [youth, suicide-risk]\ncontent_warning: Suicide.\nresources: ["988 Lifeline: call 988."]\n'
)


def test_a_suicide_scenario_with_warning_and_988_is_clean(tmp_path):
    _, _, result = variant(tmp_path, header=SUICIDE_HEADER)
    assert result.diagnostics == []


@pytest.mark.parametrize(
    ("header", "changes", "where", "col", "evidence"),
    [
        (HEADER + "tags: [youth, suicide-risk]\n", (), "tags:", 15, "tag 'suicide-risk'"),
        (HEADER, [("{active_listening: 2}", "{ask_about_suicide: 2}")], "scores:", 18, "scores ask_about_suicide"),
        (
            HEADER,
            [("Sam paces by the door.", "Sam mentions suicidal thoughts.")],
            "text: Sam",
            5,
            "narration of scene 'a' mentions suicide",
        ),
    ],
)
def test_suicide_without_warning_or_resources_is_reported_at_the_evidence(
    tmp_path, header, changes, where, col, evidence
):
    _, lines, result = variant(tmp_path, *changes, header=header)
    for code, words in (
        ("suicide-no-warning", "has no content_warning"),
        ("suicide-no-resources", "lists no resources"),
    ):
        d = only(result, code)
        assert (d.line, d.col) == (line_of(lines, where), col), d.format()
        assert evidence in d.message and words in d.message


def test_an_empty_content_warning_is_no_warning(tmp_path):
    header = SUICIDE_HEADER.replace("content_warning: Suicide.", 'content_warning: ""')
    _, lines, result = variant(tmp_path, header=header)
    d = only(result, "suicide-no-warning")
    assert (d.line, d.col) == (line_of(lines, "tags:"), 15)
    assert [x.code for x in result.diagnostics] == ["suicide-no-warning"]


def test_resources_without_988(tmp_path):
    header = SUICIDE_HEADER.replace("988 Lifeline: call 988.", "Local crisis line: 555-0100.")
    _, lines, result = variant(tmp_path, header=header)
    d = only(result, "suicide-no-resources")
    assert (d.line, d.col) == (line_of(lines, "resources:"), 1)
    assert "988" in d.message


def test_other_scenarios_need_no_suicide_warning(tmp_path):
    # "No suicide content" in the content warning is not a sign that the scenario is about it
    header = HEADER + "content_warning: Psychosis. No suicide content.\n"
    _, _, result = variant(tmp_path, header=header)
    assert result.diagnostics == []


def test_no_authoring_warning_on_the_sample_or_the_library():
    from scoring.catalog import load_graded
    from simulator.library import library_files

    paths = list(library_files())
    assert SAMPLE in paths or any(p.name == SAMPLE.name for p in paths)
    for path in paths:
        graded = load_graded(path)
        assert [d.format() for d in graded.diagnostics if d.code in NEW_CODES] == []


# ---- YAML 1.1 ambiguity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reading"),
    [
        ("no", "read it as false"),
        ("No", "read it as false"),
        ("NO", "read it as false"),
        ("n", "read it as false"),
        ("off", "read it as false"),
        ("yes", "read it as true"),
        ("Y", "read it as true"),
        ("On", "read it as true"),
        ("1:20", "the number 80 (base 60)"),
        ("1:20.5", "the number 80.5 (base 60)"),
        ("0b101", "the number 5 (binary)"),
        ("-0x1F", "the number -31 (hexadecimal)"),
        ("1_000", "the number 1000"),
        ("012", "the number 10 (octal)"),
    ],
)
def test_yaml11_values_warn_at_the_value(value, reading):
    doc = parse_text(f"a: 1\nb: [x, {value}]\n", "t.yaml")
    assert len(doc.warnings) == 1, doc.warnings
    d = doc.warnings[0]
    assert (d.line, d.col, d.severity, d.code) == (2, 8, "warning", "yaml11-ambiguous")
    assert reading in d.message and f'quote it: "{value}"' in d.message


@pytest.mark.parametrize(
    "value",
    [
        '"no"',
        "'yes'",
        '"1:20"',
        "true",
        "false",
        "True",
        "null",
        "~",
        "12",
        "-3",
        "0",
        "07",
        "0x1F",
        "1.5",
        "1e3",
        "nope",
        "yesterday",
        "one",
        "scene_1",
        "1.2.3",
        "10:75",
        "0o17",
        "08",
        "'012'",
    ],
)
def test_values_every_yaml_reader_agrees_on_do_not_warn(value):
    assert parse_text(f"b: {value}\n", "t.yaml").warnings == []


def test_yaml11_in_a_scenario_is_reported_at_the_scalar(tmp_path):
    _, lines, result = variant(tmp_path, ("text: Listen.", "text: no"))
    d = only(result, "yaml11-ambiguous")
    assert (d.line, d.col) == (line_of(lines, "text: no"), 15)
    assert 'quote it: "no"' in d.message
    _, _, result = variant(tmp_path, ("text: Listen.", 'text: "no"'))
    assert result.diagnostics == []


def test_block_text_is_not_checked():
    assert parse_text("b: |\n  no\n", "t.yaml").warnings == []


# ---- silencing --------------------------------------------------------------------------------

NO_FEEDBACK = ("        feedback: Leaving ends the contact.\n", "")


def codes(result):
    return [d.code for d in result.diagnostics]


def test_ignore_on_the_same_line(tmp_path):
    _, _, result = variant(
        tmp_path, NO_FEEDBACK, ("- id: leave\n", "- id: leave  # crisis-sim: ignore[missing-feedback]\n")
    )
    assert codes(result) == []


def test_ignore_on_the_line_above_and_through_stacked_comments(tmp_path):
    above = "      # crisis-sim: ignore[missing-feedback]\n      - id: leave\n"
    _, _, result = variant(tmp_path, NO_FEEDBACK, ("      - id: leave\n", above))
    assert codes(result) == []
    stacked = "      # crisis-sim: ignore[missing-feedback]\n      # crisis-sim: ignore[long-text]\n      - id: leave\n"
    _, _, result = variant(tmp_path, NO_FEEDBACK, ("      - id: leave\n", stacked))
    assert codes(result) == []


def test_ignore_speaks_only_to_its_line(tmp_path):
    # a comment at the end of the line above, or a comment line with a blank line after it,
    # silences nothing
    _, _, result = variant(
        tmp_path,
        NO_FEEDBACK,
        ("        feedback: Listening helps.\n", "        feedback: Listening helps.  # crisis-sim: ignore\n"),
    )
    assert codes(result) == ["missing-feedback"]
    _, _, result = variant(
        tmp_path,
        NO_FEEDBACK,
        ("      - id: leave\n", "      # crisis-sim: ignore[missing-feedback]\n\n      - id: leave\n"),
    )
    assert codes(result) == ["missing-feedback"]


def test_ignore_names_the_codes_it_silences(tmp_path):
    _, _, result = variant(tmp_path, NO_FEEDBACK, ("- id: leave\n", "- id: leave  # crisis-sim: ignore[long-text]\n"))
    assert codes(result) == ["missing-feedback"]
    _, _, result = variant(tmp_path, NO_FEEDBACK, ("- id: leave\n", "- id: leave  # crisis-sim: ignore  the reason\n"))
    assert codes(result) == []


def test_ignore_file(tmp_path):
    header = "# crisis-sim: ignore-file[missing-debrief, missing-feedback]\n" + HEADER
    _, _, result = variant(tmp_path, NO_FEEDBACK, ("      debrief: You listened.\n", ""), header=header)
    assert codes(result) == []
    header = "# crisis-sim: ignore-file[missing-debrief]\n" + HEADER
    _, _, result = variant(tmp_path, NO_FEEDBACK, ("      debrief: You listened.\n", ""), header=header)
    assert codes(result) == ["missing-feedback"]


def test_unknown_code_gets_did_you_mean_at_the_code(tmp_path):
    _, lines, result = variant(
        tmp_path, NO_FEEDBACK, ("- id: leave\n", "- id: leave  # crisis-sim: ignore[missing-feedbak]\n")
    )
    d = only(result, "unknown-ignore-code")
    assert d.line == line_of(lines, "- id: leave")
    assert lines[d.line - 1][d.col - 1 :].startswith("missing-feedbak]")
    assert "(did you mean 'missing-feedback'?)" in d.message
    assert "missing-feedback" in codes(result)  # a misspelt code silences nothing


@pytest.mark.parametrize(
    ("comment", "words"),
    [
        ("# crisis-sim: ignore-file", "ignore-file needs the codes"),
        (
            "# crisis-sim: ignore missing-feedback",
            "put the codes in brackets: '# crisis-sim: ignore[missing-feedback]'",
        ),
        ("# crisis-sim: ignroe[missing-feedback]", "(did you mean 'ignore'?)"),
        ("# crisis-sim: ignore[]", "the brackets name no code"),
        ("# crisis-sim: ignore [missing-feedback]", "without a space"),
    ],
)
def test_unreadable_ignore_comments_are_reported_and_silence_nothing(tmp_path, comment, words):
    _, lines, result = variant(tmp_path, NO_FEEDBACK, ("      - id: leave\n", f"      {comment}\n      - id: leave\n"))
    d = only(result, "bad-ignore-comment")
    assert (d.line, d.col) == (line_of(lines, comment), 7)
    assert words in d.message
    assert "missing-feedback" in codes(result)


def test_errors_cannot_be_silenced(tmp_path):
    broken = "        to: nowhere  # crisis-sim: ignore[unknown-scene]\n"
    _, lines, result = variant(
        tmp_path, ("        to: done\n        feedback: Leaving", broken + "        feedback: Leaving")
    )
    assert not result.ok
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert [(d.code, d.line) for d in errors] == [("unknown-scene", line_of(lines, "to: nowhere"))]
    d = only(result, "unknown-ignore-code")
    assert "'unknown-scene' is an error, and errors cannot be silenced" in d.message
    # a bare ignore does not silence errors either
    _, _, result = variant(
        tmp_path,
        (
            "        to: done\n        feedback: Leaving",
            "        to: nowhere  # crisis-sim: ignore\n        feedback: Leaving",
        ),
    )
    assert [d.code for d in result.diagnostics] == ["unknown-scene"]


def test_every_warning_code_can_be_silenced_and_no_error():
    from simulator.diagnostics import Diagnostic
    from simulator.loader import WARNING_CODES, apply_silencing

    text = "a: 1\nb: 2  # crisis-sim: ignore\n"
    for code in sorted(WARNING_CODES):
        warning = Diagnostic("f.yaml", 2, 1, "warning", code, "m")
        assert apply_silencing([warning], text, "f.yaml") == []
        assert (
            apply_silencing(
                [warning], f"# crisis-sim: ignore-file[{code}]\n" + text.replace("  # crisis-sim: ignore", "")
            )
            == []
        )
    error = Diagnostic("f.yaml", 2, 1, "error", "unknown-scene", "m")
    assert apply_silencing([error], text, "f.yaml") == [error]
    other_file = Diagnostic("rubric.yaml", 2, 1, "warning", "long-text", "m")
    assert apply_silencing([other_file], text, "f.yaml") == [other_file]


def test_warning_codes_are_the_documented_warnings():
    import re
    from pathlib import Path

    from simulator.loader import WARNING_CODES

    doc = (Path(__file__).resolve().parent.parent / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    section = doc[doc.index("\n## Diagnostics") : doc.index("\n## Writing the content")]
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \| warning", section, re.M))
    assert documented - {"unknown-ignore-code", "bad-ignore-comment"} == set(WARNING_CODES)
    assert "### Silencing warnings" in section


def test_rubric_check_warnings_are_silenced_in_load_graded_and_validate(tmp_path):
    import os
    import subprocess
    import sys

    from scoring.catalog import load_graded

    guarded = (
        ("        to: done\n        scores", '        to: done\n        if: "rapport > 0"\n        scores'),
        (
            "        to: done\n        feedback: Leaving",
            '        to: done\n        if: "rapport > 5"\n        feedback: Leaving',
        ),
        ("      seconds: 30\n      to: done\n      feedback: Waiting leaves him alone with it.\n", ""),
        ("    timeout:\n", ""),
    )
    path, lines, _ = variant(tmp_path, *guarded)
    d = [d for d in load_graded(path).diagnostics if d.code == "possible-dead-end"]
    assert len(d) == 1 and d[0].line == line_of(lines, "choices:")
    path, _, _ = variant(
        tmp_path, *guarded, ("    choices:\n", "    choices:  # crisis-sim: ignore[possible-dead-end]\n")
    )
    graded = load_graded(path)
    assert graded.ok and graded.diagnostics == []
    proc = subprocess.run(
        [sys.executable, "-c", "from simulator.cli import main; main()", "validate", "--strict", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 error(s), 0 warning(s)" in proc.stdout


def test_the_docs_silencing_example_silences(tmp_path):
    long = "She wrote it all down. " * 30
    comments = "    # the note is the scene: the trainee reads it in full\n    # crisis-sim: ignore[long-text]\n"
    body = CLEAN.replace("    text: Sam paces by the door.\n", f"{comments}    text: |\n      {long}\n")
    _, _, result = variant(tmp_path, NO_FEEDBACK, body=body)
    assert codes(result) == ["missing-feedback"]
    _, _, result = variant(tmp_path, NO_FEEDBACK, body=body.replace("# crisis-sim: ignore[long-text]", "# note"))
    assert sorted(codes(result)) == ["long-text", "missing-feedback"]


_TERM_PIECES = [
    "commit", "commits", "committed", "successful", "completed", "failed", "unsuccessful", "suicide", "attempt",
    "excited", "delirium", "psycho", "psychos", "schizo", "schizophrenic", "a", "an", "the", "bipolar",
    "psychotic", "manic", "mentally", "ill", "mental", "patients", "lunatics", "nutters", "nut", "jobs",
    "loonies", "looney", "wackos", "crazies", "crazy", "insane", "deranged", "demented", "E", "D", "P", ".",
    "EDPs", "junkies", "crackheads", "druggies", "addicts", "retard", "retarded", "victims", "calm", "Maya",
]


@given(st.lists(st.sampled_from(_TERM_PIECES), max_size=8), st.sampled_from([" ", "", "  ", "\n"]), st.booleans())
def test_the_wording_prefilter_never_skips_a_text_the_pattern_matches(pieces, glue, upper):
    """The lint searches only texts that hold one of its needles: every match must hold one."""
    from simulator.lint import _ALL, _may_match

    text = glue.join(pieces)
    text = text.upper() if upper else text
    assert _may_match(text) or _ALL.search(text) is None
