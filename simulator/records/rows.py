"""The rows the records store hands out, and the one checked decoder for every stored value.

A records file is an ordinary file: other hands (a trainee with ``sqlite3``, a broken disk, a
careless script) can leave any value in any column, whatever SQLite's column type says (text in
``overall``, a BLOB as a name, ``grade_json`` nested 100,000 levels deep). Every value read back
passes through this module before anything shows, exports or grades it: each column is checked
for its type and shape, and a value crisis-sim never writes is one ``StoreError`` line naming the
file, the attempt and the column, never a crash further on. Backends (SQLite now, PostgreSQL
later) build rows only through ``attempt_from_row`` / ``decision_from_row``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, TypeAdapter, ValidationError

from simulator.records.errors import StoreError, edited_message

MAX_SEQUENCE = 999_999
"""The highest decision number a record may hold (exports number their final statements above
it: ``simulator.export.xapi.COMPLETED_SEQUENCE``)."""

STATUSES = ("in_progress", "completed", "abandoned")

FRONT_ENDS = ("app", "run", "run-scripted")
"""What recorded an attempt: the trainee app, ``crisis-sim run`` played by hand, or a scripted
``run`` (``--choose``, ``--timeout-at``, ``--policy``: nobody chose; never counted as a pass
unless asked, ``--include-scripted``)."""
MODES = ("assessment", "coach")
"""How an attempt was played: feedback at the end, or after each choice."""


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2026-11-26T15:04:05.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """A stored time as an aware UTC datetime (a time without an offset is UTC). ValueError
    when ``text`` is not ISO 8601 or cannot be expressed in UTC (year 1 with a positive offset)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the range of UTC times") from None


@dataclass(frozen=True)
class Attempt:
    id: str
    trainee_id: str
    scenario_id: str
    scenario_version: str
    scenario_sha256: str
    scenario_path: str
    rubric_id: str
    rubric_sha256: str
    mode: str
    seed: int | None
    cohort: str | None
    started_at: str
    ended_at: str | None
    status: str
    overall: float | None
    passed: bool | None
    ending_scene: str | None
    ending_rating: str | None
    grade_json: str | None
    grade_method: int | None
    voided_at: str | None = None
    """When the attempt was voided (``crisis-sim void``); None: it counts."""
    voided_by: str | None = None
    void_reason: str | None = None
    front_end: str = "app"
    time_pressure: bool | None = None
    """Whether timed scenes counted down (None: not recorded, before records schema 4)."""
    scenario_title: str | None = None
    """The scenario's title when the attempt started (None before records schema 4)."""
    trainee_name: str = ""
    source: str = field(default="", repr=False, compare=False)
    """The records file the row came from (named when ``grade`` finds a bad value)."""

    @property
    def scripted(self) -> bool:
        """Nobody chose: a scripted ``run`` (never a pass in listings and exports unless asked)."""
        return self.front_end == "run-scripted"

    @property
    def title(self) -> str:
        """The scenario's title as recorded, else its id."""
        return self.scenario_title or self.scenario_id

    @cached_property
    def grade(self) -> dict[str, Any] | None:
        """The stored grade, checked for the shape every reader relies on (decoded once, on
        first use: listings never pay for it). StoreError when it is not one crisis-sim wrote."""
        if self.grade_json is None:
            return None
        return decode_grade(self.grade_json, self.source, self.id)

    @property
    def void(self) -> bool:
        """Voided: kept, but left out of results, exports and progress unless asked for."""
        return self.voided_at is not None


@dataclass(frozen=True)
class DecisionRow:
    attempt_id: str
    sequence: int
    scene: str
    choice: str | None
    made_at: str
    response_ms: int | None
    meters_after: dict[str, int]
    flags_after: dict[str, bool]
    choice_text: str | None = None
    """The chosen option's text as the trainee saw it (None: a timeout, or before schema 4)."""
    said: str | None = None
    """What the trainee typed before confirming this choice in free-text play (personal data;
    None: not free-text play, a timeout, or before records schema 6)."""


@dataclass(frozen=True)
class Progress:
    """One trainee's record at one scenario, for the library (scripted runs left out)."""

    status: str
    """'passed' if any attempt passed, else 'completed' if any was, else 'in progress' (or
    'abandoned' when every attempt was discarded)."""
    best: float | None
    attempts: int
    unfinished: int


