"""The instructor's commands: ``report`` (cohort analytics as text, CSV or one HTML file),
``flag`` (mark a moment of an attempt for the trainee's debrief) and ``console`` (the class
live, in Textual)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from simulator.cli.base import DB_OPTION, PROG, cli, fail, open_store
from simulator.cli.records import _time_option


@cli.command()
@click.option("--cohort", metavar="C", help="Only attempts of this cohort.")
@click.option("--scenario", metavar="ID", help="Only attempts at this scenario id.")
@click.option("--trainee", metavar="ID", help="Only this trainee's attempts.")
@click.option("--since", callback=_time_option(False), metavar="DATE",
              help="Attempts started on or after DATE (YYYY-MM-DD or ISO 8601; UTC unless an offset is given).")
@click.option("--until", callback=_time_option(True), metavar="DATE",
              help="Attempts started before DATE (a date alone: up to the end of that day).")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "html"]),
              help="text (default; html when --out ends in .html), csv (one table: --table), or html.")
@click.option("--table", type=click.Choice(["scenarios", "distribution", "decisions", "missed", "critical", "heat",
                                            "progress"]),
              help="Only this table (csv needs one).")
@click.option("--out", metavar="FILE|-", help="Write to FILE (replaced only when complete); '-' or none: stdout.")
@DB_OPTION
def report(cohort: str | None, scenario: str | None, trainee: str | None, since: str | None, until: str | None,
           fmt: str | None, table: str | None, out: str | None, db: str | None) -> int:
    """Cohort analytics: pass rates, score distribution, per-decision facility and
    discrimination, most-missed decisions, critical errors, a trainee x dimension heat map and
    a trainee x scenario progress matrix. --out report.html writes one self-contained HTML file
    with charts (no JavaScript, nothing fetched, prints on paper). docs/instructor.md explains
    every number."""
    from simulator.cohort import load
    from simulator.cohort.tables import TABLES
    from simulator.export import ExportError, ExportFilter

    fmt = fmt or ("html" if out and out.lower().endswith((".html", ".htm")) else "text")
    if fmt == "csv" and table is None:
        raise click.UsageError(f"--format csv writes one table: add --table ({'|'.join(TABLES)})")
    if fmt == "html" and table is not None:
        raise click.UsageError("--table applies to text and csv; the HTML report holds every table")
    try:
        filters = ExportFilter(trainee, scenario, cohort, since, until)
    except ExportError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        with open_store(db, create=False) as store:
            filters.check_known(store)
            with store.snapshot():
                cohort_report = load(store, filters.attempts(store))
            where = store.path
        _write(cohort_report, fmt, table, out, _described(filters, where))
    except ExportError as exc:
        return fail(str(exc))
    if out not in (None, "-"):
        click.echo(f"wrote {out}", err=True)
    return 0


def _write(cohort_report: Any, fmt: str, table: str | None, out: str | None, described: str) -> None:
    from simulator.cohort.tables import TABLES, all_tables, write_csv, write_text
    from simulator.export import open_output

    with open_output(out) as stream:
        if fmt == "html":
            from simulator.cohort.html import render

            stream.write(render(cohort_report, title="crisis-sim cohort report", described=described))
        elif fmt == "csv":
            write_csv(TABLES[table](cohort_report), stream)  # type: ignore[index]
        else:
            stream.write(f"{described}\n\n")
            for shown_table in ([TABLES[table](cohort_report)] if table else all_tables(cohort_report)):
                write_text(shown_table, stream)


def _described(filters: Any, where: str) -> str:
    parts = [f"{name} {value}" for name, value in (("cohort", filters.cohort), ("scenario", filters.scenario),
                                                  ("trainee", filters.trainee), ("since", filters.since),
                                                  ("until", filters.until)) if value]
    return f"records: {Path(where).name if '://' not in where else where}; " + (
        ", ".join(parts) if parts else "all attempts")


__all__ = ["PROG", "report"]
