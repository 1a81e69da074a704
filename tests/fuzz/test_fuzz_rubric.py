"""Fuzzing the rubric loader (``scoring/rubric.py``), directly and through the CLI.

Property: any file gives a Rubric, or diagnostics with at least one error, each one line at
``file:line:col`` (line 0 only for what concerns the whole file: missing, empty, too large...);
never an uncaught exception, never a hang. A rubric that loads must also be usable: printed by
``format_rubric`` and used to grade a real playthrough of a bundled scenario.
``tests/test_rubric.py`` already feeds short strings over a small YAML alphabet; this file
mutates the real default rubric: structurally (keys deleted and misspelt, values of every
wrong type: negative, huge, nan, inf, text, lists, unicode; ids duplicated, principles
pointing nowhere) and as text (truncated, lines duplicated/swapped/re-indented, hostile YAML
inserted, other encodings).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_runner import run_cli
from hang_guard import no_hang
from hypothesis import event as _event
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from scoring.catalog import load_graded
from scoring.grading import grade
from scoring.rubric import RubricResult, builtin_rubrics_dir, format_rubric, load_rubric
from simulator.diagnostics import has_errors
from simulator.engine import Session

DEFAULT = builtin_rubrics_dir() / "default.yaml"
TEXT = DEFAULT.read_text(encoding="utf-8")
DATA: dict[str, Any] = yaml.safe_load(TEXT)  # the test's own reading of a trusted file
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "overpass-railing.yaml"

# Diagnostics about the whole file have no line (Diagnostic: line 0 = the whole file).
WHOLE_FILE = {"file-missing", "file-unreadable", "file-too-large", "empty-file", "unknown-rubric", "yaml-syntax"}
ONE_DIAGNOSTIC = re.compile(r"^(?P<path>.+?)(?::(?P<line>\d+):(?P<col>\d+))?: (error|warning): .+ \[[a-z0-9-]+\]$")

# ---- the property ---------------------------------------------------------------------------


def event(what: str) -> None:
    """hypothesis.event, also callable from the plain example tests."""
    if currently_in_test_context():
        _event(what)


def check_result(result: RubricResult, path: Path, text: str | None) -> None:
    assert isinstance(result, RubricResult)
    if result.rubric is None:
        assert has_errors(result.diagnostics), "no rubric and no error"
    lines = len(re.split(r"\r\n|\r|\n", text)) if text is not None else None  # YAML breaks lines at \r too
    for d in result.diagnostics:
        shown = d.format()
        assert "\n" not in shown and "\r" not in shown, f"a diagnostic on more than one line: {shown!r}"
        assert ONE_DIAGNOSTIC.match(shown), shown
        assert d.path == str(path), shown
        if d.line == 0:
            assert d.code in WHOLE_FILE and d.col == 0, shown
        else:
            assert d.line >= 1 and d.col >= 1, shown
            if lines is not None:
                assert d.line <= lines, (shown, lines)
    event("loads" if result.rubric is not None else "diagnostics")
    if result.rubric is not None:
        assert not has_errors(result.diagnostics)
        usable(result, path)


def usable(result: RubricResult, path: Path) -> None:
    """A rubric that loads can be printed and can grade a real playthrough."""
    rubric = result.rubric
    assert rubric is not None
    text = format_rubric(rubric)
    assert rubric.title in text or not rubric.title.strip()
    graded = load_graded(SCENARIO, str(path))
    event("grades a playthrough" if graded.ok else "scenario does not fit the rubric")
    if not graded.ok:  # a rubric without the principles the scenario scores: diagnostics only
        for d in graded.diagnostics:
            assert "\n" not in d.format()
        assert has_errors(graded.diagnostics)
        return
    assert graded.scenario is not None and graded.rubric is not None
    session = Session(graded.scenario)
    session.start()
    while session.waiting:
        session.choose(session.offered()[-1].id)
    report = grade(graded.scenario, graded.rubric, session.decisions)
    assert 0 <= report.overall <= 100
    report.as_dict()


def load(folder: Path, content: str | bytes, name: str = "default.yaml") -> tuple[RubricResult, Path]:
    path = folder / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(content)
    with no_hang(20, "rubric file"):
        result = load_rubric(path)
        text = content if isinstance(content, str) else None
        check_result(result, path, text)
    return result, path


# ---- structural mutations -------------------------------------------------------------------

WEIRD_VALUES = [
    -1,
    0,
    -(10**6),
    10**6,
    2**63,
    10**400,
    -(10**400),
    1.5,
    20.0,
    float("inf"),
    float("-inf"),
    float("nan"),
    "20",
    "",
    " ",
    "twenty",
    "20%",
    None,
    True,
    False,
    [],
    {},
    [1, 2],
    {"a": 1},
    {"name": "x"},
    "ünïcødé ✓ 🎉 中文",
    "\u202eevil\u202c",
    "\x1b[31mred\x1b[0m",
    "[bold]markup[/bold]",
    '=HYPERLINK("x")',
    "x" * 5000,
    "line one\nline two",
    "good",
    "poor",
    "excellent",
    ["good"],
    ["excellent"],
    ["good", "good"],
]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


PATHS = _paths(DATA)[1:]


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def misspell(key: str, how: int) -> str:
    if not key:
        return "x"
    i = how % len(key)
    variants = [
        key[:i] + key[i + 1 :],  # a letter dropped
        key[:i] + key[i] * 2 + key[i + 1 :],  # a letter doubled
        key.upper(),
        key.replace("_", "-"),
        key + "s",
        key[:i] + "é" + key[i + 1 :],
        " " + key,
    ]
    return variants[how % len(variants)] or "x"


# a fresh copy each time: a drawn list or mapping may be mutated by a later step
weird = st.sampled_from(WEIRD_VALUES).map(copy.deepcopy)


@st.composite
def mutated_data(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(DATA)
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        paths = _paths(data)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        key = path[-1]
        op = draw(st.sampled_from(["delete", "rename", "retype", "retype", "add", "copy-id", "dangle", "empty"]))
        if op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            new = misspell(str(key), draw(st.integers(min_value=0, max_value=100)))
            parent[new] = parent.pop(key)
        elif op == "retype":
            parent[key] = draw(weird)
        elif op == "add" and isinstance(parent, dict):
            parent[
                draw(
                    st.sampled_from(
                        [
                            "weight",
                            "extra",
                            "dimension",
                            "id",
                            "ratings",
                            "é",
                            "1",
                            "line\nbreak",
                            "tab\tkey",
                            "\x1b[31m",
                        ]
                    )
                )
            ] = draw(weird)
        elif op == "copy-id" and isinstance(parent, dict) and len(path) == 2:
            parent[draw(st.sampled_from(["copy", "default", str(key) + "_2", "é"]))] = copy.deepcopy(parent[key])
        elif op == "dangle" and isinstance(data.get("principles"), dict) and data["principles"]:
            pid = draw(st.sampled_from(sorted(data["principles"], key=str)))
            if isinstance(data["principles"][pid], dict):
                data["principles"][pid]["dimension"] = draw(st.sampled_from(["nowhere", "safety-assessment", ""]))
        elif op == "empty":
            section = draw(st.sampled_from(["dimensions", "principles", "critical_errors", "pass"]))
            data[section] = copy.deepcopy(draw(st.sampled_from([{}, [], None, ""])))
    return data


def dump(data: Any, flow: bool) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=flow, width=100)


@example({**DATA, "dimensions": {did: {**d, "weight": 10**400} for did, d in DATA["dimensions"].items()}}, False)
@given(mutated_data(), st.booleans())
def test_structurally_mutated_rubrics(tmp_path_factory: pytest.TempPathFactory, data: Any, flow: bool) -> None:
    load(tmp_path_factory.mktemp("rubric"), dump(data, flow))


def test_a_huge_weight_is_a_diagnostic_not_a_crash_in_grading(tmp_path: Path) -> None:
    """Regression: a weight of 10**400 loaded, then grading turned points x weight into a
    float (OverflowError); weights are now capped with an out-of-range diagnostic at the value."""
    data = copy.deepcopy(DATA)
    data["dimensions"]["engagement"]["weight"] = 10**400
    result, _ = load(tmp_path, dump(data, False))
    assert result.rubric is None
    [d] = [d for d in result.diagnostics if d.severity == "error"]
    assert d.code == "out-of-range" and "weight" in d.message and d.line > 1


def test_a_hex_weight_python_cannot_print_is_a_diagnostic(tmp_path: Path) -> None:
    """Regression: ``weight: 0xfff...`` (4,000 hex digits) became an int of ~4,800 decimal
    digits, and the out-of-range message's repr() of it raised ValueError (Python's 4,300-digit
    limit): 'internal error'. Such a number now stays text: a wrong-type diagnostic."""
    result, _ = load(tmp_path, TEXT.replace("weight: 20", "weight: 0x" + "f" * 4000, 1))
    [d] = [d for d in result.diagnostics if d.severity == "error"]
    assert d.code == "wrong-type" and d.line > 1


# ---- text mutations -------------------------------------------------------------------------

HOSTILE_SNIPPETS = [
    "&a ",
    "*a",
    "!!python/object/apply:os.system ['true'] ",
    "!!str ",
    "!x ",
    "\t",
    ": ",
    "- ",
    "? ",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "#",
    "|",
    ">",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\x00",
    "\ufeff",
    "\u2028",
    "\x85",
    "\x1b[2J",
    "\u202e",
    "é",
    "🎉",
    "\ud800",
    "\r",
    "\r\n",
    "0x",
    "1e309",
    ".nan",
    "-.inf",
    "9" * 5000,
    "a: &x [*x]\n",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{a: " * 80,
    "- " * 100,
    "yes",
    "no",
    "on",
    "1:20",
    "012",
    "~",
    "null",
]
NUMBER = re.compile(r"(?<=: )\d+")
WEIRD_NUMBERS = [
    "-20",
    "0",
    "1e309",
    "10" + "0" * 400,
    "'20'",
    "20.5",
    ".nan",
    "0x14",
    "0o24",
    "+20",
    "20_000",
    "٢٠",
    "0x" + "f" * 4000,
    "0b" + "1" * 20000,
    "0" + "7" * 5000,
]


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(["default", "flow", "mutated"]))
    if base == "default":
        text = TEXT
    elif base == "flow":
        text = dump(DATA, True)
    else:
        text = dump(draw(mutated_data()), draw(st.booleans()))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        lines = text.split("\n")
        op = draw(st.sampled_from(["truncate", "delete", "duplicate", "swap", "indent", "insert", "number", "replace"]))
        i = draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))
        j = draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))
        if op == "truncate":
            text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
            continue
        if op == "delete":
            del lines[i]
        elif op == "duplicate":  # a duplicate key, or a duplicate id, at every level
            lines.insert(j, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = draw(st.sampled_from([" ", "  ", "\t", "    "])) + lines[i]
        elif op == "insert":
            at = draw(st.integers(min_value=0, max_value=len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(HOSTILE_SNIPPETS)) + lines[i][at:]
        elif op == "number":
            lines[i] = NUMBER.sub(draw(st.sampled_from(WEIRD_NUMBERS)), lines[i])
        else:
            at = draw(st.integers(min_value=0, max_value=len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.text(max_size=8)) + lines[i][at:]
        text = "\n".join(lines)
    return text


@given(mutated_text())
def test_textually_mutated_rubrics(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    load(tmp_path_factory.mktemp("rubric"), text)


@given(mutated_text(), st.sampled_from(["utf-16", "utf-16-le", "latin-1", "cp1252", "utf-8-sig", "utf-32"]))
def test_rubrics_in_other_encodings(tmp_path_factory: pytest.TempPathFactory, text: str, encoding: str) -> None:
    raw = text.encode(encoding, errors="replace") if encoding != "utf-8-sig" else text.encode("utf-8-sig", "replace")
    load(tmp_path_factory.mktemp("rubric"), raw)


@given(st.binary(max_size=300))
def test_random_bytes(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    load(tmp_path_factory.mktemp("rubric"), raw)


@pytest.mark.parametrize(
    "name",
    ["missing.yaml", "folder.yaml", "big.yaml", "empty.yaml", "unreadable.yaml", "dangling.yaml"],
)
def test_files_that_are_not_rubric_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "folder.yaml":
        path.mkdir()
    elif name == "big.yaml":
        path.write_text("# x\n" * (2 * 1024 * 1024), encoding="utf-8")
    elif name == "empty.yaml":
        path.write_text("# only a comment\n", encoding="utf-8")
    elif name == "unreadable.yaml":
        path.write_text(TEXT, encoding="utf-8")
        path.chmod(0)
    elif name == "dangling.yaml":
        path.symlink_to(tmp_path / "nowhere.yaml")
    with no_hang(20, "rubric file"):
        result = load_rubric(path)
    check_result(result, path, None)


# ---- through the CLI ------------------------------------------------------------------------





def check_cli(code: int, out: str, err: str) -> None:
    assert "Traceback" not in err + out and "internal error" not in err, err
    assert code in (0, 1), (code, err)
    for line in err.rstrip("\n").split("\n") if err else []:
        assert ONE_DIAGNOSTIC.match(line) or line.startswith("crisis-sim: "), line
    if code:  # validate and analyze report on stdout
        assert (err + out).strip(), "a failure without a message"


COMMANDS = {
    "rubric": ["rubric", "@"],
    "run": ["run", str(SCENARIO), "--rubric", "@", "--policy", "first", "--no-record", "--json"],
    "validate": ["validate", str(SCENARIO), "--rubric", "@"],
    "graph": ["graph", str(SCENARIO), "--rubric", "@"],
    "analyze": ["analyze", str(SCENARIO), "--rubric", "@", "--max-states", "2000"],
}


@given(
    st.one_of(mutated_text(), mutated_data().map(lambda d: dump(d, False))),
    st.sampled_from(sorted(COMMANDS)),
)
def test_mutated_rubrics_through_the_cli(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], text: str, command: str
) -> None:
    """``crisis-sim rubric FILE`` and the commands that take ``--rubric FILE`` (a graded run,
    validate, graph, analyze): output (exit 0 or 1 for problems found) or one-line
    diagnostics (exit 1)."""
    path = tmp_path_factory.mktemp("rubric") / "default.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    argv = [str(path) if part == "@" else part for part in COMMANDS[command]]
    code, out, err = run_cli(argv, seconds=30)
    event(f"{command}: exit {code}")
    check_cli(code, out, err)
