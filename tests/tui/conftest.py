"""App factory for TUI tests: a temp records file and a library folder holding only the
scenarios a test names, so tests (and snapshots) do not change when the library grows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from scenario_factory import SAMPLE_BEST

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "scenarios" / "overpass-railing.yaml"
BEST = SAMPLE_BEST


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    return folder


@pytest.fixture
def make_app(tmp_path, library):
    from simulator.tui.app import build_app

    def factory(**kwargs):
        kwargs.setdefault("library", library)
        kwargs.setdefault("db", str(tmp_path / "records.sqlite3"))
        return build_app(**kwargs)

    return factory
