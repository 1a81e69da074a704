"""How the scenario format reads prose (narration, lines, feedback, summaries), with nothing
else: no pydantic, no model, so the app's library screen and the command palette can show a
summary without importing the scenario model (start-up: ``docs/architecture.md``)."""

from __future__ import annotations

import re


def paragraphs(text: str) -> list[str]:
    """Text as the format reads it: a blank line starts a paragraph, single line breaks inside
    a paragraph are spaces (so front ends re-flow each paragraph to their width)."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        joined = " ".join(block.split())
        if joined:
            out.append(joined)
    return out
