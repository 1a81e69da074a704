"""Authoring: ``validate``, ``list``, ``rubric``, ``analyze``, ``schema``, ``graph``, ``new``, ``test``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from simulator.cli.base import (
    MAX_BYTES_OPTION,
    NO_CACHE_OPTION,
    PROG,
    RUBRIC_OPTION,
    cli,
    fail,
    load_for_play,
    print_diagnostics,
)
from simulator.cli.freetext import BACKEND_OPTION, run_phrase_tests
from simulator.diagnostics import DiagnosticError
from simulator.safetext import escaped_line


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="'json' prints one object with every diagnostic, for editors and CI.",
)
@RUBRIC_OPTION
@MAX_BYTES_OPTION
@NO_CACHE_OPTION
def validate(
    paths: tuple[Path, ...], strict: bool, fmt: str, rubric_ref: str | None, max_bytes: int, no_cache: bool
) -> int:
    """Check scenario files or folders (default: the bundled library).

    Checks the YAML, the structure, every reference and condition, the scene graph, the
    scores and critical errors against the rubric, and possible dead ends and point-farming
    loops. Prints compiler-style diagnostics (file:line:col: error: ...). Exits 1 if any file
    has errors (or warnings, with --strict). A file unchanged since it was last checked (same
    bytes, same rubric, same crisis-sim) is answered from the library cache.
    """
    from scoring.library_cache import scan_paths
    from simulator.diagnostics import has_errors
    from simulator.library import bundled_dir

    entries = scan_paths(
        paths or [bundled_dir()], rubric_ref=rubric_ref, max_bytes=max_bytes, cache=None if no_cache else "default"
    )
    found = [(e, e.diagnostics + e.rubric_diagnostics) for e in entries]
    diagnostics = [d for _, ds in found for d in ds]
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    failed = errors > 0 or (strict and warnings > 0)
    if fmt == "json":
        files = [
            {
                "path": str(e.path),
                "ok": e.info is not None and not has_errors(ds),
                "id": e.info.id if e.info else None,
                "diagnostics": [d.as_dict() for d in ds],
            }
            for e, ds in found
        ]
        report = {"files": files, "errors": errors, "warnings": warnings, "ok": not failed and bool(entries)}
        click.echo(json.dumps(report, indent=2))
    else:
        for d in diagnostics:
            click.echo(d.format())
        if not entries:
            click.echo("no scenario files found")
        else:
            click.echo(f"{len(entries)} file(s) checked: {errors} error(s), {warnings} warning(s)")
    if not entries:
        return 1
    return 1 if failed else 0


@cli.command(name="list")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A scenario folder instead of the bundled library.",
)
@MAX_BYTES_OPTION
@NO_CACHE_OPTION
def list_(folder: Path | None, max_bytes: int, no_cache: bool) -> int:
    """List the scenarios in the library: id, title, difficulty, minutes.

    Reads them from the library cache: a file is validated only when it is new or has changed
    since (then it is remembered), so a warm 'list' reads each file and its cache entry only.
    """
    from scoring.library_cache import library_index

    rows = []
    for entry in library_index(folder, graded=False, max_bytes=max_bytes, cache=None if no_cache else "default"):
        if entry.info is None:
            skipped = f"{PROG}: skipped {entry.path}: it has errors (run 'crisis-sim validate {entry.path}')"
            click.echo(escaped_line(skipped), err=True)
            continue
        s = entry.info
        rows.append((s.id, s.title, s.difficulty, str(s.minutes)))
    if not rows:
        return fail("no valid scenarios found")
    headers = ("ID", "TITLE", "DIFFICULTY", "MIN")
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(4)]
    for row in [headers, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


@cli.command()
@click.argument("name", default="default", required=False, metavar="[NAME_OR_PATH]")
def rubric(name: str) -> int:
    """Print a rubric (default: 'default').

    Shows the pass rule, the weighted dimensions with their principles, and the critical
    errors. NAME_OR_PATH is a rubric name (looked up in the CRISIS_SIM_RUBRICS folders, then
    the built-in rubrics) or a path to a .yaml file.
    """
    from scoring.rubric import find_rubric, format_rubric, load_rubric

    result = load_rubric(find_rubric(name))
    if result.rubric is None:
        raise DiagnosticError(result.diagnostics)
    print_diagnostics(result.diagnostics)
    click.echo(format_rubric(result.rubric), nl=False)
    return 0


@cli.command()
@click.argument("scenario")
@click.option("--json", "as_json", is_flag=True, help="Print the full analysis as JSON.")
@click.option(
    "--max-states",
    type=click.IntRange(min=1),
    default=500_000,
    show_default=True,
    help="Stop exploring after this many states (reported, never a hang).",
)
@click.option(
    "--max-work",
    type=click.IntRange(min=1),
    default=40_000_000,  # scoring.analysis.DEFAULT_MAX_WORK (not imported here: start-up cost)
    show_default=True,
    help="Stop exploring after this much work (units of one value handled: a transition costs more when "
    "states hold more meters and flags); bounds time and memory (reported, never a hang).",
)
@RUBRIC_OPTION
@MAX_BYTES_OPTION
def analyze(
    scenario: str, as_json: bool, max_states: int, max_work: int, rubric_ref: str | None, max_bytes: int
) -> int:
    """Explore every reachable state of SCENARIO and report what can happen.

    Endings reached, best and worst paths with their scores (runnable with 'crisis-sim run
    --choose'), decisions where all options score the same, dead ends, point-farming loops and
    the principles exercised. Exits 1 when it finds a problem.
    """
    from scoring.analysis import analyze as run_analysis
    from scoring.report import format_analysis

    graded = load_for_play(scenario, rubric_ref, max_bytes)
    result = run_analysis(graded.scenario, graded.rubric, max_states, max_work)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(format_analysis(result, scenario))
    return 1 if result.problems else 0


@cli.command()
@click.option(
    "--out",
    metavar="FILE|-",
    help="Write the schema to FILE (replacing it) instead of printing it; '-': stdout.",
)
@click.option("--rubric", "for_rubric", is_flag=True, help="The schema of rubric files instead of scenario files.")
def schema(out: str | None, for_rubric: bool) -> int:
    """Print the JSON Schema of scenario files (or, with --rubric, of rubric files).

    Give it to an editor's YAML language server for completion, hover help on every key and
    inline errors while typing (docs/authoring.md). It is generated from the models of this
    installed crisis-sim, so it always matches it. It covers the structure only: 'crisis-sim
    validate' still checks references, conditions, the scene graph and the rubric.
    """
    from simulator.schema import dumps, schema_for, write

    kind = "rubric" if for_rubric else "scenario"
    if out is None or out == "-":
        click.echo(dumps(schema_for(kind)), nl=False)
        return 0
    try:
        write(out, kind)
    except OSError as exc:
        return fail(f"cannot write {out}: {exc.strerror or exc}")
    click.echo(f"wrote the {kind} schema to {out}")
    return 0


@cli.command()
@click.argument("scenario")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="mermaid: a flowchart for a ```mermaid block (GitHub renders it); dot: Graphviz (dot -Tsvg).",
)
@click.option("--out", metavar="FILE|-", help="Write to FILE (replacing it) instead of printing it; '-': stdout.")
@RUBRIC_OPTION
@MAX_BYTES_OPTION
def graph(scenario: str, fmt: str, out: str | None, rubric_ref: str | None, max_bytes: int) -> int:
    """Draw SCENARIO's scene graph (a library id or a path) as Mermaid or Graphviz DOT.

    Scenes are nodes, endings coloured by rating; choices are edges labelled with their ids
    (and [if: ...] when conditional), coloured by their weighted points (green positive, red
    negative, grey zero); auto moves are dashed, timeouts dotted, critical errors thick red
    with a warning sign. Drawn whenever the scenario file loads; rubric findings are printed
    as well (without a usable rubric the points are summed unweighted).
    """
    from scoring.catalog import load_graded
    from simulator.graph import render

    graded = load_graded(scenario, rubric_ref, max_bytes=max_bytes)
    if graded.scenario is None:
        raise DiagnosticError([d for d in graded.diagnostics if d.severity == "error"])
    print_diagnostics([d for d in graded.diagnostics if d.severity == "error"])
    text = render(graded.scenario, fmt, graded.rubric)
    if out is None or out == "-":
        click.echo(text, nl=False)
        return 0
    try:
        Path(out).write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        return fail(f"cannot write {out}: {exc.strerror or exc}")
    click.echo(f"wrote the {fmt} graph of '{graded.scenario.id}' to {out}")
    return 0


@cli.command()
@click.argument("scenario_id", metavar="ID")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default="the current directory",
    help="Folder to write ID.yaml in (created if missing).",
)
def new(scenario_id: str, folder: Path) -> int:
    """Start a new scenario: write DIR/ID.yaml, a small valid scenario whose comments explain
    the format (docs/scenario-format.md has the rest). Never overwrites a file.

    The file passes 'crisis-sim validate --strict' and 'crisis-sim analyze' as written: play
    it, then rewrite the story for your own call.
    """
    from simulator.scaffold import ScaffoldError, check_id, create

    problem = check_id(scenario_id)
    if problem is not None:
        return fail(problem, 2)
    try:
        path = create(scenario_id, folder)
    except ScaffoldError as exc:
        return fail(str(exc))
    click.echo(f"wrote {path}; check it with: crisis-sim validate --strict {path}")
    return 0


@cli.command(name="test")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option(
    "-k",
    "keyword",
    metavar="SUBSTRING",
    help="Only the playthroughs whose 'SCENARIO-ID::NAME' contains SUBSTRING (case-insensitive).",
)
@click.option(
    "--record",
    "record_name",
    metavar="NAME",
    help="Play --choose/--timeout-at on the one PATH and append the result as a new playthrough called NAME "
    "to the scenario's sidecar FILE.tests.yaml (created if missing).",
)
@click.option(
    "--choose", multiple=True, metavar="IDS", help="With --record: choices to make, comma-separated (ids or positions)."
)
@click.option(
    "--timeout-at", multiple=True, metavar="SCENES", help="With --record: let the timer run out in these scenes."
)
@click.option(
    "--update",
    is_flag=True,
    help="Re-pin the sidecar tests of PATH on what their steps now lead to (ending, score, passed, critical), "
    "printing every change to read; for after a change to the scenario, the rubric or the grading method.",
)
@MAX_BYTES_OPTION
@click.option(
    "--phrases",
    is_flag=True,
    help="Run the free-text phrase tests (FILE.phrases.yaml) instead: accuracy of matching typed answers, "
    "checked against documented floors.",
)
@click.option(
    "--split",
    type=click.Choice(["holdout", "tune", "all"]),
    default="holdout",
    show_default=True,
    help="With --phrases: which phrases to measure.",
)
@BACKEND_OPTION
@click.option("-v", "--verbose", is_flag=True, help="With --phrases: also list every answer not understood.")
def playtest(
    paths: tuple[str, ...],
    keyword: str | None,
    record_name: str | None,
    choose: tuple[str, ...],
    timeout_at: tuple[str, ...],
    update: bool,
    max_bytes: int,
    phrases: bool,
    split: str,
    backend: str,
    verbose: bool,
) -> int:
    """Run the recorded playthrough tests of scenarios (default: the bundled library).

    PATH is a scenario file, a folder of them, or a library id; each scenario's inline 'tests:'
    and its sidecar FILE.tests.yaml (next to FILE.yaml) are run. Prints one line per scenario ('.' passed, 'F'
    failed, 'E' could not load), the expected-vs-actual diff of each failure, and
    'N passed, M failed'. Exits 1 if any failed. With --record NAME, plays the steps and
    appends them, with the ending, score, pass/fail and critical errors reached, as a new test.

    With --phrases, measures free-text matching on each scenario's FILE.phrases.yaml instead:
    top-1 accuracy, coverage, wrong accepts (harmful options accepted as good ones apart) and
    out-of-scope accepts, per file and in all; lists every wrong accept; exits 1 when a floor
    is not met (docs/free-text.md#phrase-tests).
    """
    from scoring import playtests
    from simulator.runner import parse_list

    if phrases:
        if record_name is not None or choose or timeout_at or keyword is not None or update:
            raise click.UsageError("-k, --record, --choose, --timeout-at and --update do not apply to --phrases")
        return run_phrase_tests(paths, split, backend, verbose)
    steps, timeouts = parse_list(choose), parse_list(timeout_at)
    if update:
        if record_name is not None or steps or timeouts or keyword is not None:
            raise click.UsageError("--update re-pins every sidecar test of PATH; leave out --record, --choose and -k")
        return _update_playtests(paths, max_bytes)
    if record_name is None:
        if steps or timeouts:
            raise click.UsageError("--choose and --timeout-at are for --record NAME")
        from simulator.library import bundled_dir

        results, problems = playtests.run_tests(list(paths) or [bundled_dir()], keyword, max_bytes=max_bytes)
        lines, _passed, failed = playtests.format_results(results, problems)
        for line in lines:
            click.echo(line)
        if not failed and not any(r.results for r in results):
            return fail("no playthrough tests found" + (f" matching -k '{keyword}'" if keyword else ""))
        return 1 if failed else 0
    if len(paths) != 1:
        raise click.UsageError("--record needs exactly one scenario PATH")
    if keyword is not None:
        raise click.UsageError("-k selects tests to run; it cannot be combined with --record")
    if not (steps or timeouts):
        raise click.UsageError("--record needs the steps to play: --choose IDS and/or --timeout-at SCENES")
    files, problems = playtests.expand(paths)
    if problems:
        raise DiagnosticError(problems)
    if len(files) != 1:
        raise click.UsageError("--record needs exactly one scenario file, not a folder")
    try:
        recorded = playtests.record(files[0], record_name, steps, timeouts, label=paths[0], max_bytes=max_bytes)
    except playtests.RecordError as exc:
        return fail(str(exc))
    for warning in recorded.warnings:
        click.echo(f"{PROG}: warning: {escaped_line(warning)}", err=True)
    click.echo(playtests.describe_recorded(recorded))
    return 0


def _update_playtests(paths: tuple[str, ...], max_bytes: int) -> int:
    """``crisis-sim test PATH... --update``: one block per scenario whose tests changed."""
    from scoring import playtests

    if not paths:
        raise click.UsageError("--update needs the scenario files or folders to re-pin (PATH...)")
    files, problems = playtests.expand(paths)
    if problems:
        raise DiagnosticError(problems)
    changed = stuck = 0
    for file in files:
        try:
            result = playtests.update(file, max_bytes=max_bytes)
        except playtests.RecordError as exc:
            return fail(str(exc))
        for line in result.changes:
            click.echo(escaped_line(f"{result.sidecar}: re-pinned {line}"))
        for name in result.kept:
            click.echo(escaped_line(f"{result.sidecar}: kept '{name}': its steps no longer play to an ending; fix it"))
        for name in result.inline:
            click.echo(escaped_line(f"{file}: inline test '{name}' differs; edit it in the scenario file"))
        changed += len(result.changes)
        stuck += len(result.kept) + len(result.inline)
    click.echo(f"{changed} test(s) re-pinned in {len(files)} scenario(s); {stuck} left for you to fix")
    return 1 if stuck else 0
