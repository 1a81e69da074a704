"""The rules of play, as pure functions: what a scene offers, where it moves on entry, and
what a choice does to meters and flags.

The Session (``simulator.engine``) and path analysis (``scoring.analysis``) both call these,
so there is exactly one definition of how a scenario plays.
"""

from __future__ import annotations

from collections.abc import Mapping

from simulator.expressions import Context
from simulator.model import Auto, Choice, Meter, Scenario, Scene

MAX_AUTO_MOVES = 1000
"""Auto moves allowed in a row without a decision, guarding against loops at run time."""


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
