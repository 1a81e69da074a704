"""CSV and JSON Lines exports, read back by their real consumers (Python's csv and json), and the
`crisis-sim export` command's handling of filters, bad records files and output files."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import sqlite_only
from hypothesis import example, given
from hypothesis import strategies as st
from records_factory import NullSink, Played, copy_attempts, play
from scenario_factory import REPO, SAMPLE_BEST

from simulator.export import ExportFilter, FilterError, open_for_export, open_output, time_bound
from simulator.export.tabular import (
    ATTEMPT_COLUMNS,
    DECISION_COLUMNS,
    FORMULA_STARTS,
    JSONL_FORMAT,
    neutralise,
    write_csv,
    write_jsonl,
)
from simulator.records import Store, StoreError, open_store

BEST = SAMPLE_BEST
DEFAULT_DIMS = ["safety_assessment", "engagement", "listening_empathy", "suicide_risk", "respectful_influence",
                "resolution_care"]
FORMULA_NAME = '=HYPERLINK("x")'
ODD_NAME = 'Smith, "Jo"\nsecond line'
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


@dataclass
class Records:
    db: str
    """A records file path or a PostgreSQL URL (the module runs once for each store kind)."""
    attempts: list[Played]
    target: Any = None

    def by_trainee(self, trainee: str) -> Played:
        return next(p for p in self.attempts if p.trainee == trainee)


@pytest.fixture(scope="module")
def records(module_store) -> Records:
    db = module_store.db
    with open_store(db) as store:
        for trainee, name in (("ana", "Ana Díaz"), ("eq", FORMULA_NAME), ("odd", ODD_NAME), ("bo", "Bo")):
            store.ensure_trainee(trainee, name)
        played = [
            play(store, "ana", BEST, started_at="2026-03-01T09:00:00.000Z", cohort="2026-spring"),
            play(store, "eq", ["order-down"], started_at="2026-03-02T10:00:00.000Z", cohort="2026-spring"),
            play(store, "odd", [None], started_at="2026-03-03T11:00:00.000Z"),
            play(store, "bo", BEST[:2], started_at="2026-03-04T12:00:00.000Z", finish=False),
        ]
        other = store.start_attempt(
            "bo", scenario_id="other-scenario", scenario_version="2", scenario_sha256="0" * 64,
            scenario_path="other.yaml", rubric_id="default", rubric_sha256="1" * 64, mode="tui",
        )
        store.abandon_attempt(other)
        store.write("UPDATE attempts SET started_at = ?, ended_at = ? WHERE id = ?",
                    ("2026-03-05T08:00:00.000Z", "2026-03-05T08:05:00.000Z", other))
        played.append(Played(other, "bo", [], None, "2026-03-05T08:00:00.000Z"))
    return Records(db, played, module_store)


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRISIS_SIM_CONFIG": str(tmp_path / "no-config.toml"), "NO_COLOR": "1"}
    env.pop("CRISIS_SIM_DEBUG", None)
    raw = subprocess.run(
        [sys.executable, "-c", "from simulator.cli import main; main()", "export", *args],
        capture_output=True, cwd=REPO, timeout=60, env=env,
    )
    # Decoded by hand: text mode would turn the CSV's \r\n into \n.
    out = subprocess.CompletedProcess(raw.args, raw.returncode, raw.stdout.decode(), raw.stderr.decode())
    assert "Traceback" not in out.stdout + out.stderr
    return out


def export(records: Records, tmp_path: Path, *args: str) -> str:
    out = cli(tmp_path, "--db", str(records.db), *args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def one_line_error(out: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert out.returncode == code, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("crisis-sim: error: ")
    return lines[0]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# ---- CSV, one row per attempt ---------------------------------------------------------------


def test_csv_reads_back_with_the_documented_header(records, tmp_path):
    text = export(records, tmp_path, "--format", "csv")
    header = next(csv.reader(io.StringIO(text, newline="")))
    assert header == [*ATTEMPT_COLUMNS, *(f"dim_{d}" for d in DEFAULT_DIMS)]
    rows = csv_rows(text)
    assert [r["attempt_id"] for r in rows] == [p.attempt_id for p in records.attempts]  # oldest first


def test_csv_is_rfc4180_utf8_without_bom(records, tmp_path):
    out = tmp_path / "out.csv"
    export(records, tmp_path, "--format", "csv", "--out", str(out))
    raw = out.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\r\n") == len(records.attempts) + 1  # rows end in CRLF; a newline inside a name stays LF
    assert b'"Smith, ""Jo""\nsecond line"' in raw
    assert "Ana Díaz".encode() in raw


def test_csv_values_match_the_grades(records, tmp_path):
    rows = {r["attempt_id"]: r for r in csv_rows(export(records, tmp_path, "--format", "csv"))}
    for played in records.attempts:
        row = rows[played.attempt_id]
        assert row["trainee_id"] == played.trainee
        assert row["started_at"] == played.started_at
        if played.grade is None:
            continue
        g = played.grade
        assert row["status"] == "completed"
        assert float(row["overall"]) == g["overall"]
        assert row["passed"] == ("true" if g["passed"] else "false")
        assert row["proficient"] == ("true" if g["proficient"] else "false")
        assert row["scenario_sha256"] == g["scenario_sha256"] and row["rubric_sha256"] == g["rubric_sha256"]
        assert row["ending_scene"] == g["ending"]["scene"] and row["ending_rating"] == g["ending"]["rating"]
        assert row["critical_errors"] == ";".join(c["id"] for c in g["critical_errors"])
        for dim in g["dimensions"]:
            cell = row[f"dim_{dim['id']}"]
            assert cell == ("" if dim["score"] is None else str(dim["score"]))
        assert ISO_UTC.match(row["ended_at"])
        assert float(row["duration_seconds"]) == 25 * 60 + 12.3
    best = rows[records.by_trainee("ana").attempt_id]
    assert best["passed"] == "true" and best["overall"] == "100.0" and best["cohort"] == "2026-spring"
    bad = rows[records.by_trainee("eq").attempt_id]
    assert bad["passed"] == "false" and bad["critical_errors"] == "threat_or_force_without_need"
    assert "" in [bad[f"dim_{d}"] for d in DEFAULT_DIMS]  # a dimension not applicable on that path
    for row in rows.values():
        assert ISO_UTC.match(row["started_at"])


def test_in_progress_and_abandoned_attempts_have_empty_scores(records, tmp_path):
    rows = {r["attempt_id"]: r for r in csv_rows(export(records, tmp_path, "--format", "csv"))}
    running = rows[records.attempts[3].attempt_id]
    assert running["status"] == "in_progress"
    for column in ("ended_at", "duration_seconds", "overall", "passed", "proficient", "ending_scene",
                   "ending_rating", "critical_errors", *(f"dim_{d}" for d in DEFAULT_DIMS)):
        assert running[column] == "", column
    gone = rows[records.attempts[4].attempt_id]
    assert gone["status"] == "abandoned" and gone["overall"] == "" and gone["duration_seconds"] == "300.0"
    assert gone["scenario_id"] == "other-scenario" and gone["mode"] == "tui"


def test_formula_cells_are_neutralised_and_odd_text_round_trips(records, tmp_path):
    rows = {r["trainee_id"]: r for r in csv_rows(export(records, tmp_path, "--format", "csv"))}
    assert rows["eq"]["trainee_name"] == "'" + FORMULA_NAME
    assert rows["odd"]["trainee_name"] == ODD_NAME
    assert rows["ana"]["trainee_name"] == "Ana Díaz"


def test_neutralise_touches_text_only():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    for value in ("plain", "a=b", " =x", "", 72.5, -3, 0):
        assert neutralise(value) == value


@example("A;=cmd|' /C calc'!A0")
@given(st.text(alphabet=st.sampled_from(list("=+-@\t\r,;\"' aZ1é\u202e")), max_size=40) | st.text(max_size=40))
def test_no_piece_of_a_neutralised_cell_starts_a_formula_whatever_the_separator(text):
    """Whether a spreadsheet splits at ',' or at ';' (locales whose list separator it is), and
    whether or not it honours quotes, no piece of a cell starts a formula; and the rule only ever
    adds a ' (the text is otherwise unchanged)."""
    cell = neutralise(text)
    for piece in re.split("[,;]", cell):
        assert not piece.lstrip('"').startswith(FORMULA_STARTS), (text, cell)
    assert cell.replace("'", "") == text.replace("'", "")


