"""A trainee's journeys through the app, each started where the trainee starts: the sign-in form,
typed into key by key (never --trainee or a config id). Each test is the sequence a person
followed when the defect was found (issue 14)."""

from __future__ import annotations

import re

import pytest
from conftest import (
    BEST,
    SAMPLE,
    choose,
    continue_to_debrief,
    recorded_attempt,
    start_play,
    transcript_text,
    wait_until,
)
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


async def sign_in_and_start(pilot, *briefing_keys: str):
    """Sign in on the form, open the highlighted scenario (Enter) and start it after pressing
    ``briefing_keys`` on its briefing (m: coach mode, t: time pressure off)."""
    await sign_in_on_form(pilot)
    await pilot.press("enter")
    return await start_play(pilot, *briefing_keys)


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
        play = await sign_in_and_start(pilot, "t")
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
        play = await sign_in_and_start(pilot)  # time pressure on; the first scene is timed (40 s)
        assert "s to decide" in str(play.query_one("#countdown", Static).content)
        await quit_app(pilot)

    second = make_app()
    async with second.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("r")
        await pilot.pause()
        play = second.screen
        assert isinstance(play, PlayScreen) and play.session.timeout_seconds() == 40
        countdown = play.query_one("#countdown", Static)
        assert await wait_until(pilot, lambda: "s to decide" in str(countdown.content))
        left = int(str(countdown.content).split()[1])
        assert 30 <= left <= 40  # counting down from the scene's full 40 s again


# ---- defect 4: the ending scene is shown before the debrief ---------------------------------------


