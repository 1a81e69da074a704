"""Debrief: the ending and its rating, the score and pass/fail with reasons, a bar per dimension,
critical errors, and each decision with what it was worth, the better (or equally strong)
options and why; help resources at the end. The wording comes from ``scoring.report``, shared
with the plain-text debrief."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from scoring.report import (
    advice,
    cap_note,
    dimension_text,
    flag_text,
    option_worth,
    points_text,
    principle_names,
    review_worth,
    verdict,
)
from simulator.tui.text import parts, plain, prose
from simulator.tui.widgets.notice import SizeNotice

BAR = 20


def _bar(score: float) -> str:
    filled = round(score / 100 * BAR)
    return "█" * filled + "░" * (BAR - filled)


class DebriefScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "replay", "Replay"),
        Binding("l,escape", "library", "Library"),
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
    ]

    def __init__(
        self, entry: Any, grade: Any, flags: Mapping[int, str] | None = None, said: Mapping[int, str] | None = None
    ) -> None:
        super().__init__()
        self.entry = entry
        self.grade = grade
        self.flags = dict(flags or {})  # the instructor's notes by decision number
        self.said = dict(said or {})
        """What the trainee typed at each decision (free-text play), by sequence."""

    def compose(self) -> ComposeResult:
        g = self.grade
        s = self.entry.scenario
        yield SizeNotice()
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
                    text = prose(g.ending.debrief)
                    yield Static(plain(text), markup=False, classes="ending-debrief")
            names = principle_names(g)
            note = cap_note(g)
            yield Static(
                parts(
                    ("Score: ", "bold"),
                    f"{g.overall:g} / 100 (pass mark {g.pass_score}): ",
                    (verdict(g), "bold"),
                    f"\n({note})" if note else "",
                ),
                markup=False,
                id="verdict",
                classes="-passed" if g.passed else "-failed",
            )
            if g.reasons:
                yield Static(plain("\n".join(f"• {r}" for r in g.reasons)), markup=False, id="reasons")
            yield Static(plain("Dimensions (score, and the decisions it rests on)"), classes="section")
            for d in g.dimensions:
                bar = " " * BAR if d.score is None else _bar(d.score)
                text = f"{d.name:<24} {bar} {dimension_text(d)}"
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
                    *([("\nYou said: ", "bold"), self.said[review.sequence]] if review.sequence in self.said else []),
                    f"\nYour choice was {review_worth(review)}",
                    f"\nPoints: {points_text(review.earned, names)}",
                ]
                if review.sequence in self.flags:
                    pieces.append(("\n" + flag_text(self.flags[review.sequence]), "bold"))
                if chosen.feedback:
                    pieces.append(f"\nWhy: {prose(chosen.feedback)}")
                label, options = advice(review)
                for option in options:
                    pieces += [(f"\n{label} ", "bold"), " ".join(option.text.split())]
                    pieces.append(f"\n({option_worth(option)}: {points_text(option.points, names)})")
                    if option.feedback:
                        pieces.append(f" {prose(option.feedback)}")
                yield Static(parts(*pieces), markup=False, classes="review" + (" -better" if review.better else ""))
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
