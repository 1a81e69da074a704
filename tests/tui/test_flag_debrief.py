"""A moment the instructor flags while a trainee plays in the app is in the app's debrief."""

from __future__ import annotations

from conftest import BEST, SAMPLE, choose, continue_to_debrief, start_play, wait_until
from textual.widgets import Static

from simulator.records import Store
from simulator.tui.screens.debrief import DebriefScreen
from simulator.tui.screens.play import PlayScreen


async def test_the_app_debrief_shows_the_instructors_flag(make_app):
    app = make_app(trainee="t-flag", scenario_ref=str(SAMPLE))
    async with app.run_test(size=(100, 32)) as pilot:
        await start_play(pilot)
        play = app.screen
        assert isinstance(play, PlayScreen)
        for choice in BEST[:2]:
            await choose(pilot, play, choice)
        with Store.open(app.store.path) as instructor:  # the console, in another process
            [attempt] = list(instructor.attempts(trainee="t-flag"))
            instructor.flag(attempt.id, 2, "[b]good[/b] pause before the approach")
        for choice in BEST[2:]:
            await choose(pilot, play, choice)
        await continue_to_debrief(pilot)  # from the ending, read on the play screen
        assert await wait_until(pilot, lambda: isinstance(app.screen, DebriefScreen))
        texts = [str(w.content) for w in app.screen.query(".review").results(Static)]
        assert "Your instructor flagged this moment: [b]good[/b] pause before the approach" in texts[1]
        assert not any("instructor" in t for i, t in enumerate(texts) if i != 1)
