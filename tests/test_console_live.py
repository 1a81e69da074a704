"""The console's view of the class (simulator.console.live, no textual): what a poll shows as
trainees play, finish and as their decisions arrive; the kept session agrees with a replay."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from cohort_factory import graded_library
from hypothesis import given, settings
from hypothesis import strategies as st
from records_factory import FAILED_SCRIPT, SAMPLE_BEST, play

from simulator.console.live import ClassWatch, replay
from simulator.engine import Session
from simulator.records import open_store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


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