@dataclass(frozen=True)
class FlagRow:
    """A moment an instructor flagged: a decision of an attempt, with an optional note. Shown in
    the trainee's debrief and exported; never read by grading."""

    attempt_id: str
    sequence: int
    note: str
    flagged_at: str


NOTE_MAX = 500
"""The longest instructor note, in characters."""


def note_problem(note: str) -> str | None:
    """Why ``note`` cannot be an instructor's note (shown in a trainee's debrief, a terminal and
    exports), or None: at most ``NOTE_MAX`` characters, one line, printable characters only
    (the display-name rule, ``config.label_problem``); empty is fine (a flag without a note)."""
    if not note:
        return None
    from simulator.config import label_problem

    problem = label_problem(note, NOTE_MAX)
    return None if problem == "is empty" else problem


# ---- the checks, one per kind of column ----


class BadValue(ValueError):
    """A value that fails its column's check; the message says what it holds instead."""


def _shown(value: Any) -> str:
    if isinstance(value, bytes):
        return f"a BLOB of {len(value)} bytes"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _as_is(check: Callable[[Any], Any], *types: type) -> Callable[[Any], Any]:
    """Mark ``check`` as giving back unchanged every value of exactly one of ``types`` (not a
    subclass): ``_decode`` takes such values without calling it, which is most of a row and
    most of what reading costs in a large export."""
    check.as_is = frozenset(types)  # type: ignore[attr-defined]
    return check


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise BadValue(f"holds {_shown(value)}, not text")
    return value


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return _as_is(lambda value: None if value is None else check(value), type(None), *getattr(check, "as_is", ()))


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadValue(f"holds {_shown(value)}, not a whole number")
    return value


_as_is(_text, str)
_as_is(_integer, int)  # exactly int: a bool (an int subclass) still goes through the check


def _time(value: Any) -> str:
    text = _text(value)
    try:
        parse_time(text)
    except ValueError:
        raise BadValue(f"holds {_shown(value)}, not an ISO 8601 time") from None
    return text


def _status(value: Any) -> str:
    if value not in STATUSES:
        raise BadValue(f"holds {_shown(value)}, not one of {', '.join(STATUSES)}")
    return value


def _score(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise BadValue(f"holds {_shown(value)}, not a number")
    if not 0 <= value <= 100:
        raise BadValue(f"holds {value}, not a score from 0 to 100")
    return float(value)


def _flag(value: Any) -> bool:
    if value not in (0, 1) or not isinstance(value, int):
        raise BadValue(f"holds {_shown(value)}, not 0 or 1")
    return bool(value)


def _one_of(values: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in values or not isinstance(value, str):
            raise BadValue(f"holds {_shown(value)}, not one of {', '.join(values)}")
        return value

    return check


def _sequence(value: Any) -> int:
    number = _integer(value)
    if not 1 <= number <= MAX_SEQUENCE:
        raise BadValue(f"holds {_shown(value)}, not a decision number from 1 to {MAX_SEQUENCE:,}")
    return number


def _milliseconds(value: Any) -> int:
    number = _integer(value)
    if not 0 <= number < 2**53:
        raise BadValue(f"holds {_shown(value)}, not a number of milliseconds")
    return number


def _json_of(adapter: TypeAdapter[Any], what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        text = _text(value)
        try:
            return adapter.validate_json(text)
        except ValidationError as exc:
            raise BadValue(f"is not {what} ({_first_problem(exc)})") from None

    return check


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in error["loc"])
    message = " ".join(str(error["msg"]).split())
    return f"{where}: {message}" if where else message


_METERS = TypeAdapter(dict[StrictStr, StrictInt])
_FLAGS = TypeAdapter(dict[StrictStr, StrictBool])

_ATTEMPT_CHECKS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("id", _text),
    ("trainee_id", _text),
    ("scenario_id", _text),
    ("scenario_version", _text),
    ("scenario_sha256", _text),
    ("scenario_path", _text),
    ("rubric_id", _text),
    ("rubric_sha256", _text),
    ("mode", _text),
    ("seed", _optional(_integer)),
    ("cohort", _optional(_text)),
    ("started_at", _time),
    ("ended_at", _optional(_time)),
    ("status", _status),
    ("overall", _optional(_score)),
    ("passed", _optional(_flag)),
    ("ending_scene", _optional(_text)),
    ("ending_rating", _optional(_text)),
    ("grade_json", _optional(_text)),  # its shape is checked on first use: Attempt.grade
    ("grade_method", _optional(_integer)),
    ("voided_at", _optional(_time)),
    ("voided_by", _optional(_text)),
    ("void_reason", _optional(_text)),
    ("front_end", _one_of(FRONT_ENDS)),
    ("time_pressure", _optional(_flag)),
    ("scenario_title", _optional(_text)),
    ("display_name", _text),
)
ATTEMPT_COLUMNS = tuple(name for name, _ in _ATTEMPT_CHECKS)
"""The columns ``attempt_from_row`` expects, in order (``display_name`` from ``trainees``)."""

_DECISION_CHECKS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("attempt_id", _text),
    ("sequence", _sequence),
    ("scene", _text),
    ("choice", _optional(_text)),
    ("made_at", _time),
    ("response_ms", _optional(_milliseconds)),
    ("meters_after", _json_of(_METERS, "a JSON object of whole numbers")),
    ("flags_after", _json_of(_FLAGS, "a JSON object of true/false values")),
    ("choice_text", _optional(_text)),
    ("said", _optional(_text)),
)
DECISION_COLUMNS = tuple(name for name, _ in _DECISION_CHECKS)
"""The columns ``decision_from_row`` expects, in order."""


