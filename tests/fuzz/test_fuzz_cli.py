"""Fuzzing the command line: random argv against the real ``simulator.cli.main``.

Commands and options are read from the click group, so a new command or option is fuzzed
without touching this file. Each example runs ``main(argv)`` in-process inside
``CliRunner.isolation`` (stdin at end of file, so interactive play ends at once, and stdout and
stderr captured with the error handlers a real process has), in its own temporary working
folder, against a records file holding a finished and an unfinished attempt.

Property (the contract in ``simulator/cli/__init__.py``): exit code 0, 1 or 2 (never 70, "internal
error"); no traceback; every line on stderr is a ``crisis-sim: ...`` line or a one-line
``file:line:col`` diagnostic, with at most one ``crisis-sim: error:`` line, and exactly one line
for a command-line error (exit 2: ``main()`` shortens click's Usage/Try/Error block to one
line); a failure always says something; no terminal control characters on stderr; never a
hang. The app (bare ``crisis-sim``, ``play``) is included: without a terminal it must refuse in
one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from cli_runner import run_cli
from hypothesis import event as _event
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from simulator.cli import cli, main
from simulator.export.importing import SHOWN_BAD_LINES
from simulator.export.signing import SIGNING_KEY_ENV

KEY = "0123456789abcdef" * 4

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "scenarios" / "overpass-railing.yaml"
RUBRIC = REPO / "scoring" / "rubrics" / "default.yaml"
COMMANDS: dict[str, click.Command] = dict(cli.commands)
DIAGNOSTIC = re.compile(r"^.+?(?::\d+:\d+)?: (error|warning): .+ \[[a-z0-9-]+\]$")
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def event(what: str) -> None:
    """hypothesis.event, also callable from the plain example tests."""
    if currently_in_test_context():
        _event(what)


# ---- values ---------------------------------------------------------------------------------
# "@TMP@" is the example's own folder (also the working folder), "@ATTEMPT@"/"@DONE@" the ids of
# the unfinished and the finished attempt in the records file.

LIBRARY_IDS = ["overpass-railing", "kitchen-knife", "overpass_railing", "OVERPASS-RAILING", "overpass"]
FILES = [
    "scenario.yaml",
    "signed.csv",
    "signed.csv.sig",
    "tampered.csv",
    "broken.yaml",
    "rubric.yaml",
    "empty.yaml",
    "export.csv",
    "notes.txt",
    "missing.yaml",
    "missing/x.yaml",
    "sub",
    "sub/",
    "sub/../scenario.yaml",
    ".",
    "..",
    "loop.yaml",
    "@TMP@/scenario.yaml",
    "@TMP@/missing.yaml",
    "ü🎉.yaml",
    "\udcff.yaml",
    "with\nnewline.yaml",
    "tab\there.yaml",
    " ",
    "a" * 300,
    "a" * 300 + ".yaml",
    "d/" * 1500 + "x.yaml",
    "\x1b[31mred.yaml",
    "\u202eevil.yaml",
]
# never where a command writes; not "/" either: 'validate /' reads every YAML file on the
# machine (about 100 s here), slow but not a hang
READ_ONLY_EXTRA = ["/dev/null", "/proc/self/status", "~/x.yaml"]
TEXTS = [
    "",
    " ",
    "-",
    "--",
    "-x",
    "--help",
    "-h",
    "--version",
    "--json",
    "--nope",
    "guest",
    "trainee-1",
    "é",
    "🎉",
    "中文",
    "\u202e",
    "\x1b]0;title\x07",
    "\x1b[2J",
    "[bold]x[/]",
    "[@click=app.quit]x[/]",
    "=cmd|' /C calc'!A0",
    "a\nb",
    "a\rb",
    "\t",
    "x" * 2000,
    "@ATTEMPT@",
    "@DONE@",
    "abcdef",
    "0",
    "1",
    "1,2,3",
    "1,,2",
    ",",
    "wait",
    "q",
    "default",
    "nowhere",
    "\udcff",
    "NUL\x01",
    "%s%n",
    "${HOME}",
    "$(id)",
    "../../etc/passwd",
]
NUMBERS = [
    "0",
    "1",
    "-1",
    "2",
    "7",
    "99999999999999999999999",
    "-99999999999999999999999",
    "1e309",
    "nan",
    "inf",
    "0x10",
    " 5",
    "5 ",
    "1_000",
    "٣",
    "1.5",
    "+3",
]
DATES = [
    "2026-03-01",
    "2026-02-30",
    "0000-00-00",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00+01:00",
    "9999-12-31T23:59-01:00",
    "9999-12-31T23:59:59.999999-23:59",
    "2026-03-01T25:00",
    "2026/03/01",
    "20260301",
    "2026-W09-1",
    "yesterday",
    "2026-03-01T00:00:00Z",
    "2026-03-01T00:00:00+24:00",
    "+10000-01-01",
    "1e9",
    "2026-03-01T14:00:00.123456789",
    "２０２６-０３-０１",
    "2026-3-1",
    "   2026-03-01   ",
]

safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)  # argv can hold neither NUL nor (other than surrogate escapes) lone surrogates
general = st.one_of(st.sampled_from(TEXTS), st.sampled_from(NUMBERS), st.sampled_from(DATES), safe_text)


def values_for(command: str, param: click.Parameter) -> st.SearchStrategy[str]:
    """Values for one parameter: what its type expects (and near misses), files, and junk."""
    name = (param.name or "").lower()
    writes = command in ("new", "keygen", "test", "schema", "export") or name in ("out", "db", "folder", "dir")
    files = FILES if writes else FILES + READ_ONLY_EXTRA
    scenarios = ["scenario.yaml"] if command == "test" else LIBRARY_IDS  # test --record writes next to it
    kind = param.type
    if isinstance(kind, click.Choice):
        specific = st.sampled_from([str(c) for c in kind.choices])
    elif isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        specific = st.sampled_from(NUMBERS)
    elif isinstance(kind, click.Path) or name in ("out", "db", "paths", "files", "key_file", "signature"):
        specific = st.sampled_from(files)
    elif name in ("since", "until"):
        specific = st.sampled_from(DATES)
    elif name in ("scenario", "name", "rubric_ref", "scenario_id"):
        specific = st.sampled_from(scenarios + files + ["default"])
    elif name in ("choose", "timeout_at"):
        specific = st.sampled_from(["1", "2", "9", "0", "-1", "1,1,1", "arrival", "wait", ",", "ask-dispatch"])
    elif name == "attempt":
        specific = st.sampled_from(["@ATTEMPT@", "@DONE@", "abcdef", "ab", ""])
    else:
        specific = st.nothing()
    junk = general.map(_inside) if writes else general  # random text is never an absolute path to write to
    return st.one_of(*[specific] * 6, st.sampled_from(files), junk)  # mostly what fits, to get past parsing


def _inside(value: str) -> str:
    """A random value made relative (no leading '/' or '~'), so a command that writes to it
    writes inside the example's folder (or a temporary folder above it)."""
    return value.lstrip("/~") if value.startswith(("/", "~")) else value


