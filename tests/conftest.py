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
