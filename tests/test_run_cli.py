"""The headless runner and the list/run commands, driven as a user would (subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from scenario_factory import REPO, SAMPLE, SAMPLE_BEST

BEST = ",".join(SAMPLE_BEST)


def cli(*args: str, stdin: str | None = None, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from simulator.cli import main; main()", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd or REPO,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_run_by_ids_and_by_positions_give_the_same_transcript():
    by_ids = cli("run", "overpass-railing", "--choose", BEST)
    by_pos = cli("run", str(SAMPLE), "--choose", "1,1,1,1,1,1,1,1")
    assert by_ids.returncode == 0, by_ids.stderr
    assert by_ids.stdout == by_pos.stdout
    assert "=== Ending (good)" in by_ids.stdout
    assert "988" in by_ids.stdout  # help resources after a suicide-related ending
    assert "[Agitation 6/10 (lower is better) · Rapport 1/10 (higher is better)]" in by_ids.stdout


def test_choose_accepts_repeated_options_and_mixed_ids_and_positions():
    split = cli("run", "overpass-railing", "--choose", "ask-dispatch,1", "--choose", "1,ask-directly,1,1,1,1")
    assert split.returncode == 0, split.stderr
    assert "=== Ending (good)" in split.stdout


def test_timeout_at_lets_the_timer_run_out():
    out = cli(
        "run",
        "overpass-railing",
        "--timeout-at",
        "arrival",
        "--choose",
        "reflect-feeling",
        "--policy",
        "first",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["decisions"][0] == {"sequence": 1, "scene": "arrival", "choice": None}
    assert data["events"][2]["event"] == "timed_out"
    assert data["decisions"][1]["scene"] == "first_words"


def test_random_policy_is_reproducible_with_a_seed():
    runs = []
    for _ in range(2):
        data = json.loads(cli("run", "overpass-railing", "--policy", "random", "--seed", "7", "--json").stdout)
        assert data.pop("attempt_id")  # recorded: a new attempt each time, all else identical
        runs.append(data)
    assert runs[0] == runs[1]
    assert runs[0]["finished"]


def test_json_transcript_is_complete():
    out = cli("run", "overpass-railing", "--choose", BEST, "--json")
    data = json.loads(out.stdout)
    assert data["scenario"]["id"] == "overpass-railing" and len(data["scenario"]["sha256"]) == 64
    assert [d["choice"] for d in data["decisions"]] == BEST.split(",")
    assert data["ending"]["rating"] == "good"
    assert data["events"][0]["event"] == "scene_entered"


def test_a_choice_that_is_not_on_offer_stops_with_one_line():
    out = cli("run", "overpass-railing", "--no-record", "--choose", "slow-approach,ask-dispatch")
    assert out.returncode == 1
    err = out.stderr.strip().splitlines()
    assert err == [
        "crisis-sim: error: --choose item 2 ('ask-dispatch'): choice 'ask-dispatch' is not on offer "
        "in scene 'first_words' (offered: reflect-feeling, calm-down, euphemism)"
    ]


def test_running_out_of_choices_says_where():
    out = cli("run", "overpass-railing", "--choose", "slow-approach")
    assert out.returncode == 1
    assert "ran out in scene 'first_words' after 1 decisions" in out.stderr
    assert "Traceback" not in out.stderr


def test_timeout_at_a_scene_without_timer_is_an_error():
    out = cli("run", "overpass-railing", "--choose", "slow-approach", "--timeout-at", "first_words")
    assert out.returncode == 1
    assert "scene 'first_words' has no timeout" in out.stderr


def test_interactive_play_from_stdin_to_an_ending():
    out = cli("run", "overpass-railing", stdin="2\n\nbogus\n1\n1\n1\n1\n1\n1\n")
    assert out.returncode == 0, out.stderr
    assert "Your choice (1-3, w to wait, q to quit)> " in out.stdout
    assert "choice 'bogus' is not on offer" in out.stdout
    assert "=== Ending (good)" in out.stdout


def test_interactive_wait_and_quit_and_eof():
    waited = cli("run", "overpass-railing", stdin="w\nq\n")
    assert "> Time ran out after 40 s" in waited.stdout and "Stopped at this scene." in waited.stdout
    assert waited.returncode == 0
    eof = cli("run", "overpass-railing", stdin="2\n")
    assert eof.returncode == 0 and "Input ended" in eof.stdout
    assert "Traceback" not in eof.stderr


def test_ctrl_c_in_interactive_play_ends_cleanly():
    proc = subprocess.Popen(
        [sys.executable, "-c", "from simulator.cli import main; main()", "run", "overpass-railing"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    seen = ""
    while "Your choice" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.read(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert err.strip() == "interrupted"


def test_list_shows_the_library():
    out = cli("list")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["ID", "TITLE", "DIFFICULTY", "MIN"]
    assert any(line.startswith("overpass-railing ") and "intermediate" in line for line in lines[1:])


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("run", "no-such-scenario"), 1, "no scenario with id 'no-such-scenario'"),
        (("run", "overpass-railin"), 1, "did you mean 'overpass-railing'"),
        (("run", "missing/file.yaml"), 1, "no such file"),
        (("run", "overpass-railing", "--bogus"), 2, "No such option"),
        (("run", "overpass-railing", "--policy", "worst"), 2, "'worst' is not one of"),
        (("run", "overpass-railing", "--seed", "x"), 2, "not a valid integer"),
        (("run",), 2, "Missing argument"),
        (("run", "overpass-railing", "--json"), 2, "--json needs a scripted run"),
        (("frobnicate",), 2, "No such command"),
        (("list", "--dir", "/nonexistent"), 2, "does not exist"),
    ],
)
def test_bad_command_lines_get_one_line_errors(args, code, words):
    out = cli(*args)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert words in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr


def test_no_arguments_opens_the_app_and_without_a_terminal_says_so():
    out = cli()
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "crisis-sim: error: the app needs an interactive terminal; for plain-text play use 'crisis-sim run SCENARIO', "
        "and 'crisis-sim --help' lists the commands"
    ]
    helped = cli("--help")
    assert helped.returncode == 0
    assert all(word in helped.stdout for word in ("validate", "run", "play", "analyze", "results", "export"))


def test_run_wraps_to_an_80_column_terminal():
    """Issue 14: every line of `run` fit 88 columns, so an 80-column terminal broke them again
    mid-word. The width is the terminal's (here COLUMNS, as shutil reads it), at most 88."""
    result = subprocess.run(
        [sys.executable, "-c", "from simulator.cli import main; main()", "run", "overpass-railing", "--choose", BEST],
        capture_output=True, text=True, cwd=REPO, timeout=60, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "80"},
    )
    assert result.returncode == 0, result.stderr
    long = [line for line in result.stdout.splitlines() if len(line) > 80]
    assert not long, long
    wide = cli("run", "overpass-railing", "--choose", BEST)  # not a terminal: the readable 88
    assert max(len(line) for line in wide.stdout.splitlines()) > 80


