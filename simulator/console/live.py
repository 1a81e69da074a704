"""What the instructor's console shows, read from a records store: no textual here, so it is
tested and benchmarked on its own and the screens stay thin.

``ClassWatch.poll`` runs about once a second beside the trainees (who share the machine's
cores), so it reads as little as it can, in one short read transaction: each trainee's newest
attempt in the watched window (``newest_attempts``: the older ones are skipped by the trainee
index), the decisions added since the last poll (``decisions_after``: decisions are only ever
appended) and the flags; only those few new rows are decoded inside it and the replay waits until it has ended, so the
poll never pins SQLite's WAL (a reader holding it keeps checkpoints from finishing and writers'
WAL growing). Nothing is written. The current scene, meters and critical errors so far come
from the scenario's own rules: a session kept per attempt is stepped through each new decision
once, never replayed from the start and never from a second copy of the rules
(measured: ``benchmarks/console.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulator.engine import ChoiceMade, Decision, Event, Session, SessionError, TimedOut
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
class _Track:
    """What the console keeps of one shown attempt between polls: how many of its decisions it
    has read, the last one, and the session stepped through them (decisions are only ever
    appended, so each poll reads and applies only the new ones)."""

    count: int = 0
    last: DecisionRow | None = None
    critical: int = 0
    session: Session | None = None
    stuck: bool = False  # a decision did not fit: later ones are not applied (as a full replay stops there)

    @property
    def last_sequence(self) -> int:
        return self.last.sequence if self.last is not None else 0


def load_played(attempt: Attempt) -> Scenario | None:
    """The scenario an attempt was played with (its stored path, else its library id), only if
    it is the same file (sha256); None when it cannot be had (the console then shows the
    recorded scene and meters only)."""
    from simulator.library import resolve
    from simulator.loader import load_scenario

    def stored() -> Path | None:
        with contextlib.suppress(OSError, ValueError):
            if attempt.scenario_path and Path(attempt.scenario_path).is_file():
                return Path(attempt.scenario_path)
        return None

    def by_id() -> Path | None:  # the library's index: only when the stored path does not do
        with contextlib.suppress(Exception):
            return resolve(attempt.scenario_id)
        return None

    for where in (stored, by_id):
        path = where()
        if path is None:
            continue
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


def advance(session: Session, rows: Sequence[DecisionRow]) -> bool:
    """Apply recorded decisions to ``session``, stopping at the first that does not fit (the
    session then stays where it was: the table shows the last scene that fits); False when one
    did not fit (later decisions must not be applied either)."""
    for row in rows:
        if not session.waiting:
            return True
        try:
            session.apply(Decision(row.sequence, row.scene, row.choice))
        except SessionError:
            return False
    return True


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
    """The class, live: poll the store about once a second. Each poll is one short read
    transaction that reads each trainee's newest attempt and only the decisions added since the
    last poll; what it shows is what a full read and replay of every decision would show."""

    store: RecordsStore
    cohort: str | None = None
    since: str | None = None  # ISO 8601 UTC; None: the last DEFAULT_WINDOW
    include_scripted: bool = False  # scripted runs (crisis-sim test, --choose, --policy): nobody is playing them
    scenarios: dict[tuple[str, str, str], Scenario | None] = field(default_factory=dict)
    tracks: dict[str, _Track] = field(default_factory=dict)
    loader: Callable[[Attempt], Scenario | None] = load_played
    following: _Following | None = None

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
        with self.store.snapshot():  # three indexed reads; decoding only new decisions
            shown = self.store.newest_attempts(cohort=self.cohort, since=self.window_start(now),
                                               include_scripted=self.include_scripted)
            fresh = self.store.decisions_after({
                a.id: self.tracks[a.id].last_sequence if a.id in self.tracks else 0 for a in shown})
            flags = self.store.flags_for([a.id for a in shown])
        # attempts no longer shown are forgotten (read afresh should they come back)
        self.tracks = {a.id: self._track(a, fresh[a.id]) for a in shown}
        return [self._live(a, self.tracks[a.id], len(flags[a.id])) for a in shown]

    def _track(self, attempt: Attempt, rows: Sequence[DecisionRow]) -> _Track:
        """The attempt's track after its new decisions ``rows``."""
        track = self.tracks.get(attempt.id) or _Track()
        scenario = self.scenario(attempt)
        if scenario is not None:
            if track.session is None:
                track.session = Session(scenario)
                track.session.start()
            if rows and not track.stuck:
                track.stuck = not advance(track.session, rows)
            track.critical += sum(critical_of(scenario, r) is not None for r in rows)
        if rows:
            track.count += len(rows)
            track.last = rows[-1]
        return track

    def _live(self, a: Attempt, track: _Track, flags: int) -> TraineeLive:
        scenario = self.scenario(a)
        last = track.last
        if scenario is not None and track.session is not None:
            scene, meters, critical = track.session.scene, meters_of(scenario, track.session.meters), track.critical
        else:  # the scenario file changed or is gone: what the records say
            scene = a.ending_scene or (f"after {last.scene}" if last else "start")
            meters = tuple(MeterNow(k, v, 0, 10, None) for k, v in (last.meters_after if last else {}).items())
            critical = len((a.grade or {}).get("critical_errors", [])) if a.status == "completed" else 0
        last_at = last.made_at if last is not None else a.started_at
        return TraineeLive(
            attempt_id=a.id, trainee_id=a.trainee_id, name=a.trainee_name or a.trainee_id, cohort=a.cohort,
            scenario_id=a.scenario_id, scene=scene, decisions=track.count,
            since=parse_time(last_at if a.status == "in_progress" or not a.ended_at else a.ended_at),
            meters=meters, critical=critical, status=a.status, passed=a.passed, overall=a.overall, flags=flags,
        )

    def transcript(self, attempt_id: str) -> tuple[Attempt, list[TranscriptEntry]]:
        """What the trainee has seen and done so far, in order: the runner's plain text of
        every event (the same words the headless runner prints), each decision marked with its
        critical error and the instructor's flag. Called every second while a trainee is
        followed: only the decisions added since the last call are read and played on."""
        with self.store.snapshot():
            attempt = self.store.attempt(attempt_id)
            following = self.following
            if following is None or following.attempt_id != attempt.id:
                following = self.following = _Following(attempt.id)
            rows = self.store.decisions_after({attempt.id: following.last_sequence})[attempt.id]
            flags = {f.sequence: f.note for f in self.store.flags_for([attempt.id])[attempt.id]}
        following.add(self.scenario(attempt), rows)
        return attempt, [replace(e, flag=flags.get(e.sequence)) if e.sequence is not None else e
                         for e in following.entries]


