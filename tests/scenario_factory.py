"""Small scenarios written inline, for engine tests that need exact control."""

from __future__ import annotations

import textwrap
from pathlib import Path

from simulator.loader import load_scenario
from simulator.model import Scenario

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "scenarios" / "overpass-railing.yaml"
# The sample's best path (what `crisis-sim analyze overpass-railing` reports): one copy for all tests.
SAMPLE_BEST = ["ask-dispatch", "slow-approach", "reflect-feeling", "ask-directly", "reasons", "call-sister",
               "invite-choice", "warm-handoff"]

HEADER = """\
format: 1
id: tiny
title: Tiny
version: "1"
summary: A tiny scenario for tests.
difficulty: introductory
minutes: 1
briefing: Test briefing.
cast:
  sam: {name: Sam}
meters:
  agitation: {start: 5, min: 0, max: 10, label: Agitation, good: low}
  rapport: {start: 1, min: 0, max: 10, label: Rapport, good: high}
flags:
  asked: {label: Asked, show: true}
"""


def write(tmp_path: Path, body: str, name: str = "tiny.yaml", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + textwrap.dedent(body), encoding="utf-8")
    return path


def load(tmp_path: Path, body: str, **kwargs: object) -> Scenario:
    result = load_scenario(write(tmp_path, body, **kwargs))  # type: ignore[arg-type]
    assert result.scenario is not None, [d.format() for d in result.diagnostics]
    return result.scenario


# Two scenes whose auto moves send the run back and forth while agitation stays above 3:
# no auto move changes agitation, so this loops. validate cannot see it (it would have to know
# which meter values are possible); the engine stops it and says so.
AUTO_LOOP = """\
start: a
scenes:
  a:
    auto:
      - {if: "agitation > 3", to: b}
    choices:
      - {id: go, text: Go, to: done}
  b:
    auto:
      - {if: "agitation > 3", to: a}
    choices:
      - {id: go, text: Go, to: done}
  done:
    end: {rating: good, outcome: Done.}
"""
