"""Instructor flags: a moment of an attempt marked (``crisis-sim flag``, the console), shown in
the trainee's debrief, exported, never part of the grade; on both stores."""

from __future__ import annotations

import json

from cli_runner import run_cli
from records_factory import SAMPLE_BEST, play

FLAG_LINE = "Your instructor flagged this moment: ask her directly"


def test_a_flag_made_while_the_trainee_plays_is_in_their_debrief(records_target):
    store = records_target.open()
    running = play(store, "ana", SAMPLE_BEST[:3], started_at="2026-03-01T09:00:00.000Z", finish=False)
    store.close()
    code, out, err = run_cli(["flag", running.attempt_id[:8], "3", "--note", "ask her directly"])
    assert code == 0, err
    assert out.strip() == f"flagged decision 3 of attempt {running.attempt_id[:8]} (ana, overpass-railing): " \
                          "ask her directly"
    # the trainee resumes and finishes: the debrief at the end says it, at decision 3
    code, out, err = run_cli(["resume", running.attempt_id, "--choose", ",".join(SAMPLE_BEST[3:])])
    assert code == 0, err
    review = out[out.index("Decision by decision:"):]
    third = review[review.index("  3. "):review.index("  4. ")]
    assert FLAG_LINE in " ".join(third.split())
    assert review.count("Your instructor flagged") == 1


def test_flags_never_change_the_grade_and_are_exported(records_target, tmp_path):
    store = records_target.open()
    done = play(store, "ben", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
    before = store.attempt(done.attempt_id).grade_json
    store.close()
    assert run_cli(["flag", done.attempt_id, "2", "--note", "first note"]).code == 0
    assert run_cli(["flag", done.attempt_id, "2", "--note", "ask her directly"]).code == 0  # replaces
    assert run_cli(["flag", done.attempt_id, "5"]).code == 0  # no note
    with records_target.open() as store:
        assert store.attempt(done.attempt_id).grade_json == before
        assert [(f.sequence, f.note) for f in store.flags_for([done.attempt_id])[done.attempt_id]] == [
            (2, "ask her directly"), (5, "")]
    code, out, err = run_cli(["regrade"])
    assert code == 0 and "1 agree, 0 differ" in out, out + err
    code, out, err = run_cli(["debrief", done.attempt_id[:8]])
    assert code == 0, err
    assert FLAG_LINE in " ".join(out.split()) and "Your instructor flagged this moment." in out
    out_file = tmp_path / "a.jsonl"
    assert run_cli(["export", "--format", "jsonl", "--out", str(out_file)]).code == 0
    [line] = [json.loads(x) for x in out_file.read_text().splitlines()]
    assert [(f["sequence"], f["note"]) for f in line["instructor_flags"]] == [(2, "ask her directly"), (5, "")]
    assert run_cli(["flag", done.attempt_id, "5", "--remove"]).code == 0
    assert run_cli(["check"]).code == 0


def test_bad_flags_are_one_line(records_target):
    store = records_target.open()
    done = play(store, "cy", SAMPLE_BEST[:2], started_at="2026-03-01T09:00:00.000Z", finish=False)
    store.close()
    for argv, code, words in (
        (["flag", done.attempt_id, "7"], 1, "has no decision 7"),
        (["flag", "nope-nope", "1"], 1, "no attempt 'nope-nope'"),
        (["flag", done.attempt_id, "0"], 2, "DECISION"),
        (["flag", done.attempt_id, "1", "--note", "x\x1b]52;c;aGk=\x07"], 2, "U+001B"),
        (["flag", done.attempt_id, "1", "--note", "x" * 501], 2, "at most 500"),
        (["flag", done.attempt_id, "1", "--remove"], 1, "is not flagged"),
        (["debrief", done.attempt_id], 1, "in progress"),
    ):
        result = run_cli(argv)
        assert result.code == code and words in result.stderr, (argv, result)
        assert len(result.stderr.strip().splitlines()) == 1


def test_flags_travel_with_an_export_and_a_flag_here_is_kept(records_target, tmp_path):
    """An export with flags imports into another store (SQLite site -> either store) with them;
    importing again changes nothing, a flag the instructor set here is never overwritten, and a
    flag on a decision the line does not hold is a bad line, nothing of it stored."""
    from simulator.records import open_store

    site = tmp_path / "site.sqlite3"
    with open_store(site) as store:
        done = play(store, "dee", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
        store.flag(done.attempt_id, 2, "ask her directly")
        store.flag(done.attempt_id, 4)
    exported = tmp_path / "site.jsonl"
    assert run_cli(["export", "--format", "jsonl", "--db", str(site), "--out", str(exported)]).code == 0
    with records_target.open() as store:
        assert run_cli(["import", str(exported)]).code == 0
        assert [(f.sequence, f.note) for f in store.flags_for([done.attempt_id])[done.attempt_id]] == [
            (2, "ask her directly"), (4, "")]
        store.flag(done.attempt_id, 4, "our own note")
        assert run_cli(["import", str(exported)]).code == 0
        assert [(f.sequence, f.note) for f in store.flags_for([done.attempt_id])[done.attempt_id]] == [
            (2, "ask her directly"), (4, "our own note")]
    line = json.loads(exported.read_text())
    line["attempt_id"] = "00000000-0000-4000-8000-000000000001"
    line["instructor_flags"] = [{"sequence": 99, "note": "", "flagged_at": "2026-03-01T09:30:00.000Z"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(line) + "\n")
    result = run_cli(["import", str(bad)])
    assert result.code == 1 and f"{bad}:1:" in result.stderr and "instructor_flags" in result.stderr, result
    with records_target.open() as store:
        assert line["attempt_id"] not in {a.id for a in store.attempts()}
