"""Random keys, pastes, clicks and resizes against every screen of the trainee app (issue 8).

For each screen the app can show (sign-in, library, the resume offer, briefing, play in assessment,
coach, timed and playtest form, pause, the leave and quit dialogs, help, debrief) the app is driven
there the way a trainee gets there, then hypothesis sends a random plan: bursts of keys (every key
bound by the app, its screens and widgets, found by introspecting BINDINGS, plus navigation, ctrl
combinations, digits, letters and unicode of every plane including RTL and bidi controls), hostile
pastes (markup, terminal escapes, bidi overrides, 10,000 characters), text put straight into every
Input, clicks anywhere (on would-be ``[@click]`` links too) and terminal resizes.

Properties, checked after every step:
- no exception escapes (``run_test`` re-raises what the app caught) and the app never exits with
  an error code; no hang (an asyncio timeout inside, ``no_hang`` outside);
- the screen stack is one the app can reach: the default screen, then sign-in or the library
  (with at most one of briefing, play or debrief above it), then at most a few dialogs;
- a play screen's transcript shows one entry per decision its session made, and the records
  file holds exactly those decisions (each once, numbered 1..n) for the attempt;
- text typed or pasted into an Input never keeps a control, escape or bidi character, and the
  signed-in name is stored and shown literally.

Keys are sent in bursts (several key events queued before the app handles the first), as a
terminal delivers fast typing, key repeat or an unbracketed paste: that is how keys reach a screen
that is still being set up, or a dialog that has just been opened.

Countdowns run on a virtual clock that only ``wait`` actions move, so an example replays exactly
however busy the machine is. Budget: each screen gets a share of the hypothesis profile (see
``screen_share``); the regression tests at the end pin the bugs this fuzzing found.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import pkgutil
import re
import shutil
import sqlite3
import tempfile
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import BEST, SAMPLE, recorded_attempt, start_play, transcript_text, wait_until
from hang_guard import no_hang
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from scenario_factory import write
from textual import events
from textual.app import App
from textual.dom import DOMNode
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Static

import simulator.tui.screens
import simulator.tui.widgets
from simulator.records import Store
from simulator.safetext import strip_unsafe
from simulator.tui.app import CrisisSimApp, build_app
from simulator.tui.screens import play as play_module
from simulator.tui.screens.briefing import BriefingScreen
from simulator.tui.screens.debrief import DebriefScreen
from simulator.tui.screens.dialogs import Confirm, Paused, ResumeOffer
from simulator.tui.screens.help import HelpScreen
from simulator.tui.screens.history import HistoryScreen, PastDebriefScreen
from simulator.tui.screens.library import LibraryScreen
from simulator.tui.screens.play import PlayScreen
from simulator.tui.screens.signin import SignInScreen
from simulator.tui.widgets.transcript import Transcript

SIZE = (100, 30)
EXAMPLE_SECONDS = 60.0  # an asyncio timeout per example; a hang, not a slow run
HANG_SECONDS = 90.0  # the outer watchdog, for a hang outside the event loop

# ---- a scenario whose every text is hostile markup --------------------------------------------

HOSTILE_HEADER = """\
format: 1
id: hostile-markup
title: "[bold red]Hostile[/] [@click=app.quit]title[/]"
version: "1"
summary: "Summary [b]not bold[/b] [@click=app.exit]click[/] [$accent]x [/"
difficulty: introductory
minutes: 1
tags: [markup]
content_warning: "[blink]warning[/blink] [@click=app.quit]w[/]"
objectives:
  - "[@click=app.quit]objective[/]"
briefing: "Briefing [reverse]text[/reverse] [link=https://example.com]link[/link]"
resources:
  - "[@click=app.quit]resource[/] [B]"
rubric: default
cast:
  sam: {name: "[bold]Sam[/]", description: "[i]desc[/i]"}
meters:
  agitation: {start: 5, min: 0, max: 10, label: "[red]Agitation[/]", good: low}
  rapport: {start: 1, min: 0, max: 10, label: "Rapport [/]", good: high}
flags:
  asked: {label: "[@click=app.quit]Asked[/]", show: true}
