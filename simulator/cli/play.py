"""Playing: the trainee app, ``run`` and ``resume`` in plain text, ``play`` at a briefing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from simulator.cli.base import (
    APP_DIR_OPTION,
    DB_OPTION,
    MAX_BYTES_OPTION,
    PROG,
    RUBRIC_OPTION,
    checked_trainee,
    cli,
    fail,
    load_for_play,
    open_store,
    scenario_for,
)
from simulator.safetext import escaped_line

LOCKED_SCRIPTED = (
    "this academy is locked ([academy] locked = true): a scripted run (--choose, --timeout-at, --policy) "
    "is not recorded; play it yourself, or add --no-record to try the script without a record"
)


def open_app(scenario: str | None = None, **options: Any) -> int:
    """Open the trainee app (textual is imported only here, so other commands start fast)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return fail(
            "the app needs an interactive terminal; for plain-text play use 'crisis-sim run SCENARIO', "
            "and 'crisis-sim --help' lists the commands",
            2,
        )
    from simulator.tui.launch import start_app

    app = start_app(scenario_ref=scenario, **options)
    try:
        app.run()
    finally:
        app.store.close()
    if app.records_error is not None:
        return fail(app.records_error)
    if app.return_code is None:  # it never exited: Textual panicked (its input thread died) and said why
        return 1
    return app.return_code


def _play(
    session: Any,
    graded: Any,
    script: Any,
    as_json: bool,
    recorder: Any,
    extra: dict[str, Any],
    answers: Any = None,
) -> int:
    """Drive a started session (scripted, interactive, or in free text with ``answers``), then
    grade, store and show the result."""
    from scoring.grading import grade
    from scoring.report import format_grade, said_by_sequence
    from simulator.runner import RunStopped, interact, interact_free_text, run_script, stuck_message, transcript_json

    out = click.get_text_stream("stdout")
    status = 0
    if script.choose or script.timeout_at or script.policy:
        try:
            for warning in run_script(session, script):
                click.echo(f"{PROG}: warning: {escaped_line(warning)}", err=True)
        except RunStopped as exc:
            status = fail(str(exc))
    else:

        def read(prompt: str) -> str | None:
            out.write(prompt)
            out.flush()
            line = sys.stdin.readline()
            return line if line else None

        if answers is not None:
            interact_free_text(session, read, out, answers)
        else:
            interact(session, read, out)
    result = None
    if session.finished:
        result = (
            recorder.finish(session, graded.rubric)
            if recorder
            else grade(session.scenario, graded.rubric, session.decisions)
        )
    if as_json:
        payload = transcript_json(session, {**extra, "grade": result.as_dict() if result else None})
        click.echo(json.dumps(payload, indent=2))
    elif result is not None:
        from simulator.recorder import flag_notes

        flags = flag_notes(recorder.store, recorder.attempt_id) if recorder else {}
        out.write(format_grade(result, flags, said_by_sequence(session.decisions)) + "\n")
    if session.at_limit:
        return fail(_limit_message(session, script, recorder))
    if recorder and not session.finished:
        click.echo(f"{PROG}: progress saved; continue with 'crisis-sim resume {recorder.attempt_id}'", err=True)
    if session.stuck:
        status = status or fail(stuck_message(session))
    return status


FREE_TEXT_OPTION = click.option(
    "--free-text",
    is_flag=True,
    help="Answer each decision in your own words: the closest option is shown to confirm (Enter) or to "
    "replace by number. Uses the [freetext] extra's model when installed, else a word-matching fallback.",
)


def _free_text_answers(graded: Any, free_text: bool, script: Any, as_json: bool) -> Any:
    """The matching for ``--free-text`` (None without it); refuses it with a script."""
    from scoring.phrases import Answers
    from simulator.freetext import load_matcher

    if not free_text:
        return None
    if script.choose or script.timeout_at or script.policy or as_json:
        raise click.UsageError("--free-text is for playing yourself: drop --choose, --timeout-at, --policy and --json")
    # load_matcher() is "auto": the lexical fallback when the model cannot run (the banner says so)
    return Answers.for_play(graded.scenario, graded.rubric, load_matcher())


