"""The trainee app driven with Pilot: behaviour, not looks (see test_snapshots.py for looks)."""

from __future__ import annotations

import os

from conftest import (
    BEST,
    SAMPLE,
    choose,
    continue_to_debrief,
    position_of,
    start_play,
    transcript_text,
    wait_until,
)
from textual.widgets import DataTable, Input, OptionList, Static

from scoring.catalog import load_graded
from scoring.grading import grade
from simulator.engine import Session
from simulator.records import Store
from simulator.tui.screens.dialogs import Confirm, ResumeOffer
from simulator.tui.screens.library import LibraryScreen
from simulator.tui.screens.play import PlayScreen
from simulator.tui.screens.signin import SignInScreen
from simulator.tui.widgets.transcript import Transcript


def headless_score(choices):
    graded = load_graded(SAMPLE)
    s = Session(graded.scenario)
    s.start()
    for c in choices:
        s.choose(c)
    return grade(graded.scenario, graded.rubric, s.decisions).overall


async def sign_in(pilot, trainee="recruit-042", name="Alex"):
    app = pilot.app
    assert isinstance(app.screen, SignInScreen)
    app.screen.query_one("#trainee-id", Input).value = trainee
    app.screen.query_one("#display-name", Input).value = name
    await pilot.click("#signin-button")
    await pilot.pause()