"""

# Scene a times out after 1 s (the timed target lets the clock run between keys).
HOSTILE_BODY = """\
start: a
scenes:
  a:
    text: "[bold red]Narration[/] [@click=app.quit]click me[/]"
    lines:
      - {who: sam, says: "[@click=app.quit]quit[/] [B] [$accent]"}
    timeout:
      seconds: 1
      to: b
      feedback: "[b]timeout feedback[/b]"
    choices:
      - id: ask
        text: "[@click=app.quit]Ask[/]"
        to: b
        if: "visits(a) < 2"
        set: {asked: true}
        scores: {assess_safety_risk: 2}
        feedback: "[b]good[/b] [@click=app.quit]why[/]"
      - {id: stay, text: "[b]Stay[/b] [/]", to: a, effects: {agitation: 1}, feedback: "[i]stay[/i]"}
      - {id: leave, text: "Leave [@click=app.quit]now[/]", to: bad, feedback: "[red]no[/red]"}
  b:
    text: "Scene b [u]u[/u]"
    timeout: {seconds: 1, to: good, feedback: "[b]t[/b]"}
    choices:
      - {id: back, text: "[i]Back[/i]", to: a, feedback: "[i]b[/i]"}
      - {id: finish, text: "Finish [@click=app.quit]x[/]", to: good, feedback: "[b]f[/b]"}
  good:
    end: {rating: good, outcome: "[green]Good[/green] outcome", debrief: "[@click=app.quit]debrief[/]"}
  bad:
    end: {rating: poor, outcome: "[red]Bad[/] outcome", debrief: "[b]bad[/b]"}
