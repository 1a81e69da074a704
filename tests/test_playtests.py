"""Recorded playthrough tests: the format, load-time diagnostics, the diff of a failing
playthrough, `crisis-sim test` over the library and in tmp_path, and `--record`."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from scenario_factory import REPO, write
from test_run_cli import cli

from scoring.catalog import load_graded
from scoring.playtests import appended_text, collect, run_playthroughs, sidecar_for
from simulator.loader import scenario_files
from simulator.model import Playthrough, ScoreRange, TimeoutStep
from simulator.yamlsource import parse_text

# A door with a timer; 'introduce' then 'listen' is the best path (100, passes).
DOOR = """\
start: door
scenes:
  door:
    timeout: {seconds: 20, to: door_shut, scores: {respectful_approach: -1}, feedback: Waiting shuts him out.}
    choices:
      - {id: introduce, text: Introduce yourself, to: talking, scores: {respectful_approach: 2}, feedback: Good.}
      - {id: ask-name, text: Ask his name, to: talking, scores: {respectful_approach: 0}, feedback: Fine.}
      - id: shove
        text: Shove the door open
        to: door_shut
        scores: {respectful_approach: -2}
        critical: threat_or_force_without_need
        feedback: Force with no need.
  talking:
    choices:
      - {id: listen, text: Listen, to: good_end, scores: {empathy_validation: 2}, feedback: Good.}
      - {id: leave, text: Leave, to: door_shut, scores: {empathy_validation: -1}, feedback: Too soon.}
  good_end:
    end: {rating: good, outcome: He talks with you.}
  door_shut:
    end: {rating: poor, outcome: The door shut.}
