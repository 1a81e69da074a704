"""The headless runner: play a scenario in plain text, scripted or interactive.

This is also the screen-reader path: everything the TUI shows (narration, spoken lines,
numbered choices, visible meters and flags, the ending and its resources) is printed here as
plain lines, with no colour or layout needed to understand it.
"""

from __future__ import annotations

import random
import shutil
import textwrap
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Protocol

from simulator.engine import (
    AutoMoved,
    ChoiceMade,
    ChoicesOffered,
    EndingReached,
    Event,
    Run,
    SceneEntered,
    SessionError,
    Stuck,
    TimedOut,
)
from simulator.freetext.core import Match, clean
from simulator.model import Choice, Scenario, paragraphs
from simulator.rules import MAX_AUTO_MOVES

WIDTH = 88
"""The widest lines are ever wrapped to (a readable measure); narrower in a narrower terminal."""


def text_width() -> int:
    """The width to wrap to: the terminal's (``COLUMNS`` when set), at most ``WIDTH``; ``WIDTH``
    when the output is not a terminal."""
    return min(WIDTH, max(20, shutil.get_terminal_size((WIDTH, 24)).columns))


class RunStopped(Exception):
    """The script could not go on; the message says where and why."""


def wrap(text: str, indent: str = "") -> list[str]:
    """Re-flow paragraphs to the terminal's width (``text_width``), keeping blank lines between them."""
    out: list[str] = []
    width = text_width()
    for para in paragraphs(text):
        out.extend(textwrap.wrap(para, width, initial_indent=indent, subsequent_indent=indent))
        out.append("")
    return out[:-1] if out else out


def item(text: str, prefix: str = "", indent: str | None = None) -> list[str]:
    """One line of text (a choice, a resource, a status line) wrapped to ``text_width`` after
    ``prefix``, its continuation lines indented under the text (or by ``indent``)."""
    hanging = " " * len(prefix) if indent is None else indent
    return textwrap.wrap(" ".join(text.split()), text_width(), initial_indent=prefix, subsequent_indent=hanging) or [
        prefix.rstrip()
    ]


def meters_line(session: Run) -> str:
    """Visible meters as text, e.g. ``Agitation 5/10 (lower is better) · Rapport 2/10``."""
    parts = []
    for name, meter in session.scenario.meters.items():
        if meter.show:
            better = {"low": " (lower is better)", "high": " (higher is better)"}.get(meter.good or "", "")
            parts.append(f"{meter.label} {session.meters[name]}/{meter.max}{better}")
    return " · ".join(parts)


def notes_line(session: Run) -> str:
    """Visible flags that are set, as short situation notes."""
    return "; ".join(f.label for name, f in session.scenario.flags.items() if f.show and session.flags[name])


def describe(event: Event, session: Run, free_text: bool = False) -> list[str]:
    """Plain-text lines for one event. In ``free_text`` play the options are not listed when
    offered: the trainee answers in their own words first (``interact_free_text``)."""
    scenario = session.scenario
    if isinstance(event, SceneEntered):
        lines = [""]
        lines += wrap(event.text)
        for spoken in event.lines:
            lines += wrap(f"{spoken.name}: {spoken.says}")
        return lines
    if isinstance(event, ChoicesOffered):
        lines = [""]
        status = meters_line(session)
        if status:
            lines += item(f"[{status}]", indent=" ")
        notes = notes_line(session)
        if notes:
            lines += item(f"[Notes: {notes}]", indent=" ")
        for choice in [] if free_text else event.choices:
            lines += item(choice.text, f"  {choice.position}. ")
        if event.timeout_seconds:
            lines.append(f"  (timed: {event.timeout_seconds} s to decide)")
        return lines
    if isinstance(event, ChoiceMade):
        said = item(f"You said: {event.said}", "  ") if event.said else []
        return ["", *item(f"> Decision {event.sequence}: [{event.choice}] {event.text}", indent="  "), *said]
    if isinstance(event, TimedOut):
        return ["", f"> Time ran out after {event.seconds} s: you did not act."]
    if isinstance(event, AutoMoved):
        return []
    if isinstance(event, EndingReached):
        lines = ["", *item(f"=== Ending ({event.rating}): {event.outcome} ===", indent="    ")]
        if event.debrief:
            lines += wrap(event.debrief)
        if scenario.resources:
            lines += ["", "Help and support:"]
            for resource in scenario.resources:
                lines += item(resource, "  - ")
        return lines
    if isinstance(event, Stuck):
        problem = stuck_text(event)
        return ["", f"!! {problem[0].upper()}{problem[1:]}."]  # one line: an author's error, kept whole
    return []


