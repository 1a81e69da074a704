"""Turning scenario and trainee text into Textual ``Content`` without ever parsing markup.

Scenario files and trainee names come from many hands: ``[@click=app.quit]`` in a line must
show as those characters, and terminal escapes must never reach the terminal. Every piece goes
through ``simulator.safetext`` (the loader has already cleaned scenario text; names read back
from records and typed text are cleaned here too).
"""

from __future__ import annotations

from textual.content import Content

from simulator.prose import paragraphs
from simulator.safetext import strip_unsafe


def plain(text: str, style: str = "") -> Content:
    """Literal text (never markup), control characters removed."""
    return Content.styled(strip_unsafe(text), style) if style else Content(strip_unsafe(text))


def prose(text: str) -> str:
    """Scenario prose as the format reads it (``simulator.prose.paragraphs``: a blank line starts a
    paragraph, single line breaks are spaces), paragraphs kept apart by a blank line. Every
    narration, feedback and debrief text on screen goes through it."""
    return "\n\n".join(paragraphs(text))


def parts(*pieces: str | tuple[str, str]) -> Content:
    """Join literal pieces, some styled: ``parts(("Maya: ", "bold"), said)``."""
    cleaned = [(strip_unsafe(p[0]), p[1]) if isinstance(p, tuple) else strip_unsafe(p) for p in pieces]
    return Content.assemble(*cleaned)
