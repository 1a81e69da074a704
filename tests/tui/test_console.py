"""The instructor's console (``crisis-sim console``): the class live from the records store,
following a trainee, flagging a moment, the analytics screen; and its looks (snap_compare)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import wait_until
from records_factory import FAILED_SCRIPT, SAMPLE_BEST, play
from textual.widgets import DataTable, OptionList, Sparkline, Static

from simulator.console.app import AnalyticsScreen, ClassScreen, ConsoleApp, NoteDialog, TraineeScreen
from simulator.records import open_store

NOW = datetime(2026, 3, 1, 11, 5, 0, tzinfo=UTC)
SINCE = "2026-03-01T00:00:00.000Z"
HOSTILE = "[@click=app.quit]Eve[/] \x1b[2J"


@pytest.fixture
def class_db(tmp_path):
    """ana passed, ben failed on a critical error, cy is in scene 3 after two decisions."""
    db = tmp_path / "class.sqlite3"
    store = open_store(db)
    store.ensure_trainee("ana", "Ana Díaz")
    store.ensure_trainee("ben", HOSTILE)
    play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z", cohort="a")
    play(store, "ben", FAILED_SCRIPT, started_at="2026-03-01T10:00:00.000Z", cohort="b")
    running = play(store, "cy", SAMPLE_BEST[:2], started_at="2026-03-01T11:00:00.000Z", finish=False, cohort="a")
    store.close()
    return db, running


def console(db, **kwargs) -> ConsoleApp:
    kwargs.setdefault("since", SINCE)
    kwargs.setdefault("clock", lambda: NOW)
    return ConsoleApp(open_store(db, create=False), **kwargs)


def cells(app, trainee: str) -> dict[str, str]:
    """A trainee's row, by column name."""
    table = app.screen.query_one(DataTable)
    return dict(zip(ClassScreen.COLUMNS, (c.plain for c in table.get_row(trainee)), strict=True))


async def test_the_class_table_shows_each_trainee_live(class_db):
    db, running = class_db
    app = console(db, interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ClassScreen)
        row = cells(app, "cy")
        trainee, name, scenario, scene, dec, status = (row[c] for c in ("Trainee", "Name", "Scenario", "Scene", "Dec",
                                                                         "Status"))
        in_scene, crit, meters = row["In scene"], row["Crit"], row["Meters"]
        assert (trainee, name, scenario, scene, dec, status) == ("cy", "cy", "overpass-railing", "first_words", "2",
                                                                 "playing")
        assert in_scene == "2m 52s"  # the second decision was made at 11:02:07.250, now is 11:05
        assert meters == "Agitation 5 Rapport 2" and crit == "0"
        assert cells(app, "ana")["Status"] == "passed 100" and cells(app, "ben")["Crit"] == "1"  # ben's critical error
        assert cells(app, "ben")["Name"] == "[@click=app.q…"  # text, never markup, no escape; clipped at 14
        # cy decides (another process writes): the row follows within a refresh
        writer = open_store(db)
        writer.record_decision(running.attempt_id, 3, "first_words", "reflect-feeling", meters_after={},
                               flags_after={}, made_at="2026-03-01T11:04:30.000Z")
        writer.close()
        assert await wait_until(pilot, lambda: cells(app, "cy")["Dec"] == "3")
        assert cells(app, "cy")["Scene"] == "listening" and cells(app, "cy")["In scene"] == "30s"
        # a trainee who starts now takes their place in order; the cursor stays on whom it was on
        await pilot.press("down")
        writer = open_store(db)
        play(writer, "bob", SAMPLE_BEST[:1], started_at="2026-03-01T11:04:00.000Z", finish=False)
        writer.close()
        table = app.screen.query_one(DataTable)
        assert await wait_until(pilot, lambda: "bob" in app.screen.rows)
        assert [str(r.key.value) for r in table.ordered_rows] == ["ana", "ben", "bob", "cy"]
        assert app.screen.selected().trainee_id == "ben"
        assert app.is_running


