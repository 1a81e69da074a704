"""The trainee app: sign in -> library -> briefing -> play -> debrief.

The app owns the services (records store, config, the loaded library) and moves between
screens; the screens show things and ask the app to act. Every attempt is recorded as it
happens through ``simulator.recorder``; an unfinished one is offered for resume at sign-in.

With ``watch`` (``crisis-sim play FILE --watch``) the app is a playtest: the play screen reloads
FILE whenever it is saved, and nothing is recorded (no attempt is opened or offered for resume).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.constants import DEFAULT_THEME
from textual.driver import Driver
from textual.screen import ModalScreen, Screen

from simulator.config import Config, last_trainee, load_config, remember_trainee
from simulator.records import MODES, Progress, RecordsStore, StoreError, open_store
from simulator.safetext import escaped_line, strip_unsafe
from simulator.tui.commands import ScenarioCommands
from simulator.tui.screens.library import LibraryScreen
from simulator.tui.screens.signin import SignInScreen
from simulator.tui.widgets.notice import too_small

if TYPE_CHECKING:
    from simulator.engine import Session
    from simulator.recorder import Recorder

# Start-up imports only what the sign-in form and the library need (textual, the config, the
# records store, the library cache's entries). The engine, the recorder, grading and the
# briefing, play, debrief, history, help and dialog screens are imported where they are first
# used: together they were most of the time to the first interactive screen (issue 16), and
# tests/tui/test_startup.py keeps them off that path.


def _screen_class(module: str, name: str) -> type[Screen[Any]] | None:
    """A screen class if its module is imported, else None. A module never imported has no
    screen on the stack, so asking "is one shown?" need not import it (and its engine)."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name) if loaded is not None else None


def _play_screen() -> type[Screen[Any]] | None:
    return _screen_class("simulator.tui.screens.play", "PlayScreen")


def _history_screen() -> type[Screen[Any]] | None:
    return _screen_class("simulator.tui.screens.history", "HistoryScreen")


class CrisisSimApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "crisis-sim"
    COMMANDS = App.COMMANDS | {ScenarioCommands}
    BINDINGS = [
        Binding("ctrl+q", "request_quit", "Quit", priority=True, show=False),
        Binding("f1", "help", "Help", show=False),
    ]

    def __init__(
        self,
        entries: Sequence[Any],
        store: RecordsStore,
        *,
        config: Config | None = None,
        trainee: str | None = None,
        trainee_name: str | None = None,
        start_with: Any = None,
        watch: Path | None = None,
        rubric_ref: str | None = None,
        max_bytes: int | None = None,
        served: bool = False,
        skipped: Sequence[Path] = (),
    ) -> None:
        super().__init__()
        self.served = served
        """Signed in by the classroom server (``crisis-sim serve``: the academy's sign-in): no
        sign-in form, and nothing about the trainee remembered on the server."""
        self.skipped = list(skipped)
        """Scenario files of the library that have errors and are not listed (said once at start)."""
        self.entries = list(entries)
        self.store = store
        self.config = config or Config()
        self.trainee_id = trainee or ""
        self.trainee_name = trainee_name or trainee or ""
        self.start_with = start_with
        self.locked = self.config.academy.locked
        self.watch = watch
        """The scenario file a playtest watches; when set, no attempt is recorded."""
        self.rubric_ref = rubric_ref
        self.max_bytes = max_bytes
        """The scenario size cap (--max-bytes, else the config's), for reloads."""
        self.records_error: str | None = None
        """Why the app stopped early: the records file failed mid-session (see _handle_exception)."""
        self.mode = "assessment"
        """How the next scenario is played ('assessment' or 'coach'): the trainee's preference."""
        self.time_pressure = True
        """Whether timed scenes count down (off: they wait), the trainee's preference."""
        self.free_text = self.config.freetext.enabled
        """Whether decisions are answered in the trainee's own words (free-text play): the
        trainee's preference, else the academy's default (``[freetext] enabled``)."""
        self._matcher: Any = None
        """The free-text matcher, loaded once, when free-text play first starts."""
        self._saved_theme = DEFAULT_THEME
        self.last_played: str | None = None
        """The scenario played last, for the library to highlight when the trainee comes back to it."""

    # -- start-up and sign-in --

    def on_mount(self) -> None:
        if self.skipped:
            shown = ", ".join(escaped_line(str(p)) for p in self.skipped[:3])
            shown += ", ..." if len(self.skipped) > 3 else ""
            self.notify(f"{len(self.skipped)} scenario file(s) with errors are not in the library: {shown} "
                        "(crisis-sim validate FILE says why)", severity="warning", timeout=10, markup=False)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.trainee_id:
            self.sign_in(self.trainee_id, self.trainee_name)
        else:
            self.show_sign_in()

    def show_sign_in(self) -> None:
        """The sign-in form: filled with the last trainee on a personal machine, empty on a
        shared one (``[academy] shared_machine``), where nobody's id is offered to the next person."""
        last = None if self.config.academy.shared_machine else last_trainee()
        self.push_screen(SignInScreen(*(last or ("", ""))))

    def sign_in(self, trainee_id: str, name: str) -> None:
        self.trainee_id, self.trainee_name = trainee_id, name
        self.store.ensure_trainee(trainee_id, name)
        if not (self.served or self.config.academy.shared_machine):  # a server, or a shared machine: remember nobody
            remember_trainee(trainee_id, name)
        self.load_preferences()
        if isinstance(self.screen, SignInScreen):
            self.switch_screen(LibraryScreen())
        else:
            self.push_screen(LibraryScreen())
        # The sign-in form that called this is being replaced: a dialog pushed from here would
        # send its answer to that dead screen (Textual delivers a dismissed screen's result to the
        # screen that pushed it). What follows runs from the app's own queue, so the app receives it.
        self.call_next(self._after_sign_in)

    def _after_sign_in(self) -> None:
        if self.start_with is not None:
            entry, self.start_with = self.start_with, None
            self.open_briefing(entry)
        else:
            self.offer_resume()

    def loaded(self, entry: Any) -> bool:
        """Load a library entry in full before it is shown or played; a file that no longer
        loads (changed or removed since the library was read) is one notice, and nothing opens."""
        graded = entry.load()
        if graded.ok:
            return True
        errors = [d for d in graded.diagnostics if d.severity == "error"]
        where = errors[0].format() if errors else str(entry.path)
        self.notify(f"{entry.info.title} cannot be opened: {where}", severity="error", timeout=10, markup=False)
        return False

    def action_sign_out(self) -> None:
        self.sign_out()

    def sign_out(self) -> None:
        """Back to an empty sign-in form. Nothing is lost: every decision is already recorded, and
        a scenario left midway is offered for resume at the next sign-in."""

        def leave(confirmed: bool | None = True) -> None:
            if not confirmed:
                return
            while len(self.screen_stack) > 1:
                self.pop_screen()
            self.trainee_id = self.trainee_name = ""
            self.mode, self.time_pressure = "assessment", True  # the next trainee's own, once signed in
            self.free_text = self.config.freetext.enabled
            self._saved_theme = DEFAULT_THEME
            self.theme = DEFAULT_THEME
            self.push_screen(SignInScreen())

        if self._on_stack(_play_screen()):
            from simulator.tui.screens.dialogs import Confirm

            self.push_screen(Confirm("Sign out? Your progress is saved; you can resume this scenario later.",
                                     "Sign out", "Stay"), leave)
        else:
            leave()

    def offer_resume(self) -> None:
        """After sign-in: offer the newest unfinished attempt whose scenario is here (every other
        one can be resumed or discarded from My attempts, or from its scenario's briefing)."""
        if self.watch is not None:
            return  # a playtest records nothing, so it resumes nothing either
        known = {e.info.id for e in self.entries}
        unfinished = [a for a in self.unfinished() if a.scenario_id in known]
        if unfinished:
            self.offer_attempt(unfinished[-1])

    def offer_attempt(self, attempt: Any) -> None:
        """Resume an unfinished attempt, start its scenario over, or discard it (kept in the
        records as abandoned, never deleted)."""
        entry = self.entry_by_id(attempt.scenario_id)
        if entry is None:
            self.notify(f"The scenario '{attempt.scenario_id}' is not in this library.", severity="warning",
                        markup=False)
            return
        decisions = len(self.store.decisions(attempt.id))

        def answer(choice: str | None) -> None:
            if choice == "resume":
                self.resume_attempt(entry, attempt)
            elif choice == "restart":
                self.store.abandon_attempt(attempt.id)
                self.back_to_library()
                self.call_next(self.open_briefing, entry)
            elif choice == "discard":
                self.store.abandon_attempt(attempt.id)
                self.notify("Discarded: the attempt is kept in the records as abandoned.", timeout=4)
                self.refresh_lists()

        from simulator.tui.screens.dialogs import ResumeOffer

        self.push_screen(ResumeOffer(entry.info.title, decisions), answer)

    def unfinished(self, scenario_id: str | None = None) -> list[Any]:
        """This trainee's attempts in progress (of one scenario, when given), oldest first."""
        if self.watch is not None or not self.trainee_id:
            return []
        return list(self.store.attempts(trainee=self.trainee_id, scenario=scenario_id, status="in_progress",
                                        include_scripted=False))

    def my_attempts(self) -> list[Any]:
        """Every attempt of the signed-in trainee, oldest first (My attempts)."""
        return list(self.store.attempts(trainee=self.trainee_id)) if self.trainee_id else []

    def entry_by_id(self, scenario_id: str) -> Any | None:
        return next((e for e in self.entries if e.info.id == scenario_id), None)

    def refresh_lists(self) -> None:
        """Show a change in the records on the screens that list them."""
        history = _history_screen()
        kinds = (LibraryScreen, history) if history is not None else (LibraryScreen,)
        for screen in self.screen_stack:
            if isinstance(screen, kinds) and screen.is_mounted:
                screen.refresh_rows()

    def progress(self) -> dict[str, Progress]:
        return self.store.progress(self.trainee_id)

    def _on_stack(self, *kinds: type[Screen[Any]] | None) -> bool:
        """Whether a screen of one of ``kinds`` is open (None: a screen never imported, so none)."""
        shown = tuple(kind for kind in kinds if kind is not None)
        return bool(shown) and any(isinstance(s, shown) for s in self.screen_stack)

    # -- My attempts --

    def action_my_attempts(self) -> None:
        if not self.trainee_id or self._on_stack(_play_screen(), SignInScreen):
            return
        history = _history_screen()
        if history is not None and isinstance(self.screen, history):
            return
        from simulator.tui.screens.history import HistoryScreen

        self.back_to_library()
        self.call_next(self.push_screen, HistoryScreen())

    def open_attempt(self, attempt: Any) -> None:
        """From My attempts: a finished attempt's debrief, or the offer for an unfinished one."""
        if attempt.status == "completed":
            self.show_past_debrief(attempt)
        elif attempt.status == "in_progress":
            self.offer_attempt(attempt)
        else:
            self.notify("This attempt was discarded; it stays in the records as abandoned.", timeout=4)

    def played_entry(self, attempt: Any) -> Any | None:
        """The scenario and rubric exactly as the attempt was played (same content hashes): from
        the library, or from the file it was played from. None when that content is gone."""
        from scoring.catalog import load_graded
        from scoring.library_cache import LibraryEntry

        def same(entry: Any) -> bool:
            return (entry.scenario.sha256, entry.rubric.sha256) == (attempt.scenario_sha256, attempt.rubric_sha256)

        # The file's hash is known without loading it: only the entry it matches is loaded.
        candidates = (e for e in self.entries
                      if e.info.id == attempt.scenario_id and e.sha256 == attempt.scenario_sha256)
        found = next((e for e in candidates if e.load().ok and same(e)), None)
        if found is None and attempt.scenario_path and Path(attempt.scenario_path).is_file():
            graded = load_graded(Path(attempt.scenario_path), attempt.rubric_id, max_bytes=self.max_bytes)
            found = LibraryEntry.of(graded, attempt.rubric_id, self.max_bytes) if graded.ok and same(graded) else None
        return found

    def show_past_debrief(self, attempt: Any) -> None:
        """Reopen a finished attempt's debrief: the grade derived again from its decisions, with
        the scenario and rubric it was played with."""
        from scoring.grading import grade

        entry = self.played_entry(attempt)
        if entry is None:
            self.notify(
                f"'{attempt.scenario_id}' has changed since this attempt (or its file is gone), so its debrief "
                f"cannot be rebuilt; the recorded score was {attempt.overall:g}.",
                severity="warning", timeout=8, markup=False,
            )
            return
        from scoring.report import said_by_sequence
        from simulator.recorder import flag_notes, stored_decisions
        from simulator.tui.screens.history import PastDebriefScreen

        decisions = stored_decisions(self.store, attempt.id)
        result = grade(entry.scenario, entry.rubric, decisions)
        self.push_screen(
            PastDebriefScreen(entry, result, attempt, flag_notes(self.store, attempt.id), said_by_sequence(decisions))
        )

    # -- moving between screens --

    def open_briefing(self, entry: Any, replace: bool = False) -> None:
        if isinstance(self.screen, ModalScreen):
            # A selection that arrived after a dialog opened (Enter, then q, queued together) is
            # stale: a briefing must never cover the quit question.
            return
        if not self.loaded(entry):
            return
        from simulator.tui.screens.briefing import BriefingScreen

        screen = BriefingScreen(entry, locked=self.locked)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def start_play(self, entry: Any, mode: str, time_pressure: bool) -> None:
        """A new attempt (starting over: this scenario's unfinished attempts are kept as abandoned)."""
        from simulator.engine import Session
        from simulator.recorder import begin
        from simulator.tui.screens.play import PlayScreen

        session = Session(entry.scenario)
        if self.watch is not None:  # a playtest: no recorder, and live reload of the watched file
            watched = self.watch if Path(entry.scenario.path).resolve() == self.watch.resolve() else None
            self.switch_screen(
                PlayScreen(
                    entry,
                    session,
                    None,
                    mode,
                    time_pressure,
                    watch=watched,
                    rubric_ref=self.rubric_ref,
                    answers=self.answers_for(entry),
                )
            )
            return
        for attempt in self.unfinished(entry.info.id):
            self.store.abandon_attempt(attempt.id)
        recorder = begin(
            self.store,
            self.trainee_id,
            entry.scenario,
            entry.rubric,
            mode=mode,
            front_end="app",
            time_pressure=time_pressure,
            cohort=self.config.academy.cohort,
            trainee_name=self.trainee_name,
        )
        session.subscribe(recorder)
        self.last_played = entry.info.id
        self.switch_screen(PlayScreen(entry, session, recorder, mode, time_pressure, answers=self.answers_for(entry)))

    def resume_attempt(self, entry: Any, attempt: Any) -> None:
        if not self.loaded(entry):
            return
        from simulator.recorder import ResumeRefused, resume
        from simulator.tui.screens.play import PlayScreen

        try:
            session, recorder = resume(self.store, attempt, entry.scenario, entry.rubric)
        except ResumeRefused as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        # As it was played: its mode and time pressure (an attempt from before these were recorded
        # takes the trainee's preference); a locked academy always plays assessment, timed.
        mode = attempt.mode if attempt.mode in MODES else self.mode
        pressure = self.time_pressure if attempt.time_pressure is None else attempt.time_pressure
        if self.locked:
            mode, pressure = "assessment", True
        self.back_to_library()  # from the library, a briefing or My attempts: play over the library
        self.last_played = entry.info.id
        screen = PlayScreen(entry, session, recorder, mode, time_pressure=pressure, answers=self.answers_for(entry))
        self.call_next(self.push_screen, screen)

    def finish_attempt(self, entry: Any, session: Session, recorder: Recorder | None) -> Any:
        """Grade a session that reached its ending and store the grade (a playtest only grades)."""
        from scoring.grading import grade

        if recorder is not None:
            return recorder.finish(session, entry.rubric)
        return grade(session.scenario, entry.rubric, session.decisions)

    def show_debrief(
        self, entry: Any, result: Any, recorder: Recorder | None = None, said: dict[int, str] | None = None
    ) -> None:
        """The debrief takes the play screen's place (the ending was read there), with the
        instructor's flags on the recorded attempt; ``said``: what the trainee typed at each
        decision in free-text play."""
        from simulator.recorder import flag_notes
        from simulator.tui.screens.debrief import DebriefScreen
        from simulator.tui.screens.play import PlayScreen

        while len(self.screen_stack) > 2 and not isinstance(self.screen, PlayScreen):
            self.pop_screen()
        flags = flag_notes(recorder.store, recorder.attempt_id) if recorder else {}
        self.switch_screen(DebriefScreen(entry, result, flags, said))

    def answers_for(self, entry: Any) -> Any:
        """Free-text play of ``entry`` (None when the trainee plays from the list). The matcher is
        loaded once; without the [freetext] extra it is the lexical fallback, and the app says so."""
        if not self.free_text:
            return None
        from scoring.phrases import Answers
        from simulator.freetext import load_matcher

        if self._matcher is None:
            self._matcher = load_matcher()
            if self._matcher.note:
                self.notify(f"Free text: {self._matcher.note}; it will ask more often which option you mean.",
                            severity="warning", timeout=8, markup=False)
        return Answers.for_play(entry.scenario, entry.rubric, self._matcher)

    def entry_reloaded(self, old: Any, new: Any) -> None:
        """A playtest reloaded a scenario: the library (and a replay) use the new version."""
        from scoring.library_cache import LibraryEntry

        entry = LibraryEntry.of(new, self.rubric_ref, self.max_bytes)
        self.entries = [e for e in self.entries if e is not old and e.info.id != entry.info.id] + [entry]

    def back_to_library(self) -> None:
        while len(self.screen_stack) > 2 and not isinstance(self.screen, LibraryScreen):
            self.pop_screen()
        if not isinstance(self.screen, LibraryScreen):
            self.switch_screen(LibraryScreen())

    # -- a records file that fails while the app runs --

    def _handle_exception(self, error: Exception) -> None:
        """A records error (disk full, file made read-only or locked too long) can surface in any
        handler that writes: the app cannot go on recording, so it exits cleanly with the one-line
        reason (``crisis-sim`` prints it) instead of Textual's traceback. Decisions committed
        before stay in the file and the attempt can be resumed. Anything else is a bug: Textual's
        own handling shows it."""
        if isinstance(error, StoreError):
            if self.records_error is None:
                self.records_error = f"{error}; the choices before this one are saved, and the app offers to resume"
                self.exit(return_code=1)
            return
        super()._handle_exception(error)

    # -- input from the terminal --

    def get_driver_class(self) -> type[Driver]:
        """Textual's choice of driver, except that its terminal driver survives input bytes that
        are not UTF-8 and its web driver ends the app when its server goes away
        (``simulator.tui.driver``)."""
        chosen = super().get_driver_class()
        if chosen.__name__ not in ("LinuxDriver", "WebDriver"):  # Windows, TEXTUAL_DRIVER's own: as chosen
            return chosen
        from textual.drivers.linux_driver import LinuxDriver
        from textual.drivers.web_driver import WebDriver

        from simulator.tui.driver import LenientInputDriver, ServedWebDriver

        return {LinuxDriver: LenientInputDriver, WebDriver: ServedWebDriver}.get(chosen, chosen)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(too_small(event.size.width, event.size.height), "-too-small")

    async def on_event(self, event: events.Event) -> None:
        # A paste is the one way escape sequences and bidi overrides reach a text field, and it
        # reaches every field, Textual's own too (the command palette): clean it at the door.
        if isinstance(event, events.Paste):
            event.text = strip_unsafe(event.text)
        await super().on_event(event)

    # -- preferences: per trainee, in the records store (so they follow the trainee to any
    #    machine that shares it), never in a local file --

    def load_preferences(self) -> None:
        """The signed-in trainee's mode, time pressure and theme (locked mode keeps its own)."""
        saved = self.store.preferences(self.trainee_id)
        if not self.locked:
            self.mode = saved.get("mode") if saved.get("mode") in MODES else "assessment"
            self.time_pressure = saved.get("time_pressure") != "off"
        default = self.config.freetext.enabled
        self.free_text = {"on": True, "off": False}.get(saved.get("free_text", ""), default)
        theme = saved.get("theme")
        self._saved_theme = theme if theme in self.available_themes else DEFAULT_THEME
        self.theme = self._saved_theme

    def save_preference(self, name: str, value: str) -> None:
        if self.trainee_id and self.watch is None:  # a playtest records nothing, preferences neither
            self.store.set_preference(self.trainee_id, name, value)

    def _theme_changed(self, theme: Any) -> None:
        if self.trainee_id and theme.name != self._saved_theme:
            self._saved_theme = theme.name
            self.save_preference("theme", theme.name)

    def set_mode(self, mode: str) -> None:
        if not self.locked and mode in MODES:
            self.mode = mode
            self.save_preference("mode", mode)

    def set_time_pressure(self, on: bool) -> None:
        if not self.locked:
            self.time_pressure = on
            self.save_preference("time_pressure", "on" if on else "off")

    def set_free_text(self, on: bool) -> None:
        self.free_text = on
        self.save_preference("free_text", "on" if on else "off")

    def action_toggle_free_text(self) -> None:
        self.set_free_text(not self.free_text)
        self._preferences_changed()

    def action_toggle_mode(self) -> None:
        self.set_mode("assessment" if self.mode == "coach" else "coach")
        self._preferences_changed()

    def action_toggle_time_pressure(self) -> None:
        self.set_time_pressure(not self.time_pressure)
        self._preferences_changed()

    def _preferences_changed(self) -> None:
        screen = self.screen
        briefing = _screen_class("simulator.tui.screens.briefing", "BriefingScreen")
        if briefing is not None and isinstance(screen, briefing):
            screen.show_settings()  # type: ignore[attr-defined]
        mode = "coach" if self.mode == "coach" else "assessment"
        answers = ", free text" if self.free_text else ""
        self.notify(f"Next scenario: {mode} mode, time pressure {'on' if self.time_pressure else 'off'}{answers}",
                    timeout=3)

    # -- the command palette --

    def can_open_scenarios(self) -> bool:
        """Signed in and not in the middle of a scenario (leave it first: Escape)."""
        return bool(self.trainee_id) and not self._on_stack(_play_screen(), SignInScreen)

    def open_scenario(self, entry: Any) -> None:
        """The palette's 'Open scenario': its briefing, over the library."""
        if self.can_open_scenarios():
            self.back_to_library()
            self.call_next(self.open_briefing, entry)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The app's own commands, and Textual's with Quit asking first like q."""
        signed_in = bool(self.trainee_id) and not isinstance(screen, SignInScreen)
        if signed_in and not self._on_stack(_play_screen()):
            yield SystemCommand("My attempts", "Every attempt you made: reopen a debrief, resume or discard, "
                                "your trend", self.action_my_attempts)
        if signed_in and not self.locked:
            other = "assessment" if self.mode == "coach" else "coach"
            yield SystemCommand(f"Mode: switch to {other}", "Assessment: feedback at the end; coach: after each "
                                "choice (from the next scenario)", self.action_toggle_mode)
            state = "off" if self.time_pressure else "on"
            yield SystemCommand(f"Time pressure: turn {state}", "Off: timed scenes wait for you (from the next "
                                "scenario)", self.action_toggle_time_pressure)
        if signed_in:
            state = "off" if self.free_text else "on"
            yield SystemCommand(f"Free text: turn {state}", "On: answer each decision in your own words, then "
                                "confirm the closest option (from the next scenario)", self.action_toggle_free_text)
            yield SystemCommand("Sign out", "Back to the sign-in form; your progress is saved", self.sign_out)
        for command in super().get_system_commands(screen):
            if command.callback == self.action_quit:
                command = command._replace(help="Quit crisis-sim (asks first, like q)",
                                           callback=self.action_request_quit)
            yield command

    # -- always-available actions --

    def action_help(self) -> None:
        from simulator.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_request_quit(self) -> None:
        from simulator.tui.screens.dialogs import Confirm

        if isinstance(self.screen, Confirm):
            return

        def answer(quit_now: bool | None) -> None:
            if quit_now:
                self.exit()

        question = (
            "Quit the playtest? Nothing is recorded in watch mode."
            if self.watch is not None
            else "Quit crisis-sim? Anything you have played is saved; an unfinished scenario can be resumed."
        )
        self.push_screen(Confirm(question), answer)


def build_app(
    *,
    db: str | None = None,
    trainee: str | None = None,
    scenario_ref: str | None = None,
    rubric_ref: str | None = None,
    library: Path | None = None,
    dirs: Sequence[Path] = (),
    watch: bool = False,
    max_bytes: int | None = None,
    signed_in: str | None = None,
) -> CrisisSimApp:
    """Load everything the app needs (errors surface here, before the terminal is taken).

    The library is ``library`` (default: the bundled scenarios), then the academy's folders
    (``[library] dirs`` in the config), then ``dirs`` (``--dir``). ``watch`` (with
    ``scenario_ref``) makes the app a playtest of that file: live reload, and nothing recorded.
    ``signed_in``: the trainee the classroom server signed in (a checked id; ``crisis-sim
    serve``), with the display name the records hold for them."""
    from scoring.library_cache import LibraryEntry, scan
    from simulator.config import config_path, resolve_db, scenario_max_bytes
    from simulator.library import app_folders
    from simulator.sources import scenario_files

    config = load_config()
    max_bytes = scenario_max_bytes(max_bytes, config)
    folders = app_folders(library, config.library.dirs, dirs, config_path())
    store = open_store(resolve_db(db, config))
    # The library screen shows what the library cache knows; a scenario is loaded in full (and
    # validated again) only when it is opened.
    by_id: dict[str, Any] = {}  # a later folder's scenario replaces an earlier one with its id
    skipped: list[Path] = []
    for entry in scan(scenario_files(folders), rubric_ref=rubric_ref, max_bytes=max_bytes):
        if entry.ok and entry.info is not None:
            by_id.pop(entry.info.id, None)
            by_id[entry.info.id] = entry
        else:
            skipped.append(entry.path)
    entries = list(by_id.values())
    start_with = None
    watched: Path | None = None
    if watch and scenario_ref is None:
        raise ValueError("watch needs the scenario file to watch")
    if scenario_ref is not None:
        from scoring.catalog import load_graded  # the loader and the rubric: only for a file named here
        from simulator.diagnostics import DiagnosticError

        graded = load_graded(scenario_ref, rubric_ref, max_bytes=max_bytes)
        if not graded.ok:
            raise DiagnosticError([d for d in graded.diagnostics if d.severity == "error"])
        given = LibraryEntry.of(graded, rubric_ref, max_bytes)
        if watch:  # play this very file (not a library copy with the same content) and watch it
            watched = Path(graded.scenario.path)
            start_with = given
        else:
            start_with = next((e for e in entries if e.sha256 == graded.scenario.sha256), None) or given
        if start_with is given:  # it replaces a library scenario with its id (the library lists ids once)
            entries = [e for e in entries if e.info.id != graded.scenario.id] + [given]
    name: str | None = None
    if signed_in is not None:
        trainee, name = signed_in, store.display_name(signed_in)
    elif trainee is not None:
        last = last_trainee()
        if trainee == config.trainee.id:
            name = config.trainee.name
        elif last and last[0] == trainee:
            name = last[1]
    elif config.trainee.id:
        trainee, name = config.trainee.id, config.trainee.name
    return CrisisSimApp(
        entries,
        store,
        config=config,
        trainee=trainee,
        trainee_name=name,
        start_with=start_with,
        watch=watched,
        rubric_ref=rubric_ref,
        max_bytes=max_bytes,
        served=signed_in is not None,
        skipped=skipped,
    )