@st.composite
def root_argvs(draw: st.DrawFn) -> list[str]:
    """No command, a misspelt one, or the group's own options before a command."""
    head = draw(st.lists(st.sampled_from(["--version", "-h", "--help", "--nope", "-x", "", "--"]), max_size=2))
    if draw(st.booleans()):
        return [*head, draw(st.sampled_from(["", "valdate", "RUN", "rubrics", "-", "--", "é", "help"]))]
    if draw(st.booleans()):
        return head
    return [*head, *draw(argvs(draw(st.sampled_from(sorted(COMMANDS)))))]


@st.composite
def argvs(draw: st.DrawFn, name: str) -> list[str]:
    """Command ``name``, any of its options (some repeated, some in --opt=value form), its
    arguments, some junk, in random order."""
    items: list[list[str]] = []
    for param in COMMANDS[name].params:
        if isinstance(param, click.Argument):
            # a variadic PATH... left out means the whole bundled library (slow): now and then
            count = param.nargs if param.nargs > 0 else draw(st.sampled_from([0, 1, 1, 1, 2, 3]))
            present = param.required or param.nargs < 0 or draw(st.booleans())
            if present and draw(st.integers(min_value=0, max_value=15)) != 0:  # now and then it is missing
                items += [[draw(values_for(name, param))] for _ in range(count)]
            continue
        if not isinstance(param, click.Option):
            continue
        # each option now and then (all of them at once mostly makes a usage error)
        times = draw(st.integers(min_value=0, max_value=3 if param.multiple else 1)) if draw(st.booleans()) else 0
        if param.required and draw(st.integers(min_value=0, max_value=8)):
            times = max(times, 1)
        for _ in range(times):
            opt = draw(st.sampled_from(param.opts + param.secondary_opts))
            if param.is_flag or (getattr(param, "_flag_needs_value", False) and draw(st.booleans())):
                items.append([opt])
                continue
            value = draw(values_for(name, param))
            if opt.startswith("--") and draw(st.integers(min_value=0, max_value=3)) == 0:
                items.append([f"{opt}={value}"])
            else:
                items.append([opt, value])
    junk = draw(st.lists(st.sampled_from(["--nope", "-q", "--", "extra", "--json", "-", "--help"]), max_size=1))
    if draw(st.integers(min_value=0, max_value=6)) == 0:
        items += [[j] for j in junk]
    items = draw(st.permutations(items))
    return [name, *(part for item in items for part in item)]