async def test_sign_in_library_briefing_play_with_digits_debrief_matches_the_runner(make_app):
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await sign_in(pilot)
        assert isinstance(app.screen, LibraryScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        assert "signed in as Alex (recruit-042)" in str(app.screen.query_one("#library-heading", Static).content)
        await pilot.press("enter")
        await pilot.pause()
        play = await start_play(pilot)
        for choice in BEST:
            await choose(pilot, play, choice)
        await continue_to_debrief(pilot)
        assert app.screen.grade.overall == headless_score(BEST) == 100.0
        assert app.screen.grade.passed
        verdict = str(app.screen.query_one("#verdict", Static).content)
        assert "100 / 100" in verdict and "PASSED" in verdict
        assert "988" in str(app.screen.query_one("#resources", Static).content)
    with Store.open(app.store.path) as store:
        [attempt] = list(store.attempts(trainee="recruit-042"))
        assert attempt.status == "completed" and attempt.overall == 100.0 and attempt.mode == "assessment"
        assert [d.choice for d in store.decisions(attempt.id)] == BEST


async def test_play_with_arrows_and_enter(make_app):
    app = make_app(trainee="t-arrows", scenario_ref=str(SAMPLE))
    path = ["slow-approach", "calm-down", "repair", "ask-directly", "promise-secret", "call-sister", "invite-choice",
            "wait-with-her", "just-chat"]
    async with app.run_test(size=(100, 32)) as pilot:
        play = await start_play(pilot)
        for choice in path:
            position = position_of(play, choice)
            options = play.query_one(OptionList)
            options.focus()
            await pilot.press("home")
            for _ in range(position - 1):
                await pilot.press("down")
            await pilot.press("enter")
            await pilot.pause()
        await continue_to_debrief(pilot)
        assert app.screen.grade.overall == headless_score(path)
        assert not app.screen.grade.passed
        assert any(h.id == "unsafe_promise_or_lie" for h in app.screen.grade.critical_errors)


async def test_mouse_click_chooses(make_app):
    app = make_app(trainee="t-mouse", scenario_ref=str(SAMPLE))
    async with app.run_test(size=(100, 32)) as pilot:
        await start_play(pilot)
        await pilot.click(OptionList, offset=(4, 1))  # first option row
        await pilot.pause()
        assert app.screen.session.decisions[0].choice == "ask-dispatch"


def with_timer(library, seconds: int):
    """The sample in ``library`` with its first countdown cut from 40 s to ``seconds``."""
    path = library / SAMPLE.name
    path.write_text(path.read_text().replace("seconds: 40", f"seconds: {seconds}"))
    return path


async def test_a_timeout_fires_the_engines_expire(make_app, library):
    path = with_timer(library, 2)
    app = make_app(trainee="t-timer", scenario_ref=str(path))
    async with app.run_test(size=(100, 32)) as pilot:
        await start_play(pilot)
        play = app.screen
        assert "s to decide" in str(play.query_one("#countdown", Static).content)
        assert await wait_until(pilot, lambda: play.session.decisions, pauses=40)  # the countdown ran out
        assert play.session.decisions[0].choice is None  # the timer ran out: expire() was fired
        assert "Time ran out after 2 s" in transcript_text(play)


async def test_time_pressure_off_never_fires(make_app, library):
    path = with_timer(library, 1)
    app = make_app(trainee="t-notimer", scenario_ref=str(path))
    async with app.run_test(size=(100, 32)) as pilot:
        await start_play(pilot, "t")  # time pressure off
        await pilot.pause(1.6)
        assert app.screen.session.decisions == []
        assert str(app.screen.query_one("#countdown", Static).content) == ""


async def test_pause_stops_the_timer(make_app, library):
    path = with_timer(library, 2)
    app = make_app(trainee="t-pause", scenario_ref=str(path))
    async with app.run_test(size=(100, 32)) as pilot:
        await start_play(pilot)
        play = app.screen
        await pilot.press("p")
        await pilot.pause(2.5)  # longer than the whole countdown
        assert play.session.decisions == []  # paused: nothing expired
        await pilot.press("p")
        assert await wait_until(pilot, lambda: play.session.decisions, pauses=40)
        assert play.session.decisions[0].choice is None


async def test_coach_mode_shows_feedback_and_the_better_option(make_app):
    app = make_app(trainee="t-coach", scenario_ref=str(SAMPLE))
    async with app.run_test(size=(100, 32)) as pilot:
        await start_play(pilot, "m")
        await pilot.press("2")  # slow-approach: marked acceptable, as good as asking dispatch first
        await pilot.pause()
        text = transcript_text(app.screen)
        assert "Coach: your choice was worth 85, counted as 100 (as good as the best)" in text
        assert "scored 100 of 100." in text
        assert "Points: Slow down; use time, distance and cover +2, Respectful approach +2" in text  # rubric names
        assert "Also strong: Stay in the car for a moment and ask dispatch what else they know. (worth 100: " in text
        assert "Better:" not in text
        await pilot.press("3")  # euphemism: a real mistake, with the better option named
        await pilot.pause()
        text = transcript_text(app.screen)
        assert "Coach: your choice was worth -50; the best on offer was worth 80: scored -50 of 80." in text
        assert "Points: Ask directly about suicide -2, Empathy and validation -1." in text
        better = "Better: \"It sounds like things have been really hard. I'd like to hear what happened.\" (worth 80: "
        assert better in text
    with Store.open(app.store.path) as store:
        assert next(store.attempts()).mode == "coach"


async def test_assessment_mode_shows_no_feedback(make_app):
    app = make_app(trainee="t-assess", scenario_ref=str(SAMPLE))
    async with app.run_test(size=(100, 32)) as pilot:
        await start_play(pilot)
        await pilot.press("2")
        await pilot.pause()
        assert "Coach:" not in transcript_text(app.screen)


async def test_quit_asks_first(make_app):
    app = make_app(trainee="t-quit")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


async def test_markup_in_scenario_text_and_trainee_names_is_shown_literally_and_does_nothing(make_app, library):
    path = library / SAMPLE.name
    hostile = "[@click=app.quit]x[/] [b]bold[/b]"
    path.write_text(path.read_text().replace('"Don\'t come any closer!"', f'"{hostile}"'))
    app = make_app(scenario_ref=str(path))
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await sign_in(pilot, trainee="evil", name="[red]Mallory[/red] [@click=app.quit]q[/]")
        heading = str(app.screen_stack[1].query_one("#library-heading", Static).content)
        assert "[red]Mallory[/red] [@click=app.quit]q[/]" in heading
        await start_play(pilot)
        line = next(w for w in app.screen.query_one(Transcript).query(Static) if "Maya:" in str(w.content))
        assert str(line.content) == f"Maya: {hostile}"
        await pilot.click(line, offset=(7, 0))  # on the would-be link
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, PlayScreen)


