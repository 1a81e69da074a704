"""Grading: ``grade(scenario, rubric, decisions) -> Grade``, a pure function.

Method 2 (explained for instructors, with a worked example, in docs/scoring.md):

1. Replay the decisions (``simulator.engine.Run``), so each decision is judged against the options that
   were really on offer at that moment: the choices whose conditions held, plus the scene's
   timeout (letting the time run out is always an option when a scene has a timer).
2. Each option has a *value*: its points, each times its principle's dimension weight.
   ``judge`` turns the values on offer into what the decision put *at stake* and what each
   option *scored* there (a whole number from -stakes to +stakes):
   - b = the best value among options that are not critical errors; w = the worst on offer;
   - an option marked ``acceptable: true`` is credited with b (as good as the best); a critical
     error with the worst value on offer and never more than 0;
   - if b > 0: stakes = b and an option scores its credited value, clamped to -b..b, so a choice
     worth 45 where 60 was possible costs exactly 15;
   - if b <= 0 (nothing positive on offer): stakes = b - w and an option scores credited - w, so
     the least harmful option is full marks and the most harmful none; b == w: nothing at stake.
3. Performance = (sum of scored) / (sum of stakes), clamped to 0..1. A decision's
   *effectiveness* e = scored / stakes.
4. A dimension (or principle) is at stake at a decision when some option on offer has points in
   it; its weight there is the most points (in absolute value) any option on offer has in it.
   Its score = the weighted mean of e over the decisions where it was at stake, clamped to 0..1;
   never at stake: not applicable (None).
5. Pass rule: no critical error, performance >= the pass score, every applicable dimension >=
   the minimum, the scenario finished, the ending's rating may pass, something was at stake.
6. The reported score (``overall``) is the performance when the run passed; a run that did not
   pass reports at most one point below the pass mark (never below 0), so no failed result
   carries a passing score (cmi5: a failed score must be below the mastery score). The uncapped
   figure stays in ``performance``.

Exact arithmetic (``fractions.Fraction``) keeps the grade identical however often it is
recomputed; values are rounded to one decimal only when shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from scoring.rubric import Rubric, effective_rubric
from simulator.engine import Decision, Run
from simulator.model import Choice, Scenario, Scene, Timeout

GRADE_VERSION = 2
"""The grading method. Stored grades carry it; ``crisis-sim regrade --upgrade`` recomputes grades
made with an older method. 1: earned/possible points per dimension (retired); 2: this module."""

PROFICIENT = 85

Option = Choice | Timeout


@dataclass(frozen=True)
class OptionInfo:
    """An option as the debrief shows it."""

    id: str | None  # None: letting the time run out
    text: str
    points: dict[str, int]
    feedback: str
    critical: str | None
    acceptable: bool = False
    value: int = 0  # points x dimension weights
    credited: int = 0  # what it counted as at this decision (see ``judge``)


@dataclass(frozen=True)
class DecisionReview:
    """One decision, judged: what was chosen, what it was worth and what was at stake."""

    sequence: int
    scene: str
    chosen: OptionInfo
    earned: dict[str, int]  # points per principle of the chosen option
    value: int  # value of the chosen option
    credited: int  # what the choice counted as (acceptable: the best value; critical: at most 0)
    best_value: int  # b: the best value among options on offer that are not critical errors
    worst_value: int  # w: the worst credited value on offer
    stakes: int  # what this decision put at stake (0: every option counted the same)
    scored: int  # what the choice scored, from -stakes to +stakes
    effectiveness: float | None  # scored / stakes, None when nothing was at stake
    better: list[OptionInfo]  # the best options on offer, when the choice fell short of them
    also_strong: list[OptionInfo]  # the other best or acceptable options, when the choice was one
    offered: list[str]  # ids of the choices on offer (the timeout, if any, is on offer as well)


@dataclass(frozen=True)
class ScoreLine:
    """A dimension's or principle's score, 0..100, or None when it was never at stake (not
    applicable), with what it rests on: the number of decisions and the weight at stake."""

    id: str
    name: str
    score: float | None
    decisions: int  # decisions where it was at stake
    stake: int  # the sum of its weight at those decisions
    weight: int = 0  # dimensions only: the rubric weight (each point in it is worth this much)
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
    overall: float  # the reported score: the performance, capped below the pass mark when not passed
    performance: float  # the uncapped score, for instructors
    passed: bool
    proficient: bool
    reasons: list[str]
    pass_score: int
    dimension_min: int
    scored: int  # sum of what the choices scored
    at_stake: int  # sum of what the decisions put at stake
    dimensions: list[ScoreLine]
    principles: list[ScoreLine]
    critical_errors: list[CriticalHit]
    ending: EndingInfo | None
    decisions: list[DecisionReview]
    method: int = GRADE_VERSION
    exact_overall: Fraction = field(default=Fraction(0), repr=False, compare=True)
    exact_performance: Fraction = field(default=Fraction(0), repr=False, compare=True)

    @property
    def capped(self) -> bool:
        """True when the reported score is below the performance (a run that did not pass)."""
        return self.exact_overall < self.exact_performance

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("exact_overall")
        data.pop("exact_performance")
        return data


class GradeError(Exception):
    """The decisions do not fit the scenario (e.g. a record from another version)."""


def option_value(points: Mapping[str, int], rubric: Rubric) -> int:
    """Weighted value of an option: points times the weight of each principle's dimension
    (whole numbers, so values compare exactly)."""
    return _value(points, principle_weights(rubric))


def principle_weights(rubric: Rubric) -> dict[str, int]:
    """Each principle's dimension weight: what one point in it is worth."""
    return {pid: rubric.dimensions[p.dimension].weight for pid, p in rubric.principles.items()}


