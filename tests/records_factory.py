"""Records for export tests, made by really playing the bundled sample and storing it the way
the runner does, plus bulk copies for the memory tests. One copy of this for every test file."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scenario_factory import SAMPLE, SAMPLE_BEST

from scoring.catalog import load_graded
from scoring.grading import grade
from simulator.engine import ChoiceMade, Session, TimedOut
from simulator.records import Store, open_store


@dataclass
class Played:
    attempt_id: str
    trainee: str
    script: list[str | None]  # what was really chosen, in order (None = the timer ran out)
    grade: dict[str, Any] | None
    started_at: str


def response_ms(sequence: int) -> int:
    """The response time stored for decision ``sequence`` (fixed, so exports can be checked)."""
    return 4000 + 250 * sequence


def play(store: Any, trainee: str, script: list[str | None], *, started_at: str, finish: bool = True,
         cohort: str | None = None, front_end: str = "run") -> Played:
    """Play the sample: ``script`` (choice ids, None = let the timer run out), then the first
    choice on offer until the end (if ``finish``); every decision recorded as it is made.
    Times are fixed (the store stamps "now"): decision n at HH:nn:07.250, the end at HH:25:12.300,
    so a finished attempt lasts exactly 25 min 12.3 s."""
    graded = load_graded(SAMPLE)
    assert graded.ok, graded.diagnostics
    scenario, rubric = graded.scenario, graded.rubric
    store.ensure_trainee(trainee)  # keeps a display name the test set before
    attempt_id = store.start_attempt(
        trainee, scenario_id=scenario.id, scenario_version=scenario.version, scenario_sha256=scenario.sha256,
        scenario_path=str(SAMPLE), rubric_id=rubric.id, rubric_sha256=rubric.sha256, mode="assessment", cohort=cohort,
        front_end=front_end, time_pressure=False, scenario_title=scenario.title,
    )
    session = Session(scenario)
    session.start()
    steps, done = list(script), []
    day, hour = started_at[:10], started_at[11:13]
    while session.waiting and (steps or finish):
        step = steps.pop(0) if steps else session.offered()[0].id
        event = (session.expire() if step is None else session.choose(step))[0]
        assert isinstance(event, (ChoiceMade, TimedOut))
        choice = event.choice if isinstance(event, ChoiceMade) else None
        done.append(choice)
        store.record_decision(
            attempt_id, event.sequence, event.scene, choice, meters_after=event.meters_after,
            flags_after=event.flags_after, response_ms=response_ms(event.sequence),
            made_at=f"{day}T{hour}:{event.sequence:02d}:07.250Z",
            choice_text=event.text if isinstance(event, ChoiceMade) else None,
        )
    result = None
    if finish:
        result = grade(scenario, rubric, session.decisions)
        store.finish_attempt(attempt_id, result)
    ended = f"{day}T{hour}:25:12.300Z" if finish else None
    store.write("UPDATE attempts SET started_at = ?, ended_at = ? WHERE id = ?", (started_at, ended, attempt_id))
    data = json.loads(json.dumps(result.as_dict(), sort_keys=True)) if result else None
    return Played(attempt_id, trainee, done, data, started_at)


FAILED_SCRIPT: list[str | None] = [None, "reflect-feeling", "ask-directly", "promise-secret"]
"""A run that fails the sample: a timeout first, then a promise of secrecy (a critical error)."""


def passed_failed_running(store: Any) -> tuple[Played, Played, Played]:
    """The set the xAPI tests describe: ana passed (cohort 2026-spring), ben failed, cy still
    playing, on three days in March 2026."""
    passed = play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z", cohort="2026-spring")
    failed = play(store, "ben", FAILED_SCRIPT, started_at="2026-03-02T10:00:00.000Z")
    running = play(store, "cy", SAMPLE_BEST[:2], started_at="2026-03-03T11:00:00.000Z", finish=False)
    return passed, failed, running


def copy_attempts(source_db: Path, db: Path, count: int, *, decisions: int | None = None,
                  grade_keys: Iterable[str] | None = None) -> None:
    """``count`` copies of the completed attempts of ``source_db`` into ``db``, in one
    transaction (bulk data for memory tests). ``decisions`` keeps only the first N decisions of
    each, and ``grade_keys`` only those parts of the stored grade, to keep big fills quick."""
    with open_store(source_db, create=False) as source:
        templates = [(a, source.decisions(a.id)[:decisions]) for a in source.attempts(status="completed")]
    keep = set(grade_keys) if grade_keys is not None else None
    with Store.open(db) as store:
        store.ensure_trainee("many", "Many")
        with store.transaction() as conn:
            for n in range(count):
                a, log = templates[n % len(templates)]
                aid = f"00000000-0000-4000-8000-{n:012d}"
                grade_json = a.grade_json if keep is None else json.dumps(
                    {k: v for k, v in (a.grade or {}).items() if k in keep})
                conn.execute(
                    "INSERT INTO attempts (id, trainee_id, scenario_id, scenario_version, scenario_sha256, "
                    "scenario_path, rubric_id, rubric_sha256, mode, started_at, ended_at, status, grade_json, overall, "
                    "passed, ending_scene, ending_rating, grade_method) "
                    "VALUES (?, 'many', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?)",
                    (aid, a.scenario_id, a.scenario_version, a.scenario_sha256, a.scenario_path, a.rubric_id,
                     a.rubric_sha256, a.mode, a.started_at, a.ended_at, grade_json, a.overall, a.passed,
                     a.ending_scene, a.ending_rating, a.grade_method),
                )
                conn.executemany(
                    "INSERT INTO decisions (attempt_id, sequence, scene, choice, made_at, response_ms, meters_after, "
                    "flags_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(aid, d.sequence, d.scene, d.choice, d.made_at, d.response_ms, json.dumps(d.meters_after),
                      json.dumps(d.flags_after)) for d in log],
                )


class NullSink(io.TextIOBase):
    """A text stream that forgets what it is given (exports measured without disk I/O)."""

    def write(self, text: str) -> int:
        return len(text)
