"""What the instructor's console shows, read from a records store: no textual here, so it is
tested and benchmarked on its own and the screens stay thin.

``ClassWatch.poll`` reads, in one short read transaction, the attempts started in the watched
window (the ``attempts_by_started`` index) and the decisions of those still being played or
changed since the last poll, and builds one ``TraineeLive`` per trainee: their newest attempt.
Readers never block writers (SQLite WAL, PostgreSQL MVCC) and nothing is written, so the
trainees' commits are not slowed (measured: ``benchmarks/console.py``). The current scene,
meters and critical errors so far come from replaying the recorded decisions through the
scenario (the engine's own rules), once per new decision, never from a second copy of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulator.engine import Decision, Event, Session, SessionError
from simulator.model import Scenario
from simulator.records import Attempt, DecisionRow, RecordsStore, StoreError, parse_time

DEFAULT_WINDOW = timedelta(hours=12)
"""Attempts started this long before now are watched unless ``--since`` says otherwise."""


@dataclass(frozen=True)
class MeterNow:
    label: str
    value: int
    low: int
    high: int
    good: str | None  # "low", "high" or None

    @property
    def text(self) -> str:
        return f"{self.label} {self.value}/{self.high}"


@dataclass(frozen=True)
class TraineeLive:
    """One trainee's newest attempt in the window, as the class table shows it."""

    attempt_id: str
    trainee_id: str
    name: str
    cohort: str | None
    scenario_id: str
    scene: str  # the scene the trainee is in now (or ended in)
    decisions: int
    since: datetime  # when the trainee entered the scene they are in (the last decision, or the start)
    meters: tuple[MeterNow, ...]
    critical: int  # critical errors so far
    status: str  # in_progress, completed, abandoned
    passed: bool | None
    overall: float | None
    flags: int  # moments the instructor flagged

    def in_scene(self, now: datetime) -> timedelta:
        return max(timedelta(0), now - self.since)


@dataclass(frozen=True)
class TranscriptEntry:
    """A line of a trainee's transcript: narration (``sequence`` None) or a decision."""

    text: str
    sequence: int | None = None
    critical: str | None = None  # the critical error id of a decision
    flag: str | None = None  # the instructor's note on it ("" for a flag without one)
    when: str = ""  # the decision's time
    response_ms: int | None = None


@dataclass
class _Replay:
    """The replay of one attempt, kept while its decision count is the same."""

    count: int
    scene: str
    meters: tuple[MeterNow, ...]
    critical: int
    status: str = "in_progress"  # the attempt's status when replayed: a change reads it again
    session: Session | None = None  # kept, so a new decision is one more step, not a new replay


def load_played(attempt: Attempt) -> Scenario | None:
    """The scenario an attempt was played with (its stored path, else its library id), only if
    it is the same file (sha256); None when it cannot be had (the console then shows the
    recorded scene and meters only)."""
    from simulator.library import resolve
    from simulator.loader import load_scenario

    candidates: list[Path] = []
    with contextlib.suppress(OSError, ValueError):
        if attempt.scenario_path and Path(attempt.scenario_path).is_file():
            candidates.append(Path(attempt.scenario_path))
    with contextlib.suppress(Exception):
        candidates.append(resolve(attempt.scenario_id))
    for path in candidates:
        try:
            scenario = load_scenario(path).scenario
        except Exception:  # a file that no longer loads: try the next place
            continue
        if scenario is not None and scenario.sha256 == attempt.scenario_sha256:
            return scenario
    return None


def meters_of(scenario: Scenario, values: dict[str, int]) -> tuple[MeterNow, ...]:
    return tuple(
        MeterNow(m.label, values.get(mid, m.start), m.min, m.max, m.good)
        for mid, m in scenario.meters.items() if m.show
    )


def replay(scenario: Scenario, rows: Sequence[DecisionRow]) -> Session:
    """A session of ``scenario`` after the recorded decisions (as far as they fit)."""
    session = Session(scenario)
    session.start()
    advance(session, rows)
    return session


def advance(session: Session, rows: Sequence[DecisionRow]) -> None:
    """Apply recorded decisions to ``session``, stopping at the first that does not fit (the
    session then stays where it was: the table shows the last scene that fits)."""
    for row in rows:
        if not session.waiting:
            return
        try:
            session.apply(Decision(row.sequence, row.scene, row.choice))
        except SessionError:
            return


def critical_of(scenario: Scenario, row: DecisionRow) -> str | None:
    """The critical error id of a recorded decision, if its choice (or the scene's timeout) is one."""
    scene = scenario.scenes.get(row.scene)
    if scene is None:
        return None
    if row.choice is None:
        return scene.timeout.critical if scene.timeout is not None else None
    return next((c.critical for c in scene.choices if c.id == row.choice), None)


