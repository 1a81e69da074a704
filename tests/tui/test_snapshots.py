"""Looks: every screen at 80x24 and 120x40. Review the SVGs before accepting new snapshots
(pytest --snapshot-update, then open tests/tui/__snapshots__/)."""

from __future__ import annotations

import pytest
from conftest import BEST, SAMPLE, choose, continue_to_debrief, start_play

SIZES = [(80, 24), (120, 40)]


async def _to_play(pilot, *briefing_keys):
    play = await start_play(pilot, *briefing_keys)
    await choose(pilot, play, "slow-approach")  # the next scene has no countdown: a stable picture
    await choose(pilot, play, "reflect-feeling")


@pytest.mark.parametrize("size", SIZES)
def test_signin(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_library(snap_compare, make_app, size):
    assert snap_compare(make_app(trainee="recruit-042"), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_briefing(snap_compare, make_app, size):
    assert snap_compare(make_app(trainee="recruit-042", scenario_ref=str(SAMPLE)), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_play_coach_mode(snap_compare, make_app, size):
    async def run_before(pilot):
        await _to_play(pilot, "m")

    assert snap_compare(make_app(trainee="recruit-042", scenario_ref=str(SAMPLE)), terminal_size=size,
                        run_before=run_before)


DEBRIEF_PATH = ["slow-approach", "calm-down", "repair", "ask-directly", "reasons", "call-sister", "invite-choice",
                "warm-handoff"]


@pytest.mark.parametrize("size", SIZES)
def test_ending(snap_compare, make_app, size):
    """The ending scene, its line and outcome on the play screen, and the way on to the debrief."""

    async def run_before(pilot):
        play = await start_play(pilot)
        for choice in DEBRIEF_PATH:
            await choose(pilot, play, choice)
        await pilot.pause(0.3)

    assert snap_compare(make_app(trainee="recruit-042", scenario_ref=str(SAMPLE)), terminal_size=size,
                        run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_debrief(snap_compare, make_app, size):
    async def run_before(pilot):
        play = await start_play(pilot)
        for choice in DEBRIEF_PATH:
            await choose(pilot, play, choice)
        await continue_to_debrief(pilot)
        await pilot.pause(0.3)

    assert snap_compare(make_app(trainee="recruit-042", scenario_ref=str(SAMPLE)), terminal_size=size,
                        run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, make_app, size):
    assert snap_compare(make_app(trainee="recruit-042"), terminal_size=size, press=["question_mark"])


@pytest.mark.parametrize("size", SIZES)
def test_quit_confirmation(snap_compare, make_app, size):
    assert snap_compare(make_app(trainee="recruit-042"), terminal_size=size, press=["q"])


@pytest.mark.parametrize("size", SIZES)
def test_resume_offer(snap_compare, make_app, size, tmp_path):
    from scoring.catalog import load_graded
    from simulator.engine import Session
    from simulator.recorder import begin
    from simulator.records import Store

    graded = load_graded(SAMPLE)
    with Store.open(tmp_path / "records.sqlite3") as store:
        recorder = begin(store, "recruit-042", graded.scenario, graded.rubric, mode="assessment", front_end="app",
                         time_pressure=True)
        session = Session(graded.scenario, [recorder])
        session.start()
        session.choose(BEST[0])
    assert snap_compare(make_app(trainee="recruit-042"), terminal_size=size)


def _two_finished_attempts(db):
    """Two finished attempts at the sample (a poorer one, then the best), with fixed start times."""
    from scoring.catalog import load_graded
    from simulator.engine import Session
    from simulator.recorder import begin
    from simulator.records import Store

    graded = load_graded(SAMPLE)
    with Store.open(db) as store:
        for n, path in enumerate((DEBRIEF_PATH, BEST)):
            recorder = begin(store, "recruit-042", graded.scenario, graded.rubric, mode="assessment",
                             front_end="app", time_pressure=n == 0)
            session = Session(graded.scenario, [recorder])
            session.start()
            for choice in path:
                session.choose(choice)
            recorder.finish(session, graded.rubric)
            store.write("UPDATE attempts SET started_at = ? WHERE id = ?",
                        (f"2026-03-0{n + 1}T09:00:00.000Z", recorder.attempt_id))


@pytest.mark.parametrize("size", SIZES)
def test_my_attempts(snap_compare, make_app, size, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")  # the list shows local times
    _two_finished_attempts(tmp_path / "records.sqlite3")
    assert snap_compare(make_app(trainee="recruit-042"), terminal_size=size, press=["a"])
