"""Reading JSON Lines exports back into a records store (``crisis-sim import``): merging sites.

Each line of a ``--format jsonl`` export is one attempt (``tabular.attempt_object``). Before
anything is stored, a line is checked as strictly as a value read from a records store, and
more: the shape ``crisis-sim.attempt/1`` exactly (a key this version does not know is refused,
not dropped, so nothing is lost by importing with an older crisis-sim), ids by the patterns the
scenario format and the sign-in screen use, names and cohorts by the display-name rule, the
grade by the stored-grade check and against the columns copied from it, decisions numbered 1,
2, ... with kinds that fit their choices. So imported records are as clean as those played
here (no escape sequence, markup or forged shape gets in by this door).

Signed exports: when ``FILE.sig`` is there, the file is checked with the academy key while it
is copied to a private temporary file, and that copy is what is read: the bytes imported are
the bytes verified, whatever happens to the file meanwhile. ``require_signed`` refuses a file
without a signature.

The merge itself (what is new, the same, a continuation or a conflict) is
``simulator.records.merge``; each attempt is stored in one transaction by the store
(``import_attempt``), so a failure leaves no half attempt.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from simulator.config import COHORT_CHARS, DISPLAY_NAME_CHARS, TRAINEE_ID_HELP, is_trainee_id, label_problem
from simulator.export.signing import SigningError, fingerprint, signature_path, verify_file
from simulator.export.tabular import JSONL_FORMAT
from simulator.freetext.core import MAX_TEXT  # typed answers are cut to this when cleaned
from simulator.model import CHOICE_ID, MAX_ID_LENGTH, NAME, SLUG
from simulator.records.base import json_text
from simulator.records.rows import (
    FRONT_ENDS,
    MAX_SEQUENCE,
    STATUSES,
    Attempt,
    BadValue,
    DecisionRow,
    FlagRow,
    check_value,
    grade_columns,
    grade_problem,
    note_problem,
)
from simulator.safefile import open_regular
from simulator.safetext import unsafe_chars

MAX_LINE_BYTES = 64 << 20
"""The longest line read (an attempt at the 1,000-decision limit with its grade is about 2 MB)."""
REASON_CHARS = 200
"""The longest void reason."""
TEXT_CHARS = 200
CHOICE_TEXT_CHARS = 2000
"""A choice's text as shown (a spoken line can run to a few sentences)."""
"""The longest scenario version or mode label."""
PATH_CHARS = 4096
SHOWN_BAD_LINES = 10
"""Bad lines named one by one in a file; the rest are counted."""


class ImportRefused(Exception):
    """A whole file cannot be imported (unsigned with --require-signed, a bad signature, not an
    export at all); the message is one line, and nothing of the file was imported."""


# ---- one line, checked ----


