"""Free-text matching against the rubric: a decision's options with their values, and the phrase
tests that measure how well typed answers are matched (``crisis-sim test --phrases``).

The matcher (``simulator.freetext``) knows nothing of rubrics; the safety rule needs to know which
options are harmful, so ``options`` gives each option its weighted value from
``scoring.grading.option_value`` (the one owner of "what an option is worth") and its critical
flag. That is why this lives in ``scoring``.

A phrase sidecar ``NAME.phrases.yaml`` sits next to ``NAME.yaml`` (docs/free-text.md#phrase-tests)::

    format: 1
    tune:                      # what thresholds and 'says:' examples were tuned on
      SCENE:
        match:
          CHOICE-ID: [utterances that must be matched to this option]
        no-match: [utterances that must match no option]
    holdout:                   # written before tuning, only measured: the reported figures
      SCENE: ...

Every scene and option named is checked when the file loads (a diagnostic at its line and
column, with did-you-mean), so a rewritten scenario fails loudly instead of silently losing tests.
Utterances are matched against all of the scene's choices, their ``if:`` conditions ignored
(as ``crisis-sim match`` does).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ConfigDict, Field

from scoring.catalog import load_graded
from scoring.grading import option_value
from scoring.rubric import Rubric
from simulator.diagnostics import Diagnostic, DiagnosticError, Suggester, has_errors
from simulator.freetext import Match, Matcher, Option, scenario_names
from simulator.loader import Reporter, sidecar_path, validate_model
from simulator.model import Choice, ChoiceId, FormatVersion, Frozen, Ident, Scenario, Text
from simulator.yamlsource import load_file

SPLITS = ("tune", "holdout")
KIND = ".phrases"


def options(choices: Iterable[Choice], rubric: Rubric) -> list[Option]:
    """The matcher's view of ``choices``: text, ``says:`` examples, weighted value, critical."""
    return [
        Option(c.id, c.text, tuple(c.says), option_value(c.scores, rubric), c.critical is not None) for c in choices
    ]


@dataclass(frozen=True)
class Answers:
    """Free-text play of one scenario: what a trainee types at a decision, matched to the
    options on offer (the front ends, ``run --free-text`` and the app, share this)."""

    matcher: Matcher
    rubric: Rubric
    names: frozenset[str]

    @classmethod
    def for_play(cls, scenario: Scenario, rubric: Rubric, matcher: Matcher) -> Answers:
        return cls(matcher, rubric, scenario_names(scenario))

    def match(self, text: str, choices: Iterable[Choice]) -> Match:
        """``text`` matched to ``choices`` (those on offer), by the one decision rule
        (``simulator.freetext.core.decide``: floor, margin, and the wider margin between a
        harmful option and a good one)."""
        return self.matcher.match(text, options(choices, self.rubric), self.names)


# ---- the sidecar ----------------------------------------------------------------------------


class ScenePhrases(Frozen):
    """The phrase tests of one decision (scene)."""

    match: dict[ChoiceId, list[Text]] = Field(
        default_factory=dict, description="Choice id -> utterances that must be matched to that option."
    )
    no_match: list[Text] = Field(
        default_factory=list, alias="no-match", description="Utterances that must match no option of the scene."
    )