@dataclass
class ClassWatch:
    """The class, live: poll the store about once a second."""

    store: RecordsStore
    cohort: str | None = None
    since: str | None = None  # ISO 8601 UTC; None: the last DEFAULT_WINDOW
    scenarios: dict[tuple[str, str, str], Scenario | None] = field(default_factory=dict)
    replays: dict[str, _Replay] = field(default_factory=dict)
    loader: Callable[[Attempt], Scenario | None] = load_played

    def window_start(self, now: datetime) -> str:
        if self.since:
            return self.since
        return (now - DEFAULT_WINDOW).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def scenario(self, attempt: Attempt) -> Scenario | None:
        key = (attempt.scenario_path, attempt.scenario_id, attempt.scenario_sha256)
        if key not in self.scenarios:
            self.scenarios[key] = self.loader(attempt)
        return self.scenarios[key]

    def poll(self, now: datetime | None = None) -> list[TraineeLive]:
        """Every trainee's newest attempt in the window, by trainee id."""
        now = now or datetime.now(UTC)
        with self.store.snapshot():
            attempts = list(self.store.attempts(cohort=self.cohort, since=self.window_start(now)))
            newest: dict[str, Attempt] = {}
            for a in attempts:  # oldest first: the last one wins
                newest[a.trainee_id] = a
            shown = list(newest.values())
            # decisions only where they can still change or were never read
            wanted = [a.id for a in shown if a.status == "in_progress" or a.id not in self.replays
                      or self.replays[a.id].status != a.status]
            rows = self.store.decisions_for(wanted)
            flags = self.store.flags_for([a.id for a in shown])
        out = []
        for a in sorted(shown, key=lambda x: x.trainee_id):
            replayed = self._replayed(a, rows.get(a.id))
            found = rows.get(a.id)
            last_at = found[-1].made_at if found else a.started_at
            out.append(TraineeLive(
                attempt_id=a.id, trainee_id=a.trainee_id, name=a.trainee_name or a.trainee_id, cohort=a.cohort,
                scenario_id=a.scenario_id, scene=replayed.scene, decisions=replayed.count,
                since=parse_time(last_at if a.status == "in_progress" or not a.ended_at else a.ended_at),
                meters=replayed.meters, critical=replayed.critical, status=a.status, passed=a.passed,
                overall=a.overall, flags=len(flags.get(a.id, [])),
            ))
        return out

    def _replayed(self, attempt: Attempt, rows: Sequence[DecisionRow] | None) -> _Replay:
        known = self.replays.get(attempt.id)
        if rows is None or (known is not None and known.count == len(rows) and known.status == attempt.status):
            assert known is not None
            return known
        scenario = self.scenario(attempt)
        if scenario is None:  # the scenario file changed or is gone: what the records say
            last = rows[-1] if rows else None
            scene = attempt.ending_scene or (f"after {last.scene}" if last else "start")
            critical = len((attempt.grade or {}).get("critical_errors", [])) if attempt.status == "completed" else 0
            found = _Replay(len(rows), scene,
                            tuple(MeterNow(k, v, 0, 10, None) for k, v in (last.meters_after if last else {}).items()),
                            critical, attempt.status)
        elif known is not None and known.session is not None and known.count <= len(rows):
            # decisions are only ever appended: step the kept session through the new ones
            session = known.session
            fresh = rows[known.count:]
            advance(session, fresh)
            found = _Replay(len(rows), session.scene, meters_of(scenario, session.meters),
                            known.critical + sum(critical_of(scenario, r) is not None for r in fresh),
                            attempt.status, session)
        else:
            session = replay(scenario, rows)
            found = _Replay(len(rows), session.scene, meters_of(scenario, session.meters),
                            sum(critical_of(scenario, r) is not None for r in rows), attempt.status, session)
        self.replays[attempt.id] = found
        return found

    def transcript(self, attempt_id: str) -> tuple[Attempt, list[TranscriptEntry]]:
        """What the trainee has seen and done so far, in order: the runner's plain text of
        every event (the same words the headless runner prints), each decision marked with its
        critical error and the instructor's flag."""
        from simulator.engine import ChoiceMade, TimedOut
        from simulator.runner import describe

        with self.store.snapshot():
            attempt = self.store.attempt(attempt_id)
            rows = self.store.decisions_for([attempt.id])[attempt.id]
            flags = {f.sequence: f.note for f in self.store.flags_for([attempt.id])[attempt.id]}
        scenario = self.scenario(attempt)
        by_sequence = {r.sequence: r for r in rows}
        entries: list[TranscriptEntry] = []
        if scenario is None:
            for r in rows:
                entries.append(TranscriptEntry(f"> Decision {r.sequence} in {r.scene}: [{r.choice or 'time ran out'}]",
                                               r.sequence, None, flags.get(r.sequence), r.made_at, r.response_ms))
            return attempt, entries
        session: Session | None = None

        def listen(event: Event) -> None:
            assert session is not None
            text = "\n".join(describe(event, session)).strip("\n")
            sequence = event.sequence if isinstance(event, (ChoiceMade, TimedOut)) else None
            if sequence is not None:
                row = by_sequence.get(sequence)
                entries.append(TranscriptEntry(text, sequence, critical_of(scenario, row) if row else None,
                                               flags.get(sequence), row.made_at if row else "",
                                               row.response_ms if row else None))
            elif text:
                entries.append(TranscriptEntry(text))

        session = Session(scenario, [listen])
        session.start()
        for row in rows:
            try:
                session.apply(Decision(row.sequence, row.scene, row.choice))
            except SessionError:
                entries.append(TranscriptEntry(f"!! decision {row.sequence} does not fit the scenario; stopped here"))
                break
        return attempt, entries


def flag(store: RecordsStore, attempt_id: str, sequence: int, note: str) -> None:
    """Flag a decision (the console's ``f``); StoreError says why not."""
    from simulator.records.rows import note_problem

    problem = note_problem(note)
    if problem:
        raise StoreError(f"the note {problem}")
    store.flag(attempt_id, sequence, note)
