"""The records store: crash safety, concurrency, resume, migrations, bad files, regrade."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scenario_factory import REPO, SAMPLE, SAMPLE_BEST
from test_run_cli import cli

from simulator.records import SCHEMA_VERSION, SQLITE_MIGRATIONS, Store, StoreError, open_store

BEST = SAMPLE_BEST


def decisions_in(db: Path | str) -> list[tuple[str, int, str, str | None]]:
    """Every stored decision, attempts in the order they started, read back through the records
    interface (a SQLite file or a PostgreSQL database)."""
    with open_store(db, create=False, check="none") as store:
        attempts = list(store.attempts())
        found = store.decisions_for([a.id for a in attempts])
    return [(a.id, d.sequence, d.scene, d.choice) for a in attempts for d in found[a.id]]


class Interactive:
    """`crisis-sim run` in interactive mode, fed one answer at a time."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from simulator.cli import main; main()", "run", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            bufsize=0,
        )
        self.seen = ""

    def wait_for_prompt(self) -> None:
        deadline = time.monotonic() + 30
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            char = self.proc.stdout.read(1)
            if not char:
                raise AssertionError(f"process ended: {self.seen[-300:]}")
            self.seen += char
            if self.seen.endswith("q to quit)> "):
                return
        raise AssertionError("no prompt")

    def answer(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def test_kill_9_loses_no_decision_already_made(records_target):
    db = records_target.db
    for made in (1, 3, 5):
        run = Interactive("overpass-railing")
        for choice in BEST[:made]:
            run.wait_for_prompt()
            run.answer(choice)
        run.wait_for_prompt()  # the next prompt is printed after the decision was committed
        run.kill()
        rows = decisions_in(db)
        attempt = rows[-1][0]
        mine = [r for r in rows if r[0] == attempt]
        assert [r[3] for r in mine] == BEST[:made]
    with open_store(db) as store:
        assert {a.status for a in store.attempts()} == {"in_progress"}


def test_kill_9_at_an_arbitrary_moment_keeps_every_committed_decision(records_target):
    db = records_target.db
    run = Interactive("overpass-railing")
    answered = 0
    for choice in BEST[:4]:
        run.wait_for_prompt()
        run.answer(choice)
        answered += 1
    time.sleep(0.01 * (os.getpid() % 7))  # no synchronisation: the kill lands wherever it lands
    run.kill()
    stored = [r[3] for r in decisions_in(db)]
    # everything stored is a prefix of what was answered, and nothing answered before the
    # last prompt we saw is missing
    assert stored == BEST[: len(stored)]
    assert len(stored) >= answered - 1


def test_resume_after_a_kill_finishes_with_the_same_grade_as_a_straight_run(records_target):
    run = Interactive("overpass-railing")
    for choice in BEST[:3]:
        run.wait_for_prompt()
        run.answer(choice)
    run.wait_for_prompt()
    run.kill()
    attempt = decisions_in(records_target.db)[-1][0]
    resumed = cli("resume", attempt[:8], "--choose", ",".join(BEST[3:]), "--json")
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    straight = json.loads(cli("run", "overpass-railing", "--choose", ",".join(BEST), "--json").stdout)
    assert data["grade"]["overall"] == straight["grade"]["overall"] == 100.0
    assert [d["choice"] for d in data["decisions"]] == BEST
    with records_target.open() as store:
        record = store.attempt(attempt)
        assert record.status == "completed" and record.overall == 100.0
        assert [d.choice for d in store.decisions(attempt)] == BEST


def test_interactive_resume_shows_where_the_trainee_left_off(records_target):
    stopped = cli("run", "overpass-railing", stdin="1\nq\n")
    assert "crisis-sim resume" in stopped.stderr
    attempt = stopped.stderr.split("crisis-sim resume ")[1].split("'")[0]
    out = cli("resume", attempt, stdin="1\n1\n1\n1\n1\n1\n1\n")
    assert out.returncode == 0, out.stderr
    assert "(Resuming attempt" in out.stdout and "after 1 decision(s)" in out.stdout
    assert "Maya: Are you just going to stand there?" in out.stdout
    assert "=== Debrief ===" in out.stdout


def test_resume_is_refused_when_the_scenario_changed(tmp_path, records_target):
    copy = tmp_path / "overpass.yaml"
    shutil.copy(SAMPLE, copy)
    out = cli("run", str(copy), "--choose", "slow-approach")
    attempt = out.stderr.split("crisis-sim resume ")[1].split("'")[0]
    copy.write_text(copy.read_text().replace("Traffic crawls past", "Traffic creeps past"))
    refused = cli("resume", attempt, "--choose", "reflect-feeling")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert (
        "has changed since attempt" in refused.stderr and "start a fresh attempt with 'crisis-sim run" in refused.stderr
    )


def test_resume_of_a_finished_or_unknown_attempt_is_refused(records_target):
    done = json.loads(cli("run", "overpass-railing", "--choose", "order-down", "--json").stdout)
    again = cli("resume", done["attempt_id"])
    assert again.returncode == 1 and "is completed" in again.stderr
    missing = cli("resume", "deadbeef-0000")
    assert missing.returncode == 1 and "no attempt 'deadbeef-0000'" in missing.stderr


def test_processes_writing_at_once_lose_nothing(records_target):
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from simulator.cli import main; main()",
                "run",
                "overpass-railing",
                "--policy",
                "random",
                "--seed",
                str(seed),
                "--json",
                "--trainee",
                f"t{seed}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for seed in range(6)
    ]
    expected = {}
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        data = json.loads(out)
        expected[data["attempt_id"]] = [(d["sequence"], d["scene"], d["choice"]) for d in data["decisions"]]
    with records_target.open() as store:
        stored = {a.id: [(d.sequence, d.scene, d.choice) for d in store.decisions(a.id)] for a in store.attempts()}
        assert stored == expected
        assert all(a.status == "completed" for a in store.attempts())


