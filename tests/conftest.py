"""Test isolation: no test reads or writes the real user's config, records or state.

Every test gets its own XDG folders (platformdirs follows them on Linux), its own records file
and a config path that does not exist; subprocesses started by tests inherit the same
environment, so `crisis-sim run` in a test records into the test's temp folder.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Fuzzing budgets. CI runs a fixed, derandomized set of examples so a red build is reproducible
# and the whole fuzz suite stays within a few minutes; `pytest --soak` (or CRISIS_SIM_SOAK=1)
# runs many more random examples and the long fault loops (see docs/security.md).
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "soak",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def pytest_addoption(parser):
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help="long fuzzing and fault runs (many more examples, 200-kill loops); also CRISIS_SIM_SOAK=1",
    )


def pytest_configure(config):
    config.soak = config.getoption("--soak") or os.environ.get("CRISIS_SIM_SOAK") == "1"
    settings.load_profile("soak" if config.soak else "ci")


@pytest.fixture
def soak(request) -> bool:
    """True under --soak: tests scale their loops up (e.g. 200 kills instead of 20)."""
    return request.config.soak


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.setenv("CRISIS_SIM_DB", str(home / "records.sqlite3"))
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(home / "no-config.toml"))
    monkeypatch.delenv("CRISIS_SIM_RUBRICS", raising=False)
    monkeypatch.delenv("CRISIS_SIM_LRS_PASSWORD", raising=False)
    monkeypatch.delenv("CRISIS_SIM_DEBUG", raising=False)
    return home


# ---- the records stores every records, export, resume, classroom and kill-9 test runs against ----

STORE_KINDS = ("sqlite", "postgresql")

try:  # the [postgres] extra and pytest-postgresql (both in the test extra's CI install)
    import psycopg  # noqa: F401
    from pytest_postgresql import factories as pg_factories
    from pytest_postgresql.janitor import DatabaseJanitor
except ImportError as missing:  # pragma: no cover - depends on the installation
    pg_factories = None
    PG_MISSING = f"psycopg or pytest-postgresql is not installed ({missing.name}): pip install -e '.[test,postgres]'"
else:
    PG_MISSING = ""

if pg_factories is not None:
    from pg_cluster import free_port

    PG_PORT = free_port()
    postgresql_noproc_server = pg_factories.postgresql_noproc(
        host="127.0.0.1", port=PG_PORT, user="postgres", dbname="crisis_sim_tests"
    )


@pytest.fixture(scope="session")
def pg_server(request):
    """A PostgreSQL server for this test session: a private cluster (``tests/pg_cluster.py``,
    started as the postgres user when running as root, on 127.0.0.1 at a free port, stopped at
    the end), handed to pytest-postgresql's ``postgresql_noproc``. None (with the reason in
    ``pg_server_missing``) when PostgreSQL or the Python packages are not installed."""
    if PG_MISSING:
        request.config.pg_missing = PG_MISSING
        yield None
        return
    from pg_cluster import start

    try:
        cluster = start(port=PG_PORT)
    except RuntimeError as exc:
        request.config.pg_missing = str(exc)
        yield None
        return
    request.config.add_cleanup(cluster.stop)  # after every fixture that uses it is torn down
    yield request.getfixturevalue("postgresql_noproc_server")


class RecordsTarget:
    """Where a test's records live: ``db`` is what ``--db``/``CRISIS_SIM_DB`` take (a file path or
    a ``postgresql://`` URL); ``open()`` opens it through the records interface."""

    def __init__(self, kind: str, db: str):
        self.kind, self.db = kind, db

    def open(self, **options):
        from simulator.records import open_store

        return open_store(self.db, **options)

    def __str__(self) -> str:
        return self.db


def new_target(kind: str, folder, server, name: str = "records"):
    """A fresh, empty records location of ``kind`` (a database is dropped by ``drop``)."""
    if kind == "sqlite":
        return RecordsTarget(kind, str(folder / f"{name}.sqlite3")), None
    import uuid

    dbname = f"t_{uuid.uuid4().hex[:12]}"
    janitor = DatabaseJanitor(user=server.user, host=server.host, port=server.port, dbname=dbname,
                              template_dbname=server.template_dbname, password=server.password)
    janitor.init()
    return RecordsTarget(kind, f"postgresql://{server.user}@{server.host}:{server.port}/{dbname}"), janitor


def skip_without_pg(request, kind: str, server) -> None:
    if kind == "postgresql" and server is None:
        pytest.skip(f"PostgreSQL store not tested: {getattr(request.config, 'pg_missing', 'no server')}")


@pytest.fixture(params=STORE_KINDS)
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def records_target(request, store_kind, tmp_path, monkeypatch):
    """A fresh records store of each kind (SQLite file, PostgreSQL database), also made the
    default for every ``crisis-sim`` the test runs (``CRISIS_SIM_DB``)."""
    server = request.getfixturevalue("pg_server") if store_kind == "postgresql" else None
    skip_without_pg(request, store_kind, server)
    target, janitor = new_target(store_kind, tmp_path, server)
    monkeypatch.setenv("CRISIS_SIM_DB", target.db)
    yield target
    if janitor is not None:
        janitor.drop()


@pytest.fixture(scope="module", params=STORE_KINDS)
def module_store(request, tmp_path_factory):
    """A fresh records store of each kind shared by a module's tests (filled once by a
    module fixture); not made the default ``CRISIS_SIM_DB``: tests pass ``--db``."""
    server = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    skip_without_pg(request, request.param, server)
    target, janitor = new_target(request.param, tmp_path_factory.mktemp("records"), server)
    yield target
    if janitor is not None:
        janitor.drop()


def sqlite_only(target, why: str) -> None:
    """Skip the PostgreSQL run of a test about the SQLite file itself, saying why."""
    if getattr(target, "kind", "sqlite") != "sqlite":
        pytest.skip(f"SQLite file only: {why}")