class PhraseFile(Frozen):
    """A sidecar ``NAME.phrases.yaml``: typed answers and what each must be matched to."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, title="crisis-sim phrase tests")

    format: FormatVersion = Field(description="Format version of this file; currently 1.")
    tune: dict[Ident, ScenePhrases] = Field(
        default_factory=dict, description="Scene -> phrases the matching was tuned on."
    )
    holdout: dict[Ident, ScenePhrases] = Field(
        default_factory=dict, description="Scene -> phrases kept out of tuning; the reported figures."
    )


@dataclass(frozen=True)
class Utterance:
    """One phrase test: ``expected`` is a choice id, or None when it must match nothing."""

    split: str
    scene: str
    text: str
    expected: str | None
    where: str  # path:line:col


@dataclass
class PhraseSuite:
    """A scenario, its rubric and its phrase tests, or the diagnostics saying why they cannot run."""

    path: str
    scenario: Scenario | None = None
    rubric: Rubric | None = None
    sidecar: Path | None = None
    utterances: list[Utterance] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.scenario is not None and self.rubric is not None and not has_errors(self.diagnostics)


def phrases_for(scenario_path: Path) -> Path:
    """``NAME.phrases.yaml`` next to ``NAME.yaml``."""
    return sidecar_path(scenario_path, KIND)


def check_phrases(scenario: Scenario, data: PhraseFile, report: Reporter) -> list[Utterance]:
    """The utterances of a validated sidecar, each scene and option checked against the scenario."""
    path = report.source.path
    decisions = [sid for sid, scene in scenario.scenes.items() if scene.choices]
    scene_names = Suggester(decisions)
    out: list[Utterance] = []
    first_seen: dict[tuple[str, str], tuple[str, str, str]] = {}  # (scene, text) -> (split, expected, where)
    for split in SPLITS:
        for sid, phrases in getattr(data, split).items():
            base: tuple[str | int, ...] = (split, sid)
            scene = scenario.scenes.get(sid)
            if scene is None or not scene.choices:
                problem = "has no choices to match" if scene is not None else "is not a scene of this scenario"
                hint = scene_names.hint(sid) if scene is None else ""
                message = f"'{sid}' {problem}{hint}; phrases are tested at decisions"
                report.add(base, "unknown-scene", message, at_key=True)
                continue
            ids = [c.id for c in scene.choices]
            choice_names = Suggester(ids)
            cases: list[tuple[tuple[str | int, ...], str, str | None]] = []
            for cid, texts in phrases.match.items():
                if cid not in ids:
                    report.add(
                        base + ("match", cid),
                        "unknown-choice",
                        f"scene '{sid}' has no choice '{cid}'{choice_names.hint(cid)}; its choices: {', '.join(ids)}",
                        at_key=True,
                    )
                    continue
                cases += [(base + ("match", cid, i), text, cid) for i, text in enumerate(texts)]
            cases += [(base + ("no-match", i), text, None) for i, text in enumerate(phrases.no_match)]
            for loc, text, expected in cases:
                mark = report.source.value(loc)
                where = f"{path}:{mark.line}:{mark.col}"
                key = (sid, " ".join(text.lower().split()))
                seen = first_seen.get(key)
                if seen is not None:
                    other_split, other_expected, other_where = seen
                    if other_split != split:
                        report.add(
                            loc,
                            "phrase-in-both-splits",
                            f"this phrase is also in '{other_split}' ({other_where}); a held-out phrase must not "
                            "be tuned on: keep it in one split",
                        )
                    elif other_expected != (expected or ""):
                        was = f"'{other_expected}'" if other_expected else "no-match"
                        report.add(
                            loc,
                            "duplicate-phrase",
                            f"this phrase is already expected to match {was} ({other_where}); one phrase, one answer",
                        )
                    else:
                        message = f"this phrase is already listed ({other_where}); remove one"
                        report.warn(loc, "duplicate-phrase", message)
                    continue
                first_seen[key] = (split, expected or "", where)
                out.append(Utterance(split, sid, text, expected, where))
    return out


def load_phrases(scenario: Scenario, sidecar: Path) -> tuple[list[Utterance], list[Diagnostic]]:
    """Read, validate and check a phrase sidecar: (utterances, diagnostics)."""
    try:
        doc = load_file(sidecar)
    except DiagnosticError as exc:
        return [], list(exc.diagnostics)
    report = Reporter(doc.source)
    report.items.extend(doc.warnings)
    data = validate_model(PhraseFile, doc.data, report)
    if data is None:
        return [], report.items
    utterances = check_phrases(scenario, data, report)
    if not has_errors(report.items) and not utterances:
        report.add((), "no-phrases", "no phrases: add a scene under 'tune:' or 'holdout:'", severity="warning")
    report.items.sort(key=lambda d: (d.line, d.col))
    return utterances, report.items


def collect(scenario_path: Path, rubric_ref: str | None = None) -> PhraseSuite:
    """The scenario, its rubric and its phrase sidecar (``sidecar`` None: there is none)."""
    suite = PhraseSuite(str(scenario_path))
    graded = load_graded(scenario_path, rubric_ref)
    suite.diagnostics = [d for d in graded.diagnostics if d.severity == "error"]
    if not graded.ok or graded.scenario is None:
        return suite
    suite.scenario, suite.rubric = graded.scenario, graded.rubric
    sidecar = phrases_for(scenario_path)
    if sidecar.exists():
        suite.sidecar = sidecar
        suite.utterances, found = load_phrases(graded.scenario, sidecar)
        suite.diagnostics += found
    return suite


# ---- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    utterance: Utterance
    match: Match
    expected_sign: int  # of the expected option; 0 for no-match
    matched_sign: int  # of the accepted option; 0 when not understood


def evaluate(suite: PhraseSuite, matcher: Matcher, split: str | None) -> list[Result]:
    """Match every utterance of ``split`` (None: both) against all of its scene's choices."""
    assert suite.scenario is not None and suite.rubric is not None
    results: list[Result] = []
    by_scene: dict[str, list[Utterance]] = {}
    for u in suite.utterances:
        if split is None or u.split == split:
            by_scene.setdefault(u.scene, []).append(u)
    names = scenario_names(suite.scenario)
    for sid, utterances in by_scene.items():
        opts = options(suite.scenario.scenes[sid].choices, suite.rubric)
        signs = {o.id: o.sign for o in opts}
        for u, m in zip(utterances, matcher.match_many([u.text for u in utterances], opts, names), strict=True):
            expected_sign = signs[u.expected] if u.expected else 0
            results.append(Result(u, m, expected_sign, signs[m.choice] if m.choice else 0))
    return results


