"""The wording lint: stigmatising or unsafe terms in the scenario's own voice are flagged with
their exact position; characters' spoken lines and the trainee's options are not."""

from __future__ import annotations

import pytest
from scenario_factory import HEADER, write

from simulator.loader import load_scenario

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
