"""The console's view of the class (simulator.console.live, no textual): what a poll shows as
trainees play, finish and as their decisions arrive; the kept session agrees with a replay."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from cohort_factory import graded_library
from hypothesis import given, settings
from hypothesis import strategies as st
from records_factory import FAILED_SCRIPT, SAMPLE_BEST, play

from simulator.console.live import ClassWatch, advance
from simulator.engine import Session
from simulator.records import open_store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def replay(scenario, rows) -> Session:
    """The reference: a new session of ``scenario`` after every recorded decision, as far as
    they fit (what the console's kept, stepped session must agree with)."""
    session = Session(scenario)
    session.start()
    advance(session, rows)
    return session


def test_a_poll_follows_decisions_and_the_end_of_an_attempt(records_target):
    store = records_target.open()
    running = play(store, "cy", [], started_at="2026-03-01T11:00:00.000Z", finish=False)
    watch = ClassWatch(store, since="2026-03-01T00:00:00.000Z")
    [row] = watch.poll(NOW)
    assert (row.decisions, row.scene, row.status, row.critical) == (0, "arrival", "in_progress", 0)
    # the trainee's first decision ends the run (a critical error), in one go between two polls
    store.record_decision(running.attempt_id, 1, "arrival", "order-down", meters_after={}, flags_after={},
                          made_at="2026-03-01T11:01:00.000Z")
    from scoring.catalog import load_graded
    from scoring.grading import grade
    from simulator.recorder import stored_decisions

    graded = load_graded("overpass-railing")
    store.finish_attempt(running.attempt_id, grade(graded.scenario, graded.rubric,
                                                   stored_decisions(store, running.attempt_id)))
    [row] = watch.poll(NOW)
    assert (row.decisions, row.status, row.passed, row.critical) == (1, "completed", False, 1)
    assert row.scene != "arrival"
    store.close()


def test_each_trainee_shows_their_newest_attempt_in_the_window_and_cohort(records_target):
    store = records_target.open()
    play(store, "ana", FAILED_SCRIPT, started_at="2026-02-27T09:00:00.000Z", cohort="a")  # before the window
    play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z", cohort="a")
    play(store, "ben", SAMPLE_BEST[:3], started_at="2026-03-01T10:00:00.000Z", finish=False, cohort="b")
    rows = ClassWatch(store, since="2026-03-01T00:00:00.000Z").poll(NOW)
    assert [(r.trainee_id, r.status, r.overall) for r in rows] == [("ana", "completed", 100.0),
                                                                     ("ben", "in_progress", None)]
    assert [r.trainee_id for r in ClassWatch(store, cohort="b", since="2026-03-01").poll(NOW)] == ["ben"]
    store.close()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.integers(1, 4), min_size=1, max_size=6))
def test_the_kept_session_agrees_with_a_fresh_replay(tmp_path_factory, seed, steps):
    """Decisions arriving a few at a time (``steps``) leave the console where a replay of all
    of them would: the same scene, meters and critical errors."""
    db = tmp_path_factory.mktemp("live") / "r.sqlite3"
    store = open_store(db)
    graded = graded_library(("kitchen-knife",))[0]
    rng = random.Random(seed)
    watch = ClassWatch(store, since="2000-01-01")
    from simulator.recorder import begin

    recorder = begin(store, "t", graded.scenario, graded.rubric, mode="assessment", front_end="app",
                     time_pressure=False)
    session = Session(graded.scenario)
    session.subscribe(recorder)
    session.start()
    for step in steps:
        for _ in range(step):
            if not session.waiting:
                break
            offered = session.offered()
            session.choose(rng.choice(offered).id) if offered else session.expire()
        [row] = watch.poll()
        fresh = replay(graded.scenario, store.decisions(recorder.attempt_id))
        assert row.decisions == len(session.decisions)
        assert (row.scene, [m.value for m in row.meters]) == (fresh.scene, [
            fresh.meters[k] for k, m in graded.scenario.meters.items() if m.show])
        assert row.scene == session.scene
    store.close()


# ---- the incremental poll shows what a full read shows ------------------------------------------

SCRIPTED_NOTE = "scripted runs (crisis-sim test, --choose, --policy) are left out unless asked"


