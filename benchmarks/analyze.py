"""Path analysis on large generated scenarios, and the state bound on one built to explode.

Generated scenarios of 1,000, 10,000 and 50,000 scenes (``--quick``: 500, 2,000, 10,000): a
long chain of decisions, each with three options that move one or two scenes on, change two
small meters (agitation and rapport, 0..3), set one of two flags, carry points, and use
conditions on meters and flags; endings of every rating at the end. The number
of reachable states grows with the scenes (a few per scene). No ``visited()`` conditions: the
visit counts a condition reads are part of the state, so along a long branching chain they
multiply the states (that is the explosive case, measured separately).

Reported: reachable states and transitions, seconds, microseconds per transition, and growth
from the smallest to the largest size as (time per transition at the largest) / (at the
smallest), medians of 5, 3 and 1 rounds (the largest takes minutes; the other scenarios 3);
the spread pairs the extremes: near-linear in the reachable state graph means about 1 (target
<= 1.5). A second, small scenario is built to explode (16 independent flags that can be set in
any order: 2^16 x 17 states); analysing it with ``max_states=20,000`` must stop at the bound and
say so, in a time comparable to exploring 20,000 states (target: its time per transition <= 2x
that of the chain). A third, the 2.5 KB hub of 30 unguarded flags from issue 12 (2^30 states,
31 transitions each), must stop at the work budget, and a unit of work must cost about what it
costs on the chain (target <= 2x), so the budget means the same time whatever the scenario's
shape.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from benchmarks.timing import Result, Timing, repeat, table

NAME = "analyze"
HEADER = """format: 1
id: generated-chain
title: Generated chain
version: "1"
summary: A generated scenario for the analyze benchmark.
difficulty: advanced
minutes: 60
briefing: Generated.
cast:
  p: {name: Person}
meters:
  agitation: {start: 1, min: 0, max: 3, label: Agitation, good: low}
  rapport: {start: 1, min: 0, max: 3, label: Rapport, good: high}
flags:
  calm: {label: Calm}
  heard: {label: Heard}
