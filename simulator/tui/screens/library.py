"""The library: scenarios in a table with this trainee's status and best score, a preview of
the highlighted one, and a filter by text or tag."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from simulator.tui.text import parts, plain, prose
from simulator.tui.widgets.inputs import SafeInput
from simulator.tui.widgets.notice import SizeNotice

NARROW = 110  # below this width the preview goes under the table
FIXED_COLUMNS = (("Status", 11), ("Tries", 5), ("Best", 4), ("Level", 12), ("Min", 3))
"""The columns after the title, each as wide as its longest value ('in progress', '100',
'introductory'), so none is ever cut; the title gets what is left and ends in '…' if longer.
Tries and Best count the trainee's own attempts (scripted runs are not theirs)."""
TAGS_FROM = 100
"""Table width from which a Tags column fits as well; tags are always in the preview."""
MIN_TITLE = 16


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with an ellipsis (the preview shows it whole)."""
    return text if len(text) <= width else text[: max(1, width - 1)].rstrip() + "…"


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
        Binding("a", "app.my_attempts", "My attempts"),
        Binding("o", "app.sign_out", "Sign out"),
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield SizeNotice()
        yield Static("", id="library-heading", markup=False)
        yield SafeInput(placeholder="Filter: type words, or tag:suicide-risk   ( / to focus )", id="filter")
        with Horizontal(id="library-body"):
            yield DataTable(id="scenarios", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="preview"):
                yield Static("", id="preview-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows()
        self.query_one("#scenarios", DataTable).focus()

    def on_resize(self) -> None:
        self.query_one("#library-body").set_class(self.size.width < NARROW, "-narrow")
        self.call_after_refresh(self.refresh_rows)  # the columns fit the new width

    def column_widths(self) -> tuple[int, bool]:
        """The title's width and whether a Tags column fits, for the table's width now."""
        table = self.query_one("#scenarios", DataTable)
        available = table.scrollable_content_region.width or max(40, self.size.width - 2)
        available -= 2  # room for a vertical scrollbar, so rows never scroll sideways
        padding = 2 * table.cell_padding
        fixed = sum(width + padding for _, width in FIXED_COLUMNS)
        tags = available >= TAGS_FROM
        tags_width = 24 if tags else 0
        title = available - fixed - padding - (tags_width + padding if tags else 0)
        return max(MIN_TITLE, title), tags

    def on_screen_resume(self) -> None:
        self.refresh_rows()  # statuses change after a play
        self.highlight_last_played()

    def highlight_last_played(self) -> None:
        """Back from a scenario (or a new library after a resume from the sign-in form): its row
        is highlighted, with its new status and the preview, not whatever row was first."""
        played, self.app.last_played = self.app.last_played, None  # type: ignore[attr-defined]
        table = self.query_one("#scenarios", DataTable)
        if played is not None and played in table.rows:
            table.move_cursor(row=table.get_row_index(played))

    def refresh_rows(self) -> None:
        app = self.app
        who = app.trainee_name if app.trainee_name == app.trainee_id else f"{app.trainee_name} ({app.trainee_id})"  # type: ignore[attr-defined]
        heading = f"Scenario library · signed in as {who}"
        self.query_one("#library-heading", Static).update(plain(heading))
        progress = app.progress()  # type: ignore[attr-defined]
        query = self.query_one("#filter", Input).value
        table = self.query_one("#scenarios", DataTable)
        keep = table.cursor_row
        title_width, with_tags = self.column_widths()
        table.clear(columns=True)
        table.add_column("Title", width=title_width)
        for label, width in FIXED_COLUMNS:
            table.add_column(label, width=width)
        if with_tags:
            table.add_column("Tags", width=24)
        for entry in app.entries:  # type: ignore[attr-defined]
            if not matches(entry, query):
                continue
            s = entry.info
            mine = progress.get(s.id)
            cells = [
                Text(fit(s.title, title_width)),
                Text(mine.status if mine else "not started"),
                Text(str(mine.attempts) if mine else "", justify="right"),
                Text("" if mine is None or mine.best is None else f"{mine.best:g}", justify="right"),
                Text(s.difficulty),
                Text(str(s.minutes), justify="right"),
            ]
            if with_tags:
                cells.append(Text(fit(", ".join(s.tags), 24)))
            table.add_row(*cells, key=s.id)
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
        pieces.append(prose(s.summary))
        if s.objectives:
            pieces += ["\n\n", ("Objectives", "bold"), "\n"] + [f"• {o}\n" for o in s.objectives]
        if s.content_warning:
            pieces += ["\n", ("Content warning: ", "bold"), s.content_warning, "\n"]
        if s.tags:
            pieces += ["\n", ("Tags: ", "bold"), ", ".join(s.tags), "  (filter with / and tag:NAME)"]
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