def test_a_locked_academy_refuses_to_record_a_scripted_run(tmp_path):
    """Issue 14: with [academy] locked = true, `run --choose` and `--policy` wrote passing attempts
    nobody played. They are refused (one line, nothing recorded); --no-record still tries a script,
    and a trainee's own interactive run still records."""
    config = tmp_path / "config.toml"
    config.write_text("[academy]\nlocked = true\n")
    db = tmp_path / "records.sqlite3"
    env = {**os.environ, "NO_COLOR": "1", "CRISIS_SIM_CONFIG": str(config), "CRISIS_SIM_DB": str(db)}

    def locked_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from simulator.cli import main; main()", *args],
                              capture_output=True, text=True, input=stdin, cwd=REPO, timeout=60, env=env)

    for script in (["--choose", BEST], ["--policy", "first"], ["--timeout-at", "arrival", "--policy", "first"]):
        result = locked_cli("run", "overpass-railing", *script)
        assert result.returncode == 1 and result.stdout == "", result
        assert result.stderr.startswith("crisis-sim: error: this academy is locked ([academy] locked = true): "
                                        "a scripted run"), result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert not db.exists()  # nothing recorded, not even an empty file
    tried = locked_cli("run", "overpass-railing", "--choose", BEST, "--no-record")
    assert tried.returncode == 0 and "=== Ending (good)" in tried.stdout
    played = locked_cli("run", "overpass-railing", stdin="1\n1\nq\n")
    assert played.returncode == 0 and db.exists()
    attempt = json.loads(locked_cli("results", "--json").stdout.splitlines()[0])["attempt_id"]
    resumed = locked_cli("resume", attempt, "--policy", "first")
    assert resumed.returncode == 1 and "this academy is locked" in resumed.stderr


def test_run_keeps_the_paragraphs_of_feedback_in_its_debrief(tmp_path):
    """Issue 14: a blank line starts a paragraph, in feedback too; run's debrief merged them."""
    from scenario_factory import write

    path = write(tmp_path, """\
        start: bench
        scenes:
          bench:
            text: Sam is on the bench.
            choices:
              - id: slow
                text: Stop well back and introduce yourself.
                to: done
                scores: {slow_down_time_distance_cover: 2}
                feedback: |
                  Space, a calm voice and a name lower the sense of threat and give her time.

                  Then keep your voice low.
              - {id: rush, text: Hurry over., to: done, scores: {calm_nonverbal: -2}, feedback: Rushing raises it.}
          done:
            end: {rating: good, outcome: Sam went home., debrief: The call ended well.}
        """, name="two-paragraphs.yaml")
    result = cli("run", str(path), "--choose", "slow", "--no-record")
    assert result.returncode == 0, result.stderr
    assert "give her time.\n\n       Then keep your voice low." in result.stdout
