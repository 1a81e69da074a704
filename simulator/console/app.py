"""The instructor's console (Textual): the class live, one trainee's transcript as it happens,
flags, and cohort analytics with plots.

Screens stay thin: what they show comes from ``console.live`` (the class, transcripts) and
``scoring.analytics`` through ``simulator.cohort`` (analytics). Every piece of trainee or
scenario text reaches the screen as ``rich.text.Text`` or ``Content`` built without markup
(``simulator.tui.text``), never spliced into markup.

Plots use Textual's own widgets: ``Sparkline`` for score distributions, and bars and heat-map
cells drawn as styled text. textual-plotext was considered and left out: its last release
(1.0.1, November 2024) predates Textual 8 and pins plotext below 6, and these plots are bars a
few lines of styled text draw as well, with no dependency to keep in step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, OptionList, Sparkline, Static
from textual.widgets.option_list import Option

from simulator.console.live import ClassWatch, TraineeLive, TranscriptEntry
from simulator.records import RecordsStore, StoreError
from simulator.safetext import one_line, strip_unsafe
from simulator.tui.text import parts, plain
from simulator.tui.widgets.inputs import SafeInput

CSS = """
Screen { background: $surface; }
#status, .title { height: auto; padding: 0 1; background: $boost; }
#class { height: 1fr; }
#transcript { height: 1fr; }
#analytics { padding: 0 1; }
.section { margin-top: 1; text-style: bold; }
.rate { height: 1; margin-top: 1; }
.spark-row { height: 2; }
.spark-label { width: 33; color: $text-muted; }
.spark-counts { width: 1fr; color: $text-muted; }
Sparkline { width: 30; height: 2; margin: 0 1 0 0; }
.dialog-screen { align: center middle; }
.dialog { width: 80; height: auto; border: round $accent; padding: 1 2; background: $panel; }
.dialog-error { color: $error; height: auto; }
DataTable.small { height: auto; max-height: 30; }
"""


def text(value: object, style: str = "") -> Text:
    """A table cell: literal text, control characters removed, one line."""
    return Text(one_line(str(value)), style=style)


def clip(value: str, width: int) -> str:
    value = one_line(value)
    return value if len(value) <= width else value[: width - 1] + "…"


def duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds // 60 % 60:02d}m"


def status_cell(row: TraineeLive) -> Text:
    if row.status == "in_progress":
        return text("playing", "bold")
    if row.status == "abandoned":
        return text("abandoned", "dim")
    score = "" if row.overall is None else f" {row.overall:g}"
    return text(f"passed{score}", "bold green") if row.passed else text(f"not passed{score}", "bold red")


def meters_cell(row: TraineeLive) -> Text:
    """Each shown meter as a short label and its value, in red when it is near its bad end
    (the trainee screen's transcript shows them in full)."""
    out = Text()
    for i, m in enumerate(row.meters):
        if i:
            out.append(" ")
        bad = (m.good == "low" and m.value >= m.low + (m.high - m.low) * 0.7) or (
            m.good == "high" and m.value <= m.low + (m.high - m.low) * 0.3)
        out.append(f"{clip(m.label, 9)} {m.value}", "bold red" if bad else "")
    return out


def bar(share: float, width: int = 24) -> Text:
    filled = round(max(0.0, min(1.0, share)) * width)
    return Text("█" * filled, "green") + Text("░" * (width - filled), "dim")


def heat_style(score: float) -> str:
    """A background from light to dark blue for a 0..100 score (the HTML report's scale)."""
    light, dark = (239, 243, 255), (8, 69, 148)
    f = max(0.0, min(1.0, score / 100))
    r, g, b = (round(a + (z - a) * f) for a, z in zip(light, dark, strict=True))
    return f"{'white' if f > 0.55 else 'black'} on #{r:02x}{g:02x}{b:02x}"


class NoteDialog(ModalScreen[str | None]):
    """Flag a moment: an optional one-line note. Enter saves, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self.question), markup=False)
            yield SafeInput(placeholder="note for the trainee's debrief (optional)", max_length=500, id="note")
            yield Static("", id="note-error", classes="dialog-error", markup=False)
            yield Static(plain("Enter: flag   Escape: cancel"), markup=False)

    def on_input_submitted(self, event: SafeInput.Submitted) -> None:
        from simulator.records.rows import note_problem

        problem = note_problem(event.value)
        if problem:
            self.query_one("#note-error", Static).update(plain(f"The note {problem}"))
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class CohortDialog(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str | None) -> None:
        super().__init__(classes="dialog-screen")
        self.current = current or ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain("Show one cohort (empty: every cohort). Enter applies, Escape cancels."), markup=False)
            yield SafeInput(value=self.current, max_length=64, id="cohort")

    def on_input_submitted(self, event: SafeInput.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ClassScreen(Screen[None]):
    """Every trainee's newest attempt, refreshed about once a second."""

    BINDINGS = [
        Binding("f", "flag", "Flag moment"),
        Binding("a", "analytics", "Analytics"),
        Binding("c", "cohort", "Cohort"),
        Binding("s", "scripted", "Scripted runs"),
        Binding("q", "app.quit", "Quit"),
    ]
    COLUMNS = ("Trainee", "Name", "Scene", "Dec", "In scene", "Crit", "Status", "⚑", "Scenario", "Meters")
    """In the order that keeps what matters most in view on a narrow terminal (80 columns show
    up to Status)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, TraineeLive] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="status", markup=False)
        yield DataTable(id="class", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in self.COLUMNS:
            table.add_column(name, key=name)
        self.refresh_class()
        app: ConsoleApp = self.app  # type: ignore[assignment]
        self.set_interval(app.interval, self.refresh_class)
        table.focus()

    def refresh_class(self) -> None:
        app: ConsoleApp = self.app  # type: ignore[assignment]
        try:
            rows = app.watch.poll(app.now())
        except StoreError as exc:
            self.query_one("#status", Static).update(plain(f"Cannot read the records: {exc}", "bold red"))
            return
        now = app.now()
        table = self.query_one(DataTable)
        seen = set()
        chosen = self.selected()
        added = False
        for row in rows:
            seen.add(row.trainee_id)
            cells = [
                text(row.trainee_id), text(clip(row.name, 14)), text(clip(row.scene, 12)), text(row.decisions),
                text(duration(row.in_scene(now)) if row.status == "in_progress" else "-"),
                text(row.critical, "bold red" if row.critical else ""), status_cell(row),
                text(row.flags or "", "bold yellow"), text(clip(row.scenario_id, 16)), meters_cell(row),
            ]
            if row.trainee_id in self.rows:
                for column, cell in zip(self.COLUMNS, cells, strict=True):
                    table.update_cell(row.trainee_id, column, cell)
            else:
                table.add_row(*cells, key=row.trainee_id)
                added = True
            self.rows[row.trainee_id] = row
        for gone in set(self.rows) - seen:
            table.remove_row(gone)
            del self.rows[gone]
        if added:  # keep the rows in trainee order and the cursor on the trainee it was on
            table.sort("Trainee", key=lambda cell: cell.plain)
            if chosen is not None and chosen.trainee_id in self.rows:
                table.move_cursor(row=table.get_row_index(chosen.trainee_id))
        playing = sum(r.status == "in_progress" for r in rows)
        where = f"cohort {app.watch.cohort}" if app.watch.cohort else "every cohort"
        scripted = " · with scripted runs" if app.watch.include_scripted else ""
        self.query_one("#status", Static).update(parts(
            ("Class live", "bold"),
            f"  {len(rows)} trainee(s), {playing} playing · {where}{scripted} · updated {now:%H:%M:%S} UTC · "
            "Enter: follow a trainee",
        ))

    def selected(self) -> TraineeLive | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(str(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        row = self.rows.get(str(event.row_key.value))
        if row is not None:
            self.app.push_screen(TraineeScreen(row.attempt_id))

    def action_flag(self) -> None:
        row = self.selected()
        if row is None:
            return
        if not row.decisions:
            self.notify(f"{row.name} has made no decision yet: nothing to flag", markup=False)
            return
        flag_moment(self.app, row.attempt_id, row.decisions, f"{row.name} ({row.trainee_id})", after=self.refresh_class)

    def action_analytics(self) -> None:
        self.app.push_screen(AnalyticsScreen())

    def action_cohort(self) -> None:
        app: ConsoleApp = self.app  # type: ignore[assignment]

        def chosen(value: str | None) -> None:
            if value is not None:
                app.watch.cohort = value or None
                self.refresh_class()

        self.app.push_screen(CohortDialog(app.watch.cohort), chosen)

    def action_scripted(self) -> None:
        """Show or hide scripted runs (``crisis-sim test``, ``run --choose``...: nobody is
        playing them), as ``--include-scripted`` does for ``report`` and ``results``."""
        app: ConsoleApp = self.app  # type: ignore[assignment]
        app.watch.include_scripted = not app.watch.include_scripted
        self.notify("Scripted runs shown" if app.watch.include_scripted else "Scripted runs hidden", markup=False)
        self.refresh_class()


def flag_moment(app: Any, attempt_id: str, sequence: int, who: str, after: Callable[[], None]) -> None:
    """Ask for a note, then flag decision ``sequence`` (the one key that flags, on every screen)."""
    from simulator.console.live import flag

    def save(note: str | None) -> None:
        if note is None:
            return
        try:
            flag(app.watch.store, attempt_id, sequence, note)
        except StoreError as exc:
            app.notify(str(exc), severity="error", markup=False)
            return
        app.notify(f"Flagged decision {sequence} of {who}", markup=False)
        after()

    app.push_screen(NoteDialog(f"Flag decision {sequence} of {who} for their debrief"), save)


class TraineeScreen(Screen[None]):
    """One trainee's transcript as it happens; the newest line stays in view while the cursor
    is on it. ``f`` flags the decision under the cursor (or the one before it)."""

    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("f", "flag", "Flag moment"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, attempt_id: str) -> None:
        super().__init__()
        self.attempt_id = attempt_id
        self.entries: list[TranscriptEntry] = []
        self.who = "this trainee"

    def compose(self) -> ComposeResult:
        yield Static("", id="status", markup=False)
        yield OptionList(id="transcript")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_transcript()
        app: ConsoleApp = self.app  # type: ignore[assignment]
        self.set_interval(app.interval, self.refresh_transcript)
        self.query_one(OptionList).focus()

    def refresh_transcript(self) -> None:
        app: ConsoleApp = self.app  # type: ignore[assignment]
        try:
            attempt, entries = app.watch.transcript(self.attempt_id)
        except StoreError as exc:
            self.query_one("#status", Static).update(plain(f"Cannot read the records: {exc}", "bold red"))
            return
        self.who = f"{attempt.trainee_name} ({attempt.trainee_id})"
        state = {"in_progress": "playing", "completed": "passed" if attempt.passed else "not passed",
                 "abandoned": "abandoned"}[attempt.status]
        self.query_one("#status", Static).update(parts(
            (f"{attempt.trainee_name} ({attempt.trainee_id})", "bold"),
            f" · {attempt.scenario_id} · {state}" + (f" {attempt.overall:g}" if attempt.overall is not None else "")
            + " · Escape: back",
        ))
        if entries == self.entries:
            return
        listing = self.query_one(OptionList)
        following = listing.highlighted is None or listing.highlighted >= len(self.entries) - 1
        keep = listing.highlighted
        self.entries = entries
        listing.clear_options()
        listing.add_options([Option(self.prompt(e)) for e in entries])
        listing.highlighted = len(entries) - 1 if following or keep is None else min(keep, len(entries) - 1)

    @staticmethod
    def prompt(entry: TranscriptEntry) -> Text:
        if entry.sequence is None:
            return Text(strip_unsafe(entry.text), style="dim" if entry.text.startswith("[") else "")
        out = Text(strip_unsafe(entry.text.strip()), style="bold")
        if entry.response_ms is not None:
            out.append(f"  ({entry.response_ms / 1000:.1f} s)", "dim")
        if entry.critical:
            out.append(f"\n  critical error: {one_line(entry.critical)}", "bold red")
        if entry.flag is not None:
            out.append("\n  flagged" + (f": {one_line(entry.flag)}" if entry.flag else ""), "bold yellow")
        return out

    def action_flag(self) -> None:
        listing = self.query_one(OptionList)
        index = listing.highlighted if listing.highlighted is not None else len(self.entries) - 1
        sequence = next((e.sequence for e in reversed(self.entries[: index + 1]) if e.sequence is not None), None)
        if sequence is None:
            self.notify("No decision yet at or before the cursor: nothing to flag", markup=False)
            return
        flag_moment(self.app, self.attempt_id, sequence, self.who, after=self.refresh_transcript)


class AnalyticsScreen(Screen[None]):
    """Cohort analytics (the numbers of ``crisis-sim report``) with plots, for the console's
    cohort filter; ``r`` recomputes."""

    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("r", "recompute", "Recompute"),
        Binding("q", "app.quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="analytics")
        yield Footer()

    def on_mount(self) -> None:
        self.action_recompute()

    def action_recompute(self) -> None:
        from scoring.analytics import TOO_FEW
        from simulator.cohort import load

        app: ConsoleApp = self.app  # type: ignore[assignment]
        store = app.watch.store
        try:
            with store.snapshot():
                report = load(store, store.attempts(cohort=app.watch.cohort,
                                                    include_scripted=app.watch.include_scripted))
        except StoreError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        box = self.query_one("#analytics", VerticalScroll)
        box.remove_children()
        where = f"cohort {app.watch.cohort}" if app.watch.cohort else "every cohort"
        where += " with scripted runs" if app.watch.include_scripted else ""
        attempts = sum(s.attempts for s in report.scenarios)
        widgets: list[Any] = [Static(parts(
            ("Cohort analytics", "bold"),
            f" · {where} · {attempts} attempt(s) by {len(report.trainees)} trainee(s) · under {TOO_FEW} trainees: "
            "too few · Escape: back"), markup=False, classes="title")]
        widgets.append(Static("Pass rate and score distribution (0 → 100)", classes="section"))
        for s in report.scenarios:
            label = Text(one_line(s.scenario_id)[:32].ljust(33))
            rate = s.pass_rate or 0.0
            line = label + bar(rate) + Text(f" {100 * rate:3.0f}% ({s.passed}/{s.completed}, {s.trainees} trainees)"
                                            + (" too few" if s.too_few else ""))
            widgets.append(Static(line, markup=False, classes="rate"))
            widgets.append(Horizontal(
                Static(Text("  scores 0 → 100"), classes="spark-label", markup=False),
                Sparkline(list(s.histogram), summary_function=max),
                Static(Text("per band: " + " ".join(str(n) for n in s.histogram)), classes="spark-counts",
                       markup=False),
                classes="spark-row"))
        widgets.append(Static("Decisions (each trainee's first run)", classes="section"))
        decisions = DataTable(classes="small", cursor_type="row")
        decisions.add_columns("Scenario", "Decision", "Trainees", "Facility", "", "Discrim.", "Flags")
        for d in report.decisions:
            decisions.add_row(text(d.scenario_id), text(d.scene), text(d.reached),
                              text(f"{100 * (d.facility or 0):.0f}%"), bar(d.facility or 0, 10),
                              text("-" if d.discrimination is None else f"{d.discrimination:+.2f}"),
                              text(", ".join(d.flags), "bold red" if d.flags and not d.too_few else "dim"))
        widgets.append(decisions)
        widgets.append(Static("Trainee × dimension", classes="section"))
        heat = DataTable(classes="small", cursor_type="none")
        dims = list(report.dimensions)
        heat.add_columns("Trainee", *(one_line(report.dimensions[d])[:14] for d in dims))
        for trainee, name in report.trainees.items():
            cells = []
            for d in dims:
                cell = report.heat.get((trainee, d))
                cells.append(text("  n/a", "dim") if cell is None else Text(f"{cell.score:5.0f} ",
                                                                            style=heat_style(cell.score)))
            heat.add_row(text(f"{name} ({trainee})"[:30]), *cells)
        widgets.append(heat)
        widgets.append(Static("Progress (✓ passed, ✗ not yet, … playing; best score, attempts)", classes="section"))
        progress = DataTable(classes="small", cursor_type="none")
        scenarios = [s.scenario_id for s in report.scenarios]
        progress.add_columns("Trainee", *(one_line(s)[:18] for s in scenarios))
        for trainee, name in report.trainees.items():
            cells = []
            for s in scenarios:
                p = report.progress.get((trainee, s))
                if p is None:
                    cells.append(text(""))
                    continue
                best = "" if p.best is None else f"{p.best:.0f} "
                mark, style = ("✓", "green") if p.passed else ("✗", "yellow") if p.completed else ("…", "dim")
                cells.append(text(f"{mark} {best}({p.attempts})", style))
            progress.add_row(text(f"{name} ({trainee})"[:30]), *cells)
        widgets.append(progress)
        box.mount_all(widgets)


class ConsoleApp(App[None]):
    """``crisis-sim console``: opened on a records store the CLI has checked."""

    CSS = CSS
    TITLE = "crisis-sim console"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", show=False)]

    def __init__(self, store: RecordsStore, *, cohort: str | None = None, since: str | None = None,
                 interval: float = 1.0, clock: Callable[[], datetime] | None = None,
                 include_scripted: bool = False) -> None:
        super().__init__()
        self.watch = ClassWatch(store, cohort=cohort, since=since, include_scripted=include_scripted)
        self.interval = interval
        self.clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.clock()

    def on_mount(self) -> None:
        self.push_screen(ClassScreen())