def free_text_banner(answers: Any) -> list[str]:
    """What a free-text run says once at its start: how to answer, and which matching is used."""
    lines = [
        "",
        "Free-text mode: at each decision, type what you would say or do. The closest option is shown:",
        "press Enter to confirm it, type another option's number, or type again.",
    ]
    if answers.matcher.note:
        lines.append(f"Note: {answers.matcher.note}; it asks more often which option you mean.")
    return lines


def _limit_message(session: Any, script: Any, recorder: Any) -> str:
    """One line for a run stopped at max_decisions: where, what is kept, what to do."""
    from simulator.runner import stuck_message

    message = stuck_message(session)
    if recorder:
        message += f"; its decisions are saved in attempt {recorder.attempt_id[:8]}, marked abandoned"
    if script.policy == "first":
        message += "; --policy first takes the same loop every time: try --choose or --policy random"
    return message


@cli.command()
@click.argument("scenario")
@click.option(
    "--choose", multiple=True, metavar="IDS", help="Choices to make, comma-separated: choice ids or 1-based positions."
)
@click.option(
    "--timeout-at", multiple=True, metavar="SCENES", help="Let the timer run out in these scenes (each entry once)."
)
@click.option("--policy", type=click.Choice(["first", "random"]), help="How to choose once --choose runs out.")
@click.option("--seed", type=int, help="Seed for --policy random (same seed, same run).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable transcript with the grade.")
@click.option("--trainee", metavar="ID", help="Record the attempt for this trainee (default: config, else 'guest').")
@click.option("--no-record", is_flag=True, help="Do not record the attempt.")
@FREE_TEXT_OPTION
@DB_OPTION
@RUBRIC_OPTION
@MAX_BYTES_OPTION
def run(
    scenario: str,
    choose: tuple[str, ...],
    timeout_at: tuple[str, ...],
    policy: str | None,
    seed: int | None,
    as_json: bool,
    trainee: str | None,
    no_record: bool,
    free_text: bool,
    db: str | None,
    rubric_ref: str | None,
    max_bytes: int,
) -> int:
    """Play SCENARIO (a library id or a path) in plain text, then show the debrief.

    Scripted with --choose/--timeout-at/--policy; otherwise interactive: type the number of
    a choice (or its id), 'w' to let a timer run out, 'q' to stop. With --free-text, answer
    in your own words instead (docs/free-text.md). Every decision is recorded as it is made
    (unless --no-record), with what was typed; an unfinished attempt can be resumed.
    """
    from simulator.config import load_config
    from simulator.engine import Session
    from simulator.recorder import begin
    from simulator.runner import Script, header, parse_list, print_events

    script = Script(parse_list(choose), parse_list(timeout_at), policy, seed)
    if as_json and not (script.choose or script.timeout_at or policy):
        return fail("--json needs a scripted run: add --choose or --policy", 2)
    graded = load_for_play(scenario, rubric_ref, max_bytes)
    answers = _free_text_answers(graded, free_text, script, as_json)
    config = load_config()
    scripted = bool(script.choose or script.timeout_at or policy)
    if scripted and not no_record and config.academy.locked:
        return fail(LOCKED_SCRIPTED)
    session = Session(graded.scenario)
    recorder = None
    if not no_record:
        trainee_id = trainee or config.trainee.id or "guest"
        checked_trainee(trainee_id, "--trainee" if trainee else "[trainee] id")
        store = open_store(db)
        name = config.trainee.name if trainee_id == config.trainee.id else None
        recorder = begin(
            store,
            trainee_id,
            graded.scenario,
            graded.rubric,
            mode="assessment",  # the debrief comes at the end
            front_end="run-scripted" if scripted else "run",
            time_pressure=False,  # run has no clock: a timer runs out only when the trainee types w
            seed=seed,
            cohort=config.academy.cohort,
            trainee_name=name,
        )
        session.subscribe(recorder)
    if not as_json:
        out = click.get_text_stream("stdout")
        for line in header(graded.scenario) + (free_text_banner(answers) if answers else []):
            out.write(line + "\n")
        session.subscribe(print_events(out, session, free_text=answers is not None))
    session.start()
    extra = {"attempt_id": recorder.attempt_id if recorder else None}
    return _play(session, graded, script, as_json, recorder, extra, answers)


