"""``crisis-sim report``: the cohort analytics from the command line, on both stores, as text,
CSV (read back with Python's csv) and one self-contained HTML file."""

from __future__ import annotations

import csv
import io
import random
import re

import pytest
from cli_runner import run_cli
from cohort_factory import classroom, graded_library, play_one

from scoring.analytics import analyse

HOSTILE = "<script>alert(1)</script>[@click=app.quit]x[/]\x1b]52;c;aGk=\x07"


@pytest.fixture(scope="module")
def filled(module_store):
    store = module_store.open()
    classroom(store, 10, seed=3)
    # a trainee of another cohort, with a name that must stay text everywhere
    play_one(store, "t-evil", graded_library(("overpass-railing",))[0], 0.5, random.Random(1), cohort="other",
             name="Eve")
    store.write("UPDATE trainees SET display_name = ? WHERE id = 't-evil'", (HOSTILE,))
    attempts = list(store.attempts(cohort="2026-fall"))
    expected = analyse(attempts, store.decisions_for([a.id for a in attempts]))
    store.close()
    return module_store, expected


def test_text_report_shows_every_table_with_counts(filled):
    target, expected = filled
    code, out, err = run_cli(["report", "--db", target.db, "--cohort", "2026-fall"])
    assert code == 0, err
    for title in ("Pass rates per scenario", "Score distribution", "Decisions: facility", "Most-missed",
                  "Critical errors", "Trainee x dimension", "Progress"):
        assert title in out
    s = expected.scenarios[0]
    row = next(line for line in out.splitlines() if line.strip().startswith(s.scenario_id))
    assert f"{s.passed}/{s.completed}" in row and f"{100 * s.pass_rate:.0f}%" in row
    assert "t-evil" not in out  # the cohort filter holds


def test_csv_tables_read_back(filled, tmp_path):
    target, expected = filled
    out = tmp_path / "decisions.csv"
    code, _, err = run_cli(["report", "--db", target.db, "--cohort", "2026-fall", "--format", "csv",
                            "--table", "decisions", "--out", str(out)])
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == len(expected.decisions)
    for row, d in zip(rows, expected.decisions, strict=True):
        assert (row["scenario"], row["decision"], int(row["trainees"]), int(row["chose well"])) == (
            d.scenario_id, d.scene, d.reached, d.good)
        assert float(row["facility"]) == pytest.approx(d.facility, abs=1e-4)
        assert row["discrimination"] == "" if d.discrimination is None else float(row["discrimination"]) == \
            pytest.approx(d.discrimination, abs=1e-4)


def test_html_is_self_contained_and_escapes_records(filled, tmp_path):
    target, _ = filled
    out = tmp_path / "report.html"
    code, _, err = run_cli(["report", "--db", target.db, "--out", str(out)])
    assert code == 0, err
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") >= 4
    assert not re.search(r"<script|javascript:|\bsrc=|\bhref=|url\(|@import|<link|<iframe|<object", html, re.I)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "\x1b" not in html
    assert "@media print" in html


def test_bad_command_lines_are_one_line(filled):
    target, _ = filled
    code, _, err = run_cli(["report", "--db", target.db, "--format", "csv"])
    assert code == 2 and "--table" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["report", "--db", target.db, "--cohort", "nope"])
    assert code == 1 and "cohort 'nope'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["report", "--db", target.db, "--since", "yesterday"])
    assert code == 2 and "not a date" in err


def test_scripted_runs_count_only_when_asked(module_store):
    """The report takes results' and export's filters: a scripted run (nobody chose) is left out
    unless --include-scripted or --front-end run-scripted, and the first line says which."""
    from records_factory import SAMPLE_BEST, play

    with module_store.open() as store:
        play(store, "t-script", SAMPLE_BEST, started_at="2026-04-01T09:00:00.000Z", cohort="scripted",
             front_end="run-scripted")
        play(store, "t-hand", ["order-down"], started_at="2026-04-01T10:00:00.000Z", cohort="scripted")
    base = ["report", "--db", module_store.db, "--cohort", "scripted", "--table", "scenarios"]
    code, out, err = run_cli(base)
    assert code == 0, err
    assert "t-script" not in out and out.splitlines()[0].endswith("; cohort scripted")
    code, shown, err = run_cli([*base, "--table", "progress"])
    assert code == 0 and "t-hand" in shown and "t-script" not in shown, shown + err
    for extra in (["--include-scripted"], ["--front-end", "run-scripted"]):
        code, shown, err = run_cli([*base[:-2], "--table", "progress", *extra])
        assert code == 0 and "t-script" in shown, shown + err
    code, out, err = run_cli([*base, "--include-scripted"])
    assert code == 0 and "include scripted" in out.splitlines()[0]


def test_the_console_without_a_terminal_is_one_line_not_a_hang(tmp_path):
    """Found by the command-line fuzzer: `crisis-sim console` with no terminal (a pipe, cron, a
    script) started the Textual app and never returned."""
    from cli_runner import run_cli

    result = run_cli(["console", "--db", str(tmp_path / "r.sqlite3")])
    assert result.code == 2 and "needs an interactive terminal" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
