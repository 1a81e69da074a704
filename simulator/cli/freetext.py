"""Free-text answers: ``match`` (probe a scene with typed answers) and the phrase tests run by
``test --phrases`` (registered on ``test`` in ``authoring``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from simulator.cli.base import PROG, RUBRIC_OPTION, cli, fail, load_for_play, print_diagnostics
from simulator.diagnostics import DiagnosticError, did_you_mean
from simulator.freetext import BACKENDS
from simulator.safetext import escaped_line

BACKEND_OPTION = click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="auto",
    show_default=True,
    help="minilm: the embedding model (the [freetext] extra); lexical: the word-matching fallback; "
    "auto: the model when installed.",
)


def _matcher(backend: str) -> Any:
    """The matcher, or a one-line failure; says on stderr when 'auto' fell back."""
    from simulator.freetext import BackendUnavailable, load_matcher

    try:
        matcher = load_matcher(backend)
    except BackendUnavailable as exc:
        raise click.ClickException(f"the {backend} backend cannot run: {exc}") from None
    if matcher.note:
        click.echo(f"{PROG}: note: {escaped_line(matcher.note)}", err=True)
    return matcher


@cli.command()
@click.argument("scenario")
@click.argument("scene")
@click.argument("texts", nargs=-1, required=True, metavar="TEXT...")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list: text, choice, confidence, backend per TEXT.")
@BACKEND_OPTION
@RUBRIC_OPTION
def match(
    scenario: str, scene: str, texts: tuple[str, ...], as_json: bool, backend: str, rubric_ref: str | None
) -> int:
    """Match typed answers to the options of a decision, as the free-text mode would.

    For each TEXT prints the choice id it is matched to (or '-' when not understood) and the
    confidence (0-1; understood from 0.5), against all of SCENE's choices, their if: conditions
    ignored. Instructors use it to probe a scenario and to find answers worth adding as says:
    examples (docs/free-text.md). SCENARIO is a library id or a path.
    """
    from scoring.phrases import options
    from simulator.freetext import scenario_names

    graded = load_for_play(scenario, rubric_ref)
    found = graded.scenario.scenes.get(scene)
    if found is None:
        decisions = [sid for sid, s in graded.scenario.scenes.items() if s.choices]
        hint = did_you_mean(scene, decisions) or f"; its decisions: {', '.join(decisions)}"
        return fail(f"'{graded.scenario.id}' has no scene '{scene}'{hint}")
    if not found.choices:
        return fail(f"scene '{scene}' of '{graded.scenario.id}' has no choices to match (an ending or an auto move)")
    matcher = _matcher(backend)
    names = scenario_names(graded.scenario)
    results = matcher.match_many(list(texts), options(found.choices, graded.rubric), names)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2, ensure_ascii=False))
        return 0
    width = max(len(c.id) for c in found.choices)
    for r in results:
        shown = escaped_line(r.text) or "(empty)"
        if r.understood:
            click.echo(f"{(r.choice or '').ljust(width)}  {r.confidence:.2f}  {shown}")
        else:
            why = f"not understood: {r.reason}" + (f"; closest '{r.best}'" if r.best else "")
            click.echo(f"{'-'.ljust(width)}  {r.confidence:.2f}  {shown}  ({why})")
    return 0


def run_phrase_tests(paths: Sequence[str], split: str, backend: str, verbose: bool) -> int:
    """``crisis-sim test --phrases``: measure matching on the phrase sidecars, check the floors."""
    from scoring import phrases
    from simulator.library import bundled_dir

    files, problems = phrases.expand(list(paths) or [bundled_dir()])
    if problems:
        raise DiagnosticError(problems)
    suites = [phrases.collect(f) for f in files]
    errors = [d for s in suites for d in s.diagnostics if d.severity == "error"]
    print_diagnostics([d for s in suites for d in s.diagnostics])
    if errors:
        return fail(f"{len(errors)} error(s) in the phrase tests; nothing was measured")
    tested = [s for s in suites if s.sidecar is not None]
    if not tested:
        return fail("no phrase tests found (NAME.phrases.yaml next to NAME.yaml; docs/free-text.md)")
    matcher = _matcher(backend)
    chosen = None if split == "all" else split
    click.echo(f"phrase tests: {split} split, backend {matcher.name}")
    every = []
    for s in tested:
        results = phrases.evaluate(s, matcher, chosen)
        every += results
        click.echo(f"{s.sidecar}: {phrases.Figures.of(results).summary()}")
    total = phrases.Figures.of(every)
    click.echo(f"all {len(tested)} file(s): {total.summary()}")
    shown = [r for r in every if phrases.is_miss(r) and (verbose or phrases.is_wrong(r))]
    if shown:
        click.echo("wrong and out-of-scope accepts" + (", and answers not understood:" if verbose else ":"))
        for r in shown:
            click.echo(f"  {escaped_line(phrases.describe(r))}")
    floors = phrases.FLOORS[matcher.name]
    checks = floors.check(total)
    click.echo(f"floors ({matcher.name}): " + "; ".join(f"{what}: {'met' if ok else 'FAILED'}" for what, ok in checks))
    failed = sum(not ok for _, ok in checks)
    click.echo(f"{len(checks) - failed} floors met, {failed} failed")
    return 1 if failed else 0