def test_store_threads_share_a_file_without_lock_errors(tmp_path):
    import threading

    db = tmp_path / "shared.sqlite3"
    Store.open(db).close()
    errors = []

    def writer(n: int) -> None:
        try:
            with Store.open(db) as store:
                store.ensure_trainee(f"w{n}")
                for i in range(20):
                    attempt = store.start_attempt(
                        f"w{n}",
                        scenario_id="s",
                        scenario_version="1",
                        scenario_sha256="x",
                        scenario_path="",
                        rubric_id="default",
                        rubric_sha256="y",
                        mode="headless",
                    )
                    store.record_decision(attempt, 1, "a", f"c{i}", meters_after={}, flags_after={})
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store.open(db) as store:
        assert sum(1 for _ in store.attempts()) == 160


def test_migration_from_the_first_schema_keeps_the_data(tmp_path):
    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);")
    conn.executescript(SQLITE_MIGRATIONS[0])
    conn.execute("INSERT INTO trainees VALUES ('ana', 'Ana', '2026-01-01T00:00:00.000Z')")
    conn.execute(
        "INSERT INTO attempts (id, trainee_id, scenario_id, scenario_version, scenario_sha256, scenario_path, "
        "rubric_id, "
        "rubric_sha256, mode, started_at, status) VALUES ('a1', 'ana', 's', '1', 'h', '', 'default', 'r', 'headless', "
        "'2026-01-01T00:00:00.000Z', 'in_progress')"
    )
    conn.execute(
        "INSERT INTO decisions VALUES ('a1', 1, 'arrival', 'slow-approach', '2026-01-01T00:00:01.000Z', 900, '{}')"
    )
    conn.commit()
    conn.close()
    with Store.open(db) as store:
        assert store.version() == SCHEMA_VERSION
        attempt = store.attempt("a1")
        assert attempt.trainee_name == "Ana" and attempt.cohort is None
        [decision] = store.decisions("a1")
        assert decision.choice == "slow-approach" and decision.flags_after == {}
        store.mark_sent("lrs", "a1", ["s1"], "sent")  # a table added by version 2
        assert store.sent_statements("lrs", ["s1", "s2"]) == {"s1"}
        store.flag("a1", 1, "a table added by version 5")
        assert [f.note for f in store.flags_for(["a1"])["a1"]] == ["a table added by version 5"]


