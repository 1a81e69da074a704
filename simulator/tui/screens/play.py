"""Play: the transcript, the meters and notes, the numbered choices and the countdown.

The screen only drives a Session and shows its events; what a choice does, what is on offer and
how it is scored are decided by the engine and by scoring.grading.
"""

from __future__ import annotations

import time
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from simulator.engine import (
    ChoiceMade,
    ChoicesOffered,
    EndingReached,
    Event,
    SceneEntered,
    Session,
    SessionError,
    Stuck,
    TimedOut,
)
from simulator.runner import stuck_text
from simulator.tui.screens.dialogs import Confirm, Paused
from simulator.tui.text import parts, plain
from simulator.tui.widgets.meters import StatusPanel
from simulator.tui.widgets.transcript import Transcript


def _points(points: dict[str, int]) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {value:+d}" for name, value in points.items()) or "no points"


class PlayScreen(Screen[None]):
    BINDINGS = [
        *[Binding(str(n), f"choose_number({n})", show=False) for n in range(1, 10)],
        Binding("p", "pause", "Pause"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
        Binding("escape", "leave", "Leave"),
        Binding("t", "focus_transcript", "Transcript", show=False),
    ]

    def __init__(self, entry: Any, session: Session, recorder: Any, mode: str, time_pressure: bool) -> None:
        super().__init__()
        self.entry = entry
        self.session = session
        self.recorder = recorder
        self.mode = mode
        self.time_pressure = time_pressure
        self._deadline: float | None = None
        self._remaining: float | None = None
        self._timer: Timer | None = None
        self._finished = False

    # -- layout --

    def compose(self) -> ComposeResult:
        s = self.session.scenario
        mode = "Coach mode" if self.mode == "coach" else "Assessment mode"
        with Horizontal(id="play-top"):
            yield Static(parts((s.title, "bold"), f"  ·  {mode}"), markup=False, id="play-title")
            yield Static("", id="countdown", markup=False)
        with Horizontal(id="play-body"):
            yield Transcript(id="transcript")
            yield StatusPanel(s.meters, self.session.meters, id="status")
        with Vertical(id="choices-box"):
            yield OptionList(id="choices", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        if self.session.events:  # resumed: show the conversation so far
            for event in self.session.events:
                self.show(event, history=True)
        self.session.subscribe(self.on_session_event)
        if not self.session.events:
            self.session.start()
        self.query_one("#choices", OptionList).focus()

    # -- engine events --

    def on_session_event(self, event: Event) -> None:
        self.show(event, history=False)

    def show(self, event: Event, history: bool) -> None:
        transcript = self.query_one(Transcript)
        s = self.session
        if isinstance(event, SceneEntered):
            transcript.narration(event.text)
            for line in event.lines:
                transcript.spoken(line.name, line.says, line.who == "you")
        elif isinstance(event, ChoiceMade):
            transcript.chosen(event.text)
            if self.mode == "coach" and not history:
                self.coach()
        elif isinstance(event, TimedOut):
            transcript.timed_out(event.seconds)
        elif isinstance(event, ChoicesOffered):
            self.offer(event, history)
        elif isinstance(event, EndingReached):
            transcript.ending(f"Ending ({event.rating}): {event.outcome}")
            if not history:
                self.finish()
        elif isinstance(event, Stuck):
            transcript.ending(f"{stuck_text(event)}. This is a scenario error; press q to quit.")
            self.query_one("#choices", OptionList).clear_options()
        notes = [f.label for name, f in s.scenario.flags.items() if f.show and s.flags[name]]
        self.query_one(StatusPanel).refresh_values(s.meters, notes)

    def offer(self, event: ChoicesOffered, history: bool) -> None:
        options = self.query_one("#choices", OptionList)
        options.clear_options()
        options.add_options(Option(plain(f"{c.position}. {c.text}"), id=c.id) for c in event.choices)
        if event.choices:
            options.highlighted = 0
        self.stop_timer()
        if event.timeout_seconds and self.time_pressure and not history:
            self._deadline = time.monotonic() + event.timeout_seconds
            self._timer = self.set_interval(0.25, self.tick)
            self.tick()

    def coach(self) -> None:
        from scoring.grading import grade

        review = grade(self.session.scenario, self.entry.rubric, self.session.decisions).decisions[-1]
        lines = [f"Coach: {_points(review.earned)}."]
        if review.chosen.feedback:
            lines.append(f"Why: {' '.join(review.chosen.feedback.split())}")
        if review.best is not None:
            lines.append(f"Better: {' '.join(review.best.text.split())} ({_points(review.best.points)})")
            if review.best.feedback:
                lines.append(f"Because: {' '.join(review.best.feedback.split())}")
        else:
            lines.append("That was the best option on offer.")
        self.query_one(Transcript).coaching("\n".join(lines))

    # -- the countdown --

    def tick(self) -> None:
        if self._deadline is None:
            return
        left = self._deadline - time.monotonic()
        if left <= 0:
            self.stop_timer()
            self.expire()
            return
        self.query_one("#countdown", Static).update(plain(f"⏱ {int(left) + 1} s to decide"))

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = None
        self._deadline = None
        if self.is_mounted:
            self.query_one("#countdown", Static).update("")

    def expire(self) -> None:
        if self.session.waiting and self.session.timeout_seconds():
            with self.app.batch_update():
                self.session.expire()

    # -- actions --

    def choose(self, choice_id: str) -> None:
        if self._finished or not self.session.waiting:
            return
        self.stop_timer()
        try:
            with self.app.batch_update():  # one screen update for all the events of this choice
                self.session.choose(choice_id)
        except SessionError as exc:
            self.notify(str(exc), severity="warning")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.choose(event.option.id)

    def action_choose_number(self, number: int) -> None:
        offered = self.session.offered()
        if 1 <= number <= len(offered):
            self.choose(offered[number - 1].id)

    def action_pause(self) -> None:
        if self._deadline is not None:
            self._remaining = self._deadline - time.monotonic()
        self.stop_timer()

        def resumed(_: None) -> None:
            if self._remaining is not None and self.session.waiting:
                self._deadline = time.monotonic() + self._remaining
                self._timer = self.set_interval(0.25, self.tick)
            self._remaining = None

        self.app.push_screen(Paused(), resumed)

    def action_help(self) -> None:
        self.action_pause_for(self.app.action_help)

    def action_pause_for(self, then: Any) -> None:
        """Stop the clock while another screen is shown (help), and carry on after."""
        if self._deadline is not None:
            self._remaining = self._deadline - time.monotonic()
            self.stop_timer()
        then()

    def on_screen_resume(self) -> None:
        if self._remaining is not None and self.session.waiting and self._deadline is None:
            self._deadline = time.monotonic() + self._remaining
            self._timer = self.set_interval(0.25, self.tick)
            self._remaining = None

    def action_focus_transcript(self) -> None:
        self.query_one(Transcript).focus()

    def action_leave(self) -> None:
        def answer(leave: bool | None) -> None:
            if leave:
                self.stop_timer()
                self.app.pop_screen()

        self.app.push_screen(
            Confirm("Leave this scenario? Your progress is saved; you can resume it later.", "Leave", "Stay"), answer
        )

    def finish(self) -> None:
        self._finished = True
        self.stop_timer()
        self.query_one("#choices", OptionList).clear_options()
        self.app.show_debrief(self.entry, self.session, self.recorder)  # type: ignore[attr-defined]
