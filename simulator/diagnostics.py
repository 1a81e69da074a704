"""Compiler-style diagnostics: every problem in a scenario points at ``file:line:col``.

One type serves the YAML reader, the model checks, the graph checks and (later) the rubric
checks, so the CLI prints and serialises them in one way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

from simulator.safetext import escaped_line

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding. ``line`` and ``col`` are 1-based; 0 means "the whole file"."""

    path: str
    line: int
    col: int
    severity: Severity
    code: str
    message: str

    def format(self) -> str:
        """One line, always, safe for a terminal: a line break in a message (a key or id quoted
        from the file) or in a path is shown as ``\\n``, control characters are dropped."""
        where = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        return escaped_line(f"{where}: {self.severity}: {self.message} [{self.code}]")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class DiagnosticError(Exception):
    """Raised when a file cannot be used at all; carries the diagnostics that explain why."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("\n".join(d.format() for d in diagnostics))
        self.diagnostics = diagnostics


SMALL_SET = 1000
"""Up to this many candidates, a suggestion compares the word with every one of them (difflib)."""

SUGGESTION_BUDGET = 100_000
"""Work one ``Suggester`` may spend in all, counted in difflib comparisons of a short word
(about 2 microseconds each): at most a few tenths of a second per set of names."""


class Suggester:
    """"did you mean" for many words against one set of names, in bounded time.

    Why not difflib over every name for every word: a generated 50,000-scene file with
    thousands of broken ``to:`` references made that 50,000 x thousands comparisons (minutes).
    Here a set of up to ``SMALL_SET`` names is compared in full, as before, while the
    ``SUGGESTION_BUDGET`` lasts; a bigger set (or a spent budget) only looks for names one edit
    away (a letter missing, added, changed or two swapped), which costs about
    ``len(word) x alphabet`` set lookups whatever the size of the set; once the budget is
    spent altogether, later words get no suggestion. Nobody reads the thousandth hint, and
    the first ones stay as good as ever."""

    def __init__(self, candidates: Iterable[object]):
        self.names = [str(c) for c in candidates]
        self.budget = SUGGESTION_BUDGET
        self._set: frozenset[str] | None = None
        self._alphabet = ""

    def hint(self, word: object) -> str:
        """`` (did you mean 'x'?)`` when a close name exists, else an empty string."""
        word = str(word)
        count = len(self.names)
        cost = count * (len(word) // 10 + 1)  # difflib's work grows with the length
        if count <= SMALL_SET and cost <= self.budget:
            self.budget -= cost
            close = difflib.get_close_matches(word, self.names, n=1, cutoff=0.6)
        else:
            close = self._one_edit(word)
        return f" (did you mean '{close[0]}'?)" if close else ""

    def _one_edit(self, word: str) -> list[str]:
        if self._set is None:
            self._set = frozenset(self.names)
            counts: dict[str, int] = {}
            for name in self.names[:SMALL_SET]:  # a sample is enough to know the alphabet
                for ch in name:
                    counts[ch] = counts.get(ch, 0) + 1
            self._alphabet = "".join(sorted(counts, key=counts.__getitem__, reverse=True)[:64])
        cost = (len(word) + 1) * (2 * len(self._alphabet) + 2) // 25 + 1  # ~25 edits per comparison
        if cost > self.budget or len(word) > 200:
            return []
        self.budget -= cost
        names, found = self._set, []
        for i in range(len(word) + 1):
            head, tail = word[:i], word[i:]
            edits = [head + ch + tail for ch in self._alphabet]  # a letter missing
            if tail:
                edits.append(head + tail[1:])  # a letter too many
                edits += [head + ch + tail[1:] for ch in self._alphabet if ch != tail[0]]  # changed
                if len(tail) > 1:
                    edits.append(head + tail[1] + tail[0] + tail[2:])  # two swapped
            found += [e for e in edits if e in names]
        if not found:
            return []
        return difflib.get_close_matches(word, found, n=1, cutoff=0.6) or found[:1]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close candidate exists, else an empty string. For many
    words against one set of names, make one ``Suggester`` and call its ``hint``."""
    return Suggester(candidates).hint(word)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)
