"""Briefing: dispatch information, objectives, the content warning, and the choice of mode,
with a clear way back out."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from simulator.model import paragraphs
from simulator.tui.text import parts, plain
from simulator.tui.widgets.notice import SizeNotice


class BriefingScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,b", "back", "Back"),
        Binding("s", "start", "Start"),
        Binding("m", "toggle_mode", "Mode"),
        Binding("t", "toggle_time", "Time pressure"),
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
    ]

    def __init__(self, entry: object, locked: bool = False) -> None:
        super().__init__()
        self.entry = entry
        self.locked = locked

    def compose(self) -> ComposeResult:
        s = self.entry.scenario  # type: ignore[attr-defined]
        yield SizeNotice()
        with VerticalScroll(id="briefing"):
            yield Static(parts((s.title, "bold"), f"  ·  {s.difficulty}  ·  about {s.minutes} min"), markup=False)
            if s.content_warning:
                yield Static(
                    parts(("Content warning: ", "bold"), s.content_warning, "\nEscape takes you back."),
                    markup=False,
                    id="content-warning",
                )
            yield Static(
                parts(("Briefing", "bold"), "\n", "\n\n".join(paragraphs(s.briefing))), markup=False, id="dispatch"
            )
            if s.objectives:
                yield Static(
                    parts(("Objectives", "bold"), "\n", "\n".join(f"• {o}" for o in s.objectives)),
                    markup=False,
                    id="objectives",
                )
            watch = getattr(self.app, "watch", None)
            if watch is not None:
                yield Static(
                    plain(
                        f"Playtest: {watch} is reloaded whenever it is saved, keeping your place. "
                        "Nothing is recorded. While playing, d shows the debug panel."
                    ),
                    markup=False,
                    id="playtest-note",
                )
            yield Static(
                plain(
                    "Assessment mode: no feedback until the debrief. Coach mode: feedback after each choice. "
                    "Time pressure off: timed scenes wait for you."
                ),
                markup=False,
                id="mode-help",
            )
        with Horizontal(id="briefing-buttons"):
            yield Button("Start (s)", id="start", variant="primary", compact=True)
            yield Button("", id="mode", compact=True, disabled=self.locked)
            yield Button("", id="time", compact=True, disabled=self.locked)
            yield Button("Back (Esc)", id="back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.show_settings()
        self.query_one("#start", Button).focus()

    @property
    def mode(self) -> str:
        """The trainee's preference, kept by the app (and the records) from one scenario to the next."""
        return self.app.mode  # type: ignore[attr-defined,no-any-return]

    @property
    def time_pressure(self) -> bool:
        return self.app.time_pressure  # type: ignore[attr-defined,no-any-return]

    def show_settings(self) -> None:
        self.query_one("#mode", Button).label = f"Mode: {self.mode} (m)"
        self.query_one("#time", Button).label = f"Time pressure: {'on' if self.time_pressure else 'off'} (t)"

    def action_toggle_mode(self) -> None:
        self.app.set_mode("assessment" if self.mode == "coach" else "coach")  # type: ignore[attr-defined]
        self.show_settings()

    def action_toggle_time(self) -> None:
        self.app.set_time_pressure(not self.time_pressure)  # type: ignore[attr-defined]
        self.show_settings()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"start": self.action_start, "mode": self.action_toggle_mode, "time": self.action_toggle_time}
        actions.get(event.button.id or "", self.action_back)()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_start(self) -> None:
        self.app.start_play(self.entry, self.mode, self.time_pressure)  # type: ignore[attr-defined]
