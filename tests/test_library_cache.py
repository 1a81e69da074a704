"""The validated-library cache (``scoring/library_cache.py``): ``list``, ``validate`` and the
app's library screen answer unchanged files from it (no parsing, no validation), changed files
and changed rubrics are checked again, and a damaged, forged or odd cache is ignored and
rebuilt without ever failing a command. Whether a file was validated is counted at the loader's
one entry point (``simulator.loader._load_scenario``), which every load goes through."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from cli_runner import run_cli
from hang_guard import no_hang
from scenario_factory import SAMPLE

import simulator.loader
from scoring import library_cache
from scoring.library_cache import Cache, cache_dir, library_index, scan
from simulator.library import library_files

LIBRARY = library_files()


@pytest.fixture
def loads(monkeypatch):
    """The files the loader reads and validates, in order."""
    seen: list[str] = []
    real = simulator.loader._load_scenario

    def counting(path, *args):
        seen.append(Path(path).name)
        return real(path, *args)

    monkeypatch.setattr(simulator.loader, "_load_scenario", counting)
    return seen


@pytest.fixture
def folder(tmp_path):
    """A small library: the sample and one other bundled scenario."""
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(SAMPLE, lib / SAMPLE.name)
    other = next(p for p in LIBRARY if p.name != SAMPLE.name)
    shutil.copy(other, lib / other.name)
    return lib


def entries() -> list[Path]:
    return sorted(cache_dir().rglob("*.json"))


def test_a_cold_list_leaves_what_validate_and_the_app_need(folder, loads, tmp_path):
    from simulator.tui.app import build_app

    assert run_cli(["list", "--dir", str(folder)]).code == 0 and len(loads) == 2
    loads.clear()
    assert run_cli(["validate", str(folder)]).code == 0
    build_app(library=folder, db=str(tmp_path / "r.sqlite3"), trainee="t1").store.close()
    assert loads == []


def test_list_reads_only_the_cache_when_it_is_warm(loads):
    cold = run_cli(["list"])
    assert cold.code == 0 and len(loads) == len(LIBRARY)
    loads.clear()
    warm = run_cli(["list"])
    assert warm.code == 0 and loads == [], "a warm list validated files again"
    assert warm.stdout == cold.stdout
    assert "overpass-railing" in warm.stdout and len(warm.stdout.splitlines()) == len(LIBRARY) + 1


def test_validate_answers_unchanged_files_from_the_cache_and_rechecks_a_changed_one(folder, loads):
    cold = run_cli(["validate", str(folder)])
    assert cold.code == 0 and len(loads) == 2
    loads.clear()
    warm = run_cli(["validate", str(folder)])
    assert (warm.code, warm.stdout, loads) == (0, cold.stdout, [])
    path = folder / SAMPLE.name
    path.write_text(path.read_text(encoding="utf-8").replace("minutes: ", "minutes: -", 1), encoding="utf-8")
    changed = run_cli(["validate", str(folder)])
    assert loads == [SAMPLE.name], "only the changed file is validated again"
    assert changed.code == 1 and "minutes" in changed.stdout and str(path) in changed.stdout


def test_warnings_and_errors_come_back_exactly_with_the_current_path(tmp_path, loads):
    broken = tmp_path / "a" / "broken.yaml"
    broken.parent.mkdir()
    text = SAMPLE.read_text(encoding="utf-8")
    broken.write_text(text.replace("title: ", "title: [", 1), encoding="utf-8")
    warned = tmp_path / "a" / "warned.yaml"
    warned.write_text(text.replace("minutes: ", "minutes: 012 #", 1), encoding="utf-8")
    for args in (["validate", str(broken), str(warned)], ["validate", "--format", "json", str(broken), str(warned)]):
        first = run_cli(args)
        again = run_cli(args)
        assert (first.code, first.stdout) == (again.code, again.stdout) and first.code == 1
    # The same bytes under another name: answered from the cache, reported under the new name.
    moved = tmp_path / "b" / "renamed.yaml"
    moved.parent.mkdir()
    shutil.copy(broken, moved)
    loads.clear()
    result = run_cli(["validate", str(moved)])
    assert loads == [] and result.code == 1
    assert str(moved) in result.stdout and str(broken) not in result.stdout


def test_a_changed_rubric_is_checked_again(tmp_path, monkeypatch, loads):
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    default = Path(library_cache.find_rubric("default"))
    rubric = rubrics / "house.yaml"
    rubric.write_text(default.read_text(encoding="utf-8").replace("id: default", "id: house", 1), encoding="utf-8")
    monkeypatch.setenv("CRISIS_SIM_RUBRICS", str(rubrics))
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SAMPLE.read_text(encoding="utf-8").replace("rubric: default", "rubric: house"), "utf-8")
    if "rubric: house" not in scenario.read_text(encoding="utf-8"):
        scenario.write_text(scenario.read_text(encoding="utf-8") + "rubric: house\n", encoding="utf-8")
    assert run_cli(["validate", str(scenario)]).code == 0
    loads.clear()
    assert run_cli(["validate", str(scenario)]).code == 0 and loads == []
    rubric.write_text(rubric.read_text(encoding="utf-8").replace("active_listening", "listening_actively"), "utf-8")
    result = run_cli(["validate", str(scenario)])
    assert loads == ["s.yaml"] and result.code == 1 and "active_listening" in result.stdout


def test_another_rubric_option_is_its_own_result(folder, loads):
    assert run_cli(["validate", str(folder)]).code == 0
    loads.clear()
    missing = run_cli(["validate", "--rubric", "no-such-rubric", str(folder)])
    assert missing.code == 1 and "no-such-rubric" in missing.output and len(loads) == 2
    loads.clear()
    assert run_cli(["validate", str(folder)]).code == 0 and loads == []


def test_no_cache_validates_everything_and_writes_nothing(folder, loads):
    for _ in range(2):
        assert run_cli(["validate", "--no-cache", str(folder)]).code == 0
        assert run_cli(["list", "--no-cache", "--dir", str(folder)]).code == 0
    assert len(loads) == 8 and entries() == []


def test_the_cache_is_owner_only_json(folder):
    old = os.umask(0o022)
    try:
        assert run_cli(["list", "--dir", str(folder)]).code == 0
    finally:
        os.umask(old)
    files = entries()
    assert len(files) == 2
    for path in [*files, files[0].parent, cache_dir()]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    for path in files:
        entry = json.loads(path.read_text(encoding="utf-8"))  # plain JSON, never code
        assert entry["sha256"] == path.stem


FORGED_TITLE = "\x1b]52;c;cm0gLXJmIH4=\x07Forged"


def _forge(path: Path, how: str) -> None:
    entry = json.loads(path.read_text(encoding="utf-8"))
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif how == "garbage":
        path.write_bytes(b"\x80\x03cos\nsystem\n(S'touch pwned'\ntR.")  # a pickle: never unpickled
    elif how == "wrong-hash":
        entry["sha256"] = "0" * 64
        path.write_text(json.dumps(entry), encoding="utf-8")
    elif how == "escape-in-title":
        entry["info"]["title"] = FORGED_TITLE
        path.write_text(json.dumps(entry), encoding="utf-8")
    elif how == "extra-field":
        entry["exec"] = "os.system('id')"
        path.write_text(json.dumps(entry), encoding="utf-8")
    elif how == "wrong-types":
        entry["info"]["minutes"] = "many"
        path.write_text(json.dumps(entry), encoding="utf-8")
    elif how == "huge":
        with path.open("wb") as fh:
            fh.truncate(library_cache.MAX_ENTRY_BYTES + 1)
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif how == "symlink-to-device":
        path.unlink()
        path.symlink_to("/dev/zero")
    elif how == "folder":
        path.unlink()
        path.mkdir()
    else:
        raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    ["truncated", "garbage", "wrong-hash", "escape-in-title", "extra-field", "wrong-types", "huge", "fifo",
     "symlink-to-device", "folder"],
)
def test_a_damaged_or_forged_entry_is_ignored_and_rebuilt(folder, loads, how):
    cold = run_cli(["list", "--dir", str(folder)])
    for path in entries():
        _forge(path, how)
    loads.clear()
    with no_hang(60, f"a {how} cache entry"):
        warm = run_cli(["list", "--dir", str(folder)])
        again = run_cli(["validate", str(folder)])
    assert (warm.code, warm.stdout) == (0, cold.stdout), warm.output
    assert again.code == 0 and "Forged" not in warm.output + again.output and "\x1b" not in warm.output
    assert not Path("pwned").exists()
    rebuilt = [p for p in entries() if p.is_file() and not p.is_symlink()]
    if how != "folder":  # a folder in the entry's place stays (nothing is deleted); the rest is rewritten
        assert len(rebuilt) == 2 and all(json.loads(p.read_text(encoding="utf-8"))["info"] for p in rebuilt)
        assert len(loads) == 2
        loads.clear()
        assert run_cli(["list", "--dir", str(folder)]).stdout == cold.stdout and loads == []


def test_an_unusable_cache_folder_never_fails_a_command(tmp_path, monkeypatch, folder):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    result = run_cli(["list", "--dir", str(folder)])
    assert result.code == 0 and "overpass-railing" in result.stdout and result.stderr == ""
    assert run_cli(["validate", str(folder)]).code == 0


def test_a_cache_folder_of_someone_else_is_not_used(tmp_path, monkeypatch, folder):
    monkeypatch.setattr(os, "getuid", lambda: 12345)
    assert run_cli(["list", "--dir", str(folder)]).code == 0
    assert [p for p in entries() if p.is_file()] == []


def test_another_crisis_sim_version_never_reads_old_entries_and_clears_them(folder, monkeypatch, loads):
    assert run_cli(["list", "--dir", str(folder)]).code == 0
    old_generation = entries()[0].parent
    monkeypatch.setattr(library_cache, "_fingerprint", lambda: "f" * 32)
    loads.clear()
    assert run_cli(["list", "--dir", str(folder)]).code == 0
    assert len(loads) == 2 and not old_generation.exists()
    assert {p.parent.name for p in entries()} == {"f" * 32}


def test_the_fingerprint_changes_when_crisis_sim_code_changes(tmp_path, monkeypatch):
    before = library_cache._fingerprint.__wrapped__()
    module = Path(simulator.loader.__file__)
    st = module.stat()
    try:
        os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert library_cache._fingerprint.__wrapped__() != before
    finally:
        os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_scan_without_a_cache_and_with_one_agree(folder, tmp_path):
    for graded in (False, True):
        cache = Cache(tmp_path / f"cache-{graded}")
        plain = scan(library_files(folder), graded=graded, cache=None)
        cold = scan(library_files(folder), graded=graded, cache=cache)
        warm = scan(library_files(folder), graded=graded, cache=cache)
        assert all(e.from_cache for e in warm) and not any(e.from_cache for e in cold)
        for a, b, c in zip(plain, cold, warm, strict=True):
            assert (a.info, a.ok, a.diagnostics, a.rubric_diagnostics) == (b.info, b.ok, b.diagnostics,
                                                                           b.rubric_diagnostics)
            assert (a.info, a.ok, a.diagnostics, a.rubric_diagnostics) == (c.info, c.ok, c.diagnostics,
                                                                           c.rubric_diagnostics)
        # What is played is always loaded afresh, whatever the cache said.
        assert warm[0].load().ok and warm[0].scenario.id == warm[0].info.id


def test_the_app_library_comes_from_the_cache_and_loads_a_scenario_when_opened(folder, tmp_path, loads):
    from simulator.tui.app import build_app

    first = build_app(library=folder, db=str(tmp_path / "r.sqlite3"), trainee="t1")
    first.store.close()
    loads.clear()
    app = build_app(library=folder, db=str(tmp_path / "r.sqlite3"), trainee="t1")
    try:
        assert loads == [] and len(app.entries) == 2
        assert {e.info.id for e in app.entries} >= {"overpass-railing"}
        entry = next(e for e in app.entries if e.info.id == "overpass-railing")
        assert entry.scenario is not None and loads == [SAMPLE.name]  # loaded when asked for
    finally:
        app.store.close()


async def test_a_library_file_broken_after_start_is_a_notice_not_a_crash(folder, tmp_path):
    from textual.widgets import DataTable

    from simulator.tui.app import build_app
    from simulator.tui.screens.library import LibraryScreen

    assert library_index(folder)  # warm the cache
    app = build_app(library=folder, db=str(tmp_path / "r.sqlite3"), trainee="t1")
    path = folder / SAMPLE.name
    path.write_text("title: [\n", encoding="utf-8")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
        table = app.screen.query_one(DataTable)
        row = [key.value for key in table.rows].index("overpass-railing")
        table.move_cursor(row=row)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
        notices = [str(n.message) for n in app._notifications]
        assert any("cannot be opened" in n and "yaml-syntax" in n for n in notices), notices
    app.store.close()


def test_a_library_id_is_found_from_the_cache(loads):
    assert run_cli(["list"]).code == 0
    loads.clear()
    result = run_cli(["run", "overpass-railing", "--policy", "first", "--no-record"])
    assert result.code == 0 and loads == [SAMPLE.name], "only the scenario played is loaded"


def test_config_says_where_the_cache_is():
    result = run_cli(["config"])
    assert result.code == 0 and f"library cache: {cache_dir()}" in result.stdout