def stuck_text(event: Stuck) -> str:
    """One sentence on why a session stopped without an ending, pointing at the tool that finds it."""
    if event.reason == "decision-limit":
        return (
            f"the run reached {event.limit or 0:,} decisions, the most this scenario allows (its max_decisions), "
            f"and stopped in scene '{event.scene}'"
        )
    if event.reason == "auto-loop":
        return (
            f"auto moves looped more than {MAX_AUTO_MOVES} times starting at scene '{event.scene}'; "
            "check its auto: entries (crisis-sim analyze finds this)"
        )
    return f"scene '{event.scene}' offers no choice: the scenario has a dead end here (crisis-sim analyze finds this)"


def stuck_message(session: Run) -> str:
    """Why a stuck session cannot go on and how to find the cause: what the runner printed
    when it happened, for the CLI's closing error."""
    event = next((e for e in reversed(session.events) if isinstance(e, Stuck)), Stuck(session.scene))
    return stuck_text(event)


@dataclass
class Script:
    """What a scripted run does at each decision: ``choose`` items (ids, or 1-based
    positions), scenes where the timer should run out, and a fallback policy."""

    choose: list[str]
    timeout_at: list[str]
    policy: str | None = None  # "first" | "random" | None
    seed: int | None = None


def run_script(session: Run, script: Script) -> list[str]:
    """Drive a started session until it ends or the script runs out. Returns warnings about
    unused script entries; raises RunStopped when it cannot go on."""
    queue = deque(script.choose)
    timeouts = list(script.timeout_at)
    rng = random.Random(script.seed)
    step = 0
    while session.waiting:
        scene = session.scene
        if scene in timeouts:
            timeouts.remove(scene)
            if session.timeout_seconds() is None:
                raise RunStopped(f"--timeout-at: scene '{scene}' has no timeout")
            session.expire()
            continue
        offered = session.offered()
        if queue:
            item = queue.popleft()
            step += 1
            try:
                if item.isdigit():
                    session.choose_position(int(item))
                else:
                    session.choose(item)
            except SessionError as exc:
                raise RunStopped(f"--choose item {step} ({item!r}): {exc}") from None
        elif script.policy and offered:
            pick = offered[0] if script.policy == "first" else rng.choice(offered)
            session.choose(pick.id)
        elif script.policy and session.timeout_seconds():
            session.expire()
        else:
            ids = ", ".join(c.id for c in offered) or "none"
            raise RunStopped(
                f"the --choose list ran out in scene '{scene}' after {len(session.decisions)} "
                f"decisions (offered: {ids}); add more choices or use --policy"
            )
    warnings = []
    if queue:
        warnings.append(f"{len(queue)} --choose item(s) left unused after the scenario ended: {', '.join(queue)}")
    if timeouts:
        warnings.append(f"--timeout-at scene(s) never waited in: {', '.join(timeouts)}")
    return warnings


def print_events(out: IO[str], session: Run, free_text: bool = False) -> Callable[[Event], None]:
    """A listener that prints each event as it happens."""

    def listener(event: Event) -> None:
        for line in describe(event, session, free_text):
            out.write(line + "\n")
        out.flush()

    return listener


def header(scenario: Scenario) -> list[str]:
    lines = item(f"{scenario.title}  ({scenario.difficulty}, about {scenario.minutes} min)", indent="  ")
    if scenario.content_warning:
        lines += item(f"Content warning: {scenario.content_warning}", indent="  ")
    lines += ["", "Briefing:"] + wrap(scenario.briefing, "  ")
    if scenario.objectives:
        lines += ["", "Objectives:"]
        for objective in scenario.objectives:
            lines += item(objective, "  - ")
    return lines


def interact(session: Run, read: Callable[[str], str | None], out: IO[str]) -> str:
    """Play from a reader of lines (``None`` = end of input). Returns how it ended:
    ``finished``, ``stuck``, ``quit`` or ``eof``."""
    while session.waiting:
        offered = session.offered()
        hint = f"1-{len(offered)}" if offered else "no choices"
        if session.timeout_seconds():
            hint += ", w to wait"
        line = read(f"Your choice ({hint}, q to quit)> ")
        if line is None:
            out.write("\nInput ended; stopped at this scene.\n")
            return "eof"
        answer = line.strip().lower()
        if not answer:
            continue
        if answer in ("q", "quit", "exit"):
            out.write("Stopped at this scene.\n")
            return "quit"
        try:
            if answer in ("w", "wait") and session.timeout_seconds():
                session.expire()
            elif answer.isdigit():
                session.choose_position(int(answer))
            else:
                session.choose(answer)
        except SessionError as exc:
            out.write(f"{exc}. Type a number from the list.\n")
    return "stuck" if session.stuck else "finished"


