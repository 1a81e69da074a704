"""Free-text answers: what a trainee typed, matched offline to one of a decision's scripted options.

Two backends behind one interface (``Backend``): the embedding model all-MiniLM-L6-v2 when the
``crisis-sim[freetext]`` extra is installed (``embedding``), else a conservative lexical
fallback (``lexical``). Both feed the same decision rule (``core.decide``), which prefers
"not understood" to a wrong match and never lets a harmful option and a good one be confused
on a narrow margin. The option values come from the caller (``scoring`` owns the rubric), so
this package depends on neither scoring nor any user interface.

    matcher = load_matcher()                         # the model if installed, else the fallback
    result = matcher.match("are you thinking of suicide?", options)
    result.choice, result.confidence, result.understood
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulator.freetext.core import (
    MAX_TEXT,
    UNDERSTOOD,
    Backend,
    Match,
    Option,
    Scored,
    Thresholds,
    clean,
    decide,
)
from simulator.freetext.embedding import BackendUnavailable

BACKENDS = ("auto", "minilm", "lexical")
"""Names a user may ask for: ``auto`` is the model when it can run, else the lexical fallback."""


@dataclass
class Matcher:
    """A backend and the decision rule. ``note`` says why ``auto`` fell back, if it did."""

    backend: Backend
    note: str = ""

    @property
    def name(self) -> str:
        return self.backend.name

    def match(self, text: str, options: Sequence[Option]) -> Match:
        return self.match_many([text], options)[0]

    def match_many(self, texts: Sequence[str], options: Sequence[Option]) -> list[Match]:
        """Match several answers against the same options (one batch for the model)."""
        cleaned = [clean(t) for t in texts]
        sims = self.backend.similarities(cleaned, [_cleaned(o) for o in options]) if options else []
        return [
            decide(text, options, sims[i] if options else [], self.backend.name, self.backend.thresholds)
            for i, text in enumerate(cleaned)
        ]


def _cleaned(option: Option) -> Option:
    return Option(option.id, clean(option.text), tuple(clean(s) for s in option.says), option.value, option.critical)


def load_matcher(backend: str = "auto") -> Matcher:
    """The matcher for ``backend`` (one of ``BACKENDS``). ``minilm`` raises BackendUnavailable
    (a one-line reason) when the model cannot run; ``auto`` then falls back to ``lexical`` and
    says why in ``note``."""
    from simulator.freetext.lexical import LexicalBackend

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if backend == "lexical":
        return Matcher(LexicalBackend())
    from simulator.freetext.embedding import EmbeddingBackend, missing_modules

    if backend == "minilm":
        return Matcher(EmbeddingBackend())
    if missing_modules():
        return Matcher(LexicalBackend(), note="the [freetext] extra is not installed, so the lexical fallback is used")
    try:
        return Matcher(EmbeddingBackend())
    except BackendUnavailable as exc:
        return Matcher(LexicalBackend(), note=f"the model cannot be used ({exc}), so the lexical fallback is used")


__all__ = [
    "BACKENDS",
    "MAX_TEXT",
    "UNDERSTOOD",
    "Backend",
    "BackendUnavailable",
    "Match",
    "Matcher",
    "Option",
    "Scored",
    "Thresholds",
    "load_matcher",
]
