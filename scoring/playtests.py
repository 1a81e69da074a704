"""Recorded playthrough tests: pin expected runs of a scenario, like story tests in ink or Yarn.

A playthrough (``simulator.model.Playthrough``) is a list of steps (choice ids, or
``{timeout: SCENE}``) and what they must lead to: an ending, and optionally a score (exact or a
range), pass/fail and the critical errors committed. A scenario carries them inline under
``tests:`` or in a sidecar ``NAME.tests.yaml`` next to ``NAME.yaml`` (top-level ``tests:``).

- ``collect(path)`` loads a scenario with its rubric, its inline tests and its sidecar, and
  checks every reference at load time (diagnostics with ``file:line:col`` and did-you-mean):
  each step is *some* choice id of the scenario (whether it is on offer depends on the scene
  reached, which only playing can tell), each timeout step names a scene with a timer, the
  ending is an ending scene, the critical ids are ones the scenario can commit, names are unique.
- ``run_playthroughs(scenario, rubric, playthroughs)`` plays and grades each one and returns
  an ``Outcome`` with a readable expected-vs-actual diff for failures.
- ``record(...)`` plays scripted steps and appends the result to the sidecar, as YAML text
  written here (existing content and comments are kept byte for byte).
- ``run_tests``/``format_results`` are ``crisis-sim test``: a pytest-like report.

Grading is needed, so this lives in ``scoring``; ``simulator`` stays free of scoring imports.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from scoring.catalog import load_graded
from scoring.grading import Grade, grade
from scoring.rubric import Rubric
from simulator.diagnostics import Diagnostic, DiagnosticError, did_you_mean, has_errors
from simulator.engine import Run, SessionError
from simulator.loader import Reporter, is_sidecar, scenario_files, sidecar_owner, sidecar_path, validate_model
from simulator.model import Frozen, Playthrough, Scenario, ScoreRange, TimeoutStep
from simulator.runner import stuck_message
from simulator.yamlsource import YamlDocument, load_file, parse_text, read_bytes

WIDTH = 80


class PlaythroughFile(Frozen):
    """A sidecar file ``NAME.tests.yaml``: the playthrough tests of the scenario ``NAME.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, title="crisis-sim playthrough tests")

    tests: list[Playthrough] = Field(default_factory=list, description="The playthrough tests.")


# ---- files ----------------------------------------------------------------------------------


def sidecar_for(scenario_path: Path) -> Path:
    """``NAME.tests.yaml`` next to ``NAME.yaml`` (``NAME.tests.yml`` if only that exists)."""
    return sidecar_path(scenario_path, ".tests")


# ---- load-time checks -----------------------------------------------------------------------


@dataclass
class Case:
    """One playthrough with where it was written."""

    playthrough: Playthrough
    path: str
    line: int
    col: int

    @property
    def name(self) -> str:
        return self.playthrough.name

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


def _critical_ids(scenario: Scenario) -> list[str]:
    ids: set[str] = set()
    for scene in scenario.scenes.values():
        ids.update(c.critical for c in scene.choices if c.critical)
        if scene.timeout is not None and scene.timeout.critical:
            ids.add(scene.timeout.critical)
    return sorted(ids)


def _listing(ids: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > limit else "")


