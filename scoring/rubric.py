"""The rubric: what a scenario is graded against, read from ``scoring/rubrics/*.yaml``.

A rubric names the principles a choice can score (``scores: {principle: points}``), groups them
into weighted dimensions, lists the critical errors a choice can commit (``critical: id``), and
sets the pass rule. This module owns the rubric model and everything about rubric files:

- ``load_rubric``: the same safe YAML reader, structural mapping and diagnostics as scenarios
  (``simulator.yamlsource.load_file`` -> ``simulator.loader.validate_model``), then the rubric's
  own cross-reference checks, every finding at ``file:line:col``;
- ``find_rubric``: a name or a path to a file (folders given, then ``CRISIS_SIM_RUBRICS``, then
  the built-in rubrics);
- ``check_scenario_against_rubric``: every ``scores:`` key and ``critical:`` id of a scenario
  must exist in the rubric (or the scenario's own ``principles:``);
- ``effective_rubric``: the rubric plus a scenario's principles and pass override, the one view
  grading uses;
- ``format_rubric``: a plain-text rendering for ``crisis-sim rubric``.

Never imports textual (or rich): grading and the CLI use it headless.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import ConfigDict, Field

# Finding rubric files lives in scoring.rubric_files (no pydantic or YAML: a warm start needs
# it); these names stay importable from here.
from scoring.rubric_files import (  # noqa: F401
    RUBRIC_SUFFIXES,
    RUBRICS_ENV,
    _one_of,
    builtin_rubrics_dir,
    find_rubric,
    rubric_folders,
    rubric_names,
)
from simulator.diagnostics import Diagnostic, DiagnosticError, did_you_mean, has_errors
from simulator.loader import Reporter, validate_model
from simulator.model import NAME, FormatVersion, FromFile, Frozen, Ident, Rating, Text
from simulator.yamlsource import load_file

if TYPE_CHECKING:
    from simulator.model import Scenario

Percent = Annotated[int, Field(ge=0, le=100)]
MAX_WEIGHT = 10_000
"""Weights are relative; the cap keeps points x weight small enough to show as a float."""
Weight = Annotated[int, Field(gt=0, le=MAX_WEIGHT)]


# ---- the model ------------------------------------------------------------------------------


class Dimension(Frozen):
    """A weighted group of principles; the grade reports one score per dimension."""

    name: Text = Field(description="Name shown in the debrief and results, e.g. 'Safety assessment'.")
    weight: Weight = Field(
        description="Relative weight of this dimension (a whole number from 1 to 10000): each point a choice "
        "scores in one of its principles is worth this much in the choice's value, and so in the overall score. "
        "Weights need not add up to 100; the default rubric's do, so they read as percentages."
    )
    description: Text = Field(description="What this dimension measures, in a sentence.")


class Principle(Frozen):
    """A competency a choice can score on: ``scores: {principle_id: points}`` in a scenario."""

    name: Text = Field(description="Short name shown in the debrief, e.g. 'Active listening'.")
    description: Text = Field(description="One line: what doing it well looks like.")
    framework: str = Field(
        "",
        description="Where the principle comes from, e.g. 'ALGEE L', 'ICAT tactical communications', 'CIT'.",
    )
    dimension: Ident = Field(description="The id of the dimension (under dimensions:) it counts toward.")


class CriticalError(Frozen):
    """A mistake that fails the run whatever the points: ``critical: id`` on a choice."""

    name: Text = Field(description="Short name shown in the debrief.")
    description: Text = Field(description="What counts as this error.")


class PassRule(Frozen):
    """What a run needs to pass. Every condition must hold."""

    score: Percent = Field(
        70, description="Minimum overall score, 0-100. A scenario may override it with pass: {score: N}."
    )
    dimension_min: Percent = Field(50, description="Minimum score (0-100) in each dimension.")
    ratings: list[Rating] = Field(
        default_factory=lambda: ["good", "acceptable"],
        description="Ending ratings that can pass: any of good, acceptable, poor.",
    )
    no_critical: bool = Field(True, description="Fail the run when any critical error was made.")


class Rubric(FromFile):
    """A scoring rubric: principles grouped into weighted dimensions, critical errors and the pass rule."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, title="crisis-sim rubric")

    format: FormatVersion = Field(description="Format version of this file; currently 1.")
    id: Ident = Field(
        description="The rubric's id, e.g. 'default'. Keep it the same as the file name (default.yaml): "
        "scenarios name rubrics by file name in rubric:."
    )
    title: Text = Field(description="Title shown in reports.")
    version: Text = Field(description='The author\'s version label, as text (quote it, e.g. "1.0").')
    description: str = Field("", description="What the rubric is for and where it comes from.")
    dimensions: dict[Ident, Dimension] = Field(description="The weighted dimensions, by id.")
    principles: dict[Ident, Principle] = Field(description="The principles choices score on, by id.")
    critical_errors: dict[Ident, CriticalError] = Field(
        default_factory=dict, description="Errors that fail a run whatever the points, by id."
    )
    pass_: PassRule = Field(
        default_factory=PassRule, alias="pass", description="The pass rule; every key has a default."
    )

    def dimension_principles(self, dimension: str) -> list[str]:
        """Ids of the principles that count toward ``dimension``, in file order."""
        return [pid for pid, p in self.principles.items() if p.dimension == dimension]


