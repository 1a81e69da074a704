"""Plain-text renderings of a Grade (the debrief) and of an Analysis, and the wording both the
plain debrief and the app use for a score, a decision and its points.

Plain text on purpose: the headless runner is also the screen-reader path, so every number
is written out (no bars or colours needed). Each dimension shows its score and what it rests
on (the decisions where it was at stake); each decision shows what the choice was worth against
the best on offer; principles are named as the rubric names them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from scoring.analysis import Analysis
from scoring.difficulty import RANDOM_RUNS
from scoring.grading import DecisionReview, Grade, OptionInfo, ScoreLine
from scoring.rubric import Rubric
from simulator.model import paragraphs
from simulator.runner import item, text_width
from simulator.safetext import one_line


def principle_names(source: Grade | Rubric) -> dict[str, str]:
    """Principle id -> the name the rubric (or the scenario) gives it, from a grade or from the
    effective rubric (``effective_rubric``) that grading uses."""
    if isinstance(source, Grade):
        return {p.id: p.name for p in source.principles}
    return {pid: p.name for pid, p in source.principles.items()}


def points_text(points: Mapping[str, int], names: Mapping[str, str]) -> str:
    """``Calm voice and body +1, Active listening -2`` (ids only for names the grade lacks)."""
    if not points:
        return "no points"
    return ", ".join(f"{names.get(p, p)} {v:+d}" for p, v in points.items())


def verdict(grade: Grade) -> str:
    """``PASSED (proficient)`` / ``NOT PASSED``."""
    if not grade.passed:
        return "NOT PASSED"
    return "PASSED (proficient)" if grade.proficient else "PASSED"


def cap_note(grade: Grade) -> str | None:
    """Why the reported score is lower than the performance, when it is."""
    if not grade.capped:
        return None
    cap = max(grade.pass_score - 1, 0)
    return (
        f"performance {grade.performance:g}; a run that does not pass reports at most {cap}, "
        "below the pass mark"
    )


def dimension_text(line: ScoreLine) -> str:
    """What a dimension's score rests on, or that it does not apply."""
    if line.score is None:
        return "  n/a  never at stake"  # not applicable: left out of the pass rule
    count = f"{line.decisions} decision{'s' if line.decisions != 1 else ''}"
    return f"{line.score:5.1f}  at stake in {count}"


def option_worth(option: OptionInfo) -> str:
    """``worth 85``, with how it was counted when that differs from its value."""
    text = f"worth {option.value}"
    if option.credited != option.value:
        why = "a critical error" if option.critical else "as good as the best"
        text += f", counted as {option.credited} ({why})"
    return text


def review_worth(review: DecisionReview) -> str:
    """What the choice was worth and scored: ``worth 85; the best on offer was worth 100:
    scored 85 of 100``."""
    worth = option_worth(review.chosen)
    if not review.stakes:
        return f"{worth}; every option here counted the same (nothing at stake)"
    if not review.better:
        return f"{worth}, the best on offer: scored {review.scored} of {review.stakes}"
    return f"{worth}; the best on offer was worth {review.best_value}: scored {review.scored} of {review.stakes}"


def advice(review: DecisionReview) -> tuple[str, list[OptionInfo]]:
    """The label and options to show after a decision: ``Better:`` the best options when the
    choice fell short of them; else ``Also strong:`` the other best or acceptable options."""
    if review.better:
        return "Better:", review.better
    return "Also strong:", review.also_strong


def _option(option: OptionInfo) -> str:
    return f"[{option.id}]" if option.id else "[wait]"


def _wrap(text: str, indent: str) -> list[str]:
    """Each paragraph re-flowed to the terminal's width (at most 88), a blank line between them."""
    out: list[str] = []
    for paragraph in paragraphs(text):
        out += [""] if out else []
        out += textwrap.wrap(paragraph, text_width(), initial_indent=indent, subsequent_indent=indent)
    return out