def test_a_formula_after_a_semicolon_or_comma_is_neutralised():
    assert neutralise("A;=cmd|' /C calc'!A0") == "A;'=cmd|' /C calc'!A0"
    assert neutralise('x,"=1+1"') == 'x,\'"=1+1"'
    assert neutralise("a;b,c") == "a;b,c" and neutralise("Jean-Luc; O'Neil") == "Jean-Luc; O'Neil"


def test_excel_option_adds_a_bom_and_still_reads_back(records, tmp_path):
    out = tmp_path / "excel.csv"
    export(records, tmp_path, "--format", "csv", "--excel", "--out", str(out))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(records.attempts)
    assert rows[0]["attempt_id"] == records.attempts[0].attempt_id  # the header is not spoiled by the BOM


# ---- CSV, one row per decision ----------------------------------------------------------------


def test_decisions_long_format_matches_the_decision_log(records, tmp_path):
    text = export(records, tmp_path, "--format", "csv", "--decisions")
    assert next(csv.reader(io.StringIO(text, newline=""))) == list(DECISION_COLUMNS)
    rows = csv_rows(text)
    with open_store(records.db, create=False) as store:
        logs = {p.attempt_id: store.decisions(p.attempt_id) for p in records.attempts}
    assert len(rows) == sum(len(log) for log in logs.values())
    for played in records.attempts:
        mine = [r for r in rows if r["attempt_id"] == played.attempt_id]
        log = logs[played.attempt_id]
        assert [int(r["sequence"]) for r in mine] == [d.sequence for d in log]
        reviews = {r["sequence"]: r for r in (played.grade or {}).get("decisions", [])}
        for row, d in zip(mine, log, strict=True):
            assert row["trainee_id"] == played.trainee and row["scenario_id"] == "overpass-railing"
            assert row["scene"] == d.scene
            assert row["choice"] == (d.choice or "")
            assert row["kind"] == ("timeout" if d.choice is None else "choice")
            assert row["made_at"] == d.made_at and ISO_UTC.match(row["made_at"])
            assert int(row["response_ms"]) == d.response_ms
            assert json.loads(row["meters_after"]) == d.meters_after
            assert json.loads(row["flags_after"]) == d.flags_after
            if played.grade is None:
                assert row["points"] == row["value"] == row["best_value"] == ""
            else:
                review = reviews[d.sequence]
                assert int(row["points"]) == sum(review["earned"].values())
                assert float(row["value"]) == review["value"]
                assert float(row["best_value"]) == review["best_value"]
    timeout = [r for r in rows if r["kind"] == "timeout"]
    assert [(r["trainee_id"], r["sequence"], r["choice"]) for r in timeout] == [("odd", "1", "")]
    critical = [r for r in rows if r["critical_error"]]
    assert [(r["trainee_id"], r["choice"]) for r in critical] == [("eq", "order-down")]
    assert int(critical[0]["points"]) < 0  # a negative number is written as a number, not neutralised


