"""The bundled library as a whole: every scenario validates cleanly and analyses soundly, and
together they cover the rubric, the difficulty spread and the safety rules."""

from __future__ import annotations

from collections import Counter

import pytest

from scoring.analysis import analyze
from scoring.catalog import load_graded
from scoring.rubric import find_rubric, load_rubric
from simulator.library import library_files

FILES = library_files()
RATINGS = {"good", "acceptable", "poor"}


@pytest.fixture(scope="module")
def loaded():
    out = {}
    for path in FILES:
        graded = load_graded(path)
        assert graded.ok, [d.format() for d in graded.diagnostics]
        out[path.name] = graded
    return out


@pytest.fixture(scope="module")
def analyses(loaded):
    return {name: analyze(g.scenario, g.rubric) for name, g in loaded.items()}


def test_ten_scenarios_with_the_difficulty_spread(loaded):
    assert len(loaded) == 10
    spread = Counter(g.scenario.difficulty for g in loaded.values())
    assert spread == {"introductory": 3, "intermediate": 4, "advanced": 3}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_validates_with_no_warnings(path):
    graded = load_graded(path)
    assert graded.ok and graded.diagnostics == [], [d.format() for d in graded.diagnostics]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_shape_and_content(path, loaded, analyses):
    s = loaded[path.name].scenario
    assert len(s.scenes) >= 15
    endings = s.endings()
    assert {e.rating for e in endings.values()} >= RATINGS
    assert all(any(p.text.strip() for p in e.debrief) for e in endings.values()), "every ending needs a debrief"
    assert s.briefing.strip() and s.objectives and s.content_warning.strip() and s.cast
    assert {"agitation", "rapport"} <= set(s.meters)
    assert any(c.critical for scene in s.scenes.values() for c in scene.choices)
    for sid, scene in s.scenes.items():
        for choice in scene.choices:
            assert choice.feedback.strip(), f"{sid}/{choice.id} has no feedback"
        if scene.timeout:
            assert scene.timeout.feedback.strip(), f"{sid} timeout has no feedback"
    conditional = [c for scene in s.scenes.values() for c in [*scene.choices, *scene.auto, *scene.lines] if c.if_]
    assert any("agitation" in c.if_ for c in conditional), "the person should react to agitation"
    best = analyses[path.name].best
    assert best is not None and len(best.decisions) >= 6


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_analysis_best_passes_with_100_worst_fails_every_ending_reachable(path, analyses):
    a = analyses[path.name]
    assert a.problems == []
    assert all(a.endings.values())
    assert a.best.grade.overall == 100.0 and a.best.grade.passed
    assert not a.worst.grade.passed
    assert a.uniform_decisions == []


def test_every_principle_in_two_scenarios_and_every_dimension_in_five(analyses):
    rubric = load_rubric(find_rubric("default")).rubric
    principles = Counter(p for a in analyses.values() for p in set(a.principles))
    dimensions = Counter(d for a in analyses.values() for d in set(a.dimensions))
    assert {p: principles[p] for p in rubric.principles if principles[p] < 2} == {}
    assert {d: dimensions[d] for d in rubric.dimensions if dimensions[d] < 5} == {}


def test_suicide_scenarios_end_with_help_resources(loaded):
    touching = [g.scenario for g in loaded.values()
                if "suicide" in " ".join(g.scenario.tags) or any(
                    "ask_about_suicide" in c.scores for sc in g.scenario.scenes.values() for c in sc.choices)]
    assert len(touching) >= 4
    for s in touching:
        assert any("988" in r for r in s.resources), f"{s.id} touches suicide but lists no 988 resource"


def test_arrest_or_diversion_decisions_and_a_co_responder_call(loaded):
    tags = Counter(t for g in loaded.values() for t in g.scenario.tags)
    assert tags["diversion"] >= 2
    assert tags["co-responder"] >= 1