async def test_the_ending_scene_is_shown_then_enter_opens_the_debrief(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        play = await sign_in_and_start(pilot, "t")
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
        play = await sign_in_and_start(pilot, "t")
        narration = [str(w.content) for w in play.query(".entry.-narration")]
        assert narration[0].endswith("She sees your patrol car and stiffens.")
        assert narration[1] == SECOND_PARAGRAPH


# ---- defect 6: Enter pressed twice --------------------------------------------------------------


async def test_enter_pressed_twice_makes_one_choice_and_no_toast(make_app):
    from textual import events

    app = make_app()
    async with app.run_test(size=LARGE) as pilot:
        play = await sign_in_and_start(pilot, "t")
        # Two Enter keys arriving together (a key bounce, an impatient double press): the second
        # selects the option still highlighted when it is read, which is no longer on offer.
        for _ in range(2):
            app._driver.send_message(events.Key("enter", None))
        await pilot.pause(0.3)
        assert [d.choice for d in play.session.decisions] == ["ask-dispatch"]
        assert not app._notifications, [n.message for n in app._notifications]


# ---- defect 9: coach feedback at 80x24, and new text never arriving unseen ------------------------


def top_visible(transcript, entry) -> bool:
    """Whether the first line of ``entry`` is inside the transcript's view."""
    top = entry.virtual_region.y
    return transcript.scroll_y <= top < transcript.scroll_y + transcript.scrollable_content_region.height


def turn_shown_from_its_start(play) -> None:
    """The newest turn is shown from its first line, and text is left below the view only when
    showing more would push that line off the top ('more below' says so exactly then)."""
    from simulator.tui.widgets.transcript import Transcript

    transcript = play.query_one(Transcript)
    start = list(play.query(".entry.-choice"))[-1]
    assert top_visible(transcript, start), "the newest turn's first line is out of view"
    if transcript.unread_below():
        assert round(transcript.scroll_y) == start.virtual_region.y, "stopped short of text that fits"
    assert play.query_one("#more-below").display == transcript.unread_below()


@pytest.mark.parametrize(("size", "choices"), [
    (SMALL, ["slow-approach", "calm-down", "repair", "ask-directly"]),  # calm-down: a long coach entry
    (LARGE, ["slow-approach", "reflect-feeling", "ask-directly"]),  # a new turn that fits the view
])
async def test_coach_feedback_is_on_screen_after_a_choice(make_app, size, choices):
    from simulator.tui.widgets.transcript import Transcript

    app = make_app()
    async with app.run_test(size=size) as pilot:
        play = await sign_in_and_start(pilot, "m", "t")  # coach mode, no clock
        for choice in choices:
            await choose(pilot, play, choice)
            await pilot.pause(0.2)
            transcript = play.query_one(Transcript)
            coach = list(play.query(".entry.-coach"))[-1]
            assert top_visible(transcript, coach), "the coach's feedback scrolled off the top"
            turn_shown_from_its_start(play)


async def test_after_scrolling_up_to_reread_the_next_turn_is_shown(make_app):
    from simulator.tui.widgets.transcript import Transcript

    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        play = await sign_in_and_start(pilot, "t")
        for choice in BEST[:3]:
            await choose(pilot, play, choice)
        transcript = play.query_one(Transcript)
        await pilot.press("t", "home")  # read the transcript from the top
        await pilot.pause(0.2)
        assert transcript.scroll_y == 0
        await pilot.press("t")  # back to the choices
        await choose(pilot, play, BEST[3])
        await pilot.pause(0.2)
        turn_shown_from_its_start(play)  # not left where the trainee had scrolled to


async def test_the_transcript_key_is_in_the_footer_and_the_help(make_app):
    from textual.widgets import Footer

    from simulator.tui.screens.help import HELP_TEXT

    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        play = await sign_in_and_start(pilot, "t")
        keys = [b.key for (_, b, enabled, _) in play.active_bindings.values() if b.show]
        assert "t" in keys
        assert play.query_one(Footer)
    assert any(line.split()[:1] == ["t"] and "transcript" in line for line in HELP_TEXT.splitlines())


# ---- defect 7: layouts at 120x40 and 80x24, and below --------------------------------------------


def finished_attempt(tmp_path, choices=BEST) -> None:
    """A finished attempt at the sample already in the records (the test is about what follows)."""
    recorded_attempt(tmp_path / "records.sqlite3", choices=choices)


async def test_library_columns_fit_and_tags_can_be_found(make_app, library, tmp_path):
    import shutil

    finished_attempt(tmp_path)
    for extra in ("pills-and-note.yaml", "meth-paranoia.yaml"):  # long titles
        shutil.copy(SAMPLE.parent / extra, library / extra)
    for size in (LARGE, SMALL):
        app = make_app()
        async with app.run_test(size=size) as pilot:
            await sign_in_on_form(pilot)
            library_screen = app.screen
            assert isinstance(library_screen, LibraryScreen)
            table = library_screen.query_one("#scenarios")
            assert table.virtual_size.width <= table.scrollable_content_region.width, size  # nothing cut off
            labels = [str(c.label) for c in table.columns.values()]
            assert labels[:6] == ["Title", "Status", "Tries", "Best", "Level", "Min"]
            row = table.get_row("overpass-railing")
            assert [str(c) for c in row[1:5]] == ["passed", "1", "100", "intermediate"]
            table.move_cursor(row=table.get_row_index("overpass-railing"))
            await pilot.pause()
            preview = str(library_screen.query_one("#preview-text", Static).content)
            assert "Tags: suicide-risk, one-voice, height" in preview and "tag:" in preview


async def test_help_and_briefing_buttons_fit_80x24(make_app):
    from textual.widgets import Button

    from simulator.tui.screens.help import HelpScreen

    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        await pilot.pause()
        briefing = app.screen
        assert isinstance(briefing, BriefingScreen)
        buttons = list(briefing.query(Button))
        assert len({b.region.y for b in buttons}) == 1  # one row
        assert all(b.region.right <= SMALL[0] and b.region.width > len(str(b.label)) for b in buttons)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one(Static)
        at_80 = text.virtual_region.height
        await pilot.resize_terminal(200, 60)  # room for every line
        await pilot.pause()
        assert text.virtual_region.height == at_80, "a help line wrapped at 80x24"


async def test_below_80x24_every_screen_says_so(make_app):
    from simulator.tui.widgets.notice import SizeNotice

    app = make_app()
    async with app.run_test(size=(70, 20)) as pilot:
        await pilot.pause()
        assert app.screen.query_one(SizeNotice).display  # the sign-in form
        play = await sign_in_and_start(pilot)
        notice = play.query_one(SizeNotice)
        assert notice.display and notice.region.height > 0 and "80x24" in str(notice.content)
        await pilot.resize_terminal(*SMALL)
        await pilot.pause()
        assert not notice.display or notice.region.height == 0


# ---- defect 8: watch mode's error panel ----------------------------------------------------------


async def test_watch_errors_leave_the_choices_in_sight_and_count_the_rest(make_app, tmp_path):
    import shutil

    watched = tmp_path / "authoring" / SAMPLE.name
    watched.parent.mkdir()
    shutil.copy(SAMPLE, watched)
    app = make_app(scenario_ref=str(watched), watch=True)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        play = await start_play(pilot, "t")
        text = watched.read_text(encoding="utf-8")
        for n, scene in enumerate(["first_words", "listening", "long_silence", "good_ending", "left_alone"]):
            text = text.replace(f"to: {scene}", f"to: nowhere{n}")
        watched.write_text(text, encoding="utf-8")
        assert await wait_until(pilot, lambda: len(play.load_errors) > 3)
        await pilot.pause(0.2)
        panel = play.query_one("#watch-errors", Static)
        choices = play.query_one("#choices", OptionList)
        assert panel.display and panel.region.bottom <= choices.region.y  # above the choices, not over them
        assert choices.region.height >= choices.option_count + 2  # every option (and the border) in sight
        assert choices.region.bottom <= SMALL[1] - 1  # above the footer
        shown = [line for line in play.load_errors if line in str(panel.content)]
        more = f"... and {len(play.load_errors) - len(shown)} more: crisis-sim validate {watched}"
        assert shown and more in str(panel.content)
        assert panel.region.height - 2 == panel.virtual_region.height - 2  # nothing cut off inside it


# ---- the command palette, sign out, a shared machine ---------------------------------------------


async def palette(pilot, query: str) -> None:
    """Open the command palette, type ``query`` and take the first hit."""
    from textual.command import CommandPalette

    await pilot.press("ctrl+p")
    await pilot.pause()
    assert isinstance(pilot.app.screen, CommandPalette)
    await pilot.press(*query)
    await pilot.pause(0.5)  # the palette searches in a worker
    await pilot.press("enter")
    await pilot.pause(0.2)


async def test_palette_opens_a_scenario_switches_mode_and_time_pressure(make_app):
    app = make_app()
    async with app.run_test(size=LARGE) as pilot:
        await sign_in_on_form(pilot)
        await palette(pilot, "Mode: switch to coach")
        await palette(pilot, "Time pressure: turn off")
        await palette(pilot, "Open scenario: overpass")
        briefing = app.screen
        assert isinstance(briefing, BriefingScreen) and briefing.entry.scenario.id == "overpass-railing"
        assert (briefing.mode, briefing.time_pressure) == ("coach", False)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, PlayScreen) and (app.screen.mode, app.screen.time_pressure) == ("coach", False)