def full_read(store, *, cohort=None, since="2000-01-01", include_scripted=False, loader=None):
    """What the console must show, read the slow way: every attempt in the window (``attempts``,
    the same filters as ``results``), each trainee's newest, every decision read and replayed
    from the start (the console's poll before it was incremental)."""
    from simulator.console.live import TraineeLive, critical_of, meters_of
    from simulator.records import parse_time

    newest = {}
    for a in store.attempts(cohort=cohort, since=since, include_scripted=include_scripted):
        newest[a.trainee_id] = a  # oldest first: the last one wins
    shown = sorted(newest.values(), key=lambda a: a.trainee_id)
    rows = store.decisions_for([a.id for a in shown])
    flags = store.flags_for([a.id for a in shown])
    out = []
    for a in shown:
        log = rows[a.id]
        scenario = loader(a) if loader else None
        if scenario is not None:
            session = replay(scenario, log)
            scene, meters = session.scene, meters_of(scenario, session.meters)
            critical = sum(critical_of(scenario, r) is not None for r in log)
        else:
            from simulator.console.live import MeterNow

            last = log[-1] if log else None
            scene = a.ending_scene or (f"after {last.scene}" if last else "start")
            meters = tuple(MeterNow(k, v, 0, 10, None) for k, v in (last.meters_after if last else {}).items())
            critical = len((a.grade or {}).get("critical_errors", [])) if a.status == "completed" else 0
        last_at = log[-1].made_at if log else a.started_at
        out.append(TraineeLive(
            attempt_id=a.id, trainee_id=a.trainee_id, name=a.trainee_name or a.trainee_id, cohort=a.cohort,
            scenario_id=a.scenario_id, scene=scene, decisions=len(log),
            since=parse_time(last_at if a.status == "in_progress" or not a.ended_at else a.ended_at),
            meters=meters, critical=critical, status=a.status, passed=a.passed, overall=a.overall,
            flags=len(flags[a.id])))
    return out


class Class:
    """Trainees playing kitchen-knife into ``store`` through the real recorder, driven by
    numbers: start (app or scripted, two cohorts), decide, finish, abandon, void, resume (a new
    process picks the attempt up), flag and unflag, a decision that does not fit the scenario
    (written by hand), and decisions appended after it."""

    TRAINEES = ("ana", "ben", "cy")

    def __init__(self, store):
        self.store = store
        self.graded = graded_library(("kitchen-knife",))[0]
        self.playing = {}  # attempt id -> (session, recorder), while the recorder can write
        self.broken = set()  # attempts holding a decision that does not fit: appended by hand
        self.attempts = []

    def step(self, op: int, pick: int) -> None:
        from simulator.recorder import begin, resume

        store, scenario, rubric = self.store, self.graded.scenario, self.graded.rubric
        alive = [a for a in self.attempts if a in self.playing]
        target = alive[pick % len(alive)] if alive else None
        if op == 0 or not self.attempts:
            trainee = self.TRAINEES[pick % 3]
            recorder = begin(store, trainee, scenario, rubric, mode="assessment",
                             front_end="run-scripted" if pick % 5 == 4 else "app", time_pressure=False,
                             cohort=("x", "y")[pick // 3 % 2], trainee_name=f"{trainee} {pick % 2}")
            session = Session(scenario)
            session.subscribe(recorder)
            session.start()
            self.playing[recorder.attempt_id] = (session, recorder)
            self.attempts.append(recorder.attempt_id)
        elif op in (1, 2, 3) and target is not None:  # decide (most often)
            session, recorder = self.playing[target]
            if session.waiting:
                offered = session.offered()
                session.choose(offered[pick % len(offered)].id) if offered else session.expire()
            elif session.finished:
                recorder.finish(session, rubric)
                del self.playing[target]
        elif op == 4 and target is not None:
            store.abandon_attempt(target)
            del self.playing[target]
        elif op == 5:
            victim = self.attempts[pick % len(self.attempts)]
            store.void_attempt(victim, "test", "instructor")
            self.playing.pop(victim, None)
        elif op == 6 and target is not None:  # the trainee's process ends; a new one resumes
            attempt = store.attempt(target)
            self.playing[target] = resume(store, attempt, scenario, rubric)
        elif op == 7:
            victim = self.attempts[pick % len(self.attempts)]
            log = store.decisions(victim)
            if log:
                sequence = log[pick % len(log)].sequence
                if pick % 3 == 0:
                    store.unflag(victim, sequence)
                else:
                    store.flag(victim, sequence, f"note {pick}")
        elif op == 8 and target is not None and self.store.attempt(target).status == "in_progress":
            # a decision that does not fit (another program's row): the console stops there
            sequence = len(store.decisions(target)) + 1
            scenes = sorted(scenario.scenes)
            store.record_decision(target, sequence, scenes[pick % len(scenes)], None, meters_after={"x": pick % 7},
                                  flags_after={})
            del self.playing[target]
            self.broken.add(target)
        elif op == 9 and self.broken:
            victim = sorted(self.broken)[pick % len(self.broken)]
            if store.attempt(victim).status == "in_progress":
                sequence = len(store.decisions(victim)) + 1
                scene = sorted(scenario.scenes)[pick % len(scenario.scenes)]
                store.record_decision(victim, sequence, scene, None, meters_after={}, flags_after={})


OPS = st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10_000)), min_size=1, max_size=40)


