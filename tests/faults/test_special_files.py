"""FIFOs, /dev/zero and links to them wherever crisis-sim reads a file named from outside.

A named pipe blocks ``open()`` until someone writes to it, and ``/dev/zero`` never ends: a
scenario, rubric, ``FILE.sig``, signing key, config file, last-trainee.json, a scenario path an
attempt stored, or a watched playtest file that is one of these used to hang crisis-sim or eat
memory (a ``.sig`` linked to /dev/zero was OOM-killed at 20 GB). ``simulator.safefile`` is the
one reader; each test here points one reader at each kind of special file, through the command
a user runs, and expects one line, a non-zero exit and no hang (``tests/hang_guard.py``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_runner import run_cli
from hang_guard import no_hang
from scenario_factory import SAMPLE

from simulator import safefile
from simulator.records import Store

KEY = "k" * 40
SECONDS = 20


def fifo(path: Path) -> Path:
    os.mkfifo(path, 0o600)
    return path


def zero(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


def fifo_link(path: Path) -> Path:
    target = fifo(path.with_name(path.name + ".pipe"))
    path.symlink_to(target)
    return path


SPECIAL: dict[str, Callable[[Path], Path]] = {"fifo": fifo, "dev-zero": zero, "link-to-fifo": fifo_link}
KIND = {"fifo": "a named pipe (FIFO)", "dev-zero": "a character device", "link-to-fifo": "a named pipe (FIFO)"}


def one_line(argv: list[str], code: int = 1) -> str:
    result = run_cli(argv, seconds=SECONDS, what="a special file")
    assert result.code == code, result
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines() or result.stdout.strip().splitlines()
    assert len(lines) >= 1
    return result.output


# ---- the one reader --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SPECIAL)
def test_safefile_refuses_without_blocking_or_reading(tmp_path, kind):
    path = SPECIAL[kind](tmp_path / "x")
    with no_hang(SECONDS, kind), pytest.raises(safefile.NotRegularFile) as caught:
        safefile.read_regular(path, 1000)
    assert caught.value.kind == KIND[kind]
    assert caught.value.filename == str(path)
    assert caught.value.strerror == f"it is {KIND[kind]}, not a regular file; give the path of a regular file"


def test_safefile_refuses_a_folder_and_caps_the_size(tmp_path):
    with pytest.raises(safefile.NotRegularFile, match="it is a folder"):
        safefile.read_regular(tmp_path, 10)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 11)
    with pytest.raises(safefile.FileTooLarge, match="it is 11 bytes, over the 10-byte limit"):
        safefile.read_regular(big, 10)
    assert safefile.read_regular(big, 11) == b"x" * 11
    link = tmp_path / "link"
    link.symlink_to(big)
    assert safefile.read_regular(link, 11) == b"x" * 11  # a link to a regular file is fine


# ---- every reader, from the command a user runs ---------------------------------------------------


@pytest.mark.parametrize("kind", SPECIAL)
def test_scenario_file(tmp_path, kind):
    path = SPECIAL[kind](tmp_path / "scenario.yaml")
    for argv in (["validate", str(path)], ["run", str(path), "--no-record"], ["analyze", str(path)]):
        out = one_line(argv)
        assert f"{path}: error: is {KIND[kind]}, not a regular file; give the path of a regular file " \
               "[file-unreadable]" in out


@pytest.mark.parametrize("kind", SPECIAL)
def test_a_special_file_in_a_scenario_folder_is_skipped(tmp_path, kind):
    shutil.copy(SAMPLE, tmp_path / "good.yaml")
    SPECIAL[kind](tmp_path / "special.yaml")
    result = run_cli(["validate", str(tmp_path)], seconds=SECONDS)
    assert result.code == 0 and "1 file(s) checked: 0 error(s)" in result.stdout
    listed = run_cli(["list", "--dir", str(tmp_path)], seconds=SECONDS)
    assert listed.code == 0 and "overpass-railing" in listed.stdout


@pytest.mark.parametrize("kind", SPECIAL)
def test_rubric_file(tmp_path, kind):
    path = SPECIAL[kind](tmp_path / "rubric.yaml")
    out = one_line(["rubric", str(path)])
    assert f"is {KIND[kind]}, not a regular file" in out
    out = one_line(["analyze", "overpass-railing", "--rubric", str(path)])
    assert f"is {KIND[kind]}, not a regular file" in out


@pytest.fixture
def signed(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CRISIS_SIM_SIGNING_KEY", KEY)
    export = tmp_path / "scores.csv"
    export.write_text("trainee_id,overall\nana,100\n", encoding="utf-8")
    return export


@pytest.mark.parametrize("kind", SPECIAL)
def test_signature_file(signed, kind):
    sig = SPECIAL[kind](Path(f"{signed}.sig"))
    out = one_line(["verify", str(signed)])
    assert f"{sig} cannot be read (it is {KIND[kind]}, not a regular file" in out
    out = one_line(["verify", str(signed), "--signature", str(sig)])
    assert f"{sig} cannot be read (it is {KIND[kind]}, not a regular file" in out


@pytest.mark.parametrize("kind", ["fifo", "link-to-fifo"])  # /dev/zero is refused earlier: others can read it
def test_signing_key_file(signed, tmp_path, monkeypatch, isolated_user_dirs, kind):
    monkeypatch.delenv("CRISIS_SIM_SIGNING_KEY")
    key_file = SPECIAL[kind](tmp_path / "academy.key")
    config = isolated_user_dirs / "no-config.toml"
    config.write_text(f'[signing]\nkey_file = "{key_file}"\n', encoding="utf-8")
    out = one_line(["verify", str(signed)])
    assert f"cannot read the signing key file {key_file} (it is {KIND[kind]}, not a regular file" in out


@pytest.mark.parametrize("kind", SPECIAL)
def test_config_file(tmp_path, monkeypatch, kind):
    path = SPECIAL[kind](tmp_path / "config.toml")
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(path))
    for argv in (["config"], ["run", "overpass-railing", "--choose", "ask-dispatch"]):
        out = one_line(argv)
        assert f"{path}: cannot read the config file (it is {KIND[kind]}, not a regular file" in out


@pytest.mark.parametrize("kind", SPECIAL)
def test_last_trainee_file_is_ignored(isolated_user_dirs, kind):
    from simulator.config import last_trainee, state_path

    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    SPECIAL[kind](path)
    with no_hang(SECONDS, kind):
        assert last_trainee() is None  # best effort, as for a missing or broken file
    result = run_cli(["config"], seconds=SECONDS)
    assert result.code == 0, result


@pytest.mark.parametrize("kind", SPECIAL)
def test_stored_scenario_path(tmp_path, kind):
    """An attempt keeps the path it was played from; that file replaced by a pipe or a device
    must not stall resume or regrade."""
    scenario = tmp_path / "mine.yaml"
    shutil.copy(SAMPLE, scenario)
    db = tmp_path / "records.sqlite3"
    started = run_cli(["run", str(scenario), "--choose", "ask-dispatch", "--db", str(db)], seconds=SECONDS)
    assert started.code == 1 and "progress saved" in started.stderr
    with Store.open(db, create=False) as store:
        [attempt] = list(store.attempts())
    scenario.unlink()
    SPECIAL[kind](scenario)
    out = one_line(["resume", attempt.id, "--db", str(db)])
    assert f"{scenario}: error: is {KIND[kind]}, not a regular file" in out


def test_a_scenario_replaced_by_a_pipe_after_loading_is_not_read_again(tmp_path):
    """The rubric checks re-read a scenario to honour its silencing comments: not a pipe."""
    from scoring.catalog import attach_rubric
    from simulator.loader import load_scenario

    path = tmp_path / "warned.yaml"
    extra = "principles:\n  zz_extra: {name: Extra, description: Never scored., dimension: listening_empathy}\ncast:"
    path.write_text(SAMPLE.read_text(encoding="utf-8").replace("\ncast:", "\n" + extra, 1), encoding="utf-8")
    loaded = load_scenario(path)
    assert loaded.scenario is not None
    path.unlink()
    fifo(path)
    with no_hang(SECONDS, "re-reading a scenario"):
        graded = attach_rubric(loaded.scenario)
    assert [d.code for d in graded.diagnostics] == ["unused-principle"]
