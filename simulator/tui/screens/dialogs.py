"""Small modal dialogs: confirm quitting, pause, offer to resume."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from simulator.tui.text import plain


class Confirm(ModalScreen[bool]):
    """Yes/no. Enter or y confirms, Escape or n cancels."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="dialog-screen")
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self.question), markup=False, classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(plain(f"{self.yes} (y)"), id="yes", variant="primary", compact=True)
                yield Button(plain(f"{self.no} (n)"), id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class Paused(ModalScreen[None]):
    """Play is paused (the timer stops) until a key is pressed."""

    BINDINGS = [Binding("p,escape,enter,space", "resume", "Resume")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                plain("Paused. The timer is stopped.\n\nPress p, Enter or Escape to carry on."),
                markup=False,
                classes="dialog-text",
            )

    def action_resume(self) -> None:
        self.dismiss(None)


class ResumeOffer(ModalScreen[str]):
    """An attempt was left unfinished: resume it, start over, or discard it (starting over and
    discarding keep the old attempt in the records as abandoned; nothing is deleted)."""

    BINDINGS = [
        Binding("r", "pick('resume')", "Resume"),
        Binding("s", "pick('restart')", "Start over"),
        Binding("d", "pick('discard')", "Discard"),
        Binding("escape,l", "pick('later')", "Later"),
    ]

    def __init__(self, title: str, decisions: int) -> None:
        super().__init__(classes="dialog-screen")
        self.text = (
            f"You have an unfinished attempt at “{title}” ({decisions} decision(s) made).\n\n"
            "Resume where you left off, start over, or discard it? (Discarded attempts stay in the "
            "records, marked abandoned.)"
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self.text), markup=False, classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Resume (r)", id="resume", variant="primary", compact=True)
                yield Button("Start over (s)", id="restart", compact=True)
                yield Button("Discard (d)", id="discard", compact=True)
                yield Button("Later (l)", id="later", compact=True)

    def on_mount(self) -> None:
        self.query_one("#resume", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "later")

    def action_pick(self, choice: str) -> None:
        self.dismiss(choice)
