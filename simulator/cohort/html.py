"""The cohort report as one self-contained HTML file (``crisis-sim report --out report.html``).

One file an instructor can mail, archive or print: inline CSS and inline SVG charts, no
JavaScript, no font, image or style fetched from anywhere (a test checks there is no ``src=``,
``href=`` to another place, ``<script`` or ``url(``). Every value from the records (trainee
names, scenario and option text) is HTML-escaped; charts carry their numbers as text too, so
the report reads in black and white and on paper (print CSS: A4, no page break inside a chart).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from scoring.analytics import TOO_FEW, CohortReport
from simulator.cohort.tables import Table, all_tables, shown
from simulator.safetext import one_line

CSS = """
:root { --ink: #1b1b1b; --muted: #555; --rule: #ccc; --good: #1a7f4b; --warn: #b35c00; --bad: #b3261e; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink);
       max-width: 1100px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 2px solid var(--ink); }
p.meta, p.note { color: var(--muted); margin: 4px 0 10px; }
section { break-inside: avoid; page-break-inside: avoid; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 6px 0 4px; }
th, td { border-bottom: 1px solid var(--rule); padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.flag { color: var(--bad); font-weight: 600; } .few { color: var(--muted); font-style: italic; }
svg { display: block; max-width: 100%; height: auto; margin: 6px 0; }
svg text { font-family: inherit; fill: var(--ink); }
@page { size: A4; margin: 14mm; }
@media print { body { margin: 0; max-width: none; font-size: 11px; } h2 { margin-top: 16px; }
  table { font-size: 10px; } th { background: none; } }
"""

GOOD, WARN, BAD, IDLE = "#2e8b57", "#e0a030", "#c0392b", "#9fb7cf"


def _t(text: object) -> str:
    """Text from the records, safe in HTML text and attributes."""
    return escape(one_line(str(text)), quote=True)


def _ramp(score: float) -> tuple[str, str]:
    """A fill for a 0..100 score (light to dark blue, readable in grey) and its text colour."""
    light, dark = (239, 243, 255), (8, 69, 148)
    f = max(0.0, min(1.0, score / 100))
    rgb = tuple(round(a + (b - a) * f) for a, b in zip(light, dark, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#ffffff" if f > 0.55 else "#1b1b1b"


def pass_rate_chart(report: CohortReport) -> str:
    rows = [s for s in report.scenarios if s.completed]
    if not rows:
        return ""
    label_w, bar_w, row_h = 230, 520, 26
    height = 30 + row_h * len(rows)
    parts = [f'<svg role="img" aria-label="Pass rate per scenario" viewBox="0 0 {label_w + bar_w + 260} {height}" '
             f'width="{label_w + bar_w + 260}" height="{height}">']
    for x in range(0, 101, 25):
        gx = label_w + bar_w * x / 100
        parts.append(f'<line x1="{gx}" y1="18" x2="{gx}" y2="{height - 4}" stroke="#ddd"/>'
                     f'<text x="{gx}" y="12" font-size="10" text-anchor="middle">{x}%</text>')
    for i, s in enumerate(rows):
        y = 22 + i * row_h
        rate = s.pass_rate or 0.0
        few = " too few" if s.too_few else ""
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 14}" font-size="12" text-anchor="end">{_t(s.scenario_id)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{bar_w}" height="{row_h - 8}" fill="#f1f1f1"/>'
            f'<rect x="{label_w}" y="{y + 2}" width="{bar_w * rate:.1f}" height="{row_h - 8}" fill="{GOOD}"/>'
            f'<text x="{label_w + bar_w + 8}" y="{y + 14}" font-size="12">{100 * rate:.0f}% ({s.passed}/{s.completed} '
            f'attempts, {s.trainees} trainee{"s" if s.trainees != 1 else ""}){few}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram_chart(scenario_id: str, counts: Sequence[int], pass_mark: int | None) -> str:
    width, height, left, bottom = 360, 150, 28, 24
    right = 16
    plot_w, plot_h = width - left - right, height - bottom - 20
    top = max(counts, default=0) or 1
    bar = plot_w / len(counts)
    parts = [f'<svg role="img" aria-label="Score distribution of {_t(scenario_id)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><text x="{left}" y="12" font-size="12" font-weight="600">'
             f'{_t(scenario_id)}</text>']
    base = height - bottom
    for i, n in enumerate(counts):
        h = plot_h * n / top
        x = left + i * bar
        parts.append(f'<rect x="{x + 1:.1f}" y="{base - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                     'fill="#4a78b5"/>')
        if n:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{base - h - 2:.1f}" font-size="10" '
                         f'text-anchor="middle">{n}</text>')
    parts.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#333"/>')
    for x in (0, 50, 100):
        parts.append(f'<text x="{left + plot_w * x / 100:.1f}" y="{base + 13}" font-size="10" '
                     f'text-anchor="middle">{x}</text>')
    if pass_mark is not None:
        px = left + plot_w * pass_mark / 100
        parts.append(f'<line x1="{px:.1f}" y1="18" x2="{px:.1f}" y2="{base}" stroke="{BAD}" stroke-dasharray="4 3"/>'
                     f'<text x="{px + 3:.1f}" y="26" font-size="10" fill="{BAD}">pass {pass_mark}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _grid(title: str, rows: Sequence[str], cols: Sequence[str], cell: object) -> str:
    """A matrix of labelled cells: ``cell(row_index, col_index) -> (fill, text colour, text)``."""
    label_w, cw, ch, head = 200, 96, 26, 70
    width, height = label_w + cw * len(cols) + 90, head + ch * len(rows) + 4
    parts = [f'<svg role="img" aria-label="{_t(title)}" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}">']
    for j, col in enumerate(cols):
        x = label_w + j * cw + cw / 2
        parts.append(f'<text x="{x:.1f}" y="{head - 6}" font-size="11" text-anchor="start" '
                     f'transform="rotate(-30 {x:.1f} {head - 6})">{_t(col[:28])}</text>')
    for i, row in enumerate(rows):
        y = head + i * ch
        parts.append(f'<text x="{label_w - 8}" y="{y + 17}" font-size="12" text-anchor="end">{_t(row[:30])}</text>')
        for j in range(len(cols)):
            fill, ink, text = cell(i, j)  # type: ignore[operator]
            x = label_w + j * cw
            parts.append(f'<rect x="{x + 1}" y="{y + 1}" width="{cw - 2}" height="{ch - 2}" fill="{fill}" '
                         f'stroke="#bbb" stroke-width="0.5"/><text x="{x + cw / 2}" y="{y + 17}" font-size="11" '
                         f'text-anchor="middle" fill="{ink}" style="fill:{ink}">{_t(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heat_chart(report: CohortReport) -> str:
    trainees = [t for t in report.trainees if any((t, d) in report.heat for d in report.dimensions)]
    dims = list(report.dimensions)
    if not trainees or not dims:
        return ""

    def cell(i: int, j: int) -> tuple[str, str, str]:
        found = report.heat.get((trainees[i], dims[j]))
        if found is None:
            return "#ffffff", "#777777", "n/a"
        fill, ink = _ramp(found.score)
        return fill, ink, f"{found.score:.0f}"

    return _grid("Trainee by dimension", [f"{report.trainees[t]} ({t})" for t in trainees],
                 [report.dimensions[d] for d in dims], cell)


def progress_chart(report: CohortReport) -> str:
    trainees = list(report.trainees)
    scenarios = [s.scenario_id for s in report.scenarios]
    if not trainees or not scenarios:
        return ""

    def cell(i: int, j: int) -> tuple[str, str, str]:
        p = report.progress.get((trainees[i], scenarios[j]))
        if p is None:
            return "#ffffff", "#777777", ""
        best = "" if p.best is None else f"{p.best:.0f} "
        if p.passed:
            return GOOD, "#ffffff", f"\u2713 {best}({p.attempts})"
        if p.completed:
            return WARN, "#1b1b1b", f"\u2717 {best}({p.attempts})"
        return IDLE, "#1b1b1b", f"\u2026 ({p.attempts})"

    return _grid("Trainee by scenario", [f"{report.trainees[t]} ({t})" for t in trainees], scenarios, cell)


def _table(table: Table) -> str:
    if not table.rows:
        return '<p class="note">Nothing recorded.</p>'
    head = "".join(f"<th>{_t(c.name)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for value, column in zip(row, table.columns, strict=True):
            text = _t(shown(value, column.kind))
            css = ' class="n"' if column.kind != "text" else ""
            if column.name in ("flags", "note") and value:
                text = f'<span class="{"few" if value == "too few" else "flag"}">{text}</span>'
            cells.append(f"<td{css}>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    note = f'<p class="note">{_t(table.note)}</p>' if table.note else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def render(report: CohortReport, *, title: str, described: str) -> str:
    """The whole report as HTML text. ``described``: the filters and the store, one line."""
    tables = {t.name: t for t in all_tables(report)}
    sections = [
        ("Pass rates", pass_rate_chart(report), "scenarios"),
        ("Score distribution",
         "".join(f'<div style="display:inline-block">{histogram_chart(s.scenario_id, s.histogram, s.pass_mark)}</div>'
                 for s in report.scenarios if s.completed), "distribution"),
        ("Most-missed decisions", "", "missed"),
        ("Decisions", "", "decisions"),
        ("Critical errors", "", "critical"),
        ("Trainee by dimension", heat_chart(report), "heat"),
        ("Progress", progress_chart(report), "progress"),
    ]
    body = []
    for heading, chart, name in sections:
        table = tables[name]
        legend = ""
        if name == "progress":
            legend = ('<p class="note">\u2713 passed, \u2717 completed without passing, \u2026 in progress; '
                      'the number is the best score, in brackets the attempts.</p>')
        body.append(f"<section><h2>{_t(heading)}</h2>{chart}{legend}{_table(table)}</section>")
    attempts = sum(s.attempts for s in report.scenarios)
    extra = (f" {report.not_analysed} completed attempt(s) graded with an older method are left out of the decision "
             "analysis ('crisis-sim regrade --upgrade' brings them in)." if report.not_analysed else "")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_t(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{_t(title)}</h1>"
        f'<p class="meta">{_t(described)}</p>'
        f'<p class="meta">{attempts} attempt(s) by {len(report.trainees)} trainee(s). Every rate shows the counts it '
        f"rests on; numbers resting on fewer than {TOO_FEW} trainees are marked <i>too few</i>.{_t(extra)}</p>"
        + "".join(body)
        + "</body></html>\n"
    )
