"""Turning scenario and trainee text into Textual ``Content`` without ever parsing markup.

Scenario files and trainee names come from many hands: ``[@click=app.quit]`` in a line must
show as those characters, and terminal escapes must never reach the terminal. The loader has
already stripped control characters from scenario text; typed text is stripped here.
"""

from __future__ import annotations

from textual.content import Content

from simulator.yamlsource import strip_unsafe


def plain(text: str, style: str = "") -> Content:
    """Literal text (never markup), control characters removed."""
    return Content.styled(strip_unsafe(text), style) if style else Content(strip_unsafe(text))


def parts(*pieces: str | tuple[str, str]) -> Content:
    """Join literal pieces, some styled: ``parts(("Maya: ", "bold"), said)``."""
    cleaned = [(strip_unsafe(p[0]), p[1]) if isinstance(p, tuple) else strip_unsafe(p) for p in pieces]
    return Content.assemble(*cleaned)


def clean_input(text: str) -> str:
    """What a trainee typed, safe to store and show: controls and bidi overrides removed."""
    return " ".join(strip_unsafe(text).split())