def test_migration_to_schema_3_says_what_each_old_attempt_was(tmp_path):
    """Schema 3 records front end, mode and time pressure apart: the old 'headless' mode of run
    attempts becomes front end 'run' (or 'run-scripted' when a seed shows --policy random) with
    mode 'assessment'; app attempts keep their mode; what was never recorded stays empty."""
    from simulator.records.schema import upgrade_sqlite

    db = tmp_path / "v2.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    upgrade_sqlite(conn, 0, 2)
    conn.execute("INSERT INTO trainees VALUES ('ana', 'Ana', '2026-01-01T00:00:00.000Z')")
    for attempt_id, mode, seed in (("run1", "headless", None), ("run2", "headless", 7), ("app1", "coach", None)):
        conn.execute(
            "INSERT INTO attempts (id, trainee_id, scenario_id, scenario_version, scenario_sha256, scenario_path, "
            "rubric_id, rubric_sha256, mode, seed, started_at, status) VALUES (?, 'ana', 's', '1', 'h', '', "
            "'default', 'r', ?, ?, '2026-01-01T00:00:00.000Z', 'in_progress')",
            (attempt_id, mode, seed),
        )
    conn.execute("INSERT INTO decisions VALUES ('app1', 1, 'arrival', 'slow-approach', '2026-01-01T00:00:01.000Z', "
                 "900, '{}', '{}')")
    conn.close()
    with Store.open(db) as store:
        assert store.version() == SCHEMA_VERSION == 6  # and on to 6: typed text (said), empty here
        got = {a.id: (a.front_end, a.mode, a.time_pressure, a.scenario_title) for a in store.attempts()}
        assert got == {"run1": ("run", "assessment", None, None), "run2": ("run-scripted", "assessment", None, None),
                       "app1": ("app", "coach", None, None)}
        assert store.decisions("app1")[0].choice_text is None and store.decisions("app1")[0].said is None
        assert [a.id for a in store.attempts(include_scripted=False)] == ["app1", "run1"]
        store.set_preference("ana", "mode", "coach")  # a table added by version 3
        assert store.preferences("ana") == {"mode": "coach"}


def test_a_new_attempt_records_what_it_was_and_the_library_counts_only_the_trainees_own(records_target):
    cli("run", "overpass-railing", "--trainee", "ana", stdin="3\n" * 12)  # played by hand, poorly
    cli("run", "overpass-railing", "--trainee", "ana", "--choose", ",".join(BEST))  # scripted
    with records_target.open() as store:
        by_hand, scripted = store.attempts()
        assert (by_hand.front_end, by_hand.mode, by_hand.time_pressure) == ("run", "assessment", False)
        assert scripted.front_end == "run-scripted" and scripted.scripted
        assert by_hand.scenario_title == scripted.title == "Person outside the overpass railing"
        texts = [d.choice_text for d in store.decisions(scripted.id)]
        assert texts[0] == "Stay in the car for a moment and ask dispatch what else they know."
        [progress] = store.progress("ana").values()
        assert progress.attempts == 1 and progress.best == by_hand.overall < 100  # the scripted 100 is not hers
        assert progress.status == "completed"  # not "passed"
        store.set_preference("ana", "mode", "coach")
        store.set_preference("ana", "mode", "assessment")  # replaced, not added
        store.set_preference("ana", "theme", "nord")
        assert store.preferences("ana") == {"mode": "assessment", "theme": "nord"}


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    db = tmp_path / "newer.sqlite3"
    Store.open(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    before = db.read_bytes()
    with pytest.raises(StoreError, match=r"written by a newer crisis-sim .*schema 99"):
        Store.open(db)
    assert db.read_bytes() == before
    out = cli("results", "--db", str(db))
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "upgrade crisis-sim" in out.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"this is not a database at all" * 100, "not a crisis-sim records file"),
        (b"SQLite format 3\x00" + b"\x00" * 84 + b"\xff" * 4000, "not a crisis-sim records file"),
    ],
)
def test_a_non_sqlite_or_damaged_file_is_reported_and_never_overwritten(tmp_path, content, words):
    db = tmp_path / "bad.sqlite3"
    db.write_bytes(content)
    for args in (("results", "--db", str(db)), ("run", "overpass-railing", "--policy", "first", "--db", str(db))):
        out = cli(*args)
        assert out.returncode == 1, out.stdout
        assert words in out.stderr and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
        assert db.read_bytes() == content


