"""analyze and the scoring checks in validate, end to end through the command line."""

from __future__ import annotations

import json

from scenario_factory import HEADER, write
from test_run_cli import cli


def test_analyze_sample_best_passes_worst_fails_and_paths_replay_to_the_same_scores():
    out = cli("analyze", "overpass-railing", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["problems"] == [] and not data["bound_hit"]
    assert data["best"]["score"] == 100.0 and data["best"]["passed"] is True
    assert data["worst"]["passed"] is False
    assert all(data["endings"].values())
    for key in ("best", "worst"):
        path = data[key]
        args = ["run", "overpass-railing", "--choose", ",".join(path["choices"]), "--json"]
        if path["timeouts"]:
            args += ["--timeout-at", ",".join(path["timeouts"])]
        replay = json.loads(cli(*args).stdout)
        assert replay["grade"]["overall"] == path["score"]
        assert replay["grade"]["passed"] == path["passed"]


def test_analyze_text_output_gives_runnable_commands():
    out = cli("analyze", "overpass-railing")
    assert out.returncode == 0
    assert "Best path: score 100, passes" in out.stdout
    assert "crisis-sim run overpass-railing --choose ask-dispatch,slow-approach," in out.stdout
    assert "Problems: none" in out.stdout


def test_analyze_reports_the_bound_and_exits_1():
    out = cli("analyze", "overpass-railing", "--max-states", "20")
    assert out.returncode == 1
    assert "the state bound (20) was hit" in out.stdout


def test_run_json_carries_the_whole_grade():
    data = json.loads(cli("run", "overpass-railing", "--choose", "order-down", "--json").stdout)
    grade = data["grade"]
    assert grade["passed"] is False and grade["critical_errors"][0]["id"] == "threat_or_force_without_need"
    assert {d["id"] for d in grade["dimensions"]} >= {"safety_assessment", "listening_empathy"}
    assert grade["decisions"][0]["best"]["id"] == "ask-dispatch"


FARM = """\
start: a
scenes:
  a:
    choices:
      - {id: praise, text: Praise, to: b, scores: {active_listening: 1}}
      - {id: go, text: Go, to: done, scores: {empathy_validation: 1}}
  b:
    choices:
      - {id: back, text: Back, to: a}
      - {id: maybe, text: Maybe, to: done, if: asked}
  done:
    end: {rating: good, outcome: Done.}
"""


def test_validate_flags_point_farming_and_possible_dead_ends(tmp_path):
    path = write(tmp_path, FARM)
    out = cli("validate", str(path))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    farm = next(line for line in lines if "[point-farming]" in line)
    line_no = (
        HEADER.count("\n")
        + FARM.splitlines().index("      - {id: praise, text: Praise, to: b, scores: {active_listening: 1}}")
        + 1
    )
    assert farm.startswith(f"{path}:{line_no}:14: error: choice 'praise'")
    guarded = write(tmp_path, FARM.replace("to: b, scores", 'to: b, if: "visits(a) < 2", scores'), "guarded.yaml")
    ok = cli("validate", str(guarded))
    assert ok.returncode == 0, ok.stdout
    assert "[point-farming]" not in ok.stdout


def test_validate_warns_when_every_choice_is_conditional(tmp_path):
    body = FARM.replace("- {id: back, text: Back, to: a}", '- {id: back, text: Back, to: a, if: "not asked"}')
    out = cli("validate", "--strict", str(write(tmp_path, body)))
    assert out.returncode == 1
    assert "warning: every choice in scene 'b' has an 'if'" in out.stdout


def test_validate_checks_scores_against_the_rubric(tmp_path):
    body = FARM.replace("active_listening: 1}}", "active_listenin: 1}}")
    out = cli("validate", str(write(tmp_path, body)))
    assert out.returncode == 1
    assert "did you mean 'active_listening'" in out.stdout


def test_unknown_rubric_option_is_one_line():
    out = cli("analyze", "overpass-railing", "--rubric", "nope")
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1 and "nope" in out.stderr


def test_analyze_prints_runnable_commands_for_files_outside_the_library(tmp_path):
    import shutil

    from scenario_factory import SAMPLE

    copy = tmp_path / "my-copy.yaml"
    shutil.copy(SAMPLE, copy)
    out = cli("analyze", str(copy))
    assert out.returncode == 0
    command = next(line.strip() for line in out.stdout.splitlines() if line.strip().startswith("crisis-sim run"))
    assert command.startswith(f"crisis-sim run {copy} --choose ")
    replay = cli(*command.split()[1:], "--no-record")
    assert replay.returncode == 0 and "=== Debrief ===" in replay.stdout


def test_the_command_line_defaults_are_the_analysis_defaults():
    """The CLI spells its defaults out (importing scoring would slow every command's start)."""
    from scoring.analysis import DEFAULT_MAX_STATES, DEFAULT_MAX_WORK
    from simulator.cli.authoring import analyze

    defaults = {p.name: p.default for p in analyze.params}
    assert defaults["max_states"] == DEFAULT_MAX_STATES and defaults["max_work"] == DEFAULT_MAX_WORK
