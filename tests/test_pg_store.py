"""The PostgreSQL records store (issue 17 item 2): the two dialects' schemas match at every
version; the exact-schema check refuses what other roles can add; migrations under the advisory
lock; each decision read back; the credentials and TLS rules for the URL. The tests that need a
server skip with the reason when none can be started (``tests/conftest.py``)."""

from __future__ import annotations

import re
import sqlite3
import threading
from typing import Any

import pytest
from cli_runner import run_cli
from conftest import new_target, skip_without_pg

from simulator.records import SCHEMA_VERSION, StoreError, open_store, schema

SQLITE_TYPES = {"TEXT": "text", "INTEGER": "bigint", "REAL": "double precision"}


# ---- one dialect-neutral description of a schema ----------------------------------------------


def _checks(text: str) -> set[tuple[str, tuple[str, ...]]]:
    """``col IN (a, b)`` checks, from SQLite's CREATE TABLE text or PostgreSQL's definition."""
    found = set()
    for column, values in re.findall(r"CHECK \((\w+) IN \(([^)]*)\)\)", text):
        found.add((column, tuple(v.strip().strip("'") for v in values.split(","))))
    for column, values in re.findall(r"CHECK \(\((\w+) = ANY \(ARRAY\[(.*?)\]\)\)\)", text):
        found.add((column, tuple(re.sub(r"::\w+|[()']", "", v).strip() for v in values.split(","))))
    return found


def sqlite_description(version: int) -> dict[str, Any]:
    conn = sqlite3.connect(":memory:")
    schema.upgrade_sqlite(conn, 0, version)
    out: dict[str, Any] = {}
    for table, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"):
        columns = {
            name: (SQLITE_TYPES[kind], bool(notnull) or pk > 0, default)
            for _, name, kind, notnull, default, pk in conn.execute(f"PRAGMA table_info({table})")
        }
        key = tuple(name for _, name, _, _, _, pk in sorted(conn.execute(f"PRAGMA table_info({table})"),
                                                          key=lambda r: r[5]) if pk)
        foreign = {(row[3], row[2], row[4]) for row in conn.execute(f"PRAGMA foreign_key_list({table})")}
        indexes = {
            (name, tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})")))
            for _, name, unique, origin, _ in conn.execute(f"PRAGMA index_list({table})") if origin == "c"
        }
        out[table] = {"columns": columns, "key": key, "foreign": foreign, "checks": _checks(sql), "indexes": indexes}
    return out


def pg_description(conn: Any, version: int) -> dict[str, Any]:
    from simulator.records import pgschema

    objects = pgschema.reference(conn, version)
    out: dict[str, Any] = {}
    for kind, name, table, text in objects:
        entry = out.setdefault(table, {"columns": {}, "key": (), "foreign": set(), "checks": set(), "indexes": set()})
        if kind == "column":
            match = re.fullmatch(r"(.+?)( not null)?(?: default (.*))?", text)
            assert match, text
            default = re.sub(r"::\w+$", "", match.group(3)) if match.group(3) else None
            entry["columns"][name.split(".", 1)[1]] = (match.group(1), bool(match.group(2)), default)
        elif kind == "constraint" and text.startswith("PRIMARY KEY"):
            entry["key"] = tuple(c.strip() for c in text[text.index("(") + 1 : text.index(")")].split(","))
        elif kind == "constraint" and text.startswith("FOREIGN KEY"):
            fk = re.fullmatch(r"FOREIGN KEY \(([\w, ]+)\) REFERENCES (\w+)\(([\w, ]+)\)", text)
            assert fk, text
            ours, theirs = (tuple(c.strip() for c in group.split(",")) for group in (fk.group(1), fk.group(3)))
            # one (column, table, column) per column, as SQLite's foreign_key_list lists a composite key
            entry["foreign"] |= {(a, fk.group(2), b) for a, b in zip(ours, theirs, strict=True)}
        elif kind == "constraint":
            entry["checks"] |= _checks(text)
        elif kind == "index" and not text.startswith("CREATE UNIQUE INDEX"):
            cols = text[text.rindex("(") + 1 : text.rindex(")")]
            entry["indexes"].add((name, tuple(c.strip() for c in cols.split(","))))
        elif kind != "index":
            assert kind == "table", (kind, name)
    return out


@pytest.fixture
def pg_target(request, tmp_path):
    server = request.getfixturevalue("pg_server")
    skip_without_pg(request, "postgresql", server)
    target, janitor = new_target("postgresql", tmp_path, server)
    yield target
    janitor.drop()


