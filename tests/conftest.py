"""Test isolation: no test reads or writes the real user's config, records or state.

Every test gets its own XDG folders (platformdirs follows them on Linux), its own records file
and a config path that does not exist; subprocesses started by tests inherit the same
environment, so `crisis-sim run` in a test records into the test's temp folder.
"""

from __future__ import annotations

import pytest


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
