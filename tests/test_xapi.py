"""xAPI statements from real plays of the bundled sample, and sending them to a fake LRS (an
http.server on 127.0.0.1, started and stopped by each test) that fails in every way an LRS can:
500s, hangs, dropped connections, refused credentials, rejected statements, redirects."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import re
import threading
import tracemalloc
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from records_factory import NullSink, Played, copy_attempts, passed_failed_running, response_ms
from scenario_factory import SAMPLE, SAMPLE_BEST

from scoring.catalog import load_graded
from simulator.config import AcademySettings, Config, LrsSettings
from simulator.export import ExportError, ExportFilter
from simulator.export.lrs import LrsError, LrsReport, lrs_reason, send_to_lrs
from simulator.export.xapi import (
    COMPLETED_SEQUENCE,
    STATEMENT_NAMESPACE,
    VERDICT_SEQUENCE,
    iso_duration,
    statement_id,
    statements,
    write_statements,
)
from simulator.records import Store, open_store

BEST = SAMPLE_BEST
ACADEMY = AcademySettings(homepage="https://academy.example", base_iri="https://academy.example/xapi/")
BASE = "https://academy.example/xapi"
USER, PASSWORD = "coordinator", "s3cret-Pa55"
VERB = "http://adlnet.gov/expapi/verbs/"
DURATION = re.compile(r"PT(\d+H)?(\d+M)?(\d+(\.\d{1,2})?S)?\Z")


def config(batch: int = 50, timeout: float = 5.0, retries: int = 2) -> Config:
    return Config(academy=ACADEMY, lrs=LrsSettings(batch=batch, timeout=timeout, retries=retries))


# ---- records: the sample, played for real --------------------------------------------------------


@dataclass
class Records:
    db: Path
    passed: Played
    failed: Played
    in_progress: Played

    @property
    def completed(self) -> list[Played]:
        return [self.passed, self.failed]


@pytest.fixture
def records(records_target) -> Records:
    """The passed/failed/running set, in each kind of store."""
    with records_target.open() as store:
        return Records(records_target.db, *passed_failed_running(store))


def export_all(db: Path | str, **kwargs: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    with open_store(db, create=False) as store:
        count = write_statements(store, out, ExportFilter(), ACADEMY, **kwargs)
    data = json.loads(out.getvalue())
    assert len(data) == count
    return data


def of(data: list[dict[str, Any]], played: Played) -> list[dict[str, Any]]:
    return [s for s in data if s["context"]["registration"] == played.attempt_id]


def sent_rows(db: Path | str) -> list[tuple[str, str, str, str]]:
    with open_store(db, create=False) as store:
        return [tuple(r) for r in store._query(
            "SELECT statement_id, lrs, attempt_id, outcome FROM lrs_sent ORDER BY statement_id"
        )]


# ---- statement shapes ----------------------------------------------------------------------------


def test_a_passed_attempt_gives_attempted_answered_completed_passed(records):
    data = of(export_all(records.db), records.passed)
    verbs = [s["verb"]["id"].removeprefix(VERB) for s in data]
    assert verbs == ["attempted"] + ["answered"] * len(BEST) + ["completed", "passed"]
    assert all(s["verb"]["display"] == {"en-US": s["verb"]["id"].removeprefix(VERB)} for s in data)
    scenario_iri = f"{BASE}/scenarios/overpass-railing"
    graded = load_graded(SAMPLE)
    for s in data:
        assert s["actor"] == {"objectType": "Agent", "account": {"homePage": "https://academy.example", "name": "ana"}}
        assert "mbox" not in json.dumps(s) and "Ana" not in json.dumps(s)  # no e-mail, no display name
        context = s["context"]
        assert context["registration"] == records.passed.attempt_id
        assert context["revision"] == graded.scenario.version  # the scenario file's own version
        assert context["extensions"] == {
            f"{BASE}/extensions/scenario-sha256": graded.scenario.sha256,
            f"{BASE}/extensions/rubric-id": "default",
            f"{BASE}/extensions/rubric-sha256": graded.rubric.sha256,
            f"{BASE}/extensions/mode": "assessment",
            f"{BASE}/extensions/front-end": "run",
            f"{BASE}/extensions/time-pressure": False,
            f"{BASE}/extensions/cohort": "2026-spring",
        }
        assert "version" not in s and "authority" not in s and "stored" not in s  # the LRS sets those

    attempted, answered, completed, verdict = data[0], data[1:-2], data[-2], data[-1]
    assert attempted["object"] == {
        "objectType": "Activity",
        "id": scenario_iri,
        "definition": {"name": {"en-US": "Person outside the overpass railing"},
                       "type": "http://adlnet.gov/expapi/activities/simulation"},
    }
    assert attempted["timestamp"] == "2026-03-01T09:00:00.000Z"
    assert "result" not in attempted

    scenes = [r["scene"] for r in records.passed.grade["decisions"]]
    for n, (s, choice, scene) in enumerate(zip(answered, BEST, scenes, strict=True), start=1):
        assert s["object"]["id"] == f"{scenario_iri}/scenes/{scene}"
        assert s["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/cmi.interaction"
        assert s["object"]["definition"]["interactionType"] == "choice"
        assert s["result"] == {"response": choice, "duration": iso_duration(response_ms(n) / 1000)}
        assert s["context"]["contextActivities"] == {"parent": [{"objectType": "Activity", "id": scenario_iri}]}
        assert s["timestamp"] == f"2026-03-01T09:{n:02d}:07.250Z"
        assert s["id"] == statement_id(records.passed.attempt_id, n)

    assert completed["object"] == verdict["object"] == attempted["object"]
    assert completed["timestamp"] == verdict["timestamp"] == "2026-03-01T09:25:12.300Z"
    result = completed["result"]
    assert result == verdict["result"]
    overall = records.passed.grade["overall"]
    assert result["score"] == {"scaled": overall / 100, "raw": overall, "min": 0, "max": 100}
    assert result["success"] is True and result["completion"] is True
    assert result["duration"] == "PT25M12.3S"
    dims = {
        f"{BASE}/extensions/dimension/{d['id']}": (None if d["score"] is None else round(d["score"] / 100, 4))
        for d in records.passed.grade["dimensions"]
    }
    assert len(dims) == 6
    ext = result["extensions"]
    assert {k: v for k, v in ext.items() if "/dimension/" in k} == dims
    assert ext[f"{BASE}/extensions/critical-errors"] == []
    assert ext[f"{BASE}/extensions/ending"] == {"scene": records.passed.grade["ending"]["scene"], "rating": "good"}
    assert verdict["verb"]["id"] == VERB + "passed"


def test_a_failed_attempt_with_a_timeout_and_a_critical_error(records):
    data = of(export_all(records.db), records.failed)
    assert [s["verb"]["id"].removeprefix(VERB) for s in data][-2:] == ["completed", "failed"]
    timeout = data[1]
    assert records.failed.script[0] is None
    assert timeout["result"]["response"] == ""
    assert timeout["result"]["extensions"] == {f"{BASE}/extensions/timed-out": True}
    responses = [s["result"]["response"] for s in data if s["verb"]["id"] == VERB + "answered"]
    assert responses == [c or "" for c in records.failed.script]
    verdict = data[-1]["result"]
    assert verdict["success"] is False and verdict["completion"] is True
    assert verdict["score"]["raw"] == records.failed.grade["overall"]
    assert verdict["extensions"][f"{BASE}/extensions/critical-errors"] == ["unsafe_promise_or_lie"]
    assert "cohort" not in json.dumps(data[0]["context"])  # no cohort recorded, none sent
    # A dimension never scored on this path is "not applicable": null, not 0.
    grade_dims = {d["id"]: d["score"] for d in records.failed.grade["dimensions"]}
    for dim, score in grade_dims.items():
        expected = None if score is None else round(score / 100, 4)
        assert verdict["extensions"][f"{BASE}/extensions/dimension/{dim}"] == expected


def test_ids_are_deterministic_uuid5_and_exporting_twice_is_identical(records):
    first, second = io.StringIO(), io.StringIO()
    with open_store(records.db, create=False) as store:
        write_statements(store, first, ExportFilter(), ACADEMY)
        write_statements(store, second, ExportFilter(), ACADEMY)
    assert first.getvalue() == second.getvalue()
    data = json.loads(first.getvalue())
    ids = [s["id"] for s in data]
    assert len(ids) == len(set(ids)) == sum(len(p.script) + 3 for p in records.completed)
    for s in ids:
        assert uuid.UUID(s).version == 5 and str(uuid.UUID(s)) == s
    aid = records.passed.attempt_id
    assert statement_id(aid, 0) == str(uuid.uuid5(STATEMENT_NAMESPACE, f"{aid}:0"))
    passed = of(data, records.passed)
    assert [s["id"] for s in passed] == [statement_id(aid, n) for n in range(len(BEST) + 1)] + [
        statement_id(aid, COMPLETED_SEQUENCE),
        statement_id(aid, VERDICT_SEQUENCE),
    ]
    # The ids do not depend on the academy's IRIs: re-configuring never duplicates statements.
    other = AcademySettings(homepage="https://other.example", base_iri="https://other.example/x")
    with open_store(records.db, create=False) as store:
        attempt = store.attempt(aid)
        assert [s["id"] for s in statements(attempt, store.decisions(aid), other)] == [s["id"] for s in passed]


def test_attempts_in_progress_only_with_include_incomplete(records):
    default = export_all(records.db)
    assert of(default, records.in_progress) == []
    assert {s["context"]["registration"] for s in default} == {p.attempt_id for p in records.completed}
    everything = export_all(records.db, include_incomplete=True)
    running = of(everything, records.in_progress)
    assert [s["verb"]["id"].removeprefix(VERB) for s in running] == ["attempted", "answered", "answered"]
    # The statements of a finished attempt start with the very same ones it had while in progress.
    with open_store(records.db, create=False) as store:
        attempt = store.attempt(records.passed.attempt_id)
        decisions = store.decisions(attempt.id)
        unfinished = dataclasses.replace(
            attempt, status="in_progress", ended_at=None, grade_json=None, overall=None, passed=None
        )
        early = statements(unfinished, decisions[:3], ACADEMY)
        assert early == statements(attempt, decisions, ACADEMY)[:4]


def test_filters_and_status_without_include_incomplete(records):
    with open_store(records.db, create=False) as store:
        out = io.StringIO()
        assert write_statements(store, out, ExportFilter(trainee="ben"), ACADEMY) == len(records.failed.script) + 3
        assert write_statements(store, io.StringIO(), ExportFilter(status="in_progress"), ACADEMY) == 0
        assert (
            write_statements(store, io.StringIO(), ExportFilter(status="in_progress"), ACADEMY, include_incomplete=True)
            == 3
        )
        empty = io.StringIO()
        assert write_statements(store, empty, ExportFilter(trainee="nobody"), ACADEMY) == 0
        assert json.loads(empty.getvalue()) == []


def test_iris_are_percent_encoded_and_durations_iso_8601():
    assert iso_duration(312.3) == "PT5M12.3S"
    assert iso_duration(0) == "PT0S"
    assert iso_duration(-3) == "PT0S"
    assert iso_duration(3723.05) == "PT1H2M3.05S"
    assert iso_duration(7200) == "PT2H"
    assert iso_duration(0.129) == "PT0.12S"  # xAPI compares durations to 0.01 s: never more digits
    for seconds in (0, 0.5, 59.99, 61, 3599.99, 86401.5):
        assert DURATION.match(iso_duration(seconds))
    from simulator.export.xapi import Iris

    assert Iris("https://a.example/x/").scene("my scenario", "scène 1") == (
        "https://a.example/x/scenarios/my%20scenario/scenes/sc%C3%A8ne%201"
    )


def test_memory_stays_flat_however_many_attempts(records, tmp_path):
    # Both at least twice the store's fetch size (500 rows, two fetches alive at once while the
    # cursor moves on), so that fixed buffer is in both peaks.
    small, large = tmp_path / "small.sqlite3", tmp_path / "large.sqlite3"  # filled from either kind of store
    # Kept small so the test is quick under tracemalloc: the first decision, and the grade's parts
    # the statements use.
    used = ("overall", "passed", "dimensions", "critical_errors", "ending")
    copy_attempts(records.db, small, 1000, decisions=1, grade_keys=used)
    copy_attempts(records.db, large, 1500, decisions=1, grade_keys=used)
    peaks = []
    for db in (small, large):
        with Store.open(db, create=False) as store:
            tracemalloc.start()
            try:
                assert write_statements(store, NullSink(), ExportFilter(), ACADEMY) > 0
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
    few, many = peaks
    assert many < few * 1.25 + 256 * 1024, (few, many)


# ---- a fake LRS ---------------------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: Any  # an email.message.Message: case-insensitive, as HTTP header names are
    statements: list[dict[str, Any]]
    method: str = "POST"


Respond = Callable[[BaseHTTPRequestHandler, list[dict[str, Any]], int], None]


def reply(handler: BaseHTTPRequestHandler, status: int, body: Any = None, headers: dict[str, str] | None = None):
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def accept(handler: BaseHTTPRequestHandler, batch: list[dict[str, Any]], _n: int) -> None:
    reply(handler, 200, [s["id"] for s in batch])


def stored(handler: BaseHTTPRequestHandler, batch: list[dict[str, Any]], _n: int) -> None:
    """xAPI's answer to ``PUT /statements?statementId=ID``: 204, stored (now or before)."""
    reply(handler, 204)