"""

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def door(tmp_path: Path, tests: str | None = None) -> Path:
    path = write(tmp_path, DOOR, name="door.yaml")
    if tests is not None:
        (tmp_path / "door.tests.yaml").write_text(textwrap.dedent(tests), encoding="utf-8")
    return path


def errors(path: Path) -> list[str]:
    suite = collect(path)
    return [d.format().replace(str(path.parent) + "/", "") for d in suite.diagnostics if d.severity == "error"]


# ---- format ---------------------------------------------------------------------------------


def test_sidecar_parses_steps_timeouts_and_score_forms(tmp_path):
    path = door(
        tmp_path,
        """\
        # comments are fine
        tests:
          - name: best
            steps: [introduce, listen]
            ending: good_end
            score: 100
            passed: true
            critical: []
          - name: wait at the door
            steps: [{timeout: door}]
            ending: door_shut
            score: {min: 0, max: 10}
          - name: only the ending
            steps: [shove]
            ending: door_shut
        """,
    )
    suite = collect(path)
    assert suite.ok, [d.format() for d in suite.diagnostics]
    best, wait, bare = (c.playthrough for c in suite.cases)
    assert best.steps == ["introduce", "listen"] and best.score == ScoreRange(min=100, max=100)
    assert best.passed is True and best.critical == []
    assert wait.steps == [TimeoutStep(timeout="door")] and wait.score == ScoreRange(min=0, max=10)
    assert bare.score is None and bare.passed is None and bare.critical is None
    assert [c.where for c in suite.cases] == [f"{tmp_path}/door.tests.yaml:{n}:5" for n in (3, 9, 13)]


def test_inline_tests_and_sidecar_are_both_collected_and_names_must_be_unique(tmp_path):
    body = DOOR + "tests:\n  - {name: best, steps: [introduce, listen], ending: good_end}\n"
    path = write(tmp_path, body, name="door.yaml")
    (tmp_path / "door.tests.yaml").write_text(
        "tests:\n  - name: best\n    steps: [shove]\n    ending: door_shut\n", encoding="utf-8"
    )
    inline_line = len(path.read_text(encoding="utf-8").splitlines())
    assert errors(path) == [
        f"door.tests.yaml:2:11: error: playthrough name 'best' is already used (door.yaml:{inline_line}); "
        "names must be unique per scenario [duplicate-test-name]"
    ]


def test_structure_errors_have_lines_and_plain_words(tmp_path):
    path = door(
        tmp_path,
        """\
        tests:
          - name: one
            steps: [introduce, 3, Listen, {timout: door}]
            endng: good_end
            passed: "true"
            score: 120
        """,
    )
    assert errors(path) == [
        "door.tests.yaml:2:5: error: tests[0] needs the key 'ending' [missing-key]",
        "door.tests.yaml:3:24: error: tests[0].steps[1]: a step is a choice id or {timeout: SCENE}, not the number 3"
        " [bad-value]",
        "door.tests.yaml:3:27: error: tests[0].steps[2]: 'Listen' is not a choice id, which is lowercase letters, "
        "digits, '_' and '-', starting with a letter, like 'ask-directly'; to let a timer run out write "
        "{timeout: SCENE} [bad-value]",
        "door.tests.yaml:3:35: error: tests[0].steps[3]: unknown key 'timout' in a step (did you mean 'timeout'?); "
        "a step that lets a timer run out is {timeout: SCENE} [bad-value]",
        "door.tests.yaml:4:5: error: unknown key 'endng' in tests[0] (did you mean 'ending'?) [unknown-key]",
        "door.tests.yaml:5:13: error: tests[0].passed must be true or false (found the text 'true') [wrong-type]",
        "door.tests.yaml:6:12: error: tests[0].score: 120 is outside 0-100 [bad-value]",
    ]


def test_references_are_checked_at_load_time_with_did_you_mean(tmp_path):
    path = door(
        tmp_path,
        """\
        tests:
          - name: typos
            steps: [introduce, lisen, timeout, {timeout: talking}, {timeout: dor}]
            ending: good_edn
            critical: [threat_or_force]
          - name: not an ending
            steps: [introduce, listen]
            ending: talking
            score: {min: 80, max: 60}
        """,
    )
    assert errors(path) == [
        "door.tests.yaml:3:24: error: playthrough 'typos': step 2: no scene has a choice 'lisen' "
        "(did you mean 'listen'?) [unknown-choice]",
        "door.tests.yaml:3:31: error: playthrough 'typos': step 3: no scene has a choice 'timeout'; "
        "to let a timer run out write {timeout: SCENE} [unknown-choice]",
        "door.tests.yaml:3:40: error: playthrough 'typos': step 4: scene 'talking' has no timeout, so its timer "
        "cannot run out; scenes with a timer: door [no-timeout]",
        "door.tests.yaml:3:60: error: playthrough 'typos': step 5: unknown scene 'dor' (did you mean 'door'?) "
        "[unknown-scene]",
        "door.tests.yaml:4:13: error: playthrough 'typos': unknown ending 'good_edn' (did you mean 'good_end'?); "
        "the endings are good_end, door_shut [unknown-ending]",
        "door.tests.yaml:5:16: error: playthrough 'typos': no choice or timeout of this scenario carries the "
        "critical error 'threat_or_force' (did you mean 'threat_or_force_without_need'?) [unknown-critical-error]",
        "door.tests.yaml:8:13: error: playthrough 'not an ending': scene 'talking' is not an ending; the endings "
        "are good_end, door_shut [unknown-ending]",
        "door.tests.yaml:9:12: error: playthrough 'not an ending': score range: min (80) is above max (60) [bad-value]",
    ]


# ---- running --------------------------------------------------------------------------------


def _run(tmp_path: Path, **fields: object):
    graded = load_graded(door(tmp_path))
    assert graded.ok, [d.format() for d in graded.diagnostics]
    playthrough = Playthrough.model_validate({"name": "t", **fields})
    return run_playthroughs(graded.scenario, graded.rubric, [playthrough])[0]


def test_a_matching_playthrough_passes_including_timeouts(tmp_path):
    best = _run(tmp_path, steps=["introduce", "listen"], ending="good_end", score=100, passed=True, critical=[])
    assert best.passed and best.diff == []
    waited = _run(tmp_path, steps=[{"timeout": "door"}], ending="door_shut", score=0, passed=False, critical=[])
    assert waited.passed, waited.diff


def test_a_failing_playthrough_shows_expected_vs_actual(tmp_path):
    outcome = _run(
        tmp_path,
        steps=["ask-name", "listen"],
        ending="door_shut",
        score={"min": 90, "max": 100},
        passed=True,
        critical=["threat_or_force_without_need"],
    )
    assert not outcome.passed
    assert outcome.diff == [
        "ending:   expected 'door_shut', got 'good_end'",
        "score:    expected between 90 and 100, got 57.1",
        "passed:   expected true, got false (overall score 57.1 is below the pass mark of 70; "
        "Engagement scored 0.0, below the minimum of 50)",
        "critical: expected threat_or_force_without_need, got none",
    ]


def test_the_diff_says_where_the_path_diverged(tmp_path):
    outcome = _run(tmp_path, steps=["introduce", "introduce"], ending="good_end", passed=True)
    assert outcome.diff == [
        "path:     step 2: choice 'introduce' is not on offer in scene 'talking' (offered: listen, leave)",
        "ending:   expected 'good_end', got none (the run did not reach an ending)",
        "          (passed not compared: the run did not reach an ending)",
    ]
    wrong_wait = _run(tmp_path, steps=["introduce", {"timeout": "door"}], ending="good_end")
    assert wrong_wait.diff[0] == (
        "path:     step 2: expected to wait in scene 'door', but the run is in scene 'talking' (offered: listen, leave)"
    )
    too_long = _run(tmp_path, steps=["shove", "listen"], ending="door_shut", critical=["threat_or_force_without_need"])
    assert too_long.diff == [
        "path:     step 2: the run already ended in scene 'door_shut' after step 1, so step 2 is never played"
    ]
    short = _run(tmp_path, steps=["introduce"], ending="good_end")
    assert short.diff[0] == (
        "path:     after the last step the run is still in scene 'talking' (offered: listen, leave); add the next step"
    )


# ---- crisis-sim test ------------------------------------------------------------------------


def test_the_library_passes_its_playthrough_tests():
    """The project's test suite runs `crisis-sim test` over the bundled library."""
    out = cli("test")
    assert out.returncode == 0, out.stdout + out.stderr
    last = out.stdout.strip().splitlines()[-1]
    match = SUMMARY.match(last)
    assert match, last
    scenarios = scenario_files([REPO / "scenarios"])
    assert int(match.group(1)) >= 3 * len(scenarios) and match.group(2) == "0"
    for scenario in scenarios:
        assert re.search(rf"^scenarios/{re.escape(scenario.name)} \.{{3,}}$", out.stdout, re.M), scenario