"""


@pytest.fixture(scope="module")
def fuzz_library(tmp_path_factory) -> Path:
    """The sample scenario and the hostile one; read-only for every example."""
    folder = tmp_path_factory.mktemp("fuzz-library")
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    write(folder, HOSTILE_BODY, name="hostile-markup.yaml", header=HOSTILE_HEADER)
    return folder


# ---- the key alphabet, introspected -----------------------------------------------------------


def _tui_classes() -> set[type]:
    """The app and every screen and widget class the TUI modules define or import: their
    BINDINGS are what a trainee can press, so a binding added later is fuzzed without edits."""
    found: set[type] = {CrisisSimApp}
    for package in (simulator.tui.screens, simulator.tui.widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            found |= {o for o in vars(module).values() if inspect.isclass(o) and issubclass(o, DOMNode)}
    return found


def _bound_keys(cls: type) -> set[str]:
    keys = set(cls._merged_bindings.key_to_bindings) if cls._merged_bindings else set()  # type: ignore[attr-defined]
    if issubclass(cls, App) and cls.ENABLE_COMMAND_PALETTE:
        keys.add(cls.COMMAND_PALETTE_BINDING)
    return keys


# Keys a test must never send: ctrl+z would suspend the test process if anything ever bound it.
UNSAFE_KEYS = {"ctrl+z"}
NAVIGATION = ["tab", "shift+tab", "enter", "escape", "space", "backspace", "delete", "up", "down", "left",
              "right", "pageup", "pagedown", "home", "end", "shift+home", "shift+end"]
CONTROL = ["ctrl+a", "ctrl+c", "ctrl+d", "ctrl+e", "ctrl+k", "ctrl+p", "ctrl+q", "ctrl+u", "ctrl+v", "ctrl+w",
           "ctrl+x", "ctrl+left", "ctrl+right", "ctrl+home", "ctrl+end", "ctrl+pageup", "ctrl+pagedown", "f1",
           "f2", "f10", "alt+backspace"]
ALL_KEYS = sorted(set().union(*map(_bound_keys, _tui_classes()), NAVIGATION, CONTROL) - UNSAFE_KEYS)
PLAIN = list("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Astral, RTL, combining, zero-width and bidi characters, controls, and the markup characters.
ODD_CHARS = ["😀", "𝕏", "𓀀", "\U0010fffd", "ש", "ع", "ی", "\u202e", "\u202d", "\u2067", "\u200f", "\u061c", "é",
             "ß", "中", "\u0301", "\ufeff", "\u200b", "\u2028", "\x00", "\x1b", "\x7f", "\x9b", "[", "]", "/",
             "\\", "@", "$", "=", "?", " "]

HOSTILE_TEXT = [
    "[bold]x[/]", "[@click=app.quit]q[/]", "[@click=app.exit]x[/]", "[@click=screen.dismiss]x[/]", "[$accent]",
    "[B]", "[/]", "[", "\\[b]", "[link=file:///etc/passwd]x[/link]", "\x1b[31mred\x1b[0m", "\x1b]0;pwned\x07",
    "\x1b[2J\x1b[H", "\x1bP+q\x1b\\", "\x9b31m", "\u202eevil\u202c", "\u2066x\u2069", "\u200fRLM", "\x00", "\r\n2nd",
    "\t", "😀", "👩\u200d🚒", "𝕏𝕐", "שלום", "مرحبا", "Z\u0337\u0322a\u0338l", "\ufeff", "\u200b", "\u2028",
    '=HYPERLINK("x")', "%s%n{0}", "recruit-042", "Alex",
]


def key_event(key: str) -> events.Key:
    """The Key event ``Pilot.press(key)`` sends (Textual 8 ``App._press_keys``): a single
    character becomes its key name, a key name gets its character if it has one."""
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char: str | None = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


# ---- the plan hypothesis draws ----------------------------------------------------------------

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.lists(st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12)), min_size=1, max_size=6).map("".join),
    st.sampled_from(HOSTILE_TEXT).map(lambda s: (s * 10_000)[:10_000]),  # 10,000 characters
)
SIZES = [(100, 30), (80, 24), (60, 18), (120, 40), (30, 10)]

Action = tuple[str, Any]


def plan_for(own_keys: list[str], waits: bool) -> st.SearchStrategy[list[Action]]:
    key = st.one_of(
        st.sampled_from(own_keys),  # the keys this screen binds, so its actions really run
        st.sampled_from(ALL_KEYS),
        st.sampled_from(PLAIN),
        st.sampled_from(ODD_CHARS),
        st.characters(exclude_categories=["Cs"]),
    )
    keys = st.tuples(st.just("keys"), st.lists(key, min_size=1, max_size=6))
    choices = [
        keys,
        keys,
        keys,  # keys three times as often as anything else
        st.tuples(st.just("paste"), hostile_text),
        st.tuples(st.just("fill"), hostile_text),
        st.tuples(st.just("click"), st.tuples(st.integers(0, SIZE[0] - 1), st.integers(0, SIZE[1] - 1))),
        st.tuples(st.just("resize"), st.sampled_from(SIZES)),
    ]
    if waits:  # let a 1-second countdown run out between keys (as often as keys)
        wait = st.tuples(st.just("wait"), st.sampled_from([0.4, 0.7, 1.5]))
        choices += [wait, wait, wait]
    return st.lists(st.one_of(choices), min_size=2, max_size=8)


async def perform(pilot: Any, action: Action) -> None:
    kind, arg = action
    app = pilot.app
    if kind == "keys":  # queued together: the app handles them as fast as it can
        for key in arg:
            app._driver.send_message(key_event(key))
    elif kind == "paste":  # a bracketed paste, to whatever has focus
        app._driver.send_message(events.Paste(arg))
    elif kind == "fill":  # text put straight into the app's fields (what tests and autofill do)
        for box in app.screen.query(Input):
            if type(box).__module__.startswith("simulator."):  # Textual's own (the palette): keys and pastes only
                box.value = arg
    elif kind == "click":  # anywhere on the terminal as it is now (it may have been resized)
        await pilot.click(offset=(arg[0] % app.size.width, arg[1] % app.size.height))
    elif kind == "resize":
        await pilot.resize_terminal(*arg)
    elif kind == "wait":  # the countdown moves on by this much; the screen ticks every 0.25 s
        play_module.time.now += arg
        await pilot.pause(0.3)
    await pilot.pause()


# ---- the invariants ---------------------------------------------------------------------------

BASE_SHAPES = {
    (SignInScreen,),
    (LibraryScreen,),
    (LibraryScreen, BriefingScreen),
    (LibraryScreen, PlayScreen),
    (LibraryScreen, DebriefScreen),
    (LibraryScreen, HistoryScreen),
    (LibraryScreen, HistoryScreen, PastDebriefScreen),
}
DIALOGS = (Confirm, Paused, ResumeOffer, HelpScreen)
UNSAFE_TYPED = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def stack_names(app: App) -> list[str]:
    return [type(s).__name__ for s in app.screen_stack]


def check_stack(app: App) -> None:
    """The stack is one the app's own moves can build, whatever keys arrived in whatever order."""
    stack = app.screen_stack
    assert type(stack[0]) is Screen, stack_names(app)  # Textual's default screen, never replaced
    rest = stack[1:]
    first_dialog = next((i for i, s in enumerate(rest) if isinstance(s, ModalScreen)), len(rest))
    assert tuple(type(s) for s in rest[:first_dialog]) in BASE_SHAPES, stack_names(app)
    dialogs = rest[first_dialog:]
    assert all(isinstance(s, ModalScreen) for s in dialogs), stack_names(app)  # nothing full-screen on a dialog
    assert all(isinstance(s, DIALOGS) or type(s).__module__.startswith("textual.") for s in dialogs), stack_names(app)
    assert len(dialogs) <= 3, stack_names(app)


def check_play(app: App, play: PlayScreen) -> None:
    """One transcript entry per decision, and the records hold exactly the session's decisions."""
    if not play.is_mounted:
        return
    transcript = play.query_one(Transcript)
    shown = len(transcript.query(".-choice")) + len(transcript.query(".-timeout"))
    assert shown == len(play.session.decisions), (shown, play.session.decisions)
    if play.recorder is not None:
        stored = [(d.sequence, d.scene, d.choice) for d in app.store.decisions(play.recorder.attempt_id)]
        assert stored == [(d.sequence, d.scene, d.choice) for d in play.session.decisions]