async def test_cohort_filter_follow_and_flag(class_db):
    db, running = class_db
    app = console(db, cohort="a", interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert [str(k.value) for k in table.rows] == ["ana", "cy"]  # ben is in cohort b
        await pilot.press("down", "enter")  # cy
        await pilot.pause()
        assert isinstance(app.screen, TraineeScreen)
        listing = app.screen.query_one(OptionList)
        lines = [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]
        assert any(line.startswith("> Decision 2: [slow-approach]") for line in lines)
        # a new decision shows up while following, and stays in view
        writer = open_store(db)
        writer.record_decision(running.attempt_id, 3, "first_words", "euphemism", meters_after={},
                               flags_after={}, made_at="2026-03-01T11:04:30.000Z")
        writer.close()
        assert await wait_until(pilot, lambda: any("> Decision 3: [euphemism]" in str(p.prompt)
                                                   for p in listing._options))
        assert listing.highlighted == listing.option_count - 1
        # f flags the decision at the cursor (the newest): a note, Enter
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, NoteDialog)
        await pilot.press(*"ask directly", "enter")
        await pilot.pause()
        with open_store(db, create=False) as store:
            [flag] = store.flags_for([running.attempt_id])[running.attempt_id]
        assert (flag.sequence, flag.note) == (3, "ask directly")
        assert await wait_until(pilot, lambda: any(
            "> Decision 3: [euphemism]" in str(p.prompt) and "flagged: ask directly" in str(p.prompt)
            for p in listing._options))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ClassScreen)
        assert await wait_until(pilot, lambda: cells(app, "cy")["⚑"] == "1")
        # c changes the cohort
        await pilot.press("c")
        await pilot.pause()
        await pilot.press(*"\b" * 3, "b", "enter")
        await pilot.pause()
        assert [str(k.value) for k in app.screen.query_one(DataTable).rows] == ["ben"]


async def test_flag_on_the_class_screen_and_a_bad_note(class_db):
    db, running = class_db
    app = console(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "f")  # cy: the newest decision, 2
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, NoteDialog)
        dialog.query_one("#note").value = "look\u200bhere"  # a pasted invisible character: refused, kept open
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and "U+200B" in str(dialog.query_one("#note-error", Static).content)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ClassScreen)
        await pilot.press("f", "enter")  # no note
        await pilot.pause()
    with open_store(db, create=False) as store:
        assert [(f.sequence, f.note) for f in store.flags_for([running.attempt_id])[running.attempt_id]] == [(2, "")]


async def test_analytics_screen_plots(class_db):
    db, _ = class_db
    app = console(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AnalyticsScreen)
        texts = " ".join(str(w.content) for w in screen.query(Static))
        assert "50% (1/2, 2 trainees) too few" in texts
        [spark] = screen.query(Sparkline)
        assert sum(spark.data) == 2
        assert len(screen.query(DataTable)) == 3


async def test_scripted_runs_are_hidden_unless_asked(class_db):
    """A playthrough recorded by ``crisis-sim test`` or ``run --choose`` (a scripted run) is not a
    trainee: the console leaves it out, as report and results do, until s (or
    --include-scripted) shows it; the analytics screen follows the same choice."""
    db, _ = class_db
    writer = open_store(db)
    play(writer, "zed", SAMPLE_BEST, started_at="2026-03-01T10:30:00.000Z", cohort="a", front_end="run-scripted")
    writer.close()
    app = console(db, interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert [str(k.value) for k in table.rows] == ["ana", "ben", "cy"]
        await pilot.press("a")
        await pilot.pause()
        assert "3 attempt(s) by 3 trainee(s)" in str(app.screen.query_one(".title", Static).content)
        await pilot.press("escape", "s")
        await pilot.pause()
        assert sorted(str(k.value) for k in table.rows) == ["ana", "ben", "cy", "zed"]
        assert "with scripted runs" in str(app.screen.query_one("#status", Static).content)
        assert cells(app, "zed")["Status"] == "passed 100"
        await pilot.press("a")
        await pilot.pause()
        title = str(app.screen.query_one(".title", Static).content)
        assert "with scripted runs" in title and "4 attempt(s) by 4 trainee(s)" in title
        await pilot.press("escape", "s")
        await pilot.pause()
        assert [str(k.value) for k in table.rows] == ["ana", "ben", "cy"]
    app = console(db, include_scripted=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "zed" in app.screen.rows


def test_console_looks(snap_compare, class_db):
    db, _ = class_db
    assert snap_compare(console(db), terminal_size=(120, 40))


def test_trainee_screen_looks(snap_compare, class_db):
    db, _ = class_db

    async def run_before(pilot):
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await pilot.pause()

    assert snap_compare(console(db), terminal_size=(120, 40), run_before=run_before)
