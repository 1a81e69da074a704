"""Settings that reach records, exports and the terminal: display names, cohorts and trainee ids
are checked when the config is read (one line naming the setting), and what crisis-sim itself
prints on success (`config`, an export to a terminal) never carries an escape sequence."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run_cli
from hypothesis import given
from hypothesis import strategies as st
from records_factory import play
from scenario_factory import REPO, SAMPLE_BEST

from simulator.config import COHORT_CHARS, DISPLAY_NAME_CHARS, is_trainee_id, label_problem, state_path
from simulator.records import Store

UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066")


def configured(tmp_path: Path, monkeypatch, text: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(config))
    return config


def one_line(result, code: int = 1) -> str:
    assert result.code == code, result
    [line] = result.stderr.splitlines()
    assert line.startswith("crisis-sim: error: ") and not any(c in line for c in UNSAFE), line
    return line


@pytest.mark.parametrize(
    ("setting", "value", "why"),
    [
        ("trainee.name", "Alex\\u202eNOD", "holds U+202E: only printable characters"),
        ("trainee.name", "\\u001b]52;c;eA==\\u0007", "holds U+0007, U+001B: only printable characters"),
        ("trainee.name", "Al\\u200bex", "holds U+200B"),
        ("trainee.name", "Sam\\nJones", "holds U+000A"),
        ("trainee.name", "   ", "is empty"),
        ("trainee.name", "x" * 61, "is 61 characters long (at most 60)"),
        ("academy.cohort", "2026\\u2066fall", "holds U+2066"),
        ("academy.cohort", "fall\\u0000", "holds U+0000"),
        ("academy.cohort", "c" * 65, "is 65 characters long (at most 64)"),
        ("trainee.id", "t1\\n", "'t1\\n' is not a trainee id"),
    ],
)
def test_names_cohorts_and_ids_in_the_config_are_checked_with_one_line(tmp_path, monkeypatch, setting, value, why):
    section, key = setting.split(".")
    config = configured(tmp_path, monkeypatch, f'[{section}]\n{key} = "{value}"\n')
    for command in (["config"], ["run", "overpass-railing", "--policy", "first"]):
        line = one_line(run_cli(command))
        what = {"name": "the display name ", "cohort": "the cohort ", "id": ""}[key]
        assert line.startswith(f"crisis-sim: error: {config}: error: setting '{setting}': {what}"), line
        assert why in line, line


def test_good_names_and_cohorts_are_kept_as_written(tmp_path, monkeypatch):
    name, cohort = "Zoë O'Brien-Nguyễn 👩\u200d⚕️ خدیجه\u200cای", "2026 fall; Kraków"
    configured(tmp_path, monkeypatch, f'[trainee]\nid = "r-7"\nname = "{name}"\n[academy]\ncohort = "{cohort}"\n')
    data = json.loads(run_cli(["run", "overpass-railing", "--policy", "first", "--json"]).stdout)
    with Store.open(os.environ["CRISIS_SIM_DB"]) as store:
        record = store.attempt(data["attempt_id"])
    assert (record.trainee_id, record.trainee_name, record.cohort) == ("r-7", name, cohort)


@given(st.text(max_size=80))
def test_a_label_is_accepted_only_when_printable_short_and_not_blank(text):
    problem = label_problem(text, DISPLAY_NAME_CHARS)
    printable = all(c.isprintable() or c in "\u200c\u200d" for c in text)
    assert (problem is None) == (printable and 0 < len(text) <= DISPLAY_NAME_CHARS and bool(text.strip()))
    assert label_problem("c" * COHORT_CHARS, COHORT_CHARS) is None


@given(st.text(alphabet="ab1.-_\n\r\t ", max_size=70))
def test_a_trainee_id_never_holds_a_line_break_or_space(text):
    if is_trainee_id(text):
        assert not any(c in text for c in "\n\r\t ") and 1 <= len(text) <= 64


# ---- what `config` prints -------------------------------------------------------------------------


def test_config_output_never_carries_escape_sequences(tmp_path, monkeypatch):
    folder = tmp_path / "\x1b]0;pwned\x07dir\u202e"
    folder.mkdir()
    configured(tmp_path, monkeypatch, "[academy]\nname = 'x'\n")
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(folder / "config.toml"))
    monkeypatch.setenv("CRISIS_SIM_DB", str(folder / "records\x1b[2J.sqlite3"))
    state = state_path()
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"id": "r-1", "name": "\x1b]52;c;ZXZpbA==\x07Eve"}), encoding="utf-8")
    shown = run_cli(["config"])
    assert shown.code == 0, shown
    assert "records file:" in shown.stdout and "last trainee on this machine: r-1" in shown.stdout
    assert not any(c in shown.stdout for c in UNSAFE), shown.stdout


# ---- an export to a terminal ----------------------------------------------------------------------


def read_pty(command: list[str], env: dict[str, str]) -> bytes:
    """Run ``command`` with its standard output on a pseudo-terminal; everything it printed."""
    leader, follower = pty.openpty()
    with subprocess.Popen(command, stdout=follower, stderr=subprocess.PIPE, env=env, cwd=REPO) as proc:
        os.close(follower)
        data = b""
        while True:
            ready, _, _ = select.select([leader], [], [], 30)
            if not ready:
                proc.kill()
                raise AssertionError("no output within 30 s")
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other end closed
                break
            if not chunk:
                break
            data += chunk
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    os.close(leader)
    return data


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xapi"])
def test_an_export_to_a_terminal_shows_escapes_instead_of_sending_them(tmp_path, fmt):
    db = tmp_path / "records.sqlite3"
    with Store.open(db) as store:
        store.ensure_trainee("eve", "\x1b]52;c;ZXZpbA==\x07Eve\u202e\x9b2J")
        play(store, "eve", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z", cohort="c\x1b[31m1\u202e\x9b2J")
    env = {**os.environ, "NO_COLOR": "1"}
    command = [sys.executable, "-m", "simulator.cli", "export", "--format", fmt, "--db", str(db)]
    shown = read_pty(command, env).decode("utf-8")
    assert not any(c in shown for c in UNSAFE), shown[:500]
    if fmt == "csv":
        assert "\\x1b]52;c;ZXZpbA==\\x07Eve\\u202e\\x9b2J" in shown and "c\\x1b[31m1\\u202e\\x9b2J" in shown
    if fmt == "xapi":  # JSON escapes C0 controls itself, but not C1 or bidi characters
        assert "c\\u001b[31m1\\u202e\\x9b2J" in shown
    # Into a file or a pipe the data stays exactly as stored.
    piped = subprocess.run(command, capture_output=True, env=env, cwd=REPO, timeout=60)
    raw = {"csv": b"\x1b]52;c;ZXZpbA==\x07Eve", "jsonl": b"\\u001b]52", "xapi": "\u202e\x9b2J".encode()}[fmt]
    assert piped.returncode == 0 and raw in piped.stdout


# ---- config init and did-you-mean (issue 14) ------------------------------------------------------


def test_config_init_writes_a_commented_config_that_changes_nothing_until_edited(tmp_path, monkeypatch):
    import tomllib

    from simulator.config import Config, load_config

    path = tmp_path / "new" / "config.toml"
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(path))
    result = run_cli(["config", "init"])
    assert result.code == 0, result
    text = path.read_text(encoding="utf-8")
    assert load_config(path) == Config()  # every setting commented out
    for section, field in Config.model_fields.items():  # every section and setting is there, described
        assert f"[{section}]" in text
        for name, setting in field.annotation.model_fields.items():
            assert f"\n# {name} = " in text, name
            assert (setting.description or "").split()[0] in text
    lines = text.splitlines()
    settings = [n for n, line in enumerate(lines) if line.startswith("# ") and " = " in line]
    assert len(settings) == sum(len(f.annotation.model_fields) for f in Config.model_fields.values())
    for n in settings:  # each value shown is a valid setting once its '# ' is removed
        uncommented = "\n".join(line[2:] if i == n else line for i, line in enumerate(lines))
        tomllib.loads(uncommented)
        load_config_text(uncommented, tmp_path)
    again = run_cli(["config", "init"])
    assert "a config file is already there; it was left as it is" in one_line(again)
    assert path.read_text(encoding="utf-8") == text


def load_config_text(text: str, tmp_path: Path):
    from simulator.config import load_config

    other = tmp_path / "uncommented.toml"
    other.write_text(text, encoding="utf-8")
    return load_config(other)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[academy]\nlockd = true\n", "unknown setting 'academy.lockd' (did you mean 'academy.locked'?)"),
        ("[acadmy]\nlocked = true\n", "unknown setting 'acadmy' (did you mean 'academy'?)"),
        ("[library]\ndir = []\n", "unknown setting 'library.dir' (did you mean 'library.dirs'?)"),
        ("[academy]\nzzzzzz = 1\n", "unknown setting 'academy.zzzzzz'; 'crisis-sim config' lists every setting"),
    ],
)
def test_unknown_settings_get_did_you_mean(tmp_path, monkeypatch, text, said):
    configured(tmp_path, monkeypatch, text)
    assert said in one_line(run_cli(["config"]))