def check_playthroughs(
    scenario: Scenario, playthroughs: Sequence[Playthrough], report: Reporter, names: dict[str, str]
) -> list[Case]:
    """Check references in ``playthroughs`` (written under ``tests:`` of ``report``'s file);
    ``names`` maps names already used (in another file of the same scenario) to where."""
    choice_ids = sorted({c.id for scene in scenario.scenes.values() for c in scene.choices})
    timed = [sid for sid, scene in scenario.scenes.items() if scene.timeout is not None]
    endings = list(scenario.endings())
    criticals = _critical_ids(scenario)
    cases = []
    for i, p in enumerate(playthroughs):
        base: tuple[str | int, ...] = ("tests", i)
        who = f"playthrough '{p.name}': "
        mark = report.source.value(base)
        cases.append(Case(p, report.source.path, mark.line, mark.col))
        if p.name in names:
            report.add(
                base + ("name",),
                "duplicate-test-name",
                f"playthrough name '{p.name}' is already used ({names[p.name]}); names must be unique per scenario",
            )
        else:
            names[p.name] = f"{report.source.path}:{report.source.value(base + ('name',)).line}"
        for j, step in enumerate(p.steps):
            loc = base + ("steps", j)
            if isinstance(step, TimeoutStep):
                scene = scenario.scenes.get(step.timeout)
                if scene is None:
                    hint = did_you_mean(step.timeout, timed) or did_you_mean(step.timeout, scenario.scenes)
                    report.add(loc, "unknown-scene", f"{who}step {j + 1}: unknown scene '{step.timeout}'{hint}")
                elif scene.timeout is None:
                    which = f"; scenes with a timer: {_listing(timed)}" if timed else "; no scene has a timer"
                    report.add(
                        loc,
                        "no-timeout",
                        f"{who}step {j + 1}: scene '{step.timeout}' has no timeout, so its timer cannot run out{which}",
                    )
            elif step not in choice_ids:
                hint = did_you_mean(step, choice_ids)
                if step == "timeout" and not hint:
                    hint = "; to let a timer run out write {timeout: SCENE}"
                report.add(loc, "unknown-choice", f"{who}step {j + 1}: no scene has a choice '{step}'{hint}")
        if p.ending not in endings:
            loc = base + ("ending",)
            if p.ending in scenario.scenes:
                report.add(
                    loc,
                    "unknown-ending",
                    f"{who}scene '{p.ending}' is not an ending; the endings are {_listing(endings)}",
                )
            else:
                hint = did_you_mean(p.ending, endings) or did_you_mean(p.ending, scenario.scenes)
                report.add(
                    loc,
                    "unknown-ending",
                    f"{who}unknown ending '{p.ending}'{hint}; the endings are {_listing(endings)}",
                )
        for k, cid in enumerate(p.critical or []):
            if cid not in criticals:
                hint = did_you_mean(cid, criticals)
                if not hint:
                    hint = f"; it has: {_listing(criticals)}" if criticals else "; it has none"
                report.add(
                    base + ("critical", k),
                    "unknown-critical-error",
                    f"{who}no choice or timeout of this scenario carries the critical error '{cid}'{hint}",
                )
        if p.score is not None and p.score.min > p.score.max:
            report.add(
                base + ("score",),
                "bad-value",
                f"{who}score range: min ({_num(p.score.min)}) is above max ({_num(p.score.max)})",
            )
    return cases


