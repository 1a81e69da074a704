"""The PostgreSQL records schema as the server's catalog shows it, and the exact-schema check.

crisis-sim keeps its tables in one schema, ``crisis_sim``, of the database the URL names, and
marks it as its own with a comment that also holds the store's identity
(``crisis-sim records 5f3a09c2``). Every connection sets ``search_path`` to that schema alone
(``pg_catalog`` is always searched first), so no table or function of another schema is found
by our unqualified names.

Why an exact check here too: other roles of the server (the database owner, a superuser, anyone
granted rights on our tables) can add objects that run inside crisis-sim's own statements: a
trigger (``RETURN NULL`` from a BEFORE trigger drops every decision while play says "progress
saved"), a rule (``DO INSTEAD NOTHING``), a row-level security policy (hides rows from exports),
a child table (``INHERITS``: its rows appear in ours), a function or operator in our schema that
outranks a built-in one, a column made ``UNLOGGED``. So the catalog of the schema (every table,
column with type, nullability, default and collation, constraint, index, trigger, rule, policy,
function, operator and type, plus children of our tables anywhere) must equal exactly what
``schema.POSTGRESQL_MIGRATIONS`` build for some version. The reference is built by those very
migrations, in this session's temporary schema inside a transaction that is rolled back (once
per process and version: it needs only the TEMP right every role has by default).

Writes take ``ROW EXCLUSIVE`` locks on our tables before checking the catalog again
(``PostgresStore``): every statement that could add a trigger, rule or policy or alter a table
needs a lock that conflicts with it, so the schema checked is the schema the write runs under.
"""

from __future__ import annotations

import re
from typing import Any

from simulator.records import schema
from simulator.records.errors import StoreError, damaged_message, not_ours_message

SCHEMA = "crisis_sim"
MARK = "crisis-sim records"
"""The schema's comment starts with this; the 8 hex digits after it are the store's identity."""
_MARK = re.compile(r"\Acrisis-sim records ([0-9a-f]{8})\Z")
LOCK_KEY = 0x43534D31
"""The advisory lock that serialises migrations (the same number as the SQLite application id)."""
TABLES = ("schema_version", "trainees", "attempts", "decisions", "lrs_sent", "preferences", "instructor_flags")

_QUALIFIED = re.compile(r'\b(?:pg_temp(?:_\d+)?|"?crisis_sim"?)\.')

OBJECTS_SQL = """
WITH ns AS (SELECT %(ns)s::oid AS oid),
rel AS (SELECT c.* FROM pg_class c, ns WHERE c.relnamespace = ns.oid)
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'i' THEN 'index' WHEN 'v' THEN 'view'
         WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table'
         WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' WHEN 'c' THEN 'type'
         ELSE 'relation' END,
       c.relname, coalesce(t.relname, c.relname),
       CASE WHEN c.relkind = 'i' THEN pg_get_indexdef(c.oid)
            WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid)
            ELSE 'persistence ' || replace(c.relpersistence::text, 't', 'p') || ' row security '
                 || c.relrowsecurity::text || ' ' || c.relforcerowsecurity::text || ' of type '
                 || c.reloftype::text END
FROM rel c LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid
UNION ALL
SELECT 'column', c.relname || '.' || a.attname, c.relname,
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
       || CASE WHEN a.attcollation <> 0 AND a.attcollation <> 100 THEN ' collate ' || a.attcollation::regcollation::text
               ELSE '' END
       || CASE WHEN a.attidentity <> '' OR a.attgenerated <> '' THEN ' identity/generated' ELSE '' END
FROM rel c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind NOT IN ('i', 'I')
UNION ALL
SELECT 'constraint', c.relname || '.' || k.conname, c.relname, pg_get_constraintdef(k.oid)
FROM rel c JOIN pg_constraint k ON k.conrelid = c.oid
UNION ALL
SELECT 'trigger', g.tgname, c.relname, pg_get_triggerdef(g.oid)
FROM rel c JOIN pg_trigger g ON g.tgrelid = c.oid AND NOT g.tgisinternal
UNION ALL
SELECT 'rule', r.rulename, c.relname, pg_get_ruledef(r.oid)
FROM rel c JOIN pg_rewrite r ON r.ev_class = c.oid WHERE c.relkind NOT IN ('v', 'm')
UNION ALL
SELECT 'policy', p.polname, c.relname, '' FROM rel c JOIN pg_policy p ON p.polrelid = c.oid
UNION ALL
SELECT 'child table', h.inhrelid::regclass::text, c.relname, ''
FROM rel c JOIN pg_inherits h ON h.inhparent = c.oid
UNION ALL
SELECT 'function', f.proname || '(' || pg_get_function_identity_arguments(f.oid) || ')', f.proname, ''
FROM pg_proc f, ns WHERE f.pronamespace = ns.oid
UNION ALL
SELECT 'operator', o.oprname || '(' || o.oprleft::regtype::text || ', ' || o.oprright::regtype::text || ')',
       o.oprname, ''
FROM pg_operator o, ns WHERE o.oprnamespace = ns.oid
UNION ALL
SELECT 'type', y.typname, y.typname, ''
FROM pg_type y, ns WHERE y.typnamespace = ns.oid AND y.typrelid = 0
  AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = y.typelem AND e.typrelid <> 0)
"""
"""Every object of the schema whose oid is ``%(ns)s`` (and every child of its tables), as
(kind, name, table, definition) rows: the shape ``schema.foreign_objects`` names differences in.
The composite types PostgreSQL makes for each table (and their arrays) are part of the tables."""