async def test_unfinished_attempt_is_offered_for_resume_on_next_start(make_app):
    first = make_app(trainee="t-resume", scenario_ref=str(SAMPLE))
    async with first.run_test(size=(100, 32)) as pilot:
        await start_play(pilot)
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("1")
        await pilot.pause()
    second = make_app(trainee="t-resume")
    async with second.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        assert isinstance(second.screen, ResumeOffer)
        await pilot.press("r")
        await pilot.pause()
        play = second.screen
        assert isinstance(play, PlayScreen)
        assert [d.choice for d in play.session.decisions] == ["ask-dispatch", "slow-approach"]
        assert "Hi, I'm Sam" in transcript_text(play)  # the conversation so far is shown
        for choice in BEST[2:]:
            await choose(pilot, play, choice)
        assert (await continue_to_debrief(pilot)).grade.overall == 100.0
    with Store.open(second.store.path) as store:
        [attempt] = list(store.attempts(trainee="t-resume"))
        assert attempt.status == "completed"


async def test_library_filter_by_text_and_tag(make_app):
    app = make_app(trainee="t-filter")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        await pilot.press("slash")
        for key in "tag:suicide":
            await pilot.press(key)
        await pilot.pause()
        assert table.row_count == 1
        app.screen.query_one("#filter", Input).value = "tag:dementia"
        await pilot.pause()
        assert table.row_count == 0
        assert "No scenario matches" in str(app.screen.query_one("#preview-text", Static).content)
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 1