class FakeLrs:
    """An LRS on 127.0.0.1 whose every answer to a POST is decided by ``respond(handler,
    statements, n)`` (n = 0 for the first request), and to a PUT by ``put(handler, [statement],
    n)`` (by default 204, as xAPI says)."""

    def __init__(self, respond: Respond = accept, port: int = 0, put: Respond = stored):
        self.respond = respond
        self.put = put
        self.seen: list[Seen] = []
        self.release = threading.Event()  # lets hanging handlers go at teardown
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                batch = json.loads(self.rfile.read(length) or b"[]")
                n = len(fake.seen)
                fake.seen.append(Seen(self.path, self.headers, batch))
                fake.respond(self, batch, n)

            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                batch = [json.loads(self.rfile.read(length))]
                n = len(fake.seen)
                fake.seen.append(Seen(self.path, self.headers, batch, "PUT"))
                fake.put(self, batch, n)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)  # port: the same LRS as before
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI"

    def __enter__(self) -> FakeLrs:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def posted_ids(self) -> list[str]:
        return [s["id"] for seen in self.seen if seen.method == "POST" for s in seen.statements]

    def put_ids(self) -> list[str]:
        return [seen.statements[0]["id"] for seen in self.seen if seen.method == "PUT"]


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """A proxy set in the environment must not stand between the tests and 127.0.0.1."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def send(
    records: Records,
    lrs: FakeLrs | str,
    *,
    cfg: Config | None = None,
    password: str = PASSWORD,
    delays: list[float] | None = None,
    **kwargs: Any,
) -> LrsReport:
    url = lrs if isinstance(lrs, str) else lrs.url
    with open_store(records.db, create=False) as store:
        return send_to_lrs(
            store,
            url,
            USER,
            password,
            ExportFilter(),
            cfg or config(),
            sleep=(delays.append if delays is not None else lambda _s: None),
            **kwargs,
        )


def all_ids(records: Records) -> list[str]:
    return [s["id"] for s in export_all(records.db)]


def test_sends_in_batches_with_the_xapi_headers_and_records_what_was_confirmed(records):
    with FakeLrs() as lrs:
        report = send(records, lrs, cfg=config(batch=4))
    ids = all_ids(records)
    assert report.sent == len(ids) and report.ok
    assert report.summary() == f"sent {len(ids)} statements, 0 already there, 0 rejected"
    assert lrs.posted_ids() == ids  # in order, each once
    assert [len(s.statements) for s in lrs.seen] == [4] * (len(ids) // 4) + ([len(ids) % 4] if len(ids) % 4 else [])
    for seen in lrs.seen:
        assert seen.path == "/xAPI/statements"
        assert seen.headers["X-Experience-API-Version"] == "1.0.3"
        assert seen.headers["Content-Type"] == "application/json"
        kind, token = seen.headers["Authorization"].split()
        assert kind == "Basic" and base64.b64decode(token).decode() == f"{USER}:{PASSWORD}"
    rows = sent_rows(records.db)
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert {r[1] for r in rows} == {lrs.url} and {r[3] for r in rows} == {"sent"}
    by_attempt = {r[0]: r[2] for r in rows}
    for s in export_all(records.db):
        assert by_attempt[s["id"]] == s["context"]["registration"]


def test_sending_twice_sends_nothing_new(records):
    with FakeLrs() as lrs:
        first = send(records, lrs)
        requests = len(lrs.seen)
        second = send(records, lrs)
    assert first.sent == len(all_ids(records))
    assert len(lrs.seen) == requests  # nothing posted at all the second time
    assert (second.sent, second.already, second.skipped) == (0, 0, first.sent)
    assert second.summary() == f"sent 0 statements, 0 already there, 0 rejected; {first.sent} sent before, skipped"


def test_500_twice_then_200_is_retried_with_backoff_and_sent(records):
    def flaky(handler, batch, n):
        if n < 2:
            reply(handler, 500, {"detail": "database is warming up"})
        else:
            accept(handler, batch, n)

    delays: list[float] = []
    with FakeLrs(flaky) as lrs:
        report = send(records, lrs, cfg=config(batch=500, retries=4), delays=delays)
    assert report.ok and report.sent == len(all_ids(records))
    assert len(lrs.seen) == 3 and delays == [0.5, 1.0]
    assert {r[3] for r in sent_rows(records.db)} == {"sent"}


def test_an_lrs_that_hangs_is_retried_then_reported_and_nothing_is_marked(records):
    def hang(handler, batch, n):
        lrs.release.wait(10)

    with FakeLrs(hang) as lrs:
        with pytest.raises(LrsError) as caught:
            send(records, lrs, cfg=config(timeout=0.3, retries=1))
        tries = len(lrs.seen)
    message = str(caught.value)
    assert (
        message
        == f"cannot reach the LRS at {lrs.url} (no answer within 0.3 s) after 2 tries; nothing was marked as sent"
    )
    assert tries == 2 and "\n" not in message
    assert sent_rows(records.db) == []
    assert caught.value.report is not None and caught.value.report.failed > 0
    assert isinstance(caught.value, ExportError)  # the CLI reports it as one line


def test_a_dropped_connection_is_retried_then_reported(records):
    def drop(handler, batch, n):
        handler.close_connection = True  # no answer at all: the socket just closes

    with FakeLrs(drop) as lrs:
        with pytest.raises(
            LrsError, match=r"\(connection closed without an answer\) after 3 tries; nothing was marked"
        ):
            send(records, lrs, cfg=config(retries=2))
        assert len(lrs.seen) == 3
    assert sent_rows(records.db) == []

    def drop_once(handler, batch, n):
        if n == 0:
            handler.close_connection = True
        else:
            accept(handler, batch, n)

    with FakeLrs(drop_once) as lrs:
        report = send(records, lrs)
    assert report.ok and report.sent == len(all_ids(records))


def test_an_lrs_that_fails_halfway_keeps_what_it_confirmed(records):
    def half(handler, batch, n):
        if n == 0:
            accept(handler, batch, n)
        else:
            reply(handler, 503, b"<html>Service Unavailable</html>")

    with FakeLrs(half) as lrs:
        with pytest.raises(LrsError) as caught:
            send(records, lrs, cfg=config(batch=5, retries=1))
        first_batch = [s["id"] for s in lrs.seen[0].statements]
        port = lrs.port
    assert str(caught.value) == (
        f"the LRS at {lrs.url} kept failing (503 <html>Service Unavailable</html>) after 2 tries; "
        "the 5 statements the LRS confirmed before were recorded; run again to send the rest"
    )
    assert sorted(r[0] for r in sent_rows(records.db)) == sorted(first_batch)
    with FakeLrs(port=port) as lrs:  # run again: only the rest is sent
        report = send(records, lrs)
    assert report.skipped == 5 and report.sent == len(all_ids(records)) - 5
    assert set(lrs.posted_ids()).isdisjoint(first_batch)


def test_unreachable_lrs(records):
    with FakeLrs() as lrs:
        url = lrs.url  # a port that was free a moment ago and is closed now
    with pytest.raises(LrsError) as caught:
        send(records, url, cfg=config(retries=1))
    assert str(caught.value) == (
        f"cannot reach the LRS at {url} (connection refused) after 2 tries; nothing was marked as sent"
    )
    assert sent_rows(records.db) == []


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_stop_at_once_with_one_line(records, status):
    def refuse(handler, batch, n):
        reply(handler, status, {"detail": "Invalid authentication credentials"}, {"WWW-Authenticate": "Basic"})

    with FakeLrs(refuse) as lrs:
        with pytest.raises(LrsError) as caught:
            send(records, lrs, password="wrong-password")
        assert len(lrs.seen) == 1  # never retried
    assert str(caught.value) == (
        f"the LRS refused the credentials ({status}): check --lrs-user and CRISIS_SIM_LRS_PASSWORD"
    )
    assert "wrong-password" not in str(caught.value)
    assert sent_rows(records.db) == []


def test_one_bad_statement_is_rejected_with_the_reason_and_the_others_are_sent(records):
    ids = all_ids(records)
    bad = ids[3]

    def picky(handler, batch, n):
        if any(s["id"] == bad for s in batch):
            reply(handler, 400, {"detail": f"Statement {bad}: result.response is not allowed here"})
        else:
            accept(handler, batch, n)

    with FakeLrs(picky) as lrs:
        report = send(records, lrs, cfg=config(batch=10))
        port = lrs.port
    assert report.rejected == [(bad, f"400 Statement {bad}: result.response is not allowed here")]
    assert report.sent == len(ids) - 1 and not report.ok
    assert report.summary().startswith(f"sent {len(ids) - 1} statements, 0 already there, 1 rejected (first: 400 ")
    assert report.rejections() == [f"rejected {bad}: 400 Statement {bad}: result.response is not allowed here"]
    marked = {r[0] for r in sent_rows(records.db)}
    assert marked == set(ids) - {bad}
    with FakeLrs(port=port) as lrs:  # the rejected one is tried again next time (it was never recorded)
        again = send(records, lrs)
    assert lrs.posted_ids() == [bad] and again.sent == 1


def test_already_there_from_the_lrs_answer(records):
    ids = all_ids(records)
    known = set(ids[:4])

    def ralph_like(handler, batch, n):
        new = [s["id"] for s in batch if s["id"] not in known]
        if new:
            reply(handler, 200, new)
        else:
            reply(handler, 204)

    with FakeLrs(ralph_like) as lrs:
        report = send(records, lrs, cfg=config(batch=4))
        put = lrs.put_ids()
        put_paths = [seen.path for seen in lrs.seen if seen.method == "PUT"]
    assert (report.sent, report.already) == (len(ids) - 4, 4)
    outcomes = dict((r[0], r[3]) for r in sent_rows(records.db))
    assert {i for i, o in outcomes.items() if o == "already"} == known
    # Neither the 204 nor a list of only some of the ids confirms a statement by itself: each
    # statement of those batches is confirmed by PUT by its id (xAPI: 204), the others are not.
    assert set(known) <= set(put) and len(put) == len(set(put))
    assert put_paths == [f"/xAPI/statements?statementId={i}" for i in put]


def test_partial_success_answers_name_the_rejected_ones(records):
    ids = all_ids(records)
    bad = {ids[1], ids[6]}

    def partial(handler, batch, n):  # Ralph with RALPH_LRS_PARTIAL_SUCCESS_DEFAULT=true
        errors = [{"index": i, "reason": "missing object"} for i, s in enumerate(batch) if s["id"] in bad]
        stored = [s["id"] for s in batch if s["id"] not in bad and s["id"] != ids[0]]  # ids[0]: already there
        reply(handler, 200, {"inserted": len(stored), "rejected": len(errors), "ids": stored, "errors": errors})

    with FakeLrs(partial) as lrs:
        report = send(records, lrs, cfg=config(batch=500))
    assert sorted(report.rejected) == sorted((i, "200 missing object") for i in bad)
    assert (report.sent, report.already) == (len(ids) - 3, 1)
    assert {r[0] for r in sent_rows(records.db)} == set(ids) - bad


def test_a_conflicting_statement_counts_as_already_there(records):
    ids = all_ids(records)

    def conflict(handler, batch, n):
        if any(s["id"] == ids[0] for s in batch):
            reply(handler, 409, {"detail": f"Differing statements already exist with the same ID: {ids[0]}"})
        else:
            accept(handler, batch, n)

    with FakeLrs(conflict) as lrs:
        report = send(records, lrs, cfg=config(batch=3))
    assert report.conflicts == [ids[0]] and report.already == 1 and report.ok
    assert "1 already there (1 different from what the LRS holds)" in report.summary()


def test_redirects_and_wrong_addresses_are_not_followed(records):
    def moved(handler, batch, n):
        reply(handler, 301, None, {"Location": "https://elsewhere.example/xAPI/statements"})

    with FakeLrs(moved) as lrs:
        with pytest.raises(LrsError, match=re.escape("redirects to https://elsewhere.example/xAPI/statements")):
            send(records, lrs)
        assert len(lrs.seen) == 1

    def missing(handler, batch, n):
        reply(handler, 404, {"detail": "Not Found"})

    with FakeLrs(missing) as lrs, pytest.raises(LrsError, match=r"has no statements endpoint \(404"):
        send(records, lrs)
    assert sent_rows(records.db) == []


@pytest.mark.parametrize(
    ("url", "password", "needle"),
    [
        ("ftp://lrs.example", PASSWORD, "is not an http:// or https:// address"),
        (f"https://{USER}:{PASSWORD}@lrs.example/xAPI", PASSWORD, "must not contain a user or password"),
        ("https://lrs.example/xAPI", "", "set CRISIS_SIM_LRS_PASSWORD"),
        ("https://lrs.example/xAPI/statements", PASSWORD, "without /statements"),
        ("http://lrs.example/xAPI", PASSWORD, "use https:// (Basic auth would send the password unencrypted"),
        ("http://10.0.0.8:8100/xAPI", PASSWORD, "plain http:// is only for an LRS on this machine"),
    ],
)
def test_bad_lrs_settings_are_one_line_and_never_echo_the_password(records, url, password, needle):
    with pytest.raises(LrsError) as caught:
        send(records, url, password=password)
    assert needle in str(caught.value) and PASSWORD not in str(caught.value)


def test_lrs_reasons_are_one_short_line():
    fastapi = json.dumps({"detail": [{"loc": ["body", 0, "actor"], "msg": "Field required"}] * 3}).encode()
    assert lrs_reason(422, fastapi) == "0.actor: Field required (and 2 more)"
    assert lrs_reason(400, b'{"message": "bad\\nverb"}') == "bad verb"
    # An LRS's words reach the terminal: no escape sequences or bidi overrides get through.
    assert lrs_reason(500, b"\x1b]52;c;ZWNobyBoaQ==\x07\x1b[2Jdown\xe2\x80\xae!") == "down!"
    assert lrs_reason(500, b"") == "Internal Server Error"
    partial = json.dumps({"inserted": 0, "rejected": 1, "ids": [], "errors": [{"index": 0, "reason": "missing verb"}]})
    assert lrs_reason(400, partial.encode()) == "missing verb"
    assert len(lrs_reason(400, b"x" * 5000)) == 300


def test_include_incomplete_sends_attempts_in_progress(records):
    with FakeLrs() as lrs:
        report = send(records, lrs, include_incomplete=True)
    assert report.sent == len(export_all(records.db, include_incomplete=True))
    assert records.in_progress.attempt_id in {s["context"]["registration"] for s in lrs.seen[0].statements}


def test_export_warns_while_the_placeholder_site_names_the_academy(records, tmp_path, monkeypatch):
    """Issue 14: statements sent under https://crisis-sim.invalid name no academy, and nothing
    said so. The warning names the settings to change; set, it is gone."""
    from cli_runner import run_cli

    out = tmp_path / "statements.json"
    first = run_cli(["export", "--format", "xapi", "--db", str(records.db), "--out", str(out)])
    assert first.code == 0, first
    [warning] = [line for line in first.stderr.splitlines() if "warning" in line]
    assert warning.startswith("crisis-sim: warning: [academy] homepage and [academy] base_iri still use the "
                              "placeholder https://crisis-sim.invalid")
    csv = run_cli(["export", "--format", "csv", "--db", str(records.db), "--out", str(tmp_path / "a.csv")])
    assert csv.code == 0 and "warning" not in csv.stderr  # only the xAPI identity is at stake
    config = tmp_path / "config.toml"
    config.write_text('[academy]\nhomepage = "https://academy.example"\nbase_iri = "https://academy.example/xapi"\n')
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(config))
    second = run_cli(["export", "--format", "xapi", "--db", str(records.db), "--out", str(out)])
    assert second.code == 0 and "warning" not in second.stderr, second