def admin(target) -> Any:
    """A superuser connection to the test database (another role, as far as the store knows)."""
    import psycopg

    return psycopg.connect(target.db, autocommit=True)


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_both_dialects_migrations_build_the_same_schema(pg_target, version):
    """Same tables, columns (types mapped), nullability, defaults, keys, foreign keys, checks
    and indexes, at every version: a migration added to one dialect only fails here."""
    assert len(schema.SQLITE_MIGRATIONS) == len(schema.POSTGRESQL_MIGRATIONS) == SCHEMA_VERSION
    with open_store(pg_target.db) as store:
        assert pg_description(store.conn, version) == sqlite_description(version)


def test_a_new_database_gets_the_schema_once_with_an_identity(pg_target):
    with open_store(pg_target.db) as store:
        assert (store.dialect, store.version()) == ("postgresql", SCHEMA_VERSION)
        assert re.fullmatch(r"[0-9a-f]{8}", store.identity())
        first = store.identity()
    with open_store(pg_target.db, create=False) as again:
        assert again.identity() == first


def test_many_processes_opening_a_new_database_at_once_migrate_it_once(pg_target):
    """The advisory lock: eight connections create the schema at the same moment; all succeed
    and one schema, at the current version, exists."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def opener() -> None:
        try:
            start.wait()
            open_store(pg_target.db).close()
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with admin(pg_target) as conn:
        assert conn.execute("SELECT version FROM crisis_sim.schema_version").fetchall() == [(SCHEMA_VERSION,)]


HOSTILE = {
    "trigger": (
        "CREATE FUNCTION public.drop_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$ ;; "
        "CREATE TRIGGER sneaky BEFORE INSERT ON crisis_sim.decisions FOR EACH ROW EXECUTE FUNCTION public.drop_row()",
        "a trigger 'sneaky' on decisions that crisis-sim did not create",
    ),
    "rule": ("CREATE RULE nothing AS ON INSERT TO crisis_sim.decisions DO INSTEAD NOTHING",
             "a rule 'nothing' on decisions"),
    "policy": ("ALTER TABLE crisis_sim.attempts ENABLE ROW LEVEL SECURITY ;; "
               "CREATE POLICY hide ON crisis_sim.attempts USING (false)", "a policy 'hide' on attempts"),
    "child table": ("CREATE TABLE public.more () INHERITS (crisis_sim.attempts)",
                    "a child table 'public.more' that crisis-sim did not create"),
    "view": ("CREATE VIEW crisis_sim.everything AS SELECT * FROM crisis_sim.attempts", "a view 'everything'"),
    "function": ("CREATE FUNCTION crisis_sim.length(text) RETURNS integer LANGUAGE sql AS 'SELECT 99'",
                 "a function 'length(text)'"),
    "unlogged": ("ALTER TABLE crisis_sim.lrs_sent SET UNLOGGED", "the table 'lrs_sent' has a changed definition"),
    "dropped index": ("DROP INDEX crisis_sim.attempts_by_trainee", "the index 'attempts_by_trainee' is missing"),
    "column": ("ALTER TABLE crisis_sim.decisions ALTER COLUMN choice SET DEFAULT 'x'",
               "the column 'decisions.choice' has a changed definition"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_what_other_roles_add_to_our_schema_is_refused_on_open_and_before_the_next_write(pg_target, kind):
    sql, words = HOSTILE[kind]
    with open_store(pg_target.db) as store:
        store.ensure_trainee("ana")
        with admin(pg_target) as conn:
            for statement in sql.split(" ;; "):
                conn.execute(statement)
        with pytest.raises(StoreError) as caught:  # the open store, at its next write
            store.ensure_trainee("ben")
    assert words in str(caught.value) and "not as crisis-sim created it" in str(caught.value)
    ran = run_cli(["results", "--db", pg_target.db])
    assert ran.code == 1 and words in ran.stderr and len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    with admin(pg_target) as conn:
        assert conn.execute("SELECT id FROM crisis_sim.trainees").fetchall() == [("ana",)]


def test_a_schema_of_another_program_is_refused_untouched(pg_target):
    with admin(pg_target) as conn:
        conn.execute("CREATE SCHEMA crisis_sim")
        conn.execute("CREATE TABLE crisis_sim.attempts (id int)")
    ran = run_cli(["run", "overpass-railing", "--choose", "1", "--db", pg_target.db])
    assert ran.code == 1 and "not a crisis-sim records" in ran.stderr, ran.stderr
    with admin(pg_target) as conn:
        assert conn.execute("SELECT count(*) FROM crisis_sim.attempts").fetchall() == [(0,)]


def test_a_decision_that_does_not_read_back_is_not_committed(pg_target, monkeypatch):
    """With the guard switched off (as if a trigger slipped past it), a BEFORE trigger that
    changes the row makes the read-back fail: nothing is committed, one line says so."""
    import simulator.records.postgresql as backend

    store = open_store(pg_target.db)
    store.ensure_trainee("ana")
    attempt = store.start_attempt("ana", scenario_id="s", scenario_version="1", scenario_sha256="h",
                                  scenario_path="", rubric_id="default", rubric_sha256="r", mode="assessment")
    with admin(pg_target) as conn:
        conn.execute("CREATE FUNCTION public.edit_row() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN NEW.choice := 'other'; RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER edit BEFORE INSERT ON crisis_sim.decisions FOR EACH ROW "
                     "EXECUTE FUNCTION public.edit_row()")
    monkeypatch.setattr(backend.pgschema, "guard", lambda conn, namespace, tables: store._guard)
    with pytest.raises(StoreError, match=r"decision 1 of attempt .* was not stored \(it reads back differently\)"):
        store.record_decision(attempt, 1, "scene", "mine", meters_after={}, flags_after={})
    with admin(pg_target) as conn:
        assert conn.execute("SELECT count(*) FROM crisis_sim.decisions").fetchall() == [(0,)]
    store.close()


# ---- the URL: credentials and TLS (no server needed) -------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://crisis:secret@db.academy.example/records?sslmode=require", "put no password in the URL"),
        ("postgresql://crisis@db.academy.example/records", "is not on this machine"),
        ("postgresql://crisis@db.academy.example/records?sslmode=prefer", "is not on this machine"),
        ("postgresql://crisis@10.1.2.3,127.0.0.1/records", "the server 10.1.2.3 is not on this machine"),
        ("postgresql://crisis@localhost/records?nosuchparam=1", "is not a PostgreSQL URL"),
        ("mysql://crisis@db/records", "records live in a file"),
    ],
)
def test_urls_that_would_expose_the_password_or_the_records_are_refused_before_connecting(url, words, monkeypatch):
    pytest.importorskip("psycopg")
    monkeypatch.delenv("PGSSLMODE", raising=False)
    ran = run_cli(["results", "--db", url])
    assert ran.code == 1 and words in ran.stderr and len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    assert "secret" not in ran.output


def test_a_local_server_needs_no_tls_and_a_password_comes_from_the_environment(monkeypatch):
    psycopg = pytest.importorskip("psycopg")
    from simulator.records import postgresql

    seen: dict[str, Any] = {}

    def connect(**kwargs: Any) -> Any:
        seen.update(kwargs)
        raise psycopg.OperationalError('connection to server failed: FATAL: password authentication failed for user')

    monkeypatch.setattr(psycopg, "connect", connect)
    monkeypatch.setenv("CRISIS_SIM_DB_PASSWORD", "s3cret-pw")
    for url in ("postgresql://crisis@localhost/records", "postgresql://crisis@[::1]:5433/records",
                "postgresql:///records?host=/run/postgresql", "postgresql://crisis@db.example/r?sslmode=verify-full"):
        with pytest.raises(StoreError, match="refused the password: check CRISIS_SIM_DB_PASSWORD") as caught:
            postgresql.PostgresStore.open(url)
        assert "s3cret" not in str(caught.value)
        assert seen["password"] == "s3cret-pw" and seen["connect_timeout"] == postgresql.CONNECT_TIMEOUT_S


def test_records_url_in_the_config(tmp_path, monkeypatch):
    from simulator.config import ConfigError, load_config, resolve_db

    config = tmp_path / "config.toml"
    config.write_text('[records]\nurl = "postgresql://crisis@db.example/records?sslmode=verify-full"\n')
    monkeypatch.delenv("CRISIS_SIM_DB")
    assert resolve_db(None, load_config(config)) == "postgresql://crisis@db.example/records?sslmode=verify-full"
    assert resolve_db("postgresql://x@localhost/y", load_config(config)) == "postgresql://x@localhost/y"
    for text, words in (('url = "postgresql://u:pw@h/d"', "no password in the URL"),
                        ('url = "/tmp/records.sqlite3"', "starts with postgresql://"),
                        ('url = "postgresql://u@h/d"\ndb = "x.sqlite3"', "not both")):
        config.write_text(f"[records]\n{text}\n")
        with pytest.raises(ConfigError, match=words):
            load_config(config)
