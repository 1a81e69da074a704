"""What every records store offers: the dialect-neutral interface.

Two backends implement it: the SQLite file (``simulator.records.sqlite.Store``) and PostgreSQL
(``simulator.records.postgresql.PostgresStore``), each with its own migrations
(``schema.MIGRATIONS[dialect]``) and most methods written once in ``base.SqlStore``. Callers
(the recorder, the CLI, the app, the exports) use only what is listed here: plain Python
values in, checked ``Attempt``/``DecisionRow`` rows out, ``StoreError`` (one line) for every
failure. SQL, connections and transactions stay inside each backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from simulator.records.merge import Plan
from simulator.records.rows import Attempt, DecisionRow, FlagRow, Progress


class RecordsStore(Protocol):
    """One open records store (a file or a database)."""

    path: str
    """Where the records live, as shown in messages."""

    dialect: str
    """``"sqlite"`` or ``"postgresql"``: selects the migrations."""

    # opening and checking (``open`` is a classmethod of each backend)
    def close(self) -> None: ...
    def version(self) -> int: ...
    def identity(self) -> str: ...
    def check_integrity(self) -> None: ...
    def check_rows(self, batch: int = 500) -> tuple[int, int]: ...
    def require_writable(self) -> None: ...
    def snapshot(self) -> AbstractContextManager[None]: ...
    def reopen(self) -> RecordsStore: ...
    def __enter__(self) -> RecordsStore: ...
    def __exit__(self, *exc: object) -> None: ...

    # writing: each call is one committed transaction, verified before it returns
    def ensure_trainee(self, trainee_id: str, display_name: str | None = None) -> None: ...
    def start_attempt(
        self,
        trainee_id: str,
        *,
        scenario_id: str,
        scenario_version: str,
        scenario_sha256: str,
        scenario_path: str,
        rubric_id: str,
        rubric_sha256: str,
        mode: str,
        seed: int | None = None,
        cohort: str | None = None,
        front_end: str = "app",
        time_pressure: bool | None = None,
        scenario_title: str | None = None,
    ) -> str: ...
    def record_decision(
        self,
        attempt_id: str,
        sequence: int,
        scene: str,
        choice: str | None,
        *,
        meters_after: dict[str, int],
        flags_after: dict[str, bool],
        response_ms: int | None = None,
        made_at: str | None = None,
        choice_text: str | None = None,
        said: str | None = None,
    ) -> None: ...
    def finish_attempt(self, attempt_id: str, grade: Any) -> None: ...
    def replace_grade(self, attempt_id: str, grade: Any) -> None: ...
    def abandon_attempt(self, attempt_id: str) -> None: ...
    def mark_sent(self, lrs: str, attempt_id: str, statement_ids: Sequence[str], outcome: str) -> None: ...
    def void_attempt(self, attempt_id: str, reason: str, by: str) -> Attempt: ...
    def import_attempt(
        self, incoming: Attempt, log: Sequence[DecisionRow], flags: Sequence[FlagRow] = ()
    ) -> Plan: ...
    def flag(self, attempt_id: str, sequence: int, note: str = "") -> None: ...
    def unflag(self, attempt_id: str, sequence: int) -> bool: ...

    # reading: rows are checked (``rows``), streamed where there can be many
    def attempt(self, attempt_id: str) -> Attempt: ...
    def attempts(
        self,
        *,
        trainee: str | None = None,
        scenario: str | None = None,
        cohort: str | None = None,
        since: str | None = None,
        until: str | None = None,
        status: str | None = None,
        include_void: bool = False,
        mode: str | None = None,
        front_end: str | None = None,
        include_scripted: bool = True,
    ) -> Iterator[Attempt]: ...
    def first_graded(self, **filters: Any) -> list[Attempt]: ...
    def decisions(self, attempt_id: str) -> list[DecisionRow]: ...
    def decisions_for(self, attempt_ids: Sequence[str]) -> dict[str, list[DecisionRow]]: ...
    def flags_for(self, attempt_ids: Sequence[str]) -> dict[str, list[FlagRow]]: ...
    def known(self, column: str, value: str) -> bool: ...
    def display_name(self, trainee_id: str) -> str | None: ...
    def progress(self, trainee_id: str) -> dict[str, Progress]: ...
    def preferences(self, trainee_id: str) -> dict[str, str]: ...
    def set_preference(self, trainee_id: str, name: str, value: str) -> None: ...
    def sent_statements(self, lrs: str, statement_ids: Sequence[str]) -> set[str]: ...