def test_an_sqlite_file_of_another_program_is_refused(tmp_path):
    db = tmp_path / "other.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    out = cli("results", "--db", str(db))
    assert out.returncode == 1 and "not a crisis-sim records file" in out.stderr


def test_integrity_check_reports_damage(tmp_path):
    db = tmp_path / "damaged.sqlite3"
    with Store.open(db) as store:
        store.ensure_trainee("x")
        for _ in range(50):
            store.start_attempt(
                "x",
                scenario_id="s" * 200,
                scenario_version="1",
                scenario_sha256="h",
                scenario_path="",
                rubric_id="r",
                rubric_sha256="h",
                mode="headless",
            )
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(db.read_bytes())
    page = 4096
    assert len(raw) >= page * 3
    for start in range(page, len(raw), page):  # scribble over every b-tree page's cell pointers
        raw[start + 8 : start + 24] = b"\x13" * 16
    db.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match=r"damaged|not a crisis-sim"):
        Store.open(db, check_integrity=True)


HOSTILE_ID = "ben\x1b]52;c;cm0gLXJm\x07\x1b[2J\u202e"


def test_results_and_regrade(isolated_user_dirs):
    for trainee, choices in (("ana", BEST), ("ben", ["order-down"])):
        cli("run", "overpass-railing", "--trainee", trainee, "--choose", ",".join(choices))
    cli("run", "overpass-railing", "--trainee", "cy", "--choose", "slow-approach")  # left in progress
    assert cli("results").stdout.strip() == (  # scripted runs: nobody chose
        "no attempts match (3 scripted run(s) left out: --include-scripted lists them)"
    )
    table = cli("results", "--include-scripted")
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["STARTED", "(UTC)", "ATTEMPT"]
    assert all("run-scripted" in line for line in lines[1:])
    assert any(" ana " in line and "completed" in line and " 100 " in line and " yes " in line for line in lines)
    assert any(" ben " in line and " no " in line and "poor" in line for line in lines)
    assert any(" cy " in line and "in progress" in line for line in lines)
    only = cli("results", "--trainee", "ben", "--json", "--front-end", "run-scripted")
    assert [json.loads(x)["trainee_id"] for x in only.stdout.splitlines()] == ["ben"]
    assert cli("results", "--since", "2999-01-01", "--include-scripted").stdout.strip() == "no attempts match"
    unknown = cli("results", "--trainee", "nobody")
    assert unknown.returncode == 1 and "has trainee 'nobody'; check the trainee id" in unknown.stderr
    bad_date = cli("results", "--since", "yesterday")
    assert bad_date.returncode == 2 and "is not a date" in bad_date.stderr

    ok = cli("regrade")
    assert ok.returncode == 0, ok.stdout
    assert "2 grade(s) recomputed: 2 agree, 0 differ" in ok.stdout
    with sqlite3.connect(os.environ["CRISIS_SIM_DB"]) as conn:
        conn.execute(
            "UPDATE attempts SET grade_json = replace(grade_json, '\"overall\": 0.0', '\"overall\": 95.0') "
            "WHERE trainee_id = 'ben'"
        )
    tampered = cli("regrade")
    assert tampered.returncode == 1
    assert "(ben): stored and recomputed grades differ in overall (stored 95.0, recomputed 0.0)" in tampered.stdout

    # A records file edited by other hands: what it holds never drives the instructor's terminal.
    with sqlite3.connect(os.environ["CRISIS_SIM_DB"]) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        for table, column in (("trainees", "id"), ("attempts", "trainee_id")):
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = 'ben'", (HOSTILE_ID,))
    results, regrade = cli("results", "--include-scripted"), cli("regrade")
    assert any(line.split()[3] == "ben" for line in results.stdout.splitlines()[1:])  # sequences removed whole
    assert "(ben): stored and recomputed grades differ" in regrade.stdout
    for shown in (results, regrade):
        assert "52;c;" not in shown.stdout
        assert "\x1b" not in shown.stdout and "\u202e" not in shown.stdout and "\x07" not in shown.stdout