def check_inputs(app: App) -> None:
    for box in app.screen.query(Input):
        assert not UNSAFE_TYPED.search(box.value), repr(box.value[:80])


def check_heading(app: CrisisSimApp) -> None:
    """The library names the trainee literally (cleaned of controls, never parsed as markup)."""
    for screen in app.screen_stack:
        if isinstance(screen, LibraryScreen) and screen.is_mounted:
            heading = str(screen.query_one("#library-heading", Static).content)
            assert app.trainee_name in heading, (heading, app.trainee_name)
            assert strip_unsafe(app.trainee_name) == app.trainee_name


def check_records(db: Path, trainee: tuple[str, str] | None) -> None:
    """After the run, straight from the file: every attempt's decisions are numbered 1..n (each
    stored once), a completed attempt has its grade, and the trainee's name is stored as shown."""
    if not db.exists():
        return
    conn = sqlite3.connect(db)
    try:
        for attempt_id, status, overall, grade_json in conn.execute(
            "SELECT id, status, overall, grade_json FROM attempts"
        ):
            sequences = [row[0] for row in conn.execute(
                "SELECT sequence FROM decisions WHERE attempt_id = ? ORDER BY sequence", (attempt_id,)
            )]
            assert sequences == list(range(1, len(sequences) + 1)), (attempt_id, sequences)
            assert status in ("in_progress", "completed", "abandoned")
            assert (status == "completed") == (overall is not None) == (grade_json is not None)
        if trainee is not None:
            [(name,)] = conn.execute("SELECT display_name FROM trainees WHERE id = ?", (trainee[0],)).fetchall()
            assert name == trainee[1]
    finally:
        conn.close()


# ---- getting to each screen -------------------------------------------------------------------


Drive = Callable[[Any, tuple[str, ...]], Awaitable[None]]


async def settle(pilot: Any, briefing_keys: tuple[str, ...]) -> None:
    await pilot.pause()


@dataclass
class Target:
    """How to build the app for a screen and drive it there, and which screen that is.
    ``briefing`` lists the briefing keys a play target draws from (m: coach mode, t: no clock)."""

    screen: type[Screen]
    app_kwargs: Callable[[Path], dict[str, Any]] = lambda folder: {"trainee": "fuzz"}
    drive: Drive = settle
    prepare: Callable[[Path, Path], None] | None = None
    waits: bool = False
    briefing: list[tuple[str, ...]] = field(default_factory=lambda: [()])


def sample_ref(folder: Path) -> dict[str, Any]:
    return {"trainee": "fuzz", "scenario_ref": str(folder / SAMPLE.name)}


def hostile_ref(folder: Path) -> dict[str, Any]:
    return {"trainee": "fuzz", "scenario_ref": str(folder / "hostile-markup.yaml")}


def play_then(*keys: str) -> Drive:
    async def drive(pilot: Any, briefing_keys: tuple[str, ...]) -> None:
        await start_play(pilot, *briefing_keys)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()

    return drive


async def quit_from_library(pilot: Any, briefing_keys: tuple[str, ...]) -> None:
    await pilot.pause()
    await pilot.press("q")
    await pilot.pause()


async def play_to_the_end(pilot: Any, briefing_keys: tuple[str, ...]) -> None:
    play = await start_play(pilot, *briefing_keys)
    for choice in BEST:
        play.choose(choice)
    await pilot.pause()
    play.action_continue()  # from the ending on the play screen to the debrief
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, DebriefScreen))
    await pilot.pause()


def unfinished_attempt(folder: Path, db: Path) -> None:
    """An attempt left after two decisions, so the app opens with the resume offer."""
    recorded_attempt(db, folder / SAMPLE.name, "fuzz", ["ask-dispatch", "slow-approach"], finish=False)


def finished_and_unfinished(folder: Path, db: Path) -> None:
    """A finished attempt and one left after two decisions: My attempts has both kinds."""
    recorded_attempt(db, folder / SAMPLE.name, "fuzz", BEST, mode="coach", time_pressure=False)
    unfinished_attempt(folder, db)


def keys_then(*keys: str) -> Drive:
    async def drive(pilot: Any, briefing_keys: tuple[str, ...]) -> None:
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()

    return drive


MODES = [(), ("m",), ("t",), ("m", "t")]  # assessment or coach mode, with or without the clock

