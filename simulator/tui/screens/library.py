"""The library: scenarios in a table with this trainee's status and best score, a preview of
the highlighted one, and a filter by text or tag."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from simulator.tui.text import parts, plain
from simulator.tui.widgets.inputs import SafeInput

COLUMNS = ("Title", "Status", "Best", "Level", "Min", "Tags")
NARROW = 110  # below this width the preview goes under the table


def matches(entry: object, query: str) -> bool:
    """Every word must match: ``tag:x`` a tag (prefix), anything else the title, summary,
    id or tags (substring, case-insensitive)."""
    s = entry.info  # type: ignore[attr-defined]
    haystack = " ".join([s.id, s.title, s.summary, " ".join(s.tags)]).lower()
    for word in query.lower().split():
        if word.startswith("tag:"):
            if not any(tag.startswith(word[4:]) for tag in s.tags):
                return False
        elif word not in haystack:
            return False
    return True


class LibraryScreen(Screen[None]):
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("enter", "open", "Open", show=True),
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Static("", id="library-heading", markup=False)
        yield SafeInput(placeholder="Filter: type words, or tag:suicide-risk   ( / to focus )", id="filter")
        with Horizontal(id="library-body"):
            yield DataTable(id="scenarios", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="preview"):
                yield Static("", id="preview-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#scenarios", DataTable)
        table.add_columns(*COLUMNS)
        self.refresh_rows()
        table.focus()

    def on_resize(self) -> None:
        self.query_one("#library-body").set_class(self.size.width < NARROW, "-narrow")

    def on_screen_resume(self) -> None:
        self.refresh_rows()  # statuses change after a play

    def refresh_rows(self) -> None:
        app = self.app
        who = app.trainee_name if app.trainee_name == app.trainee_id else f"{app.trainee_name} ({app.trainee_id})"  # type: ignore[attr-defined]
        heading = f"Scenario library · signed in as {who}"
        self.query_one("#library-heading", Static).update(plain(heading))
        progress = app.progress()  # type: ignore[attr-defined]
        query = self.query_one("#filter", Input).value
        table = self.query_one("#scenarios", DataTable)
        keep = table.cursor_row
        table.clear()
        for entry in app.entries:  # type: ignore[attr-defined]
            if not matches(entry, query):
                continue
            s = entry.info
            status, best, _ = progress.get(s.id, ("not started", None, None))
            table.add_row(
                Text(s.title),
                Text(status),
                Text("" if best is None else f"{best:g}", justify="right"),
                Text(s.difficulty),
                Text(str(s.minutes), justify="right"),
                Text(", ".join(s.tags)),
                key=s.id,
            )
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self.show_preview()

    def highlighted(self) -> object | None:
        table = self.query_one("#scenarios", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((e for e in self.app.entries if e.info.id == key), None)  # type: ignore[attr-defined]

    def show_preview(self) -> None:
        entry = self.highlighted()
        preview = self.query_one("#preview-text", Static)
        if entry is None:
            preview.update(plain("No scenario matches the filter. Press Escape to clear it."))
            return
        s = entry.info  # type: ignore[attr-defined]
        pieces: list[str | tuple[str, str]] = [(s.title, "bold"), f"\n{s.difficulty} · about {s.minutes} min\n\n"]
        pieces.append(" ".join(s.summary.split()))
        if s.objectives:
            pieces += ["\n\n", ("Objectives", "bold"), "\n"] + [f"• {o}\n" for o in s.objectives]
        if s.content_warning:
            pieces += ["\n", ("Content warning: ", "bold"), s.content_warning]
        preview.update(parts(*pieces))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_preview()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refresh_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#scenarios", DataTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.query_one("#scenarios", DataTable).focus()

    def action_open(self) -> None:
        entry = self.highlighted()
        if entry is not None:
            self.app.open_briefing(entry)  # type: ignore[attr-defined]
