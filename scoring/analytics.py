"""Cohort analytics: what a class's records say about its scenarios, decisions and trainees.

A pure function of checked rows (``Attempt``, with its stored grade, and ``DecisionRow``), so
``crisis-sim report``, the instructor's console and the tests compute the same numbers from
what any store already gives. No store, no UI, no textual here.

Item analysis follows Moodle's quiz statistics (docs/instructor.md explains it for instructors):

- **Sample.** Each trainee's *first* completed attempt at a scenario, graded with method 2 (the
  grade stores what each decision put at stake): a trainee who replays a scenario until it is
  easy counts once, and every number rests on trainees, not on replays. Older grades are
  counted in ``CohortReport.not_analysed`` (``crisis-sim regrade --upgrade`` brings them in).
- **A decision** is a scene of a scenario where something was at stake (``stakes > 0``), at
  its first visit in a run.
- **Facility** = the share of the runs that reached it whose choice was a best or acceptable
  option there (not a critical error, credited with the best value on offer).
- **Discrimination** = the *corrected* point-biserial correlation: Pearson's r between choosing
  well here (1/0) and the performance on the run's *other* decisions, (scored - scored here) /
  (at stake - at stake here). Corrected, because in a scenario of six decisions one decision is
  a sixth of the total it would otherwise be correlated with. Computed exactly (fractions) up
  to the final square root, so its sign is exact. None when it is undefined: everyone (or no
  one) chose well, every other-decisions score is equal, or fewer than two runs had other
  decisions at stake.
- **Too few.** A number resting on fewer than ``TOO_FEW`` trainees is shown with "too few" and
  is not judged easy, hard or negative. Otherwise a decision is flagged ``too easy``
  (facility above ``EASY``), ``too hard`` (below ``HARD``) or ``negative discrimination``
  (r below 0: stronger runs chose worse here than weaker ones).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from simulator.records.rows import Attempt, DecisionRow

TOO_FEW = 10
"""Below this many trainees a number is marked "too few" (and a decision is not flagged easy,
hard or negative): with fewer, one trainee moves a rate by more than ten points."""
EASY = 0.90
"""A facility above this is flagged "too easy" (it teaches little and separates no one)."""
HARD = 0.20
"""A facility below this is flagged "too hard" (check the wording and the scoring first)."""
BINS = 10
"""Score distribution bins: 0-9.9, 10-19.9, ..., 90-100."""

TOO_FEW_FLAG = "too few"
EASY_FLAG = "too easy"
HARD_FLAG = "too hard"
NEGATIVE_FLAG = "negative discrimination"


@dataclass(frozen=True)
class OptionShare:
    """One option chosen at a decision: how many runs chose it and whether it was a good choice."""

    choice: str | None  # None: the time ran out
    text: str
    count: int
    share: float
    good: bool  # a best or acceptable option wherever it was chosen


@dataclass(frozen=True)
class DecisionStats:
    """Item analysis of one decision (a scene of a scenario)."""

    scenario_id: str
    scene: str
    reached: int  # runs (= trainees) that reached it
    good: int  # of those, runs choosing a best or acceptable option
    facility: float | None
    discrimination: float | None
    discrimination_runs: int  # runs the correlation rests on (those with other decisions at stake)
    options: tuple[OptionShare, ...]
    better: tuple[str, ...]  # the best options' texts, most often the better choice first
    flags: tuple[str, ...]

    @property
    def too_few(self) -> bool:
        return TOO_FEW_FLAG in self.flags


@dataclass(frozen=True)
class ScenarioStats:
    """Pass rate, score distribution and critical errors of one scenario."""

    scenario_id: str
    attempts: int  # every attempt in the filter, whatever its status
    completed: int
    in_progress: int
    trainees: int  # trainees with a completed attempt
    passed: int  # completed attempts that passed
    trainees_passed: int  # trainees with a passing attempt
    scores: tuple[float, ...]  # reported scores of completed attempts
    histogram: tuple[int, ...]  # BINS counts of ``scores``
    with_critical: int  # completed attempts with at least one critical error
    critical: tuple[tuple[str, str, int], ...]  # (error id, name, attempts with it), most first
    pass_mark: int | None = None  # the pass score most of its grades were made with

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.completed if self.completed else None

    @property
    def critical_rate(self) -> float | None:
        return self.with_critical / self.completed if self.completed else None

    @property
    def median(self) -> float | None:
        if not self.scores:
            return None
        ordered = sorted(self.scores)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    @property
    def too_few(self) -> bool:
        return self.trainees < TOO_FEW


@dataclass(frozen=True)
class Progress:
    """One trainee at one scenario."""

    attempts: int
    completed: int
    best: float | None
    passed: bool
    in_progress: int


@dataclass(frozen=True)
class HeatCell:
    """One trainee's mean score in one dimension (over their latest completed attempt at each
    scenario where it was at stake), and how many scenarios it rests on."""

    score: float
    scenarios: int


@dataclass(frozen=True)
class CohortReport:
    trainees: dict[str, str]  # id -> display name, sorted by id
    scenarios: tuple[ScenarioStats, ...]
    decisions: tuple[DecisionStats, ...]  # by scenario, then in order of first appearance
    dimensions: dict[str, str]  # id -> name, in rubric order
    heat: dict[tuple[str, str], HeatCell]  # (trainee, dimension)
    progress: dict[tuple[str, str], Progress]  # (trainee, scenario)
    not_analysed: int  # completed attempts left out of the item analysis (an older grading method)
    item_runs: dict[str, int] = field(default_factory=dict)  # scenario -> runs in the item analysis

    def missed(self, limit: int = 10) -> list[DecisionStats]:
        """The most-missed decisions: lowest facility first (then the most reached), those resting
        on too few trainees after the others."""
        missed = [d for d in self.decisions if d.facility is not None and d.good < d.reached]
        missed.sort(key=lambda d: (d.too_few, d.facility, -d.reached, d.scenario_id, d.scene))
        return missed[:limit]


def histogram(scores: Iterable[float], bins: int = BINS) -> tuple[int, ...]:
    """Counts of scores (0-100) in ``bins`` equal bins; 100 falls in the last."""
    counts = [0] * bins
    for score in scores:
        counts[min(bins - 1, max(0, int(score * bins // 100)))] += 1
    return tuple(counts)


def point_biserial(pairs: Sequence[tuple[bool, Fraction]]) -> float | None:
    """Pearson's r between a 0/1 variable and a score, exact up to the square root (its sign
    is exact), in [-1, 1]; None when either side does not vary or there are fewer than 2 pairs."""
    n = len(pairs)
    if n < 2:
        return None
    xs = [Fraction(int(x)) for x, _ in pairs]
    ys = [y for _, y in pairs]
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    if not vx or not vy:
        return None
    r = math.copysign(math.sqrt(float(cov * cov / (vx * vy))), float(cov)) if cov else 0.0
    return max(-1.0, min(1.0, r))


def decision_flags(reached: int, facility: float | None, discrimination: float | None) -> tuple[str, ...]:
    """What to look at in a decision (see the module docstring)."""
    if reached < TOO_FEW:
        return (TOO_FEW_FLAG,)
    flags = []
    if facility is not None and facility > EASY:
        flags.append(EASY_FLAG)
    if facility is not None and facility < HARD:
        flags.append(HARD_FLAG)
    if discrimination is not None and discrimination < 0:
        flags.append(NEGATIVE_FLAG)
    return tuple(flags)


@dataclass
class _Item:
    """What one decision gathers while runs are read."""

    reached: int = 0
    good: int = 0
    chosen: Counter[str | None] = field(default_factory=Counter)
    texts: dict[str | None, str] = field(default_factory=dict)
    bad_choices: set[str | None] = field(default_factory=set)
    better: Counter[str] = field(default_factory=Counter)
    pairs: list[tuple[bool, Fraction]] = field(default_factory=list)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _judged(grade: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The decision reviews of a method-2 grade, or None when the grade lacks what item
    analysis needs (an older grading method)."""
    if _int(grade.get("scored")) is None or _int(grade.get("at_stake")) is None:
        return None
    reviews = grade.get("decisions")
    if not isinstance(reviews, list):
        return None
    for review in reviews:
        if not isinstance(review, Mapping) or not isinstance(review.get("chosen"), Mapping):
            return None
        if any(_int(review.get(k)) is None for k in ("stakes", "scored", "credited", "best_value")):
            return None
    return reviews


