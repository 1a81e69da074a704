"""docs/scenario-format.md stays true to the code: every diagnostic code, every key, every id
pattern is documented, and the complete examples in it load without a single diagnostic."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from simulator.loader import load_scenario
from simulator.model import PATTERN_HELP, Scenario

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "scenario-format.md"

# Functions and methods that report a diagnostic. In every one of them the code is the
# argument just before the message: Diagnostic(path, line, col, severity, CODE, message),
# report.add(loc, CODE, message), report.warn(...), self.fail(mark, CODE, message),
# err(CODE, message) and err(line, col, CODE, message).
REPORTERS = {"Diagnostic", "add", "warn", "fail", "err"}
CODE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z")


def _strings(node: ast.AST, assigned: dict[str, set[str]]) -> set[str]:
    """String literals an expression can evaluate to (a literal, ``a if c else b``, or a
    variable assigned literals in the same function, like ``code = "yaml-tab"``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body, assigned) | _strings(node.orelse, assigned)
    if isinstance(node, ast.Name):
        return assigned.get(node.id, set())
    return set()


def _assigned_strings(func: ast.AST) -> dict[str, set[str]]:
    assigned: dict[str, set[str]] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, set()).update(_strings(node.value, {}))
    return assigned


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def emitted_codes(folder: Path) -> dict[str, str]:
    """Every diagnostic code the modules in ``folder`` can emit -> where (file:line)."""
    codes: dict[str, str] = {}
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            assigned = _assigned_strings(func)
            for call in ast.walk(func):
                if not isinstance(call, ast.Call) or _call_name(call) not in REPORTERS:
                    continue
                candidates = [kw.value for kw in call.keywords if kw.arg == "code"] or call.args[-2:-1]
                for value in candidates:
                    for text in _strings(value, assigned):
                        if CODE.match(text):
                            codes.setdefault(text, f"{path.relative_to(REPO)}:{call.lineno}")
    return codes


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def diagnostics_section() -> str:
    text = doc_text()
    start = text.index("\n## Diagnostics")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def example(name: str) -> str:
    """The first ```yaml block after ``<!-- example: NAME -->``."""
    match = re.search(rf"<!-- example: {name} -->\s*```yaml\n(.*?)```", doc_text(), re.S)
    assert match, f"docs/scenario-format.md has no '<!-- example: {name} -->' followed by a ```yaml block"
    return match.group(1)


def test_the_code_scanner_finds_the_codes():
    codes = emitted_codes(REPO / "simulator")
    assert len(codes) >= 25, sorted(codes)
    # One code reached by each way of reporting, so the scanner cannot silently go blind:
    # a variable (yaml-tab), self.fail (duplicate-key), err (file-too-large), report.add
    # (bad-condition), report.warn (unused-auto), Diagnostic(...) directly (unknown-scenario).
    # If one of these codes is retired on purpose, pick another of the same kind.
    assert {"yaml-tab", "duplicate-key", "file-too-large", "bad-condition", "unused-auto", "unknown-scenario"} <= set(
        codes
    )
    assert not {"error", "warning"} & set(codes)


def test_every_diagnostic_code_is_documented():
    section = diagnostics_section()
    missing = {
        code: where for code, where in emitted_codes(REPO / "simulator").items() if f"| `{code}` |" not in section
    }
    assert not missing, (
        "diagnostic codes emitted by the code but missing from the Diagnostics tables of "
        f"docs/scenario-format.md (code: where it is emitted): {missing}"
    )


def test_every_documented_code_exists():
    known = set(emitted_codes(REPO / "simulator")) | set(emitted_codes(REPO / "scoring"))
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \| (?:error|warning)", diagnostics_section(), re.M))
    assert len(documented) >= 25
    assert documented <= known, f"documented but never emitted: {sorted(documented - known)}"


