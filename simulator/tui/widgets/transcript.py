"""The conversation so far: narration, spoken lines, choices and coaching, kept and scrollable.

Each turn (a choice or a timeout, with its feedback and the scene it leads to) is shown from its
first line: when a turn is longer than the view, its start stays at the top and the line under
the transcript says there is more below, so nothing new arrives unseen, and coach feedback does
not scroll off the top on a small terminal."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from textual.containers import VerticalScroll
from textual.widgets import Static

from simulator.prose import paragraphs
from simulator.tui.text import parts, plain, prose

MORE_BELOW = "▼ more below: t, then ↓ or End"


class Transcript(VerticalScroll):
    """Append-only. ``new_turn`` marks where the next turn starts; ``show_turn`` scrolls to it.
    Every entry is literal text (no markup)."""

    can_focus = True

    def __init__(self, *, more_below: Static | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.more_below = more_below
        """A one-line notice (outside the scrolled area) shown while there is text below the view."""
        self._turn_start: Static | None = None
        self._turn_open = True  # the first entry starts the first turn
        self._following = False
        """Keep the newest turn in view while its entries are laid out (their heights arrive over
        several refreshes), until the trainee scrolls the transcript themselves."""
        self._pending: list[Static] | None = None
        """Inside ``batch()``: the entries added so far, mounted together when it ends."""

    def on_mount(self) -> None:
        for attribute in ("scroll_y", "virtual_size", "size"):
            self.watch(self, attribute, self._update_more_below, init=False)
        for attribute in ("virtual_size", "size"):
            self.watch(self, attribute, self._laid_out_again, init=False)

    def _add(self, content: object, kind: str) -> None:
        entry = Static(content, markup=False, classes=f"entry -{kind}")  # type: ignore[arg-type]
        if self._turn_open:
            self._turn_start, self._turn_open = entry, False
        if self._pending is not None:
            self._pending.append(entry)
        else:
            self.mount(entry)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Entries added in the block are mounted together when it ends (before it returns). One
        choice adds several (the choice, feedback, the next scene's narration and lines): mounted
        one by one, each paid its own styling and layout pass, most of a key press's time."""
        if self._pending is not None:  # already batching: the outer block mounts them
            yield
            return
        self._pending = []
        try:
            yield
        finally:
            entries, self._pending = self._pending, None
            if entries:
                self.mount_all(entries)

    # -- turns and scrolling --

    def new_turn(self) -> None:
        """The next entry starts a new turn (a choice or a timeout and what follows it)."""
        self._turn_open = True

    def show_turn(self) -> None:
        """Once laid out, show the newest turn from its first line (or the end, when it all fits)."""
        self._following = True
        self.call_after_refresh(self._scroll_to_turn)

    def _scroll_to_turn(self) -> None:
        if self._turn_start is not None and self._turn_start.is_attached:
            self.scroll_to_widget(self._turn_start, top=True, animate=False, immediate=True)
        else:
            self.scroll_end(animate=False, immediate=True)
        self._update_more_below()

    def _laid_out_again(self, *_: object) -> None:
        """The content or the view changed size: a scroll made before the turn's last entries had
        their height would stop short of the end (showing 'more below' under text that fits)."""
        if self._following:
            self.call_after_refresh(self._scroll_to_turn)

    def on_focus(self) -> None:
        self._following = False  # the trainee reads the transcript (t): they scroll it

    def on_mouse_scroll_up(self) -> None:
        self._following = False

    def on_mouse_scroll_down(self) -> None:
        self._following = False

    def unread_below(self) -> bool:
        """Whether text lies below the view (the trainee has not scrolled to it)."""
        return round(self.scroll_y) < self.max_scroll_y

    def _update_more_below(self, *_: object) -> None:
        if self.more_below is not None:
            self.more_below.display = self.unread_below()

    # -- entries --

    def narration(self, text: str) -> None:
        for paragraph in paragraphs(text):
            self._add(plain(paragraph), "narration")

    def spoken(self, name: str, says: str, is_trainee: bool) -> None:
        self._add(parts((f"{name}: ", "bold"), prose(says)), "you" if is_trainee else "line")

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