def test_every_bundled_scenario_has_best_worst_and_critical_playthroughs():
    for scenario in scenario_files([REPO / "scenarios"]):
        suite = collect(scenario)
        assert suite.ok, [d.format() for d in suite.diagnostics]
        assert suite.sidecar == sidecar_for(scenario) and suite.sidecar.exists()
        by_name = {c.name: c.playthrough for c in suite.cases}
        assert by_name["best path"].passed is True and by_name["best path"].critical == []
        assert by_name["worst path"].passed is False
        assert any(p.critical for p in by_name.values()), scenario
        for p in by_name.values():
            assert p.score is not None and p.passed is not None and p.critical is not None


def test_a_failing_sidecar_exits_1_with_the_diff(tmp_path):
    door(
        tmp_path,
        """\
        tests:
          - name: best
            steps: [introduce, listen]
            ending: good_end
            score: 100
          - name: wrong ending
            steps: [introduce, leave]
            ending: good_end
        """,
    )
    out = cli("test", str(tmp_path))
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"{tmp_path}/door.yaml .F"
    assert "FAILURES" in out.stdout and "tiny :: wrong ending" in out.stdout
    assert f"{tmp_path}/door.tests.yaml:6:5: playthrough 'wrong ending' (expected vs actual)" in lines
    assert "  ending:   expected 'good_end', got 'door_shut'" in lines
    assert "  steps:    introduce, leave" in lines
    assert lines[-1] == "1 passed, 1 failed"


def test_k_selects_by_scenario_id_and_name(tmp_path):
    door(
        tmp_path,
        "tests:\n  - {name: best, steps: [introduce, listen], ending: good_end}\n"
        "  - {name: broken, steps: [introduce, leave], ending: good_end}\n",
    )
    out = cli("test", str(tmp_path / "door.yaml"), "-k", "TINY::BE")
    assert out.returncode == 0, out.stdout
    assert out.stdout.splitlines()[-1] == "1 passed, 0 failed"
    none = cli("test", str(tmp_path), "-k", "nothing-like-this")
    assert none.returncode == 1 and "no playthrough tests found matching -k 'nothing-like-this'" in none.stderr


