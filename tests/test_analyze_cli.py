"""analyze and the scoring checks in validate, end to end through the command line."""

from __future__ import annotations

import json

from scenario_factory import GOOD_ENDING_FAILS, HEADER, SAMPLE, write
from test_run_cli import cli


def test_analyze_sample_best_passes_worst_fails_and_paths_replay_to_the_same_scores():
    out = cli("analyze", "overpass-railing", "--json")
    assert out.returncode == 0, out.stdout
    data = json.loads(out.stdout)
    assert data["problems"] == [] and data["grade_mismatches"] == []
    assert not data["bound_hit"] and data["grade_check_partial"] == ""
    assert data["best"]["score"] == 100.0 and data["best"]["passed"] is True
    assert data["worst"]["score"] == 0.0 and data["worst"]["passed"] is False
    assert all(data["endings"].values())
    for key, path in (("best", data["best"]), ("worst", data["worst"])):
        _replays_to(str(SAMPLE), path, key)


def _replays_to(scenario: str, path: dict, key: str) -> None:
    args = ["run", scenario, "--choose", ",".join(path["choices"]), "--json", "--no-record"]
    if path["timeouts"]:
        args += ["--timeout-at", ",".join(path["timeouts"])]
    replay = json.loads(cli(*args).stdout)
    assert replay["grade"]["overall"] == path["score"], key
    assert replay["grade"]["passed"] == path["passed"], key


def test_a_good_ending_reached_with_a_failing_grade_is_a_problem_with_its_command(tmp_path):
    path = str(write(tmp_path, GOOD_ENDING_FAILS))
    out = cli("analyze", path, "--json")
    assert out.returncode == 1, out.stdout
    data = json.loads(out.stdout)
    assert len(data["problems"]) == 1 and "reaches ending 'done' (rated good) and fails" in data["problems"][0]
    [mismatch] = data["grade_mismatches"]
    assert (mismatch["ending"], mismatch["passed"], mismatch["choices"]) == ("done", False, ["lecture", "shrug"])
    _replays_to(path, mismatch, "mismatch")


def test_analyze_text_output_gives_runnable_commands(tmp_path):
    out = cli("analyze", "overpass-railing")
    assert out.returncode == 0
    assert "Best path: score 100, passes" in out.stdout
    best = out.stdout.split("Best path: score 100, passes", 1)[1].splitlines()[1].strip()
    assert best.startswith("crisis-sim run overpass-railing --choose ")
    replay = json.loads(cli(*best.split()[1:], "--no-record", "--json").stdout)
    assert replay["grade"]["overall"] == 100.0 and replay["grade"]["passed"] is True
    path = write(tmp_path, GOOD_ENDING_FAILS)
    out = cli("analyze", str(path))
    assert out.returncode == 1
    section = out.stdout.split("Grades that disagree with the ending (paths without a critical error):\n")[1]
    assert section.startswith("  ending 'done' (rated good) fails with a score of ")
    assert f"\n    crisis-sim run {path} --choose lecture,shrug" in section


def test_analyze_reports_the_bound_and_exits_1():
    out = cli("analyze", "overpass-railing", "--max-states", "20")
    assert out.returncode == 1
    assert "the state bound (20) was hit" in out.stdout


def test_a_stopped_search_never_offers_a_critical_error_as_the_best_path():
    """With 10 states only the critical 'order-down' reaches an ending: no best path, and the
    grade check says it is partial."""
    out = cli("analyze", "overpass-railing", "--max-states", "10", "--json")
    data = json.loads(out.stdout)
    assert out.returncode == 1 and data["bound_hit"] and data["best"] is None
    assert data["worst"]["choices"] == ["order-down"]
    assert "state bound was hit" in data["grade_check_partial"]
    text = cli("analyze", "overpass-railing", "--max-states", "10").stdout
    assert "Best path: none reaches an ending without a critical error" in text
    assert "grades were checked against endings only in part" in text


SOUND = """\
start: a
scenes:
  a:
    choices:
      - {id: listen, text: Listen, to: b, scores: {active_listening: 2}}
      - {id: lecture, text: Lecture, to: LECTURE, scores: {active_listening: -2}}
  b:
    choices:
      - {id: thank, text: Thank, to: WELL, scores: {empathy_validation: 1}}
      - {id: leave, text: Leave, to: badly, scores: {empathy_validation: -1}}
  well:
    end: {rating: good, outcome: Done well.}
  badly:
    end: {rating: poor, outcome: Done badly.}
"""


def test_analyze_reports_a_good_ending_reached_with_a_failing_grade(tmp_path):
    sound = cli("analyze", str(write(tmp_path, SOUND.replace("WELL", "well").replace("LECTURE", "badly"))))
    assert sound.returncode == 0 and "Problems: none" in sound.stdout, sound.stdout
    # the lecture now leads on, and the good ending is still one kind word away
    body = SOUND.replace("WELL", "well").replace("LECTURE", "b")
    out = cli("analyze", str(path := write(tmp_path, body, "lecture.yaml")))
    assert out.returncode == 1
    assert "ending 'well' (rated good) fails with a score of 0" in out.stdout
    command = f"crisis-sim run {path} --choose lecture,thank"
    assert f"    {command}\n" in out.stdout
    assert "a path without a critical error reaches ending 'well' (rated good) and fails" in out.stdout
    replay = cli(*command.split()[1:], "--no-record")
    assert "NOT PASSED" in replay.stdout and "(rated good)" in replay.stdout


