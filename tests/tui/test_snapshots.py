"""Looks: every screen at 80x24 and 120x40. Review the SVGs before accepting new snapshots
(pytest --snapshot-update, then open tests/tui/__snapshots__/)."""

from __future__ import annotations

import pytest
from conftest import BEST, SAMPLE, choose, continue_to_debrief, recorded_attempt, start_play

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


@pytest.mark.parametrize("size", SIZES)
def test_play_free_text_closest_option(snap_compare, make_app, size, monkeypatch):
    """Free-text play after an answer: the note with the closest option's number and text, the
    options with it highlighted (the lexical fallback, so the confidence is the same everywhere)."""
    monkeypatch.setattr("simulator.freetext.embedding.missing_modules", lambda: ["onnxruntime"])

    async def run_before(pilot):
        await start_play(pilot, "f", "t")  # time pressure off: no countdown in the picture
        await pilot.press(*"ask dispatch what else they know", "enter")
        await pilot.pause(0.3)
        pilot.app.clear_notifications()  # the fallback's one-time notice: not part of this picture
        await pilot.pause()

    assert snap_compare(make_app(trainee="recruit-042", scenario_ref=str(SAMPLE)), terminal_size=size,
                        run_before=run_before)


DEBRIEF_PATH = ["slow-approach", "calm-down", "repair", "ask-directly", "reasons", "call-sister", "invite-choice",
                "warm-handoff"]


async def _to_the_ending(pilot):
    play = await start_play(pilot)
    for choice in DEBRIEF_PATH:
        await choose(pilot, play, choice)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES)
def test_ending(snap_compare, make_app, size):
    """The ending scene, its line and outcome on the play screen, and the way on to the debrief."""
    assert snap_compare(make_app(trainee="recruit-042", scenario_ref=str(SAMPLE)), terminal_size=size,
                        run_before=_to_the_ending)


@pytest.mark.parametrize("size", SIZES)
def test_debrief(snap_compare, make_app, size):
    async def run_before(pilot):
        await _to_the_ending(pilot)
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
    recorded_attempt(tmp_path / "records.sqlite3", choices=BEST[:1], finish=False)
    assert snap_compare(make_app(trainee="recruit-042"), terminal_size=size)


def _two_finished_attempts(db):
    """Two finished attempts at the sample (a poorer one, then the best), with fixed start times."""
    recorded_attempt(db, choices=DEBRIEF_PATH, started_at="2026-03-01T09:00:00.000Z")
    recorded_attempt(db, choices=BEST, time_pressure=False, started_at="2026-03-02T09:00:00.000Z")


@pytest.mark.parametrize("size", SIZES)
def test_my_attempts(snap_compare, make_app, size, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")  # the list shows local times
    _two_finished_attempts(tmp_path / "records.sqlite3")
    assert snap_compare(make_app(trainee="recruit-042"), terminal_size=size, press=["a"])