def test_load_errors_are_reported_and_fail_the_run(tmp_path):
    door(tmp_path, "tests:\n  - {name: typo, steps: [introduce, lisen], ending: good_end}\n")
    (tmp_path / "gone.tests.yaml").write_text("tests: []\n", encoding="utf-8")
    out = cli("test", str(tmp_path))
    assert out.returncode == 1
    assert f"{tmp_path}/door.yaml E" in out.stdout
    assert "door.tests.yaml:2:37: error: playthrough 'typo': step 2: no scene has a choice 'lisen'" in out.stdout
    assert "no scenario file gone.yaml next to these playthrough tests" in out.stdout
    assert out.stdout.splitlines()[-1] == "0 passed, 2 failed"


def test_usage_errors_exit_2():
    for args in (
        ["test", "--choose", "a"],
        ["test", "--record", "x", "--choose", "a"],
        ["test", "a.yaml", "b.yaml", "--record", "x", "--choose", "a"],
        ["test", "overpass-railing", "--record", "x"],
    ):
        out = cli(*args)
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr


# ---- --record -------------------------------------------------------------------------------


def test_record_creates_the_sidecar_and_the_recorded_test_passes(tmp_path):
    path = door(tmp_path)
    out = cli("test", str(path), "--record", "waits, then nothing", "--timeout-at", "door")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("recorded 'waits, then nothing' (created ")
    out = cli("test", str(path), "--record", "best", "--choose", "1,listen")
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "door.tests.yaml").read_text(encoding="utf-8")
    assert text.endswith(
        "tests:\n"
        '  - name: "waits, then nothing"\n'
        '    steps: [{timeout: "door"}]\n'
        '    ending: "door_shut"\n'
        "    score: 0\n"
        "    passed: false\n"
        "    critical: []\n"
        "\n"
        '  - name: "best"\n'
        '    steps: ["introduce", "listen"]\n'
        '    ending: "good_end"\n'
        "    score: 100\n"
        "    passed: true\n"
        "    critical: []\n"
    )
    run = cli("test", str(path))
    assert run.returncode == 0 and run.stdout.splitlines()[-1] == "2 passed, 0 failed"


def test_record_appends_keeping_comments_and_records_critical_errors(tmp_path):
    original = (
        "# Door tests, kept by hand.\n"
        "tests:\n"
        "    # the ideal run\n"
        "    -   name: best\n"
        "        steps: [introduce, listen]\n"
        "        ending: good_end\n"
        "# end of the hand-written tests\n"
    )
    door(tmp_path, original)
    out = cli("test", str(tmp_path / "door.yaml"), "--record", "shoves", "--choose", "shove")
    assert out.returncode == 0, out.stderr
    assert "critical errors: threat_or_force_without_need" in out.stdout
    text = (tmp_path / "door.tests.yaml").read_text(encoding="utf-8")
    assert text.startswith(original)
    assert text[len(original) :] == (
        "\n"
        '    - name: "shoves"\n'
        '      steps: ["shove"]\n'
        '      ending: "door_shut"\n'
        "      score: 0\n"
        "      passed: false\n"
        '      critical: ["threat_or_force_without_need"]\n'
    )
    assert cli("test", str(tmp_path)).stdout.splitlines()[-1] == "2 passed, 0 failed"


def test_record_refuses_a_duplicate_name_and_leaves_the_file_alone(tmp_path):
    door(tmp_path, "tests:\n  - {name: best, steps: [introduce, listen], ending: good_end}\n")
    before = (tmp_path / "door.tests.yaml").read_bytes()
    out = cli("test", str(tmp_path / "door.yaml"), "--record", "best", "--choose", "shove")
    assert out.returncode == 1
    assert out.stderr == (
        f"crisis-sim: error: a playthrough named 'best' already exists ({tmp_path}/door.tests.yaml:2:5); "
        "pick another name\n"
    )
    assert (tmp_path / "door.tests.yaml").read_bytes() == before