# ---- JSON Lines -------------------------------------------------------------------------------


def test_jsonl_has_one_versioned_object_per_attempt_with_grade_and_decisions(records, tmp_path):
    text = export(records, tmp_path, "--format", "jsonl")
    assert text.endswith("\n") and text.isascii()
    lines = text.splitlines()  # any line splitter works: no raw line separators inside strings
    assert len(lines) == len(records.attempts)
    objects = [json.loads(line) for line in lines]
    with open_store(records.db, create=False) as store:
        for played, obj in zip(records.attempts, objects, strict=True):
            assert obj["format"] == JSONL_FORMAT
            assert obj["attempt_id"] == played.attempt_id and obj["trainee_id"] == played.trainee
            assert obj["grade"] == played.grade  # the full grade, exactly as stored
            log = store.decisions(played.attempt_id)
            assert [d["sequence"] for d in obj["decisions"]] == [d.sequence for d in log]
            assert [d["choice"] for d in obj["decisions"]] == [d.choice for d in log]
            assert [d["meters_after"] for d in obj["decisions"]] == [d.meters_after for d in log]
    names = {o["trainee_id"]: o["trainee_name"] for o in objects}
    assert names["eq"] == FORMULA_NAME and names["odd"] == ODD_NAME and names["ana"] == "Ana Díaz"
    running = objects[3]
    assert running["status"] == "in_progress" and running["grade"] is None and running["ended_at"] is None
    assert len(running["decisions"]) == 2
    assert objects[0]["passed"] is True and objects[0]["overall"] == 100.0
    assert objects[2]["decisions"][0]["kind"] == "timeout" and objects[2]["decisions"][0]["choice"] is None
    expected_keys = {
        "format", "attempt_id", "trainee_id", "trainee_name", "cohort", "scenario_id", "scenario_title",
        "scenario_version", "scenario_sha256", "scenario_path", "rubric_id", "rubric_sha256", "mode", "front_end",
        "time_pressure", "seed", "started_at", "ended_at", "duration_seconds", "status", "overall", "performance",
        "passed", "ending_scene", "ending_rating", "grade_method", "grade", "void", "decisions", "instructor_flags",
    }
    assert all(set(o) == expected_keys for o in objects)
    assert all(o["instructor_flags"] == [] for o in objects)  # flags: tests/test_flags.py