@pytest.mark.parametrize("name", ["minimal", "full"])
def test_complete_examples_load_without_diagnostics(tmp_path, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(example(name), encoding="utf-8")
    result = load_scenario(path)
    assert [d.format() for d in result.diagnostics] == []
    assert result.ok


@pytest.mark.parametrize("name", ["minimal", "full"])
def test_complete_examples_pass_strict_validate(tmp_path, name):
    """The whole `crisis-sim validate --strict`, rubric checks included, as an instructor runs it."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(example(name), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", "from simulator.cli import main; main()", "validate", "--strict", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 error(s), 0 warning(s)" in proc.stdout


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


def _model_keys(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for name, field in model.model_fields.items():
        keys.add((model.__name__, field.alias or name))
        for sub in _models(field.annotation):
            if sub not in seen:
                seen.add(sub)
                keys |= _model_keys(sub, seen)
    return keys


def test_every_key_of_the_format_has_a_table_row():
    text = doc_text()
    keys = _model_keys(Scenario, {Scenario})
    assert len(keys) >= 50
    missing = sorted(f"{owner}.{key}" for owner, key in keys if f"| `{key}` |" not in text)
    assert not missing, f"keys without a row in the key tables of docs/scenario-format.md: {missing}"


def test_id_patterns_are_documented():
    text = doc_text()
    for pattern in PATTERN_HELP:
        assert f"`{pattern}`" in text, pattern


# ---- docs/scoring.md: the worked example is recomputed ----------------------------------------

SCORING = REPO / "docs" / "scoring.md"


def _table(text: str, marker: str) -> list[list[str]]:
    """The rows of the Markdown table after ``<!-- marker -->`` (header and rule left out)."""
    block = text.split(f"<!-- {marker} -->\n", 1)[1].split("\n\n", 1)[0]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in block.splitlines()[2:]]


def test_the_worked_example_of_scoring_md_is_what_grading_computes(tmp_path):
    from scoring.catalog import load_graded
    from scoring.grading import grade
    from scoring.report import format_grade
    from simulator.engine import Session

    text = SCORING.read_text(encoding="utf-8")
    match = re.search(r"<!-- example: worked -->\s*```yaml\n(.*?)```", text, re.S)
    assert match, "docs/scoring.md has no worked example"
    path = tmp_path / "worked-example.yaml"
    path.write_text(match.group(1), encoding="utf-8")
    graded = load_graded(path)
    assert graded.ok and graded.diagnostics == [], [d.format() for d in graded.diagnostics]
    command = re.search(r"crisis-sim run worked-example\.yaml --choose (\S+)", text)
    session = Session(graded.scenario)
    session.start()
    for choice in command.group(1).split(","):
        session.choose(choice)
    g = grade(graded.scenario, graded.rubric, session.decisions)

    rows = _table(text, "worked-decisions")
    assert len(rows) == len(g.decisions)
    for row, review in zip(rows, g.decisions, strict=True):
        assert row[0] == str(review.sequence) and row[1].split()[0] == f"`{review.chosen.id}`"
        assert ("(acceptable)" in row[1]) == review.chosen.acceptable
        numbers = [int(cell) for cell in row[2:]]
        assert numbers == [review.value, review.credited, review.best_value, review.worst_value, review.stakes,
                           review.scored], row
    performance = re.search(
        r"\*\*Performance\*\* = \(([-\d +]+)\) ÷ \(([-\d +]+)\) = (\d+) ÷ (\d+) = \*\*([\d.]+)\*\*", text
    )
    assert [int(x) for x in performance.group(1).split(" + ")] == [r.scored for r in g.decisions]
    assert [int(x) for x in performance.group(2).split(" + ")] == [r.stakes for r in g.decisions]
    assert (int(performance.group(3)), int(performance.group(4))) == (g.scored, g.at_stake)
    assert float(performance.group(5)) == g.performance

    by_name = {d.name: d for d in g.dimensions}
    for name, at_stake, weights, score in _table(text, "worked-dimensions"):
        line = by_name[name]
        if score == "n/a":
            assert line.score is None and at_stake == "never"
        else:
            assert line.score == float(score) and line.stake == int(weights)
            stakes = [n for n in (1, 2, 3) if _at_stake(g, graded.scenario, n, name, graded.rubric)]
            assert at_stake == ", ".join(f"decision {n}" for n in stakes) and line.decisions == len(stakes)
    reported = re.search(r"\*\*reported score is (\d+)\*\*", text)
    assert g.overall == float(reported.group(1)) and not g.passed
    assert g.reasons == ["Listening and empathy scored 33.3, below the minimum of 50"]
    assert f"*{g.reasons[0]}*" in " ".join(text.split())
    headline = re.search(r"reads\s+`(Overall score: [^`]+)` with `performance ([\d.]+)`", text)
    assert headline.group(1) in format_grade(g) and float(headline.group(2)) == g.performance
    assert "With\n`reflect` at decision 2 instead, every decision scores all it puts at stake: 100, passed." in text
    better = Session.replay(graded.scenario, [])
    for choice in ("introduce", "reflect", "stay-back"):
        better.choose(choice)
    g2 = grade(graded.scenario, graded.rubric, better.decisions)
    assert (g2.overall, g2.passed) == (100.0, True)



def _at_stake(g, scenario, sequence: int, dimension_name: str, rubric) -> bool:
    """Whether some option of decision ``sequence``'s scene has points in the dimension (the
    worked example has no conditions, so every option of the scene is on offer)."""
    did = next(d.id for d in g.dimensions if d.name == dimension_name)
    members = set(rubric.dimension_principles(did))
    scene = scenario.scenes[g.decisions[sequence - 1].scene]
    options = [*scene.choices, *([scene.timeout] if scene.timeout else [])]
    return any(members & {p for p, v in o.scores.items() if v} for o in options)


# ---- README: every key the app binds has a row in the keys table ------------------------------

README = REPO / "README.md"
# Where each screen's keys apply, as the keys table's "where" column says it ("everywhere"
# covers every screen). A screen missing here fails the test: say where its keys work.
WHERE = {
    "SignInScreen": "sign-in form",
    "LibraryScreen": "library",
    "BriefingScreen": "briefing",
    "PlayScreen": "playing",
    "DebriefScreen": "debrief",
    "PastDebriefScreen": "reopened debrief",
    "HistoryScreen": "My attempts",
    "ResumeOffer": "unfinished-attempt question",
    "Confirm": "yes/no question",
    "Paused": "paused",
    "HelpScreen": "help",
}
KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "Escape", "enter": "Enter", "space": "Space",
             "f1": "F1", "ctrl+q": "Ctrl+Q", "ctrl+p": "Ctrl+P"}


def _readme_keys_rows() -> list[tuple[str, str]]:
    """(keys cell, where cell) of each row of README's "Keys in the app" table."""
    block = README.read_text(encoding="utf-8").split("### Keys in the app\n", 1)[1].lstrip().split("\n\n", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in block.splitlines()[2:]]
    return [(keys, where) for keys, where, *_ in rows]