def flag_text(note: str) -> str:
    """What a trainee's debrief says at a moment their instructor flagged (``crisis-sim flag``,
    the console): the note, if any. A flag never changes the grade."""
    note = one_line(note)
    return f"Your instructor flagged this moment: {note}" if note else "Your instructor flagged this moment."


def said_by_sequence(decisions: Iterable[Any]) -> dict[int, str]:
    """What the trainee typed at each decision of a free-text play, by sequence: from a
    session's decisions or the stored ones (both have ``sequence`` and ``said``)."""
    return {d.sequence: d.said for d in decisions if getattr(d, "said", None)}


def format_grade(grade: Grade, flags: Mapping[int, str] | None = None, said: Mapping[int, str] | None = None) -> str:
    """The debrief as text: result, reasons, dimensions, critical errors, decision review;
    ``flags``: the instructor's notes by decision number, shown at their decisions; ``said``: what
    the trainee typed at each decision (free-text play), shown with it."""
    flags = flags or {}
    names = principle_names(grade)
    lines = ["", "=== Debrief ==="]
    lines.append(f"Overall score: {grade.overall:g}/100 - {verdict(grade)} (pass mark {grade.pass_score})")
    note = cap_note(grade)
    if note:
        lines += item(f"({note})", "  ", indent="   ")
    if grade.ending:
        lines += _wrap(f"Ending: {grade.ending.outcome} (rated {grade.ending.rating})", "")
    for reason in grade.reasons:
        lines += item(reason, "  - not passed: ", indent="    ")
    lines += ["", "Dimensions (score 0-100, and the decisions it rests on):"]
    for d in grade.dimensions:
        lines.append(f"  {d.name:<24} {dimension_text(d)}")
    if grade.critical_errors:
        lines += ["", "Critical errors (each fails the scenario):"]
        for hit in grade.critical_errors:
            lines += item(f"decision {hit.sequence} in '{hit.scene}': {hit.name}", "  - ", indent="    ")
            lines += _wrap(hit.description, "      ")
    lines += ["", "Decision by decision:"]
    for review in grade.decisions:
        chosen = review.chosen
        lines += item(f"{_option(chosen)} {review_worth(review)}", f"  {review.sequence}. ", indent="       ")
        if said and review.sequence in said:
            lines += _wrap(f"You said: {said[review.sequence]}", "       ")
        if review.sequence in flags:
            lines += _wrap(f">> {flag_text(flags[review.sequence])}", "       ")
        lines += _wrap(f"Points: {points_text(review.earned, names)}", "       ")
        lines += _wrap(chosen.text, "       ")
        if chosen.feedback:
            lines += _wrap(f"Why: {chosen.feedback}", "       ")
        label, options = advice(review)
        for option in options:
            lines += item(f"{_option(option)} {option_worth(option)}", f"     {label} ", indent="       ")
            lines += _wrap(f"Points: {points_text(option.points, names)}", "       ")
            lines += _wrap(option.text, "       ")
            if option.feedback:
                lines += _wrap(f"Why: {option.feedback}", "       ")
    return "\n".join(lines)


def run_command(scenario: str, choices: list[str], timeouts: list[str]) -> str:
    """The ``crisis-sim run`` command that replays a path."""
    command = f"crisis-sim run {scenario} --choose {','.join(choices)}"
    return command + (f" --timeout-at {','.join(timeouts)}" if timeouts else "")