def test_jsonl_in_small_batches_gives_the_same_lines(records):
    with open_store(records.db, create=False) as store:
        whole, small = io.StringIO(), io.StringIO()
        write_jsonl(store, whole, ExportFilter())
        write_jsonl(store, small, ExportFilter(), batch=2)
    assert whole.getvalue() == small.getvalue()


# ---- filters ----------------------------------------------------------------------------------


def ids(text: str) -> list[str]:
    return [r["attempt_id"] for r in csv_rows(text)]


def test_filters_select_attempts(records, tmp_path):
    a = [p.attempt_id for p in records.attempts]
    assert ids(export(records, tmp_path, "--format", "csv", "--trainee", "bo")) == [a[3], a[4]]
    assert ids(export(records, tmp_path, "--format", "csv", "--scenario", "other-scenario")) == [a[4]]
    assert ids(export(records, tmp_path, "--format", "csv", "--cohort", "2026-spring")) == [a[0], a[1]]
    assert ids(export(records, tmp_path, "--format", "csv", "--status", "in_progress")) == [a[3]]
    assert ids(export(records, tmp_path, "--format", "csv", "--status", "completed")) == a[:3]
    # --until with a date alone includes that whole day
    assert ids(export(records, tmp_path, "--format", "csv", "--since", "2026-03-02", "--until", "2026-03-03")) == a[1:3]
    assert ids(export(records, tmp_path, "--format", "csv", "--since", "2026-03-02T10:00:00Z",
                      "--until", "2026-03-03T11:00:00Z")) == [a[1]]  # since inclusive, a full time: exclusive
    assert ids(export(records, tmp_path, "--format", "csv", "--since", "2026-03-04T13:00:00+01:00")) == a[3:]
    lines = export(records, tmp_path, "--format", "jsonl", "--trainee", "ana").splitlines()
    assert [json.loads(line)["attempt_id"] for line in lines] == [a[0]]
    long = csv_rows(export(records, tmp_path, "--format", "csv", "--decisions", "--trainee", "bo"))
    assert {r["attempt_id"] for r in long} == {a[3]} and len(long) == 2


def test_filters_matching_nothing_give_a_header_only(records, tmp_path):
    text = export(records, tmp_path, "--format", "csv", "--since", "2030-01-01")
    assert csv_rows(text) == [] and text.startswith("attempt_id,")


def test_time_bounds():
    assert time_bound("2026-03-01") == "2026-03-01T00:00:00.000Z"
    assert time_bound("2026-03-31", end=True) == "2026-04-01T00:00:00.000Z"
    assert time_bound("2026-03-01T14:00") == "2026-03-01T14:00:00.000Z"
    assert time_bound("2026-03-01T14:00:00+02:00") == "2026-03-01T12:00:00.000Z"
    assert time_bound("2026-03-01T14:00:00.5Z", end=True) == "2026-03-01T14:00:00.500Z"
    for bad in ("yesterday", "2026-13-01", "2026-02-30", "", "01/03/2026"):
        with pytest.raises(FilterError):
            time_bound(bad)
    with pytest.raises(FilterError):
        ExportFilter(since="2026-03-02T00:00:00.000Z", until="2026-03-01T00:00:00.000Z")
    with pytest.raises(FilterError):
        ExportFilter(status="done")


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [("--trainee", "nobody", "trainee 'nobody'"), ("--scenario", "no-such", "scenario 'no-such'"),
     ("--cohort", "1999", "cohort '1999'")],
)
def test_unknown_filter_values_are_one_line_errors(records, tmp_path, option, value, named):
    out = cli(tmp_path, "--db", str(records.db), "--format", "csv", option, value, "--out", str(tmp_path / "x.csv"))
    assert named in one_line_error(out)
    assert out.stdout == ""
    assert os.listdir(tmp_path) == []  # no output file, no temporary file


@pytest.mark.parametrize("value", ["2026-13-01", "last week"])
def test_bad_dates_are_one_line_usage_errors(records, tmp_path, value):
    out = cli(tmp_path, "--db", str(records.db), "--format", "csv", "--since", value)
    assert "--since" in one_line_error(out, 2)


