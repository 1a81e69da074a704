"""Grading where people wait: ``grade()`` on a large scenario, and a coach-mode key press.

grade: an 8-decision run (seeded random play) on the 1,000-scene generated scenario of
``load_validate``, graded ``repeat``-ed times with the collector off; the median in ms with its
spread, against an absolute target of 10 ms (a grade is shown after every coach-mode choice and
recomputed by regrade and the exports, so its own time is what matters). For information, the
same grade replayed through the live ``Session`` (a ``transitions.Machine`` built per call, as
grading did before): ours / that.

coach key press: the "wide" scenario (60 decision scenes in a row, each offering 200 choices
with points and feedback: 12,000 transitions), played in coach mode in Pilot by pressing 1;
for each key the time from the press until the next scene's choices are on screen. Baseline: a
bare Textual app with the same widgets (title, transcript, status panel, a 200-option
OptionList, footer) whose key press does the same screen work (three transcript entries, the
status updated, the 200 options replaced). Alternating rounds of ``PRESSES`` presses each; a
round's figure is median(ours) / median(bare). Target: <= 2.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from benchmarks.timing import Result, alternate, compare, median_spread, repeat, table

NAME = "grading"
GRADE_TARGET_MS = 10.0
COACH_TARGET = 2.0
PRESSES = 10
WIDE_SCENES = 60
WIDE_CHOICES = 200


def wide_scenario_text(scenes: int = WIDE_SCENES, choices: int = WIDE_CHOICES) -> str:
    """A valid scenario of ``scenes`` decision scenes in a row, each offering ``choices`` choices
    (points in the default rubric's principles, feedback, some meter effects and conditions),
    then an ending."""
    from benchmarks.load_validate import _HEADER

    principles = ["active_listening", "empathy_validation", "calm_nonverbal", "respectful_approach",
                  "options_not_threats", "honest_reassurance_information", "adapt_to_person"]
    out = [_HEADER.replace("id: generated-benchmark", "id: generated-wide")]
    for i in range(scenes):
        nxt = f"scene_{i + 1}" if i + 1 < scenes else "ending"
        out.append(f"  scene_{i}:\n    text: Scene {i}. Maya watches you from the railing.\n    choices:\n")
        for k in range(choices):
            points = (k % 7) - 3
            out.append(
                f"      - id: c{k}\n"
                f"        text: Option {k}, a different thing to say in scene {i}.\n"
                f"        to: {nxt}\n"
                + ("        if: agitation < 10\n" if k % 5 == 4 else "")
                + (f"        effects: {{agitation: {1 if points < 0 else -1}}}\n" if points else "")
                + (f"        scores: {{{principles[k % len(principles)]}: {points}}}\n" if points else "")
                + f"        feedback: Why option {k} matters here.\n"
            )
    out.append(
        "  ending:\n    text: Maya steps back from the railing.\n    end:\n      rating: good\n"
        "      outcome: Maya goes with the medics.\n      debrief: |\n        You listened.\n"
    )
    return "".join(out)


def _grade_figures(rounds: int) -> tuple[Result, Result]:
    from benchmarks.load_validate import scenario_text
    from scoring.catalog import load_graded
    from scoring.grading import grade
    from simulator.engine import Run, Session

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.yaml"
        path.write_text(scenario_text(1_000), encoding="utf-8")
        graded = load_graded(path, max_bytes=10**9)
    if not graded.ok or graded.scenario is None:
        raise AssertionError("the generated 1,000-scene scenario does not load")
    scenario, rubric = graded.scenario, graded.rubric
    rnd, run = random.Random(16), Run(scenario)
    run.start()
    while run.waiting and len(run.decisions) < 8:
        run.choose(rnd.choice(run.offered()).id)
    decisions = list(run.decisions)
    if len(decisions) != 8 or grade(scenario, rubric, decisions) != grade(scenario, rubric, decisions, replay=Session):
        raise AssertionError("the benchmark run is not 8 decisions, or its grades differ between Run and Session")
    ours = repeat(lambda: grade(scenario, rubric, decisions), rounds)
    ms = [s * 1000 for s in ours.runs]
    versus = compare(lambda: grade(scenario, rubric, decisions, replay=Session),
                     lambda: grade(scenario, rubric, decisions), max(3, rounds // 3))
    print(table(["grade of 8 decisions, 1,000 scenes", "median ms", "spread ms"],
                [["ours (Run)", statistics.median(ms), f"{min(ms):.2f}-{max(ms):.2f}"],
                 ["through a Session (a Machine per call)", versus.baseline.median * 1000,
                  f"{versus.baseline.spread[0] * 1000:.1f}-{versus.baseline.spread[1] * 1000:.1f}"]],
                title=f"{NAME}: grade() ({len(ms)} calls, collector off)"))
    own = Result(NAME, "grade() of 8 decisions on 1,000 scenes, ms", statistics.median(ms), GRADE_TARGET_MS,
                 (min(ms), max(ms)), unit=" ms")
    info = Result(NAME, "grade() ours / through a per-call Session", versus.ratio, None, versus.spread)
    return own, info


# ---- the coach-mode key press ------------------------------------------------------------------


def _bare_app(choices: int) -> Any:
    from textual.app import App, ComposeResult
    from textual.containers import Horizontal, Vertical, VerticalScroll
    from textual.widgets import Footer, OptionList, Static
    from textual.widgets.option_list import Option

    class Bare(App[None]):
        """Laid out by crisis-sim's own stylesheet, with the play screen's ids and classes."""

        CSS_PATH = str(Path(__file__).resolve().parent.parent / "simulator" / "tui" / "app.tcss")
        BINDINGS: ClassVar = [("1", "next")]

        def __init__(self) -> None:
            super().__init__()
            self.scene = 0

        def compose(self) -> ComposeResult:
            with Horizontal(id="play-top"):
                yield Static("Generated wide scenario  ·  Coach mode", id="play-title", markup=False)
                yield Static("", id="countdown", markup=False)
            with Horizontal(id="play-body"):
                yield VerticalScroll(id="transcript")
                yield Static("Agitation 6\nRapport 1", id="status", markup=False)
            with Vertical(id="choices-box"):
                yield OptionList(id="choices", markup=False)
            yield Footer()

        def on_mount(self) -> None:
            self.query_one("#transcript", VerticalScroll).anchor()  # as the Transcript does
            self.offer()

        def offer(self) -> None:
            options = self.query_one("#choices", OptionList)
            options.clear_options()
            options.add_options(
                Option(f"{k + 1}. Option {k}, a different thing to say in scene {self.scene}.", id=f"c{k}")
                for k in range(choices)
            )
            options.highlighted = 0

        def action_next(self) -> None:
            transcript = self.query_one("#transcript", VerticalScroll)
            with self.batch_update():
                transcript.mount(Static("▶ You: Option 0", markup=False, classes="entry -choice"))
                transcript.mount(
                    Static("Coach: your choice was weak.\nWhy: because.", markup=False, classes="entry -coach")
                )
                self.scene += 1
                transcript.mount(Static(f"Scene {self.scene}. Maya watches you.", markup=False,
                                        classes="entry -narration"))
                self.query_one("#status", Static).update(f"Agitation {6 + self.scene % 3}\nRapport 1")
                self.offer()

    return Bare()


async def _bare_presses(count: int) -> list[float]:
    app = _bare_app(WIDE_CHOICES)
    times = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(count):
            before = app.scene
            start = time.perf_counter()
            await pilot.press("1")
            while app.scene == before:
                await pilot.pause()
            await pilot.pause()
            times.append(time.perf_counter() - start)
    return times


async def _coach_presses(path: Path, count: int) -> list[float]:
    from simulator.tui.app import build_app
    from simulator.tui.screens.play import PlayScreen

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(trainee="bench", db=str(Path(tmp) / "r.sqlite3"), scenario_ref=str(path), max_bytes=10**9)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("m")  # coach mode
            await pilot.press("s")
            while not isinstance(app.screen, PlayScreen):
                await pilot.pause()
            await pilot.pause()
            screen = app.screen
            if screen.mode != "coach":
                raise AssertionError("the benchmark did not start coach mode")
            for _ in range(count):
                before = len(screen.session.decisions)
                start = time.perf_counter()
                await pilot.press("1")
                while len(screen.session.decisions) == before:
                    await pilot.pause()
                await pilot.pause()  # the coaching and the new choices rendered
                times.append(time.perf_counter() - start)
    return times


def _coach_figure(rounds: int) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.yaml"
        path.write_text(wide_scenario_text(), encoding="utf-8")
        pairs = alternate(
            rounds,
            lambda: asyncio.run(_bare_presses(PRESSES)),
            lambda: asyncio.run(_coach_presses(path, PRESSES)),
        )
    ratios = [statistics.median(o) / statistics.median(b) for b, o in pairs]
    ratio, spread = median_spread(ratios)
    bare_ms = statistics.median(t for b, _ in pairs for t in b) * 1000
    ours_ms = statistics.median(t for _, o in pairs for t in o) * 1000
    print(f"{NAME}: coach-mode key press on the wide scenario ({WIDE_SCENES} scenes x {WIDE_CHOICES} choices), "
          f"{len(pairs)} alternating rounds of {PRESSES} presses: ours median {ours_ms:.1f} ms, "
          f"bare app with the same widgets {bare_ms:.1f} ms")
    return Result(NAME, "coach key press, 200 choices / bare app, same widgets", ratio, COACH_TARGET, spread)


def run(quick: bool = False) -> list[Result]:
    own, info = _grade_figures(15 if quick else 41)
    print(own.line())
    print(info.line())
    coach = _coach_figure(3 if quick else 5)
    print(coach.line())
    return [own, info, coach]


if __name__ == "__main__":
    run()