Obj = tuple[str, str, str, str]

GUARD_SQL = """
SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = ANY(%(t)s) AND NOT tgisinternal)
     + (SELECT count(*) FROM pg_rewrite WHERE ev_class = ANY(%(t)s))
     + (SELECT count(*) FROM pg_policy WHERE polrelid = ANY(%(t)s))
     + (SELECT count(*) FROM pg_inherits WHERE inhparent = ANY(%(t)s))
     + (SELECT count(*) FROM pg_proc WHERE pronamespace = %(ns)s)
     + (SELECT count(*) FROM pg_operator WHERE oprnamespace = %(ns)s),
       concat_ws(' ',
         (SELECT string_agg(oid::text || ':' || xmin::text, ',' ORDER BY oid) FROM pg_class
          WHERE relnamespace = %(ns)s),
         (SELECT string_agg(attrelid::text || '.' || attnum::text || ':' || xmin::text, ',' ORDER BY attrelid, attnum)
          FROM pg_attribute WHERE attrelid = ANY(%(t)s) AND attnum > 0),
         (SELECT string_agg(oid::text || ':' || xmin::text, ',' ORDER BY oid) FROM pg_attrdef
          WHERE adrelid = ANY(%(t)s)),
         (SELECT string_agg(oid::text || ':' || xmin::text, ',' ORDER BY oid) FROM pg_constraint
          WHERE conrelid = ANY(%(t)s)),
         (SELECT string_agg(oid::text || ':' || xmin::text, ',' ORDER BY oid) FROM pg_type
          WHERE typnamespace = %(ns)s))
"""
"""What every write checks: no trigger, rule, policy, child table, function or operator of
other hands (a count that must stay 0), and every catalog row of the schema's relations,
columns, defaults, constraints and types unchanged since the schema was checked (each row's id
and ``xmin``, the transaction that last wrote it: any ``ALTER``, ``CREATE`` or ``DROP`` moves
it). When anything differs, the whole catalog is read and checked again."""


def guard(conn: Any, namespace_oid: int, tables: list[int]) -> tuple[int, str]:
    count, rows = conn.execute(GUARD_SQL, {"t": tables, "ns": namespace_oid}).fetchone()
    return int(count), str(rows)


def table_oids(conn: Any) -> list[int]:
    return [int(r[0]) for r in conn.execute(
        "SELECT oid FROM pg_class WHERE relnamespace = %s::regnamespace AND relkind = 'r' ORDER BY oid", (SCHEMA,)
    ).fetchall()]