# ---- loading --------------------------------------------------------------------------------


@dataclass
class RubricResult:
    """What loading one rubric file produced: the rubric (None if it has errors) and findings."""

    rubric: Rubric | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    path: str = ""

    @property
    def ok(self) -> bool:
        return self.rubric is not None and not has_errors(self.diagnostics)


def check_rubric(rubric: Rubric, report: Reporter, stem: str = "") -> None:
    """Cross-reference checks the structure cannot express, at the line of each key.
    ``stem`` is the file name without its suffix, compared with ``id``."""
    if not rubric.dimensions:
        report.add(("dimensions",), "no-dimensions", "the rubric needs at least one dimension", at_key=True)
    for pid, principle in rubric.principles.items():
        if principle.dimension not in rubric.dimensions:
            hint = did_you_mean(principle.dimension, rubric.dimensions)
            if not hint and rubric.dimensions:
                hint = f"; dimensions are: {_one_of(rubric.dimensions)}"
            report.add(
                ("principles", pid, "dimension"),
                "unknown-dimension",
                f"principle '{pid}' counts toward unknown dimension '{principle.dimension}'{hint}",
            )
        if "\n" in principle.description.strip():
            report.warn(
                ("principles", pid, "description"),
                "multiline-description",
                f"principle '{pid}': the description is shown on one line; write it as one line (or use '>-')",
            )
    misplaced = any(p.dimension not in rubric.dimensions for p in rubric.principles.values())
    for did in rubric.dimensions:
        if not misplaced and not rubric.dimension_principles(did):
            report.warn(
                ("dimensions", did),
                "empty-dimension",
                f"no principle counts toward dimension '{did}'; only scenario principles can score it",
                at_key=True,
            )
    if not rubric.pass_.ratings:
        report.add(
            ("pass", "ratings"),
            "no-pass-ratings",
            "pass.ratings is empty, so no run could pass; list at least one of good, acceptable, poor",
        )
    if stem and stem != rubric.id:
        or_set = f" or set id: {stem}" if re.match(NAME, stem) else ""
        report.warn(
            ("id",),
            "id-not-file-name",
            f"rubric id '{rubric.id}' differs from the file name '{stem}'; scenarios find rubrics by file "
            f"name, so rename the file to '{rubric.id}.yaml'{or_set}",
        )


_LOADED: dict[tuple[str, int, int], RubricResult] = {}