class Answering(Protocol):
    """What free-text play needs from the matching side (``scoring.phrases.Answers``)."""

    def match(self, text: str, choices: Iterable[Choice]) -> Match: ...


def _numbered(choices: Sequence[Choice], skip: str | None = None) -> list[str]:
    """The options on offer as numbered lines (their positions kept), ``skip`` left out."""
    lines: list[str] = []
    for position, choice in enumerate(choices, 1):
        if choice.id != skip:
            lines += item(choice.text, f"  {position}. ")
    return lines


def interact_free_text(session: Run, read: Callable[[str], str | None], out: IO[str], answers: Answering) -> str:
    """Play in free text (``run --free-text``): at each decision the trainee types what they
    would say or do; the closest option is shown, its text in full, to confirm with Enter or to
    replace by another's number; an answer not understood (``Match.understood``: the matcher's
    one decision rule, with its wider margin between harmful and good options) lists every
    option to pick from. The confirmed choice keeps what was typed (``said``). Like
    ``interact``, ``w`` lets a timer run out and there is no clock. Returns how it ended:
    ``finished``, ``stuck``, ``quit`` or ``eof``."""

    def say(*lines: str) -> None:
        out.write("".join(line + "\n" for line in lines))
        out.flush()

    while session.waiting:
        offered = session.offered()
        commands = ("w to wait, " if session.timeout_seconds() else "") + "q to quit"
        said: str | None = None
        match: Match | None = None
        position = 0  # of the matched option, when there is one
        while True:  # one decision: type, then confirm, pick another or type again
            if match is None:
                prompt = "What do you say or do?"
            elif position:
                prompt = f"Enter to confirm {position}, another number, or type again"
            else:
                prompt = f"Pick 1-{len(offered)}, or type again"
            line = read(f"{prompt} ({commands})> ")
            if line is None:
                say("", "Input ended; stopped at this scene.")
                return "eof"
            answer = line.strip()
            if answer.lower() in ("q", "quit", "exit"):
                say("Stopped at this scene.")
                return "quit"
            if answer.lower() in ("w", "wait") and session.timeout_seconds():
                session.expire()
                break
            if position and not answer:
                session.choose_position(position, said)
                break
            if match is not None and answer.isdigit() and 1 <= int(answer) <= len(offered):
                session.choose_position(int(answer), said)
                break
            if answer and not offered:
                say("Nothing you say changes this moment: w lets the time pass.")
            elif answer.isdigit():
                say(
                    f"There is no option {answer}: pick 1-{len(offered)}."
                    if match is not None
                    else "Say it in your own words first: the options are shown after."
                )
            elif answer:
                said = clean(answer)
                match = answers.match(said, offered)
                ids = [c.id for c in offered]
                position = ids.index(match.choice) + 1 if match.choice in ids else 0
                if position:
                    say("", f"Closest option (confidence {match.confidence:.2f}):")
                    say(*item(offered[position - 1].text, f"  {position}. "))
                    if len(offered) > 1:
                        say("Other options:", *_numbered(offered, skip=match.choice))
                else:
                    say("", f"Not understood: {match.reason}. The options:", *_numbered(offered))
    return "stuck" if session.stuck else "finished"


def transcript_json(session: Run, extra: dict[str, object] | None = None) -> dict[str, object]:
    scenario = session.scenario
    data: dict[str, object] = {
        "scenario": {"id": scenario.id, "version": scenario.version, "sha256": scenario.sha256},
        "events": [e.as_dict() for e in session.events],
        "decisions": [{"sequence": d.sequence, "scene": d.scene, "choice": d.choice} for d in session.decisions],
        "finished": session.finished,
        "stuck": session.stuck,
        "scene": session.scene,
        "meters": dict(session.meters),
        "flags": dict(session.flags),
        "ending": session.ending.as_dict() if session.ending else None,
    }
    data.update(extra or {})
    return data


def parse_list(values: Iterable[str]) -> list[str]:
    """``--choose a,b --choose c`` -> ``[a, b, c]``."""
    items: list[str] = []
    for value in values:
        items += [v.strip() for v in value.split(",") if v.strip()]
    return items
