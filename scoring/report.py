"""Plain-text renderings of a Grade (the debrief) and of an Analysis.

Plain text on purpose: the headless runner is also the screen-reader path, so every number
is written out (no bars or colours needed), and the numbers add up visibly: each dimension
shows earned / possible points and its share of the overall score.
"""

from __future__ import annotations

import textwrap

from scoring.analysis import Analysis
from scoring.grading import Grade, OptionInfo

WIDTH = 88


def _points(points: dict[str, int]) -> str:
    if not points:
        return "no points"
    return ", ".join(f"{p} {v:+d}" for p, v in points.items())


def _option(option: OptionInfo) -> str:
    return f"[{option.id}]" if option.id else "[wait]"


def _wrap(text: str, indent: str) -> list[str]:
    joined = " ".join(text.split())
    return textwrap.wrap(joined, WIDTH, initial_indent=indent, subsequent_indent=indent) if joined else []


def format_grade(grade: Grade) -> str:
    """The debrief as text: result, reasons, dimensions, critical errors, decision review."""
    lines = ["", "=== Debrief ==="]
    verdict = "PASSED" if grade.passed else "NOT PASSED"
    if grade.proficient:
        verdict += " (proficient)"
    lines.append(f"Overall score: {grade.overall:g}/100 - {verdict} (pass mark {grade.pass_score})")
    if grade.ending:
        lines.append(f"Ending: {grade.ending.outcome} (rated {grade.ending.rating})")
    for reason in grade.reasons:
        lines.append(f"  - not passed: {reason}")
    lines += ["", "Dimensions (earned / possible points -> score; share of the overall score):"]
    for d in grade.dimensions:
        if d.score is None:
            lines.append(f"  {d.name:<24} not applicable on this path (its weight is shared out)")
        else:
            lines.append(
                f"  {d.name:<24} {d.earned:>3} / {d.possible:<3} -> {d.score:5.1f}"
                f"  (weight {d.weight}, share {d.share:g}%)"
            )
    if grade.critical_errors:
        lines += ["", "Critical errors (each fails the scenario):"]
        for hit in grade.critical_errors:
            lines.append(f"  - decision {hit.sequence} in '{hit.scene}': {hit.name}")
            lines += _wrap(hit.description, "      ")
    lines += ["", "Decision by decision:"]
    for review in grade.decisions:
        chosen = review.chosen
        lines.append(f"  {review.sequence}. {_option(chosen)} {_points(review.earned)}")
        lines += _wrap(chosen.text, "       ")
        if chosen.feedback:
            lines += _wrap(f"Why: {chosen.feedback}", "       ")
        if review.best is not None:
            lines.append(f"     Better: {_option(review.best)} {_points(review.best.points)}")
            lines += _wrap(review.best.text, "       ")
            if review.best.feedback:
                lines += _wrap(f"Why: {review.best.feedback}", "       ")
    return "\n".join(lines)


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
    for label, path in (("Best", analysis.best), ("Worst", analysis.worst)):
        if path is None or path.grade is None:
            lines.append(f"{label} path: none reaches an ending")
            continue
        g = path.grade
        lines.append(f"{label} path: score {g.overall:g}, {'passes' if g.passed else 'fails'}, ending '{path.ending}'")
        command = f"crisis-sim run {ref or analysis.scenario_id} --choose {','.join(path.choices)}"
        if path.timeouts:
            command += f" --timeout-at {','.join(path.timeouts)}"
        lines.append(f"  {command}")
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
    problems = analysis.problems
    lines.append("Problems: " + ("none" if not problems else ""))
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)
