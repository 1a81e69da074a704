"""A voided attempt in the app, from the sign-in form: not offered for resume, not counted in the
library's status and best score (issue 17 item 3)."""

from __future__ import annotations

from cli_runner import run_cli
from conftest import BEST
from records_factory import play
from textual.widgets import DataTable, Input

from simulator.records import open_store
from simulator.tui.screens.dialogs import ResumeOffer
from simulator.tui.screens.library import LibraryScreen
from simulator.tui.screens.signin import SignInScreen


async def _sign_in(pilot, trainee: str) -> None:
    assert isinstance(pilot.app.screen, SignInScreen)
    pilot.app.screen.query_one("#trainee-id", Input).value = trainee
    pilot.app.screen.query_one("#display-name", Input).value = "Ben"
    await pilot.click("#signin-button")
    await pilot.pause()


def _row(app) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(cell) for cell in table.get_row_at(0)]


async def test_a_voided_attempt_is_neither_offered_nor_counted_in_the_app(make_app, tmp_path):
    db = tmp_path / "records.sqlite3"
    with open_store(db) as store:
        passed = play(store, "ben", BEST, started_at="2026-03-01T09:00:00.000Z")
        running = play(store, "ben", BEST[:2], started_at="2026-03-02T09:00:00.000Z", finish=False)

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await _sign_in(pilot, "ben")
        assert isinstance(app.screen, ResumeOffer)  # before: the unfinished attempt is offered

    for attempt in (passed, running):
        assert run_cli(["void", "--db", str(db), attempt.attempt_id, "--reason", "practice on the wrong id"]).code == 0

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await _sign_in(pilot, "ben")
        assert isinstance(app.screen, LibraryScreen)  # nothing offered
        _title, status, best, *_ = _row(app)
        assert (status, best) == ("not started", "")