@cli.command()
@click.argument("attempt")
@click.option("--choose", multiple=True, metavar="IDS", help="Choices to make from here on (ids or positions).")
@click.option("--timeout-at", multiple=True, metavar="SCENES", help="Let the timer run out in these scenes.")
@click.option("--policy", type=click.Choice(["first", "random"]), help="How to choose once --choose runs out.")
@click.option("--seed", type=int, help="Seed for --policy random.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable transcript with the grade.")
@FREE_TEXT_OPTION
@DB_OPTION
def resume(
    attempt: str,
    choose: tuple[str, ...],
    timeout_at: tuple[str, ...],
    policy: str | None,
    seed: int | None,
    as_json: bool,
    free_text: bool,
    db: str | None,
) -> int:
    """Continue an unfinished attempt (ATTEMPT: its id, or the first 6+ characters of it).

    The scenario must be unchanged since the attempt started (same content hash); if it has
    changed, resuming is refused and a fresh start is offered.
    """
    from simulator.config import load_config
    from simulator.recorder import ResumeRefused
    from simulator.recorder import resume as resume_attempt
    from simulator.runner import Script, describe, header, parse_list, print_events

    script = Script(parse_list(choose), parse_list(timeout_at), policy, seed)
    if as_json and not (script.choose or script.timeout_at or policy):
        return fail("--json needs a scripted run: add --choose or --policy", 2)
    if (script.choose or script.timeout_at or policy) and load_config().academy.locked:
        return fail(LOCKED_SCRIPTED)
    store = open_store(db, create=False)
    record = store.attempt(attempt)
    graded = scenario_for(record)
    try:
        session, recorder = resume_attempt(store, record, graded.scenario, graded.rubric)
    except ResumeRefused as exc:
        return fail(str(exc))
    answers = _free_text_answers(graded, free_text, script, as_json)
    if not as_json:
        out = click.get_text_stream("stdout")
        for line in header(graded.scenario) + (free_text_banner(answers) if answers else []):
            out.write(line + "\n")
        out.write(f"\n(Resuming attempt {record.id[:8]} after {len(session.decisions)} decision(s).)\n")
        for event in session.events[-2:]:  # where the trainee left off: the scene and its choices
            for line in describe(event, session, free_text=answers is not None):
                out.write(line + "\n")
        session.subscribe(print_events(out, session, free_text=answers is not None))
    return _play(session, graded, script, as_json, recorder, {"attempt_id": record.id}, answers)


@cli.command()
@click.argument("scenario")
@click.option("--trainee", metavar="ID", help="Sign in as this trainee (skips the sign-in screen).")
@click.option(
    "--watch",
    is_flag=True,
    help="Playtest: reload SCENARIO's file whenever it is saved, keeping your place (errors are shown in the "
    "app); 'd' shows the debug panel. Nothing is recorded.",
)
@APP_DIR_OPTION
@DB_OPTION
@RUBRIC_OPTION
@MAX_BYTES_OPTION
def play(
    scenario: str,
    trainee: str | None,
    watch: bool,
    dirs: tuple[Path, ...],
    db: str | None,
    rubric_ref: str | None,
    max_bytes: int,
) -> int:
    """Open the app straight at SCENARIO's briefing (a library id or a path).

    With --watch it is a playtest for authors: the file is reloaded when saved, the decisions
    so far are replayed on it (or play restarts, saying why), and no attempt is recorded.
    """
    if trainee is not None:
        checked_trainee(trainee)
    return open_app(
        scenario, trainee=trainee, db=db, rubric_ref=rubric_ref, watch=watch, dirs=dirs, max_bytes=max_bytes
    )