# ---- the world each example runs in ---------------------------------------------------------


@pytest.fixture
def records(isolated_user_dirs: Path) -> dict[str, str]:
    """A records file (CRISIS_SIM_DB) with a finished and an unfinished attempt of the sample,
    made with the CLI itself; returns their ids."""
    with pytest.raises(SystemExit):
        main(["run", str(SAMPLE), "--policy", "first", "--json"])
    with pytest.raises(SystemExit):
        main(["run", str(SAMPLE), "--choose", "1"])
    from simulator.config import load_config, resolve_db
    from simulator.records import Store

    store = Store.open(resolve_db(None, load_config()), create=False)
    try:
        ids = {a.status: a.id for a in store.attempts()}
    finally:
        store.close()
    # a signed export and a tampered copy of it, for verify
    os.environ[SIGNING_KEY_ENV] = KEY
    try:
        signed = isolated_user_dirs / "signed.csv"
        with pytest.raises(SystemExit):
            main(["export", "--format", "csv", "--out", str(signed), "--sign"])
    finally:
        del os.environ[SIGNING_KEY_ENV]
    text = signed.read_text(encoding="utf-8")
    (isolated_user_dirs / "tampered.csv").write_text(text.replace("no", "yes"), encoding="utf-8")
    shutil.copy(f"{signed}.sig", isolated_user_dirs / "tampered.csv.sig")
    return {"@DONE@": ids["completed"][:8], "@ATTEMPT@": ids["in_progress"][:8], "db": str(store.path)}


def decisions(db: str) -> dict[str, list[tuple]]:
    """Every stored decision, by attempt (read with sqlite3 itself, read-only)."""
    conn = sqlite3.connect(f"{Path(db).absolute().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT attempt_id, sequence, scene, choice FROM decisions ORDER BY attempt_id, sequence")
        out: dict[str, list[tuple]] = {}
        for attempt, *rest in rows:
            out.setdefault(attempt[:8], []).append(tuple(rest))
        return out
    finally:
        conn.close()


@contextlib.contextmanager
def workspace(home: Path) -> Iterator[Path]:
    """A fresh folder with files to point at, made the working folder for one example."""
    folder = Path(tempfile.mkdtemp(prefix="cli-", dir=home))
    shutil.copy(SAMPLE, folder / "scenario.yaml")
    shutil.copy(RUBRIC, folder / "rubric.yaml")
    (folder / "broken.yaml").write_text("format: 1\nid: [unclosed\n  - x: {\n", encoding="utf-8")
    (folder / "empty.yaml").write_text("", encoding="utf-8")
    (folder / "export.csv").write_text("attempt_id,score\nx,100\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not yaml: [\n", encoding="utf-8")
    for name in ("signed.csv", "signed.csv.sig", "tampered.csv", "tampered.csv.sig"):
        shutil.copy(home / name, folder / name)
    (folder / "sub").mkdir()
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(cwd)
        shutil.rmtree(folder, ignore_errors=True)





