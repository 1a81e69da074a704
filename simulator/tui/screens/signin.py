"""Sign in: a pseudonymous trainee id and a display name, remembered on this machine."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from simulator.config import DISPLAY_NAME_CHARS, is_trainee_id, label_problem
from simulator.safetext import one_line
from simulator.tui.text import plain
from simulator.tui.widgets.inputs import SafeInput
from simulator.tui.widgets.notice import SizeNotice


class SignInScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.request_quit", "Quit")]

    def __init__(self, trainee_id: str = "", name: str = "") -> None:
        super().__init__()
        self.initial = (trainee_id, name)

    def compose(self) -> ComposeResult:
        yield SizeNotice()
        with Vertical(id="signin", classes="panel"):
            yield Static("crisis-sim", classes="title")
            yield Static(
                plain("Practise crisis intervention. Sign in with the pseudonymous id your academy gave you."),
                markup=False,
            )
            yield Label("Trainee id")
            yield SafeInput(self.initial[0], placeholder="e.g. recruit-042", id="trainee-id", max_length=64)
            yield Label("Display name")
            yield SafeInput(self.initial[1], placeholder="e.g. Alex", id="display-name", max_length=60)
            yield Static("", id="signin-error", markup=False)
            yield Button("Sign in", id="signin-button", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#trainee-id" if not self.initial[0] else "#display-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "trainee-id":
            self.query_one("#display-name", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._submit()

    def _submit(self) -> None:
        trainee_id = one_line(self.query_one("#trainee-id", Input).value)
        name = (one_line(self.query_one("#display-name", Input).value) or trainee_id)[:DISPLAY_NAME_CHARS]
        error = self.query_one("#signin-error", Static)
        if not is_trainee_id(trainee_id):
            error.update(plain("A trainee id is 1-64 letters, digits, '.', '_' or '-' (no spaces), e.g. recruit-042."))
            self.query_one("#trainee-id", Input).focus()
            return
        if (problem := label_problem(name, DISPLAY_NAME_CHARS)) is not None:
            error.update(plain(f"The display name {problem}."))
            self.query_one("#display-name", Input).focus()
            return
        self.app.sign_in(trainee_id, name)  # type: ignore[attr-defined]