async def test_palette_quit_asks_like_q(make_app):
    app = make_app()
    async with app.run_test(size=LARGE) as pilot:
        await sign_in_on_form(pilot)
        await palette(pilot, "Quit")
        assert isinstance(app.screen, Confirm), "Quit from the palette must ask first"
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, LibraryScreen)


async def test_palette_shows_scenario_titles_literally(make_app, library):
    path = library / SAMPLE.name
    path.write_text(path.read_text().replace("title: Person outside the overpass railing",
                                             'title: "[b]Bold[/b] [@click=app.quit]railing[/]"'))
    app = make_app()
    async with app.run_test(size=LARGE) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"railing")
        await pilot.pause(0.5)
        shown = [str(c.prompt) for c in app.screen.query_one("CommandList").options]
        assert any("[b]Bold[/b] [@click=app.quit]railing[/]" in text for text in shown), shown


async def test_sign_out_from_the_palette_and_the_library(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, SignInScreen) and app.trainee_id == ""
        assert app.screen.query_one("#trainee-id", Input).value == ""
        await sign_in_on_form(pilot, "recruit-043", "Sam")
        await pilot.press("enter")
        await start_play(pilot, "t")
        await palette(pilot, "Sign out")
        assert isinstance(app.screen, Confirm)  # playing: asks first (progress is saved)
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, SignInScreen) and [type(s) for s in app.screen_stack][1:] == [SignInScreen]