@dataclass
class Suite:
    """A scenario with its playthrough tests, ready to run (``ok``), or the diagnostics that
    say why it cannot be."""

    path: str
    scenario: Scenario | None = None
    rubric: Rubric | None = None
    cases: list[Case] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sidecar: Path | None = None
    sidecar_document: YamlDocument | None = None

    @property
    def ok(self) -> bool:
        return self.scenario is not None and self.rubric is not None and not has_errors(self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def load_sidecar(path: Path) -> tuple[list[Playthrough], Reporter | None, YamlDocument | None, list[Diagnostic]]:
    """Read and validate a sidecar: (playthroughs, its reporter, the document, diagnostics).
    A file with nothing but comments has no tests and is not an error."""
    try:
        doc = load_file(path)
    except DiagnosticError as exc:
        if [d.code for d in exc.diagnostics] == ["empty-file"]:
            return [], None, None, []
        return [], None, None, list(exc.diagnostics)
    report = Reporter(doc.source)
    report.items.extend(doc.warnings)
    loaded = validate_model(PlaythroughFile, doc.data, report)
    return (list(loaded.tests) if loaded else []), report, doc, report.items


def collect(scenario_path: Path, rubric_ref: str | None = None, *, max_bytes: int | None = None) -> Suite:
    """Load a scenario, its rubric, its inline ``tests:`` and its sidecar; check them."""
    suite = Suite(str(scenario_path))
    graded = load_graded(scenario_path, rubric_ref, max_bytes=max_bytes)
    suite.diagnostics = [d for d in graded.diagnostics if d.severity == "error"]
    if not graded.ok or graded.scenario is None or graded.scenario.source is None:
        return suite
    scenario = suite.scenario = graded.scenario
    suite.rubric = graded.rubric
    names: dict[str, str] = {}
    inline = Reporter(scenario.source)
    suite.cases = check_playthroughs(scenario, scenario.tests, inline, names)
    suite.diagnostics += inline.items
    sidecar = sidecar_for(scenario_path)
    if sidecar.exists():
        playthroughs, report, doc, diagnostics = load_sidecar(sidecar)
        suite.sidecar_document = doc
        if report is not None and not has_errors(diagnostics):
            suite.cases += check_playthroughs(scenario, playthroughs, report, names)
        suite.diagnostics += report.items if report is not None else diagnostics
    suite.sidecar = sidecar
    suite.diagnostics.sort(key=lambda d: (d.path != suite.path, d.path, d.line, d.col))
    return suite


# ---- running --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actual:
    """What a playthrough's steps really led to."""

    ending: str | None
    score: float | None
    passed: bool | None
    critical: list[str]
    reasons: list[str]
    stopped: str | None  # where the path could not be followed, or None
    grade: Grade | None = None


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    diff: list[str]  # expected vs actual, one line per difference; empty when passed
    actual: Actual


def play(scenario: Scenario, steps: Sequence[str | TimeoutStep]) -> tuple[Run, str | None]:
    """Play the steps; returns the session and, if the path could not be followed exactly,
    why (``step 3: choice 'x' is not on offer in scene 'y' (offered: a, b)``). A ``Run``: the
    steps are replayed by the pure rules, with no state machine to build."""
    session = Run(scenario)
    session.start()
    for n, step in enumerate(steps, 1):
        if session.finished:
            unplayed = f"step {n} is" if n == len(steps) else f"steps {n}-{len(steps)} are"
            return session, (
                f"step {n}: the run already ended in scene '{session.scene}' after step {n - 1}, "
                f"so {unplayed} never played"
            )
        if session.at_limit:
            return session, f"step {n}: {stuck_message(session)}"
        if session.stuck:
            return session, f"step {n}: scene '{session.scene}' offers no choice (a dead end; see crisis-sim analyze)"
        if isinstance(step, TimeoutStep):
            if session.scene != step.timeout:
                return session, (
                    f"step {n}: expected to wait in scene '{step.timeout}', but the run is in scene "
                    f"'{session.scene}' (offered: {_offered(session)})"
                )
            if session.timeout_seconds() is None:
                return session, f"step {n}: scene '{session.scene}' has no timeout"
            session.expire()
            continue
        try:
            session.choose(step)
        except SessionError as exc:
            return session, f"step {n}: {exc}"
    if session.waiting:
        return session, (
            f"after the last step the run is still in scene '{session.scene}' "
            f"(offered: {_offered(session)}); add the next step"
        )
    if session.stuck:
        return session, f"the run stopped in scene '{session.scene}': it offers no choice (see crisis-sim analyze)"
    return session, None


def _offered(session: Run) -> str:
    ids = [c.id for c in session.offered()]
    if session.timeout_seconds():
        ids.append(f"{{timeout: {session.scene}}}")
    return ", ".join(ids) or "none"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _score_text(score: ScoreRange) -> str:
    if score.min == score.max:
        return _num(score.min)
    return f"between {_num(score.min)} and {_num(score.max)}"


def _ids_text(ids: Sequence[str]) -> str:
    return ", ".join(ids) if ids else "none"


def run_playthrough(scenario: Scenario, rubric: Rubric, playthrough: Playthrough) -> Outcome:
    session, stopped = play(scenario, playthrough.steps)
    result = grade(scenario, rubric, session.decisions) if session.finished else None
    actual = Actual(
        ending=session.ending.scene if session.ending else None,
        score=result.overall if result else None,
        passed=result.passed if result else None,
        critical=[h.id for h in result.critical_errors] if result else [],
        reasons=list(result.reasons) if result else [],
        stopped=stopped,
        grade=result,
    )
    diff: list[str] = []
    if stopped:
        diff.append(f"path:     {stopped}")
    if actual.ending != playthrough.ending:
        got = f"'{actual.ending}'" if actual.ending else "none (the run did not reach an ending)"
        diff.append(f"ending:   expected '{playthrough.ending}', got {got}")
    if result is None:
        unchecked = [
            key
            for key, value in (
                ("score", playthrough.score),
                ("passed", playthrough.passed),
                ("critical", playthrough.critical),
            )
            if value is not None
        ]
        if unchecked:
            diff.append(f"          ({', '.join(unchecked)} not compared: the run did not reach an ending)")
    else:
        score = playthrough.score
        if score is not None and not score.min <= result.overall <= score.max:
            diff.append(f"score:    expected {_score_text(score)}, got {_num(result.overall)}")
        if playthrough.passed is not None and playthrough.passed != result.passed:
            why = f" ({'; '.join(result.reasons)})" if result.reasons else ""
            diff.append(f"passed:   expected {str(playthrough.passed).lower()}, got {str(result.passed).lower()}{why}")
        if playthrough.critical is not None and list(playthrough.critical) != actual.critical:
            at = ", ".join(f"{h.id} at step {h.sequence}" for h in result.critical_errors)
            got = f"{_ids_text(actual.critical)} ({at})" if at else "none"
            diff.append(f"critical: expected {_ids_text(playthrough.critical)}, got {got}")
    return Outcome(playthrough.name, not diff, diff, actual)


def run_playthroughs(scenario: Scenario, rubric: Rubric, playthroughs: Iterable[Playthrough]) -> list[Outcome]:
    """Play and grade each playthrough; an Outcome per playthrough, in order."""
    return [run_playthrough(scenario, rubric, p) for p in playthroughs]


# ---- crisis-sim test ------------------------------------------------------------------------


@dataclass
class SuiteResult:
    label: str
    suite: Suite
    results: list[tuple[Case, Outcome]] = field(default_factory=list)

    @property
    def error(self) -> bool:
        return not self.suite.ok


def expand(paths: Sequence[str | Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Scenario files to test: folders expand to their scenarios, a sidecar stands for its
    scenario. Sidecars in a folder with no scenario next to them are reported."""
    files: list[Path] = []
    problems: list[Diagnostic] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files += scenario_files([path])
            for sidecar in sorted(p for p in path.rglob("*") if p.is_file() and is_sidecar(p)):
                if sidecar_owner(sidecar) is None:
                    problems.append(_orphan(sidecar))
        elif is_sidecar(path):
            scenario = sidecar_owner(path) if path.is_file() else None
            if scenario is None:
                problems.append(_orphan(path) if path.is_file() else _missing(str(given)))
            else:
                files.append(scenario)
        elif path.exists():
            files.append(path)
        else:
            from simulator.library import resolve

            try:
                files.append(resolve(str(given)))
            except DiagnosticError as exc:
                problems += exc.diagnostics
    unique = list(dict.fromkeys(files))
    return unique, problems


def _orphan(sidecar: Path) -> Diagnostic:
    stem, kind = sidecar.name.rsplit(".", 2)[:2]
    what = "playthrough tests" if kind == "tests" else "phrase tests"
    return Diagnostic(
        str(sidecar),
        0,
        0,
        "error",
        "orphan-tests",
        f"no scenario file {stem}.yaml next to these {what}; rename the file to match its scenario",
    )


def _missing(path: str) -> Diagnostic:
    return Diagnostic(path, 0, 0, "error", "file-missing", "no such file; check the path")


def run_tests(
    paths: Sequence[str | Path], keyword: str | None = None, *, max_bytes: int | None = None
) -> tuple[list[SuiteResult], list[Diagnostic]]:
    """Collect and run every playthrough under ``paths`` (only those whose
    ``SCENARIO-ID::NAME`` contains ``keyword``, case-insensitive, when given)."""
    files, problems = expand(paths)
    out = []
    for file in files:
        suite = collect(file, max_bytes=max_bytes)
        result = SuiteResult(str(file), suite)
        if suite.ok:
            assert suite.scenario is not None and suite.rubric is not None
            cases = [c for c in suite.cases if _selected(suite.scenario.id, c.name, keyword)]
            outcomes = run_playthroughs(suite.scenario, suite.rubric, [c.playthrough for c in cases])
            result.results = list(zip(cases, outcomes, strict=True))
            if keyword and not cases:
                continue
        out.append(result)
    return out, problems


def _selected(scenario_id: str, name: str, keyword: str | None) -> bool:
    return not keyword or keyword.lower() in f"{scenario_id}::{name}".lower()


def _banner(text: str, char: str) -> str:
    text = f" {text} "
    left = max(3, (WIDTH - len(text)) // 2)
    right = max(3, WIDTH - len(text) - left)
    return char * left + text + char * right


def format_results(results: Sequence[SuiteResult], problems: Sequence[Diagnostic]) -> tuple[list[str], int, int]:
    """The report as lines, and the numbers passed and failed. A file that cannot be tested
    (load errors) counts as one failure."""
    lines: list[str] = []
    passed = failed = 0
    for r in results:
        if r.error:
            lines.append(f"{r.label} E")
            failed += 1
        elif not r.results:
            lines.append(f"{r.label}: no playthrough tests")
        else:
            marks = "".join("." if o.passed else "F" for _, o in r.results)
            lines.append(f"{r.label} {marks}")
            passed += marks.count(".")
            failed += marks.count("F")
    for d in problems:
        lines.append(f"{d.path} E")
        failed += 1
    errors = [r for r in results if r.error]
    if errors or problems:
        lines += ["", _banner("ERRORS", "=")]
        for r in errors:
            lines.append(_banner(f"ERROR loading {r.label}", "_"))
            lines += [d.format() for d in r.suite.errors]
        for d in problems:
            lines.append(_banner(f"ERROR {d.path}", "_"))
            lines.append(d.format())
    failures = [(r, case, o) for r in results for case, o in r.results if not o.passed]
    if failures:
        lines += ["", _banner("FAILURES", "=")]
        for r, case, o in failures:
            sid = r.suite.scenario.id if r.suite.scenario else r.label
            lines.append(_banner(f"{sid} :: {o.name}", "_"))
            lines.append(f"{case.where}: playthrough '{o.name}' (expected vs actual)")
            lines += [f"  {line}" for line in o.diff]
            steps = _steps_text(case.playthrough.steps)
            lines.append(f"  steps:    {steps}")
    lines += ["", f"{passed} passed, {failed} failed"]
    return lines, passed, failed


def _steps_text(steps: Sequence[str | TimeoutStep]) -> str:
    return ", ".join(f"{{timeout: {s.timeout}}}" if isinstance(s, TimeoutStep) else s for s in steps) or "(none)"


# ---- recording ------------------------------------------------------------------------------


class RecordError(Exception):
    """Recording was refused; the message is one line saying why."""


@dataclass(frozen=True)
class Recorded:
    playthrough: Playthrough
    sidecar: Path
    created: bool
    warnings: list[str]


def playthrough_from(name: str, session: Run, result: Grade) -> Playthrough:
    """The playthrough a finished session and its grade make, with the exact score."""
    steps: list[Any] = [{"timeout": d.scene} if d.choice is None else d.choice for d in session.decisions]
    assert session.ending is not None
    return Playthrough.model_validate(
        {
            "name": name,
            "steps": steps,
            "ending": session.ending.scene,
            "score": result.overall,
            "passed": result.passed,
            "critical": [h.id for h in result.critical_errors],
        }
    )


def _q(text: str) -> str:
    """A YAML double-quoted string (JSON's escapes are all valid YAML escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _flow(prefix: str, items: Sequence[str], continuation: str, width: int = 100) -> list[str]:
    """``prefix[a, b, c]``, wrapped onto continuation lines when it would pass ``width``."""
    if not items:
        return [prefix + "[]"]
    lines: list[str] = []
    current = prefix + "["
    for i, item in enumerate(items):
        piece = item + ("]" if i == len(items) - 1 else ",")
        opening = current.endswith("[")
        if not opening and len(current) + 1 + len(piece) > width:
            lines.append(current)
            current = continuation + piece
        else:
            current += ("" if opening else " ") + piece
    lines.append(current)
    return lines


def playthrough_yaml(p: Playthrough, indent: str = "  ") -> str:
    """One playthrough as a YAML list item (every string quoted, so no id can be misread)."""
    body = indent + "  "
    lines = [f"{indent}- name: {_q(p.name)}"]
    steps = [("{timeout: " + _q(s.timeout) + "}") if isinstance(s, TimeoutStep) else _q(s) for s in p.steps]
    lines += _flow(f"{body}steps: ", steps, body + "  ")
    lines.append(f"{body}ending: {_q(p.ending)}")
    if p.score is not None:
        if p.score.min == p.score.max:
            lines.append(f"{body}score: {_num(p.score.min)}")
        else:
            lines.append(f"{body}score: {{min: {_num(p.score.min)}, max: {_num(p.score.max)}}}")
    if p.passed is not None:
        lines.append(f"{body}passed: {str(p.passed).lower()}")
    if p.critical is not None:
        lines += _flow(f"{body}critical: ", [_q(c) for c in p.critical], body + "  ")
    return "\n".join(lines) + "\n"


_EMPTY_FLOW = re.compile(r"\[\s*\]")


def appended_text(text: str, document: YamlDocument | None, p: Playthrough, scenario_label: str) -> str:
    """The sidecar's text with ``p`` appended to its ``tests:`` list; everything already
    there is kept as it is. ``document`` is the parsed current text (None: empty or only
    comments). Raises RecordError when the list is written in a way this cannot extend."""
    newline = "\r\n" if "\r\n" in text else "\n"
    text = text.replace("\r\n", "\n")
    if not text:  # a new file
        header = (
            f"# Playthrough tests of {scenario_label}: 'crisis-sim test {scenario_label}' runs them.\n"
            f"# Record one: crisis-sim test {scenario_label} --record NAME --choose ID,ID,...\n"
        )
        result = header + "tests:\n" + playthrough_yaml(p)
        return result.replace("\n", newline)
    if text and not text.endswith("\n"):
        text += "\n"
    if document is None:  # only comments
        return (text + "tests:\n" + playthrough_yaml(p)).replace("\n", newline)
    data = document.data
    if not isinstance(data, dict) or "tests" not in data:
        raise RecordError("the sidecar has no top-level 'tests:' list to append to; add 'tests:' or fix the file")
    tests = data["tests"]
    lines = text.split("\n")
    if tests is None:
        indent = "  "
    elif isinstance(tests, list):
        mark = document.source.value(("tests",))
        line = lines[mark.line - 1]
        rest = line[mark.col - 1 :]
        if rest.startswith("-"):  # a block list: new items go at the end, indented like the first
            indent = line[: mark.col - 1]
            if indent.strip():
                raise RecordError("cannot append: the first test does not start its own line; fix the layout")
        elif not tests and _EMPTY_FLOW.match(rest):  # 'tests: []', maybe with a comment after it
            found = _EMPTY_FLOW.match(rest)
            assert found is not None
            after = rest[found.end() :].strip()
            lines[mark.line - 1] = line[: mark.col - 1].rstrip() + (f"  {after}" if after else "")
            text = "\n".join(lines)
            indent = "  "
        else:
            raise RecordError(
                "cannot append: the 'tests:' list is written in [...] form; write it as '- ' items "
                "(one per test) and record again"
            )
    else:
        raise RecordError("the sidecar's 'tests:' is not a list; fix the file first")
    spacer = "\n" if tests and not text.endswith("\n\n") else ""  # a blank line between tests
    return (text + spacer + playthrough_yaml(p, indent)).replace("\n", newline)


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as fh:
            fh.write(data)
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def append_playthrough(sidecar: Path, document: YamlDocument | None, p: Playthrough, scenario_label: str) -> bool:
    """Append ``p`` to the sidecar (created if missing); returns True if the file was created.
    The new text is parsed and validated before it is written: the file must then hold
    exactly the old tests plus ``p``, or nothing is written."""
    created = not sidecar.exists()
    raw = b"" if created else read_bytes(sidecar)
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    new_text = appended_text(text, document, p, scenario_label)
    old_tests = list(document.data.get("tests") or []) if document and isinstance(document.data, dict) else []
    try:
        parsed = parse_text(new_text.replace("\r\n", "\n"), str(sidecar))
    except DiagnosticError as exc:
        problem = exc.diagnostics[0].message
        raise RecordError(f"appending would break the sidecar ({problem}); nothing written") from None
    report = Reporter(parsed.source)
    loaded = validate_model(PlaythroughFile, parsed.data, report)
    expected_old = PlaythroughFile.model_validate({"tests": old_tests}).tests if old_tests else []
    if loaded is None or list(loaded.tests) != [*expected_old, p]:
        raise RecordError("appending would change the existing tests (unusual layout); nothing written")
    _write_atomically(sidecar, (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8"))
    return created


def record(
    scenario_path: Path,
    name: str,
    choose: Sequence[str],
    timeout_at: Sequence[str],
    *,
    label: str | None = None,
    max_bytes: int | None = None,
) -> Recorded:
    """Play ``choose``/``timeout_at`` (as ``crisis-sim run`` does) on the scenario and append
    the outcome as playthrough ``name`` to its sidecar. Raises DiagnosticError when the
    scenario or sidecar has errors, RecordError when recording is refused."""
    from simulator.runner import RunStopped, Script, run_script

    name = name.strip()
    if not name:
        raise RecordError("--record needs a name, e.g. --record 'best path'")
    suite = collect(scenario_path, max_bytes=max_bytes)
    if not suite.ok:
        raise DiagnosticError(suite.errors)
    assert suite.scenario is not None and suite.rubric is not None and suite.sidecar is not None
    for case in suite.cases:
        if case.name == name:
            raise RecordError(f"a playthrough named '{name}' already exists ({case.where}); pick another name")
    session = Run(suite.scenario)
    session.start()
    try:
        warnings = run_script(session, Script(list(choose), list(timeout_at)))
    except RunStopped as exc:
        raise RecordError(f"{exc}; nothing recorded") from None
    if not session.finished:
        raise RecordError(
            f"the run stopped in scene '{session.scene}' without reaching an ending "
            "(it offers no choice; see crisis-sim analyze); nothing recorded"
        )
    p = playthrough_from(name, session, grade(suite.scenario, suite.rubric, session.decisions))
    check = run_playthrough(suite.scenario, suite.rubric, p)
    if not check.passed:  # cannot happen: grading is pure
        raise RecordError(f"the recorded playthrough does not replay ({'; '.join(check.diff)}); nothing recorded")
    created = append_playthrough(suite.sidecar, suite.sidecar_document, p, label or str(scenario_path))
    return Recorded(p, suite.sidecar, created, warnings)


@dataclass(frozen=True)
class Updated:
    """What ``update`` did to one scenario's sidecar."""

    sidecar: Path | None
    changes: list[str]  # "'NAME': score 85.3 -> 69, passed true -> false", one per changed test
    kept: list[str]  # tests left as they were because their steps no longer play to an ending
    inline: list[str]  # inline tests that differ: the scenario file is never rewritten


def _pinned(p: Playthrough, actual: Actual) -> Playthrough:
    """``p`` with what its steps now lead to; a score range stays a range when it still holds."""
    assert actual.grade is not None and actual.ending is not None
    score: Any = actual.score
    if p.score is not None and p.score.min != p.score.max and p.score.min <= (actual.score or 0) <= p.score.max:
        score = {"min": p.score.min, "max": p.score.max}
    data = p.model_dump(by_alias=True)
    data.update(ending=actual.ending, score=score, passed=actual.passed, critical=actual.critical)
    if p.score is None:
        data["score"] = None
    if p.passed is None:
        data["passed"] = None
    if p.critical is None:
        data["critical"] = None
    return Playthrough.model_validate(data)


def update(scenario_path: Path, *, max_bytes: int | None = None) -> Updated:
    """Re-pin a scenario's sidecar tests on what their steps now lead to (after a change to the
    scenario, the rubric or the grading method), like a snapshot update: the steps and names
    stay, ending, score, passed and critical are rewritten. Comments before ``tests:`` are kept;
    tests whose steps no longer play to an ending are kept unchanged and listed, for the author
    to fix. Raises DiagnosticError when the scenario or sidecar has errors."""
    suite = collect(scenario_path, max_bytes=max_bytes)
    if not suite.ok:
        raise DiagnosticError(suite.errors)
    assert suite.scenario is not None and suite.rubric is not None
    changes: list[str] = []
    kept: list[str] = []
    inline: list[str] = []
    pinned: list[Playthrough] = []
    for case in suite.cases:
        outcome = run_playthrough(suite.scenario, suite.rubric, case.playthrough)
        if suite.sidecar is not None and case.path == str(suite.sidecar):
            if outcome.actual.grade is None or outcome.actual.stopped:
                kept.append(case.playthrough.name)
                pinned.append(case.playthrough)
                continue
            new = _pinned(case.playthrough, outcome.actual)
            if not outcome.passed:
                changes.append(f"'{case.playthrough.name}': " + "; ".join(" ".join(d.split()) for d in outcome.diff))
            pinned.append(new)
        elif not outcome.passed:
            inline.append(case.playthrough.name)
    sidecar = suite.sidecar if suite.sidecar is not None and suite.sidecar.exists() else None
    if sidecar is not None and changes:
        raw = read_bytes(sidecar)
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
        head = text.split("\ntests:", 1)[0] + "\n" if "\ntests:" in text else ""
        if text.startswith("tests:"):
            head = ""
        new_text = head + "tests:\n" + "\n".join(playthrough_yaml(p) for p in pinned)
        parsed = parse_text(new_text, str(sidecar))
        loaded = validate_model(PlaythroughFile, parsed.data, Reporter(parsed.source))
        if loaded is None or [(p.name, p.steps) for p in loaded.tests] != [(p.name, p.steps) for p in pinned]:
            raise RecordError(f"re-pinning would change the tests of {sidecar} (unusual layout); nothing written")
        bom = raw.startswith(b"\xef\xbb\xbf")
        _write_atomically(sidecar, (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8"))
    return Updated(sidecar, changes, kept, inline)


def describe_recorded(rec: Recorded) -> str:
    p = rec.playthrough
    assert p.score is not None
    verdict = "passes" if p.passed else "fails"
    critical = _ids_text(p.critical or [])
    action = "created" if rec.created else "appended to"
    return (
        f"recorded '{p.name}' ({action} {rec.sidecar}): ending '{p.ending}', score {_score_text(p.score)}, "
        f"{verdict}, critical errors: {critical}"
    )
