"""Play: the transcript, the meters and notes, the numbered choices and the countdown.

The screen only drives a Session and shows its events; what a choice does, what is on offer and
how it is scored are decided by the engine and by scoring.grading.

In a playtest (``crisis-sim play FILE --watch``) the screen also watches FILE: when it is saved,
the scenario is reloaded and the decisions so far are replayed on it (``rebuild``), so the
instructor keeps their place; a file with errors is reported on screen and play goes on with the
last good version. The debug panel (``d``) shows the run's state and the current conditions.
"""

from __future__ import annotations

import hashlib
import textwrap
import time
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from simulator.engine import (
    ChoiceMade,
    ChoicesOffered,
    EndingReached,
    Event,
    ReplayError,
    SceneEntered,
    Session,
    SessionError,
    Stuck,
    TimedOut,
)
from simulator.freetext.core import MAX_TEXT, clean, has_words
from simulator.model import Scenario
from simulator.runner import stuck_text
from simulator.safefile import read_regular
from simulator.tui.screens.dialogs import Confirm, Paused
from simulator.tui.text import parts, plain, prose
from simulator.tui.widgets.debug import DebugPanel
from simulator.tui.widgets.inputs import SafeInput
from simulator.tui.widgets.meters import StatusPanel
from simulator.tui.widgets.notice import SizeNotice
from simulator.tui.widgets.transcript import MORE_BELOW, Transcript
from simulator.yamlsource import DEFAULT_MAX_BYTES

WATCH_INTERVAL = 0.5
"""Seconds between looks at a watched scenario file (a stat; the file is read only when it changed)."""
MAX_SHOWN_ERRORS = 5


def rebuild(scenario: Scenario, old: Session) -> tuple[Session, str | None]:
    """A started session of ``scenario`` at the place ``old`` had reached (its decisions
    replayed); or, when the place cannot be kept, a fresh start and the reason why."""
    if old.scene not in scenario.scenes:
        reason = f"scene '{old.scene}' no longer exists"
    else:
        try:
            return Session.replay(scenario, old.decisions), None
        except ReplayError as exc:
            reason = exc.reason
    fresh = Session(scenario)
    fresh.start()
    return fresh, f"{reason}: restarted"


def _since_last_decision(events: list[Event]) -> list[Event]:
    """The events that show where a session stands: those after its last decision."""
    last = max((i for i, e in enumerate(events) if isinstance(e, (ChoiceMade, TimedOut))), default=-1)
    return events[last + 1 :]


