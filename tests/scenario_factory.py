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


# Two decisions and one ending rated good: the weak choices still reach it, with a failing grade,
# which `analyze` must report (a "grade that disagrees with the ending").
GOOD_ENDING_FAILS = """\
start: first
scenes:
  first:
    text: Sam is on the bench.
    choices:
      - {id: listen, text: Listen to Sam., to: second, scores: {active_listening: 2}, feedback: Listening first.}
      - {id: lecture, text: Tell Sam what to do., to: second, scores: {active_listening: -1}, feedback: A lecture.}
  second:
    text: Sam looks up.
    choices:
      - {id: ask, text: Ask how Sam feels., to: done, scores: {empathy_validation: 2}, feedback: Naming it helps.}
      - {id: shrug, text: Shrug it off., to: done, scores: {empathy_validation: -1}, feedback: Dismissive.}
  done:
    end: {rating: good, outcome: Sam went home., debrief: The call ended well.}
"""


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


def random_playthrough(scenario: Scenario, rnd, timeout_share: float = 0.2):
    """A finished session of ``scenario`` played at random: a random choice on offer each time,
    or (with a timer, ``timeout_share`` of the time) letting the time run out."""
    from simulator.engine import Session

    session = Session(scenario)
    session.start()
    while session.waiting:
        if session.timeout_seconds() and rnd.random() < timeout_share:
            session.expire()
        else:
            session.choose(rnd.choice(session.offered()).id)
    return session


# ---- generated scenarios, for the grading and analysis properties ------------------------------

def _default_rubric():
    from scoring.rubric import find_rubric, load_rubric

    return load_rubric(find_rubric("default")).rubric


def graded_scenarios(max_scenes: int = 6, autos: bool = False):
    """A hypothesis strategy of random valid scenarios graded by the default rubric, as
    ``(scenario, effective rubric)``: 1..max_scenes decision scenes in a row that only move
    forward (plus, sometimes, one flag-guarded step back, so the scene graph has a loop the run
    can take once), 1..4 choices each with random points (-3..+3 in up to three principles,
    some scenes only non-positive), critical errors, ``acceptable: true`` options, conditions
    on a meter or a flag, meter effects and timeouts; endings of random ratings; sometimes a
    scenario pass score (0..100). With ``autos``, some scenes also move on by themselves (an
    ``auto`` move forward, with or without a condition) and have a spoken line with a condition.
    Most options of a scene share its target and effects, so
    options that lead to the same state (the monotonic property needs them) are common."""
    import yaml
    from hypothesis import strategies as st

    from scoring.catalog import load_graded

    rubric = _default_rubric()
    principles = sorted(rubric.principles)
    criticals = sorted(rubric.critical_errors)
    conditions = ["agitation > 5", "agitation <= 5", "asked", "not asked"]

    @st.composite
    def build(draw):
        n = draw(st.integers(1, max_scenes))
        ratings = draw(st.lists(st.sampled_from(["good", "acceptable", "poor"]), min_size=1, max_size=3))
        endings = {f"end{k}": r for k, r in enumerate(ratings)}
        effects = st.sampled_from([{}, {}, {"agitation": 1}, {"agitation": -1}, {"agitation": 3}, {"rapport": 2}])

        def option(later: list[str], to: str, eff: dict, harmful: bool) -> dict:
            pts = st.integers(-3, 0) if harmful else st.integers(-3, 3)
            scores = draw(st.dictionaries(st.sampled_from(principles), pts, max_size=3))
            out: dict = {"to": to if draw(st.integers(0, 9)) < 8 else draw(st.sampled_from(later))}
            mine = eff if draw(st.integers(0, 9)) < 8 else draw(effects)
            if mine:
                out["effects"] = mine
            if draw(st.integers(0, 9)) == 0:
                out["set"] = {"asked": True}
            if scores:
                out["scores"] = scores
            kind = draw(st.integers(0, 9))
            if kind == 0:
                out["critical"] = draw(st.sampled_from(criticals))
            elif kind <= 2:
                out["acceptable"] = True
            out["feedback"] = "Why it matters."
            return out

        scenes: dict = {}
        for i in range(n):
            later = [f"s{j}" for j in range(i + 1, n)] + list(endings)
            to, eff = draw(st.sampled_from(later)), draw(effects)
            harmful = draw(st.integers(0, 3)) == 0
            choices = []
            for c in range(draw(st.integers(1, 4))):
                choice = {"id": f"c{c}", "text": f"Option {c}.", **option(later, to, eff, harmful)}
                if c and draw(st.integers(0, 4)) == 0:
                    choice["if"] = draw(st.sampled_from(conditions))
                choices.append(choice)
            if i and draw(st.integers(0, 6)) == 0:
                choices.append({"id": "back", "text": "Go back a step.", "to": f"s{draw(st.integers(0, i - 1))}",
                                "if": "not looped", "set": {"looped": True}, "feedback": "Why it matters."})
            scene: dict = {"text": f"Scene {i}.", "choices": choices}
            if autos and draw(st.integers(0, 3)) == 0:
                auto: dict = {"to": draw(st.sampled_from(later))}
                if draw(st.booleans()):
                    auto["if"] = draw(st.sampled_from(conditions))
                scene["auto"] = [auto]
            if autos and draw(st.booleans()):
                scene["lines"] = [{"who": "sam", "says": "Go on.", "if": draw(st.sampled_from(conditions))}]
            if draw(st.integers(0, 9)) < 3:
                scene["timeout"] = {"seconds": 10, **option(later, to, eff, harmful)}
            scenes[f"s{i}"] = scene
        for sid, rating in endings.items():
            scenes[sid] = {"end": {"rating": rating, "outcome": "Done.", "debrief": "What to learn."}}
        data: dict = {
            "format": 1, "id": "generated", "title": "Generated", "version": "1", "summary": "Generated.",
            "difficulty": "introductory", "minutes": 1, "briefing": "Generated briefing.",
            "cast": {"sam": {"name": "Sam"}},
            "meters": {"agitation": {"start": 5, "min": 0, "max": 10, "label": "Agitation"},
                       "rapport": {"start": 1, "min": 0, "max": 10, "label": "Rapport"}},
            "flags": {"asked": {"label": "Asked"}, "looped": {"label": "Looped"}},
            "start": "s0",
            "scenes": scenes,
        }
        score = draw(st.sampled_from([None, None, None, 0, 1, 50, 99, 100]))
        if score is not None:
            data["pass"] = {"score": score}
        return data

    def load(data: dict):
        import json
        import tempfile

        data = json.loads(json.dumps(data))  # no shared objects: safe_dump would write them as anchors

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "generated.yaml"
            path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            graded = load_graded(path)
        assert graded.ok, [d.format() for d in graded.diagnostics if d.severity == "error"]
        return graded.scenario, graded.rubric

    return build().map(load)
