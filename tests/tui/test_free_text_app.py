"""Free-text play in the app (issue 19 item 1), from the sign-in form: the briefing's toggle,
typing an answer, confirming the closest option with Enter, picking another by its number, an
answer not understood, the countdown that keeps running while the trainee types, the debrief
and the records that keep the words, and the preference that follows the trainee."""

from __future__ import annotations

import textwrap

from conftest import BEST, continue_to_debrief, position_of, start_play, wait_until
from test_journeys import SMALL, sign_in_on_form
from textual.widgets import Input, OptionList, Static

from simulator.records import Store
from simulator.tui.screens.briefing import BriefingScreen
from simulator.tui.screens.play import PlayScreen

FALLBACK = "simulator.freetext.embedding.missing_modules"


def setting(briefing) -> str:
    return str(briefing.query_one("#free-text", Static).content)


def note(play) -> str:
    return str(play.query_one("#answer-note", Static).content)


async def say(pilot, play, text: str) -> None:
    """Type ``text`` into the answer field key by key and press Enter."""
    assert play.query_one("#answer", Input).has_focus
    await pilot.press(*text, "enter")
    await pilot.pause()


async def test_free_text_from_sign_in_to_the_debrief(make_app, tmp_path, monkeypatch):
    monkeypatch.setattr(FALLBACK, lambda: ["onnxruntime"])  # the lexical fallback: fast and the same everywhere
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")  # the highlighted scenario's briefing
        await pilot.pause()
        assert setting(app.screen).startswith("Free text: off (f):")
        play = await start_play(pilot, "f", "t")  # free text on, time pressure off
        assert app.free_text
        choices = play.query_one("#choices", OptionList)
        assert not choices.display  # the options come after the trainee's own words
        await pilot.press("2")  # a number is typed text here, not a choice
        assert play.session.decisions == [] and play.query_one("#answer", Input).value == "2"
        await pilot.press("backspace")

        # 1: a paraphrase, the closest option shown with its text, Enter confirms it
        await say(pilot, play, "ask dispatch what else they know")
        assert choices.display and choices.has_focus
        assert note(play).startswith("Closest option (confidence")
        assert "Stay in the car for a moment and ask dispatch what else they know." in note(play)
        assert choices.highlighted == position_of(play, "ask-dispatch") - 1
        await pilot.press("enter")
        await pilot.pause()

        # 2: matched to the harmful option (order-down), the trainee reads it and picks another by its number
        await say(pilot, play, "walk up and shout at her to climb back over now")
        assert note(play).startswith("Closest option") and "Walk straight up to the railing." in note(play)
        await pilot.press(str(position_of(play, "slow-approach")))
        await pilot.pause()

        # 3: not understood: every option is shown, none preselected; a number picks one
        await say(pilot, play, "qwerty zxcv")
        assert note(play).startswith("Not understood: it is not close enough to any option.")
        assert choices.display and choices.highlighted is None
        await pilot.press(str(position_of(play, "reflect-feeling")))
        await pilot.pause()

        # 4: a to type again after a match, then the rest by words and numbers
        await say(pilot, play, "hmm")
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("ctrl+u")
        for choice in BEST[3:]:
            await say(pilot, play, "okay")
            await pilot.press(str(position_of(play, choice)))
            await pilot.pause()
        debrief = await continue_to_debrief(pilot)
        shown = "\n".join(str(w.content) for w in debrief.query(Static))
        assert "You said: ask dispatch what else they know" in shown
        assert "You said: walk up and shout at her to climb back over now" in shown
        assert "You said: qwerty zxcv" in shown
        attempt_id = play.recorder.attempt_id

    with Store.open(tmp_path / "records.sqlite3") as store:
        decisions = store.decisions(attempt_id)
        assert [d.choice for d in decisions] == BEST
        assert [d.said for d in decisions[:3]] == [
            "ask dispatch what else they know",
            "walk up and shout at her to climb back over now",
            "qwerty zxcv",
        ]
        assert store.attempt(attempt_id).overall == 100
        assert store.preferences("recruit-042")["free_text"] == "on"

    again = make_app()  # the preference follows the trainee
    async with again.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(again.screen, BriefingScreen)
        assert setting(again.screen).startswith("Free text: on (f):")


TIMED = """\
format: 1
id: tiny-timed
title: Tiny timed
version: "1"
summary: One timed decision.
difficulty: introductory
minutes: 1
briefing: Test briefing.
start: wait
scenes:
  wait:
    text: She looks at the road.
    choices:
      - {id: talk, text: "Tell her your name and ask hers.", to: done, scores: {respectful_approach: 1}}
      - {id: grab, text: "Grab her arm.", to: done, scores: {respectful_approach: -1}}
    timeout: {seconds: 1, to: done}
  done:
    end: {rating: good, outcome: Done.}
"""


async def test_the_countdown_keeps_running_while_the_trainee_types(make_app, tmp_path, monkeypatch):
    monkeypatch.setattr(FALLBACK, lambda: ["onnxruntime"])
    folder = tmp_path / "timed"
    folder.mkdir()
    (folder / "tiny-timed.yaml").write_text(textwrap.dedent(TIMED), encoding="utf-8")
    app = make_app(library=folder)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        play = await start_play(pilot, "f")  # time pressure stays on
        assert isinstance(play, PlayScreen)
        await pilot.press(*"tell her my name")  # typing, never submitted
        assert await wait_until(pilot, lambda: len(play.session.decisions) == 1)
        assert play.session.decisions[0].choice is None  # the timer ran out while the trainee typed


async def test_the_academy_default_and_the_trainees_own_choice(make_app, tmp_path, monkeypatch):
    config = tmp_path / "academy.toml"
    config.write_text("[freetext]\nenabled = true\n", encoding="utf-8")
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(config))
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert setting(app.screen).startswith("Free text: on (f):")  # the academy's default, nothing chosen yet
        await pilot.click("#free-text")  # the line is a toggle too, like f
        assert setting(app.screen).startswith("Free text: off (f):")
    again = make_app()
    async with again.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert setting(again.screen).startswith("Free text: off (f):")  # the trainee's own