def test_no_record_writes_nothing(isolated_user_dirs):
    cli("run", "overpass-railing", "--policy", "first", "--no-record")
    assert not Path(os.environ["CRISIS_SIM_DB"]).exists()


def test_config_command_and_broken_config(tmp_path, monkeypatch):
    shown = cli("config")
    assert shown.returncode == 0 and "config file:" in shown.stdout and "[academy]" in shown.stdout
    broken = tmp_path / "config.toml"
    broken.write_text('[academy]\nname = "A"\nbase_iri = \n')
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(broken))
    out = cli("run", "overpass-railing", "--policy", "first")
    assert (
        out.returncode == 1 and out.stderr.startswith(f"crisis-sim: error: {broken}:3:") and out.stderr.count("\n") == 1
    )
    broken.write_text('[academy]\nnmae = "A"\n')
    out = cli("config")
    assert out.returncode == 1 and "unknown setting 'academy.nmae'" in out.stderr
    broken.write_text('[trainee]\nid = "recruit-7"\nname = "Robin"\n[academy]\ncohort = "2026-fall"\n')
    data = json.loads(cli("run", "overpass-railing", "--policy", "first", "--json").stdout)
    with Store.open(os.environ["CRISIS_SIM_DB"]) as store:
        record = store.attempt(data["attempt_id"])
        assert (record.trainee_id, record.trainee_name, record.cohort) == ("recruit-7", "Robin", "2026-fall")

    # '~name' of a user this system does not know: a 'no such file' line, not a RuntimeError
    broken.write_text('[records]\ndb = "~no-such-user-7d1f/records.sqlite3"\n')
    monkeypatch.delenv("CRISIS_SIM_DB")
    out = cli("results")
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "no records file at ~no-such-user-7d1f/records.sqlite3" in out.stderr


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("overall", 95.0, "column overall (stored 95.0, recomputed 0.0)"),
        ("passed", 1, "column passed (stored yes, recomputed no)"),
        ("ending_rating", "good", "column ending_rating (stored good, recomputed poor)"),
        ("ending_scene", "good_ending", "column ending_scene (stored good_ending, recomputed "),
        ("grade_method", 7, "column grade_method (stored 7, recomputed 2)"),
    ],
)
def test_regrade_compares_every_column_that_is_shown(isolated_user_dirs, column, value, words):
    """``results``, the CSV and the app read the ``overall``/``passed``/ending columns, not the
    grade JSON: an edit of a column alone is a difference too (before, regrade said "agree")."""
    cli("run", "overpass-railing", "--trainee", "ben", "--choose", "order-down")
    with sqlite3.connect(os.environ["CRISIS_SIM_DB"]) as conn:
        conn.execute(f"UPDATE attempts SET {column} = ? WHERE trainee_id = 'ben'", (value,))
    regraded = cli("regrade")
    assert regraded.returncode == 1, regraded.stdout
    assert f"(ben): stored and recomputed grades differ in {words}" in regraded.stdout
    assert "1 grade(s) recomputed: 0 agree, 1 differ" in regraded.stdout


