"""The rules of play, as pure functions: what a scene offers, where it moves on entry, and
what a choice does to meters and flags.

The Session (``simulator.engine``) and path analysis (``scoring.analysis``) both call these,
so there is exactly one definition of how a scenario plays.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Protocol

from simulator.expressions import Context
from simulator.model import Auto, Choice, Meter, Scenario, Scene, TextPart

MAX_AUTO_MOVES = 1000
"""Auto moves allowed in a row without a decision, guarding against loops at run time."""


class RunState(Protocol):
    """What ``settle`` reads and updates: the current scene and the run's values."""

    @property
    def scene(self) -> str: ...
    @property
    def meters(self) -> Mapping[str, int]: ...
    @property
    def flags(self) -> Mapping[str, bool]: ...
    @property
    def visits(self) -> MutableMapping[str, int]: ...


class AutoLoop(Exception):
    """More than MAX_AUTO_MOVES auto moves in a row: the scenario loops at run time."""


def settle(scenario: Scenario, state: RunState) -> Iterator[tuple[str, Scene, Auto | None]]:
    """Enter ``state.scene`` and follow auto moves: the order in which a scene plays.

    For each scene entered (its visit count already raised) yields ``(scene_id, scene, auto)``.
    ``auto`` is the move to take now: the consumer must move ``state.scene`` to ``auto.to``
    before resuming. ``None`` means the scene stops here: an ending, or a decision (or a dead
    end, when ``offered`` is empty and there is no timeout)."""
    for _ in range(MAX_AUTO_MOVES):
        sid = state.scene
        scene = scenario.scenes[sid]
        state.visits[sid] = state.visits.get(sid, 0) + 1
        auto = None if scene.end is not None else auto_move(scenario, scene, state)
        yield sid, scene, auto
        if auto is None:
            return
    raise AutoLoop(state.scene)


def out_of_decisions(scenario: Scenario, made: int) -> bool:
    """True when a run that has made ``made`` decisions may make no more (``max_decisions``):
    it stops where the next decision would be offered (an ending reached by the last one
    still counts)."""
    return made >= scenario.max_decisions


def holds(scenario: Scenario, condition: str | None, ctx: Context) -> bool:
    """A missing condition always holds."""
    return condition is None or scenario.condition(condition).holds(ctx)


def offered(scenario: Scenario, scene: Scene, ctx: Context) -> list[Choice]:
    """The choices whose conditions hold, in the order written."""
    return [c for c in scene.choices if holds(scenario, c.if_, ctx)]


def auto_move(scenario: Scenario, scene: Scene, ctx: Context) -> Auto | None:
    """The first auto move whose condition holds, if any."""
    for auto in scene.auto:
        if holds(scenario, auto.if_, ctx):
            return auto
    return None


def ending_text(scenario: Scenario, parts: Iterable[TextPart], ctx: Context, *, paragraphs: bool = True) -> str:
    """An ending's debrief (``paragraphs``: one paragraph per part, a blank line between) or
    outcome (one line: the parts joined by a space) for this run: the parts whose condition
    holds, in the order written."""
    texts = [p.text.strip() for p in parts if holds(scenario, p.if_, ctx)]
    return "\n\n".join(texts) if paragraphs else " ".join(" ".join(t.split()) for t in texts)


def clamp(meter: Meter, value: int) -> int:
    return max(meter.min, min(meter.max, value))


def apply_effects(scenario: Scenario, meters: Mapping[str, int], effects: Mapping[str, int]) -> dict[str, int]:
    """New meter values after adding ``effects``, each clamped to its meter's bounds."""
    result = dict(meters)
    for name, delta in effects.items():
        result[name] = clamp(scenario.meters[name], result[name] + delta)
    return result


def apply_flags(flags: Mapping[str, bool], changes: Mapping[str, bool]) -> dict[str, bool]:
    result = dict(flags)
    result.update(changes)
    return result


def initial_meters(scenario: Scenario) -> dict[str, int]:
    return {name: m.start for name, m in scenario.meters.items()}


def initial_flags(scenario: Scenario) -> dict[str, bool]:
    return dict.fromkeys(scenario.flags, False)
