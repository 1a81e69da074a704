"""Playtest with live reload (`crisis-sim play FILE --watch`) and the debug panel, driven with Pilot.

The app polls the file on a timer, so each test waits for the reload with a bounded loop of
pauses (never a timing assertion)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from conftest import SAMPLE, choose, start_play, transcript_text, wait_until
from textual.widgets import Static

from scoring.catalog import load_graded
from simulator.records import Store
from simulator.tui.screens.play import PlayScreen
from simulator.tui.widgets.debug import DebugPanel
from simulator.tui.widgets.meters import StatusPanel

NEW_NARRATION = "Maya talks in short, tired bursts, never looking up."


@pytest.fixture
def watched(tmp_path):
    """A copy of the sample outside the library folder: the file the playtest watches."""
    folder = tmp_path / "authoring"
    folder.mkdir()
    path = folder / SAMPLE.name
    shutil.copy(SAMPLE, path)
    return path


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def without_scene(text: str, scene: str, next_scene: str, redirect_to: str) -> str:
    """The scenario text with ``scene``'s block removed and every move to it sent elsewhere."""
    start, end = text.index(f"  {scene}:\n"), text.index(f"  {next_scene}:\n")
    return (text[:start] + text[end:]).replace(f"to: {scene}", f"to: {redirect_to}")


TO_FIRST_WORDS = ("ask-dispatch", "slow-approach")
"""The two choices that lead from the start to ``first_words``, where most edits are made."""


async def start_playtest(pilot, *choices: str):
    """Start the playtest (time pressure off: no countdown fires mid-test) and make ``choices``."""
    play = await start_play(pilot, "t")
    assert play.watch is not None
    for choice in choices:
        await choose(pilot, play, choice)
    return play


async def test_a_saved_edit_reloads_and_keeps_the_place(make_app, watched):
    app = make_app(trainee="t-watch", scenario_ref=str(watched), watch=True)
    async with app.run_test(size=(100, 32)) as pilot:
        play = await start_playtest(pilot, *TO_FIRST_WORDS)
        before = play.session
        assert before.scene == "first_words"

        edit(watched, "Maya talks in bursts.", NEW_NARRATION)  # the narration of a later scene
        assert await wait_until(pilot, lambda: play.session is not before)
        assert play.session.scene == "first_words"
        assert [(d.scene, d.choice) for d in play.session.decisions] == [
            ("arrival", "ask-dispatch"),
            ("arrival", "slow-approach"),
        ]
        assert play.session.scenario.sha256 == load_graded(watched).scenario.sha256
        text = transcript_text(play)
        assert text.count(f"— reloaded {watched.name} —") == 1  # once: opening the file was no reload
        assert NEW_NARRATION not in text  # not reached yet
        assert play.load_errors == []

        await choose(pilot, play, "reflect-feeling")
        assert play.session.scene == "listening"
        assert NEW_NARRATION in transcript_text(play)
    with Store.open(app.store.path) as store:
        assert list(store.attempts()) == []  # a playtest records nothing


async def test_a_broken_file_is_reported_in_the_app_and_the_session_goes_on(make_app, watched):
    good = watched.read_text(encoding="utf-8")
    app = make_app(trainee="t-watch", scenario_ref=str(watched), watch=True)
    async with app.run_test(size=(100, 32)) as pilot:
        play = await start_playtest(pilot, *TO_FIRST_WORDS)
        before = play.session
        events_before = list(before.events)

        watched.write_text(good.replace("  first_words:\n", "  first_words: [\n"), encoding="utf-8")
        expected = [d.format() for d in load_graded(watched).diagnostics if d.severity == "error"]
        assert expected and f"{watched}:" in expected[0]
        assert await wait_until(pilot, lambda: bool(play.load_errors))
        panel = play.query_one("#watch-errors", Static)
        assert panel.display
        assert expected[0] in str(panel.content)  # file:line:col: error: message [code], literally
        assert play.session is before and before.events == events_before  # untouched
        assert before.scene == "first_words" and len(before.decisions) == 2
        await choose(pilot, play, "reflect-feeling")  # and still playable, on the last good version
        assert before.scene == "listening"

        watched.write_text(good, encoding="utf-8")  # fixed
        assert await wait_until(pilot, lambda: play.session is not before)
        assert not play.load_errors and not panel.display
        assert play.session.scene == "listening" and len(play.session.decisions) == 3


