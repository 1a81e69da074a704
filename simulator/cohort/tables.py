"""The cohort report as tables: one definition of every table, shown as text in the terminal,
written as CSV (``report --format csv --table NAME``) and as HTML tables in the report.

Cells keep their values (numbers stay numbers for spreadsheets); each column has a kind that
says how a person reads it (a rate as ``40% (2/5)`` is two columns, the rate and its counts,
so a spreadsheet gets both and a person sees the count beside every rate).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from scoring.analytics import BINS, TOO_FEW, TOO_FEW_FLAG, CohortReport
from simulator.safetext import one_line

Kind = str
"""How a column's values read: ``text``, ``int``, ``pct`` (0..1 shown as a percentage),
``score`` (0..100, one decimal), ``r`` (a correlation, two decimals)."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "text"


@dataclass(frozen=True)
class Table:
    name: str  # for --table
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""


def shown(value: Any, kind: Kind) -> str:
    """A cell as a person reads it (one line, no control characters)."""
    if value is None:
        return "-" if kind != "text" else ""
    if kind == "pct":
        return f"{100 * value:.0f}%"
    if kind == "score":
        return f"{value:.1f}"
    if kind == "r":
        return f"{value:+.2f}"
    return one_line(str(value))


def _rate(part: int, whole: int) -> tuple[float | None, str]:
    return (part / whole if whole else None), f"{part}/{whole}"


def _few(trainees: int) -> str:
    return TOO_FEW_FLAG if trainees < TOO_FEW else ""


def bin_labels() -> list[str]:
    width = 100 // BINS
    return [f"{lo}-{lo + width - 1}" if lo + width < 100 else f"{lo}-100" for lo in range(0, 100, width)]


def scenarios(report: CohortReport) -> Table:
    rows = []
    for s in report.scenarios:
        rate, counts = _rate(s.passed, s.completed)
        crit, crit_counts = _rate(s.with_critical, s.completed)
        rows.append((s.scenario_id, s.trainees, s.attempts, s.completed, s.in_progress, rate, counts, s.median,
                     crit, crit_counts, _few(s.trainees)))
    return Table(
        "scenarios", "Pass rates per scenario",
        (Column("scenario"), Column("trainees", "int"), Column("attempts", "int"), Column("completed", "int"),
         Column("in progress", "int"), Column("pass rate", "pct"), Column("passed", "text"),
         Column("median score", "score"), Column("critical-error rate", "pct"), Column("with critical", "text"),
         Column("note")),
        tuple(rows),
        "Over completed attempts (a replay counts); 'trainees' counts trainees with a completed attempt.",
    )


def distribution(report: CohortReport) -> Table:
    labels = bin_labels()
    return Table(
        "distribution", "Score distribution (completed attempts per score band)",
        (Column("scenario"), Column("completed", "int"), *(Column(label, "int") for label in labels)),
        tuple((s.scenario_id, s.completed, *s.histogram) for s in report.scenarios),
    )


def _options(options: Sequence[Any]) -> str:
    return "; ".join(f"{o.choice or '(time ran out)'} {o.count} ({100 * o.share:.0f}%)" for o in options)


def decisions(report: CohortReport) -> Table:
    return Table(
        "decisions", "Decisions: facility and discrimination",
        (Column("scenario"), Column("decision"), Column("trainees", "int"), Column("chose well", "int"),
         Column("facility", "pct"), Column("discrimination", "r"), Column("flags"), Column("choices")),
        tuple((d.scenario_id, d.scene, d.reached, d.good, d.facility, d.discrimination, ", ".join(d.flags),
               _options(d.options)) for d in report.decisions),
        "Each trainee's first completed attempt. Facility: share choosing a best or acceptable option. "
        "Discrimination: correlation of choosing well here with the score on the run's other decisions "
        f"(-1 to +1; below 0: stronger runs chose worse). 'too few': under {TOO_FEW} trainees.",
    )


def missed(report: CohortReport, limit: int = 10) -> Table:
    rows = []
    for d in report.missed(limit):
        poor = next((o for o in d.options if not o.good), None)
        rows.append((d.scenario_id, d.scene, d.reached, d.facility,
                     f"{poor.choice or '(time ran out)'}: {poor.text}" if poor else "",
                     d.better[0] if d.better else "", _few(d.reached)))
    return Table(
        "missed", "Most-missed decisions, with the better option",
        (Column("scenario"), Column("decision"), Column("trainees", "int"), Column("facility", "pct"),
         Column("most chosen instead"), Column("better"), Column("note")),
        tuple(rows),
    )


def critical(report: CohortReport) -> Table:
    rows = []
    for s in report.scenarios:
        for error, name, count in s.critical:
            rate, counts = _rate(count, s.completed)
            rows.append((s.scenario_id, error, name, rate, counts, _few(s.trainees)))
    return Table(
        "critical", "Critical errors per scenario",
        (Column("scenario"), Column("error"), Column("name"), Column("rate", "pct"), Column("attempts", "text"),
         Column("note")),
        tuple(rows),
    )


def heat(report: CohortReport) -> Table:
    dims = list(report.dimensions)
    rows = []
    for trainee, name in report.trainees.items():
        cells = [report.heat.get((trainee, d)) for d in dims]
        if any(cells):
            rows.append((trainee, name, *(c.score if c else None for c in cells)))
    return Table(
        "heat", "Trainee x dimension (mean over each trainee's latest completed attempt per scenario)",
        (Column("trainee"), Column("name"), *(Column(report.dimensions[d], "score") for d in dims)),
        tuple(rows),
    )


def progress(report: CohortReport) -> Table:
    rows = [
        (trainee, scenario, p.attempts, p.completed, p.in_progress, p.best, "yes" if p.passed else "no")
        for (trainee, scenario), p in sorted(report.progress.items())
    ]
    return Table(
        "progress", "Progress: trainee x scenario",
        (Column("trainee"), Column("scenario"), Column("attempts", "int"), Column("completed", "int"),
         Column("in progress", "int"), Column("best score", "score"), Column("passed")),
        tuple(rows),
    )


TABLES: dict[str, Callable[[CohortReport], Table]] = {
    "scenarios": scenarios,
    "distribution": distribution,
    "decisions": decisions,
    "missed": missed,
    "critical": critical,
    "heat": heat,
    "progress": progress,
}
"""Every table of the report, by its ``--table`` name, in the order the report shows them."""


def all_tables(report: CohortReport) -> list[Table]:
    return [make(report) for make in TABLES.values()]


def write_text(table: Table, out: TextIO) -> None:
    """A table as aligned plain text, its title above and its note below."""
    out.write(f"{table.title}\n")
    if not table.rows:
        out.write("  (nothing recorded)\n\n")
        return
    cells = [[c.name.upper() for c in table.columns]]
    cells += [[shown(v, c.kind) for v, c in zip(row, table.columns, strict=True)] for row in table.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    for row in cells:
        out.write(("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip() + "\n")
    if table.note:
        out.write(f"  {table.note}\n")
    out.write("\n")


def write_csv(table: Table, out: TextIO) -> None:
    """A table as CSV: a header row of column names, numbers as numbers (rates as fractions),
    text neutralised against spreadsheet formulas (``export.tabular.neutralise``)."""
    from simulator.export.tabular import neutralise

    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.name for c in table.columns])
    for row in table.rows:
        writer.writerow([
            "" if v is None else round(v, 4) if isinstance(v, float) else neutralise(v) if isinstance(v, str) else v
            for v in row
        ])