def test_options_for_another_format_are_refused(records, tmp_path):
    assert "--excel" in one_line_error(cli(tmp_path, "--db", str(records.db), "--format", "jsonl", "--excel"), 2)
    assert "--lrs" in one_line_error(cli(tmp_path, "--db", str(records.db), "--format", "csv", "--lrs", "http://x"), 2)


def test_lrs_without_a_password_is_a_one_line_error(records, tmp_path):
    out = cli(tmp_path, "--db", str(records.db), "--format", "xapi", "--lrs", "http://127.0.0.1:9/xAPI",
              "--lrs-user", "bob")
    assert "CRISIS_SIM_LRS_PASSWORD" in one_line_error(out)


# ---- bad records files ------------------------------------------------------------------------


def test_a_non_sqlite_db_is_a_one_line_error_and_stays_unchanged(tmp_path):
    db = tmp_path / "garbage.sqlite3"
    data = bytes(range(256)) * 40
    db.write_bytes(data)
    for fmt in ("csv", "jsonl"):
        out = cli(tmp_path, "--db", str(db), "--format", fmt)
        assert "not a crisis-sim records file" in one_line_error(out)
    assert db.read_bytes() == data
    assert sorted(os.listdir(tmp_path)) == ["garbage.sqlite3"]  # no -wal/-shm/-journal created


def test_another_programs_sqlite_file_is_refused_untouched(tmp_path):
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    data = db.read_bytes()
    out = cli(tmp_path, "--db", str(db), "--format", "csv")
    assert "not a crisis-sim records file" in one_line_error(out)
    assert db.read_bytes() == data  # not switched to WAL, not migrated
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert "empty" in one_line_error(cli(tmp_path, "--db", str(empty), "--format", "csv"))
    assert empty.read_bytes() == b""


def test_a_missing_db_is_a_one_line_error_and_is_not_created(tmp_path):
    db = tmp_path / "nowhere.sqlite3"
    out = cli(tmp_path, "--db", str(db), "--format", "csv")
    assert "no records file" in one_line_error(out)
    assert not db.exists()
    with pytest.raises(StoreError):
        open_for_export(db)


# ---- output files -----------------------------------------------------------------------------