@dataclass
class Figures:
    """Counts over a set of results (see ``docs/free-text.md#phrase-tests`` for each)."""

    in_scope: int = 0  # utterances that name an option
    top1: int = 0  # ... whose closest option is the expected one
    accepted: int = 0  # ... understood as some option
    wrong: int = 0  # ... understood as another option
    harmful_as_good: int = 0  # ... expected harmful, understood as an option that is not harmful
    out_of_scope: int = 0  # no-match utterances
    oos_accepted: int = 0  # ... understood as some option

    def add(self, r: Result) -> None:
        m = r.match
        if r.utterance.expected is None:
            self.out_of_scope += 1
            self.oos_accepted += m.understood
            return
        self.in_scope += 1
        self.top1 += m.best == r.utterance.expected
        self.accepted += m.understood
        wrong = m.understood and m.choice != r.utterance.expected
        self.wrong += wrong
        self.harmful_as_good += wrong and r.expected_sign < 0 and r.matched_sign >= 0

    @staticmethod
    def of(results: Iterable[Result]) -> Figures:
        f = Figures()
        for r in results:
            f.add(r)
        return f

    def rate(self, count: int, total: int) -> float:
        return count / total if total else 0.0

    def summary(self) -> str:
        def pct(n: int, d: int) -> str:
            return f"{100 * self.rate(n, d):.1f}% ({n}/{d})"

        return (
            f"top-1 {pct(self.top1, self.in_scope)}, coverage {pct(self.accepted, self.in_scope)}, "
            f"wrong accepts {pct(self.wrong, self.in_scope)}, harmful as good {self.harmful_as_good}, "
            f"out-of-scope accepts {pct(self.oos_accepted, self.out_of_scope)}"
        )


@dataclass(frozen=True)
class Floors:
    """What ``crisis-sim test --phrases`` requires of the figures over all files tested."""

    top1: float  # at least
    coverage: float  # at least
    wrong: float  # at most, share of in-scope utterances
    harmful_as_good: int  # at most, a count
    out_of_scope: float  # at most, share of no-match utterances

    def check(self, f: Figures) -> list[tuple[str, bool]]:
        """(what, met) for each floor."""
        return [
            (f"top-1 >= {self.top1:.0%}", f.rate(f.top1, f.in_scope) >= self.top1),
            (f"coverage >= {self.coverage:.0%}", f.rate(f.accepted, f.in_scope) >= self.coverage),
            (f"wrong accepts <= {self.wrong:.0%}", f.rate(f.wrong, f.in_scope) <= self.wrong),
            (f"harmful as good <= {self.harmful_as_good}", f.harmful_as_good <= self.harmful_as_good),
            (
                f"out-of-scope accepts <= {self.out_of_scope:.0%}",
                f.rate(f.oos_accepted, f.out_of_scope) <= self.out_of_scope,
            ),
        ]


FLOORS = {
    "minilm": Floors(top1=0.90, coverage=0.70, wrong=0.04, harmful_as_good=0, out_of_scope=0.10),
    "lexical": Floors(top1=0.80, coverage=0.50, wrong=0.04, harmful_as_good=0, out_of_scope=0.10),
}
"""Per backend (docs/free-text.md#phrase-tests says why these numbers). The lexical fallback finds
fewer answers, so its top-1 and coverage floors are lower; what it accepts must be as safe."""


def describe(r: Result) -> str:
    """One line about a result that is not what the phrase test expects."""
    u, m = r.utterance, r.match
    said = f"{u.where}: [{u.split}] {u.scene}: {u.text!r}"
    if u.expected is None:
        return f"{said}: must match nothing, matched '{m.choice}' ({m.confidence:.2f})"
    if m.understood:
        flag = " HARMFUL AS GOOD" if r.expected_sign < 0 and r.matched_sign >= 0 else ""
        return f"{said}: expected '{u.expected}', matched '{m.choice}' ({m.confidence:.2f}){flag}"
    return f"{said}: expected '{u.expected}', not understood ({m.reason}; closest '{m.best}', {m.confidence:.2f})"


def is_miss(r: Result) -> bool:
    return r.match.choice != r.utterance.expected


def is_wrong(r: Result) -> bool:
    """Accepted, and not the expected option: the results a report always lists."""
    return r.match.understood and r.match.choice != r.utterance.expected


def expand(paths: Sequence[str | Path]) -> tuple[list[Path], list[Diagnostic]]:
    """The scenario files to test (as ``crisis-sim test`` expands them; a sidecar stands for its scenario)."""
    from scoring.playtests import expand as expand_paths

    return expand_paths(paths)
