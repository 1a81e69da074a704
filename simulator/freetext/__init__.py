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

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    find_names,
    mask_names,
)
from simulator.freetext.embedding import BackendUnavailable

if TYPE_CHECKING:
    from simulator.model import Scenario

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

    def match(self, text: str, options: Sequence[Option], names: Collection[str] = ()) -> Match:
        return self.match_many([text], options, names)[0]

    def match_many(self, texts: Sequence[str], options: Sequence[Option], names: Collection[str] = ()) -> list[Match]:
        """Match several answers against the same options (one batch for the model). ``names``
        (``scenario_names``) are masked in the answers and the options alike."""
        cleaned = [clean(t) for t in texts]
        if not options:
            return [decide(text, options, [], self.backend.name, self.backend.thresholds) for text in cleaned]
        prepared = [_prepared(o, names) for o in options]
        sims = self.backend.similarities([mask_names(t, names) for t in cleaned], prepared)
        name, thresholds = self.backend.name, self.backend.thresholds
        return [decide(text, options, sims[i], name, thresholds) for i, text in enumerate(cleaned)]


def _prepared(option: Option, names: Collection[str]) -> Option:
    """The option as the backends compare it: cleaned, names masked."""
    text = mask_names(clean(option.text), names)
    says = tuple(mask_names(clean(s), names) for s in option.says)
    return Option(option.id, text, says, option.value, option.critical)


def scenario_names(scenario: Scenario) -> frozenset[str]:
    """The names of people and places in ``scenario`` (``core.find_names``): what it says
    and does (choices, their examples, spoken lines), its cast, its narration."""
    spoken: list[str] = []
    other = [scenario.briefing]
    for scene in scenario.scenes.values():
        other.append(scene.text)
        spoken += [line.says for line in scene.lines]
        for choice in scene.choices:
            spoken += [choice.text, *choice.says]
    return find_names(spoken, [member.name for member in scenario.cast.values()], other)


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
    "scenario_names",
]
