"""The records file failing while the app runs (disk full, made read-only, locked too long):
the app stops cleanly with the one-line reason, never Textual's traceback, and what was
committed before stays. Here the file turns read-only mid-play (SQLite's ``query_only``, which
fails writes exactly as a read-only file does, also for root)."""

from __future__ import annotations

import asyncio
import sqlite3

from conftest import BEST, SAMPLE, choose, start_play

from simulator.records import Store


async def test_a_records_file_that_turns_read_only_mid_play_stops_the_app_cleanly(make_app, tmp_path):
    app = make_app(trainee="t-readonly", scenario_ref=str(SAMPLE))
    async with app.run_test(size=(100, 30)) as pilot:
        play = await start_play(pilot)
        await choose(pilot, play, BEST[0])
        await choose(pilot, play, BEST[1])
        app.store.conn.execute("PRAGMA query_only = ON")
        # The third choice, through the message loop as a key press would go (Pilot's press would
        # then wait 30 s for a screen that is gone).
        play.call_later(play.choose, BEST[2])
        for _ in range(100):  # bounded: the app stops within a few event-loop turns
            if app._exit:
                break
            await asyncio.sleep(0.05)
    assert app.return_code == 1
    assert app.records_error is not None
    assert "read-only" in app.records_error and "offers to resume" in app.records_error
    assert "\n" not in app.records_error
    with Store.open(tmp_path / "records.sqlite3", create=False) as store:
        (attempt,) = store.attempts(trainee="t-readonly")
        assert attempt.status == "in_progress"
        assert [d.choice for d in store.decisions(attempt.id)] == BEST[:2]
        store.check_integrity()


async def test_other_errors_still_reach_textual(make_app, monkeypatch):
    """Only records errors are turned into a clean stop: a bug must not be hidden."""
    app = make_app(trainee="t-bug", scenario_ref=str(SAMPLE))

    def broken(*args, **kwargs):
        raise sqlite3.InterfaceError("a bug, not a records problem")

    try:
        async with app.run_test(size=(100, 30)) as pilot:
            play = await start_play(pilot)
            monkeypatch.setattr(play.session, "choose", broken)
            await choose(pilot, play, BEST[0])
    except sqlite3.InterfaceError:
        pass
    else:
        raise AssertionError("run_test should re-raise the bug")
    assert app.records_error is None and app.return_code == 1