def check(argv: list[str], code: object, stdout: str, stderr: str) -> None:
    shown = f"argv={argv!r}\nexit={code!r}\nstderr={stderr[-2000:]!r}"
    assert "Traceback" not in stderr and "internal error" not in stderr, shown
    assert code in (0, 1, 2), shown
    lines = stderr.rstrip("\n").split("\n") if stderr else []
    for line in lines:
        assert line.startswith("crisis-sim: ") or DIAGNOSTIC.match(line), f"a stray stderr line {line!r}\n{shown}"
    # one error line, or one per input where a command takes many (verify FILE...: one verdict each)
    command = COMMANDS.get(argv[0]) if argv else None
    many = command is not None and any(isinstance(p, click.Argument) and p.nargs == -1 for p in command.params)
    # import FILE...: one line per bad line of a file, the first SHOWN_BAD_LINES, then how many more
    each = SHOWN_BAD_LINES + 1 if argv and argv[0] == "import" else 1
    assert sum(line.startswith("crisis-sim: error:") for line in lines) <= (
        max(len(argv) - 1, 1) * each if many else 1), shown
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("crisis-sim: error: "), shown
    if code:
        assert (stderr + stdout).strip(), f"a failure that says nothing\n{shown}"
    assert not UNSAFE.search(stderr), f"a terminal control character on stderr\n{shown}"
    assert "Usage:" not in stderr, shown


def resolve(argv: list[str], folder: Path, ids: dict[str, str]) -> list[str]:
    out = []
    for part in argv:
        part = part.replace("@TMP@", str(folder))
        for marker, value in ids.items():
            if marker.startswith("@"):
                part = part.replace(marker, value)
        out.append(part)
    return out


# ---- the fuzzers ----------------------------------------------------------------------------


def _snapshot() -> tuple[dict[str, tuple[int, int]], set[str]]:
    watched = [*(REPO / "scenarios").iterdir(), *(REPO / "scoring" / "rubrics").iterdir()]
    files = {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in watched if p.is_file()}
    return files, {p.name for p in REPO.iterdir()}


@pytest.fixture(autouse=True, scope="module")
def repository_untouched() -> Iterator[None]:
    """Every path the fuzzer writes to is in a temporary folder: the scenarios and rubrics are
    the same after the module as before, and nothing new appeared at the top of the repository
    that a command line here could have made (other work may change files meanwhile)."""
    files, names = _snapshot()
    yield
    files_after, names_after = _snapshot()
    assert files_after == files
    made = {n for n in names_after - names if n.endswith((".yaml", ".csv", ".sig", ".json", ".md", ".key"))}
    assert not made, made


REGRESSIONS = [
    ["run", "a" * 300],  # OSError: File name too long, from Path.exists()
    ["rubric", "a" * 300 + ".yaml"],
    ["validate", "d/" * 1500 + "x.yaml"],
    ["graph", "a" * 300],
    ["results", "--since", "0001-01-01T00:00+01:00"],  # OverflowError converting to UTC
    ["export", "--format", "csv", "--until", "9999-12-31T23:59-01:00"],
    ["results", "--trainee", "a\nb"],  # a value with a newline: still one line
    ["run", "\x1b]0;title\x07"],  # a terminal escape in argv is not echoed raw
    ["results", "--trainee", "\udcff"],  # a byte that is not UTF-8 in argv: UnicodeEncodeError in SQLite
    ["regrade", "--scenario=\udcff.yaml"],
    ["export"],  # click's "Missing option '--format'. Choose from:" listed the choices on 4 lines
    ["export", "--format"],
    ["rubric", ""],  # a diagnostic with an empty path started with ':'
    ["run", ""],
    ["graph", "\x1f"],  # only a control character: the same once it is removed
    ["keygen", "~0"],  # Path.expanduser(): RuntimeError for a user the system does not know
    ["verify", "\u202eevil.yaml"],  # a bidi override in a file name, echoed raw
    ["list", "--dir", "\x1b[31mred"],
    ["rubric", "loop.yaml"],  # a symlink loop
    ["validate", "loop.yaml"],
    ["run", "loop.yaml"],
]