async def test_deleting_the_current_scene_restarts_and_says_why(make_app, watched):
    app = make_app(trainee="t-watch", scenario_ref=str(watched), watch=True)
    async with app.run_test(size=(100, 32)) as pilot:
        play = await start_playtest(pilot, *TO_FIRST_WORDS)
        before = play.session
        assert before.scene == "first_words"

        watched.write_text(
            without_scene(watched.read_text(encoding="utf-8"), "first_words", "listening", "listening"),
            encoding="utf-8",
        )
        assert load_graded(watched).ok
        assert await wait_until(pilot, lambda: play.session is not before)
        assert play.session.scene == "arrival" and play.session.decisions == []
        text = transcript_text(play)
        assert "Scene 'first_words' no longer exists: restarted." in text
        assert text.rindex(f"— reloaded {watched.name} —") < text.rindex("Don't come any closer!")
        await choose(pilot, play, "slow-approach")  # the new version plays on
        assert play.session.scene == "listening"


async def test_a_choice_taken_that_is_gone_restarts_and_names_the_step(make_app, watched):
    app = make_app(trainee="t-watch", scenario_ref=str(watched), watch=True)
    async with app.run_test(size=(100, 32)) as pilot:
        play = await start_playtest(pilot, *TO_FIRST_WORDS)
        before = play.session

        edit(watched, "id: slow-approach", "id: approach-slowly")
        assert await wait_until(pilot, lambda: play.session is not before)
        assert play.session.scene == "arrival" and play.session.decisions == []
        assert "Choice 'slow-approach' is no longer on offer at step 2: restarted." in transcript_text(play)


def debug_text(play) -> str:
    return str(play.query_one("#debug-text", Static).content)


async def test_the_debug_panel_shows_state_and_conditions_as_the_engine_sees_them(make_app, watched):
    edit(  # a hidden meter, to see that the panel shows it
        watched,
        "  rapport: {start: 1,",
        "  trust: {start: 3, min: 0, max: 10, label: Trust, show: false}\n  rapport: {start: 1,",
    )
    app = make_app(trainee="t-watch", scenario_ref=str(watched), watch=True)
    async with app.run_test(size=(100, 32)) as pilot:
        play = await start_playtest(pilot)
        assert "d" in play.active_bindings  # shown in the footer
        panel = play.query_one(DebugPanel)
        assert not panel.display
        await pilot.press("d")
        await pilot.pause()
        assert panel.display and not play.query_one(StatusPanel).display

        await choose(pilot, play, "ask-dispatch")  # back in arrival, second visit
        session = play.session
        scene = session.scenario.scenes[session.scene]
        text = debug_text(play)
        assert "Scene: arrival (visit 2, waiting)" in text
        assert "trust = 3  [0..10]  (hidden)" in text and "agitation = 6  [0..10]" in text
        assert "roles_agreed = false" in text
        assert "arrival × 2" in text and "dispatch_info × 1" in text
        checked = 0
        for choice in scene.choices:
            if choice.if_ is None:
                assert f"✓ always  {choice.id} → {choice.to}" in text
                continue
            holds = session.scenario.condition(choice.if_).holds(session)
            assert f"{'✓ holds' if holds else '✗ fails'}  {choice.id} → {choice.to}\n      if {choice.if_}" in text
            checked += 1
        assert checked == 2
        assert "✗ fails  ask-dispatch" in text and "✓ holds  agree-roles" in text  # as the engine offers them
        assert [c.id for c in session.offered()] == ["slow-approach", "agree-roles", "order-down"]

        await choose(pilot, play, "agree-roles")  # updated on every session event
        text = debug_text(play)
        assert "roles_agreed = true" in text and "✗ fails  agree-roles" in text
        assert "arrival × 3" in text

        await pilot.press("d")
        await pilot.pause()
        assert not panel.display and play.query_one(StatusPanel).display


