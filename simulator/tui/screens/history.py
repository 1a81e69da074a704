"""My attempts: every attempt of the signed-in trainee (when, scenario, mode, score, result),
newest first; Enter reopens a finished attempt's debrief, or offers to resume or discard an
unfinished one; beside the list, the trend of the highlighted scenario's scores (overall and
per dimension) over the trainee's finished attempts: a bar per attempt, with the numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from simulator.tui.screens.debrief import DebriefScreen
from simulator.tui.screens.library import fit
from simulator.tui.text import parts, plain
from simulator.tui.widgets.notice import SizeNotice

FIXED_COLUMNS = (("When", 16), ("Mode", 10), ("Score", 5), ("Result", 11))
FRONT_ENDS = {
    "app": "in the app",
    "run": "with crisis-sim run",
    "run-scripted": "a scripted run (nobody chose; not counted)",
}


def when(timestamp: str) -> str:
    """``2026-03-01T09:00:00.000Z`` as local time, ``2026-03-01 10:00``."""
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return timestamp[:16]


def result(attempt: Any) -> str:
    if attempt.status == "completed":
        return "passed" if attempt.passed else "not passed"
    return attempt.status.replace("_", " ")


def trend(attempts: Sequence[Any]) -> list[tuple[str, list[float]]]:
    """(label, scores oldest first) for the overall score and each dimension, over the finished
    attempts given (a dimension that did not apply in an attempt is left out of its line).
    Scripted runs are the caller's to leave out."""
    finished = [a for a in attempts if a.status == "completed" and a.overall is not None]
    lines: list[tuple[str, list[float]]] = [("Overall", [float(a.overall) for a in finished])]
    dimensions: dict[str, list[float]] = {}
    for attempt in finished:
        for dimension in (attempt.grade or {}).get("dimensions", []):
            if dimension.get("score") is not None:
                dimensions.setdefault(str(dimension.get("name") or dimension.get("id")), []).append(
                    float(dimension["score"])
                )
    lines += list(dimensions.items())
    return lines


BARS = "▁▂▃▄▅▆▇█"
MAX_BARS = 10
LABEL_WIDTH = 22


def bars(scores: Sequence[float]) -> str:
    """One bar per attempt (the newest ``MAX_BARS``), on the fixed 0-100 scale of scores.

    Not Textual's ``Sparkline``: it scales to the data's own minimum and maximum, so scores of
    100 and 100 are drawn as the floor and 95 -> 100 as a cliff."""
    return "".join(BARS[min(7, max(0, round(score / 100 * 7)))] for score in scores[-MAX_BARS:])


def numbers(scores: Sequence[float]) -> str:
    """The trend in numbers (the bars are never the only way to read it): first → last, best."""
    if not scores:
        return "-"
    if len(scores) == 1:
        return f"{scores[0]:g}"
    return f"{scores[0]:g} → {scores[-1]:g}, best {max(scores):g}"


def trend_line(label: str, scores: Sequence[float]) -> Content:
    return parts((f"{fit(label, LABEL_WIDTH):<{LABEL_WIDTH}} ", "bold"), (f"{bars(scores):<{MAX_BARS}} ", "$accent"),
                 numbers(scores))


class HistoryScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "open", "Open", show=True),
        Binding("escape,l", "back", "Library"),
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield SizeNotice()
        yield Static("", id="history-heading", markup=False)
        with Vertical(id="history-body"):
            yield DataTable(id="attempts", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="trend"):
                yield Static("", id="attempt-detail", markup=False)
                yield Vertical(id="trend-lines")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows()
        self.query_one("#attempts", DataTable).focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self.refresh_rows)

    def on_screen_resume(self) -> None:
        self.refresh_rows()

    # -- the list --

    def attempts(self) -> list[Any]:
        return self.app.my_attempts()  # type: ignore[attr-defined,no-any-return]

    def title_of(self, attempt: Any) -> str:
        """The scenario's title: as recorded with the attempt, else as the library has it."""
        entry = self.app.entry_by_id(attempt.scenario_id)  # type: ignore[attr-defined]
        return attempt.scenario_title or (entry.info.title if entry is not None else attempt.scenario_id)

    def refresh_rows(self) -> None:
        app = self.app
        who = app.trainee_name if app.trainee_name == app.trainee_id else f"{app.trainee_name} ({app.trainee_id})"  # type: ignore[attr-defined]
        attempts = self.attempts()
        self.query_one("#history-heading", Static).update(
            plain(f"My attempts · {who} · {len(attempts)} attempt(s), newest first")
        )
        table = self.query_one("#attempts", DataTable)
        keep = table.cursor_row
        available = (table.scrollable_content_region.width or max(40, self.size.width - 2)) - 2
        padding = 2 * table.cell_padding
        title_width = max(12, available - sum(w + padding for _, w in FIXED_COLUMNS) - padding)
        table.clear(columns=True)
        table.add_column("When", width=16)
        table.add_column("Scenario", width=title_width)
        for label, width in FIXED_COLUMNS[1:]:
            table.add_column(label, width=width)
        for attempt in reversed(attempts):
            table.add_row(
                Text(when(attempt.started_at)),
                Text(fit(self.title_of(attempt), title_width)),
                Text("scripted" if attempt.scripted else attempt.mode),
                Text("" if attempt.overall is None else f"{attempt.overall:g}", justify="right"),
                Text(result(attempt)),
                key=attempt.id,
            )
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self.show_trend()

    def highlighted(self) -> Any | None:
        table = self.query_one("#attempts", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((a for a in self.attempts() if a.id == key), None)

    # -- the trend of the highlighted attempt's scenario --

    def show_trend(self) -> None:
        attempt = self.highlighted()
        detail = self.query_one("#attempt-detail", Static)
        box = self.query_one("#trend-lines", Vertical)
        box.remove_children()
        if attempt is None:
            detail.update(plain("No attempts yet. Pick a scenario in the library (Escape) and play it."))
            return
        title = self.title_of(attempt)
        mine = [a for a in self.attempts() if a.scenario_id == attempt.scenario_id and not a.scripted]
        lines = trend(mine)
        count = len(lines[0][1])
        heading = f"Trend over {count} finished attempt(s), oldest first" if count else "No finished attempt yet"
        detail.update(parts((title, "bold"), "\n", self.describe(attempt), "\n\n", (heading, "bold")))
        if count:
            box.mount_all(Static(trend_line(label, scores), markup=False) for label, scores in lines)

    def describe(self, attempt: Any) -> str:
        """One line on how the attempt was played, and what Enter does with it."""
        how = [f"{attempt.mode} mode"]
        if attempt.time_pressure is not None:
            how.append(f"time pressure {'on' if attempt.time_pressure else 'off'}")
        how.append(FRONT_ENDS.get(attempt.front_end, attempt.front_end))
        how.append(f"started {when(attempt.started_at)}")
        action = {
            "completed": "Enter: reopen its debrief.",
            "in_progress": "Enter: resume it, or discard it.",
            "abandoned": "Discarded (kept in the records as abandoned).",
        }.get(attempt.status, "")
        return f"{'; '.join(how)}. {action}"

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_trend()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    # -- actions --

    def action_open(self) -> None:
        attempt = self.highlighted()
        if attempt is not None:
            self.app.open_attempt(attempt)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.app.back_to_library()  # type: ignore[attr-defined]


class PastDebriefScreen(DebriefScreen):
    """A finished attempt's debrief reopened from My attempts: Escape or l go back to the list."""

    BINDINGS = [
        Binding("r", "replay", "Replay"),
        Binding("l,escape", "library", "My attempts"),
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
    ]

    def __init__(
        self,
        entry: Any,
        grade: Any,
        attempt: Any,
        flags: Mapping[int, str] | None = None,
        said: Mapping[int, str] | None = None,
    ) -> None:
        super().__init__(entry, grade, flags, said)
        self.attempt = attempt

    def on_mount(self) -> None:
        super().on_mount()
        for button in self.query("#library"):
            button.label = "My attempts (l)"  # type: ignore[attr-defined]
        note = f"Your attempt of {when(self.attempt.started_at)} (the grade derived again from its decisions)."
        self.query_one("#debrief").mount(Static(plain(note), markup=False, id="past-note"), before=0)

    def action_library(self) -> None:
        self.app.pop_screen()

    def action_replay(self) -> None:
        """Play the scenario again, from its briefing over the library (as from any debrief)."""
        self.app.back_to_library()  # type: ignore[attr-defined]
        self.app.call_next(self.app.open_briefing, self.entry)  # type: ignore[attr-defined]