max_decisions: 100000
start: s0
scenes:
"""


def chain_text(n: int) -> str:
    out = [HEADER]
    last = n - 4
    for i in range(last):
        nxt, skip = f"s{i + 1}", f"s{min(i + 2, last)}"
        guard = ' if: "heard and agitation < 2",' if i % 7 == 0 else ""
        out.append(
            f"  s{i}:\n"
            f"    text: Scene {i}.\n"
            f"    lines:\n"
            f'      - {{who: p, says: "Line {i}.", if: "agitation < 3"}}\n'
            f"    choices:\n"
            f"      - {{id: good, text: Good, to: {nxt}, effects: {{rapport: 1, agitation: -1}}, set: {{calm: true}},"
            f" scores: {{active_listening: 2}}, feedback: Good.}}\n"
            f"      - {{id: ok, text: Ok, to: {skip}, effects: {{agitation: 1}}, set: {{heard: true}},"
            f" scores: {{active_listening: 1}}, feedback: Ok.}}\n"
            f'      - {{id: bad, text: Bad, to: {nxt}, if: "rapport < 3 or calm",'
            f" effects: {{agitation: 2, rapport: -1}},"
            f" set: {{calm: false}}, scores: {{empathy_validation: -2}}, feedback: Bad.}}\n"
            + (
                f"      - {{id: alt, text: Alt, to: {nxt},{guard} scores: {{active_listening: 1}}, feedback: Alt.}}\n"
                if guard
                else ""
            )
        )
    out.append(
        f"  s{last}:\n"
        "    auto:\n"
        f'      - {{if: "agitation >= 3", to: s{last + 3}}}\n'
        f'      - {{if: "rapport >= 2", to: s{last + 1}}}\n'
        f"      - {{to: s{last + 2}}}\n"
        f"  s{last + 1}:\n    end: {{rating: good, outcome: Good., debrief: Good.}}\n"
        f"  s{last + 2}:\n    end: {{rating: acceptable, outcome: Acceptable., debrief: Acceptable.}}\n"
        f"  s{last + 3}:\n    end: {{rating: poor, outcome: Poor., debrief: Poor.}}\n"
    )
    return "".join(out)


def explosive_text(flags: int = 16, guarded: bool = True) -> str:
    """One hub scene where any of ``flags`` independent flags can be set, in any order (each
    once when ``guarded``; unguarded, the choices score nothing, so no points can be farmed)."""
    lines = [HEADER.replace("flags:\n  calm: {label: Calm}\n  heard: {label: Heard}\n", "flags:\n")]
    lines.insert(1, "")
    text = lines[0].replace("flags:\n", "flags:\n" + "".join(f"  f{i}: {{label: F{i}}}\n" for i in range(flags)))
    choices = "".join(
        f'      - {{id: set{i}, text: Set {i}, to: hub, if: "not f{i}", set: {{f{i}: true}},'
        f" scores: {{active_listening: 1}}, feedback: F.}}\n"
        if guarded
        else f"      - {{id: set{i}, text: Set {i}, to: hub, set: {{f{i}: true}}, feedback: F.}}\n"
        for i in range(flags)
    )
    all_set = " and ".join(f"f{i}" for i in range(flags))
    return (
        text.replace("start: s0", "start: hub")
        + "  hub:\n    choices:\n"
        + choices
        + f'      - {{id: done, text: Done, to: end, if: "{all_set}", scores: {{active_listening: 1}}, feedback: D.}}\n'
        + "  end:\n    end: {rating: good, outcome: Done., debrief: Done.}\n"
    )


def _analyze(path: Path, max_states: int, max_work: int = 10**12, rounds: int = 1):  # returns (Analysis, Timing)
    """Load and attach the rubric once, then time ``rounds`` analyses (the collector as in
    production: ``analyze`` decides itself whether to pause it)."""
    from scoring.analysis import analyze
    from scoring.catalog import attach_rubric
    from simulator.loader import load_scenario

    loaded = load_scenario(path, max_bytes=200_000_000)  # the size cap, raised for generated files
    assert loaded.ok, [d.format() for d in loaded.diagnostics][:5]
    graded = attach_rubric(loaded.scenario)
    assert graded.ok, [d.format() for d in graded.diagnostics][:5]
    timing = repeat(
        lambda: analyze(graded.scenario, graded.rubric, max_states=max_states, max_work=max_work),
        rounds,
        collector="on",
    )
    return timing.value, timing


def _per(timing: Timing, count: int) -> list[float]:
    return [t / count for t in timing.runs]


def _ratio(name: str, part: list[float], whole: list[float]) -> Result:
    """median(part) / median(whole), the spread pairing the extremes."""
    return Result(
        NAME,
        name,
        statistics.median(part) / statistics.median(whole),
        2.0,
        (min(part) / max(whole), max(part) / min(whole)),
    )


def run(quick: bool = False) -> list[Result]:
    sizes = (500, 2_000, 10_000) if quick else (1_000, 10_000, 50_000)
    rounds = dict(zip(sizes, (5, 3, 1), strict=True))  # the largest takes minutes
    rows, per_transition, per_unit, needs = [], {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"chain-{n}.yaml"
            path.write_text(chain_text(n))
            result, timing = _analyze(path, max_states=5_000_000, rounds=rounds[n])
            assert not result.bound_hit and result.best is not None, "the chain must be explored completely"
            assert all(result.endings.values()), result.endings
            per_transition[n] = _per(timing, result.transitions)
            per_unit[n] = _per(timing, result.work)
            needs[n] = (result.states, result.work)
            rows.append(
                [
                    n,
                    result.states,
                    result.transitions,
                    len(timing.runs),
                    timing.median,
                    statistics.median(per_transition[n]) * 1e6,
                    result.best.grade.overall,
                    result.worst.grade.overall,
                ]
            )
        path = Path(tmp) / "explosive.yaml"
        path.write_text(explosive_text())
        bound = 20_000
        exploded, explosive = _analyze(path, max_states=bound, rounds=3)
        path = Path(tmp) / "wide.yaml"
        path.write_text(explosive_text(30, guarded=False))
        budget = 3_000_000
        wide, wide_timing = _analyze(path, max_states=5_000_000, max_work=budget, rounds=3)
    print(
        table(
            ["scenes", "states", "transitions", "rounds", "seconds (median)", "µs/transition", "best", "worst"],
            rows,
            title=f"{NAME}: exact state exploration of generated chains",
        )
    )
    small, large = per_transition[sizes[0]], per_transition[sizes[-1]]
    growth = Result(
        NAME,
        f"time per transition growth {sizes[0]:,}->{sizes[-1]:,} scenes (1.0 = linear)",
        statistics.median(large) / statistics.median(small),
        1.5,
        (min(large) / max(small), max(large) / min(small)),
    )
    print(growth.line())
    print(
        f"explosive scenario (16 free flags, 2^16 x 17 states): bound {bound:,} hit: {exploded.bound_hit}; "
        f"reported '{exploded.problems[0] if exploded.problems else ''}' after {explosive.median:.2f} s (median)"
    )
    assert exploded.bound_hit and "state bound" in exploded.problems[0]
    print(
        f"exponential hub (30 free flags, 31 transitions a state): work budget {budget:,} reported "
        f"'{wide.problems[0] if wide.problems else ''}' after {wide_timing.median:.2f} s (median), "
        f"{wide.states:,} states"
    )
    assert wide.limits == ["work"]
    results = [
        growth,
        _ratio(
            "explosive scenario: time per transition vs the chain (bound reported)",
            _per(explosive, exploded.transitions),
            large,
        ),
        _ratio(
            "exponential hub: time per unit of work vs the chain (work budget reported)",
            _per(wide_timing, wide.work),
            per_unit[sizes[-1]],
        ),
    ]
    # Issue 16: the default bounds must cover the 10,000-scene chain (run above with bounds far
    # above what it needs, so its own states and work are what a default run would meet).
    from scoring.analysis import DEFAULT_MAX_STATES, DEFAULT_MAX_WORK

    states, work = needs[10_000]
    results.append(
        Result(
            NAME,
            f"10,000-scene chain: work it needs / default --max-work ({DEFAULT_MAX_WORK:,})",
            work / DEFAULT_MAX_WORK,
            1.0,
        )
    )
    results.append(
        Result(
            NAME,
            f"10,000-scene chain: states it keeps / default --max-states ({DEFAULT_MAX_STATES:,})",
            states / DEFAULT_MAX_STATES,
            1.0,
        )
    )
    for result in results[1:]:
        print(result.line())
    return results