async def test_the_debug_panel_is_a_playtest_tool_only(make_app):
    app = make_app(trainee="t-plain", scenario_ref=str(SAMPLE))
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        play = app.screen
        assert isinstance(play, PlayScreen) and play.watch is None
        assert "d" not in play.active_bindings
        await pilot.press("d")
        await pilot.pause()
        assert not play.query(DebugPanel)
        assert play.query_one(StatusPanel).display


def test_play_help_says_watch_records_nothing():
    from simulator.cli import cli

    result = CliRunner().invoke(cli, ["play", "--help"])
    assert result.exit_code == 0
    assert "--watch" in result.output and "Nothing is recorded" in result.output


async def test_a_new_meter_appears_in_the_side_panel_after_a_reload(make_app, watched):
    from simulator.tui.widgets.meters import MeterBar

    app = make_app(trainee="t-watch", scenario_ref=str(watched), watch=True)
    async with app.run_test(size=(100, 32)) as pilot:
        play = await start_playtest(pilot, "slow-approach")
        before = play.session
        assert [b.meter_id for b in play.query(MeterBar)] == ["agitation", "rapport"]
        edit(watched, "  rapport: {start: 1,", "  calm: {start: 4, label: Calm, show: true}\n  rapport: {start: 1,")
        assert await wait_until(pilot, lambda: play.session is not before)
        await pilot.pause()
        assert [b.meter_id for b in play.query(MeterBar)] == ["agitation", "calm", "rapport"]
        assert "Calm" in str(play.query(MeterBar)[1].content)
        await choose(pilot, play, "reflect-feeling")  # the panel keeps up with the new session
        assert play.session.meters["rapport"] == 4 and "4/10" in str(play.query(MeterBar)[2].content)


def test_rebuild_names_why_the_place_cannot_be_kept(watched):
    from simulator.engine import Session
    from simulator.tui.screens.play import rebuild

    scenario = load_graded(watched).scenario
    old = Session(scenario)
    old.start()
    old.expire()  # arrival's timer ran out -> long_silence -> first_words
    old.choose("reflect-feeling")

    same, reason = rebuild(scenario, old)
    assert reason is None and same.scene == old.scene == "listening" and same.decisions == old.decisions

    text = watched.read_text(encoding="utf-8")
    start = text.index("    timeout:\n      seconds: 40")
    watched.write_text(text[:start] + text[text.index("    choices:", start) :], encoding="utf-8")
    fresh, reason = rebuild(load_graded(watched).scenario, old)
    assert reason == "scene 'arrival' no longer has a timeout at step 1: restarted"
    assert fresh.scene == "arrival" and fresh.decisions == [] and fresh.waiting


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
async def test_a_watched_file_replaced_by_a_pipe_or_a_device_is_reported_not_read(make_app, watched, kind):
    """The playtest polls its file: a FIFO there would block the app, /dev/zero would fill memory."""
    import os

    from hang_guard import no_hang

    app = make_app(trainee="t-watch", scenario_ref=str(watched), watch=True)
    async with app.run_test(size=(100, 32)) as pilot:
        play = await start_playtest(pilot, *TO_FIRST_WORDS)
        before = play.session
        watched.unlink()
        if kind == "fifo":
            os.mkfifo(watched, 0o600)
        else:
            watched.symlink_to("/dev/zero")
        with no_hang(30, f"a watched {kind}"):
            assert await wait_until(pilot, lambda: play.load_errors != [])
        what = "a named pipe (FIFO)" if kind == "fifo" else "a character device"
        assert play.load_errors == [
            f"{watched}: cannot read the file: it is {what}, not a regular file; give the path of a regular file"
        ]
        assert play.session is before and play.session.scene == "first_words"  # play goes on
