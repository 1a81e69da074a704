"""An Input that never holds a terminal control, escape sequence or bidi override.

Textual draws an Input's value as it is, and only drops a few control codes, so a pasted
``ESC [2J`` or ``ESC ] 0;title BEL`` would reach the terminal and a pasted U+202E would reverse
what follows. Keys cannot type these characters (they are not printable), but a paste or autofill
can: the text is cleaned on the way in, so the field shows exactly what will be stored.
"""

from __future__ import annotations

from textual.widgets import Input

from simulator.safetext import strip_unsafe


class SafeInput(Input):
    def replace(self, text: str, start: int, end: int) -> None:
        # Clean before Input checks max_length, so invisible characters do not make a paste too long.
        super().replace(strip_unsafe(text).replace("\n", " ").replace("\t", " "), start, end)

    def validate_value(self, value: str) -> str:
        """Any value set in code (or by ``replace``) is cleaned the same way."""
        return strip_unsafe(value).replace("\n", " ").replace("\t", " ")
