"""Grading: ``grade(scenario, rubric, decisions) -> Grade``, a pure function.

The method (explained with a worked example in docs/scoring.md):

1. Replay the decisions through a Session, so each decision is judged against the options that
   were really on offer at that moment (conditions depend on meters, flags and visits).
2. Each option has a *value*: the sum of its points, each weighted by its principle's dimension
   weight. The *reference* at a decision is the best-valued option on offer (critical-error
   options never are); when the trainee's choice is worth as much as the best, it is its own
   reference, so a different but equally good choice costs nothing.
3. Per dimension (and per principle) the grade adds up what the chosen options earned and what
   the reference options would have earned. Score = earned / possible, clamped to 0..1. If the
   reference earned nothing positive there (possible <= 0), the score is 1 when the trainee did
   at least as well and 0 when worse. A dimension that no option on the path ever scored is
   "not applicable", and its weight is shared out over the others.
4. Overall = the weighted mean of the applicable dimension scores, x 100.
5. Pass rule: no critical error, overall >= the pass score, every applicable dimension >= the
   minimum, the scenario finished, and the ending's rating is one that may pass.

Exact arithmetic (``fractions.Fraction``) keeps the grade identical however often it is
recomputed; values are rounded to one decimal only when shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from scoring.rubric import Rubric, effective_rubric
from simulator.engine import Decision, Session
from simulator.model import Choice, Scenario, Timeout

GRADE_VERSION = 1
"""Bumped when the grading method changes, so stored grades can be told apart."""

PROFICIENT = 85


@dataclass(frozen=True)
class OptionInfo:
    """An option as the debrief shows it."""

    id: str | None  # None: letting the time run out
    text: str
    points: dict[str, int]
    feedback: str
    critical: str | None


@dataclass(frozen=True)
class DecisionReview:
    sequence: int
    scene: str
    chosen: OptionInfo
    earned: dict[str, int]  # points per principle for the chosen option
    value: float  # weighted value of the chosen option
    best: OptionInfo | None  # the better option on offer, or None when the choice was the best
    best_value: float
    offered: list[str]  # ids of the options on offer


@dataclass(frozen=True)
class ScoreLine:
    """Earned and possible points for a dimension or principle; ``score`` is 0..100, or None
    when not applicable (never offered on this path)."""

    id: str
    name: str
    earned: int
    possible: int
    score: float | None
    weight: int = 0  # dimensions only: the rubric weight
    share: float = 0.0  # dimensions only: the share of the overall score after re-weighting
    dimension: str = ""  # principles only

    @property
    def applicable(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class CriticalHit:
    sequence: int
    scene: str
    choice: str | None
    id: str
    name: str
    description: str
    feedback: str


@dataclass(frozen=True)
class EndingInfo:
    scene: str
    rating: str
    outcome: str
    debrief: str


@dataclass(frozen=True)
class Grade:
    scenario_id: str
    scenario_version: str
    scenario_sha256: str
    rubric_id: str
    rubric_sha256: str
    overall: float
    passed: bool
    proficient: bool
    reasons: list[str]
    pass_score: int
    dimension_min: int
    dimensions: list[ScoreLine]
    principles: list[ScoreLine]
    critical_errors: list[CriticalHit]
    ending: EndingInfo | None
    decisions: list[DecisionReview]
    method: int = GRADE_VERSION
    exact_overall: Fraction = field(default=Fraction(0), repr=False, compare=True)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("exact_overall")
        return data


class GradeError(Exception):
    """The decisions do not fit the scenario (e.g. a record from another version)."""


def _option(choice: Choice | Timeout, chosen_id: str | None) -> OptionInfo:
    if isinstance(choice, Choice):
        return OptionInfo(choice.id, choice.text, dict(choice.scores), choice.feedback, choice.critical)
    return OptionInfo(
        None,
        f"(let the {choice.seconds} s run out without acting)",
        dict(choice.scores),
        choice.feedback,
        choice.critical,
    )


def _ratio(earned: int, possible: int) -> Fraction:
    if possible > 0:
        return min(Fraction(1), max(Fraction(0), Fraction(earned, possible)))
    return Fraction(1) if earned >= possible else Fraction(0)


def _pct(value: Fraction) -> float:
    return round(float(value * 100), 1)


def option_value(points: Mapping[str, int], rubric: Rubric) -> int:
    """Weighted value of an option: points times the weight of each principle's dimension
    (whole numbers, so values compare exactly)."""
    weight = {pid: rubric.dimensions[p.dimension].weight for pid, p in rubric.principles.items()}
    return sum(pts * weight[principle] for principle, pts in points.items())


def reference(options: Sequence[Choice], chosen: Choice | Timeout, rubric: Rubric) -> Choice | Timeout:
    """The option the chosen one is measured against (see the module docstring)."""
    candidates = [o for o in options if not o.critical]
    if not candidates:
        return chosen
    best = max(candidates, key=lambda o: option_value(o.scores, rubric))  # first of equals
    if option_value(chosen.scores, rubric) >= option_value(best.scores, rubric) and not chosen.critical:
        return chosen
    return best


def grade(scenario: Scenario, rubric: Rubric, decisions: Iterable[Decision]) -> Grade:
    """Grade a decision log. Pure: the same inputs always give an identical Grade."""
    rubric = effective_rubric(rubric, scenario)
    session = Session(scenario)
    session.start()
    earned: dict[str, int] = dict.fromkeys(rubric.principles, 0)
    possible: dict[str, int] = dict.fromkeys(rubric.principles, 0)
    touched: set[str] = set()
    reviews: list[DecisionReview] = []
    hits: list[CriticalHit] = []
    for decision in decisions:
        if not session.waiting:
            raise GradeError(f"decision {decision.sequence} comes after the scenario stopped")
        scene = scenario.scenes[session.scene]
        offered = session.offered()
        if decision.choice is None:
            if scene.timeout is None:
                raise GradeError(f"decision {decision.sequence}: scene '{session.scene}' has no timeout")
            chosen: Choice | Timeout = scene.timeout
        else:
            match = [c for c in offered if c.id == decision.choice]
            if not match:
                raise GradeError(
                    f"decision {decision.sequence}: choice '{decision.choice}' was not on offer in "
                    f"scene '{session.scene}'"
                )
            chosen = match[0]
        ref = reference(offered, chosen, rubric)
        for option in [*offered, chosen]:
            touched.update(p for p, pts in option.scores.items() if pts)
        for p, pts in chosen.scores.items():
            earned[p] += pts
        for p, pts in ref.scores.items():
            possible[p] += pts
        chosen_info = _option(chosen, decision.choice)
        reviews.append(
            DecisionReview(
                decision.sequence,
                session.scene,
                chosen_info,
                dict(chosen.scores),
                float(option_value(chosen.scores, rubric)),
                None if ref is chosen else _option(ref, None),
                float(option_value(ref.scores, rubric)),
                [c.id for c in offered],
            )
        )
        if chosen.critical:
            err = rubric.critical_errors[chosen.critical]
            hits.append(
                CriticalHit(
                    decision.sequence,
                    session.scene,
                    decision.choice,
                    chosen.critical,
                    err.name,
                    err.description,
                    chosen.feedback,
                )
            )
        try:
            session.apply(Decision(decision.sequence, session.scene, decision.choice))
        except Exception as exc:  # SessionError: the log does not fit this scenario
            raise GradeError(str(exc)) from None

    principle_lines = []
    for pid, principle in rubric.principles.items():
        applicable = pid in touched
        score = _pct(_ratio(earned[pid], possible[pid])) if applicable else None
        principle_lines.append(
            ScoreLine(pid, principle.name, earned[pid], possible[pid], score, dimension=principle.dimension)
        )

    dim_ratios: dict[str, Fraction] = {}
    dim_sums: dict[str, tuple[int, int]] = {}
    for did in rubric.dimensions:
        members = rubric.dimension_principles(did)
        e = sum(earned[p] for p in members)
        pos = sum(possible[p] for p in members)
        dim_sums[did] = (e, pos)
        if any(p in touched for p in members):
            dim_ratios[did] = _ratio(e, pos)
    total_weight = sum(rubric.dimensions[d].weight for d in dim_ratios)
    overall = (
        sum(dim_ratios[d] * rubric.dimensions[d].weight for d in dim_ratios) / total_weight
        if total_weight
        else Fraction(0)
    )
    dimension_lines = [
        ScoreLine(
            did,
            dim.name,
            dim_sums[did][0],
            dim_sums[did][1],
            _pct(dim_ratios[did]) if did in dim_ratios else None,
            weight=dim.weight,
            share=round(dim.weight / total_weight * 100, 1) if did in dim_ratios and total_weight else 0.0,
        )
        for did, dim in rubric.dimensions.items()
    ]

    rule = rubric.pass_
    reasons: list[str] = []
    if rule.no_critical:
        reasons += [f"critical error at decision {h.sequence}: {h.name}" for h in hits]
    if overall * 100 < rule.score:
        reasons.append(f"overall score {_pct(overall)} is below the pass mark of {rule.score}")
    for line in dimension_lines:
        if line.score is not None and dim_ratios[line.id] * 100 < rule.dimension_min:
            reasons.append(f"{line.name} scored {line.score}, below the minimum of {rule.dimension_min}")
    ending = session.ending
    if ending is None:
        reasons.append("the scenario did not reach an ending")
    elif ending.rating not in rule.ratings:
        reasons.append(f"the ending was rated {ending.rating}; passing needs {' or '.join(rule.ratings)}")
    if not touched:
        reasons.append("no scored decision was made")

    return Grade(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        scenario_sha256=scenario.sha256,
        rubric_id=rubric.id,
        rubric_sha256=rubric.sha256,
        overall=_pct(overall),
        passed=not reasons,
        proficient=not reasons and overall * 100 >= PROFICIENT,
        reasons=reasons,
        pass_score=rule.score,
        dimension_min=rule.dimension_min,
        dimensions=dimension_lines,
        principles=principle_lines,
        critical_errors=hits,
        ending=EndingInfo(ending.scene, ending.rating, ending.outcome, ending.debrief) if ending else None,
        decisions=reviews,
        exact_overall=overall,
    )
