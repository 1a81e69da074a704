"""A trainee's journeys through the app, each started where the trainee starts: the sign-in form,
typed into key by key (never --trainee or a config id). Each test is the sequence a person
followed when the defect was found (issue 14)."""

from __future__ import annotations

from conftest import BEST, SAMPLE, choose, continue_to_debrief, start_play, transcript_text, wait_until
from textual.widgets import Input, OptionList, Static

from simulator.records import Store
from simulator.tui.screens.briefing import BriefingScreen
from simulator.tui.screens.dialogs import Confirm, ResumeOffer
from simulator.tui.screens.library import LibraryScreen
from simulator.tui.screens.play import PlayScreen
from simulator.tui.screens.signin import SignInScreen

SMALL, LARGE = (80, 24), (120, 40)


async def sign_in_on_form(pilot, trainee: str = "recruit-042", name: str = "Alex") -> None:
    """Type the id and the name into the sign-in form and press Enter after each, as a trainee does
    (a form already filled in with the last trainee is cleared first)."""
    app = pilot.app
    await pilot.pause()
    assert isinstance(app.screen, SignInScreen)
    for field, text in (("#trainee-id", trainee), ("#display-name", name)):
        app.screen.query_one(field, Input).focus()
        await pilot.pause()
        await pilot.press("ctrl+u", "ctrl+k", *text, "enter")
        await pilot.pause()
    await pilot.pause()


async def quit_app(pilot) -> None:
    await pilot.press("q")
    await pilot.pause()
    assert isinstance(pilot.app.screen, Confirm)
    await pilot.press("y")
    await pilot.pause()


async def play_to_the_ending(pilot, play, choices) -> None:
    for choice in choices:
        await choose(pilot, play, choice)
    await pilot.pause(0.2)


# ---- defect 1: resume after a normal sign-in -----------------------------------------------------


async def test_resume_offered_after_signing_in_on_the_form_continues_the_attempt(make_app):
    first = make_app()
    async with first.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        assert isinstance(first.screen, LibraryScreen)
        await pilot.press("enter")  # open the highlighted scenario
        play = await start_play(pilot, "t")  # time pressure off
        for choice in BEST[:4]:
            await choose(pilot, play, choice)
        await quit_app(pilot)

    second = make_app()
    async with second.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        assert isinstance(second.screen, ResumeOffer)
        await pilot.press("r")
        await pilot.pause()
        play = second.screen
        assert isinstance(play, PlayScreen), "Resume must open the attempt, not leave the library"
        assert [d.choice for d in play.session.decisions] == BEST[:4]
        await play_to_the_ending(pilot, play, BEST[4:])
        debrief = await continue_to_debrief(pilot)
        assert debrief.grade.overall == 100.0
    with Store.open(second.store.path) as store:
        [attempt] = list(store.attempts(trainee="recruit-042"))
        assert attempt.status == "completed"


async def test_start_over_after_signing_in_on_the_form_abandons_and_opens_the_briefing(make_app):
    first = make_app()
    async with first.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        play = await start_play(pilot, "t")
        await choose(pilot, play, BEST[0])
        await quit_app(pilot)

    second = make_app()
    async with second.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        assert isinstance(second.screen, ResumeOffer)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(second.screen, BriefingScreen)
    with Store.open(second.store.path) as store:
        [attempt] = list(store.attempts(trainee="recruit-042"))
        assert attempt.status == "abandoned"


# ---- defect 3: a resumed timed scene counts down again --------------------------------------------


async def test_a_resumed_timed_scene_counts_down_again(make_app, library):
    first = make_app()
    async with first.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        play = await start_play(pilot)  # time pressure on; the first scene is timed (40 s)
        assert "s to decide" in str(play.query_one("#countdown", Static).content)
        await quit_app(pilot)

    second = make_app()
    async with second.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("r")
        await pilot.pause()
        play = second.screen
        assert isinstance(play, PlayScreen) and play.session.timeout_seconds() == 40
        assert await wait_until(pilot, lambda: "40 s to decide" in str(play.query_one("#countdown", Static).content))


# ---- defect 4: the ending scene is shown before the debrief ---------------------------------------


async def test_the_ending_scene_is_shown_then_enter_opens_the_debrief(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        play = await start_play(pilot, "t")
        await play_to_the_ending(pilot, play, BEST)
        assert isinstance(app.screen, PlayScreen), "the ending must be shown, not skipped"
        text = transcript_text(play)
        assert "Maya walks to the ambulance with her sister." in text  # the ending scene's text
        assert "Ending (good): Maya climbed back on her own" in text
        options = play.query_one("#choices", OptionList)
        assert options.option_count == 1 and "Continue to the debrief" in str(options.get_option_at_index(0).prompt)
        with Store.open(app.store.path) as store:  # graded and stored before the trainee reads on
            assert next(store.attempts()).status == "completed"
        debrief = await continue_to_debrief(pilot)
        assert debrief.grade.overall == 100.0


# ---- defect 5: a blank line starts a paragraph ----------------------------------------------------

SECOND_PARAGRAPH = "Somewhere below, a horn sounds twice and then stops."


def with_two_paragraphs(library):
    """The sample with a second paragraph (after a blank line) in its first scene's narration."""
    path = library / SAMPLE.name
    text = path.read_text(encoding="utf-8")
    old = "She sees your patrol car and stiffens.\n"
    assert old in text
    path.write_text(text.replace(old, f"{old}\n      {SECOND_PARAGRAPH}\n"), encoding="utf-8")
    return path


async def test_narration_keeps_its_paragraphs(make_app, library):
    with_two_paragraphs(library)
    app = make_app()
    async with app.run_test(size=LARGE) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        play = await start_play(pilot, "t")
        narration = [str(w.content) for w in play.query(".entry.-narration")]
        assert narration[0].endswith("She sees your patrol car and stiffens.")
        assert narration[1] == SECOND_PARAGRAPH


# ---- defect 6: Enter pressed twice --------------------------------------------------------------


async def test_enter_pressed_twice_makes_one_choice_and_no_toast(make_app):
    from textual import events

    app = make_app()
    async with app.run_test(size=LARGE) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        play = await start_play(pilot, "t")
        # Two Enter keys arriving together (a key bounce, an impatient double press): the second
        # selects the option still highlighted when it is read, which is no longer on offer.
        for _ in range(2):
            app._driver.send_message(events.Key("enter", None))
        await pilot.pause(0.3)
        assert [d.choice for d in play.session.decisions] == ["ask-dispatch"]
        assert not app._notifications, [n.message for n in app._notifications]
