"""Difficulty from measurement: the structure behind how hard a scenario is to play well.

A scenario's ``difficulty:`` label used to be the author's guess; in practice "introductory"
scenarios ended poorly for almost every random player. ``measure`` reads the explored state
graph (``scoring.analysis.Explorer``) and reports what makes a call hard:

- **length**: decisions on the best path (more steps to get right);
- **traps**: the share of decision scenes that offer a critical error;
- **time**: scenes with a timer;
- **forgiveness**: the share of random runs (a player choosing uniformly among the choices on
  offer, never letting a timer run out) that end well or acceptably, from ``RANDOM_RUNS``
  seeded walks, so the figure is the same on every machine;
- **judgement**: the share of decision scenes that offer two or more *defensible* choices (not
  a critical error, and worth at least ``DEFENSIBLE`` of the best on offer, an ``acceptable``
  option counting as the best). It is reported, not scored: choosing between sound options is
  what a course should train at every level.

``level`` turns the first four into points (``RULE``) and a label. The bundled library's labels
follow this rule (tests/test_library.py), so "introductory" means something measurable.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scoring.analysis import Explorer

RANDOM_RUNS = 1000
RANDOM_SEED = 20261206
RANDOM_STEPS = 200_000
"""Moves all random runs together may take: a scenario whose loops keep random players going
(a hub they can return to thousands of times) is measured on the runs that finished in it."""
DEFENSIBLE = 0.75
"""A choice is defensible when it is worth at least this share of the best option on offer."""

# (what, thresholds): a measure scores 0, 1 or 2 points; each threshold passed adds one.
RULE = {
    "length": (9, 12),  # best-path decisions >= 9: 1 point, >= 12: 2
    "traps": (0.25, 0.45),  # share of decision scenes with a critical error on offer
    "time": (2,),  # timers >= 2: 1 point
    "unforgiving": (0.75, 0.92),  # share of random runs ending poorly
}
LEVELS = ((2, "introductory"), (4, "intermediate"), (99, "advanced"))
"""Points up to 2: introductory; 3-4: intermediate; 5 or more: advanced."""


@dataclass(frozen=True)
class Structure:
    decision_scenes: int
    best_path_decisions: int
    defensible_share: float
    critical_share: float
    timers: int
    random_not_poor: float  # share of random runs ending good or acceptable
    random_good: float  # share of random runs ending good
    random_runs: int
    points: dict[str, int]
    level: str
    partial: bool  # the exploration stopped at a bound: the figures cover what was explored

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _points(value: float, thresholds: tuple[float, ...]) -> int:
    return sum(value >= t for t in thresholds)


def level_of(points: int) -> str:
    return next(name for top, name in LEVELS if points <= top)


def measure(ex: Explorer, best_path_decisions: int) -> Structure:
    """The structure of an explored scenario (see the module docstring)."""
    scenario = ex.scenario
    decision_scenes: set[str] = set()
    defensible: set[str] = set()
    trapped: set[str] = set()
    for info in ex.states.values():
        if info.kind != "decision":
            continue
        decision_scenes.add(info.scene)
        safe = [e.credited for e in info.edges if not e.critical]
        best = max(safe, default=0)
        floor = DEFENSIBLE * best if best > 0 else best
        sound = [e for e in info.edges if e.choice is not None and not e.critical and e.credited >= floor]
        if len(sound) >= 2:
            defensible.add(info.scene)
        if any(e.critical for e in info.edges if e.choice is not None):
            trapped.add(info.scene)
    timers = sum(1 for sid in decision_scenes if scenario.scenes[sid].timeout is not None)
    good, not_poor, runs = _random_runs(ex)
    count = len(decision_scenes) or 1
    measures = {
        "length": best_path_decisions,
        "traps": len(trapped) / count,
        "time": timers,
        "unforgiving": 1 - not_poor,
    }
    points = {name: _points(value, RULE[name]) for name, value in measures.items()}
    return Structure(
        decision_scenes=len(decision_scenes),
        best_path_decisions=best_path_decisions,
        defensible_share=round(len(defensible) / count, 3),
        critical_share=round(len(trapped) / count, 3),
        timers=timers,
        random_not_poor=round(not_poor, 3),
        random_good=round(good, 3),
        random_runs=runs,
        points=points,
        level=level_of(sum(points.values())),
        partial=ex.bound_hit or runs < RANDOM_RUNS,
    )


def _random_runs(ex: Explorer) -> tuple[float, float, int]:
    """(share ending good, share ending good or acceptable, runs measured) of seeded random walks
    over the explored states. A walk that leaves the explored states, reaches the scenario's
    decision limit or gets stuck counts as neither; walks stop when ``RANDOM_STEPS`` moves have
    been taken in all, and the shares are then over the runs that finished."""
    if ex.start is None:
        return 0.0, 0.0, 0
    rng = random.Random(RANDOM_SEED)
    scenes = ex.scenario.scenes
    limit = ex.scenario.max_decisions
    moves_of: dict[object, list[object]] = {}
    good = fine = runs = steps = 0
    while runs < RANDOM_RUNS and steps < RANDOM_STEPS:
        key: object = ex.start
        for _step in range(limit + 1):
            info = ex.states.get(key)  # type: ignore[arg-type]
            if info is None or info.kind == "stuck":
                break
            if info.kind == "ending":
                rating = scenes[info.scene].end.rating  # type: ignore[union-attr]
                good += rating == "good"
                fine += rating != "poor"
                break
            moves = moves_of.get(key)
            if moves is None:
                moves = [e.target for e in info.edges if e.choice is not None and e.target is not None]
                moves = moves_of[key] = moves or [e.target for e in info.edges if e.target is not None]
            if not moves:
                break
            steps += 1
            if steps >= RANDOM_STEPS:
                return _shares(good, fine, runs)
            key = rng.choice(moves)
        runs += 1
    return _shares(good, fine, runs)


def _shares(good: int, fine: int, runs: int) -> tuple[float, float, int]:
    return (good / runs, fine / runs, runs) if runs else (0.0, 0.0, 0)
