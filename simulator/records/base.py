"""What the SQLite and PostgreSQL stores share: the records interface written once, in SQL both
dialects run, over a few primitives each backend provides.

Statements here use ``?`` placeholders (PostgreSQL's backend turns them into ``%s``) and only
SQL both engines read the same way: ``ON CONFLICT`` upserts, ``CAST(? AS TEXT)`` where a
parameter's type must be known, ``CASE`` instead of summing booleans. Every value read back
goes through ``rows``' checked decoder; every write is one committed transaction that a
backend's ``write`` verifies before it returns.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from simulator.records import merge
from simulator.records.errors import StoreError, edited_message
from simulator.records.merge import Plan
from simulator.records.rows import (
    ATTEMPT_COLUMNS,
    DECISION_COLUMNS,
    FLAG_COLUMNS,
    Attempt,
    BadValue,
    DecisionRow,
    FlagRow,
    Progress,
    attempt_from_row,
    check_value,
    decision_from_row,
    flag_from_row,
    grade_columns,
    progress_from_row,
    utc_now,
)

Fetch = Callable[[str, Sequence[Any]], list[Sequence[Any]]]
"""Runs a query inside the current write transaction and returns its rows (for ``verify``)."""
Run = Callable[[str, Sequence[Any]], int]
"""Runs a statement inside the current write transaction and returns the rows it changed."""
T = TypeVar("T")

SELECT_ATTEMPTS = (
    "SELECT " + ", ".join(f"t.{c}" if c == "display_name" else f"a.{c}" for c in ATTEMPT_COLUMNS)
    + " FROM attempts a JOIN trainees t ON t.id = a.trainee_id"
)
SELECT_DECISIONS = "SELECT " + ", ".join(DECISION_COLUMNS) + " FROM decisions"
_STARTED = ("id", *merge.FACTS, "status")
"""The columns an imported attempt starts with (its end and void are set after its decisions)."""
INSERT_DECISION = (
    f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) VALUES ({', '.join('?' * len(DECISION_COLUMNS))})"
)
SELECT_FLAGS = "SELECT " + ", ".join(FLAG_COLUMNS) + " FROM instructor_flags"
PROGRESS_SQL = (
    "SELECT scenario_id, max(coalesce(passed, 0)), max(overall), "
    "sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), count(*), "
    "sum(CASE WHEN status = 'in_progress' THEN 1 ELSE 0 END) "
    "FROM attempts WHERE trainee_id = ? AND front_end <> 'run-scripted' AND voided_at IS NULL GROUP BY scenario_id"
)
"""A trainee's progress per scenario (scripted runs left out: nobody chose), through the
trainee's index only (a per-scenario subquery walked every trainee's attempts of that scenario:
0.5 s on a 100,000-attempt file). Voided attempts do not count."""


class SqlStore:
    """The records interface (``interface.RecordsStore``) over a backend's primitives:
    ``write``/``write_many`` (one verified, committed transaction), ``_query`` (streamed
    rows), ``snapshot`` (one consistent read) and ``_broken_reference``."""

    path: str
    dialect: str

    # ---- the primitives of each backend ----

    def transact(self, work: Callable[[Run, Fetch], T]) -> T:
        """Run ``work(run, fetch)`` in one committed write transaction (retried from the start
        while another writer holds the lock, so ``work`` must only touch the store through
        ``run``/``fetch``). ``run`` executes one statement and returns the rows it changed;
        ``fetch`` returns a query's rows. A StoreError raised by ``work`` rolls everything back;
        the backend's own errors become StoreError (one line)."""
        raise NotImplementedError

    def _lock_attempt(self, run: Run, attempt_id: str) -> None:
        """Inside ``transact``: keep other writers of this attempt's rows out until the commit
        (SQLite's write lock already covers the whole file)."""

    def write(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        expect: int | None = None,
        what: str = "",
        verify: Callable[[Fetch], str | None] | None = None,
    ) -> None:
        """One statement in its own committed transaction. ``expect``: the rows it must change;
        ``verify``: reads the result back inside the transaction and says what is wrong (None:
        all is well). When either fails nothing is committed and StoreError says ``what`` was
        not stored."""

        def work(run: Run, fetch: Fetch) -> None:
            changed = run(sql, params)
            if expect is not None and changed != expect:
                raise StoreError(self._not_stored(what, f"{changed} row(s) changed instead of {expect}"))
            problem = verify(fetch) if verify is not None else None
            if problem is not None:
                raise StoreError(self._not_stored(what, problem))

        self.transact(work)

    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for each of ``rows``, in one committed transaction."""
        raise NotImplementedError

    def _query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Sequence[Any]]:
        raise NotImplementedError

    def snapshot(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _broken_reference(self) -> tuple[str, str, str] | None:
        """The first row whose reference does not hold: (table, row, referenced table)."""
        raise NotImplementedError

    def _not_stored(self, what: str, why: str) -> str:
        return (
            f"{self.path}: {what} was not stored ({why}); nothing was saved: something in the store or another "
            "program interferes: keep a copy and run 'crisis-sim check'"
        )

    # ---- trainees ----

    def ensure_trainee(self, trainee_id: str, display_name: str | None = None) -> None:
        """Create the trainee if new; update the display name when one is given."""
        self.write(
            "INSERT INTO trainees (id, display_name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET display_name = CASE WHEN CAST(? AS TEXT) IS NULL "
            "THEN trainees.display_name ELSE excluded.display_name END",
            (trainee_id, display_name or trainee_id, utc_now(), display_name),
            expect=1,
            what=f"trainee {trainee_id}",
        )

    # ---- attempts ----

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
    ) -> str:
        attempt_id = str(uuid.uuid4())
        self.write(
            "INSERT INTO attempts (id, trainee_id, scenario_id, scenario_version, scenario_sha256, "
            "scenario_path, rubric_id, rubric_sha256, mode, seed, cohort, started_at, status, front_end, "
            "time_pressure, scenario_title) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'in_progress', ?, ?, ?)",
            (attempt_id, trainee_id, scenario_id, scenario_version, scenario_sha256, scenario_path,
             rubric_id, rubric_sha256, mode, seed, cohort, utc_now(), front_end,
             None if time_pressure is None else int(time_pressure), scenario_title),
            expect=1,
            what="the new attempt",
        )
        return attempt_id

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
    ) -> None:
        """Commit one decision (``choice`` None = the timer ran out; ``choice_text`` the option
        as shown; ``said`` what was typed in free-text play) before returning. Inside the
        transaction the backend makes sure the row was stored exactly as written and nothing else
        changed (``_stored_alone``): if anything (a trigger, another program) interfered, nothing
        is committed and StoreError says so."""
        row = (attempt_id, sequence, scene, choice, made_at or utc_now(), response_ms,
               json_text(meters_after), json_text(flags_after), choice_text, said)
        self.write(INSERT_DECISION, row, expect=1, what=f"decision {sequence} of attempt {attempt_id[:8]}",
                   verify=self._stored_alone(row))

    def _stored_alone(self, row: tuple[Any, ...]) -> Callable[[Fetch], str | None]:
        """For ``write``'s ``verify``, just after the one INSERT of decision ``row``: what kept
        it from being stored exactly as written (None: nothing). Here it is read back (the
        PostgreSQL store); SQLite's store counts the rows its transaction changed instead."""

        def read_back(fetch: Fetch) -> str | None:
            stored = [tuple(r) for r in fetch(f"{SELECT_DECISIONS} WHERE attempt_id = ? AND sequence = ?",
                                              (row[0], row[1]))]
            if stored == [row]:
                return None
            return "it is not in the file after the insert" if not stored else "it reads back differently"

        return read_back

    def finish_attempt(self, attempt_id: str, grade: Any) -> None:
        """Mark completed and store the grade (a ``scoring.grading.Grade``) for fast listing."""
        data = grade.as_dict()
        shown = grade_columns(data)
        self.write(
            "UPDATE attempts SET status = 'completed', ended_at = ?, grade_json = ?, overall = ?, passed = ?, "
            "ending_scene = ?, ending_rating = ?, grade_method = ? WHERE id = ?",
            (utc_now(), json_text(data), shown["overall"], int(shown["passed"]), shown["ending_scene"],
             shown["ending_rating"], shown["grade_method"], attempt_id),
            expect=1,
            what=f"the grade of attempt {attempt_id[:8]}",
        )

    def replace_grade(self, attempt_id: str, grade: Any) -> None:
        """Store a recomputed grade (``regrade --upgrade``) of a completed attempt, with the
        columns that copy it; the attempt's times and status stay as they were."""
        data = grade.as_dict()
        shown = grade_columns(data)
        self.write(
            "UPDATE attempts SET grade_json = ?, overall = ?, passed = ?, ending_scene = ?, ending_rating = ?, "
            "grade_method = ? WHERE id = ? AND status = 'completed'",
            (json_text(data), shown["overall"], int(shown["passed"]), shown["ending_scene"], shown["ending_rating"],
             shown["grade_method"], attempt_id),
            expect=1,
            what=f"the recomputed grade of attempt {attempt_id[:8]}",
        )

    def abandon_attempt(self, attempt_id: str) -> None:
        self.write(
            "UPDATE attempts SET status = 'abandoned', ended_at = ? WHERE id = ? AND status = 'in_progress'",
            (utc_now(), attempt_id),
        )

    def void_attempt(self, attempt_id: str, reason: str, by: str) -> Attempt:
        """Mark an attempt void (kept; left out of results, exports and progress unless asked,
        never resumed), recording when, by whom and why. Returns the voided attempt; one
        already void is returned as it is (its first void is kept)."""
        attempt = self.attempt(attempt_id)
        if attempt.void:
            return attempt
        self.write(
            "UPDATE attempts SET voided_at = ?, voided_by = ?, void_reason = ? WHERE id = ? AND voided_at IS NULL",
            (utc_now(), by, reason, attempt.id),
            expect=1,
            what=f"the void of attempt {attempt.id[:8]}",
        )
        return self.attempt(attempt.id)

    def import_attempt(
        self, incoming: Attempt, log: Sequence[DecisionRow], flags: Sequence[FlagRow] = ()
    ) -> Plan:
        """Merge an attempt recorded elsewhere (``merge.plan`` says how), all of it in one
        transaction: its trainee (a new one gets the attempt's display name; an existing one
        keeps theirs), the attempt, its decisions, its end and void, and its instructor flags
        (one already on that decision here is kept, as a stored void is). Everything written is
        read back before the commit; a conflict writes nothing. Returns the plan carried out."""
        log = list(log)

        def work(run: Run, fetch: Fetch) -> Plan:
            self._lock_attempt(run, incoming.id)
            found = [attempt_from_row(r, self.path) for r in fetch(f"{SELECT_ATTEMPTS} WHERE a.id = ?", (incoming.id,))]
            stored = found[0] if found else None
            stored_log = [decision_from_row(r, self.path) for r in fetch(
                f"{SELECT_DECISIONS} WHERE attempt_id = ? ORDER BY sequence", (incoming.id,))]
            todo = merge.plan(stored, stored_log, incoming, log)
            if todo.outcome == merge.CONFLICT:
                return todo
            if todo.outcome == merge.SAME:
                self._import_flags(run, fetch, incoming.id, flags)
                return todo
            what = f"attempt {incoming.id[:8]}"
            if stored is None:
                run("INSERT INTO trainees (id, display_name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    (incoming.trainee_id, incoming.trainee_name or incoming.trainee_id, incoming.started_at))
                values = [getattr(incoming, c) for c in _STARTED]
                values[_STARTED.index("status")] = "in_progress"
                if incoming.time_pressure is not None:  # stored as 0/1 in both dialects
                    values[_STARTED.index("time_pressure")] = int(incoming.time_pressure)
                if run(f"INSERT INTO attempts ({', '.join(_STARTED)}) VALUES ({', '.join('?' * len(_STARTED))})",
                       values) != 1:
                    raise StoreError(self._not_stored(what, "the attempt row was not inserted"))
            for d in todo.new_decisions:
                run(INSERT_DECISION, (d.attempt_id, d.sequence, d.scene, d.choice, d.made_at, d.response_ms,
                     json_text(d.meters_after), json_text(d.flags_after), d.choice_text, d.said))
            if todo.end:
                ended = [getattr(incoming, c) for c in merge.END]
                ended[merge.END.index("passed")] = None if incoming.passed is None else int(incoming.passed)
                if run(f"UPDATE attempts SET {', '.join(c + ' = ?' for c in merge.END)} WHERE id = ?",
                       [*ended, incoming.id]) != 1:
                    raise StoreError(self._not_stored(what, "its end was not stored"))
            void_sql = f"UPDATE attempts SET {', '.join(c + ' = ?' for c in merge.VOID)} WHERE id = ?"
            if todo.void and run(void_sql, [*(getattr(incoming, c) for c in merge.VOID), incoming.id]) != 1:
                raise StoreError(self._not_stored(what, "its void was not stored"))
            self._import_flags(run, fetch, incoming.id, flags)  # after the decisions they refer to
            # read it all back: the stored attempt must now hold everything the file says
            after = [attempt_from_row(r, self.path) for r in fetch(f"{SELECT_ATTEMPTS} WHERE a.id = ?", (incoming.id,))]
            after_log = [decision_from_row(r, self.path) for r in fetch(
                f"{SELECT_DECISIONS} WHERE attempt_id = ? ORDER BY sequence", (incoming.id,))]
            if not after or merge.plan(after[0], after_log, incoming, log).outcome != merge.SAME:
                raise StoreError(self._not_stored(what, "it reads back differently"))
            return todo

        return self.transact(work)

    def _import_flags(self, run: Run, fetch: Fetch, attempt_id: str, flags: Sequence[FlagRow]) -> None:
        """Store an imported attempt's flags in its import transaction; a decision flagged here
        already keeps its flag (a flag is the instructor's, never overwritten from a file)."""
        sql = (f"INSERT INTO instructor_flags ({', '.join(FLAG_COLUMNS)}) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (attempt_id, sequence) DO NOTHING")
        for f in flags:
            run(sql, (attempt_id, f.sequence, f.note, f.flagged_at))
        if flags:
            stored = {r[1] for r in fetch(f"{SELECT_FLAGS} WHERE attempt_id = ?", (attempt_id,))}
            if not {f.sequence for f in flags} <= stored:
                raise StoreError(self._not_stored(f"attempt {attempt_id[:8]}", "its flags were not stored"))

    # ---- instructor flags (never part of the grade) ----

    def flag(self, attempt_id: str, sequence: int, note: str = "") -> None:
        """Flag decision ``sequence`` of an attempt for the trainee's debrief; flagging the same
        moment again replaces its note. The decision must be recorded (StoreError otherwise)."""
        if not any(self._query("SELECT 1 FROM decisions WHERE attempt_id = ? AND sequence = ?",
                               (attempt_id, sequence))):
            raise StoreError(f"attempt {attempt_id[:8]} has no decision {sequence} in {self.path}; "
                             "'crisis-sim results' and the console show the decisions made")
        self.write(
            f"INSERT INTO instructor_flags ({', '.join(FLAG_COLUMNS)}) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (attempt_id, sequence) DO UPDATE SET note = excluded.note, flagged_at = excluded.flagged_at",
            (attempt_id, sequence, note, utc_now()),
            expect=1,
            what=f"the flag on decision {sequence} of attempt {attempt_id[:8]}",
        )

    def unflag(self, attempt_id: str, sequence: int) -> bool:
        """Remove a flag; False when there was none."""
        if not any(self._query("SELECT 1 FROM instructor_flags WHERE attempt_id = ? AND sequence = ?",
                               (attempt_id, sequence))):
            return False
        self.write("DELETE FROM instructor_flags WHERE attempt_id = ? AND sequence = ?", (attempt_id, sequence))
        return True

    def flags_for(self, attempt_ids: Sequence[str]) -> dict[str, list[FlagRow]]:
        """The flags of each attempt, in decision order."""
        return self._by_attempt(SELECT_FLAGS, flag_from_row, attempt_ids)

    # ---- reading ----

    def attempt(self, attempt_id: str) -> Attempt:
        """An attempt by its id, or by a unique prefix of it (at least 6 characters)."""
        rows = self._query(
            f"{SELECT_ATTEMPTS} WHERE a.id = ? OR (length(CAST(? AS TEXT)) >= 6 AND a.id LIKE CAST(? AS TEXT) || '%') "
            "LIMIT 2",
            (attempt_id, attempt_id, attempt_id),
        )
        found = [attempt_from_row(r, self.path) for r in rows]
        if not found:
            raise StoreError(f"no attempt '{attempt_id}' in {self.path}; 'crisis-sim results' lists them")
        if len(found) > 1 and found[0].id != attempt_id:
            raise StoreError(f"'{attempt_id}' matches several attempts; give more of the id")
        return found[0]

    def decisions(self, attempt_id: str) -> list[DecisionRow]:
        return [
            decision_from_row(r, self.path)
            for r in self._query(f"{SELECT_DECISIONS} WHERE attempt_id = ? ORDER BY sequence", (attempt_id,))
        ]

    def attempts(
        self,
        *,
        trainee: str | None = None,
        scenario: str | None = None,
        cohort: str | None = None,
        since: str | None = None,
        until: str | None = None,
        status: str | None = None,
        mode: str | None = None,
        front_end: str | None = None,
        include_scripted: bool = True,
        include_void: bool = False,
    ) -> Iterator[Attempt]:
        """Attempts matching every filter given, oldest first (streamed); voided attempts only
        with ``include_void``; without ``include_scripted``, scripted runs are left out (unless
        ``front_end`` asks for them)."""
        where, params = _filtered(trainee=trainee, scenario=scenario, cohort=cohort, since=since, until=until,
                                  status=status, mode=mode, front_end=front_end, include_scripted=include_scripted,
                                  include_void=include_void)
        for row in self._query(f"{SELECT_ATTEMPTS} {_where(where)} ORDER BY a.started_at, a.id", params):
            yield attempt_from_row(row, self.path)

    def first_graded(self, **filters: Any) -> list[Attempt]:
        """Of the attempts ``attempts(**filters)`` gives that have a stored grade, the first
        (oldest, as ``attempts`` orders them) of each rubric id, rubric hash and grading method,
        oldest first: what a grade's shape depends on, read without walking every attempt in
        Python (the CSV header's dimension columns)."""
        where, params = _filtered(**filters)
        clause = _where([*where, "a.grade_json IS NOT NULL"])
        firsts = (
            "SELECT a.id, row_number() OVER (PARTITION BY a.rubric_id, a.rubric_sha256, a.grade_method "
            "ORDER BY a.started_at, a.id) AS n FROM attempts a JOIN trainees t ON t.id = a.trainee_id "
            f"{clause}"
        )
        sql = (f"{SELECT_ATTEMPTS} WHERE a.id IN (SELECT f.id FROM ({firsts}) f WHERE f.n = 1) "
               "ORDER BY a.started_at, a.id")
        return [attempt_from_row(row, self.path) for row in self._query(sql, params)]

    def newest_attempts(
        self, *, cohort: str | None = None, since: str | None = None, include_scripted: bool = True
    ) -> list[Attempt]:
        """Each trainee's newest attempt (by start, then id) among those ``attempts`` would list
        with these filters, by trainee id: the instructor's console reads this every second, so
        the older attempts are skipped by the database (the trainee index), never read."""
        filters: dict[str, Any] = {"cohort": cohort, "since": since, "include_scripted": include_scripted}
        outer, params = _filtered(**filters)
        inner, inner_params = _filtered(alias="b", **filters)
        newer = _where(["b.trainee_id = a.trainee_id",
                        "(b.started_at > a.started_at OR (b.started_at = a.started_at AND b.id > a.id))", *inner])
        newest = _where([*outer, f"NOT EXISTS (SELECT 1 FROM attempts b {newer})"])
        sql = f"{SELECT_ATTEMPTS} {newest} ORDER BY a.trainee_id"
        return [attempt_from_row(row, self.path) for row in self._query(sql, [*params, *inner_params])]

    def decisions_after(self, last: Mapping[str, int]) -> dict[str, list[DecisionRow]]:
        """For each attempt, its decisions numbered above ``last[attempt]``, in order. Decisions
        are only ever appended, so a reader that keeps the last number it saw reads each
        decision once (the console's poll), through the primary key only."""
        out: dict[str, list[DecisionRow]] = {a: [] for a in last}
        items = list(last.items())
        for start in range(0, len(items), _BATCH):
            chunk = items[start:start + _BATCH]
            clause = " OR ".join(["(attempt_id = ? AND sequence > ?)"] * len(chunk))
            params = [value for pair in chunk for value in pair]
            for row in self._query(f"{SELECT_DECISIONS} WHERE {clause} ORDER BY attempt_id, sequence", params):
                found = decision_from_row(row, self.path)
                out[found.attempt_id].append(found)
        return out

    def decisions_for(self, attempt_ids: Sequence[str]) -> dict[str, list[DecisionRow]]:
        return self._by_attempt(SELECT_DECISIONS, decision_from_row, attempt_ids)

    def _by_attempt(self, select: str, decode: Callable[[Sequence[Any], str], Any],
                    attempt_ids: Sequence[str]) -> dict[str, list[Any]]:
        """The rows of ``select`` (a table keyed by attempt and decision) for each attempt, in
        decision order, each through its checked decoder."""
        out: dict[str, list[Any]] = {a: [] for a in attempt_ids}
        if not attempt_ids:
            return out
        marks = ",".join("?" * len(attempt_ids))
        for row in self._query(f"{select} WHERE attempt_id IN ({marks}) ORDER BY attempt_id, sequence",
                               list(attempt_ids)):
            found = decode(row, self.path)
            out[found.attempt_id].append(found)
        return out

    def display_name(self, trainee_id: str) -> str | None:
        """The name the records hold for a trainee (None: not seen yet)."""
        for row in self._query("SELECT display_name FROM trainees WHERE id = ?", (trainee_id,)):
            try:
                return check_value("trainees", "display_name", row[0])
            except BadValue as bad:
                where = f"trainee {trainee_id}: column display_name"
                raise StoreError(edited_message(self.path, where, str(bad))) from None
        return None

    def known(self, column: str, value: str) -> bool:
        """Whether any attempt has this trainee/scenario/cohort (to tell a typo from 'no results')."""
        assert column in ("trainee_id", "scenario_id", "cohort")
        return any(self._query(f"SELECT 1 FROM attempts WHERE {column} = ? LIMIT 1", (value,)))

    def progress(self, trainee_id: str) -> dict[str, Progress]:
        """Per scenario, one trainee's record (``Progress``: status, best completed score, how
        many attempts, how many unfinished). Scripted runs are left out: nobody chose."""
        out: dict[str, Progress] = {}
        for row in self._query(PROGRESS_SQL, (trainee_id,)):
            scenario_id, progress = progress_from_row(row, self.path, trainee_id)
            out[scenario_id] = progress
        return out

    # ---- preferences ----

    def preferences(self, trainee_id: str) -> dict[str, str]:
        """A trainee's saved preferences (name -> value; what they mean is the app's business)."""
        out = {}
        for name, value in self._query("SELECT name, value FROM preferences WHERE trainee_id = ?", (trainee_id,)):
            if not (isinstance(name, str) and isinstance(value, str)):
                raise StoreError(edited_message(self.path, f"trainee {trainee_id}'s preferences",
                                                "hold a value that is not text"))
            out[name] = value
        return out

    def set_preference(self, trainee_id: str, name: str, value: str) -> None:
        """Save one preference of a (known) trainee, replacing the one before."""
        self.write(
            "INSERT INTO preferences (trainee_id, name, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (trainee_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (trainee_id, name, value, utc_now()),
            expect=1,
            what=f"the preference {name} of trainee {trainee_id}",
        )

    def check_rows(self, batch: int = 500) -> tuple[int, int]:
        """Read every attempt (with its grade) and every decision through the checked decoder,
        as exports would, and check that every row's references hold (an attempt whose trainee
        is gone is missing from every listing: ``_broken_reference``);
        returns (attempts, decisions). StoreError names the first problem."""
        attempts = decisions = 0
        ids: list[str] = []
        with self.snapshot():
            for attempt in self.attempts(include_void=True):
                _ = attempt.grade
                attempts += 1
                ids.append(attempt.id)
                if len(ids) >= batch:
                    decisions += sum(map(len, self.decisions_for(ids).values()))
                    self.flags_for(ids)  # read through the checked decoder, as exports would
                    ids.clear()
            decisions += sum(map(len, self.decisions_for(ids).values()))
            self.flags_for(ids)
            broken = self._broken_reference()
        if broken is not None:
            table, row, parent = broken
            problem = f"refers to a row of {parent} that is not there (listings and exports would leave it out)"
            raise StoreError(edited_message(self.path, f"the {table} table: row {row}", problem))
        return attempts, decisions

    # ---- LRS bookkeeping ----

    def sent_statements(self, lrs: str, statement_ids: Sequence[str]) -> set[str]:
        if not statement_ids:
            return set()
        marks = ",".join("?" * len(statement_ids))
        return {
            r[0]
            for r in self._query(
                f"SELECT statement_id FROM lrs_sent WHERE lrs = ? AND statement_id IN ({marks})",
                [lrs, *statement_ids],
            )
            if isinstance(r[0], str)
        }

    def mark_sent(self, lrs: str, attempt_id: str, statement_ids: Sequence[str], outcome: str) -> None:
        self.write_many(
            "INSERT INTO lrs_sent (statement_id, lrs, attempt_id, sent_at, outcome) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (statement_id, lrs) DO UPDATE SET attempt_id = excluded.attempt_id, "
            "sent_at = excluded.sent_at, outcome = excluded.outcome",
            [(sid, lrs, attempt_id, utc_now(), outcome) for sid in statement_ids],
        )


_BATCH = 200
"""Attempts per ``decisions_after`` query (two parameters each: well under every SQLite's limit)."""


def _where(conditions: Sequence[str]) -> str:
    """``WHERE`` and ``conditions`` joined by ``AND``; empty when there are none."""
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _filtered(
    *,
    alias: str = "a",
    trainee: str | None = None,
    scenario: str | None = None,
    cohort: str | None = None,
    since: str | None = None,
    until: str | None = None,
    status: str | None = None,
    mode: str | None = None,
    front_end: str | None = None,
    include_scripted: bool = True,
    include_void: bool = False,
) -> tuple[list[str], list[Any]]:
    """The conditions (on ``attempts a``, or ``alias``) and their parameters for the filters of
    ``SqlStore.attempts``; ``_where`` joins them."""
    where, params = [] if include_void else [f"{alias}.voided_at IS NULL"], []
    if not include_scripted and front_end is None:
        where.append(f"{alias}.front_end <> 'run-scripted'")
    for column, value in (("trainee_id", trainee), ("scenario_id", scenario), ("cohort", cohort),
                          ("status", status), ("mode", mode), ("front_end", front_end)):
        if value is not None:
            where.append(f"{alias}.{column} = ?")
            params.append(value)
    if since:
        where.append(f"{alias}.started_at >= ?")
        params.append(since)
    if until:
        where.append(f"{alias}.started_at < ?")
        params.append(until)
    return where, params


_JSON = json.JSONEncoder(sort_keys=True)
"""``json.dumps(value, sort_keys=True)`` builds this encoder on every call; one is enough."""


def json_text(value: Any) -> str:
    """How JSON columns are written (sorted keys, so equal values are equal text)."""
    return _JSON.encode(value)