def test_out_file_is_written_whole_and_no_temporary_file_is_left(records, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "attempts.csv"
    target.write_text("old", encoding="utf-8")
    out = cli(tmp_path, "--db", str(records.db), "--format", "csv", "--out", str(target))
    assert out.returncode == 0, out.stderr
    assert f"wrote {len(records.attempts)} row(s)" in out.stdout
    assert os.listdir(folder) == ["attempts.csv"]
    with target.open(encoding="utf-8", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(records.attempts)
    assert target.read_bytes() == export(records, tmp_path, "--format", "csv").encode()
    jsonl = folder / "attempts.jsonl"
    assert cli(tmp_path, "--db", str(records.db), "--format", "jsonl", "--out", str(jsonl)).returncode == 0
    assert len(jsonl.read_text(encoding="utf-8").splitlines()) == len(records.attempts)
    assert sorted(os.listdir(folder)) == ["attempts.csv", "attempts.jsonl"]


def test_a_failed_export_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), open_output(target) as fh:
        fh.write("half an export")
        raise RuntimeError("crash mid-export")
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_out_never_overwrites_the_records_file(records, tmp_path):
    sqlite_only(records.target, "the records file cannot be an --out target")
    data = Path(records.db).read_bytes()
    for target in (Path(records.db), Path(f"{records.db}-wal")):
        out = cli(tmp_path, "--db", str(records.db), "--format", "csv", "--out", str(target))
        assert "records file" in one_line_error(out)
    assert Path(records.db).read_bytes() == data


def test_out_in_a_missing_folder_is_a_one_line_error(records, tmp_path):
    out = cli(tmp_path, "--db", str(records.db), "--format", "csv", "--out", str(tmp_path / "no" / "x.csv"))
    assert "does not exist" in one_line_error(out)


# ---- memory stays flat -------------------------------------------------------------------------


def peak_bytes(db: Path, write: Any) -> int:
    with Store.open(db, create=False) as store:
        tracemalloc.start()
        try:
            write(store, NullSink(), ExportFilter())
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


@pytest.fixture(scope="module")
def sized(records, tmp_path_factory) -> tuple[Path, Path]:
    # Both at least twice the store's fetch size (500 rows; two fetches are alive at once while the cursor
    # moves on), so that fixed buffer is in both peaks.
    sqlite_only(records.target, "the memory measure fills SQLite copies")
    folder = tmp_path_factory.mktemp("sized")
    small, large = folder / "small.sqlite3", folder / "large.sqlite3"
    copy_attempts(records.db, small, 1000)
    copy_attempts(records.db, large, 2000)
    return small, large


@pytest.mark.parametrize(
    "write",
    [
        lambda store, out, f: write_csv(store, out, f),
        lambda store, out, f: write_csv(store, out, f, decisions=True),
        lambda store, out, f: write_jsonl(store, out, f),
    ],
    ids=["csv", "csv-decisions", "jsonl"],
)
def test_memory_stays_flat_however_many_attempts(sized, write):
    small, large = sized
    few, many = peak_bytes(small, write), peak_bytes(large, write)
    assert many < few * 1.25 + 256 * 1024, (few, many)


# ---- the documentation stays true ---------------------------------------------------------------


def test_docs_list_every_column_and_show_the_current_json_shape(records, tmp_path):
    doc = (REPO / "docs" / "records-and-exports.md").read_text(encoding="utf-8")
    csv_part = doc[doc.index("## CSV export"):doc.index("## JSON Lines export")]
    documented = set(re.findall(r"`([a-z0-9_<>]+)`", csv_part))
    assert set(ATTEMPT_COLUMNS) - documented == set()
    assert set(DECISION_COLUMNS) - documented == set()
    assert "dim_<id>" in documented
    blocks = re.findall(r"```json\n(.*?)```", doc, flags=re.S)
    examples = [json.loads(block) for block in blocks]  # every example is valid JSON
    one_line = examples[0]
    assert one_line["format"] == JSONL_FORMAT
    real = json.loads(export(records, tmp_path, "--format", "jsonl").splitlines()[0])
    assert set(one_line) == set(real)
    assert set(one_line["decisions"][0]) == set(real["decisions"][0])


def test_export_never_imports_textual(records, tmp_path):
    args = ["export", "--format", "csv", "--db", str(records.db), "--out", str(tmp_path / "a.csv")]
    code = (
        "import sys\n"
        "from simulator.cli import cli\n"
        f"cli.main(args={args!r}, standalone_mode=False)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    env = {**os.environ, "CRISIS_SIM_CONFIG": str(tmp_path / "no-config.toml")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


# ---- issue 14: what each attempt was, the decision sheet on its own, scripted runs ----------------


def test_decision_rows_carry_the_choice_text_the_trainee_name_and_the_cohort(records, tmp_path):
    rows = list(csv.DictReader(io.StringIO(export(records, tmp_path, "--format", "csv", "--decisions"), newline="")))
    ana = [r for r in rows if r["trainee_id"] == "ana"]
    assert {(r["trainee_name"], r["cohort"]) for r in ana} == {("Ana Díaz", "2026-spring")}
    assert ana[0]["choice"] == "ask-dispatch"
    assert ana[0]["choice_text"] == "Stay in the car for a moment and ask dispatch what else they know."
    timeout = next(r for r in rows if r["trainee_id"] == "odd")
    assert timeout["kind"] == "timeout" and timeout["choice_text"] == ""
    attempts = list(csv.DictReader(io.StringIO(export(records, tmp_path, "--format", "csv"), newline="")))
    first = attempts[0]
    assert (first["scenario_title"], first["mode"], first["front_end"], first["time_pressure"]) == (
        "Person outside the overpass railing", "assessment", "run", "false")


def test_scripted_runs_are_left_out_of_exports_unless_asked(tmp_path):
    db = tmp_path / "records.sqlite3"
    with Store.open(db) as store:
        mine = play(store, "ana", BEST, started_at="2026-03-01T09:00:00.000Z", front_end="app")
        script = play(store, "ana", BEST, started_at="2026-03-02T09:00:00.000Z", front_end="run-scripted")
    records = Records(db, [mine, script])
    for fmt in ("csv", "jsonl", "xapi"):
        default = export(records, tmp_path, "--format", fmt)
        asked = export(records, tmp_path, "--format", fmt, "--include-scripted")
        assert mine.attempt_id in default and script.attempt_id not in default, fmt
        assert mine.attempt_id in asked and script.attempt_id in asked, fmt
    only = export(records, tmp_path, "--format", "jsonl", "--front-end", "run-scripted")
    assert [json.loads(line)["attempt_id"] for line in only.splitlines()] == [script.attempt_id]
    coach = export(records, tmp_path, "--format", "jsonl", "--mode", "coach")
    assert coach == ""
