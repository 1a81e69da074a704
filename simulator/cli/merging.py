"""Merging and correcting records: ``import`` (another site's JSON Lines export into this store)
and ``void`` (take an attempt out of the count, keeping it)."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from simulator.cli.base import DB_OPTION, cli, fail, open_store
from simulator.safetext import escaped_line


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items())


@cli.command(name="import")
@click.argument("files", nargs=-1, required=True, metavar="FILE.jsonl...")
@click.option(
    "--require-signed",
    is_flag=True,
    help="Refuse a file without FILE.sig (a signature from 'export --sign'). A FILE.sig that is there is always "
    "checked, with the academy key (CRISIS_SIM_SIGNING_KEY or [signing] key_file).",
)
@DB_OPTION
def import_(files: tuple[str, ...], require_signed: bool, db: str | None) -> int:
    """Load JSON Lines exports ('export --format jsonl') into this records store: merge sites.

    Idempotent: an attempt already here (same id, same decisions) is left as it is, and one that
    went on since (more decisions, its end) gets the rest. An attempt that conflicts with the one
    here (another trainee or scenario under its id, a decision or a grade that differs) is
    reported and never overwritten. Each attempt is stored whole or not at all. A bad line is
    one line naming FILE:LINE; the others are still imported. Exits 1 if any line, file or
    attempt could not be imported.
    """
    from simulator.config import load_config
    from simulator.export.importing import SHOWN_BAD_LINES, BadLine, ImportRefused, lines, open_export
    from simulator.export.signing import load_key
    from simulator.records import StoreError, merge

    config = load_config()
    store = open_store(db)
    problems = 0
    totals = dict.fromkeys((merge.ADD, merge.EXTEND, merge.SAME, merge.CONFLICT), 0)
    try:
        for name in files:
            path = Path(name)
            counts = dict.fromkeys(totals, 0)
            bad = 0
            try:
                with open_export(path, key=lambda: load_key(config.signing.key_file),
                                 require_signed=require_signed) as (stream, checked):
                    for line in lines(stream, name):
                        if isinstance(line, BadLine):
                            bad += 1
                            if bad <= SHOWN_BAD_LINES:
                                fail(f"{name}:{line.number}: {line.problem}")
                            continue
                        try:
                            done = store.import_attempt(line.attempt, line.decisions, line.flags)
                        except StoreError as exc:
                            raise StoreError(
                                f"{exc} (at {name}:{line.number}; the attempts before it are stored: importing again "
                                "is safe)"
                            ) from None
                        counts[done.outcome] += 1
                        if done.outcome == merge.CONFLICT:
                            fail(
                                f"{name}:{line.number}: attempt {line.attempt.id[:8]} ({line.attempt.trainee_id}, "
                                f"{line.attempt.scenario_id}) conflicts with the one in {store.path} ({done.why}); "
                                "the stored one was kept and nothing of this line was imported: compare the two "
                                "(crisis-sim results --include-void, the site's records) and void the wrong one"
                            )
            except ImportRefused as exc:
                problems += 1
                fail(str(exc))
                continue
            if bad > SHOWN_BAD_LINES:
                fail(f"{name}: {bad - SHOWN_BAD_LINES} more bad line(s) not shown")
            problems += bad + counts[merge.CONFLICT]
            for what, n in counts.items():
                totals[what] += n
            read = sum(counts.values())
            skipped = f", {bad} bad line(s) skipped" if bad else ""
            click.echo(escaped_line(f"{name}: {read} attempt(s) ({checked}): {_counted(counts)}{skipped}"))
    finally:
        store.close()
    if len(files) > 1:
        click.echo(f"in all: {_counted(totals)}")
    if not totals[merge.ADD] and not totals[merge.EXTEND] and not problems:
        click.echo(f"nothing new: every attempt was already in {escaped_line(store.path)}")
    return 1 if problems else 0


@cli.command()
@click.argument("attempt_id", metavar="ATTEMPT")
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept with the attempt, shown with it).")
@click.option("--by", "by", metavar="NAME", help="Who voids it (default: your login name).")
@DB_OPTION
def void(attempt_id: str, reason: str, by: str | None, db: str | None) -> int:
    """Mark an attempt void: it is kept, with when, by whom and why, but left out of 'results',
    exports and the library's progress unless asked for (--include-void), and it can no
    longer be resumed. ATTEMPT is its id or the first 6+ characters of it ('results' shows
    them). Voiding is for a run that should not count (a test, the wrong trainee signed in, a
    machine fault); nothing is deleted."""
    from simulator.config import DISPLAY_NAME_CHARS, label_problem
    from simulator.export.importing import REASON_CHARS

    who = by or _login_name()
    if problem := label_problem(reason, REASON_CHARS):
        raise click.BadParameter(f"the reason {problem}", param_hint="--reason")
    if problem := label_problem(who, DISPLAY_NAME_CHARS):
        raise click.BadParameter(f"the name {problem}", param_hint="--by")
    store = open_store(db, create=False)
    try:
        before = store.attempt(attempt_id)
        after = store.void_attempt(before.id, reason, who)
    finally:
        store.close()
    what = f"attempt {after.id[:8]} ({after.trainee_id}, {after.scenario_id}, started {after.started_at[:16]}Z)"
    if before.void:
        click.echo(escaped_line(f"{what} was already void since {after.voided_at} (by {after.voided_by}: "
                                f"{after.void_reason}); nothing changed"))
        return 0
    click.echo(escaped_line(f"voided {what}: {after.void_reason}"))
    click.echo("it is kept; results, exports and the library leave it out (see it with 'results --include-void')")
    return 0


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no USER variable (a container)
        return "unknown"