async def test_a_shared_machine_starts_with_an_empty_form(make_app, monkeypatch, isolated_user_dirs):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await quit_app(pilot)
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#trainee-id", Input).value == "recruit-042"  # a personal machine
    config = isolated_user_dirs / "config.toml"
    config.write_text("[academy]\nshared_machine = true\n")
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(config))
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#trainee-id", Input).value == ""
        assert app.screen.query_one("#display-name", Input).value == ""


# ---- history, resume from the briefing, discard ---------------------------------------------------


async def test_my_attempts_lists_reopens_the_debrief_and_shows_the_trend(make_app, tmp_path):
    from simulator.tui.screens.history import HistoryScreen, PastDebriefScreen

    finished_attempt(tmp_path, choices=["ask-dispatch", "slow-approach", "calm-down", "repair", "ask-directly",
                                        "reasons", "call-sister", "invite-choice", "warm-handoff"])
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        play = await sign_in_and_start(pilot, "t")
        await play_to_the_ending(pilot, play, BEST)
        debrief = await continue_to_debrief(pilot)
        await pilot.press("l", "a")
        await pilot.pause()
        history = app.screen
        assert isinstance(history, HistoryScreen)
        table = history.query_one("#attempts")
        assert table.row_count == 2
        newest = [str(cell) for cell in table.get_row_at(0)]
        assert newest[1].startswith("Person outside") and newest[3:] == ["100", "passed"]
        trend = "\n".join(str(w.content) for w in history.query("#trend Static"))
        assert "Trend over 2 finished attempt(s)" in trend
        assert any(line.startswith("Overall") and line.endswith("→ 100, best 100") for line in trend.splitlines())
        assert "Listening and empathy" in trend
        await pilot.press("enter")
        await pilot.pause()
        past = app.screen
        assert isinstance(past, PastDebriefScreen)
        assert past.grade.overall == debrief.grade.overall == 100.0
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is history


async def test_an_unfinished_scenarios_briefing_offers_resume(make_app):
    first = make_app()
    async with first.run_test(size=SMALL) as pilot:
        play = await sign_in_and_start(pilot, "m", "t")
        for choice in BEST[:2]:
            await choose(pilot, play, choice)
        await quit_app(pilot)

    second = make_app()
    async with second.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("l")  # later
        await pilot.pause()
        await pilot.press("enter")  # the scenario, from the library
        await pilot.pause()
        briefing = second.screen
        assert isinstance(briefing, BriefingScreen)
        assert "unfinished" in str(briefing.query_one("#unfinished Static", Static).content)
        await pilot.press("r")
        await pilot.pause()
        play = second.screen
        assert isinstance(play, PlayScreen) and [d.choice for d in play.session.decisions] == BEST[:2]