def test_every_key_the_app_binds_is_in_the_readme_keys_table():
    """Issue 14: a key the trainee can press (the transcript's t) was documented nowhere. Every
    binding of every screen, the app's own included, has a row naming the key where it works."""
    import importlib
    import inspect
    import pkgutil

    from textual.binding import Binding
    from textual.screen import Screen

    import simulator.tui.screens
    from simulator.tui.app import CrisisSimApp

    screens = {CrisisSimApp}
    for info in pkgutil.iter_modules(simulator.tui.screens.__path__):
        module = importlib.import_module(f"simulator.tui.screens.{info.name}")
        screens |= {o for o in vars(module).values()
                    if inspect.isclass(o) and issubclass(o, Screen) and o.__module__ == module.__name__}
    rows = _readme_keys_rows()
    assert len(rows) >= 15
    missing = []
    for cls in sorted(screens, key=lambda c: c.__name__):
        where = "everywhere" if cls is CrisisSimApp else WHERE.get(cls.__name__)
        assert where is not None, f"{cls.__name__}: add where its keys work to WHERE and to the README"
        for binding in cls.__dict__.get("BINDINGS", []):
            binding = binding if isinstance(binding, Binding) else Binding(*binding)
            for key in binding.key.split(","):
                if key.isdigit():  # the choices' numbers: one row, `1`-`9`
                    key = "1`-`9"
                shown = f"`{KEY_NAMES.get(key, key)}`"
                if not any(shown in keys and (where in here or "everywhere" in here) for keys, here in rows):
                    missing.append(f"{cls.__name__}: {shown} ({where})")
    assert not missing, f"keys without a row in README's keys table: {missing}"


# ---- docs/records-and-exports.md: every setting and every records column -------------------------

RECORDS_DOC = REPO / "docs" / "records-and-exports.md"


def _first_cells(text: str) -> set[str]:
    """The backticked names in the first cell of every Markdown table row of ``text``."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


def test_every_setting_has_a_row_in_the_settings_table():
    """Issue 14 added [library] dirs and [academy] shared_machine; a setting nobody can find is a
    setting nobody uses. Every field of every config section is a row, as ``section.key``."""
    from simulator.config import Config

    documented = _first_cells(RECORDS_DOC.read_text(encoding="utf-8"))
    settings = {f"{section}.{key}" for section, field in Config.model_fields.items()
                for key in field.annotation.model_fields}
    assert len(settings) >= 15
    assert sorted(settings - documented) == []


def test_every_column_of_the_records_has_a_row_in_the_schema_tables(tmp_path):
    """Every column of every table a records file holds (schema 4 added front_end, time_pressure,
    scenario_title, choice_text and the preferences table) is described in the Schema section."""
    import sqlite3

    from simulator.records import Store

    with Store.open(tmp_path / "records.sqlite3"):
        pass
    schema = RECORDS_DOC.read_text(encoding="utf-8").split("### Schema\n", 1)[1]
    documented = _first_cells(schema)
    with sqlite3.connect(tmp_path / "records.sqlite3") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = {f"{table}.{row[1]}" for table in tables for row in db.execute(f"PRAGMA table_info({table})")}
    assert {"attempts.front_end", "attempts.time_pressure", "preferences.value"} <= columns
    # schema_version is one row holding one number, described in a sentence
    missing = sorted(c for c in columns if c.split(".", 1)[1] not in documented and not c.startswith("schema_"))
    assert missing == [], f"records columns without a row under docs/records-and-exports.md#schema: {missing}"
    for table in tables:
        assert f"`{table}`" in schema, table
