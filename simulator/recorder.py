"""Recording a session into the records store as it happens.

A ``Recorder`` listens to a Session: each decision (choice or timeout) is committed to the store
the moment the session emits it, with the time the trainee took to decide. Front ends (the
headless runner and the TUI) attach one and call ``finish()`` when the session ends; nothing
about recording lives in the Session itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.engine import ChoiceMade, ChoicesOffered, Decision, Event, ReplayError, Session, Stuck, TimedOut
from simulator.model import Scenario
from simulator.records import Attempt, RecordsStore, StoreError


class ResumeRefused(Exception):
    """The attempt cannot be resumed; the message says why and what to do instead."""


@dataclass
class Recorder:
    store: RecordsStore
    attempt_id: str
    clock: Callable[[], float] = time.monotonic
    _offered_at: float | None = field(default=None, init=False)

    def __call__(self, event: Event) -> None:
        if isinstance(event, ChoicesOffered):
            self._offered_at = self.clock()
        elif isinstance(event, (ChoiceMade, TimedOut)):
            elapsed = None if self._offered_at is None else round((self.clock() - self._offered_at) * 1000)
            choice = event.choice if isinstance(event, ChoiceMade) else None
            self.store.record_decision(
                self.attempt_id,
                event.sequence,
                event.scene,
                choice,
                meters_after=event.meters_after,
                flags_after=event.flags_after,
                response_ms=elapsed,
                choice_text=event.text if isinstance(event, ChoiceMade) else None,
                said=event.said if isinstance(event, ChoiceMade) else None,
            )
            self._offered_at = None
        elif isinstance(event, Stuck) and event.reason == "decision-limit":
            # it can never go on (resuming would stop at once): say so in the records
            self.store.abandon_attempt(self.attempt_id)

    def waiting_from_now(self) -> None:
        """Start the response-time clock (after a resume, the choices are already on offer)."""
        self._offered_at = self.clock()

    def finish(self, session: Session, rubric: Any) -> Any:
        """Grade a finished session and store the grade; returns the Grade."""
        from scoring.grading import grade

        result = grade(session.scenario, rubric, session.decisions)
        self.store.finish_attempt(self.attempt_id, result)
        return result


def begin(
    store: RecordsStore,
    trainee: str,
    scenario: Scenario,
    rubric: Any,
    *,
    mode: str,
    front_end: str,
    time_pressure: bool,
    seed: int | None = None,
    cohort: str | None = None,
    trainee_name: str | None = None,
) -> Recorder:
    """Create the trainee if needed, open an attempt and return its recorder. ``front_end``
    (``app``, ``run`` or ``run-scripted``), ``mode`` (``assessment``, ``coach``) and
    ``time_pressure`` say what the attempt is, for resuming it as it was and for listings."""
    store.require_writable()
    store.ensure_trainee(trainee, trainee_name)
    attempt_id = store.start_attempt(
        trainee,
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        scenario_sha256=scenario.sha256,
        scenario_path=str(Path(scenario.path).resolve()) if scenario.path else "",
        rubric_id=rubric.id,
        rubric_sha256=rubric.sha256,
        mode=mode,
        seed=seed,
        cohort=cohort,
        front_end=front_end,
        time_pressure=time_pressure,
        scenario_title=scenario.title,
    )
    return Recorder(store, attempt_id)


def flag_notes(store: RecordsStore, attempt_id: str) -> dict[int, str]:
    """The instructor's flags on an attempt, as notes by decision number (for the debrief)."""
    return {f.sequence: f.note for f in store.flags_for([attempt_id])[attempt_id]}


def stored_decisions(store: RecordsStore, attempt_id: str) -> list[Decision]:
    return [Decision(d.sequence, d.scene, d.choice, d.said) for d in store.decisions(attempt_id)]


def check_same_content(attempt: Attempt, scenario: Scenario, rubric: Any) -> None:
    """Refuse to continue or regrade an attempt against different scenario or rubric content."""
    if scenario.sha256 != attempt.scenario_sha256:
        raise ResumeRefused(
            f"the scenario '{attempt.scenario_id}' has changed since attempt {attempt.id[:8]} started "
            f"(content hash {attempt.scenario_sha256[:12]} then, {scenario.sha256[:12]} now); "
            f"start a fresh attempt with 'crisis-sim run {attempt.scenario_id}'"
        )
    if rubric.sha256 != attempt.rubric_sha256:
        raise ResumeRefused(
            f"the rubric '{attempt.rubric_id}' has changed since attempt {attempt.id[:8]} started; "
            f"start a fresh attempt with 'crisis-sim run {attempt.scenario_id}'"
        )


def resume(store: RecordsStore, attempt: Attempt, scenario: Scenario, rubric: Any) -> tuple[Session, Recorder]:
    """Rebuild the session of an in-progress attempt from its stored decisions."""
    if attempt.void:
        raise ResumeRefused(
            f"attempt {attempt.id[:8]} was voided on {(attempt.voided_at or '')[:10]} by {attempt.voided_by} "
            f"({attempt.void_reason}); start a fresh attempt with 'crisis-sim run {attempt.scenario_id}'"
        )
    if attempt.status != "in_progress":
        raise ResumeRefused(f"attempt {attempt.id[:8]} is {attempt.status.replace('_', ' ')}; only attempts in "
                            "progress can be resumed")
    check_same_content(attempt, scenario, rubric)
    store.require_writable()  # say so now, not after the trainee's next decision could not be recorded
    try:
        session = Session.replay(scenario, stored_decisions(store, attempt.id))
    except ReplayError as exc:  # the log does not fit the scenario: never guess
        raise ResumeRefused(f"attempt {attempt.id[:8]} cannot be replayed: {exc}") from None
    recorder = Recorder(store, attempt.id)
    recorder.waiting_from_now()
    session.subscribe(recorder)
    return session, recorder


__all__ = ["Recorder", "ResumeRefused", "StoreError", "begin", "check_same_content", "resume", "stored_decisions"]
