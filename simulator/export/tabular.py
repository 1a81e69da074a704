"""CSV and JSON Lines exports of the records store, streamed.

``write_csv(store, out, filters)`` writes one row per attempt (``decisions=True``: one row per
decision, the "long" format); ``write_jsonl(store, out, filters)`` writes one JSON object per
attempt with the full grade and the decision log. ``out`` is a text stream opened with
``newline=""`` (the CSV writer ends rows with ``\\r\\n`` itself, as RFC 4180 asks) and UTF-8.
Every column and the JSON shape are documented in docs/records-and-exports.md; change them
only together with that page (and, for JSON, bump ``JSONL_FORMAT``).

Memory stays flat: attempts come from a cursor, decisions are fetched ``batch`` attempts at a
time, and the CSV header's dimension columns come from one grade of each rubric and grading
method (a grade's dimensions depend only on those; the store finds the first of each in one
query). The header query and the rows run in one read transaction, so the export is one
consistent snapshot even while trainees keep playing (WAL lets writers go on meanwhile).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from typing import Any, TextIO

from simulator.export import ExportFilter
from simulator.records import Attempt, DecisionRow, FlagRow, RecordsStore, parse_time

JSONL_FORMAT = "crisis-sim.attempt/1"
"""The ``format`` of every JSON Lines object; bumped when the shape changes incompatibly."""

BATCH = 500
"""Attempts whose decisions are fetched in one query."""

ATTEMPT_COLUMNS = (
    "attempt_id",
    "trainee_id",
    "trainee_name",
    "cohort",
    "scenario_id",
    "scenario_title",
    "scenario_version",
    "scenario_sha256",
    "rubric_id",
    "rubric_sha256",
    "mode",
    "front_end",
    "time_pressure",
    "started_at",
    "ended_at",
    "duration_seconds",
    "status",
    "overall",
    "performance",
    "passed",
    "proficient",
    "ending_scene",
    "ending_rating",
    "critical_errors",
    "grade_method",
    "voided_at",
    "voided_by",
    "void_reason",
)
"""The fixed columns of the one-row-per-attempt CSV; ``dim_<id>`` columns follow."""

DIMENSION_PREFIX = "dim_"

DECISION_COLUMNS = (
    "attempt_id",
    "trainee_id",
    "trainee_name",
    "cohort",
    "scenario_id",
    "sequence",
    "scene",
    "choice",
    "choice_text",
    "kind",
    "made_at",
    "response_ms",
    "meters_after",
    "flags_after",
    "points",
    "value",
    "best_value",
    "critical_error",
    "said",
)
"""The columns of the long CSV (``--decisions``): one row per decision."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
"""What makes a spreadsheet read a cell as a formula: OWASP's CSV injection list, and the NUL
that OWASP ASVS 5.0 (requirement 1.2.10) adds."""
SEPARATORS = (",", ";")
"""Where a spreadsheet may start a new cell inside our text: the comma we write, and the
semicolon that Excel splits on in locales whose list separator is ``;`` (most of Europe)."""
_FORMULA_START = re.compile(
    "(^|[" + re.escape("".join(SEPARATORS)) + r'])(?="*[' + re.escape("".join(FORMULA_STARTS)) + "])"
)


_MAY_MATCH_FIRST = frozenset('"' + "".join(FORMULA_STARTS))
_HAS_SEPARATOR = re.compile("[" + re.escape("".join(SEPARATORS)) + "]").search