def test_analyze_reports_a_poor_ending_reached_with_a_passing_grade(tmp_path):
    """Only a rubric whose pass rule accepts poor endings can pass one."""
    from scoring.rubric import find_rubric

    folder = tmp_path / "rubrics"
    folder.mkdir()
    text = find_rubric("default").read_text(encoding="utf-8")
    assert "ratings: [good, acceptable]" in text
    (folder / "default.yaml").write_text(text.replace("[good, acceptable]", "[good, acceptable, poor]"))
    body = SOUND.replace("WELL", "badly").replace("LECTURE", "badly")  # doing well ends badly: a wrong rating
    out = cli("analyze", str(write(tmp_path, body)), "--rubric", str(folder / "default.yaml"))
    assert out.returncode == 1
    assert "ending 'badly' (rated poor) passes with a score of 100" in out.stdout
    default = cli("analyze", str(write(tmp_path, body, "default-rubric.yaml")))  # there, poor never passes
    assert "rated poor" not in default.stdout and "the best path does not pass" in default.stdout


def test_analyze_says_when_loops_keep_the_grade_check_partial(tmp_path):
    body = SOUND.replace("WELL", "well").replace("LECTURE", "badly").replace(
        "      - {id: leave,", "      - {id: pause, text: Pause, to: b}\n      - {id: leave,"
    )
    out = cli("analyze", str(write(tmp_path, body)))
    assert "grades were checked against endings only in part: paths that go round a loop of states" in out.stdout


def test_run_json_carries_the_whole_grade():
    data = json.loads(cli("run", "overpass-railing", "--choose", "order-down", "--json").stdout)
    grade = data["grade"]
    assert grade["passed"] is False and grade["critical_errors"][0]["id"] == "threat_or_force_without_need"
    assert grade["overall"] == 0.0 and grade["performance"] == 0.0 and grade["method"] == 2
    dims = {d["id"]: d["score"] for d in grade["dimensions"]}
    assert set(dims) == {"safety_assessment", "engagement", "listening_empathy", "suicide_risk",
                         "respectful_influence", "resolution_care"}
    assert dims["resolution_care"] is None and dims["safety_assessment"] == 0.0  # n/a is null
    assert [o["id"] for o in grade["decisions"][0]["better"]] == ["ask-dispatch", "slow-approach"]


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
    assert out.returncode == 0, out.stdout
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


def test_a_path_longer_than_max_decisions_is_reported_not_graded(tmp_path):
    """The state graph does not count decisions: a path to an ending that needs more than the
    scenario's max_decisions cannot be played to it, so it is named as such and not graded
    (grading it used to end analyze with an internal error)."""
    body = "max_decisions: 3\nstart: s0\nscenes:\n"
    for i in range(5):
        body += (f"  s{i}:\n    text: Scene {i}.\n    choices:\n"
                 f"      - {{id: good, text: Listen., to: {'s' + str(i + 1) if i < 4 else 'end'}, "
                 "scores: {active_listening: 1}}\n"
                 f"      - {{id: bad, text: Argue., to: {'s' + str(i + 1) if i < 4 else 'end'}, "
                 "scores: {active_listening: -1}}\n")
    body += "  end:\n    end: {rating: good, outcome: Done., debrief: Done.}\n"
    path = write(tmp_path, body)
    done = cli("analyze", str(path))
    out = done.stdout + done.stderr
    assert "internal error" not in out and done.returncode in (0, 1), out
    assert "Best path: 5 decisions to ending 'end', more than the scenario's max_decisions" in out, out
    assert "path(s) take more than the scenario's max_decisions (3) and were not graded" in out, out
    data = json.loads(cli("analyze", "--json", str(path)).stdout)
    assert data["best"]["over_limit"] is True and data["best"]["grade"] is None


def test_a_difficulty_cut_short_by_the_random_runs_says_so_not_that_states_were_left_out(tmp_path):
    """A long chain is explored completely, but its random walks (each as long as the chain) use up
    the moves allowed to all of them before RANDOM_RUNS finish: the difficulty is partial for that
    reason, and the line must not blame a bound that was never hit."""
    from benchmarks.analyze import chain_text

    path = tmp_path / "chain.yaml"
    path.write_text(chain_text(500))
    out = cli("analyze", str(path))
    assert "bound" not in out.stdout and "budget" not in out.stdout, out.stdout[:2000]
    [line] = [line for line in out.stdout.splitlines() if line.startswith("Difficulty (measured)")]
    assert "from the states explored" not in line
    assert "random runs of 1,000 finished within the moves allowed)" in line