class PlayScreen(Screen[None]):
    BINDINGS = [
        *[Binding(str(n), f"choose_number({n})", show=False) for n in range(1, 10)],
        Binding("p", "pause", "Pause"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
        Binding("escape", "leave", "Leave"),
        Binding("t", "focus_transcript", "Transcript"),
        Binding("d", "toggle_debug", "Debug"),
        Binding("a", "answer_again", "Type again"),
    ]

    def __init__(
        self,
        entry: Any,
        session: Session,
        recorder: Any,
        mode: str,
        time_pressure: bool,
        *,
        watch: Path | None = None,
        rubric_ref: str | None = None,
        answers: Any = None,
    ) -> None:
        super().__init__()
        self.answers = answers
        """Free-text play (``scoring.phrases.Answers``), or None: the options are picked from a list."""
        self._said: str | None = None
        """In free-text play, what the trainee typed at this decision (None: not yet)."""
        self.entry = entry
        self.session = session
        self.recorder = recorder
        self.mode = mode
        self.time_pressure = time_pressure
        self.watch = watch
        """The scenario file this playtest reloads when it is saved (None: not a playtest)."""
        self.rubric_ref = rubric_ref
        self._deadline: float | None = None
        self._remaining: float | None = None
        self._timer: Timer | None = None
        self._finished = False
        self._offered: list[Option] = []
        """The options on show now: a selection of any other (a second Enter that arrived while the
        first was being handled) is stale and ignored."""
        self._continue: Option | None = None
        """The 'Continue to the debrief' option, once the ending is on screen."""
        self.grade: Any = None
        """The grade, stored the moment the ending is reached (before the trainee reads it)."""
        self._watch_timer: Timer | None = None
        self._seen_stamp: tuple[int, int, int] | None = None
        self._seen_hash = entry.scenario.sha256
        self._unreadable = 0
        self.load_errors: list[str] = []
        """The errors of the last reload that failed (empty once the file loads again)."""
        self._last_offer: ChoicesOffered | None = None
        self._coach_rubric: Any = None  # the entry's rubric as grading sees it, made on the first coaching

    # -- layout --

    def compose(self) -> ComposeResult:
        s = self.session.scenario
        yield SizeNotice()
        with Horizontal(id="play-top"):
            yield Static(self.title_content(), markup=False, id="play-title")
            yield Static("", id="countdown", markup=False)
        with Horizontal(id="play-body"):
            with Vertical(id="transcript-box"):
                more_below = Static(MORE_BELOW, id="more-below", markup=False)
                yield Transcript(id="transcript", more_below=more_below)
                yield more_below
            yield StatusPanel(s.meters, self.session.meters, id="status")
            if self.watch is not None:
                yield DebugPanel(id="debug")
        if self.watch is not None:  # above the choices, never in their place
            yield Static("", id="watch-errors", markup=False)
        with Vertical(id="choices-box"):
            if self.answers is not None:
                yield Static("", id="answer-note", markup=False)
                yield SafeInput(placeholder="What do you say or do?", id="answer", max_length=MAX_TEXT)
            yield OptionList(id="choices", markup=False)
        yield Footer()

    def title_content(self) -> Content:
        mode = "Coach mode" if self.mode == "coach" else "Assessment mode"
        playtest = "  ·  Playtest" if self.watch is not None else ""
        return parts((self.session.scenario.title, "bold"), f"  ·  {mode}{playtest}")

    def on_mount(self) -> None:
        if self.session.events:  # resumed: show the conversation so far, and where it stands
            transcript = self.query_one(Transcript)
            for event in self.session.events:
                if isinstance(event, (ChoiceMade, TimedOut)):
                    transcript.new_turn()
                self.show(event, history=True)
            transcript.show_turn()
            # A resumed timed scene counts down again, from its full time: how long the trainee had
            # already waited before leaving is not recorded (docs/records-and-exports.md).
            if self.session.waiting and self.session.timeout_seconds():
                self.start_countdown(self.session.timeout_seconds() or 0)
            if self.session.finished:  # the ending was reached but not yet read
                self.finish()
        self.session.subscribe(self.on_session_event)
        if not self.session.events:
            self.session.start()
        self.focus_answer()
        if self.watch is not None:
            self._watch_timer = self.set_interval(WATCH_INTERVAL, self.check_file)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_debug":
            return self.watch is not None  # a playtest tool: hidden (and off) in recorded play
        if action == "pause":
            return not self._finished  # no clock at the ending
        if action == "answer_again":
            return self.answers is not None and self._said is not None and not self._finished
        return True

    # -- engine events --

    def on_session_event(self, event: Event) -> None:
        transcript = self.query_one(Transcript)
        if isinstance(event, (ChoiceMade, TimedOut)):
            transcript.new_turn()  # the choice, its feedback and the next scene are read from the top
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
            transcript.show_turn()
        elif isinstance(event, Stuck):
            why = "Your decisions are saved" if event.reason == "decision-limit" else "This is a scenario error"
            transcript.ending(f"{stuck_text(event)}. {why}; press q to quit.")
            self.query_one("#choices", OptionList).clear_options()
        notes = [f.label for name, f in s.scenario.flags.items() if f.show and s.flags[name]]
        self.query_one(StatusPanel).refresh_values(s.meters, notes)
        self.refresh_debug()

    def offer(self, event: ChoicesOffered, history: bool) -> None:
        self._last_offer = event
        options = self.query_one("#choices", OptionList)
        options.clear_options()
        self._offered = [Option(plain(f"{c.position}. {c.text}"), id=c.id) for c in event.choices]
        options.add_options(self._offered)
        if event.choices:
            options.highlighted = 0
        if self.answers is not None:
            self.ask_for_words(bool(event.choices), focus=not history)
        self.stop_timer()
        if event.timeout_seconds and not history:
            self.start_countdown(event.timeout_seconds)
        if not history:
            self.query_one(Transcript).show_turn()

    # -- free-text play: the trainee's own words first, then the closest option to confirm --

    def ask_for_words(self, has_choices: bool, focus: bool) -> None:
        """A new decision in free-text play: the options are hidden until the trainee has said
        what they would say or do."""
        self._said = None
        note = self.query_one("#answer-note", Static)
        field = self.query_one("#answer", Input)
        self.query_one("#choices", OptionList).display = False
        field.display = has_choices
        field.value = ""
        note.update(
            plain("Type what you would say or do, in your own words, and press Enter.")
            if has_choices
            else plain("Nothing you say changes this moment: the time runs.")
        )
        if focus and has_choices:
            field.focus()
        self.refresh_bindings()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Match the typed answer (``Answers.match``: the matcher's one decision rule) and show
        the closest option, its text in full, to confirm; or, not understood, every option."""
        if event.input.id != "answer" or self.answers is None or self._finished or not self.session.waiting:
            return
        text = clean(event.value)
        note = self.query_one("#answer-note", Static)
        if not has_words(text):
            note.update(plain("Type what you would say or do first; the options are shown after."))
            return
        offered = self.session.offered()
        match = self.answers.match(text, offered)
        self._said = text
        options = self.query_one("#choices", OptionList)
        options.display = True
        ids = [c.id for c in offered]
        if match.choice in ids:
            position = ids.index(match.choice) + 1
            options.highlighted = position - 1
            note.update(
                parts(
                    ("Closest option", "bold"),
                    f" (confidence {match.confidence:.2f}): {position}. ",
                    " ".join(offered[position - 1].text.split()),
                    "\nEnter confirms it; another number picks that one; a types your answer again.",
                )
            )
        else:
            options.highlighted = None
            note.update(
                parts(
                    ("Not understood: ", "bold"),
                    f"{match.reason}. Pick an option by its number, or press a to type your answer again.",
                )
            )
        self.query_one("#answer", Input).display = False  # room for the options (a brings it back)
        options.focus()
        self.refresh_bindings()

    def action_answer_again(self) -> None:
        if self.answers is not None and not self._finished:
            field = self.query_one("#answer", Input)
            field.display = True
            field.focus()

    def focus_answer(self) -> None:
        """Focus where the trainee acts now: the answer field in free-text play before an answer,
        else the options."""
        if self.answers is not None and self._said is None and not self._finished:
            field = self.query_one("#answer", Input)
            if field.display:
                field.focus()
                return
        self.query_one("#choices", OptionList).focus()

    def start_countdown(self, seconds: int) -> None:
        if self.time_pressure:
            self._deadline = time.monotonic() + seconds
            self._timer = self.set_interval(0.25, self.tick)
            self.tick()

    def coach(self) -> None:
        """Coach the choice just made: that one decision judged as grading judges it, from the
        options the last offer showed (no replay of the run: a key press costs the same at the
        first decision and the hundredth)."""
        from scoring.grading import review_decision
        from scoring.report import advice, option_worth, points_text, principle_names, review_worth
        from scoring.rubric import effective_rubric

        decision, offer = self.session.decisions[-1], self._last_offer
        if offer is None or offer.scene != decision.scene:  # cannot happen: every choice follows an offer
            return
        if self._coach_rubric is None:
            self._coach_rubric = effective_rubric(self.entry.rubric, self.session.scenario)
        review = review_decision(
            self.session.scenario, self._coach_rubric, decision.scene, [c.id for c in offer.choices], decision
        )
        names = principle_names(self._coach_rubric)
        lines = [f"Coach: your choice was {review_worth(review)}.", f"Points: {points_text(review.earned, names)}."]
        if review.chosen.feedback:
            lines.append(f"Why: {prose(review.chosen.feedback)}")
        label, options = advice(review)
        for option in options:
            text = " ".join(option.text.split())
            lines.append(f"{label} {text} ({option_worth(option)}: {points_text(option.points, names)})")
            if option.feedback:
                lines.append(f"Because: {prose(option.feedback)}")
        if not options:
            best = "That was the best option on offer."
            lines.append(best if review.stakes else "Every option here counted the same.")
        self.query_one(Transcript).coaching("\n".join(lines))

    # -- the countdown --

    def tick(self) -> None:
        if self._deadline is None:
            return
        if not self.is_active:  # a dialog or help opened since the last tick: the clock waits for it
            self.hold_clock()
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
            with self.app.batch_update(), self.query_one(Transcript).batch():
                self.session.expire()

    # -- actions --

    def choose(self, choice_id: str) -> None:
        if self._finished or not self.session.waiting:
            return
        self.stop_timer()
        try:
            # one screen update, and one mount of the transcript's new entries, for all the events of this choice
            with self.app.batch_update(), self.query_one(Transcript).batch():
                self.session.choose(choice_id, self._said if self.answers is not None else None)
        except SessionError as exc:
            self.notify(str(exc), severity="warning", markup=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if self._continue is not None and event.option is self._continue:
            self.action_continue()
        elif any(event.option is o for o in self._offered) and event.option.id:
            self.choose(event.option.id)
        # else: a selection of options no longer on show (Enter pressed twice): nothing to do

    def action_choose_number(self, number: int) -> None:
        if self.answers is not None and self._said is None:
            return  # free-text play: the trainee's own words come first
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
        self.hold_clock()
        then()

    def hold_clock(self) -> None:
        """Stop the countdown, keeping the time left; ``on_screen_resume`` starts it again."""
        if self._deadline is not None:
            self._remaining = self._deadline - time.monotonic()
            self.stop_timer()

    def on_screen_resume(self) -> None:
        if self._remaining is not None and self.session.waiting and self._deadline is None:
            self._deadline = time.monotonic() + self._remaining
            self._timer = self.set_interval(0.25, self.tick)
            self._remaining = None
        if self._watch_timer is not None:
            self._watch_timer.resume()

    def on_screen_suspend(self) -> None:
        # Any screen on top (the quit or leave question, help, pause) stops the clock: a countdown
        # that ran out behind a dialog would end the scene under the trainee's answer.
        self.hold_clock()
        if self._watch_timer is not None:  # watch only while this screen is the one shown
            self._watch_timer.pause()

    def action_focus_transcript(self) -> None:
        """``t``: read the transcript with the arrow keys; ``t`` again goes back to the choices."""
        transcript = self.query_one(Transcript)
        if transcript.has_focus:
            self.focus_answer()
        else:
            transcript.focus()

    def action_leave(self) -> None:
        if self._finished:  # the ending: graded and stored already, nothing to ask
            self.app.back_to_library()  # type: ignore[attr-defined]
            return

        def answer(leave: bool | None) -> None:
            if leave:
                self.stop_timer()
                self.app.pop_screen()

        question = (
            "Leave this playtest? Nothing is recorded in watch mode."
            if self.watch is not None
            else "Leave this scenario? Your progress is saved; you can resume it later."
        )
        self.app.push_screen(Confirm(question, "Leave", "Stay"), answer)

    def finish(self) -> None:
        """The ending is reached: store the grade at once, then leave the ending on screen (its
        scene, lines and outcome) until the trainee continues to the debrief."""
        self._finished = True
        self.stop_timer()
        if self._watch_timer is not None:
            self._watch_timer.stop()
        if self.grade is None:
            self.grade = self.app.finish_attempt(self.entry, self.session, self.recorder)  # type: ignore[attr-defined]
        options = self.query_one("#choices", OptionList)
        options.clear_options()
        options.display = True
        for widget in self.query("#answer-note, #answer"):
            widget.display = False
        self._offered = []
        self._continue = Option(plain("Continue to the debrief (Enter)"), id="continue-to-debrief")
        options.add_option(self._continue)
        options.highlighted = 0
        options.focus()
        self.refresh_bindings()  # no pause at the ending

    def action_continue(self) -> None:
        if self._continue is not None:
            from scoring.report import said_by_sequence

            said = said_by_sequence(self.session.decisions)
            self.app.show_debrief(self.entry, self.grade, self.recorder, said)  # type: ignore[attr-defined]

    # -- the playtest: debug panel and live reload --

    def action_toggle_debug(self) -> None:
        if self.watch is None:
            return
        panel = self.query_one(DebugPanel)
        panel.display = not panel.display
        self.query_one(StatusPanel).display = not panel.display
        self.refresh_debug()

    def refresh_debug(self) -> None:
        if self.watch is not None and self.is_mounted:
            panel = self.query_one(DebugPanel)
            if panel.display:
                panel.show_session(self.session)

    def check_file(self) -> None:
        """Reload the watched file if it changed since the last look (stat first, then a hash)."""
        if self.watch is None or self._finished or not self.is_current:
            return
        try:
            st = self.watch.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            # A save within the file system's clock tick can keep mtime and size: while the
            # file is that fresh, compare contents as well.
            if stamp == self._seen_stamp and time.time_ns() - st.st_mtime_ns > 2_000_000_000:
                return
            raw = read_regular(self.watch, DEFAULT_MAX_BYTES)
        except OSError as exc:
            self._seen_stamp = None
            self._unreadable += 1
            if self._unreadable == 2:  # not just an editor replacing the file
                self.show_errors([f"{self.watch}: cannot read the file: {exc.strerror or exc}"])
            return
        self._unreadable = 0
        self._seen_stamp = stamp
        digest = hashlib.sha256(raw).hexdigest()
        if digest != self._seen_hash:
            self._seen_hash = digest
            self.reload()

    def show_errors(self, lines: list[str]) -> None:
        """List a failed reload's diagnostics above the choices (an empty list hides it): as many
        as fit in a quarter of the screen, whole, then how many more and the command that lists
        them all. The choices stay in sight."""
        self.load_errors = lines
        panel = self.query_one("#watch-errors", Static)
        if not lines:
            panel.display = False
            panel.update("")
            return
        assert self.watch is not None
        width = max(20, self.size.width - 4)  # inside the panel's border and padding
        rows = max(3, self.size.height // 4) - 2  # the panel's own border takes two rows

        def height(text: str) -> int:
            return len(textwrap.wrap(text, width)) or 1

        header = f"Not reloaded: {self.watch.name} has errors; play goes on with the last version that loaded."
        more_line = f"... and {len(lines)} more: crisis-sim validate {self.watch}"
        used = height(header) + height(more_line)
        shown: list[str] = []
        for line in lines[:MAX_SHOWN_ERRORS]:
            if used + height(line) > rows and shown:
                break
            shown.append(line)
            used += height(line)
        more = len(lines) - len(shown)
        text = "\n".join(
            [header, *shown, *([f"... and {more} more: crisis-sim validate {self.watch}"] if more else [])]
        )
        panel.update(plain(text))
        panel.display = True

    def on_resize(self) -> None:
        if self.load_errors:
            self.show_errors(self.load_errors)  # as many as fit the new size

    def reload(self) -> None:
        """Load the watched file again and carry the session over to it (see ``rebuild``).

        Synchronous on purpose: no key press can act on the session halfway through."""
        from scoring.catalog import load_graded

        assert self.watch is not None
        name = self.watch.name
        try:
            graded = load_graded(self.watch, self.rubric_ref, max_bytes=self.app.max_bytes)  # type: ignore[attr-defined]
        except Exception as exc:
            self.show_errors([f"{self.watch}: could not reload: {type(exc).__name__}: {exc}"])
            return
        if not graded.ok:  # the panel above the choices says so (a toast would cover the choices)
            errors = [d for d in graded.diagnostics if d.severity == "error"] or list(graded.diagnostics)
            self.show_errors([d.format() for d in errors] or [f"{self.watch}: the scenario could not be loaded"])
            return
        self.show_errors([])
        old, old_entry = self.session, self.entry
        session, reason = rebuild(graded.scenario, old)
        self.stop_timer()
        self._remaining = None
        meters_changed = graded.scenario.meters != old.scenario.meters
        old.listeners.clear()
        self.session, self.entry = session, graded
        self._coach_rubric = None
        session.subscribe(self.on_session_event)
        self.app.entry_reloaded(old_entry, graded)  # type: ignore[attr-defined]
        self.query_one("#play-title", Static).update(self.title_content())
        if meters_changed:
            self.query_one(StatusPanel).rebuild(graded.scenario.meters, session.meters)
        transcript = self.query_one(Transcript)
        with self.app.batch_update():
            transcript.new_turn()
            transcript.divider(f"reloaded {name}")
            if reason:
                transcript.notice(f"{reason[0].upper()}{reason[1:]}.")
                self.notify(reason, severity="warning", timeout=8, markup=False)
            elif session.scene != old.scene:
                self.notify(f"the decisions so far now lead to scene '{session.scene}'", timeout=6, markup=False)
            else:
                self.notify(f"reloaded {name}: same place, scene '{session.scene}'", timeout=3, markup=False)
            shown = session.events if reason else _since_last_decision(session.events)
            if not shown or not isinstance(shown[-1], ChoicesOffered):
                self.query_one("#choices", OptionList).clear_options()
            for event in shown:
                self.show(event, history=True)
            if session.waiting and session.timeout_seconds():
                self.start_countdown(session.timeout_seconds() or 0)
            transcript.show_turn()
        if session.finished:
            self.finish()
