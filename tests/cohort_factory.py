"""A class of simulated trainees playing real library scenarios into one store, each with a
skill (the chance of choosing the best option on offer, else a random one), through the real
recorder: records whose analytics look like a class's (strong and weak trainees, hard
decisions). Used by the report, console and docs-screenshot tests and the console benchmark."""

from __future__ import annotations

import random
from typing import Any

from scoring.catalog import load_graded
from scoring.grading import option_value
from simulator.engine import Session
from simulator.library import library_files
from simulator.recorder import begin

DEFAULT_SCENARIOS = ("overpass-railing", "kitchen-knife", "dementia-intruder")


def graded_library(ids: tuple[str, ...] = DEFAULT_SCENARIOS) -> list[Any]:
    found = {g.scenario.id: g for g in (load_graded(p) for p in library_files(None)) if g.ok}
    return [found[i] for i in ids]


def choose(session: Session, rubric: Any, skill: float, rng: random.Random) -> None:
    """One decision: the best-valued safe option with probability ``skill``, else any option."""
    offered = session.offered()
    if not offered:
        session.expire()
        return
    if rng.random() < skill:
        safe = [c for c in offered if not c.critical] or offered
        session.choose(max(safe, key=lambda c: (c.acceptable, option_value(c.scores, rubric))).id)
    else:
        session.choose(rng.choice(offered).id)


def play_one(store: Any, trainee: str, graded: Any, skill: float, rng: random.Random, *, cohort: str | None = None,
             name: str | None = None, stop_after: int | None = None) -> str:
    """Play one attempt; ``stop_after`` decisions leaves it in progress. Returns the attempt id."""
    recorder = begin(store, trainee, graded.scenario, graded.rubric, mode="assessment", front_end="app",
                     time_pressure=False, cohort=cohort, trainee_name=name)
    session = Session(graded.scenario)
    session.subscribe(recorder)
    session.start()
    while session.waiting and (stop_after is None or len(session.decisions) < stop_after):
        choose(session, graded.rubric, skill, rng)
    if session.finished:
        recorder.finish(session, graded.rubric)
    return recorder.attempt_id


NAMES = ("Alex Moreno", "Bea Lindqvist", "Chidi Okafor", "Dana Cohen", "Eitan Levi", "Farah Haddad", "Grace Kim",
         "Hugo Martin", "Ines Duarte", "Jonas Weber", "Kiri Walker", "Lena Novak", "Mateo Rossi", "Nia Johnson",
         "Omar Aziz", "Priya Nair", "Quinn Taylor", "Rosa Diaz", "Sami Virtanen", "Tomas Horvat", "Uma Patel",
         "Victor Chen", "Wren Adams", "Yusuf Demir")


def classroom(store: Any, trainees: int = 12, *, seed: int = 7, cohort: str | None = "2026-fall",
              scenarios: tuple[str, ...] = DEFAULT_SCENARIOS, replays: bool = True) -> dict[str, float]:
    """Every trainee plays every scenario once (weaker ones sometimes twice); returns the skills."""
    rng = random.Random(seed)
    library = graded_library(scenarios)
    skills = {}
    for n in range(trainees):
        trainee = f"t-{n + 1:03d}"
        skill = 0.35 + 0.6 * n / max(1, trainees - 1)
        skills[trainee] = skill
        for graded in library:
            play_one(store, trainee, graded, skill, rng, cohort=cohort, name=NAMES[n % len(NAMES)])
            if replays and skill < 0.6 and rng.random() < 0.5:
                play_one(store, trainee, graded, min(1.0, skill + 0.2), rng, cohort=cohort)
    return skills
