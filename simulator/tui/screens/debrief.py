"""Debrief: the ending and its rating, the score and pass/fail with reasons, a bar per dimension,
critical errors, and each decision with the better option and why; help resources at the end."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from simulator.model import paragraphs
from simulator.tui.text import parts, plain

BAR = 20


def _bar(score: float) -> str:
    filled = round(score / 100 * BAR)
    return "█" * filled + "░" * (BAR - filled)


def _points(points: dict[str, int]) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {value:+d}" for name, value in points.items()) or "no points"


class DebriefScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "replay", "Replay"),
        Binding("l,escape", "library", "Library"),
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
    ]

    def __init__(self, entry: Any, grade: Any) -> None:
        super().__init__()
        self.entry = entry
        self.grade = grade

    def compose(self) -> ComposeResult:
        g = self.grade
        s = self.entry.scenario
        with VerticalScroll(id="debrief"):
            yield Static(parts(("Debrief: ", "bold"), s.title), markup=False, classes="title")
            if g.ending:
                yield Static(
                    parts(("Ending: ", "bold"), g.ending.outcome, f"  (rated {g.ending.rating})"),
                    markup=False,
                    id="ending",
                    classes=f"-{g.ending.rating}",
                )
                if g.ending.debrief.strip():
                    text = "\n\n".join(paragraphs(g.ending.debrief))
                    yield Static(plain(text), markup=False, classes="ending-debrief")
            verdict = "PASSED" + (" (proficient)" if g.proficient else "") if g.passed else "NOT PASSED"
            yield Static(
                parts(("Score: ", "bold"), f"{g.overall:g} / 100 (pass mark {g.pass_score}): ", (verdict, "bold")),
                markup=False,
                id="verdict",
                classes="-passed" if g.passed else "-failed",
            )
            if g.reasons:
                yield Static(plain("\n".join(f"• {r}" for r in g.reasons)), markup=False, id="reasons")
            yield Static(plain("Dimensions (earned / possible points)"), classes="section")
            for d in g.dimensions:
                if d.score is None:
                    text = f"{d.name:<24} {'not applicable on this path':<{BAR}}"
                else:
                    text = f"{d.name:<24} {_bar(d.score)} {d.score:5.1f}  ({d.earned}/{d.possible}, share {d.share:g}%)"
                low = d.score is not None and d.score < g.dimension_min
                yield Static(plain(text), markup=False, classes="dimension" + (" -low" if low else ""))
            if g.critical_errors:
                yield Static(plain("Critical errors (each fails the scenario)"), classes="section")
                for hit in g.critical_errors:
                    yield Static(
                        parts((f"Decision {hit.sequence}: {hit.name}. ", "bold"), hit.description),
                        markup=False,
                        classes="critical",
                    )
            yield Static(plain("Decision by decision"), classes="section")
            for review in g.decisions:
                chosen = review.chosen
                pieces: list[str | tuple[str, str]] = [
                    (f"{review.sequence}. You: ", "bold"),
                    " ".join(chosen.text.split()),
                    f"\nPoints: {_points(review.earned)}",
                ]
                if chosen.feedback:
                    pieces.append(f"\nWhy: {' '.join(chosen.feedback.split())}")
                if review.best is not None:
                    pieces += [("\nBetter: ", "bold"), " ".join(review.best.text.split())]
                    pieces.append(f"\n({_points(review.best.points)})")
                    if review.best.feedback:
                        pieces.append(f" {' '.join(review.best.feedback.split())}")
                yield Static(parts(*pieces), markup=False, classes="review" + (" -better" if review.best else ""))
            if s.resources:
                yield Static(plain("Help and support"), classes="section")
                yield Static(plain("\n".join(f"• {r}" for r in s.resources)), markup=False, id="resources")
        with Horizontal(id="debrief-buttons"):
            yield Button("Replay (r)", id="replay", variant="primary", compact=True)
            yield Button("Library (l)", id="library", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#debrief", VerticalScroll).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "replay":
            self.action_replay()
        else:
            self.action_library()

    def action_replay(self) -> None:
        self.app.open_briefing(self.entry, replace=True)  # type: ignore[attr-defined]

    def action_library(self) -> None:
        self.app.back_to_library()  # type: ignore[attr-defined]