def _label(limit: int, what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = label_problem(value, limit)
        if problem:
            raise ValueError(f"the {what} {problem}")
        return value

    return check


def _trainee(value: str) -> str:
    if not is_trainee_id(value):
        raise ValueError(f"not a trainee id ({TRAINEE_ID_HELP})")
    return value


def _uuid(value: str) -> str:
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        canonical = ""
    if canonical != value:
        raise ValueError("not an attempt id (a UUID like 959c8a92-c502-428e-86fb-c350fa05f980)")
    return value


def _stored(column: str) -> Callable[[Any], Any]:
    """The records store's own check of ``attempts.column`` (times, scores, ...)."""

    def check(value: Any) -> Any:
        try:
            return check_value("attempts", column, value)
        except BadValue as bad:
            raise ValueError(str(bad)) from None

    return check


def _path(value: str) -> str:
    if len(value) > PATH_CHARS or unsafe_chars(value):
        raise ValueError("not a file path (control or bidi characters, or too long)")
    return value


def _id(pattern: str) -> Any:
    return Annotated[str, StringConstraints(pattern=pattern, max_length=MAX_ID_LENGTH)]


Time = Annotated[str, AfterValidator(_stored("started_at"))]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Void(_Strict):
    at: Time
    by: Annotated[str, AfterValidator(_label(DISPLAY_NAME_CHARS, "name of who voided it"))]
    reason: Annotated[str, AfterValidator(_label(REASON_CHARS, "reason"))]


class _Decision(_Strict):
    sequence: Annotated[int, Field(ge=1, le=MAX_SEQUENCE)]
    scene: _id(NAME)
    choice: _id(CHOICE_ID) | None
    kind: Literal["choice", "timeout"]
    made_at: Time
    response_ms: Annotated[int, Field(ge=0, lt=2**53)] | None
    meters_after: dict[str, int]
    flags_after: dict[str, bool]
    choice_text: Annotated[str, AfterValidator(_label(CHOICE_TEXT_CHARS, "choice text"))] | None = None
    """The option's text as shown (records schema 4; older exports have none)."""
    said: Annotated[str, AfterValidator(_label(MAX_TEXT, "typed answer"))] | None = None
    """What the trainee typed in free-text play (records schema 5; older exports have none)."""


def _note(value: str) -> str:
    problem = note_problem(value)
    if problem:
        raise ValueError(f"the note {problem}")
    return value


class _Flag(_Strict):
    sequence: Annotated[int, Field(ge=1, le=MAX_SEQUENCE)]
    note: Annotated[str, AfterValidator(_note)]
    flagged_at: Time


class _Exported(_Strict):
    """One line of a JSON Lines export (``docs/records-and-exports.md``, JSON Lines export)."""

    format: Literal["crisis-sim.attempt/1"]
    attempt_id: Annotated[str, AfterValidator(_uuid)]
    trainee_id: Annotated[str, AfterValidator(_trainee)]
    trainee_name: Annotated[str, AfterValidator(_label(DISPLAY_NAME_CHARS, "display name"))]
    cohort: Annotated[str, AfterValidator(_label(COHORT_CHARS, "cohort"))] | None
    scenario_id: _id(SLUG)
    scenario_version: Annotated[str, AfterValidator(_label(TEXT_CHARS, "scenario version"))]
    scenario_sha256: Sha256
    scenario_path: Annotated[str, AfterValidator(_path)]
    rubric_id: _id(NAME)
    rubric_sha256: Sha256
    mode: Annotated[str, AfterValidator(_label(TEXT_CHARS, "mode"))]
    front_end: Literal[FRONT_ENDS] = "app"  # type: ignore[valid-type]
    time_pressure: bool | None = None
    scenario_title: Annotated[str, AfterValidator(_label(TEXT_CHARS, "scenario title"))] | None = None
    seed: Annotated[int, Field(ge=-(2**63), lt=2**63)] | None
    started_at: Time
    ended_at: Time | None
    duration_seconds: float | None
    status: Literal[STATUSES]  # type: ignore[valid-type]
    overall: Annotated[float, AfterValidator(_stored("overall"))] | None
    performance: float | None
    """Derived from ``grade`` (checked against it, not stored apart)."""
    passed: bool | None
    ending_scene: _id(NAME) | None
    ending_rating: Literal["good", "acceptable", "poor"] | None
    grade_method: int | None
    grade: dict[str, Any] | None
    decisions: list[_Decision]
    void: _Void | None = None
    instructor_flags: list[_Flag] = []
    """Absent from exports made before flags existed."""

    @model_validator(mode="after")
    def _consistent(self) -> _Exported:
        if (self.ended_at is None) != (self.status == "in_progress"):
            raise ValueError(f"ended_at is {'empty' if self.ended_at is None else 'set'} for an attempt "
                             f"{self.status.replace('_', ' ')}")
        if (self.grade is None) != (self.status != "completed"):
            raise ValueError(f"grade is {'missing' if self.grade is None else 'there'} for an attempt "
                             f"{self.status.replace('_', ' ')}")
        shown = {"overall": self.overall, "passed": self.passed, "ending_scene": self.ending_scene,
                 "ending_rating": self.ending_rating, "grade_method": self.grade_method}
        if self.grade is not None:
            problem = grade_problem(self.grade)
            if problem is not None:
                raise ValueError(f"grade {problem}")
            expected = grade_columns(self.grade)
        else:
            expected = dict.fromkeys(shown)
        shown["performance"] = self.performance
        expected["performance"] = (self.grade or {}).get("performance")
        for key, value in shown.items():
            if value != expected[key]:
                raise ValueError(f"{key} is {json.dumps(value)}, but its grade says {json.dumps(expected[key])}")
        for number, decision in enumerate(self.decisions, 1):
            if decision.sequence != number:
                raise ValueError(f"decision {number} is numbered {decision.sequence} (decisions go 1, 2, 3, ...)")
            if (decision.kind == "timeout") != (decision.choice is None):
                raise ValueError(f"decision {number} is a {decision.kind} with choice {json.dumps(decision.choice)}")
        flagged = [f.sequence for f in self.instructor_flags]
        if flagged != sorted(set(flagged)) or any(n > len(self.decisions) for n in flagged):
            raise ValueError(f"instructor_flags {flagged} are not distinct decisions of the {len(self.decisions)} "
                             "in order")
        return self

    def rows(self, source: str) -> tuple[Attempt, list[DecisionRow], list[FlagRow]]:
        """The attempt, its decisions and its flags as the records store keeps them."""
        void = self.void
        attempt = Attempt(
            self.attempt_id, self.trainee_id, self.scenario_id, self.scenario_version, self.scenario_sha256,
            self.scenario_path, self.rubric_id, self.rubric_sha256, self.mode, self.seed, self.cohort,
            self.started_at, self.ended_at, self.status, self.overall, self.passed, self.ending_scene,
            self.ending_rating, None if self.grade is None else json_text(self.grade), self.grade_method,
            voided_at=void.at if void else None, voided_by=void.by if void else None,
            void_reason=void.reason if void else None, front_end=self.front_end,
            time_pressure=self.time_pressure, scenario_title=self.scenario_title,
            trainee_name=self.trainee_name, source=source,
        )
        decisions = [
            DecisionRow(self.attempt_id, d.sequence, d.scene, d.choice, d.made_at, d.response_ms,
                        dict(d.meters_after), dict(d.flags_after), d.choice_text, d.said)
            for d in self.decisions
        ]
        flags = [FlagRow(self.attempt_id, f.sequence, f.note, f.flagged_at) for f in self.instructor_flags]
        return attempt, decisions, flags


@dataclass(frozen=True)
class Line:
    """One attempt read from a file, ready for ``RecordsStore.import_attempt``."""

    number: int
    attempt: Attempt
    decisions: list[DecisionRow]
    flags: list[FlagRow]


@dataclass(frozen=True)
class BadLine:
    number: int
    problem: str
    """What is wrong with it and what to do, one clause (the caller names file:line)."""


AGAIN = "export it again with 'crisis-sim export --format jsonl'"


def _problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in error["loc"])
    message = " ".join(str(error["msg"]).removeprefix("Value error, ").split())
    if error["type"] == "extra_forbidden":
        return (f"it holds '{where}', which is not part of {JSONL_FORMAT} (an export from a newer crisis-sim?); "
                "upgrade crisis-sim to import it")
    if error["type"] == "literal_error" and where == "format":
        return f"its format is {json.dumps(error['input'])[:60]}, not {JSONL_FORMAT}; upgrade crisis-sim to import it"
    if error["type"] in ("json_invalid", "model_type"):
        return f"it is not a JSON object ({message}); {AGAIN}"
    return f"not a crisis-sim attempt ({where + ': ' if where else ''}{message}); {AGAIN}"


