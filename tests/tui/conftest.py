"""App factory for TUI tests: a temp records file and a library folder holding only the
scenarios a test names, so tests (and snapshots) do not change when the library grows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from scenario_factory import SAMPLE_BEST
from textual.widgets import Static

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "scenarios" / "overpass-railing.yaml"
BEST = SAMPLE_BEST


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    return folder


@pytest.fixture
def make_app(tmp_path, library):
    from simulator.tui.app import build_app

    def factory(**kwargs):
        kwargs.setdefault("library", library)
        kwargs.setdefault("db", str(tmp_path / "records.sqlite3"))
        return build_app(**kwargs)

    return factory


# ---- Pilot helpers shared by the TUI tests ----------------------------------------------------


def transcript_text(screen) -> str:
    """Everything the play screen's transcript shows, as plain text."""
    from simulator.tui.widgets.transcript import Transcript

    return "\n".join(str(w.content) for w in screen.query_one(Transcript).query(Static))


async def wait_until(pilot, predicate, pauses=60):
    """Pause (0.1 s at a time, a bounded number of times) until ``predicate()`` is true: the
    tests wait for timers and file polling this way, never with timing assertions."""
    for _ in range(pauses):
        if predicate():
            return True
        await pilot.pause(0.1)
    return predicate()


async def start_play(pilot, *briefing_keys):
    """From the briefing: press ``briefing_keys`` (e.g. "m" for coach mode), then start."""
    from simulator.tui.screens.briefing import BriefingScreen
    from simulator.tui.screens.play import PlayScreen

    await pilot.pause()
    assert isinstance(pilot.app.screen, BriefingScreen)
    for key in briefing_keys:
        await pilot.press(key)
    await pilot.press("s")
    await pilot.pause()
    play = pilot.app.screen
    assert isinstance(play, PlayScreen)
    return play


def position_of(play, choice_id) -> int:
    """The 1-based number of a choice among those the play screen's session offers now."""
    return [c.id for c in play.session.offered()].index(choice_id) + 1


async def choose(pilot, play, choice_id):
    """Choose by the digit key of the choice's number, as a trainee would."""
    await pilot.press(str(position_of(play, choice_id)))
    await pilot.pause()


async def continue_to_debrief(pilot):
    """From the ending shown on the play screen (its scene, lines and outcome), on to the debrief
    with Enter, as a trainee does once they have read it."""
    from simulator.tui.screens.debrief import DebriefScreen
    from simulator.tui.screens.play import PlayScreen

    await pilot.pause(0.2)
    assert isinstance(pilot.app.screen, PlayScreen), f"the ending is shown first, not {pilot.app.screen}"
    await pilot.press("enter")
    await pilot.pause(0.2)
    assert isinstance(pilot.app.screen, DebriefScreen)
    return pilot.app.screen


def recorded_attempt(db, path=SAMPLE, trainee="recruit-042", choices=BEST, *, finish=True, mode="assessment",
                     time_pressure=True, started_at=None) -> str:
    """An attempt already in the records ``db``, played in the app as ``choices`` (finished and
    graded when ``finish``): for tests about what comes after. Returns its id."""
    from scoring.catalog import load_graded
    from simulator.engine import Session
    from simulator.recorder import begin
    from simulator.records import Store

    graded = load_graded(path)
    with Store.open(db) as store:
        recorder = begin(store, trainee, graded.scenario, graded.rubric, mode=mode, front_end="app",
                         time_pressure=time_pressure)
        session = Session(graded.scenario, [recorder])
        session.start()
        for choice in choices:
            session.choose(choice)
        if finish:
            recorder.finish(session, graded.rubric)
        if started_at is not None:
            store.write("UPDATE attempts SET started_at = ? WHERE id = ?", (started_at, recorder.attempt_id))
    return recorder.attempt_id
