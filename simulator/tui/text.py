"""Turning scenario and trainee text into Textual ``Content`` without ever parsing markup.

Scenario files and trainee names come from many hands: ``[@click=app.quit]`` in a line must
show as those characters, and terminal escapes must never reach the terminal. The loader has
already stripped control characters from scenario text; typed text is stripped here.
"""

from __future__ import annotations

import re

from textual.content import Content

from simulator.safetext import strip_unsafe


def plain(text: str, style: str = "") -> Content:
    """Literal text (never markup), control characters removed."""
    return Content.styled(strip_unsafe(text), style) if style else Content(strip_unsafe(text))


def parts(*pieces: str | tuple[str, str]) -> Content:
    """Join literal pieces, some styled: ``parts(("Maya: ", "bold"), said)``."""
    cleaned = [(strip_unsafe(p[0]), p[1]) if isinstance(p, tuple) else strip_unsafe(p) for p in pieces]
    return Content.assemble(*cleaned)


# Whole terminal escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-character escapes, and the
# 8-bit CSI), so a pasted "\x1b[31mAlex" leaves "Alex", not "[31mAlex".
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
)


def strip_typed(text: str) -> str:
    """Typed or pasted text without terminal escape sequences, controls or bidi overrides."""
    return strip_unsafe(_ESCAPE_SEQUENCE.sub("", text))


def clean_input(text: str) -> str:
    """What a trainee typed, safe to store and show: escape sequences, controls and bidi
    overrides removed, whitespace runs (tabs, newlines) made one space."""
    return " ".join(strip_typed(text).split())