@settings(max_examples=30, deadline=None)
@given(OPS, st.sampled_from([None, "x"]), st.booleans(), st.booleans())
def test_the_incremental_poll_shows_what_a_full_read_shows(tmp_path_factory, ops, cohort, scripted, loadable):
    """Random interleavings of trainees' writes and polls (op 10): every poll of one long-lived
    watch equals a full read and replay of the store, for attempts that start, finish, are
    abandoned, voided or resumed, flags, decisions that do not fit, with the scenario at hand or
    not (the console then shows what the records say)."""
    store = open_store(tmp_path_factory.mktemp("live") / "r.sqlite3")
    room = Class(store)
    loader = (lambda a: room.graded.scenario) if loadable else (lambda a: None)
    watch = ClassWatch(store, cohort=cohort, since="2000-01-01", include_scripted=scripted, loader=loader)
    for op, pick in [*ops, (10, 0)]:
        if op == 10:
            assert watch.poll() == full_read(store, cohort=cohort, include_scripted=scripted, loader=loader)
            # the followed trainee's transcript, grown poll by poll, reads as one built at once
            if room.attempts:
                followed = room.attempts[pick % len(room.attempts)] if pick % 2 else room.attempts[0]
                assert watch.transcript(followed) == ClassWatch(store, loader=loader).transcript(followed)
        else:
            room.step(op, pick)
    store.close()


def test_incremental_polls_agree_with_a_full_read_on_both_stores(records_target):
    """The same check on SQLite and PostgreSQL (each store's own queries), over a fixed random
    interleaving long enough to pass through every kind of write."""
    store = records_target.open()
    room = Class(store)
    loader = lambda a: room.graded.scenario  # noqa: E731
    watch = ClassWatch(store, since="2000-01-01", loader=loader)
    everyone = ClassWatch(store, since="2000-01-01", include_scripted=True, loader=loader)
    rng = random.Random(18)
    for n in range(160):
        room.step(rng.choice((0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9)) if n > 3 else 0, rng.randrange(10_000))
        if n % 4 == 3:
            assert watch.poll() == full_read(store, loader=loader)
            assert everyone.poll() == full_read(store, include_scripted=True, loader=loader)
            assert watch.transcript(room.attempts[0]) == ClassWatch(store, loader=loader).transcript(room.attempts[0])
    assert {r.trainee_id for r in everyone.poll()} == set(Class.TRAINEES)
    store.close()


def test_the_newest_attempt_is_the_one_attempts_lists_last(records_target):
    """``newest_attempts`` picks what the last-wins walk over ``attempts`` picks, on each store:
    a tie on the start time goes to the higher id, a voided attempt gives way to the one before,
    a scripted run is left out unless asked, and the cohort filter applies before "newest"."""
    store = records_target.open()
    same = "2026-03-01T10:00:00.000Z"
    for trainee, cohort, front_end in (("ana", "a", "app"), ("ana", "b", "app"), ("ana", "a", "app"),
                                       ("ben", "a", "app"), ("ben", "a", "run-scripted"), ("cy", "b", "app")):
        play(store, trainee, SAMPLE_BEST[:1], started_at=same, finish=False, cohort=cohort, front_end=front_end)
    play(store, "cy", SAMPLE_BEST[:1], started_at="2026-03-01T11:00:00.000Z", finish=False, cohort="b")
    newest_cy = list(store.attempts(trainee="cy"))[-1]
    store.void_attempt(newest_cy.id, "test", "instructor")

    def walked(**filters):
        last = {}
        for a in store.attempts(since="2026-03-01", **filters):
            last[a.trainee_id] = a.id
        return [last[t] for t in sorted(last)]

    for filters in ({}, {"cohort": "a"}, {"cohort": "b"}, {"include_scripted": False}):
        found = store.newest_attempts(since="2026-03-01", **filters)
        assert [a.id for a in found] == walked(**filters), filters
    assert newest_cy.id not in {a.id for a in store.newest_attempts(since="2026-03-01")}
    store.close()
