"""Text from outside sources, made safe to print in a terminal.

One owner for "which characters never reach the screen": scenario files, typed names, an LRS's
error answers and values read back from a records file all come from hands we do not control.
An ESC starts a terminal control sequence (clear the screen, set the clipboard with OSC 52,
plant a hyperlink with OSC 8); bidi embeddings, overrides and isolates make text read
differently from what it is. Both are removed; newline and tab are kept.
"""

from __future__ import annotations

import re

# C0 and C1 controls except tab and newline, plus the bidi marks, embeddings, overrides and
# isolates ("Trojan Source", CVE-2021-42574: U+061C, U+200E/F, U+202A-E, U+2066-9).
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


# Whole terminal escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-character escapes, and the
# 8-bit CSI), so "\x1b[31mAlex" leaves "Alex", not "[31mAlex".
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
)


def unsafe_chars(text: str) -> list[str]:
    """The unsafe characters in ``text``, as ``U+XXXX`` names (sorted, each once), for messages."""
    return sorted({f"U+{ord(c):04X}" for c in _UNSAFE_CHARS.findall(text)})


def has_unsafe(text: str) -> bool:
    """Whether ``text`` holds any character ``strip_unsafe`` removes (every escape sequence
    starts with one), in one pass: the YAML reader checks a whole file once, so most of its
    values need no check of their own."""
    return _UNSAFE_CHARS.search(text) is not None


def strip_unsafe(text: str) -> str:
    """Remove terminal escape sequences (whole), other control characters and bidi controls;
    keep ``\\n`` and ``\\t``."""
    return _UNSAFE_CHARS.sub("", _ESCAPE_SEQUENCE.sub("", text))


def one_line(text: str) -> str:
    """``text`` made safe and put on one line: runs of whitespace (newlines too) become one space."""
    return " ".join(strip_unsafe(text).split())


def escaped_line(text: str) -> str:
    """``text`` made safe and kept on one line with nothing lost: each line break (CR LF, CR or
    LF) is shown as the two characters ``\\n``. For messages that quote a key, an id or an
    argument, where the break itself may be the mistake to see."""
    return strip_unsafe(_LINE_BREAK.sub("\\\\n", text))


_LINE_BREAK = re.compile("\r\n|\r|\n")


def shown_escaped(text: str) -> str:
    """``text`` with every unsafe character replaced by its escape as Python writes it
    (``\\x1b``, ``\\u202e``), newlines and tabs kept: for data printed on a terminal (an export to
    standard output), where nothing may act on the terminal and nothing may silently vanish."""
    return _UNSAFE_CHARS.sub(lambda m: repr(m.group())[1:-1], text)