def _value(points: Mapping[str, int], weight: Mapping[str, int]) -> int:
    return sum(pts * weight[principle] for principle, pts in points.items())


@dataclass(frozen=True)
class Judgement:
    """How one decision is judged, from the values of the options on offer (in order)."""

    best: int  # b
    worst: int  # w: the lowest credited value
    stakes: int
    credited: tuple[int, ...]  # per option, in the order judged

    def scored(self, index: int) -> int:
        """What option ``index`` scores here, from -stakes to +stakes (0 when nothing is at stake)."""
        if self.stakes == 0:
            return 0
        credited = self.credited[index]
        if self.best > 0:
            return max(-self.best, min(self.best, credited))
        return credited - self.worst

    def is_best(self, index: int, option: Option) -> bool:
        """Not a critical error and credited with the best value (acceptable options are)."""
        return not option.critical and self.credited[index] == self.best


def judge(options: Sequence[Option], values: Sequence[int]) -> Judgement:
    """Judge a decision: ``options`` on offer (choices and the timeout) with their ``values``
    (``option_value``). The one definition of what a decision puts at stake, used by grading
    and path analysis alike (see the module docstring, step 2)."""
    safe = [v for o, v in zip(options, values, strict=True) if not o.critical]
    lowest = min(values, default=0)
    if not safe:  # only critical errors on offer: nothing to earn; the error itself fails the run
        floor = min(0, lowest)
        return Judgement(floor, floor, 0, tuple(floor for _ in options))
    best = max(safe)
    critical_credit = min(0, lowest)
    credited = tuple(
        critical_credit if o.critical else best if o.acceptable else v
        for o, v in zip(options, values, strict=True)
    )
    worst = min(credited)
    return Judgement(best, worst, best if best > 0 else best - worst, credited)