def load_rubric(path: str | Path) -> RubricResult:
    """Load and check one rubric file. Never raises for bad input: look at diagnostics.

    Every scenario of a library names the same rubric, so a result is reused while the file is
    unchanged (same path, modification time and size); rubrics are immutable."""
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        return _load_rubric(path)
    if key not in _LOADED:
        if len(_LOADED) >= 64:
            _LOADED.clear()
        _LOADED[key] = _load_rubric(path)
    return _LOADED[key]


def _load_rubric(path: Path) -> RubricResult:
    name = str(path)
    try:
        doc = load_file(path)
    except DiagnosticError as exc:
        return RubricResult(None, exc.diagnostics, name)
    report = Reporter(doc.source)
    report.items.extend(doc.warnings)
    rubric = validate_model(Rubric, doc.data, report)
    if rubric is not None:
        check_rubric(rubric, report, path.stem)
    report.items.sort(key=lambda d: (d.line, d.col))
    if rubric is None or has_errors(report.items):
        return RubricResult(None, report.items, name)
    rubric.set_origin(name, doc.raw, doc.source)
    return RubricResult(rubric, report.items, name)


# ---- finding rubrics ------------------------------------------------------------------------


# ---- a scenario against its rubric ----------------------------------------------------------


def check_scenario_against_rubric(scenario: Scenario, rubric: Rubric, report: Reporter) -> None:
    """Check that a scenario only names what its rubric defines, each finding at its key:
    ``scores:`` keys (choices and timeouts) must be rubric or scenario principles,
    ``critical:`` ids rubric critical errors; scenario ``principles:`` must not reuse a rubric
    principle id and must count toward a rubric dimension. ``report`` is a Reporter on
    ``scenario.source``. Point ranges (-3..+3) are already checked by the scenario model."""
    own = scenario.principles
    known = sorted({*rubric.principles, *own})
    rid = rubric.id
    scored: set[str] = set()

    for pid, principle in own.items():
        if pid in rubric.principles:
            report.add(
                ("principles", pid),
                "principle-clash",
                f"principle '{pid}' is already defined by rubric '{rid}'; score the rubric's principle "
                "directly, or give this one a different id",
                at_key=True,
            )
        if principle.dimension not in rubric.dimensions:
            hint = did_you_mean(principle.dimension, rubric.dimensions) or (
                f"; rubric '{rid}' has: {_one_of(rubric.dimensions)}"
            )
            report.add(
                ("principles", pid, "dimension"),
                "unknown-dimension",
                f"principle '{pid}' counts toward unknown dimension '{principle.dimension}'{hint}",
            )

    def scores(points: dict[str, int], loc: tuple[str | int, ...], what: str) -> None:
        for key in points:
            scored.add(key)
            if key in rubric.principles or key in own:
                continue
            hint = did_you_mean(key, known)
            report.add(
                (*loc, "scores", key),
                "unknown-principle",
                f"{what} scores unknown principle '{key}'{hint}; use a principle of rubric '{rid}' "
                f"('crisis-sim rubric {rid}' lists them) or define it under principles:",
                at_key=True,
            )

    for sid, scene in scenario.scenes.items():
        if scene.timeout is not None:
            scores(scene.timeout.scores, ("scenes", sid, "timeout"), f"the timeout of scene '{sid}'")
        for i, choice in enumerate(scene.choices):
            loc = ("scenes", sid, "choices", i)
            scores(choice.scores, loc, f"choice '{choice.id}'")
            if choice.critical is not None and choice.critical not in rubric.critical_errors:
                hint = did_you_mean(choice.critical, rubric.critical_errors) or (
                    f"; rubric '{rid}' has: {_one_of(rubric.critical_errors)}"
                )
                report.add(
                    (*loc, "critical"),
                    "unknown-critical-error",
                    f"choice '{choice.id}' names unknown critical error '{choice.critical}'{hint}",
                )

    for pid in own:
        if pid not in scored and pid not in rubric.principles:
            report.warn(
                ("principles", pid),
                "unused-principle",
                f"principle '{pid}' is defined but no choice or timeout scores it",
                at_key=True,
            )