TARGETS: dict[str, Target] = {
    "signin": Target(SignInScreen, app_kwargs=lambda folder: {}),
    "library": Target(LibraryScreen),
    "resume-offer": Target(ResumeOffer, prepare=unfinished_attempt),
    "briefing": Target(BriefingScreen, app_kwargs=sample_ref),
    "play": Target(PlayScreen, app_kwargs=sample_ref, drive=play_then(), briefing=MODES),
    # the hostile scenario's scenes time out after 1 s: ``wait`` actions let the clock run out
    "play-timed": Target(PlayScreen, app_kwargs=hostile_ref, drive=play_then(), waits=True, briefing=MODES[:2]),
    "playtest": Target(PlayScreen, app_kwargs=lambda folder: {**hostile_ref(folder), "watch": True},
                       drive=play_then("d"), waits=True, briefing=MODES[:2]),
    "paused": Target(Paused, app_kwargs=hostile_ref, drive=play_then("p"), waits=True),
    "leave-dialog": Target(Confirm, app_kwargs=hostile_ref, drive=play_then("escape"), waits=True),
    "quit-dialog": Target(Confirm, drive=quit_from_library),
    "help": Target(HelpScreen, app_kwargs=hostile_ref, drive=play_then("question_mark"), waits=True),
    "debrief": Target(DebriefScreen, app_kwargs=sample_ref, drive=play_to_the_end, briefing=MODES[:2]),
    # the resume offer first (later), then My attempts; its first row is the unfinished attempt
    "history": Target(HistoryScreen, prepare=finished_and_unfinished, drive=keys_then("l", "a")),
    "past-debrief": Target(PastDebriefScreen, prepare=finished_and_unfinished, drive=keys_then("l", "a", "down",
                                                                                               "enter")),
}

CI_EXAMPLES_PER_SCREEN = 3