@dataclass
class _Following:
    """The transcript of the trainee the console follows, grown as their decisions arrive."""

    attempt_id: str
    entries: list[TranscriptEntry] = field(default_factory=list)
    last_sequence: int = 0
    session: Session | None = None
    stopped: bool = False  # a decision did not fit the scenario: the transcript ends there
    scenario: Scenario | None = None
    batch: dict[int, DecisionRow] = field(default_factory=dict)  # the decisions being played on, by number

    def add(self, scenario: Scenario | None, rows: Sequence[DecisionRow]) -> None:
        """Play the new decisions ``rows`` on, adding what each event says."""
        if rows:
            self.last_sequence = rows[-1].sequence
        if scenario is None:
            for r in rows:
                self.entries.append(TranscriptEntry(
                    f"> Decision {r.sequence} in {r.scene}: [{r.choice or 'time ran out'}]", r.sequence, None, None,
                    r.made_at, r.response_ms))
            return
        self.scenario = scenario
        self.batch = {r.sequence: r for r in rows}
        if self.session is None:
            self.session = Session(scenario, [self._listen])
            self.session.start()
        for row in rows:
            if self.stopped:
                return
            try:
                self.session.apply(Decision(row.sequence, row.scene, row.choice))
            except SessionError:
                self.entries.append(
                    TranscriptEntry(f"!! decision {row.sequence} does not fit the scenario; stopped here"))
                self.stopped = True

    def _listen(self, event: Event) -> None:
        from simulator.runner import describe

        assert self.session is not None and self.scenario is not None
        text = "\n".join(describe(event, self.session)).strip("\n")
        sequence = event.sequence if isinstance(event, (ChoiceMade, TimedOut)) else None
        if sequence is not None:
            row = self.batch.get(sequence)
            self.entries.append(TranscriptEntry(text, sequence, critical_of(self.scenario, row) if row else None,
                                                None, row.made_at if row else "", row.response_ms if row else None))
        elif text:
            self.entries.append(TranscriptEntry(text))


def flag(store: RecordsStore, attempt_id: str, sequence: int, note: str) -> None:
    """Flag a decision (the console's ``f``); StoreError says why not."""
    from simulator.records.rows import note_problem

    problem = note_problem(note)
    if problem:
        raise StoreError(f"the note {problem}")
    store.flag(attempt_id, sequence, note)