def parse_line(raw: bytes, number: int, source: str) -> Line | BadLine:
    """One line of an export as the store's rows, or what is wrong with it."""
    try:
        exported = _Exported.model_validate_json(raw)
    except ValidationError as exc:
        return BadLine(number, _problem(exc))
    return Line(number, *exported.rows(source))


def lines(stream: BinaryIO, source: str) -> Iterator[Line | BadLine]:
    """Every non-blank line of ``stream``, parsed, without holding more than one line in memory."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield BadLine(number, f"it is longer than {MAX_LINE_BYTES >> 20} MB, which no attempt is; {AGAIN}")
            continue
        if raw.strip():
            yield parse_line(raw, number, source)


# ---- a whole file, its signature checked ----


@contextlib.contextmanager
def open_export(path: Path, *, key: Callable[[], bytes], require_signed: bool) -> Iterator[tuple[BinaryIO, str]]:
    """The bytes to import from ``path`` and how they were checked (``signed, key F`` or ``not
    signed``). With ``FILE.sig`` beside it, the file is verified with the academy key
    (``key()``) while copied to a private temporary file, and that copy is read. ImportRefused
    (one line) for a file that is missing, not a regular file, unsigned under
    ``require_signed``, or that fails its signature."""
    sig = signature_path(path)
    with contextlib.ExitStack() as stack:
        try:
            if sig.exists() or sig.is_symlink():
                academy_key = key()
                copy = stack.enter_context(tempfile.TemporaryFile(prefix="crisis-sim-import-"))
                verdict = verify_file(path, academy_key, copy_to=copy)
                if not verdict.ok:
                    raise ImportRefused(f"{verdict.message}; nothing of it was imported")
                copy.seek(0)
                checked: tuple[BinaryIO, str] = (copy, f"signed, key {fingerprint(academy_key)}")
            elif require_signed:
                raise ImportRefused(
                    f"{path}: not signed (no {sig}), and --require-signed takes signed exports only; nothing of it "
                    "was imported: ask for an export made with 'crisis-sim export --format jsonl --sign'"
                )
            else:
                checked = (stack.enter_context(open_regular(path)), "not signed")
        except SigningError as exc:
            raise ImportRefused(f"{exc}; nothing of {path} was imported") from None
        except FileNotFoundError:
            raise ImportRefused(f"no file at {path}") from None
        except OSError as exc:
            raise ImportRefused(f"cannot read {path} ({exc.strerror or exc}); nothing of it was imported") from None
        yield checked


__all__ = ["BadLine", "ImportRefused", "Line", "lines", "open_export", "parse_line"]
