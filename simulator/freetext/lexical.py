"""The lexical fallback: TF-IDF over content words and character n-grams, in plain Python.

Used when the ``[freetext]`` extra (the embedding model) is not installed. It only sees shared
words and word pieces, so it cannot know that "kill the lights" means "switch off the lights";
its thresholds are set so that it says "not understood" rather than guess (docs/free-text.md).

Why these features: content words carry the meaning of short answers; character 3- and
4-grams of each word survive typos ("dispach", "imediatly") and word forms ("grabbing");
function words ("the", "you", "I'd") are dropped, or every answer would look like every option.
The document frequencies come from the options of the scene being matched (their texts and
examples), so a word every option shares counts for little. Written here rather than taken from
scikit-learn or rapidfuzz: some forty lines, no dependency, and the scene's options are the
whole corpus.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from simulator.freetext.core import Option, Thresholds

NAME = "lexical"

THRESHOLDS = Thresholds(floor=0.35, margin=0.10, sign_margin=0.25, full=0.75, full_margin=0.35)
"""Tuned on the ``tune:`` split of the bundled phrase sets (docs/free-text.md#thresholds)."""

_STOPWORD_TEXT = """a an the and or but if so to of in on at by for with from as into about than then there here
    i me my mine im i'm i'd id i'll ill i've ive you your yours you're youre you'll you'd u ur
    we us our we'll we're he him his he's she her hers she's it its it's they them their they're
    this that these those is are was were be been being am do does did doing done have has had
    will would can could should shall may might must just oh ok okay well yes yeah
    what what's whats who whom which when where why how all any some very too also really get got
    going gonna let let's lets say said tell told go"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""Function words: dropped, so that answers are compared on what they are about."""

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,;:!?]")
_NEGATION_TEXT = "not no never nobody nothing none nowhere neither nor without cannot"
_NEGATIONS = frozenset(_NEGATION_TEXT.split())
_WORD_WEIGHT = 0.5


def _words(text: str) -> list[str]:
    """Content words, each marked '~' when a negation before it in the same clause turns it
    round: "you're not under arrest" has '~arrest', which "arrest her" does not share."""
    out = []
    negated = False
    for token in _TOKEN.findall(text.lower()):
        if token in ".,;:!?":
            negated = False
            continue
        if token in _NEGATIONS or token.endswith("n't"):
            negated = True
            continue
        if token in STOPWORDS:
            continue
        word = token.replace("'", "")
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]  # plural and third person: 'lights' ~ 'light'
        out.append("~" + word if negated else word)
    return out


def _features(text: str) -> tuple[Counter[str], Counter[str]]:
    words = _words(text)
    grams: Counter[str] = Counter()
    for word in words:
        mark, bare = ("~", word[1:]) if word.startswith("~") else ("", word)
        padded = f" {bare} "
        for n in (3, 4):
            grams.update(mark + padded[i : i + n] for i in range(len(padded) - n + 1))
    return Counter(words), grams


def _vector(counts: Counter[str], idf: dict[str, float], default: float) -> dict[str, float]:
    vec = {k: (1.0 + math.log(c)) * idf.get(k, default) for k, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {k: v / norm for k, v in vec.items()} if norm else {}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0.0) for k, v in a.items())


class LexicalBackend:
    """TF-IDF similarity of typed text to each option (the best over its phrasings)."""

    name = NAME
    thresholds = THRESHOLDS

    def similarities(self, texts: Sequence[str], options: Sequence[Option]) -> list[list[float]]:
        docs = [(i, _features(p)) for i, o in enumerate(options) for p in o.phrasings]
        n = len(docs)
        idfs = []
        for part in (0, 1):
            df: Counter[str] = Counter()
            for _, features in docs:
                df.update(features[part].keys())
            idfs.append({k: math.log((1 + n) / (1 + d)) + 1 for k, d in df.items()})
        # a word no option uses still weighs in the typed text's norm, as a rare word would
        unseen = math.log(1 + n) + 1
        doc_vectors = [(i, [_vector(f[p], idfs[p], unseen) for p in (0, 1)]) for i, f in docs]
        out = []
        for text in texts:
            query = _features(text)
            qv = [_vector(query[p], idfs[p], unseen) for p in (0, 1)]
            best = [0.0] * len(options)
            for i, dv in doc_vectors:
                sim = _WORD_WEIGHT * _cosine(qv[0], dv[0]) + (1 - _WORD_WEIGHT) * _cosine(qv[1], dv[1])
                best[i] = max(best[i], sim)
            out.append(best)
        return out
