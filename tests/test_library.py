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


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_the_difficulty_label_follows_the_measured_structure(path, analyses):
    """Labels are not a quota: each is the level scoring.difficulty's rule gives the scenario's
    structure (docs/scoring.md, "measured difficulty")."""
    a = analyses[path.name]
    assert a.structure is not None and not a.structure.partial
    assert a.label == a.structure.level, (a.structure.points, a.structure)


def test_every_level_is_in_the_library(loaded):
    assert {g.scenario.difficulty for g in loaded.values()} == {"introductory", "intermediate", "advanced"}


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
    # no good ending is reached with a failing grade, no poor one with a passing grade (grading method 2)
    assert a.grade_mismatches == [] and a.problems == [], a.problems
    assert a.grade_check_partial == ""
    assert all(a.endings.values())
    assert a.best.grade.overall == 100.0 and a.best.grade.passed
    assert all(d.score in (None, 100.0) for d in a.best.grade.dimensions)
    assert not a.worst.grade.passed and a.worst.grade.overall < 20 and a.worst.grade.performance < 20
    assert a.uniform_decisions == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_random_runs_keep_the_debrief_invariant(path, loaded, soak):
    """500 random runs per scenario under --soak (25 in CI): every debrief dimension line is a
    score in 0..100 resting on at least one decision, or n/a; a failed run never shows a
    passing score."""
    import random

    from scenario_factory import random_playthrough
    from test_grading_properties import check_debrief_lines

    from scoring.grading import grade

    graded = loaded[path.name]
    rnd = random.Random(path.stem)
    for _ in range(500 if soak else 25):
        session = random_playthrough(graded.scenario, rnd, timeout_share=0.15)
        g = grade(graded.scenario, graded.rubric, session.decisions)
        check_debrief_lines(g)
        assert g.passed or g.overall < g.pass_score


@pytest.fixture(scope="module")
def coverage(loaded, analyses):
    from scoring.coverage import scenario_coverage

    return [scenario_coverage(g.scenario, analyses[name]) for name, g in sorted(loaded.items())]


def test_the_library_covers_the_rubric_and_the_course(coverage):
    """Issue 15's library rules (scoring/coverage.py): each principle earns points in three
    scenarios, each critical error can be made in two, naloxone in two, three hold and four
    diversion calls, and 30 % of decision scenes offer two or more defensible choices."""
    from scoring.coverage import shortfalls

    rubric = load_rubric(find_rubric("default")).rubric
    assert shortfalls(coverage, rubric) == []


def test_every_dimension_in_five_scenarios(analyses):
    rubric = load_rubric(find_rubric("default")).rubric
    dimensions = Counter(d for a in analyses.values() for d in set(a.dimensions))
    assert {d: dimensions[d] for d in rubric.dimensions if dimensions[d] < 5} == {}


def test_the_readme_coverage_tables_are_the_library_s(coverage, analyses):
    """scenarios/README.md shows the tables ``python -m scoring.coverage --write`` makes."""
    from scoring.coverage import README, readme_block

    rubric = load_rubric(find_rubric("default")).rubric
    by_id = {a.scenario_id: a for a in analyses.values()}
    assert readme_block(coverage, by_id, rubric) in README.read_text(encoding="utf-8"), (
        "scenarios/README.md is out of date: run python -m scoring.coverage --write"
    )


def test_suicide_scenarios_end_with_help_resources(loaded):
    touching = [g.scenario for g in loaded.values()
                if "suicide" in " ".join(g.scenario.tags) or any(
                    "ask_about_suicide" in c.scores for sc in g.scenario.scenes.values() for c in sc.choices)]
    assert len(touching) >= 4
    for s in touching:
        assert any("988" in r for r in s.resources), f"{s.id} touches suicide but lists no 988 resource"


def test_a_co_responder_call(loaded):
    """Diversion and hold calls are counted with the library's coverage (scoring/coverage.py)."""
    tags = Counter(t for g in loaded.values() for t in g.scenario.tags)
    assert tags["co-responder"] >= 1
