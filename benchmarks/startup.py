"""The trainee app: start-up time and key-press-to-next-scene time.

Start-up: wall time from starting a Python process to the library screen being interactive
(its table filled, the app processing input), in Textual's headless mode, then exit. Baseline,
measured in the same run: a bare Textual app showing one Static, started and stopped the same
way. Both are fresh processes (imports included), run in alternation; the median of the per-round
ratios is reported with its spread, and each process's own peak memory. Target: ratio <= 1.5.

Key press: in Pilot (``run_test``), the sample scenario played by digit keys; for each key the
time from the press until the next scene's choices are on screen. Pilot itself costs tens of
milliseconds per press (measured here: a bare Textual app whose key updates one Static), so the
baseline is that bare app measured the same way in the same run, and the target is on what our
app adds: median(ours) - median(bare) < 50 ms. Both raw medians are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from benchmarks.timing import Comparison, Result, child, compare, table

NAME = "startup"
START_TARGET = 1.5

BARE = """
import sys
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("hello")

async def ready(pilot):
    await pilot.pause()
    pilot.app.exit()

Bare().run(headless=True, auto_pilot=ready)
"""

OURS = """
import sys
from simulator.tui.launch import start_app

app = start_app(trainee="bench", db=sys.argv[1])

async def ready(pilot):
    from simulator.tui.screens.library import LibraryScreen
    from textual.widgets import DataTable
    while not (isinstance(app.screen, LibraryScreen) and app.screen.query_one(DataTable).row_count):
        await pilot.pause()
    app.exit()

app.run(headless=True, auto_pilot=ready)
"""


def bytecode_env(folder: str) -> dict[str, str]:
    """Compiled modules for both sides, as every start after the first has them. pip compiles
    an installed package (textual's, and crisis-sim's from a wheel) to ``.pyc`` files, and a
    checkout writes them on its first run; but under ``PYTHONDONTWRITEBYTECODE`` (set on some
    machines and CI images) an editable checkout's own modules were compiled from source on
    every start, while textual's came compiled: about 0.1 s of ours that no installed
    crisis-sim pays. Both sides read and write compiled modules under ``folder`` (the warm-up
    start of each side fills it)."""
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(Path(folder) / "pycache")}


def startup(repeats: int) -> tuple[Comparison, float, float]:
    """Fresh processes, alternating bare and ours; also each one's own peak memory (MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "records.sqlite3")
        env = {"XDG_CACHE_HOME": str(Path(tmp) / "cache"), **bytecode_env(tmp)}
        child(OURS, db, env=env)  # create the records file, warm the OS file cache for both
        child(BARE, env=env)
        peaks: dict[str, float] = {}

        def run(code: str, *args: str) -> float:
            done = child(code, *args, env=env)
            peaks[code] = max(peaks.get(code, 0.0), done.peak_mib)
            return done.seconds

        # Timed around the whole child process; the collector setting is the children's own
        # (Python's default, the same on both sides).
        pair = compare(lambda: run(BARE), lambda: run(OURS, db), repeats)
    return pair, peaks[BARE], peaks[OURS]


@contextlib.contextmanager
def _heap_as_started() -> Iterator[None]:
    """The collector as in a started app's process: what was made before is frozen
    (``simulator.tui.launch.start_app`` freezes what the start made), what the presses make is
    collected as usual. This benchmark's process also holds the sample's analysis and both
    apps' imports; without this, a full collection of that heap (100-450 ms here) landed in
    whichever press happened to trigger it, on either side (a spread up to 2 s)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _bare_key_presses(count: int = 7) -> list[float]:
    from textual.app import App
    from textual.widgets import Static

    class Bare(App[None]):
        BINDINGS: ClassVar = [("1", "bump")]
        presses = 0

        def compose(self):  # a Textual compose method
            yield Static("0", id="count")

        def action_bump(self) -> None:
            self.presses += 1
            self.query_one("#count", Static).update(str(self.presses))

    times = []
    with _heap_as_started():
        times = await _bare_presses(Bare(), count)
    return times


async def _bare_presses(app: Any, count: int) -> list[float]:
    times = []
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        for _ in range(count):
            start = time.perf_counter()
            await pilot.press("1")
            await pilot.pause()
            times.append(time.perf_counter() - start)
    return times


async def _key_presses() -> list[float]:
    from benchmarks.export import sample_best_path
    from scoring.catalog import load_graded
    from simulator.engine import Session
    from simulator.tui.app import build_app

    repo = Path(__file__).resolve().parent.parent
    sample = repo / "scenarios" / "overpass-railing.yaml"
    graded = load_graded(sample)
    session = Session(graded.scenario)
    session.start()
    positions = []
    for choice in sample_best_path(graded)[:-1]:  # the last choice ends the scenario
        positions.append([c.id for c in session.offered()].index(choice) + 1)
        session.choose(choice)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(trainee="bench", db=str(Path(tmp) / "r.sqlite3"), scenario_ref=str(sample))
        with _heap_as_started():
            times = await _our_presses(app, positions)
    return times


async def _our_presses(app: Any, positions: list[int]) -> list[float]:
    times = []
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        for position in positions:
            screen = app.screen
            before = len(screen.session.events)
            start = time.perf_counter()
            await pilot.press(str(position))
            while len(screen.session.events) == before:
                await pilot.pause()
            await pilot.pause()  # the new choices rendered
            times.append(time.perf_counter() - start)
    return times


def run(quick: bool = False) -> list[Result]:
    pair, bare_peak, ours_peak = startup(5 if quick else 9)
    presses = asyncio.run(_key_presses())
    bare_presses = asyncio.run(_bare_key_presses(len(presses)))
    median_ms = statistics.median(presses) * 1000
    bare_ms = statistics.median(bare_presses) * 1000
    started = Result(NAME, "start-up to library / bare Textual app", pair.ratio, START_TARGET, pair.spread)
    print(
        table(
            ["app", "start-up s (median)", "spread s", "peak MiB"],
            [
                ["bare Textual app, one Static", pair.baseline.median, _spread(pair.baseline.spread), bare_peak],
                ["crisis-sim library", pair.ours.median, _spread(pair.ours.spread), ours_peak],
            ],
            title=f"{NAME}: process start to interactive (headless), {len(pair.ratios)} alternating rounds",
        )
    )
    print(started.line())
    # The spread of "added" pairs the i-th press of each app (both sorted), low with low.
    added = [(o - b) * 1000 for o, b in zip(sorted(presses), sorted(bare_presses), strict=True)]
    pressed = Result(
        NAME, "key press to next scene, ms added over a bare app (Pilot median)", median_ms - bare_ms, 50.0,
        (min(added), max(added)),
    )
    print(f"key press to next scene in Pilot: median {median_ms:.1f} ms (max {max(presses) * 1000:.1f} ms over "
          f"{len(presses)} presses); bare app key press in Pilot: median {bare_ms:.1f} ms")
    print(pressed.line())
    return [started, pressed, Result(NAME, "start-up peak memory, ours (one process)", ours_peak, None, unit=" MiB")]


def _spread(low_high: tuple[float, float]) -> str:
    return f"{low_high[0]:.3f}-{low_high[1]:.3f}"
