"""The notice every full screen shows while the terminal is smaller than the app is laid out for.

Below 80x24 parts of a screen can sit out of sight (a timed option below the fold), so the app
says so on every screen until the window is large enough again. The app sets the ``-too-small``
class on itself; the stylesheet shows the notice only then."""

from __future__ import annotations

from textual.widgets import Static

MIN_WIDTH, MIN_HEIGHT = 80, 24
TEXT = (
    f"This terminal is smaller than {MIN_WIDTH}x{MIN_HEIGHT}: part of the screen may be out of sight "
    "(a timed choice too). Make the window larger or the font smaller."
)


def too_small(width: int, height: int) -> bool:
    return width < MIN_WIDTH or height < MIN_HEIGHT


class SizeNotice(Static):
    def __init__(self) -> None:
        super().__init__(TEXT, markup=False, classes="size-notice")