def test_record_refuses_a_path_that_does_not_fit(tmp_path):
    path = door(tmp_path)
    out = cli("test", str(path), "--record", "bad", "--choose", "listen")
    assert out.returncode == 1
    assert out.stderr.startswith("crisis-sim: error: --choose item 1 ('listen'): choice 'listen' is not on offer")
    unfinished = cli("test", str(path), "--record", "bad", "--choose", "introduce")
    assert unfinished.returncode == 1 and "ran out in scene 'talking'" in unfinished.stderr
    assert not (tmp_path / "door.tests.yaml").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tests: []\n", "tests:\n  - name: "),
        ("tests: []  # none yet\n", "tests:  # none yet\n  - name: "),
        ("tests:\n", "tests:\n  - name: "),
        ("# nothing here yet\n", "# nothing here yet\ntests:\n  - name: "),
        ("tests:\r\n  - {name: a, steps: [], ending: good_end}\r\n", "ending: good_end}\r\n\r\n  - name: "),
    ],
)
def test_appending_to_the_other_shapes_of_a_sidecar(text, expected):
    playthrough = Playthrough.model_validate({"name": "new", "steps": ["shove"], "ending": "door_shut"})
    document = parse_text(text, "t.tests.yaml") if "tests" in text else None
    result = appended_text(text, document, playthrough, "door.yaml")
    assert expected in result
    assert parse_text(result.replace("\r\n", "\n"), "t.tests.yaml").data["tests"][-1]["name"] == "new"


def test_a_playthrough_longer_than_max_decisions_says_so(tmp_path):
    from scenario_factory import load

    from scoring.playtests import play

    scenario = load(tmp_path, "max_decisions: 2\nstart: a\nscenes:\n  a:\n    choices:\n"
                    "      - {id: again, text: Again, to: a}\n      - {id: leave, text: Leave, to: done}\n"
                    "  done:\n    end: {rating: good, outcome: Done.}\n")
    _, problem = play(scenario, ["again", "again", "leave"])
    assert problem == (
        "step 3: the run reached 2 decisions, the most this scenario allows (its max_decisions), and stopped in "
        "scene 'a'"
    )


# ---- --update: re-pinning after a change --------------------------------------------------------


def test_update_repins_changed_tests_keeps_the_header_and_lists_what_it_cannot_replay(tmp_path):
    path = door(
        tmp_path,
        """\
        # my notes about these tests
        tests:
          - name: "best"
            steps: ["introduce", "listen"]
            ending: "good_end"
            score: 80
            passed: false
            critical: []

          - name: "in range"
            steps: ["introduce", "listen"]
            ending: "good_end"
            score: {min: 90, max: 100}

          - name: "shoved"
            steps: ["shove"]
            ending: "good_end"
            critical: []

          - name: "no longer plays"
            steps: ["introduce", "introduce"]
            ending: "good_end"
        """,
    )
    before = cli("test", str(path))
    assert before.returncode == 1
    out = cli("test", str(path), "--update")
    assert out.returncode == 1, out.stderr  # one test is left for the author
    lines = out.stdout.splitlines()
    assert any("re-pinned 'best': score: expected 80, got 100; passed: expected false, got true" in x for x in lines)
    assert any("re-pinned 'shoved': ending: expected 'good_end', got 'door_shut'" in x for x in lines)
    assert any("kept 'no longer plays'" in x for x in lines)
    assert lines[-1] == "2 test(s) re-pinned in 1 scenario(s); 1 left for you to fix"
    text = (tmp_path / "door.tests.yaml").read_text(encoding="utf-8")
    assert text.startswith("# my notes about these tests\ntests:\n")
    assert "score: {min: 90, max: 100}" in text  # a range that still holds stays a range
    shoved = '  - name: "shoved"\n    steps: ["shove"]\n    ending: "door_shut"\n'
    assert shoved + '    critical: ["threat_or_force_without_need"]\n' in text
    after = cli("test", str(path))
    assert after.stdout.splitlines()[-1] == "3 passed, 1 failed"


def test_update_refuses_other_options_and_needs_a_path(tmp_path):
    path = door(tmp_path)
    assert cli("test", str(path), "--update", "--record", "x").returncode == 2
    assert cli("test", "--update").returncode == 2
