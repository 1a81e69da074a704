"""What both matching backends share: the options, the result, and the rule that decides whether
a typed answer was understood.

A backend only measures how close the typed text is to each option (a similarity, higher is
closer; the best of the option's own text and its ``says:`` examples). Whether that is enough to
name an option is decided here, once, the same way for every backend, with the backend's own
thresholds (docs/free-text.md#thresholds):

- the best option's similarity must reach ``floor`` (else the text is out of scope);
- it must beat the runner-up by ``margin`` (else two options are too close to tell apart);
- it must beat the closest option of *another sign* by ``sign_margin`` (the safety rule: a
  harmful option, one that loses points or is a critical error, and a good one must never be
  confused silently, so telling them apart takes a wider gap than telling two good ones apart).

When any test fails the answer is "not understood": the front end shows the options instead of
guessing. Grading never sees the typed text, only the option the trainee confirms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from simulator.safetext import one_line

MAX_TEXT = 1000
"""Characters of a typed answer that are matched; the rest is ignored (the model reads at most
128 word pieces anyway, and a pasted novel must not stall the lexical backend)."""

UNDERSTOOD = 0.5
"""A match is understood exactly when its confidence is at least this."""

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2032": "'"})


def clean(text: str) -> str:
    """Typed or scenario text as the backends read it: terminal-safe, one line, Unicode NFKC
    (full-width letters and ligatures become plain ones), curly quotes straight, at most
    ``MAX_TEXT`` characters."""
    return one_line(unicodedata.normalize("NFKC", text)[: MAX_TEXT * 2]).translate(_QUOTES)[:MAX_TEXT]


_CAPITALISED = re.compile(r"\b[A-Z][a-z]+\b")
_LOWER_WORD = re.compile(r"\b[a-z]+\b")
_STARTS_SENTENCE = re.compile(r"(?:^|(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)[.]|[?!:\"()\u2014-])\s*$")
NAME_STAND_IN = "them"


def find_names(spoken: Iterable[str], cast: Iterable[str] = (), other: Iterable[str] = ()) -> frozenset[str]:
    """The names of people and places in a scenario, lowercased: capitalised words inside a
    sentence (not at its start) of what is said and done (``spoken``: options, examples, lines),
    and the capitalised words of the cast's names, except words that any text (``other``
    too: narration) also uses in lower case ('Dispatch' is no name when 'dispatch' is written).
    Why: the model weighs a name heavily, and every option of a scene may address the same
    person, so "leave with Mike" came out closer to the option that says "Mike" than to the one
    that leaves (docs/free-text.md#names)."""
    spoken = list(spoken)
    lower: set[str] = set()
    found: set[str] = set()
    for text in spoken:
        for m in _CAPITALISED.finditer(text):
            if not _STARTS_SENTENCE.search(text[: m.start()]):
                found.add(m.group(0))
    for name in cast:
        found.update(_CAPITALISED.findall(name))
    for text in [*spoken, *cast, *other]:
        lower.update(_LOWER_WORD.findall(text))
    return frozenset(w.lower() for w in found if w.lower() not in lower and w != "I")


def mask_names(text: str, names: Collection[str]) -> str:
    """``text`` with each run of ``names`` (and titles like 'Mr.' before them) replaced by one
    neutral word, case-insensitively."""
    if not names:
        return text
    alternatives = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    run = re.compile(rf"\b(?:{alternatives})\b(?:\.?\s+\b(?:{alternatives})\b)*", re.IGNORECASE)
    return run.sub(NAME_STAND_IN, text)


def has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


_QUOTED = re.compile(r'"([^"]+)"')
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
MIN_SENTENCE_WORDS = 5


def parts(text: str) -> list[str]:
    """Shorter pieces of an option's text that a trainee may type alone: the quoted speech and
    the action around it ('Hands open and low: "Andre? I'm Sam..."'), and each sentence of at
    least ``MIN_SENTENCE_WORDS`` words when there are several (shorter ones, like "Is that
    okay?", fit too many answers). Measured on the phrase tests' tune split: with these parts the
    model ranks the right option first more often and can use a narrower safety margin."""
    pieces = [text]
    quoted = [q.strip() for q in _QUOTED.findall(text)]
    if quoted:
        action = " ".join(_QUOTED.sub(" ", text).split()).strip(" :.,;")
        pieces = ([action] if len(action.split()) >= 3 else []) + quoted
    out = [p for p in pieces if p != text]
    for piece in pieces:
        sentences = _SENTENCE_END.split(piece)
        if len(sentences) > 1:
            out += [s for s in sentences if len(s.split()) >= MIN_SENTENCE_WORDS]
    return list(dict.fromkeys(p for p in out if p and p != text))


@dataclass(frozen=True)
class Option:
    """One scripted option a typed answer may be matched to.

    ``value`` is its weighted value in the rubric (``scoring.grading.option_value``), given by
    the caller because this package knows nothing of rubrics; ``critical`` marks a critical
    error, which counts as harmful whatever its points."""

    id: str
    text: str
    says: tuple[str, ...] = ()
    value: int = 0
    critical: bool = False

    @property
    def sign(self) -> int:
        """-1 harmful (negative value or a critical error), 0 neutral, +1 good."""
        if self.critical or self.value < 0:
            return -1
        return 1 if self.value > 0 else 0

    @property
    def phrasings(self) -> tuple[str, ...]:
        """What a typed answer is compared with: the option's text, its parts (``parts``),
        then its ``says:`` examples."""
        return tuple(dict.fromkeys((self.text, *parts(self.text), *self.says)))


@dataclass(frozen=True)
class Thresholds:
    """A backend's decision thresholds, in its own similarity scale (see the module docstring).
    ``full`` is the similarity, and ``full_margin`` the gap, at which confidence stops growing."""

    floor: float
    margin: float
    sign_margin: float
    full: float
    full_margin: float


@dataclass(frozen=True)
class Scored:
    """An option's similarity to the typed text."""

    id: str
    similarity: float
    sign: int


@dataclass(frozen=True)
class Match:
    """The result of matching one typed answer.

    ``choice`` is the matched option id, or None when not understood; ``best`` is the closest
    option either way (a front end may preselect it, never confirm it); ``confidence`` is in
    [0, 1] and at least ``UNDERSTOOD`` exactly when ``understood``; ``reason`` says why not
    understood (empty when understood); ``ranking`` has every option, closest first."""

    text: str
    choice: str | None
    confidence: float
    understood: bool
    best: str | None
    reason: str
    backend: str
    ranking: tuple[Scored, ...] = field(default=(), repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "choice": self.choice,
            "confidence": self.confidence,
            "understood": self.understood,
            "closest": self.best,
            "reason": self.reason or None,
            "backend": self.backend,
        }


class Backend(Protocol):
    """Measures how close texts are to options. ``name`` identifies it in results and exports."""

    name: str
    thresholds: Thresholds

    def similarities(self, texts: Sequence[str], options: Sequence[Option]) -> list[list[float]]:
        """For each text (already ``clean``), one similarity per option: the highest over the
        option's phrasings."""
        ...


def _scale(value: float, threshold: float, full: float) -> float:
    """0.5 exactly at the threshold, rising to 1 at ``full``, falling to 0 at 0 and below."""
    if value >= threshold:
        if full <= threshold:
            return 1.0
        return min(1.0, 0.5 + 0.5 * (value - threshold) / (full - threshold))
    if threshold <= 0:
        return 0.0
    return max(0.0, 0.5 * value / threshold)


def decide(text: str, options: Sequence[Option], sims: Sequence[float], backend: str, t: Thresholds) -> Match:
    """Apply the decision rule (module docstring) to one text's similarities."""
    ranking = tuple(
        sorted(
            (Scored(o.id, float(s), o.sign) for o, s in zip(options, sims, strict=True)),
            key=lambda r: -r.similarity,  # stable: equal similarities keep the scene's order
        )
    )
    if not ranking:
        return Match(text, None, 0.0, False, None, "there are no options to match", backend)
    top = ranking[0]
    if not has_words(text):
        return Match(text, None, 0.0, False, None, "nothing was typed", backend, ranking)
    runner = ranking[1] if len(ranking) > 1 else None
    rival = next((r for r in ranking[1:] if r.sign != top.sign), None)
    gap = top.similarity - runner.similarity if runner else None
    sign_gap = top.similarity - rival.similarity if rival else None
    parts = [_scale(top.similarity, t.floor, t.full)]
    if gap is not None:
        parts.append(_scale(gap, t.margin, t.full_margin))
    if sign_gap is not None:
        parts.append(_scale(sign_gap, t.sign_margin, t.full_margin + t.sign_margin - t.margin))
    reason = ""
    if top.similarity < t.floor:
        reason = "it is not close enough to any option"
    elif gap is not None and gap < t.margin:
        assert runner is not None
        reason = f"it is as close to '{runner.id}' as to '{top.id}'"
    elif sign_gap is not None and sign_gap < t.sign_margin:
        assert rival is not None
        low, high = (top, rival) if top.sign < rival.sign else (rival, top)
        if low.sign < 0:
            reason = f"it is too close to both the harmful '{low.id}' and '{high.id}'"
        else:
            reason = f"it is too close to both '{low.id}' and '{high.id}', which score differently"
    understood = not reason
    confidence = round(min(parts), 3)
    # Keep the documented promise exactly, whatever the rounding: understood <=> >= UNDERSTOOD.
    confidence = max(confidence, UNDERSTOOD) if understood else min(confidence, 0.499)
    return Match(text, top.id if understood else None, confidence, understood, top.id, reason, backend, ranking)