def stake_weights(options: Sequence[Option], groups: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """How much each group (a dimension's principles, or one principle) is at stake at a
    decision: the most points, in absolute value, that any option on offer has in it.
    (One pass over each option's own points: a scene may offer hundreds of options.)"""
    member_of: dict[str, list[str]] = {}
    for gid, members in groups.items():
        for principle in members:
            member_of.setdefault(principle, []).append(gid)
    most = dict.fromkeys(groups, 0)
    for option in options:
        mine: dict[str, int] = {}
        for principle, pts in option.scores.items():
            for gid in member_of.get(principle, ()):
                mine[gid] = mine.get(gid, 0) + abs(pts)
        for gid, total in mine.items():
            if total > most[gid]:
                most[gid] = total
    return most


def _option(option: Option, value: int, credited: int) -> OptionInfo:
    text = option.text if isinstance(option, Choice) else f"(let the {option.seconds} s run out without acting)"
    return OptionInfo(
        option.id if isinstance(option, Choice) else None,
        text,
        dict(option.scores),
        option.feedback,
        option.critical,
        option.acceptable,
        value,
        credited,
    )


def _clamp01(value: Fraction) -> Fraction:
    return min(Fraction(1), max(Fraction(0), value))


def _pct(value: Fraction) -> float:
    return round(float(value * 100), 1)


def _below(value: Fraction, mark: int) -> str:
    """A score for a 'below the mark' message: as shown elsewhere, unless rounding would reach
    the mark (69.96 reads as 69.9, never as 70)."""
    shown = _pct(value)
    return f"{shown}" if shown < mark else f"{math.floor(value * 1000) / 10}"


def reported(performance: Fraction, passed: bool, pass_score: int) -> Fraction:
    """The score a run reports (0..1): its performance if it passed, else at most one point
    below the pass mark (and never below 0)."""
    if passed:
        return performance
    return min(performance, Fraction(max(pass_score - 1, 0), 100))


@dataclass(frozen=True)
class _Reviewed:
    review: DecisionReview
    options: list[Option]  # on offer: the choices whose conditions held, then the timeout
    index: int  # of the chosen option


def _review(
    rubric: Rubric, weights: Mapping[str, int], scene: Scene, scene_id: str, offered: Sequence[Choice],
    decision: Decision,
) -> _Reviewed:
    """Judge one decision against the options that were on offer (``offered``, plus the scene's
    timeout); GradeError when the decision was not one of them. ``rubric`` is the effective one."""
    options: list[Option] = [*offered, *([scene.timeout] if scene.timeout is not None else [])]
    if decision.choice is None:
        if scene.timeout is None:
            raise GradeError(f"decision {decision.sequence}: scene '{scene_id}' has no timeout")
        index = len(options) - 1
    else:
        index = next((i for i, c in enumerate(offered) if c.id == decision.choice), -1)
        if index < 0:
            raise GradeError(
                f"decision {decision.sequence}: choice '{decision.choice}' was not on offer in scene '{scene_id}'"
            )
    chosen = options[index]
    values = [_value(o.scores, weights) for o in options]
    judged = judge(options, values)
    scored = judged.scored(index)
    infos = [_option(o, v, c) for o, v, c in zip(options, values, judged.credited, strict=True)]
    tops = [i for i, o in enumerate(options) if judged.stakes and judged.is_best(i, o)]
    chosen_is_best = index in tops or not judged.stakes
    review = DecisionReview(
        sequence=decision.sequence,
        scene=scene_id,
        chosen=infos[index],
        earned=dict(chosen.scores),
        value=values[index],
        credited=judged.credited[index],
        best_value=judged.best,
        worst_value=judged.worst,
        stakes=judged.stakes,
        scored=scored,
        effectiveness=round(scored / judged.stakes, 3) if judged.stakes else None,
        better=[] if chosen_is_best else [infos[i] for i in tops],
        also_strong=[infos[i] for i in tops if i != index] if chosen_is_best else [],
        offered=[c.id for c in offered],
    )
    return _Reviewed(review, options, index)


def review_decision(
    scenario: Scenario, rubric: Rubric, scene_id: str, offered: Sequence[str], decision: Decision
) -> DecisionReview:
    """One decision judged as ``grade`` judges it, from the ids of the choices that were on
    offer in ``scene_id`` (in order; the scene's timeout is on offer as well): what coach mode
    shows after each choice, without replaying the run. ``rubric`` as ``grade`` takes it."""
    rubric = effective_rubric(rubric, scenario)
    scene = scenario.scenes[scene_id]
    by_id = {c.id: c for c in scene.choices}
    choices = [by_id[cid] for cid in offered]
    return _review(rubric, principle_weights(rubric), scene, scene_id, choices, decision).review


def grade(
    scenario: Scenario, rubric: Rubric, decisions: Iterable[Decision], *, replay: type[Run] = Run
) -> Grade:
    """Grade a decision log. Pure: the same inputs always give an identical Grade.

    The log is replayed through ``replay``: a ``Run`` (the pure rules, no state machine to
    build: a few milliseconds on a 1,000-scene scenario) unless told otherwise; a property
    test grades through the live ``Session`` as well and checks the grades are identical."""
    rubric = effective_rubric(rubric, scenario)
    dim_groups = {did: rubric.dimension_principles(did) for did in rubric.dimensions}
    principle_groups = {pid: (pid,) for pid in rubric.principles}
    weights = principle_weights(rubric)
    session = replay(scenario)
    session.start()
    scored_total = stakes_total = 0
    # per dimension / principle: sum of e x weight, sum of weight, decisions at stake
    sums: dict[str, list[Any]] = {
        key: [Fraction(0), 0, 0] for key in [*(f"d:{d}" for d in dim_groups), *(f"p:{p}" for p in principle_groups)]
    }
    reviews: list[DecisionReview] = []
    hits: list[CriticalHit] = []
    for decision in decisions:
        if not session.waiting:
            raise GradeError(f"decision {decision.sequence} comes after the scenario stopped")
        judged = _review(rubric, weights, session.scenario.scenes[session.scene], session.scene, session.offered(),
                         decision)
        review, options = judged.review, judged.options
        scored_total += review.scored
        stakes_total += review.stakes
        if review.stakes:
            e = Fraction(review.scored, review.stakes)
            for prefix, groups in (("d:", dim_groups), ("p:", principle_groups)):
                for gid, weight in stake_weights(options, groups).items():
                    if weight:
                        entry = sums[prefix + gid]
                        entry[0] += e * weight
                        entry[1] += weight
                        entry[2] += 1
        chosen = options[judged.index]
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
        reviews.append(review)
        try:
            session.apply(Decision(decision.sequence, session.scene, decision.choice))
        except Exception as exc:  # SessionError: the log does not fit this scenario
            raise GradeError(str(exc)) from None

    def line(key: str, gid: str, name: str, **extra: Any) -> tuple[ScoreLine, Fraction | None]:
        total, weight, count = sums[key]
        ratio = _clamp01(total / weight) if weight else None
        return ScoreLine(gid, name, None if ratio is None else _pct(ratio), count, weight, **extra), ratio

    principle_lines = [
        line(f"p:{pid}", pid, p.name, dimension=p.dimension)[0] for pid, p in rubric.principles.items()
    ]
    dim_results = [line(f"d:{did}", did, d.name, weight=d.weight) for did, d in rubric.dimensions.items()]
    dimension_lines = [result for result, _ in dim_results]
    performance = _clamp01(Fraction(scored_total, stakes_total)) if stakes_total else Fraction(0)

    rule = rubric.pass_
    reasons: list[str] = []
    if rule.no_critical:
        reasons += [f"critical error at decision {h.sequence}: {h.name}" for h in hits]
    if performance * 100 < rule.score:
        reasons.append(f"overall score {_below(performance, rule.score)} is below the pass mark of {rule.score}")
    for dim_line, ratio in dim_results:
        if ratio is not None and ratio * 100 < rule.dimension_min:
            reasons.append(
                f"{dim_line.name} scored {_below(ratio, rule.dimension_min)}, below the minimum of {rule.dimension_min}"
            )
    ending = session.ending
    if ending is None:
        reasons.append("the scenario did not reach an ending")
    elif ending.rating not in rule.ratings:
        reasons.append(f"the ending was rated {ending.rating}; passing needs {' or '.join(rule.ratings)}")
    if not stakes_total:
        reasons.append("nothing was at stake on this path (every decision offered options of equal value)")
    passed = not reasons
    overall = reported(performance, passed, rule.score)

    return Grade(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        scenario_sha256=scenario.sha256,
        rubric_id=rubric.id,
        rubric_sha256=rubric.sha256,
        overall=_pct(overall),
        performance=_pct(performance),
        passed=passed,
        proficient=passed and overall * 100 >= PROFICIENT,
        reasons=reasons,
        pass_score=rule.score,
        dimension_min=rule.dimension_min,
        scored=scored_total,
        at_stake=stakes_total,
        dimensions=dimension_lines,
        principles=principle_lines,
        critical_errors=hits,
        ending=EndingInfo(ending.scene, ending.rating, ending.outcome, ending.debrief) if ending else None,
        decisions=reviews,
        exact_overall=overall,
        exact_performance=performance,
    )