def chose_well(review: Mapping[str, Any]) -> bool:
    """A best or acceptable option: not a critical error, credited with the best value on offer
    (``scoring.grading.Judgement.is_best``, read back from a stored review)."""
    return not review["chosen"].get("critical") and review["credited"] == review["best_value"]


def analyse(
    attempts: Iterable[Attempt],
    decisions: Mapping[str, Sequence[DecisionRow]],
) -> CohortReport:
    """The cohort report of ``attempts`` (any statuses, oldest first as stores list them), with
    ``decisions`` of each attempt by id (only the completed ones are needed)."""
    attempts = sorted(attempts, key=lambda a: (a.started_at, a.id))
    trainees: dict[str, str] = {}
    per_scenario: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        trainees.setdefault(a.trainee_id, a.trainee_name or a.trainee_id)
        per_scenario[a.scenario_id].append(a)

    dimensions: dict[str, str] = {}
    scenario_stats = []
    decision_stats: list[DecisionStats] = []
    progress: dict[tuple[str, str], Progress] = {}
    latest: dict[tuple[str, str], Attempt] = {}  # (trainee, scenario) -> latest completed
    not_analysed = 0
    item_runs: dict[str, int] = {}

    for scenario_id in sorted(per_scenario):
        runs = per_scenario[scenario_id]
        completed = [a for a in runs if a.status == "completed" and a.grade is not None]
        critical: Counter[str] = Counter()
        names: dict[str, str] = {}
        with_critical = 0
        for a in completed:
            grade = a.grade or {}
            for dim in grade.get("dimensions", []):
                dimensions.setdefault(dim["id"], str(dim.get("name") or dim["id"]))
            ids = {hit["id"] for hit in grade.get("critical_errors", [])}
            for hit in grade.get("critical_errors", []):
                names.setdefault(hit["id"], str(hit.get("name") or hit["id"]))
            critical.update(ids)
            with_critical += bool(ids)
            latest[(a.trainee_id, scenario_id)] = a
        scores = tuple(float(a.overall) for a in completed if a.overall is not None)
        marks = Counter(m for a in completed if (m := _int((a.grade or {}).get("pass_score"))) is not None)
        scenario_stats.append(
            ScenarioStats(
                scenario_id=scenario_id,
                attempts=len(runs),
                completed=len(completed),
                in_progress=sum(a.status == "in_progress" for a in runs),
                trainees=len({a.trainee_id for a in completed}),
                passed=sum(bool(a.passed) for a in completed),
                trainees_passed=len({a.trainee_id for a in completed if a.passed}),
                scores=scores,
                histogram=histogram(scores),
                with_critical=with_critical,
                critical=tuple((e, names[e], n) for e, n in sorted(critical.items(), key=lambda kv: (-kv[1], kv[0]))),
                pass_mark=marks.most_common(1)[0][0] if marks else None,
            )
        )
        by_trainee: dict[str, list[Attempt]] = defaultdict(list)
        for a in runs:
            by_trainee[a.trainee_id].append(a)
        for trainee, theirs in by_trainee.items():
            done = [a for a in theirs if a.status == "completed"]
            progress[(trainee, scenario_id)] = Progress(
                attempts=len(theirs),
                completed=len(done),
                best=max((a.overall for a in done if a.overall is not None), default=None),
                passed=any(bool(a.passed) for a in done),
                in_progress=sum(a.status == "in_progress" for a in theirs),
            )

        items: dict[str, _Item] = {}
        firsts: dict[str, Attempt] = {}
        for a in completed:
            firsts.setdefault(a.trainee_id, a)
        analysed = 0
        for a in firsts.values():
            grade = a.grade or {}
            reviews = _judged(grade)
            if reviews is None:
                not_analysed += 1
                continue
            analysed += 1
            facts = {d.sequence: d for d in decisions.get(a.id, ())}
            scored, at_stake = grade["scored"], grade["at_stake"]
            seen: set[str] = set()
            for review in reviews:
                scene = str(review.get("scene", ""))
                if review["stakes"] <= 0 or scene in seen:
                    continue
                seen.add(scene)
                item = items.setdefault(scene, _Item())
                fact = facts.get(review.get("sequence"))  # type: ignore[arg-type]
                choice = fact.choice if fact is not None else review["chosen"].get("id")
                well = chose_well(review)
                item.reached += 1
                item.good += well
                item.chosen[choice] += 1
                item.texts.setdefault(choice, str(review["chosen"].get("text", choice or "")))
                if not well:
                    item.bad_choices.add(choice)
                    better = [o for o in review.get("better", []) if isinstance(o, Mapping)]
                    item.better.update(str(o.get("text", "")) for o in better)
                rest = at_stake - review["stakes"]
                if rest > 0:
                    item.pairs.append((well, Fraction(scored - review["scored"], rest)))
        item_runs[scenario_id] = analysed
        for scene, item in items.items():
            facility = item.good / item.reached
            discrimination = point_biserial(item.pairs)
            options = tuple(
                OptionShare(c, item.texts[c], n, n / item.reached, c not in item.bad_choices)
                for c, n in sorted(item.chosen.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
            )
            decision_stats.append(
                DecisionStats(
                    scenario_id=scenario_id,
                    scene=scene,
                    reached=item.reached,
                    good=item.good,
                    facility=facility,
                    discrimination=discrimination,
                    discrimination_runs=len(item.pairs),
                    options=options,
                    better=tuple(t for t, _ in item.better.most_common()),
                    flags=decision_flags(item.reached, facility, discrimination),
                )
            )

    heat: dict[tuple[str, str], HeatCell] = {}
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (trainee, _scenario), a in latest.items():
        for dim in (a.grade or {}).get("dimensions", []):
            if dim.get("score") is not None:
                sums[(trainee, dim["id"])].append(float(dim["score"]))
    for key, values in sums.items():
        heat[key] = HeatCell(sum(values) / len(values), len(values))

    return CohortReport(
        trainees=dict(sorted(trainees.items())),
        scenarios=tuple(scenario_stats),
        decisions=tuple(decision_stats),
        dimensions=dimensions,
        heat=heat,
        progress=progress,
        not_analysed=not_analysed,
        item_runs=item_runs,
    )
