"""What the app's start costs: the path to the first interactive library screen imports only
what that screen needs (issue 16: most of the start-up time was importing play, grading and
analysis machinery that the library never uses), and the start leaves the collector running.

Each test runs a fresh process, as a trainee starts one: ``crisis-sim``'s way in
(``simulator.tui.launch.start_app``), signed in through the form, to the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

NOT_AT_START = (
    "simulator.engine",
    "simulator.recorder",
    "simulator.loader",
    "simulator.model",
    "simulator.yamlsource",
    "simulator.rules",
    "simulator.runner",
    "transitions",
    "scoring.analysis",
    "scoring.grading",
    "scoring.report",
    "scoring.rubric",
    "scoring.catalog",
    "simulator.tui.screens.play",
    "simulator.tui.screens.briefing",
    "simulator.tui.screens.debrief",
    "simulator.tui.screens.history",
)
"""Modules the library screen does not need: the engine and the scenario model (the library
shows the library cache's entries), grading and its reports, and the screens past the library.
Each is imported when a scenario is first opened, played or its debrief shown."""

TO_THE_LIBRARY = """
import gc, json, sys
from simulator.tui.launch import start_app

app = start_app(db=sys.argv[1])

async def sign_in(pilot):
    from textual.widgets import DataTable
    from simulator.tui.screens.library import LibraryScreen
    await pilot.pause()
    await pilot.click("#trainee-id")
    await pilot.press(*"recruit-042")
    await pilot.click("#display-name")
    await pilot.press(*"Alex", "enter")
    for _ in range(200):
        await pilot.pause(0.05)
        if isinstance(app.screen, LibraryScreen) and app.screen.query_one(DataTable).row_count:
            break
    table = app.screen.query_one(DataTable)
    print(json.dumps({
        "screen": type(app.screen).__name__,
        "rows": table.row_count,
        "modules": sorted(sys.modules),
        "collector_on": gc.isenabled(),
        "frozen": gc.get_freeze_count(),
    }))
    app.exit()

app.run(headless=True, size=(120, 40), auto_pilot=sign_in)
"""


def start_to_library(tmp_path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", TO_THE_LIBRARY, str(tmp_path / "records.sqlite3")],
        capture_output=True, text=True, cwd=REPO, env=os.environ.copy(), timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_first_library_imports_no_play_grading_or_analysis(tmp_path):
    # A cold library cache (the first start ever, from the conftest's empty XDG folders) loads
    # every scenario once to fill it; the second start reads the cache, as every later one does.
    first = start_to_library(tmp_path)
    assert first["screen"] == "LibraryScreen" and first["rows"] > 0
    warm = start_to_library(tmp_path)
    assert warm["screen"] == "LibraryScreen" and warm["rows"] == first["rows"]
    loaded = [name for name in NOT_AT_START if name in warm["modules"]]
    assert loaded == [], f"the start to the library imported {loaded}: import them where they are first used"


def test_the_start_leaves_the_collector_on_with_the_start_frozen(tmp_path):
    started = start_to_library(tmp_path)
    assert started["collector_on"] is True
    assert started["frozen"] > 0
