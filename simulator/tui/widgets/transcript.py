"""The conversation so far: narration, spoken lines, choices and coaching, kept and scrollable."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static

from simulator.tui.text import parts, plain


class Transcript(VerticalScroll):
    """Append-only; scrolls to the newest entry. Every entry is literal text (no markup)."""

    can_focus = True

    def on_mount(self) -> None:
        self.anchor()  # stay scrolled to the newest entry (until the trainee scrolls up to read)

    def _add(self, content: object, kind: str) -> None:
        self.mount(Static(content, markup=False, classes=f"entry -{kind}"))  # type: ignore[arg-type]

    def narration(self, text: str) -> None:
        if text.strip():
            self._add(plain(" ".join(text.split())), "narration")

    def spoken(self, name: str, says: str, is_trainee: bool) -> None:
        self._add(parts((f"{name}: ", "bold"), says), "you" if is_trainee else "line")

    def chosen(self, text: str) -> None:
        self._add(parts(("▶ You: ", "bold"), text), "choice")

    def timed_out(self, seconds: int) -> None:
        self._add(plain(f"⏱ Time ran out after {seconds} s: you did not act."), "timeout")

    def coaching(self, text: str) -> None:
        self._add(plain(text), "coach")

    def ending(self, text: str) -> None:
        self._add(plain(text), "ending")

    def divider(self, text: str) -> None:
        """A line between parts of the conversation (a reloaded scenario in a playtest)."""
        self._add(plain(f"— {text} —"), "divider")

    def notice(self, text: str) -> None:
        self._add(plain(text), "notice")
