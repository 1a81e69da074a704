"""Fuzzing the values of a records file, through every command that reads one.

A records file is an ordinary file that other hands can edit with ``sqlite3``. This puts a
generated value (text, BLOBs, huge and negative numbers, infinities, timestamps that are almost
ISO 8601, JSON that is broken, of the wrong shape, or nested thousands deep) into one column of
one row of a real records file, then runs ``results``, ``results --json``, the CSV, JSON Lines
and xAPI exports, ``regrade`` and ``check`` in-process.

Property: each command ends with exit 0 or 1, never "internal error" (70) or a traceback, and a
failure is one ``crisis-sim: error:`` line; ``check`` never says "ok" about a value that another
command refused.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from cli_runner import run_cli
from hypothesis import event, example, given
from hypothesis import strategies as st
from records_factory import passed_failed_running

from simulator.records import Store

COLUMNS = {
    "attempts": ["id", "trainee_id", "scenario_id", "scenario_version", "scenario_sha256", "scenario_path", "rubric_id",
                 "rubric_sha256", "mode", "seed", "cohort", "started_at", "ended_at", "status", "grade_json", "overall",
                 "passed", "ending_scene", "ending_rating", "grade_method", "front_end", "time_pressure",
                 "scenario_title"],
    "decisions": ["attempt_id", "sequence", "scene", "choice", "made_at", "response_ms", "meters_after", "flags_after",
                  "choice_text"],
    "trainees": ["id", "display_name", "created_at"],
}
COMMANDS = [
    ["results"],
    ["results", "--json"],
    ["export", "--format", "csv"],
    ["export", "--format", "csv", "--decisions"],
    ["export", "--format", "jsonl"],
    ["export", "--format", "xapi"],
    ["regrade"],
    ["check"],
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.binary(max_size=16),
    st.sampled_from(["2026-03-01", "2026-02-30T09:00:00Z", "09:00", "2026-03-01T09:00:00+25:00",
                     "0001-01-01T00:00:00-01:00", "9999-12-31T23:59:59Z", "yesterday", ""]),
    json_values.map(json.dumps),
    st.integers(min_value=2, max_value=20_000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=2, max_value=20_000).map(lambda n: '{"overall": ' * n),
)


@pytest.fixture(autouse=True)
def academy_config(isolated_user_dirs, monkeypatch) -> None:
    """An academy with its own site: the xAPI export's placeholder warning is not what is tested."""
    config = isolated_user_dirs / "academy.toml"
    config.write_text('[academy]\nhomepage = "https://academy.example"\nbase_iri = "https://academy.example/xapi"\n')
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(config))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("fuzz-records") / "records.sqlite3"
    with Store.open(db) as store:
        passed_failed_running(store)
    return db


def edit(db: Path, table: str, column: str, row: int, value: object) -> bool:
    """Put ``value`` into ``table.column`` of the ``row``-th row (as another program would:
    constraints off); False when SQLite itself refuses (a duplicate key)."""
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        rowids = [r[0] for r in conn.execute(f"SELECT rowid FROM {table} ORDER BY rowid")]
        try:
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (value, rowids[row % len(rowids)]))
        except sqlite3.IntegrityError:
            return False
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return True


@given(
    table=st.sampled_from(sorted(COLUMNS)),
    pick=st.integers(min_value=0, max_value=99),
    row=st.integers(min_value=0, max_value=30),
    value=values,
)
@example(table="attempts", pick=COLUMNS["attempts"].index("overall"), row=0, value="high")
@example(table="attempts", pick=COLUMNS["attempts"].index("grade_json"), row=0, value="[" * 50_000)
@example(table="decisions", pick=COLUMNS["decisions"].index("sequence"), row=1, value=10**15)
@example(table="trainees", pick=COLUMNS["trainees"].index("display_name"), row=0, value=b"\xc3")
@example(table="attempts", pick=COLUMNS["attempts"].index("scenario_path"), row=0, value="x" * 300)  # too long a name
@example(table="attempts", pick=COLUMNS["attempts"].index("rubric_id"), row=0, value="[" * 300)
def test_any_stored_value_is_a_result_or_one_line(template, tmp_path_factory, table, pick, row, value):
    column = COLUMNS[table][pick % len(COLUMNS[table])]
    db = tmp_path_factory.mktemp("fuzz") / "records.sqlite3"
    shutil.copy(template, db)
    if not edit(db, table, column, row, value):
        event("SQLite refused the edit")
        return
    refused = []
    for command in COMMANDS:
        ran = run_cli([*command, "--db", str(db)], what=f"{table}.{column} = {value!r:.80}")
        shown = f"{table}.{column} = {value!r:.80}: crisis-sim {' '.join(command)} -> {ran.code}: {ran.stderr[-400:]}"
        assert ran.code in (0, 1), shown
        assert "internal error" not in ran.stderr and "Traceback" not in ran.output, shown
        if ran.stderr:
            assert ran.stderr.count("\n") == 1 and ran.stderr.startswith("crisis-sim: error: "), shown
            refused.append(command)
        if command == ["check"] and [c for c in refused if c != ["check"]]:
            assert ran.code == 1, f"check said ok, but {refused[0]} refused: {shown}"
    event(f"refused by {len(refused)} of {len(COMMANDS)} commands")
