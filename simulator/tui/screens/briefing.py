"""Briefing: dispatch information, objectives, the content warning, and the choice of mode,
with a clear way back out. When the trainee left this scenario unfinished, the briefing offers
to resume it (r) or start over (s: the unfinished attempts stay in the records as abandoned)."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from simulator.tui.text import parts, plain, prose
from simulator.tui.widgets.notice import SizeNotice


class BriefingScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,b", "back", "Back"),
        Binding("s", "start", "Start"),
        Binding("s", "start_over", "Start over"),
        Binding("r", "resume", "Resume"),
        Binding("m", "toggle_mode", "Mode"),
        Binding("t", "toggle_time", "Time pressure"),
        Binding("f", "toggle_free_text", "Free text"),
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
    ]

    def __init__(self, entry: object, locked: bool = False) -> None:
        super().__init__()
        self.entry = entry
        self.locked = locked
        self.unfinished: list[Any] = []
        """This trainee's unfinished attempts at the scenario, oldest first (read when shown)."""

    def compose(self) -> ComposeResult:
        s = self.entry.scenario  # type: ignore[attr-defined]
        self.unfinished = self.app.unfinished(s.id)  # type: ignore[attr-defined]
        yield SizeNotice()
        with VerticalScroll(id="briefing"):
            yield Static(parts((s.title, "bold"), f"  ·  {s.difficulty}  ·  about {s.minutes} min"), markup=False)
            # Free text is shown here, at the top, not as a button: the button row is full at 80x24.
            yield Static("", id="free-text", markup=False)
            if self.unfinished:
                with Vertical(id="unfinished"):
                    yield Static(plain(self.unfinished_text()), markup=False)
                    with Horizontal(classes="dialog-buttons"):
                        yield Button("Resume (r)", id="resume", variant="primary", compact=True)
                        yield Button("Start over (s)", id="restart", compact=True)
            if s.content_warning:
                yield Static(
                    parts(("Content warning: ", "bold"), s.content_warning, "\nEscape takes you back."),
                    markup=False,
                    id="content-warning",
                )
            yield Static(
                parts(("Briefing", "bold"), "\n", prose(s.briefing)), markup=False, id="dispatch"
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
                    "Time pressure off: timed scenes wait for you. "
                    "Free text: answer in your own words; the closest option is shown to confirm."
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

    def unfinished_text(self) -> str:
        newest = self.unfinished[-1]
        decisions = len(self.app.store.decisions(newest.id))  # type: ignore[attr-defined]
        older = len(self.unfinished) - 1
        more = f" ({older} older unfinished attempt(s) too: My attempts lists them)" if older else ""
        return (
            f"You left this scenario unfinished{more}: the newest attempt has {decisions} decision(s). "
            "r resumes it where you left off, with its mode and time pressure; s starts over (unfinished "
            "attempts stay in the records as abandoned)."
        )

    def on_mount(self) -> None:
        self.show_settings()
        self.query_one("#resume" if self.unfinished else "#start", Button).focus()
        if self.unfinished:
            self.query_one("#start", Button).display = False  # 'Start over' says what s does here

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("resume", "start_over"):
            return bool(self.unfinished)
        if action == "start":
            return not self.unfinished
        return True

    @property
    def mode(self) -> str:
        """The trainee's preference, kept by the app (and the records) from one scenario to the next."""
        return self.app.mode  # type: ignore[attr-defined,no-any-return]

    @property
    def time_pressure(self) -> bool:
        return self.app.time_pressure  # type: ignore[attr-defined,no-any-return]

    @property
    def free_text(self) -> bool:
        return self.app.free_text  # type: ignore[attr-defined,no-any-return]

    def show_settings(self) -> None:
        for button_id, label in (
            ("#mode", f"Mode: {self.mode} (m)"),
            ("#time", f"Time pressure: {'on' if self.time_pressure else 'off'} (t)"),
        ):
            button = self.query_one(button_id, Button)
            button.label = label
            button.refresh(layout=True)  # a longer label ('off', 'assessment') gets its width
        self.query_one("#free-text", Static).update(
            plain(
                "Free text: on (f): answer in your own words, then confirm the closest option."
                if self.free_text
                else "Free text: off (f): you pick from the options (f: answer in your own words)."
            )
        )

    def on_click(self, event: events.Click) -> None:
        if event.widget is not None and event.widget.id == "free-text":
            self.action_toggle_free_text()

    def action_toggle_mode(self) -> None:
        self.app.set_mode("assessment" if self.mode == "coach" else "coach")  # type: ignore[attr-defined]
        self.show_settings()

    def action_toggle_time(self) -> None:
        self.app.set_time_pressure(not self.time_pressure)  # type: ignore[attr-defined]
        self.show_settings()

    def action_toggle_free_text(self) -> None:
        self.app.set_free_text(not self.free_text)  # type: ignore[attr-defined]
        self.show_settings()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "start": self.action_start,
            "restart": self.action_start_over,
            "resume": self.action_resume,
            "mode": self.action_toggle_mode,
            "time": self.action_toggle_time,
        }
        actions.get(event.button.id or "", self.action_back)()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_start(self) -> None:
        self.app.start_play(self.entry, self.mode, self.time_pressure)  # type: ignore[attr-defined]

    def action_start_over(self) -> None:
        self.action_start()  # start_play keeps the unfinished attempts as abandoned

    def action_resume(self) -> None:
        if self.unfinished:
            self.app.resume_attempt(self.entry, self.unfinished[-1])  # type: ignore[attr-defined]