def test_records_files_and_the_last_trainee_are_owner_only(isolated_user_dirs, tmp_path):
    """Records are personal data: the records file, its -wal and -shm (which SQLite creates with
    the file's own mode), the folder made for it, and last-trainee.json are created for their
    owner only, whatever the umask lets through (0644 before)."""
    import pty

    db = tmp_path / "new-folder" / "records.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from simulator.cli import main; main()", "run", "overpass-railing", "--db", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, umask=0o022,
    )
    try:
        deadline = time.monotonic() + 30
        while not Path(f"{db}-shm").exists():  # waiting at its first question, the file open
            assert time.monotonic() < deadline and proc.poll() is None, "the run did not start"
            time.sleep(0.05)
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name}: {oct(path.stat().st_mode)}"
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    finally:
        proc.kill()
        proc.communicate()

    # The app remembers who signed in (here through --trainee, as an academy's launcher does).
    master, slave = pty.openpty()
    app = subprocess.Popen(
        [sys.executable, "-c", "from simulator.cli import main; main()", "play", "overpass-railing",
         "--trainee", "recruit-042"],
        stdin=slave, stdout=slave, stderr=subprocess.PIPE, cwd=REPO, umask=0o022,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(slave)
    state = isolated_user_dirs / "xdg_state_home" / "crisis-sim" / "last-trainee.json"
    try:
        deadline = time.monotonic() + 30
        while not state.exists():
            assert time.monotonic() < deadline and app.poll() is None, "the app did not sign in"
            time.sleep(0.05)
            with contextlib.suppress(OSError):
                os.read(master, 65536) if select.select([master], [], [], 0)[0] else None
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
    finally:
        app.kill()
        app.communicate()
        os.close(master)


@pytest.mark.parametrize(
    "content",
    [b"[" * 100_000, b'{"id": "recruit-042\\n"}', b'{"id": 5}', b"\xff\xfe", b'{"id": "a", "name": ' + b"[" * 5000,
     b'{"id": "' + b"x" * 200_000 + b'"}'],
    ids=["deep", "newline-id", "number-id", "not-utf8", "deep-name", "huge"],
)
def test_a_last_trainee_file_crisis_sim_never_wrote_is_ignored(isolated_user_dirs, content):
    """``last-trainee.json`` only pre-fills the sign-in form: a file nested 100,000 deep, with an
    id that is not a trainee id, or huge is ignored, never a crash ("internal error" before)."""
    state = isolated_user_dirs / "xdg_state_home" / "crisis-sim" / "last-trainee.json"
    state.parent.mkdir(parents=True)
    state.write_bytes(content)
    shown = cli("config")
    assert shown.returncode == 0, shown.stderr
    assert "last trainee on this machine: none" in shown.stdout


def test_results_filters_by_cohort_status_and_until_like_export(tmp_path):
    """Issue 14: results had --trainee, --scenario and --since only; it now takes the export's
    filters (one definition for both), with the same answer for an unknown cohort."""
    from cli_runner import run_cli
    from records_factory import passed_failed_running

    db = tmp_path / "records.sqlite3"
    with Store.open(db) as store:
        passed, failed, running = passed_failed_running(store)

    def rows(*args: str) -> list[dict]:
        result = run_cli(["results", "--db", str(db), "--json", *args])
        return [json.loads(line) for line in result.stdout.splitlines()]

    assert {r["status"] for r in rows()} == {"completed", "in_progress"}
    assert [r["attempt_id"] for r in rows("--status", "in_progress")] == [running.attempt_id]
    assert {r["attempt_id"] for r in rows("--status", "completed")} == {passed.attempt_id, failed.attempt_id}
    assert [r["attempt_id"] for r in rows("--until", "2026-03-01")] == [passed.attempt_id]  # that whole day
    assert [r["attempt_id"] for r in rows("--cohort", "2026-spring")] == [passed.attempt_id]
    unknown = run_cli(["results", "--db", str(db), "--cohort", "no-such"])
    assert unknown.code == 1 and "has cohort 'no-such'; check the cohort id" in unknown.stderr
    bad = run_cli(["results", "--db", str(db), "--since", "2026-03-02", "--until", "2026-03-01"])
    assert bad.code == 2 and "must be before --until" in bad.stderr