def objects(conn: Any, namespace_oid: int) -> frozenset[Obj]:
    """The catalog of one schema, schema names taken out of definitions (so a reference built
    in the temporary schema compares equal)."""
    rows = conn.execute(OBJECTS_SQL, {"ns": namespace_oid}).fetchall()
    return frozenset((kind, name, table, _QUALIFIED.sub("", text or "")) for kind, name, table, text in rows)


_references: dict[tuple[int, int], frozenset[Obj]] = {}


def reference(conn: Any, version: int) -> frozenset[Obj]:
    """The exact catalog of a records schema at ``version``, made by the migrations in this
    session's temporary schema and rolled back (once per process, server version and schema
    version)."""
    key = (conn.info.server_version, version)
    if key not in _references:
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL search_path = pg_temp")
            upgrade(conn, 0, version)
            temp = conn.execute("SELECT pg_my_temp_schema()::oid").fetchone()[0]
            _references[key] = objects(conn, temp)
    return _references[key]


def upgrade(conn: Any, current: int, target: int = schema.SCHEMA_VERSION) -> None:
    """Run the PostgreSQL migrations from ``current`` to ``target`` inside the caller's
    transaction, in the schema first on ``search_path``."""
    if current == 0:
        conn.execute(schema.PG_VERSION_TABLE)
        conn.execute("INSERT INTO schema_version VALUES (0)")
    for version in range(current, target):
        for statement in schema.statements(schema.POSTGRESQL_MIGRATIONS[version]):
            conn.execute(statement)
        conn.execute("UPDATE schema_version SET version = %s", (version + 1,))


def namespace(conn: Any) -> tuple[int, str | None] | None:
    """Our schema's oid and comment, None when there is no such schema."""
    row = conn.execute(
        "SELECT oid, obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s", (SCHEMA,)
    ).fetchone()
    return None if row is None else (int(row[0]), row[1])


def identity_of(comment: str | None) -> str | None:
    """The identity in our schema's comment, None when it is not our mark."""
    match = _MARK.match(comment or "")
    return match.group(1) if match else None


def check(conn: Any, shown: str) -> tuple[int, frozenset[Obj]]:
    """The schema version of the records in ``crisis_sim`` (0: no schema yet, or an empty one
    made for us) and the catalog checked, after checking it is exactly one the migrations made.
    StoreError (one line) naming what is foreign otherwise; nothing is changed."""
    found_ns = namespace(conn)
    if found_ns is None:
        return 0, frozenset()
    oid, comment = found_ns
    found = objects(conn, oid)
    if identity_of(comment) is None:
        if not found and comment is None:
            return 0, found  # an empty schema made for crisis-sim by an administrator
        raise StoreError(not_ours_message(shown).replace("an SQLite file", f"its schema {SCHEMA}"))
    version_table = {("table", "schema_version", "schema_version", "persistence p row security false false of type 0")}
    stored: object = None
    if version_table <= found:
        rows = conn.execute("SELECT version FROM schema_version LIMIT 2").fetchall()
        stored = rows[0][0] if len(rows) == 1 else f"{len(rows)} rows"
    if isinstance(stored, int) and stored > schema.SCHEMA_VERSION:
        raise StoreError(
            f"{shown} was written by a newer crisis-sim (records schema {stored}, this version knows "
            f"{schema.SCHEMA_VERSION}); upgrade crisis-sim to use it"
        )
    if not found:
        return 0, found
    for version in range(schema.SCHEMA_VERSION, 0, -1):
        if found == reference(conn, version):
            if stored != version:
                problem = f"its schema_version table reads {stored!r}, but its tables are of version {version}"
                raise StoreError(damaged_message(shown, problem))
            return version, found
    versions = range(1, schema.SCHEMA_VERSION + 1)
    closest = min((reference(conn, v) for v in versions), key=lambda ref: len(ref ^ found))
    raise StoreError(
        f"{shown} is not as crisis-sim created it ({schema.foreign_objects(found, closest)}); it was left as it is: "
        "ask the database's administrator who changed it, and restore it from a backup"
    )