def neutralise(cell: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a ``'`` where a cell could start.

    A ``'`` goes in front of the text when it starts (after double quotes, if any: a reader
    takes ``"=x"`` for a quoted ``=x``) with ``=``, ``+``, ``-``, ``@``, a tab, a carriage
    return or a NUL, and after every ``,`` or ``;`` followed by one: ``=HYPERLINK("x")``
    becomes ``'=HYPERLINK("x")`` and ``A;=cmd|' /C calc'!A0`` becomes
    ``A;'=cmd|' /C calc'!A0``. The second rule keeps a cell safe whatever separator the
    reader splits on and whether or not it honours our quoting: a spreadsheet that starts a
    new cell at the ``;`` sees ``'=cmd...``, which is text.

    Only text is touched: numbers we write (``-3`` points, an overall of ``72.5``) stay
    numbers. docs/records-and-exports.md#formula-neutralisation says why this rule.
    """
    # Only text that starts with a quote or a formula start, or holds a separator, can match:
    # checked first, so ids, times and names pay no regular expression (most cells of a row).
    if isinstance(cell, str) and cell and (cell[0] in _MAY_MATCH_FIRST or _HAS_SEPARATOR(cell)):
        return _FORMULA_START.sub(r"\1'", cell)
    return cell


def _bool(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def duration_seconds(attempt: Attempt) -> float | None:
    """Seconds from start to end (milliseconds kept), None while in progress."""
    if not attempt.ended_at:
        return None
    delta = parse_time(attempt.ended_at) - parse_time(attempt.started_at)
    return round(delta.total_seconds(), 3)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def snapshot(store: RecordsStore) -> contextlib.AbstractContextManager[None]:
    """One read transaction around an export: every query sees the same state of the file."""
    return store.snapshot()


def _chunks(attempts: Iterable[Attempt], size: int) -> Iterator[list[Attempt]]:
    """``attempts`` in lists of ``size`` (the last one shorter)."""
    batch: list[Attempt] = []
    for attempt in attempts:
        batch.append(attempt)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _batches(
    attempts: Iterable[Attempt], store: RecordsStore, size: int
) -> Iterator[tuple[Attempt, list[DecisionRow]]]:
    """Each attempt with its decisions, fetched ``size`` attempts at a time."""
    for batch in _chunks(attempts, size):
        found = store.decisions_for([a.id for a in batch])
        for attempt in batch:
            yield attempt, found[attempt.id]


def dimension_ids(store: RecordsStore, filters: ExportFilter) -> list[str]:
    """The dimension ids of every matching graded attempt, in first-seen order (the rubric's
    order for a single rubric). A grade's dimensions depend only on its rubric (id and hash)
    and grading method, so one grade of each is parsed: the store picks the first of each
    (``first_graded``) without the export walking every attempt twice."""
    ids: dict[str, None] = {}
    for attempt in store.first_graded(**asdict(filters)):
        for dim in (attempt.grade or {}).get("dimensions", []):
            ids.setdefault(str(dim["id"]), None)
    return list(ids)


def attempt_row(attempt: Attempt, dims: list[str]) -> list[Any]:
    """One CSV row (before neutralisation): ``ATTEMPT_COLUMNS`` then ``dim_<id>`` scores."""
    grade = attempt.grade
    scores: dict[str, Any] = {}
    critical = ""
    proficient = performance = None
    if grade is not None:
        scores = {str(d["id"]): d.get("score") for d in grade.get("dimensions", [])}
        critical = ";".join(str(c["id"]) for c in grade.get("critical_errors", []))
        proficient = grade.get("proficient")
        performance = grade.get("performance")  # method 2 on; older grades have none
    row = [
        attempt.id,
        attempt.trainee_id,
        attempt.trainee_name,
        attempt.cohort or "",
        attempt.scenario_id,
        attempt.scenario_title or "",
        attempt.scenario_version,
        attempt.scenario_sha256,
        attempt.rubric_id,
        attempt.rubric_sha256,
        attempt.mode,
        attempt.front_end,
        _bool(attempt.time_pressure),
        attempt.started_at,
        attempt.ended_at or "",
        duration_seconds(attempt),
        attempt.status,
        attempt.overall,
        performance,
        _bool(attempt.passed),
        _bool(proficient),
        attempt.ending_scene or "",
        attempt.ending_rating or "",
        critical,
        attempt.grade_method,
        attempt.voided_at,
        attempt.voided_by,
        attempt.void_reason,
    ]
    row += [scores.get(d) for d in dims]
    return ["" if cell is None else cell for cell in row]


def decision_rows(attempt: Attempt, decisions: list[DecisionRow]) -> Iterator[list[Any]]:
    """The long-format rows of one attempt (before neutralisation)."""
    grade = attempt.grade or {}
    reviews = {r["sequence"]: r for r in grade.get("decisions", [])}
    critical = {c["sequence"]: c["id"] for c in grade.get("critical_errors", [])}
    for d in decisions:
        review = reviews.get(d.sequence)
        # the text as recorded; for decisions recorded before schema 4, as the stored grade has it
        text = d.choice_text
        if text is None and d.choice is not None and review is not None:
            chosen = review.get("chosen")
            text = chosen.get("text") if isinstance(chosen, dict) and isinstance(chosen.get("text"), str) else None
        row = [
            attempt.id,
            attempt.trainee_id,
            attempt.trainee_name,
            attempt.cohort,
            attempt.scenario_id,
            d.sequence,
            d.scene,
            d.choice,
            text,
            "timeout" if d.choice is None else "choice",
            d.made_at,
            d.response_ms,
            _json(d.meters_after),
            _json(d.flags_after),
            sum(review["earned"].values()) if review else None,
            review["value"] if review else None,
            review["best_value"] if review else None,
            critical.get(d.sequence),
            d.said,
        ]
        yield ["" if cell is None else cell for cell in row]


def write_csv(
    store: RecordsStore,
    out: TextIO,
    filters: ExportFilter,
    *,
    excel: bool = False,
    decisions: bool = False,
    batch: int = BATCH,
) -> int:
    """Write the CSV export to ``out``; returns the number of rows written (header excluded).

    ``excel`` starts the file with a UTF-8 byte order mark (so Excel reads it as UTF-8);
    ``decisions`` writes one row per decision instead of one per attempt.
    """
    writer = csv.writer(out, lineterminator="\r\n")
    if excel:
        out.write(codecs.BOM_UTF8.decode("utf-8"))
    count = 0
    with snapshot(store):
        if decisions:
            writer.writerow(DECISION_COLUMNS)
            for attempt, rows in _batches(filters.attempts(store), store, batch):
                for row in decision_rows(attempt, rows):
                    writer.writerow([neutralise(c) for c in row])
                    count += 1
        else:
            dims = dimension_ids(store, filters)
            writer.writerow([*ATTEMPT_COLUMNS, *(DIMENSION_PREFIX + d for d in dims)])
            for attempt in filters.attempts(store):
                writer.writerow([neutralise(c) for c in attempt_row(attempt, dims)])
                count += 1
    return count


def attempt_object(attempt: Attempt, decisions: list[DecisionRow], flags: Sequence[FlagRow] = ()) -> dict[str, Any]:
    """The JSON Lines object of one attempt (shape ``JSONL_FORMAT``), with the instructor's
    flags (they never change the grade)."""
    return {
        "format": JSONL_FORMAT,
        "attempt_id": attempt.id,
        "trainee_id": attempt.trainee_id,
        "trainee_name": attempt.trainee_name,
        "cohort": attempt.cohort,
        "scenario_id": attempt.scenario_id,
        "scenario_title": attempt.scenario_title,
        "scenario_version": attempt.scenario_version,
        "scenario_sha256": attempt.scenario_sha256,
        "scenario_path": attempt.scenario_path,
        "rubric_id": attempt.rubric_id,
        "rubric_sha256": attempt.rubric_sha256,
        "mode": attempt.mode,
        "front_end": attempt.front_end,
        "time_pressure": attempt.time_pressure,
        "seed": attempt.seed,
        "started_at": attempt.started_at,
        "ended_at": attempt.ended_at,
        "duration_seconds": duration_seconds(attempt),
        "status": attempt.status,
        "overall": attempt.overall,
        "performance": (attempt.grade or {}).get("performance"),
        "passed": attempt.passed,
        "ending_scene": attempt.ending_scene,
        "ending_rating": attempt.ending_rating,
        "grade_method": attempt.grade_method,
        "grade": attempt.grade,
        "void": None if not attempt.void else {
            "at": attempt.voided_at, "by": attempt.voided_by, "reason": attempt.void_reason
        },
        "decisions": [
            {
                "sequence": d.sequence,
                "scene": d.scene,
                "choice": d.choice,
                "choice_text": d.choice_text,
                "kind": "timeout" if d.choice is None else "choice",
                "made_at": d.made_at,
                "response_ms": d.response_ms,
                "meters_after": d.meters_after,
                "flags_after": d.flags_after,
                "said": d.said,
            }
            for d in decisions
        ],
        "instructor_flags": [
            {"sequence": f.sequence, "note": f.note, "flagged_at": f.flagged_at} for f in flags
        ],
    }


def write_jsonl(store: RecordsStore, out: TextIO, filters: ExportFilter, *, batch: int = BATCH) -> int:
    """Write one JSON object per attempt per line; returns the number of lines.

    The JSON is ASCII-only (other characters as ``\\uXXXX`` escapes), so no character inside a
    string can be mistaken for a line break by any line splitter.
    """
    count = 0
    with snapshot(store):
        for chunk in _chunks(filters.attempts(store), batch):
            ids = [a.id for a in chunk]
            found, flags = store.decisions_for(ids), store.flags_for(ids)
            for attempt in chunk:
                line = attempt_object(attempt, found[attempt.id], flags[attempt.id])
                out.write(json.dumps(line, ensure_ascii=True, separators=(",", ":")))
                out.write("\n")
                count += 1
    return count


__all__ = [
    "ATTEMPT_COLUMNS",
    "DECISION_COLUMNS",
    "JSONL_FORMAT",
    "attempt_object",
    "neutralise",
    "write_csv",
    "write_jsonl",
]