def format_analysis(analysis: Analysis, ref: str | None = None) -> str:
    """``ref`` is how the user named the scenario (an id or a path), so the printed
    ``crisis-sim run`` commands work as they are, also for files outside the library."""
    lines = [
        f"Analysis of '{analysis.scenario_id}': {analysis.states:,} reachable states and "
        f"{analysis.transitions:,} transitions explored"
    ]
    if analysis.bound_hit:
        what, how = analysis.bound.rsplit(" (", 1)
        lines.append(f"  ! {what}: the figures below are partial ({how}")
    lines.append("Endings:")
    for ending, reachable in analysis.endings.items():
        lines.append(f"  {ending:<28} {'reachable' if reachable else 'NOT REACHABLE'}")
    scenario = ref or analysis.scenario_id
    for label, path in (("Best", analysis.best), ("Worst", analysis.worst)):
        if path is not None and path.over_limit:
            lines.append(
                f"{label} path: {len(path.decisions):,} decisions to ending '{path.ending}', more than the scenario's "
                f"max_decisions: a run stops before it (not graded)"
            )
            continue
        if path is None or path.grade is None:
            how = " without a critical error" if label == "Best" else ""
            lines.append(f"{label} path: none reaches an ending{how}")
            continue
        g = path.grade
        lines.append(f"{label} path: score {g.overall:g}, {'passes' if g.passed else 'fails'}, ending '{path.ending}'")
        lines.append(f"  {run_command(scenario, path.choices, path.timeouts)}")
    if analysis.grade_mismatches:
        lines.append("Grades that disagree with the ending (paths without a critical error):")
        for m in analysis.grade_mismatches:
            verdict = "fails" if m["rating"] == "good" else "passes"
            lines.append(f"  ending '{m['ending']}' (rated {m['rating']}) {verdict} with a score of {m['score']:g}")
            lines += [f"    - {r}" for r in m["reasons"]]
            lines.append(f"    {run_command(scenario, m['choices'], m['timeouts'])}")
    if analysis.grade_check_partial:
        lines.append(f"  ! grades were checked against endings only in part: {analysis.grade_check_partial}")
    if analysis.uniform_decisions:
        lines.append("Decisions where every option scores the same:")
        lines += [f"  {u['scene']}: {', '.join(u['choices'])}" for u in analysis.uniform_decisions]
    if analysis.single_option_decisions:
        lines.append(f"Decisions with a single option: {', '.join(analysis.single_option_decisions)}")
    if analysis.auto_loops:
        lines.append("Auto moves that loop forever (the move after this choice never settles):")
        lines += [f"  {d['scene']}: {d['choice'] or '(timeout)'}" for d in analysis.auto_loops]
    if analysis.dead_ends:
        lines.append("Dead ends at run time (no choice on offer, no timeout):")
        lines += [f"  {d['scene']}" for d in analysis.dead_ends]
    if analysis.farming:
        lines.append("Point-farming loops (a scoring choice that can be repeated forever):")
        lines += [f"  {f['scene']}: {f['choice']}" for f in analysis.farming]
    lines.append(f"Principles exercised ({len(analysis.principles)}): {', '.join(analysis.principles)}")
    lines.append(f"Dimensions exercised ({len(analysis.dimensions)}): {', '.join(analysis.dimensions)}")
    lines.append(
        f"Critical errors on offer ({len(analysis.critical_errors)}): {', '.join(analysis.critical_errors) or 'none'}"
    )
    lines += _structure(analysis)
    problems = analysis.problems
    lines.append("Problems: " + ("none" if not problems else ""))
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)


def _structure(analysis: Analysis) -> list[str]:
    """The measured difficulty and what it rests on (scoring.difficulty)."""
    s = analysis.structure
    if s is None:
        return []
    total = sum(s.points.values())
    agrees = "as labelled" if s.level == analysis.label else f"labelled {analysis.label}"
    partial = ""
    if s.partial and analysis.limits:
        partial = " (partial: from the states explored)"
    elif s.partial:  # the exploration was complete; looping random walks used up their moves
        partial = f" (partial: {s.random_runs:,} random runs of {RANDOM_RUNS:,} finished within the moves allowed)"
    return [
        f"Difficulty (measured): {s.level}, {total} point(s); {agrees}{partial}",
        f"  best path: {s.best_path_decisions} decisions ({s.points['length']})"
        f" · critical errors on offer in {s.critical_share:.0%} of {s.decision_scenes} decision scenes"
        f" ({s.points['traps']})"
        f" · timers: {s.timers} ({s.points['time']})"
        f" · random runs ending poorly: {1 - s.random_not_poor:.0%} of {s.random_runs} ({s.points['unforgiving']})",
        f"  decision scenes with two or more defensible choices: {s.defensible_share:.0%};"
        f" random runs ending well: {s.random_good:.0%}",
    ]