def screen_share() -> settings:
    """The profile's examples shared among the screens: under ``--soak`` 2000 / 14, about 143
    app runs per screen. In CI (60 examples) each screen runs 3, not 5: every example starts the
    app and drives it to its screen, 0.5-2 s here (mostly Textual applying CSS to new screens),
    and 3 keeps the file near a minute. Never more than the profile allows. CI also skips
    shrinking (a failure is reported as drawn, at most 8 actions): shrinking a run this costly
    takes hypothesis its full five minutes per failing screen; ``--soak`` shrinks."""
    share = max(1, settings.default.max_examples // len(TARGETS))
    if settings.get_current_profile_name() == "ci":
        no_shrink = [phase for phase in settings.default.phases if phase != Phase.shrink]
        return settings(max_examples=min(share, CI_EXAMPLES_PER_SCREEN), phases=no_shrink)
    return settings(max_examples=share)


class VirtualClock:
    """The play screen's clock for the fuzzer: countdowns run out only when a ``wait`` action
    moves this clock on, never because the machine was slow, so every example replays exactly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time_ns(self) -> int:
        return time.time_ns()


@contextlib.contextmanager
def fresh_home() -> Iterator[Path]:
    """Each example its own home, user folders and working directory: the last trainee, the
    records and anything a palette command saves start empty, so an example replays exactly."""
    with tempfile.TemporaryDirectory(prefix="fuzz-keys-") as tmp, pytest.MonkeyPatch.context() as mp:
        home = Path(tmp)
        for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            mp.setenv(var, str(home / var.lower()))
        mp.setenv("HOME", str(home))
        mp.setenv("CRISIS_SIM_DB", str(home / "records.sqlite3"))
        mp.setenv("CRISIS_SIM_CONFIG", str(home / "no-config.toml"))
        mp.chdir(home)
        mp.setattr(play_module, "time", VirtualClock())
        yield home


async def fuzz(name: str, briefing_keys: tuple[str, ...], plan: list[Action], folder: Path, home: Path) -> None:
    target = TARGETS[name]
    db = home / "records.sqlite3"
    if target.prepare is not None:
        target.prepare(folder, db)
    app = build_app(library=folder, db=str(db), **target.app_kwargs(folder))
    plays: list[PlayScreen] = []

    def check() -> None:
        check_stack(app)
        plays.extend(s for s in app.screen_stack if isinstance(s, PlayScreen) and s not in plays)
        for play in plays:
            if play in app.screen_stack:  # one that was left or finished is being taken down
                check_play(app, play)
        check_inputs(app)
        check_heading(app)

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await target.drive(pilot, briefing_keys)
        assert isinstance(app.screen, target.screen), stack_names(app)
        check()
        for action in plan:
            await perform(pilot, action)
            if app.return_code is not None:  # quit (ctrl+q, y): nothing more reaches the app
                break
            check()
        signed_in = (app.trainee_id, app.trainee_name) if app.trainee_id else None
    # run_test has re-raised anything the app caught; a clean exit has no error code
    assert app.return_code in (None, 0)
    for play in plays:  # every decision of every session is in the file, once
        if play.recorder is not None:
            with Store.open(db) as store:
                stored = [(d.sequence, d.scene, d.choice) for d in store.decisions(play.recorder.attempt_id)]
            assert stored == [(d.sequence, d.scene, d.choice) for d in play.session.decisions]
    check_records(db, signed_in)


def run(name: str, briefing_keys: tuple[str, ...], plan: list[Action], folder: Path) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(fuzz(name, briefing_keys, plan, folder, home), EXAMPLE_SECONDS)

    with fresh_home() as home, no_hang(HANG_SECONDS, what=f"plan on the {name} screen"):
        asyncio.run(bounded())


def _own_keys(target: Target) -> list[str]:
    return sorted(_bound_keys(target.screen) - UNSAFE_KEYS) or ALL_KEYS


@pytest.mark.parametrize("name", list(TARGETS))
@screen_share()
@given(data=st.data())
def test_random_input_on_every_screen(name, data, fuzz_library):
    target = TARGETS[name]
    briefing_keys = data.draw(st.sampled_from(target.briefing), label="briefing keys")
    plan = data.draw(plan_for(_own_keys(target), target.waits), label="plan")
    run(name, briefing_keys, plan, fuzz_library)


# Plans that broke the app before it was fixed, replayed through the same harness (the fuzz
# test draws its plans with st.data(), which @example cannot feed).
KNOWN_PLANS = [
    # a paste put ESC sequences into the sign-in and filter fields, drawn raw to the terminal
    ("signin", (), [("paste", "\x1b[31mred\x1b[0m"), ("keys", ["ctrl+c"])]),
    ("library", (), [("keys", ["slash"]), ("paste", "\x1bP+q\x1b\\"), ("fill", "\u200fRLM\x13")]),
    # a paste into the command palette's field (Textual's own Input) kept U+202E and ESC
    ("resume-offer", (), [("keys", ["ctrl+p"]), ("paste", "\u202eevil\u202c\x1b[2J")]),
    # the countdown ran out twice behind the leave question: the debrief replaced the dialog
    ("leave-dialog", (), [("wait", 1.5), ("wait", 1.5)]),
    # Enter on the ending choice and q in one burst: the ending came after the quit question opened
    ("play-timed", ("t",), [("keys", ["down", "down", "enter", "q"])]),
]


@pytest.mark.parametrize(("name", "briefing_keys", "plan"), KNOWN_PLANS,
                         ids=[f"{p[0]}-{i}" for i, p in enumerate(KNOWN_PLANS)])
def test_plans_that_found_bugs(name, briefing_keys, plan, fuzz_library):
    run(name, briefing_keys, plan, fuzz_library)


def test_every_screen_module_is_a_fuzz_target():
    """A screen added to simulator/tui/screens must get a target here (or this fails)."""
    screens = {
        cls
        for cls in _tui_classes()
        if issubclass(cls, Screen) and cls.__module__.startswith("simulator.tui.screens")
    }
    assert screens <= {t.screen for t in TARGETS.values()}, screens - {t.screen for t in TARGETS.values()}


def test_key_alphabet_has_every_binding():
    """The introspection found the bindings (a refactor that hid them would fuzz nothing)."""
    for key in ("ctrl+q", "f1", "1", "9", "p", "d", "slash", "question_mark", "y", "n", "r", "s", "l", "m", "t"):
        assert key in ALL_KEYS
    assert not UNSAFE_KEYS & set(ALL_KEYS)


# ---- bugs the fuzzing found, and the text-safety promises, as plain examples ------------------

HOSTILE_NAME = "[bold]x[/] [@click=app.quit]q[/] [$accent] [B]"


def hostile_app(make_app: Any, library: Path, **kwargs: Any) -> CrisisSimApp:
    path = write(library, HOSTILE_BODY, name="hostile-markup.yaml", header=HOSTILE_HEADER)
    return make_app(scenario_ref=str(path), **kwargs)


@pytest.mark.parametrize("key", ["q", "escape"])
async def test_the_countdown_waits_while_the_quit_or_leave_question_is_open(make_app, library, monkeypatch, key):
    """A 1-s countdown ran out behind the quit (q) or leave (Escape) question, the scene moved
    on, and when it ended the debrief replaced the dialog, leaving the dead play screen under it
    (stack Screen, Library, Play, Debrief). The clock now stops under any screen on top."""
    clock = VirtualClock()
    monkeypatch.setattr(play_module, "time", clock)
    app = hostile_app(make_app, library, trainee="t-clock")
    async with app.run_test(size=SIZE) as pilot:
        play = await start_play(pilot)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        clock.now += 5  # far longer than the whole countdown
        await pilot.pause(0.3)  # the screen looks at the clock every 0.25 s
        assert isinstance(app.screen, Confirm) and play.session.decisions == []
        await pilot.press("n")  # stay
        await pilot.pause()
        assert app.screen is play
        clock.now += 1.5
        assert await wait_until(pilot, lambda: play.session.decisions)  # the clock goes on
        assert play.session.decisions[0].choice is None
        check_stack(app)
        check_play(app, play)


async def test_a_choice_queued_before_a_dialog_ends_the_scene_under_it_cleanly(make_app, library):
    """Enter on the choice that ends the scene, then q, in one burst (as the fuzzer sends keys):
    the choice is handled after the quit question opened, and the debrief used to replace the
    question and leave the finished play screen under it. Now the ending stays on the play screen
    (graded and stored at once) under the question, and the debrief waits for the trainee."""
    app = hostile_app(make_app, library, trainee="t-burst")
    async with app.run_test(size=SIZE) as pilot:
        play = await start_play(pilot, "t")  # no time pressure: only the keys act
        for key in ["down", "down", "enter", "q"]:  # the third choice ends the scenario
            app._driver.send_message(key_event(key))
        await pilot.pause()
        await pilot.pause()
        check_stack(app)
        assert [type(s) for s in app.screen_stack[1:]] in ([LibraryScreen, PlayScreen],
                                                         [LibraryScreen, PlayScreen, Confirm])
        assert play.session.finished and play.grade is not None
        assert [d.choice for d in play.session.decisions] == ["leave"]
    check_records(Path(app.store.path), ("t-burst", "t-burst"))


async def test_pasted_escape_sequences_and_bidi_overrides_never_reach_an_input(make_app):
    """A paste is the one way a trainee can put ESC or U+202E into a field (keys cannot type
    them); Textual would draw them raw. They are removed on the way in: the field shows what
    will be stored."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SignInScreen)
        trainee_id = screen.query_one("#trainee-id", Input)
        name = screen.query_one("#display-name", Input)
        trainee_id.focus()
        app._driver.send_message(events.Paste("\x1b[31mrecruit-042\x1b[0m\u202e"))
        await pilot.pause()
        assert trainee_id.value == "recruit-042"
        name.focus()
        app._driver.send_message(events.Paste("\u202eAlex\u202c \x1b]0;pwned\x07Doe\x9b2J\x00"))
        await pilot.pause()
        assert name.value == "Alex Doe"
        name.value = "\x1b[2JSam\u2066"  # set in code (autofill): cleaned too
        assert name.value == "Sam"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
        assert app.trainee_name == "Sam"
    check_records(Path(app.store.path), ("recruit-042", "Sam"))


async def test_a_10000_character_name_or_id_gets_a_clean_answer(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one("#trainee-id", Input).value = "r" * 10_000
        screen.query_one("#display-name", Input).value = "[b]" * 3_334
        await pilot.click("#signin-button")
        await pilot.pause()
        assert isinstance(app.screen, SignInScreen)  # refused, with the rule shown
        assert "1-64 letters" in str(screen.query_one("#signin-error", Static).content)
        screen.query_one("#trainee-id", Input).value = "recruit-042"
        await pilot.click("#signin-button")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
        assert app.trainee_name == ("[b]" * 20)  # cut to the 60 characters the field allows
    check_records(Path(app.store.path), ("recruit-042", "[b]" * 20))


async def test_a_markup_name_typed_at_sign_in_is_shown_and_stored_literally(make_app, library):
    app = hostile_app(make_app, library)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for typed in ("recruit-042", HOSTILE_NAME):  # key by key (Enter moves to the next field)
            for key in typed:
                app._driver.send_message(key_event(key))
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause()
        library_screen = app.screen_stack[1]
        assert isinstance(library_screen, LibraryScreen)
        heading = library_screen.query_one("#library-heading", Static)
        assert str(heading.content) == f"Scenario library · signed in as {HOSTILE_NAME} (recruit-042)"
        assert not heading.content.spans  # nothing was parsed into a style or a link
        await pilot.click(heading, offset=(38, 0))  # on the would-be [@click=app.quit]
        await pilot.pause()
        assert app.is_running and app.return_code is None
    check_records(Path(app.store.path), ("recruit-042", HOSTILE_NAME))


def _texts(screen: Screen) -> str:
    return "\n".join(str(w.content) for w in screen.query(Static))


async def test_scenario_markup_is_shown_literally_on_every_screen(make_app, library):
    """Markup in every text of a scenario (title, summary, lines, choices, meters, notes,
    feedback, endings, resources) reaches the screen as the characters in the file."""
    app = hostile_app(make_app, library, trainee="t-markup")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        briefing = app.screen
        assert isinstance(briefing, BriefingScreen)
        shown = _texts(briefing)
        for literal in ["[bold red]Hostile[/] [@click=app.quit]title[/]", "[blink]warning[/blink]",
                        "Briefing [reverse]text[/reverse] [link=https://example.com]link[/link]",
                        "• [@click=app.quit]objective[/]"]:
            assert literal in shown
        play = await start_play(pilot, "m", "t")  # coach mode shows the feedback; no clock
        assert "[bold red]Narration[/] [@click=app.quit]click me[/]" in transcript_text(play)
        assert "[bold]Sam[/]: [@click=app.quit]quit[/] [B] [$accent]" in transcript_text(play)
        options = [str(play.query_one(OptionList).get_option_at_index(i).prompt) for i in range(3)]
        assert options == ["1. [@click=app.quit]Ask[/]", "2. [b]Stay[/b] [/]", "3. Leave [@click=app.quit]now[/]"]
        assert "[red]Agitation[/]" in _texts(play) and "Rapport [/]" in _texts(play)
        await pilot.press("1")  # ask
        await pilot.pause()
        text = transcript_text(play)
        assert "▶ You: [@click=app.quit]Ask[/]" in text
        assert "Why: [b]good[/b] [@click=app.quit]why[/]" in text  # the coach's feedback
        assert "• [@click=app.quit]Asked[/]" in _texts(play)  # the note of a shown flag
        for x in range(0, 40, 4):  # click along the lines where would-be links are: nothing happens
            await pilot.click("#transcript", offset=(x, 0))
            await pilot.click("#status", offset=(x // 2, 0))
        await pilot.pause()
        assert app.is_running and app.return_code is None and app.screen is play
        while not play.session.finished:
            play.choose(play.session.offered()[-1].id)  # 'leave' or 'finish': an ending
        await pilot.pause()
        play.action_continue()
        assert await wait_until(pilot, lambda: isinstance(app.screen, DebriefScreen))
        await pilot.pause()
        debrief = _texts(app.screen)
        assert "Debrief: [bold red]Hostile[/] [@click=app.quit]title[/]" in debrief
        assert "• [@click=app.quit]resource[/] [B]" in debrief
        assert "outcome" in debrief and ("[red]Bad[/] outcome" in debrief or "[green]Good[/green] outcome" in debrief)
        await pilot.press("l")
        await pilot.pause()
        library_screen = app.screen
        assert isinstance(library_screen, LibraryScreen)
        preview = str(library_screen.query_one("#preview-text", Static).content)
        if "Hostile" in preview:
            assert "Summary [b]not bold[/b] [@click=app.exit]click[/] [$accent]x [/" in preview


async def test_escape_and_bidi_characters_in_a_scenario_never_reach_the_screen(make_app, library):
    """The loader either refuses such a file (a clean diagnostic) or removes the characters with a
    warning; either way nothing with ESC or a bidi override is drawn."""
    from simulator.diagnostics import DiagnosticError

    header = HOSTILE_HEADER.replace('title: "[bold red]Hostile[/]', 'title: "\\e[2J\\u202eHostile')
    body = HOSTILE_BODY.replace('text: "Scene b [u]u[/u]"', 'text: "Scene b \\e]0;pwned\\a \\u2066x"')
    body = body.replace('"[bold red]Narration[/]', '"\\e[31mNarration\\x9b0m')
    path = write(library, body, name="escapes.yaml", header=header.replace("id: hostile-markup", "id: escapes"))
    try:
        app = make_app(scenario_ref=str(path), trainee="t-esc")
    except DiagnosticError as exc:  # refused: one line per problem, naming the file
        assert all(str(path) in d.format() for d in exc.diagnostics)
        return
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = [_texts(app.screen)]
        play = await start_play(pilot, "t")
        play.choose("ask")
        await pilot.pause()
        shown.append(_texts(play))
        for text in shown:
            assert not UNSAFE_TYPED.search(text.replace("\n", " ").replace("\t", " ")), repr(text)
        assert "Hostile" in shown[0]
        assert "Narration" in shown[1] and "Scene b" in shown[1]


def test_enter_then_q_queued_together_never_covers_the_quit_question(fuzz_library):
    """Found by the key fuzzer: the library's Enter (a row selection, handled as a message) and q
    arriving together opened the briefing on top of the quit question."""
    plan = [("resize", (60, 18)), ("keys", ["enter", "pageup", "ctrl+shift+a", "q", "\U000691a2"]),
            ("keys", ["e", "é", "😀"]), ("fill", ("\r\n2nd" * 10000)[:10000])]
    run("library", (), plan, fuzz_library)