def check_value(table: str, column: str, value: Any) -> Any:
    """``value`` through the check of ``table.column`` (``attempts``, ``decisions``, or a
    trainee's ``display_name``), for values
    that arrive from elsewhere before they are stored (``crisis-sim import``): the same rule as
    for a value read back. BadValue says what it holds instead."""
    if table == "trainees":
        return _text(value)  # display_name: text, as ``attempts.display_name`` reads it
    checks = dict(_ATTEMPT_CHECKS if table == "attempts" else _DECISION_CHECKS)
    return checks[column](value)


_FLAG_CHECKS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("attempt_id", _text),
    ("sequence", _sequence),
    ("note", _text),
    ("flagged_at", _time),
)
FLAG_COLUMNS = tuple(name for name, _ in _FLAG_CHECKS)
"""The columns ``flag_from_row`` expects, in order."""


def _attempt_label(attempt_id: Any) -> str:
    return f"attempt {attempt_id[:8]}" if isinstance(attempt_id, str) else f"the attempt with id {_shown(attempt_id)}"


_Plan = tuple[tuple[str, Callable[[Any], Any], frozenset[type]], ...]


def _plan(checks: Sequence[tuple[str, Callable[[Any], Any]]]) -> _Plan:
    """``checks`` with the types each gives back unchanged (``_as_is``), for ``_decode``."""
    return tuple((column, check, getattr(check, "as_is", frozenset())) for column, check in checks)


_ATTEMPT_PLAN, _DECISION_PLAN, _FLAG_PLAN = _plan(_ATTEMPT_CHECKS), _plan(_DECISION_CHECKS), _plan(_FLAG_CHECKS)
_PROGRESS_PLAN = _plan((("scenario_id", _text), ("passed", _flag), ("overall", _optional(_score)),
                        ("completed", _integer), ("attempts", _integer), ("in_progress", _integer)))


def _decode(plan: _Plan, row: Sequence[Any], path: str, where: Callable[[], str]) -> list[Any]:
    """``row`` through the checks of ``plan``; ``where`` names the row (made only for an error
    message)."""
    values = []
    for (column, check, as_is), value in zip(plan, row, strict=True):
        if type(value) in as_is:
            values.append(value)
            continue
        try:
            values.append(check(value))
        except BadValue as bad:
            raise StoreError(edited_message(path, f"{where()}: column {column}", str(bad))) from None
    return values


def attempt_from_row(row: Sequence[Any], path: str) -> Attempt:
    """An ``Attempt`` from the values of ``ATTEMPT_COLUMNS``, each checked."""
    values = _decode(_ATTEMPT_PLAN, row, path, lambda: _attempt_label(row[0]))
    attempt = Attempt(*values, source=path)
    void = (attempt.voided_at, attempt.voided_by, attempt.void_reason)
    if any(v is None for v in void) and any(v is not None for v in void):
        column = ("voided_at", "voided_by", "void_reason")[void.index(None)]
        problem = "is empty, but the attempt is marked void (voided_at, voided_by and void_reason go together)"
        raise StoreError(edited_message(path, f"{_attempt_label(attempt.id)}: column {column}", problem))
    return attempt


