"""Merging sites and voiding attempts (issue 17 item 3): ``crisis-sim import`` loads JSON Lines
exports into any store (SQLite or PostgreSQL: every test runs against both), verifying FILE.sig,
idempotent on attempt id and decision sequence, never overwriting a conflicting attempt, one line
for each bad line, each attempt whole or not at all; ``crisis-sim void`` keeps an attempt but
takes it out of results, exports, progress and resume."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run_cli
from hypothesis import given
from hypothesis import strategies as st
from records_factory import FAILED_SCRIPT, play
from scenario_factory import SAMPLE_BEST

from simulator.export.signing import SIGNING_KEY_ENV
from simulator.records import StoreError, merge, open_store
from simulator.records.rows import Attempt, DecisionRow

KEY = "k" * 40


def ok(*argv: str) -> str:
    code, out, err = run_cli(list(argv))
    assert code == 0, (argv, out, err)
    assert "Traceback" not in out + err
    return out


def failing(*argv: str, code: int = 1) -> tuple[str, list[str]]:
    """Run a command that must fail: its stdout and its error lines (each one line, ours)."""
    rc, out, err = run_cli(list(argv))
    assert rc == code, (argv, out, err)
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("crisis-sim: error: ") for line in lines), err
    assert "Traceback" not in out + err
    return out, lines


def site(folder: Path, name: str, plays: list[tuple[str, list[str | None], str, bool]]) -> Path:
    """A site's own SQLite records: each (trainee, script, start, finish) played the way the
    runner records it."""
    db = folder / f"{name}.sqlite3"
    with open_store(db) as store:
        for trainee, script, started, finish in plays:
            play(store, trainee, script, started_at=started, finish=finish)
    return db


def export_jsonl(db: Any, out: Path, *more: str) -> list[str]:
    ok("export", "--format", "jsonl", "--db", str(db), "--out", str(out), *more)
    return out.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def two_sites(tmp_path) -> tuple[Path, Path]:
    north = site(tmp_path, "north", [
        ("ana", SAMPLE_BEST, "2026-03-01T09:00:00.000Z", True),
        ("ben", FAILED_SCRIPT, "2026-03-01T10:00:00.000Z", True),
        ("cy", SAMPLE_BEST[:3], "2026-03-01T11:00:00.000Z", False),
    ])
    south = site(tmp_path, "south", [
        ("dee", SAMPLE_BEST, "2026-03-02T09:00:00.000Z", True),
        ("ana", ["order-down"], "2026-03-02T10:00:00.000Z", True),  # the same trainee at another site
    ])
    with open_store(south) as store:
        abandoned = play(store, "eve", SAMPLE_BEST[:1], started_at="2026-03-02T11:00:00.000Z", finish=False)
        store.abandon_attempt(abandoned.attempt_id)
    return north, south


def test_two_sites_imported_into_one_store_show_every_attempt_once(records_target, two_sites, tmp_path, monkeypatch):
    """The Done-when case: two SQLite sites exported (one signed), imported into one store (the
    tests' PostgreSQL cluster, and a SQLite file), then ``results`` and ``export`` show every
    attempt once, exactly as each site recorded it; importing again changes nothing and says so."""
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    north, south = two_sites
    north_lines = export_jsonl(north, tmp_path / "north.jsonl", "--sign")
    south_lines = export_jsonl(south, tmp_path / "south.jsonl")
    assert len(north_lines) == 3 and len(south_lines) == 3

    out = ok("import", str(tmp_path / "north.jsonl"), str(tmp_path / "south.jsonl"))
    assert "north.jsonl: 3 attempt(s) (signed, key " in out
    assert "south.jsonl: 3 attempt(s) (not signed): 3 added, 0 updated, 0 already there, 0 conflicting" in out
    assert "in all: 6 added" in out

    listed = [json.loads(line) for line in ok("results", "--json").splitlines()]
    ids = [r["attempt_id"] for r in listed]
    expected = {json.loads(line)["attempt_id"] for line in north_lines + south_lines}
    assert sorted(ids) == sorted(expected) and len(ids) == 6
    merged = export_jsonl(records_target.db, tmp_path / "merged.jsonl")
    assert sorted(merged) == sorted(north_lines + south_lines)  # byte for byte what each site exported
    csv_rows = ok("export", "--format", "csv").splitlines()[1:]
    assert sorted(r.split(",")[0] for r in csv_rows) == sorted(expected)

    again = ok("import", str(tmp_path / "north.jsonl"), str(tmp_path / "south.jsonl"))
    assert "in all: 0 added, 0 updated, 6 already there, 0 conflicting" in again
    assert f"nothing new: every attempt was already in {records_target.db}" in again
    assert export_jsonl(records_target.db, tmp_path / "again.jsonl") == merged
    assert ok("check").count("6 attempt(s)") == 1


def test_an_attempt_exported_in_progress_gets_its_later_decisions_and_end(records_target, tmp_path):
    """Idempotent on (attempt id, sequence): a site exports an attempt while it is being played,
    then again once it ended; the second import adds the decisions and the grade, nothing else."""
    db = tmp_path / "site.sqlite3"
    with open_store(db) as store:
        running = play(store, "cy", SAMPLE_BEST[:3], started_at="2026-03-01T11:00:00.000Z", finish=False)
    early = export_jsonl(db, tmp_path / "early.jsonl")
    assert "1 added" in ok("import", str(tmp_path / "early.jsonl"))

    with open_store(db) as store:  # the trainee resumes at the site and finishes
        from scoring.catalog import load_graded
        from simulator.recorder import resume

        attempt = store.attempt(running.attempt_id)
        graded = load_graded(attempt.scenario_path)
        session, recorder = resume(store, attempt, graded.scenario, graded.rubric)
        while session.waiting:
            session.choose(SAMPLE_BEST[len(session.decisions)])
        recorder.finish(session, graded.rubric)
    late = export_jsonl(db, tmp_path / "late.jsonl")
    assert "0 added, 1 updated, 0 already there" in ok("import", str(tmp_path / "late.jsonl"))
    assert export_jsonl(records_target.db, tmp_path / "merged.jsonl") == late
    # the early export again: the store is further along, nothing changes
    assert "0 added, 0 updated, 1 already there" in ok("import", str(tmp_path / "early.jsonl"))
    assert export_jsonl(records_target.db, tmp_path / "merged2.jsonl") == late
    assert early != late


def _edited(line: str, edit) -> str:
    data = json.loads(line)
    edit(data)
    return json.dumps(data)


def _regrade(data: dict[str, Any], overall: float) -> None:
    data["grade"]["overall"] = data["overall"] = overall


CONFLICTS = {
    "a decision differs": (lambda d: d["decisions"][1].update(choice="order-down"),
                           "decision 2 (choice): 'order-down' in the file, 'slow-approach' in the store"),
    "another trainee": (lambda d: d.update(trainee_id="zed"), "trainee id: 'zed' in the file, 'ana' in the store"),
    "another scenario file": (lambda d: d.update(scenario_sha256="0" * 64), "scenario sha256: '0000"),
    "another grade": (lambda d: _regrade(d, 99.0), "overall: 99.0 in the file, 100.0 in the store"),
    "a decision more after the end": (
        lambda d: d["decisions"].append({**d["decisions"][-1], "sequence": len(d["decisions"]) + 1}),
        "the number of decisions: 9 in the file, 8 in the store"),
    "a different time": (lambda d: d["decisions"][0].update(made_at="2026-03-01T09:01:08.000Z"),
                         "decision 1 (made at)"),
}


@pytest.mark.parametrize("case", sorted(CONFLICTS))
def test_a_conflicting_duplicate_is_reported_and_never_overwritten(records_target, tmp_path, case):
    edit, why = CONFLICTS[case]
    db = site(tmp_path, "north", [("ana", SAMPLE_BEST, "2026-03-01T09:00:00.000Z", True)])
    [line] = export_jsonl(db, tmp_path / "north.jsonl")
    ok("import", str(tmp_path / "north.jsonl"))
    before = export_jsonl(records_target.db, tmp_path / "before.jsonl")
    other = tmp_path / "other.jsonl"
    other.write_text(_edited(line, edit) + "\n", encoding="utf-8")
    out, [error] = failing("import", str(other))
    attempt_id = json.loads(line)["attempt_id"]
    assert error.startswith(f"crisis-sim: error: {other}:1: attempt {attempt_id[:8]} (")
    assert why in error and "the stored one was kept" in error
    assert "0 added, 0 updated, 0 already there, 1 conflicting" in out
    assert export_jsonl(records_target.db, tmp_path / "after.jsonl") == before


def _line_cases(line: str) -> dict[str, tuple[str, str]]:
    """Bad lines: (the line, what its one error must say)."""
    data = json.loads(line)

    def edited(edit) -> str:
        return _edited(line, edit)

    return {
        "not JSON": ("attempt_id,trainee_id,trainee_name", "it is not a JSON object"),
        "cut short": (line[: len(line) // 2], "it is not a JSON object"),
        "a JSON list": ("[1, 2]", "it is not a JSON object"),
        "a newer format": (edited(lambda d: d.update(format="crisis-sim.attempt/2")),
                           "its format is \"crisis-sim.attempt/2\", not crisis-sim.attempt/1; upgrade crisis-sim"),
        "an unknown key": (edited(lambda d: d.update(headset="vr")),
                           "it holds 'headset', which is not part of crisis-sim.attempt/1"),
        "an escape in the trainee id": (edited(lambda d: d.update(trainee_id="ana\x1b[2J")),
                                        "trainee_id: not a trainee id"),
        "a bidi override in the name": (edited(lambda d: d.update(trainee_name="Ana\u202eevil")),
                                        "trainee_name: the display name holds U+202E"),
        "markup as a scene": (edited(lambda d: d["decisions"][0].update(scene="[@click=app.quit]x[/]")),
                              "decisions.0.scene: String should match pattern"),
        "a gap in the decisions": (edited(lambda d: d["decisions"].pop(1)),
                                   "decision 2 is numbered 3 (decisions go 1, 2, 3, ...)"),
        "a timeout with a choice": (edited(lambda d: d["decisions"][0].update(kind="timeout")),
                                    "decision 1 is a timeout with choice \"ask-dispatch\""),
        "a score its grade does not give": (edited(lambda d: d.update(overall=12.5)),
                                            "overall is 12.5, but its grade says 100.0"),
        "a performance its grade does not give": (edited(lambda d: d.update(performance=1.0)),
                                                  "performance is 1.0, but its grade says"),
        "a grade that is not one": (edited(lambda d: d.update(grade={"overall": "high"})),
                                    "grade is not a grade (overall:"),
        "completed without an end": (edited(lambda d: d.update(ended_at=None)),
                                     "ended_at is empty for an attempt completed"),
        "not a time": (edited(lambda d: d.update(started_at="yesterday")), "started_at: holds 'yesterday'"),
        "an attempt id that is not one": (edited(lambda d: d.update(attempt_id="../../etc")),
                                          "attempt_id: not an attempt id"),
        "a score out of range": (edited(lambda d: (d.update(overall=250.0), d["grade"].update(overall=250.0))),
                                 "overall: holds 250.0, not a score from 0 to 100"),
        "too deep": ("[" * 100_000 + "]" * 100_000, "it is not a JSON object"),
        "a sequence past the limit": (edited(lambda d: d["decisions"][0].update(sequence=10**9)),
                                      "decisions.0.sequence"),
        "meters that are not numbers": (edited(lambda d: d["decisions"][0].update(meters_after={"agitation": "x"})),
                                        "decisions.0.meters_after.agitation"),
        "a void without a reason": (edited(lambda d: d.update(void={"at": data["started_at"], "by": "x"})),
                                    "void.reason: Field required"),
    }


def test_every_bad_line_is_one_line_naming_file_and_line_and_the_rest_is_imported(records_target, tmp_path):
    db = site(tmp_path, "north", [("ana", SAMPLE_BEST, "2026-03-01T09:00:00.000Z", True),
                                  ("ben", FAILED_SCRIPT, "2026-03-01T10:00:00.000Z", True)])
    good, second = export_jsonl(db, tmp_path / "north.jsonl")
    cases = _line_cases(good)
    bad_file = tmp_path / "mixed.jsonl"
    lines = [cases[name][0] for name in sorted(cases)]
    bad_file.write_text("\n".join([*lines, "", second]) + "\n", encoding="utf-8")
    from simulator.export.importing import SHOWN_BAD_LINES

    out, errors = failing("import", str(bad_file))
    assert len(errors) == SHOWN_BAD_LINES + 1
    assert errors[-1] == f"crisis-sim: error: {bad_file}: {len(cases) - SHOWN_BAD_LINES} more bad line(s) not shown"
    assert f"1 added, 0 updated, 0 already there, 0 conflicting, {len(cases)} bad line(s) skipped" in out
    for number, name in enumerate(sorted(cases), 1):  # each case alone: its own one line
        one = tmp_path / f"case{number}.jsonl"
        one.write_text(cases[name][0] + "\n", encoding="utf-8")
        _, [error] = failing("import", str(one))
        assert error.startswith(f"crisis-sim: error: {one}:1: "), (name, error)
        assert cases[name][1] in error, (name, error)
        assert "\x1b" not in error and "\u202e" not in error
        assert len(error) < 400, (name, error)
    [stored] = [json.loads(x) for x in ok("results", "--json").splitlines()]
    assert stored["trainee_id"] == "ben"  # only the good line of the mixed file


def test_a_file_that_is_not_there_or_not_a_file_is_one_line(records_target, tmp_path):
    _, [error] = failing("import", str(tmp_path / "missing.jsonl"))
    assert error == f"crisis-sim: error: no file at {tmp_path / 'missing.jsonl'}"
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    _, [error] = failing("import", str(fifo))
    assert "it is a named pipe (FIFO), not a regular file" in error
    _, [error] = failing("import", str(tmp_path))
    assert "it is a folder" in error


def test_each_attempt_is_stored_whole_or_not_at_all(records_target, tmp_path):
    """A failure while an attempt's decisions are being written (the store refusing the
    fifth decision) leaves nothing of that attempt, and importing again stores it whole."""
    db = site(tmp_path, "north", [("ana", SAMPLE_BEST, "2026-03-01T09:00:00.000Z", True)])
    [line] = export_jsonl(db, tmp_path / "north.jsonl")
    from simulator.export.importing import parse_line

    parsed = parse_line(line.encode(), 1, "north.jsonl")
    with records_target.open() as store:
        real = store.transact

        def failing_transact(work):
            def wrapped(run, fetch):
                def run_then_fail(sql, params=()):
                    if sql.startswith("INSERT INTO decisions") and params[1] == 5:
                        raise StoreError("the disk is full (a test)")
                    return run(sql, params)

                return work(run_then_fail, fetch)

            return real(wrapped)

        store.transact = failing_transact
        with pytest.raises(StoreError, match="a test"):
            store.import_attempt(parsed.attempt, parsed.decisions)
        store.transact = real
        assert list(store.attempts(include_void=True)) == []
        assert store.decisions(parsed.attempt.id) == []
        assert store.import_attempt(parsed.attempt, parsed.decisions).outcome == merge.ADD
        assert len(store.decisions(parsed.attempt.id)) == len(SAMPLE_BEST)


# ---- signatures ----


@pytest.fixture
def signed(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    db = site(tmp_path, "north", [("ana", SAMPLE_BEST, "2026-03-01T09:00:00.000Z", True)])
    out = tmp_path / "north.jsonl"
    export_jsonl(db, out, "--sign")
    return out


def test_a_signed_export_is_verified_and_an_edited_one_refused_whole(records_target, signed, monkeypatch):
    text = signed.read_text(encoding="utf-8")
    signed.write_text(text.replace('"trainee_id":"ana"', '"trainee_id":"bob"'), encoding="utf-8")
    _, [error] = failing("import", str(signed))
    assert "NOT verified: it or its signature was changed after signing" in error
    assert "nothing of it was imported" in error
    signed.write_text(text, encoding="utf-8")
    monkeypatch.setenv(SIGNING_KEY_ENV, "z" * 40)
    _, [error] = failing("import", str(signed))
    assert "signed with another key" in error
    monkeypatch.delenv(SIGNING_KEY_ENV)
    _, [error] = failing("import", str(signed))  # a signature is there: never imported unchecked
    assert "no signing key" in error and f"nothing of {signed} was imported" in error
    assert ok("results") == "no attempts recorded yet\n"
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    assert "1 added" in ok("import", "--require-signed", str(signed))


def test_require_signed_refuses_an_unsigned_file(records_target, signed):
    Path(f"{signed}.sig").unlink()
    _, [error] = failing("import", "--require-signed", str(signed))
    assert error == (f"crisis-sim: error: {signed}: not signed (no {signed}.sig), and --require-signed takes signed "
                     "exports only; nothing of it was imported: ask for an export made with 'crisis-sim export "
                     "--format jsonl --sign'")
    assert "(not signed): 1 added" in ok("import", str(signed))


def test_the_bytes_imported_are_the_bytes_verified(tmp_path, signed):
    """The file is read once, into a private copy, while its signature is checked: rewriting it
    after the check cannot slip anything in."""
    from simulator.export.importing import Line, lines, open_export
    from simulator.export.signing import load_key

    with open_export(signed, key=lambda: load_key(None), require_signed=True) as (stream, checked):
        assert checked.startswith("signed, key ")
        signed.write_text(signed.read_text().replace('"trainee_id":"ana"', '"trainee_id":"bob"'))
        [line] = list(lines(stream, str(signed)))
    assert isinstance(line, Line) and line.attempt.trainee_id == "ana"


# ---- void ----


def test_a_voided_attempt_is_kept_but_left_out_unless_asked(records_target, two_sites, tmp_path):
    north, _ = two_sites
    export_jsonl(north, tmp_path / "north.jsonl")
    ok("import", str(tmp_path / "north.jsonl"))
    rows = [json.loads(x) for x in ok("results", "--json").splitlines()]
    ben = next(r for r in rows if r["trainee_id"] == "ben")

    out = ok("void", ben["attempt_id"][:8], "--reason", "machine froze; re-run agreed", "--by", "Sgt. Ortiz")
    assert out.startswith(f"voided attempt {ben['attempt_id'][:8]} (ben, overpass-railing, started 2026-03-01T10:00Z)")
    assert [r["trainee_id"] for r in (json.loads(x) for x in ok("results", "--json").splitlines())] == ["ana", "cy"]
    assert "ben" not in ok("results")
    shown = ok("results", "--include-void")
    assert "completed VOID" in shown.splitlines()[2]
    voided = [json.loads(x) for x in ok("results", "--json", "--include-void").splitlines()][1]
    assert voided["void"]["by"] == "Sgt. Ortiz" and voided["void"]["reason"] == "machine froze; re-run agreed"

    for fmt in ("csv", "jsonl", "xapi"):
        assert ben["attempt_id"] not in ok("export", "--format", fmt)
        assert ben["attempt_id"] in ok("export", "--format", fmt, "--include-void")
    [jsonl] = [json.loads(x) for x in ok("export", "--format", "jsonl", "--include-void").splitlines()
               if ben["attempt_id"] in x]
    assert jsonl["void"] == {"at": voided["void"]["at"], "by": "Sgt. Ortiz", "reason": "machine froze; re-run agreed"}
    import csv
    import io

    rows_csv = list(csv.DictReader(io.StringIO(ok("export", "--format", "csv", "--include-void"))))
    marked = {r["attempt_id"]: (r["voided_at"], r["voided_by"], r["void_reason"]) for r in rows_csv}
    assert marked[ben["attempt_id"]] == (voided["void"]["at"], "Sgt. Ortiz", "machine froze; re-run agreed")
    assert {v for k, v in marked.items() if k != ben["attempt_id"]} == {("", "", "")}
    with records_target.open() as store:
        assert store.progress("ben") == {}
        assert ok("check").count("3 attempt(s)") == 1

    again = ok("void", ben["attempt_id"], "--reason", "twice")
    assert "was already void since" in again and "machine froze" in again and "nothing changed" in again


def test_a_voided_attempt_cannot_be_resumed(records_target, two_sites, tmp_path):
    north, _ = two_sites
    with open_store(north) as store:
        cy = next(a for a in store.attempts() if a.trainee_id == "cy")
    ok("void", "--db", str(north), cy.id, "--reason", "wrong trainee signed in")
    with open_store(north) as store:
        voided_on = store.attempt(cy.id).voided_at[:10]
    _, [error] = failing("resume", "--db", str(north), cy.id)
    assert error == (f"crisis-sim: error: attempt {cy.id[:8]} was voided on {voided_on} by {_login()} (wrong "
                     "trainee signed in); start a fresh attempt with 'crisis-sim run overpass-railing'")
    with open_store(north) as store:
        assert list(store.attempts(trainee="cy", status="in_progress")) == []  # the app offers nothing to resume
        assert len(store.decisions(cy.id)) == 3  # kept


def _login() -> str:
    import getpass

    return getpass.getuser()


def test_void_travels_with_an_export_and_a_stored_void_is_kept(records_target, two_sites, tmp_path):
    north, _ = two_sites
    export_jsonl(north, tmp_path / "plain.jsonl")
    ok("import", str(tmp_path / "plain.jsonl"))
    with open_store(north) as store:
        ben = next(a for a in store.attempts() if a.trainee_id == "ben")
    ok("void", "--db", str(north), ben.id, "--reason", "test run")
    export_jsonl(north, tmp_path / "voided.jsonl", "--include-void")
    out = ok("import", str(tmp_path / "voided.jsonl"))
    assert "0 added, 1 updated, 2 already there" in out
    with records_target.open() as store:
        assert store.attempt(ben.id).void_reason == "test run"
    ok("void", ben.id[:8], "--reason", "here too")  # already void: kept as it was
    assert "3 already there" in ok("import", str(tmp_path / "plain.jsonl"))  # an unvoided copy does not unvoid
    with records_target.open() as store:
        assert store.attempt(ben.id).void_reason == "test run"


@pytest.mark.parametrize(("argv", "says"), [
    (["void", "nope-not-there", "--reason", "x"], "no attempt 'nope-not-there'"),
])
def test_void_of_an_unknown_attempt_is_one_line(records_target, argv, says):
    ok("run", "overpass-railing", "--trainee", "ana", "--policy", "first")
    _, [error] = failing(*argv)
    assert says in error


@pytest.mark.parametrize(("option", "value"), [("--reason", "   "), ("--reason", "a\x1b[2Jb"), ("--by", "x\u202ey"),
                                               ("--reason", "x" * 201)])
def test_a_void_reason_or_name_that_cannot_be_shown_is_refused(records_target, option, value):
    ok("run", "overpass-railing", "--trainee", "ana", "--policy", "first")
    [row] = [json.loads(x) for x in ok("results", "--json", "--include-scripted").splitlines()]
    args = {"--reason": "ok", "--by": "Ortiz", option: value}
    _, [error] = failing("void", row["attempt_id"], *(x for kv in args.items() for x in kv), code=2)
    assert option in error and "\x1b" not in error
    assert [json.loads(x)["void"] for x in ok("results", "--json", "--include-scripted").splitlines()] == [None]


# ---- the merge rule, over generated histories ----


def _attempt(status: str, **changes: Any) -> Attempt:
    values = dict(id="a", trainee_id="t", scenario_id="s", scenario_version="1", scenario_sha256="h",
                  scenario_path="p", rubric_id="r", rubric_sha256="g", mode="headless", seed=None, cohort=None,
                  started_at="2026-01-01T00:00:00.000Z", ended_at=None, status=status, overall=None, passed=None,
                  ending_scene=None, ending_rating=None, grade_json=None, grade_method=None)
    if status != "in_progress":
        values.update(ended_at="2026-01-01T00:10:00.000Z")
    if status == "completed":
        values.update(overall=80.0, passed=True, ending_scene="end", ending_rating="good", grade_json="{}",
                      grade_method=1)
    return Attempt(**{**values, **changes})


def _log(choices: list[str]) -> list[DecisionRow]:
    return [DecisionRow("a", n, "scene", c, f"2026-01-01T00:0{min(n, 9)}:00.000Z", n, {"m": n}, {}) for n, c in
            enumerate(choices, 1)]


def _apply(stored: tuple[Attempt, list[DecisionRow]] | None, incoming: tuple[Attempt, list[DecisionRow]]):
    """What the store holds after the plan is carried out (the way ``import_attempt`` does)."""
    from dataclasses import replace

    todo = merge.plan(stored[0] if stored else None, stored[1] if stored else [], *incoming)
    if todo.outcome in (merge.SAME, merge.CONFLICT):
        return todo, stored
    if stored is None:
        return todo, incoming
    attempt, log = stored
    if todo.end:
        attempt = replace(incoming[0], **{c: getattr(attempt, c) for c in merge.VOID})
    if todo.void:
        attempt = replace(attempt, **{c: getattr(incoming[0], c) for c in merge.VOID})
    return todo, (attempt, [*log, *todo.new_decisions])


@given(choices=st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=8),
       ending=st.sampled_from(["completed", "abandoned", "in_progress"]), data=st.data())
def test_merging_moments_of_one_attempt_in_any_order_ends_at_the_latest_and_twice_changes_nothing(choices, ending,
                                                                                                  data):
    """Exports taken at different moments of one attempt, imported in any order, any number of
    times: the store ends holding the latest moment, every import is added/updated/already
    there (never a conflict), and importing what is there changes nothing."""
    moments = [(_attempt("in_progress"), _log(choices[:k])) for k in range(len(choices) + 1)]
    moments.append((_attempt(ending), _log(choices)))
    order = data.draw(st.lists(st.sampled_from(range(len(moments))), min_size=1, max_size=6))
    held = None
    for index in order:
        todo, held = _apply(held, moments[index])
        assert todo.outcome != merge.CONFLICT
        assert _apply(held, moments[index])[0].outcome == merge.SAME  # twice: nothing to do
    assert held == moments[max(order)]


@given(choices=st.lists(st.sampled_from(["x", "y", "z"]), min_size=2, max_size=8), data=st.data())
def test_a_moment_that_disagrees_anywhere_is_a_conflict_and_changes_nothing(choices, data):
    held = (_attempt("completed"), _log(choices))
    where = data.draw(st.integers(1, len(choices)))
    altered = list(choices)
    altered[where - 1] = "other"
    prefix = data.draw(st.integers(where, len(choices)))
    incoming = (_attempt(data.draw(st.sampled_from(["in_progress", "completed"]))), _log(altered[:prefix]))
    todo, after = _apply(held, incoming)
    assert todo.outcome == merge.CONFLICT and after == held
    assert f"decision {where} (choice)" in todo.why