async def test_discarding_from_my_attempts_keeps_the_attempt_as_abandoned(make_app):
    from simulator.tui.screens.history import HistoryScreen

    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        play = await sign_in_and_start(pilot, "t")
        await choose(pilot, play, BEST[0])
        await pilot.press("escape", "y")  # leave the scenario (progress saved)
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        history = app.screen
        assert isinstance(history, HistoryScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ResumeOffer)
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is history
        assert [str(c) for c in history.query_one("#attempts").get_row_at(0)][-1] == "abandoned"
    with Store.open(app.store.path) as store:
        [attempt] = list(store.attempts(trainee="recruit-042"))
        assert attempt.status == "abandoned" and [d.choice for d in store.decisions(attempt.id)] == BEST[:1]


# ---- an academy's own scenario folders ------------------------------------------------------------


def academy_folder(tmp_path, name="academy"):
    """A folder with one scenario of the academy's own (the sample under another id and title)."""
    folder = tmp_path / name
    folder.mkdir()
    text = SAMPLE.read_text(encoding="utf-8").replace("id: overpass-railing", "id: academy-bridge")
    (folder / "academy-bridge.yaml").write_text(
        text.replace("title: Person outside the overpass railing", "title: Academy bridge call"), encoding="utf-8"
    )
    return folder


async def test_library_dirs_in_the_config_and_dir_add_an_academys_scenarios(make_app, tmp_path, monkeypatch,
                                                                            isolated_user_dirs):
    configured, given = academy_folder(tmp_path), academy_folder(tmp_path, "more")
    (given / "academy-bridge.yaml").rename(given / "second.yaml")
    second = given / "second.yaml"
    second.write_text(second.read_text().replace("id: academy-bridge", "id: academy-second")
                      .replace("title: Academy bridge call", "title: Second academy call"))
    config = isolated_user_dirs / "config.toml"
    config.write_text(f'[library]\ndirs = ["{configured}"]\n')
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(config))
    app = make_app(dirs=[given])
    async with app.run_test(size=LARGE) as pilot:
        await sign_in_on_form(pilot)
        table = app.screen.query_one("#scenarios")
        assert [key.value for key in table.rows] == ["overpass-railing", "academy-bridge", "academy-second"]
        assert [str(table.get_row_at(i)[0]) for i in (1, 2)] == ["Academy bridge call", "Second academy call"]


def test_a_configured_library_folder_that_is_missing_is_one_clear_error(make_app, monkeypatch, isolated_user_dirs):
    import pytest

    from simulator.config import ConfigError

    config = isolated_user_dirs / "config.toml"
    config.write_text('[library]\ndirs = ["~/no-such-folder"]\n')
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"config.toml: error: \[library\] dirs: '~/no-such-folder': no such folder"):
        make_app()


# ---- defect 2: resume restores mode and time pressure; preferences persist per trainee ------------


async def test_resume_keeps_time_pressure_off_and_the_mode(make_app, library):
    path = library / SAMPLE.name
    path.write_text(path.read_text().replace("seconds: 40", "seconds: 1"))  # the first scene's timer
    first = make_app()
    async with first.run_test(size=SMALL) as pilot:
        await sign_in_and_start(pilot, "m", "t")  # coach mode, time pressure off
        await quit_app(pilot)

    second = make_app()
    async with second.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("r")
        await pilot.pause()
        play = second.screen
        assert isinstance(play, PlayScreen)
        assert (play.mode, play.time_pressure) == ("coach", False)
        await pilot.pause(1.6)  # longer than the 1-second timer
        assert play.session.decisions == [], "the timer fired: time pressure came back on"
        assert str(play.query_one("#countdown", Static).content) == ""
    with Store.open(second.store.path) as store:
        [attempt] = list(store.attempts())
        assert (attempt.front_end, attempt.mode, attempt.time_pressure) == ("app", "coach", False)