def decision_from_row(row: Sequence[Any], path: str) -> DecisionRow:
    """A ``DecisionRow`` from the values of ``DECISION_COLUMNS``, each checked."""
    return DecisionRow(*_decode(_DECISION_PLAN, row, path,
                                lambda: f"{_attempt_label(row[0])}, decision {_shown(row[1])}"))


def flag_from_row(row: Sequence[Any], path: str) -> FlagRow:
    """A ``FlagRow`` from the values of ``FLAG_COLUMNS``, each checked (a note is text; its
    characters are made safe where it is shown)."""
    return FlagRow(*_decode(_FLAG_PLAN, row, path,
                            lambda: f"{_attempt_label(row[0])}, flag at decision {_shown(row[1])}"))


def progress_from_row(row: Sequence[Any], path: str, trainee_id: str) -> tuple[str, Progress]:
    """One row of ``Store.progress``: (scenario id, any passed, best score, completed, attempts,
    in progress), each checked, as the scenario id and its ``Progress``."""
    where = f"trainee {trainee_id}'s attempts"
    scenario_id, passed, best, done, attempts, unfinished = _decode(_PROGRESS_PLAN, row, path, lambda: where)
    status = "passed" if passed else "completed" if done else "in progress" if unfinished else "abandoned"
    return scenario_id, Progress(status, best, attempts, unfinished)


# ---- the stored grade ----

_Number = Annotated[float, Field(allow_inf_nan=False)]


class _Part(BaseModel):
    # Other keys are accepted and not kept: the model only checks (``decode_grade`` returns the
    # parsed dict), and copying every review's extra keys into the model doubled the check's cost.
    model_config = ConfigDict(extra="ignore", strict=True)


class _Dimension(_Part):
    id: StrictStr
    score: Annotated[float, Field(allow_inf_nan=False, ge=0, le=100)] | None = None


class _Critical(_Part):
    id: StrictStr
    sequence: StrictInt


class _Review(_Part):
    sequence: StrictInt
    earned: dict[StrictStr, StrictInt]
    value: _Number
    best_value: _Number


class _Ending(_Part):
    scene: StrictStr
    rating: StrictStr


class _Grade(_Part):
    """What every reader of a stored grade relies on (exports, regrade); other keys may be there."""

    overall: Annotated[float, Field(allow_inf_nan=False, ge=0, le=100)]
    passed: StrictBool
    proficient: StrictBool | None = None
    method: StrictInt | None = None
    dimensions: list[_Dimension] = []
    critical_errors: list[_Critical] = []
    decisions: list[_Review] = []
    ending: _Ending | None = None


def decode_grade(text: str, path: str, attempt_id: str) -> dict[str, Any]:
    """The grade stored as ``text`` (``grade_json``), as a plain dict, after checking its shape.
    Nesting is bounded by the JSON parser (no RecursionError on a 100,000-deep value)."""
    where = f"{_attempt_label(attempt_id)}: column grade_json"
    try:
        data = pydantic_core.from_json(text)
    except ValueError as exc:
        raise StoreError(edited_message(path, where, f"is not JSON ({' '.join(str(exc).split())})")) from None
    problem = grade_problem(data)
    if problem is not None:
        raise StoreError(edited_message(path, where, problem))
    return data


def grade_problem(data: Any) -> str | None:
    """What keeps ``data`` from being a grade every reader can rely on (None: it is one)."""
    if not isinstance(data, dict):
        return f"holds {type(data).__name__}, not a grade object"
    try:
        _Grade.model_validate(data)
    except ValidationError as exc:
        return f"is not a grade ({_first_problem(exc)})"
    return None


def grade_columns(grade: dict[str, Any]) -> dict[str, Any]:
    """The copies of grade fields a store keeps beside ``grade_json`` for listing (``results``,
    CSV, the library screen): one definition for writing them and for ``regrade``'s comparison."""
    ending = grade.get("ending") or {}
    return {
        "overall": grade["overall"],
        "passed": bool(grade["passed"]),
        "ending_scene": ending.get("scene"),
        "ending_rating": ending.get("rating"),
        "grade_method": grade.get("method"),
    }