async def test_resizing_keeps_working(make_app):
    app = make_app(trainee="t-resize", scenario_ref=str(SAMPLE))
    async with app.run_test(size=(120, 40)) as pilot:
        await start_play(pilot)
        for size in [(80, 24), (60, 18), (200, 60), (80, 24)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert app.screen.query_one(OptionList).size.width > 0
        await pilot.press("1")
        await pilot.pause()
        assert len(app.screen.session.decisions) == 1


async def test_no_color_is_respected(make_app, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(trainee="t-nocolor")
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
    os.environ.pop("NO_COLOR", None)


async def test_help_is_one_key_away(make_app):
    app = make_app(trainee="t-help", scenario_ref=str(SAMPLE))
    async with app.run_test(size=(100, 32)) as pilot:
        await start_play(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = str(app.screen.query_one(Static).content)
        assert "MODES" in text and "METERS" in text and "1-9" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PlayScreen)


async def test_a_display_name_with_invisible_characters_is_refused_at_sign_in(make_app):
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await sign_in(pilot, "recruit-042", "Al\u200bex\ufeff")  # zero-width space, BOM: pasted from a document
        assert isinstance(app.screen, SignInScreen)
        error = str(app.screen.query_one("#signin-error", Static).content)
        assert "The display name holds U+200B, U+FEFF: only printable characters" in error
        assert app.screen.focused is app.screen.query_one("#display-name", Input)
        app.screen.query_one("#display-name", Input).value = "Alex"
        await pilot.click("#signin-button")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen) and app.trainee_name == "Alex"


FORMULA_NAME = "A;=cmd|' /C calc'!A0"


async def test_a_formula_typed_as_a_display_name_is_no_formula_in_any_spreadsheet_locale(make_app, tmp_path):
    """Excel splits a CSV on ',' or, in locales whose list separator is ';' (most of Europe), on
    ';'; the name must not start a formula cell either way, whether or not quotes are honoured."""
    import csv

    from cli_runner import run_cli

    from simulator.export.tabular import FORMULA_STARTS

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await sign_in(pilot, "recruit-9", FORMULA_NAME)
        assert app.trainee_name == FORMULA_NAME
        await pilot.press("enter")
        await pilot.pause()
        play = await start_play(pilot)
        for choice in BEST:
            await choose(pilot, play, choice)
        await continue_to_debrief(pilot)
    out = tmp_path / "scores.csv"
    result = run_cli(["export", "--format", "csv", "--db", str(app.store.path), "--out", str(out)])
    assert result.code == 0, result
    text = out.read_text(encoding="utf-8")
    [row] = list(csv.DictReader(text.splitlines()))
    assert row["trainee_name"] == "A;'=cmd|' /C calc'!A0"  # the ' after ';' keeps the cell text
    for separator in (",", ";"):
        cells = [cell for line in csv.reader(text.splitlines(), delimiter=separator) for cell in line]
        cells += [piece for line in text.splitlines() for piece in line.split(separator)]  # quotes ignored
        for cell in cells:
            assert not cell.lstrip('"').startswith(FORMULA_STARTS), (separator, cell)


async def test_a_trainee_going_round_a_loop_stops_at_max_decisions(make_app, tmp_path):
    """The decision limit holds in the app too: the run stops with the engine's sentence, the
    decisions made are kept and the attempt is marked abandoned (it is not offered again)."""
    folder = tmp_path / "loops"
    folder.mkdir()
    path = folder / "loop.yaml"
    path.write_text(
        SAMPLE.read_text(encoding="utf-8").split("\ncast:", 1)[0].replace("id: overpass-railing", "id: loop")
        + "\nmax_decisions: 3\nstart: hub\nscenes:\n  hub:\n    text: Sam paces.\n    choices:\n"
        "      - {id: again, text: Ask again, to: hub}\n      - {id: leave, text: Leave, to: done}\n"
        "  done:\n    end: {rating: good, outcome: Done.}\n",
        encoding="utf-8",
    )
    app = make_app(trainee="t-loop", scenario_ref=str(path), library=folder)
    async with app.run_test(size=(100, 32)) as pilot:
        play = await start_play(pilot)
        for _ in range(3):
            await choose(pilot, play, "again")
        assert play.session.at_limit and len(play.session.decisions) == 3
        shown = transcript_text(play)
        assert (
            "the run reached 3 decisions, the most this scenario allows (its max_decisions), and stopped in scene "
            "'hub'. Your decisions are saved; press q to quit." in shown
        )
        assert play.query_one(OptionList).option_count == 0
    with Store.open(app.store.path) as store:
        [attempt] = list(store.attempts(trainee="t-loop"))
        assert attempt.status == "abandoned" and len(store.decisions(attempt.id)) == 3


def worked_example(folder):
    """The worked example of docs/scoring.md, written into ``folder``."""
    import re

    text = (SAMPLE.parent.parent / "docs" / "scoring.md").read_text(encoding="utf-8")
    body = re.search(r"<!-- example: worked -->\s*```yaml\n(.*?)```", text, re.S).group(1)
    path = folder / "worked-example.yaml"
    path.write_text(body, encoding="utf-8")
    return path


async def test_debrief_shows_the_capped_score_the_performance_and_also_strong(make_app, library):
    """A run that fails on a dimension reports 69 and shows the performance beside it; the
    acceptable choice gets "Also strong:", the weaker one "Better:", principles by name."""
    path = worked_example(library)
    app = make_app(trainee="t-worked", scenario_ref=str(path))
    async with app.run_test(size=(100, 40)) as pilot:
        play = await start_play(pilot)
        for choice in ("introduce", "open-question", "stay-back"):
            await choose(pilot, play, choice)
        screen = await continue_to_debrief(pilot)
        verdict = str(screen.query_one("#verdict", Static).content)
        assert verdict.startswith("Score: 69 / 100 (pass mark 70): NOT PASSED")
        assert "performance 70.4; a run that does not pass reports at most 69" in verdict
        reviews = [str(w.content) for w in screen.query(".review")]
        assert "Also strong: Stay back and ask dispatch what the caller saw." in reviews[0]
        assert "worth 45, counted as 60 (as good as the best)" in reviews[0] and "Better:" not in reviews[0]
        assert "Better: \"It sounds like a lot of people are pushing you." in reviews[1]
        assert "(worth 60: Active listening +2, Empathy and validation +1)" in reviews[1]
        lines = [str(w.content) for w in screen.query(".dimension")]
        assert any(line.startswith("Suicide risk") and "n/a  never at stake" in line for line in lines)
    with Store.open(app.store.path) as store:
        [attempt] = list(store.attempts(trainee="t-worked"))
        assert attempt.overall == 69.0 and attempt.grade["performance"] == 70.4 and attempt.grade_method == 2