def effective_rubric(rubric: Rubric, scenario: Scenario) -> Rubric:
    """The rubric as grading sees it for one scenario: the scenario's own ``principles:`` added
    (framework left empty) and its ``pass: {score: N}`` applied; everything else, including
    ``sha256`` and ``path`` of the rubric file, is unchanged. Idempotent: applying it to its
    own result (e.g. ``load_graded``'s rubric handed to grading) gives that result back.
    Call it once ``check_scenario_against_rubric`` found no errors: a scenario principle that
    redefines a rubric principle, or counts toward an unknown dimension, raises ValueError
    rather than be graded silently wrong."""
    added: dict[str, Principle] = {}
    for pid, sp in scenario.principles.items():
        mine = Principle(name=sp.name, description=sp.description, framework="", dimension=sp.dimension)
        theirs = rubric.principles.get(pid)
        if theirs is not None:
            if theirs.model_dump() == mine.model_dump():
                continue  # already merged
            raise ValueError(f"scenario principle '{pid}' clashes with rubric '{rubric.id}'")
        if sp.dimension not in rubric.dimensions:
            raise ValueError(f"scenario principle '{pid}' counts toward unknown dimension '{sp.dimension}'")
        added[pid] = mine
    update: dict[str, object] = {}
    if added:
        update["principles"] = {**rubric.principles, **added}
    override = scenario.pass_
    if override is not None and override.score is not None and override.score != rubric.pass_.score:
        update["pass_"] = rubric.pass_.model_copy(update={"score": override.score})
    return rubric.model_copy(update=update) if update else rubric


# ---- plain-text rendering -------------------------------------------------------------------


def pass_rule_text(rule: PassRule) -> str:
    """The pass rule as one sentence."""
    parts = [f"an overall score of at least {rule.score}/100"]
    if rule.dimension_min:
        parts.append(f"at least {rule.dimension_min}/100 in every dimension")
    if rule.ratings:
        parts.append(f"an ending rated {' or '.join(rule.ratings)}")
    else:
        parts.append("an ending rating (none is allowed, so no run can pass)")
    if rule.no_critical:
        parts.append("no critical error")
    return "Pass: " + ", ".join(parts[:-1]) + " and " + parts[-1] + "."


def _short_path(path: str) -> str:
    """``path`` relative to the working directory when it is below it, for shorter output."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return path


def format_rubric(rubric: Rubric, width: int = 88) -> str:
    """A readable plain-text rendering: title, version, pass rule, each dimension with its
    weight and principles (framework and description), then the critical errors."""

    def wrap(text: str, indent: int) -> list[str]:
        pad = " " * indent
        return textwrap.wrap(" ".join(text.split()), width, initial_indent=pad, subsequent_indent=pad) or []

    out = [f"{rubric.title}", f"rubric '{rubric.id}', version {rubric.version}"]
    if rubric.path:
        out[-1] += f" ({_short_path(rubric.path)})"
    if rubric.description:
        out += ["", *wrap(rubric.description, 0)]
    out += ["", *wrap(pass_rule_text(rubric.pass_), 0)]
    total = sum(d.weight for d in rubric.dimensions.values())
    out += ["", f"Dimensions (weights total {total}; a point in a principle is worth its dimension's weight)"]
    for did, dim in rubric.dimensions.items():
        out += ["", f"  {dim.name} [{did}], weight {dim.weight}", *wrap(dim.description, 4)]
        for pid in rubric.dimension_principles(did):
            p = rubric.principles[pid]
            out.append(f"    - {p.name} [{pid}]")
            out += wrap(p.description, 8)
            if p.framework:
                out += wrap(f"From: {p.framework}", 8)
    out += ["", "Critical errors (any one fails the run)" if rubric.pass_.no_critical else "Critical errors"]
    if not rubric.critical_errors:
        out.append("  (none)")
    for cid, err in rubric.critical_errors.items():
        out.append(f"  - {err.name} [{cid}]")
        out += wrap(err.description, 6)
    return "\n".join(out) + "\n"
