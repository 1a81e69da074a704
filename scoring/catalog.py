"""Load a scenario together with the rubric that grades it, as one step.

Why a separate step: every command that grades, plays or validates for grading needs the same
sequence (load the scenario, pick the rubric: ``--rubric`` if given, else the scenario's
``rubric:``; find and load it; check the scenario's ``scores:`` and ``critical:`` against it;
merge the scenario's principles and pass override) and the same promise: bad input of any kind
ends up as diagnostics, never as an exception. Keeping it here means one place decides which
rubric a scenario is graded with, so records, debriefs and exports cannot disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scoring.rubric import Rubric, check_scenario_against_rubric, effective_rubric, find_rubric, load_rubric
from simulator.diagnostics import Diagnostic, DiagnosticError, has_errors
from simulator.loader import LoadResult, Reporter, apply_silencing, load_scenario
from simulator.model import Scenario
from simulator.safefile import read_regular
from simulator.yamlsource import DEFAULT_MAX_BYTES


@dataclass
class GradedLoad:
    """A scenario and the effective rubric it is graded with.

    ``scenario`` is set whenever the scenario file itself loaded, even if the rubric could not
    be found or the scenario names principles the rubric lacks, so a front end can still show
    it; ``rubric`` (the effective rubric: scenario principles added, pass override applied) is
    set only when everything checked out. ``ok`` is the one test callers need before grading.
    ``diagnostics`` holds the scenario file's findings first, then the rubric file's, each by
    line and column."""

    scenario: Scenario | None
    rubric: Rubric | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    rubric_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.scenario is not None and self.rubric is not None and not has_errors(self.diagnostics)


def _sorted(diagnostics: list[Diagnostic], first_path: str) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.path != first_path, d.path, d.line, d.col))


def _resolve_scenario(path_or_ref: str | Path, max_bytes: int) -> Path:
    """A path as given, or a library id (via ``simulator.library.resolve``)."""
    if isinstance(path_or_ref, Path):
        return path_or_ref
    from simulator.library import resolve

    return resolve(path_or_ref, max_bytes=max_bytes)


def load_graded(
    path_or_ref: str | Path,
    rubric_ref: str | None = None,
    *,
    rubric_folders: Sequence[Path | str] | None = None,
    max_bytes: int | None = None,
) -> GradedLoad:
    """Load a scenario (a path, or an id from the bundled library; files over ``max_bytes``,
    default 5 MiB, are refused) and the rubric that grades it: ``rubric_ref`` (a name or a
    path, e.g. from ``--rubric``) when given, else the scenario's ``rubric:``. Names are looked
    up by ``find_rubric`` (``rubric_folders``, then ``CRISIS_SIM_RUBRICS``, then the built-in
    rubrics). Never raises for bad input: an unknown scenario or rubric, a broken file, or a
    scenario that does not fit its rubric all end up in ``diagnostics`` (an unknown rubric named
    by the scenario is reported at its ``rubric:`` line)."""
    cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    try:
        scenario_path = _resolve_scenario(path_or_ref, cap)
    except DiagnosticError as exc:
        return GradedLoad(None, None, list(exc.diagnostics))
    loaded = load_scenario(scenario_path, max_bytes=cap)
    if loaded.scenario is None or loaded.scenario.source is None:
        return GradedLoad(None, None, _sorted(list(loaded.diagnostics), loaded.path))
    return combine(loaded, attach_rubric(loaded.scenario, rubric_ref, rubric_folders=rubric_folders))


def combine(loaded: LoadResult, attached: GradedLoad) -> GradedLoad:
    """``load_scenario``'s result and ``attach_rubric``'s as one: the scenario file's findings
    first, then the rubric file's, each by line and column."""
    diagnostics = _sorted(list(loaded.diagnostics) + attached.diagnostics, loaded.path)
    return GradedLoad(attached.scenario, attached.rubric, diagnostics, attached.rubric_path)


def _silenced(scenario: Scenario, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """The rubric checks' diagnostics without the scenario-file warnings that its
    ``# crisis-sim: ignore`` comments silence (the loader already did this for its own
    findings, and reported any problem with the comments). The file is read again only when
    there is a warning to filter, and only if it is still the file the scenario came from."""
    if not scenario.path or not any(d.severity == "warning" and d.path == scenario.path for d in diagnostics):
        return diagnostics
    try:
        raw = read_regular(scenario.path, DEFAULT_MAX_BYTES)
    except OSError:
        return diagnostics
    if hashlib.sha256(raw).hexdigest() != scenario.sha256:
        return diagnostics  # changed since it was loaded: its comments may not fit these lines
    return apply_silencing(diagnostics, raw.decode("utf-8", "replace"), scenario.path, check_comments=False)


def attach_rubric(
    scenario: Scenario,
    rubric_ref: str | None = None,
    *,
    rubric_folders: Sequence[Path | str] | None = None,
) -> GradedLoad:
    """Find, load and check the rubric for an already loaded scenario (the second half of
    ``load_graded``, used directly by ``validate``, which loads many files first). The
    returned diagnostics are the rubric's and the scenario-vs-rubric checks' only."""
    assert scenario.source is not None
    diagnostics: list[Diagnostic] = []
    report = Reporter(scenario.source)
    ref = rubric_ref if rubric_ref is not None else scenario.rubric
    try:
        rubric_path = find_rubric(ref, rubric_folders)
    except DiagnosticError as exc:
        if rubric_ref is not None:
            diagnostics.extend(exc.diagnostics)
        else:
            for d in exc.diagnostics:
                report.add(("rubric",), d.code, f"rubric: {d.message}")
            diagnostics.extend(report.items)
        return GradedLoad(scenario, None, diagnostics)

    rubric_result = load_rubric(rubric_path)
    diagnostics.extend(rubric_result.diagnostics)
    rubric = rubric_result.rubric
    if rubric is None:
        if rubric_ref is None:
            report.add(
                ("rubric",),
                "broken-rubric",
                f"rubric '{ref}' ({rubric_path}) has errors, so this scenario cannot be graded; fix the rubric first",
            )
            diagnostics.extend(report.items)
        return GradedLoad(scenario, None, diagnostics, rubric_path)

    check_scenario_against_rubric(scenario, rubric, report)
    effective = None
    if not has_errors(report.items):
        effective = effective_rubric(rubric, scenario)
        from scoring.analysis import static_checks

        static_checks(scenario, effective, report)
    diagnostics.extend(report.items)
    return GradedLoad(scenario, effective, _silenced(scenario, diagnostics), rubric_path)