async def test_mode_time_pressure_and_theme_follow_the_trainee(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("m", "t")  # on the briefing: coach, time pressure off
        app.theme = "nord"  # as the palette's Theme command does
        await pilot.pause()
        await quit_app(pilot)

    again = make_app()
    async with again.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        assert again.theme == "nord"
        await pilot.press("enter")
        await pilot.pause()
        briefing = again.screen
        assert isinstance(briefing, BriefingScreen) and (briefing.mode, briefing.time_pressure) == ("coach", False)
        await pilot.press("escape", "o")  # sign out: the next trainee starts from the defaults
        await pilot.pause()
        await sign_in_on_form(pilot, "recruit-043", "Sam")
        assert again.theme != "nord" and (again.mode, again.time_pressure) == ("assessment", True)
    with Store.open(again.store.path) as store:
        assert store.preferences("recruit-042") == {"mode": "coach", "time_pressure": "off", "theme": "nord"}
        assert store.preferences("recruit-043") == {}


async def test_my_attempts_from_the_palette(make_app, tmp_path):
    from simulator.tui.screens.history import HistoryScreen

    finished_attempt(tmp_path)
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await palette(pilot, "My attempts")
        assert isinstance(app.screen, HistoryScreen)
        assert app.screen.query_one("#attempts").row_count == 1


FEEDBACK_SECOND = "Then, once she answers, keep your voice low and even."


def with_two_paragraph_feedback(library):
    """The sample with a second feedback paragraph (a literal block) on 'slow-approach'."""
    path = library / SAMPLE.name
    text = path.read_text(encoding="utf-8")
    # slow-approach's folded feedback, up to the next key of that choice or the next choice
    found = re.search(r"(      - id: slow-approach\n(?:        .*\n)*?)        feedback: >-\n(?:          .*\n)+", text)
    assert found, "the sample's slow-approach has no folded feedback"
    old = found.group(0)
    new = found.group(1) + (
        "        feedback: |\n"
        "          Space, a calm voice and a name lower the sense of threat and give her time.\n\n"
        f"          {FEEDBACK_SECOND}\n"
    )
    path.write_text(text.replace(old, new), encoding="utf-8")


async def test_coach_feedback_and_the_debrief_keep_paragraphs(make_app, library):
    with_two_paragraph_feedback(library)
    app = make_app()
    async with app.run_test(size=LARGE) as pilot:
        play = await sign_in_and_start(pilot, "m", "t")
        assert BEST[1] == "slow-approach"
        await choose(pilot, play, BEST[0])
        await choose(pilot, play, BEST[1])
        coach = str(list(play.query(".entry.-coach"))[-1].content)
        assert f"give her time.\n\n{FEEDBACK_SECOND}" in coach
        await play_to_the_ending(pilot, play, BEST[2:])
        debrief = await continue_to_debrief(pilot)
        reviews = "\n".join(str(w.content) for w in debrief.query(".review"))
        assert f"give her time.\n\n{FEEDBACK_SECOND}" in reviews


# ---- found in the walk at 80x24: back in the library, the scenario just played is highlighted ------


async def test_after_a_resumed_attempt_the_library_highlights_the_scenario_played(make_app, library):
    import shutil

    shutil.copy(SAMPLE.parent / "autistic-teen-store.yaml", library)  # listed before the sample
    first = make_app()
    async with first.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        table = first.screen.query_one("#scenarios")
        table.move_cursor(row=table.get_row_index("overpass-railing"))
        await pilot.press("enter")
        play = await start_play(pilot, "t")
        await choose(pilot, play, BEST[0])
        await quit_app(pilot)

    second = make_app()
    async with second.run_test(size=SMALL) as pilot:
        await sign_in_on_form(pilot)
        await pilot.press("r")  # resume, straight from the sign-in form
        await pilot.pause()
        play = second.screen
        await play_to_the_ending(pilot, play, BEST[1:])
        await continue_to_debrief(pilot)
        await pilot.press("l")
        await pilot.pause()
        library_screen = second.screen
        assert isinstance(library_screen, LibraryScreen)
        table = library_screen.query_one("#scenarios")
        assert table.get_row_index("overpass-railing") == table.cursor_row, "the first row, not the one played"
        assert "Person outside the overpass railing" in str(library_screen.query_one("#preview-text").content)