@pytest.mark.parametrize("argv", REGRESSIONS, ids=[" ".join(a)[:40] for a in REGRESSIONS])
def test_known_bad_command_lines(argv: list[str], records: dict[str, str], isolated_user_dirs: Path) -> None:
    fuzz(argv, records, isolated_user_dirs)


@pytest.fixture(autouse=True)
def serve_stops_once_listening(monkeypatch) -> None:
    """``serve`` runs until it is stopped. Here, once it is listening (options checked, records
    opened, the library validated, the port bound), it is sent SIGTERM, as systemd would, and
    must stop as it does there: exit 0, every line a ``crisis-sim:`` line."""
    try:
        from simulator.serve.server import ClassroomServer
    except ImportError:  # without the [serve] extra, serve says so in one line
        return
    start = ClassroomServer.start

    async def start_then_stop(self) -> str:
        url = await start(self)
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)
        return url

    monkeypatch.setattr(ClassroomServer, "start", start_then_stop)


def fuzz(argv: list[str], ids: dict[str, str], home: Path, key: bool = False) -> None:
    """Run one command line in a fresh workspace, with or without the academy signing key;
    no command line loses or changes a stored decision (resume may add some)."""
    before = decisions(ids["db"])
    with workspace(home) as folder:
        argv = resolve(argv, folder, ids)
        if key:
            os.environ[SIGNING_KEY_ENV] = KEY
        try:
            code, stdout, stderr = run_cli(argv)
        finally:
            os.environ.pop(SIGNING_KEY_ENV, None)
        event(f"exit {code}")
        check(argv, code, stdout, stderr)
    after = decisions(ids["db"])
    for attempt, rows in before.items():
        assert after.get(attempt, [])[: len(rows)] == rows, f"stored decisions changed: {argv!r}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
@given(data=st.data())
def test_random_command_lines(
    records: dict[str, str], isolated_user_dirs: Path, command: str, data: st.DataObject
) -> None:
    argv = data.draw(argvs(command), label="argv")
    fuzz(argv, records, isolated_user_dirs, key=data.draw(st.booleans(), label="signing key set"))


def test_regrade_reports_a_records_file_with_a_decision_missing(
    records: dict[str, str], isolated_user_dirs: Path
) -> None:
    """Regression (found by the fuzzer on a records file that had lost a decision): regrade
    raised GradeError, 'internal error'; it is the command that must report such a file."""
    conn = sqlite3.connect(records["db"])
    with conn:
        conn.execute("DELETE FROM decisions WHERE sequence = 3 AND attempt_id LIKE ?", (records["@DONE@"] + "%",))
    conn.close()
    with workspace(isolated_user_dirs):
        code, stdout, stderr = run_cli(["regrade"])
    check(["regrade"], code, stdout, stderr)
    assert code == 1 and "cannot recompute" in stdout and "was not on offer" in stdout


@example(["resume", "@ATTEMPT@", "--choose", "1"])
@example(["run", "overpass-railing", "--choose", "1", "--json", "--db", "sub"])
@example(["export", "--format", "xapi", "--lrs", "--lrs-user", "x"])
@example(["new", "x", "--dir", "scenario.yaml"])
@example(["play", "overpass-railing"])
@example(["--version"])
@example([])
@given(root_argvs())
def test_random_command_lines_from_the_top(records: dict[str, str], isolated_user_dirs: Path, argv: list[str]) -> None:
    fuzz(argv, records, isolated_user_dirs)


def test_every_command_is_fuzzed() -> None:
    """The argv strategy reaches every command of the group (introspection, not a list)."""
    assert {"run", "validate", "export", "rubric", "results"} <= set(COMMANDS)
    for name, command in COMMANDS.items():
        for param in command.params:
            assert isinstance(param, (click.Option, click.Argument)), (name, param)
