"""Small scenarios written inline, for engine tests that need exact control."""

from __future__ import annotations

import textwrap
from pathlib import Path

from simulator.loader import load_scenario
from simulator.model import Scenario

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "scenarios" / "overpass-railing.yaml"

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
