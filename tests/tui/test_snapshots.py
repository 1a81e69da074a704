"""Looks: every screen at 80x24 and 120x40. Review the SVGs before accepting new snapshots
(pytest --snapshot-update, then open tests/tui/__snapshots__/)."""

from __future__ import annotations

import pytest
from conftest import BEST, SAMPLE

SIZES = [(80, 24), (120, 40)]


async def _to_play(pilot):
    await pilot.pause()
    await pilot.press("s")
    await pilot.pause()
    await pilot.press("2")  # slow-approach: the next scene has no countdown, so the picture is stable
    await pilot.pause()
    await pilot.press("1")
    await pilot.pause()


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
        await pilot.pause()
        await pilot.press("m")
        await _to_play(pilot)

    assert snap_compare(make_app(trainee="recruit-042", scenario_ref=str(SAMPLE)), terminal_size=size,
                        run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_debrief(snap_compare, make_app, size):
    from test_app import positions_for

    path = ["slow-approach", "calm-down", "repair", "ask-directly", "reasons", "call-sister", "invite-choice",
            "warm-handoff"]

    async def run_before(pilot):
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        for position in positions_for(path):
            await pilot.press(str(position))
            await pilot.pause()
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
        recorder = begin(store, "recruit-042", graded.scenario, graded.rubric, mode="assessment")
        session = Session(graded.scenario, [recorder])
        session.start()
        session.choose(BEST[0])
    assert snap_compare(make_app(trainee="recruit-042"), terminal_size=size)
