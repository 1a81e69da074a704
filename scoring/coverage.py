"""What a library of scenarios teaches as a whole, and the rules the bundled library keeps.

One scenario's analysis says what it exercises; a course needs the library to cover the
rubric: each principle practised (earning points, not only avoided) in several calls, each
critical error met where it can really be made, the medical skills the rubric names, and the
decisions a CIT course grades (an emergency hold, arrest or diversion). ``shortfalls`` states
each rule that a library misses as a sentence; ``tests/test_library.py`` holds the bundled
library to them, and ``principles_table`` renders the coverage table of
``scenarios/README.md`` (``python -m scoring.coverage`` prints it).

The scenario's own tags declare which call turns on a hold (``hold``) or on a diversion
(``diversion``) decision: the author knows which decision carries the call, and the tag is
what an instructor filters the library by (``tag:hold`` in the app).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from scoring.analysis import Analysis
from scoring.rubric import Rubric
from simulator.model import Scenario

PRINCIPLE_MIN = 3
"""Scenarios in which each principle must earn points (not only be penalised)."""
CRITICAL_MIN = 2
"""Scenarios in which each critical error must be on offer in a reachable scene."""
NALOXONE_MIN = 2
"""Scenarios in which giving naloxone is an option worth points."""
TAG_MIN = {"hold": 3, "diversion": 4}
"""Scenarios that must turn on each kind of decision, by tag."""
DEFENSIBLE_MIN = 0.30
"""Share of the library's decision scenes offering two or more defensible choices."""

_NALOXONE = re.compile(r"\b(naloxone|narcan)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ScenarioCoverage:
    id: str
    positive: frozenset[str]  # principles some option earns points in
    penalty_only: frozenset[str]  # principles only wrong options carry (points lost, never earned)
    critical_errors: frozenset[str]  # critical errors on offer in a reachable scene
    tags: frozenset[str]
    naloxone: bool  # an option worth points gives naloxone
    decision_scenes: int
    defensible_scenes: int


def scenario_coverage(scenario: Scenario, analysis: Analysis) -> ScenarioCoverage:
    """What ``scenario`` covers, from its options and its analysis (reachability)."""
    earned: set[str] = set()
    scored: set[str] = set()
    naloxone = False
    for scene in scenario.scenes.values():
        options = [*scene.choices, *([scene.timeout] if scene.timeout else [])]
        for option in options:
            scored.update(p for p, v in option.scores.items() if v)
            earned.update(p for p, v in option.scores.items() if v > 0)
        for choice in scene.choices:
            if _NALOXONE.search(choice.text) and sum(choice.scores.values()) > 0:
                naloxone = True
    structure = analysis.structure
    decisions = structure.decision_scenes if structure else 0
    defensible = round(structure.defensible_share * decisions) if structure else 0
    return ScenarioCoverage(
        id=scenario.id,
        positive=frozenset(earned),
        penalty_only=frozenset(scored - earned),
        critical_errors=frozenset(analysis.critical_errors),
        tags=frozenset(scenario.tags),
        naloxone=naloxone,
        decision_scenes=decisions,
        defensible_scenes=defensible,
    )


def _ids(covs: Iterable[ScenarioCoverage]) -> str:
    ids = [c.id for c in covs]
    return ", ".join(ids) if ids else "none"


def shortfalls(covs: Sequence[ScenarioCoverage], rubric: Rubric) -> list[str]:
    """Each library rule ``covs`` misses, as a sentence naming what is short and where it stands."""
    out: list[str] = []
    for pid in rubric.principles:
        have = [c for c in covs if pid in c.positive]
        if len(have) < PRINCIPLE_MIN:
            out.append(
                f"principle '{pid}' earns points in {len(have)} scenario(s), fewer than {PRINCIPLE_MIN}: {_ids(have)}"
            )
    for cid in rubric.critical_errors:
        have = [c for c in covs if cid in c.critical_errors]
        if len(have) < CRITICAL_MIN:
            out.append(
                f"critical error '{cid}' can be made in {len(have)} scenario(s), fewer than {CRITICAL_MIN}: "
                f"{_ids(have)}"
            )
    have = [c for c in covs if c.naloxone]
    if len(have) < NALOXONE_MIN:
        out.append(f"naloxone is an option worth points in {len(have)} scenario(s), fewer than {NALOXONE_MIN}")
    for tag, least in TAG_MIN.items():
        have = [c for c in covs if tag in c.tags]
        if len(have) < least:
            out.append(f"{len(have)} scenario(s) tagged '{tag}', fewer than {least}: {_ids(have)}")
    share = defensible_share(covs)
    if share < DEFENSIBLE_MIN:
        out.append(
            f"{share:.0%} of decision scenes offer two or more defensible choices, under {DEFENSIBLE_MIN:.0%}"
        )
    return out


def defensible_share(covs: Sequence[ScenarioCoverage]) -> float:
    """Share of all the library's decision scenes that offer two or more defensible choices."""
    scenes = sum(c.decision_scenes for c in covs)
    return sum(c.defensible_scenes for c in covs) / scenes if scenes else 0.0


def principles_table(covs: Sequence[ScenarioCoverage], rubric: Rubric) -> str:
    """A Markdown table: principle x scenario, ✓ where it earns points, ✓* where it is only a penalty."""
    head = "| principle | dimension | " + " | ".join(f"`{c.id}`" for c in covs) + " | earns points in |"
    rule = "|---|---|" + "---|" * len(covs) + "---|"
    rows = [head, rule]
    for pid, principle in rubric.principles.items():
        marks = ["✓" if pid in c.positive else "✓\\*" if pid in c.penalty_only else " " for c in covs]
        count = sum(pid in c.positive for c in covs)
        rows.append(f"| `{pid}` | {principle.dimension} | " + " | ".join(marks) + f" | {count} |")
    return "\n".join(rows)


def summary_table(covs: Sequence[ScenarioCoverage], analyses: dict[str, Analysis]) -> str:
    """A Markdown table per scenario: decisions, defensible share, endings, principles, critical errors,
    measured difficulty."""
    rows = [
        "| scenario | decision scenes | two or more defensible | endings | principles earning points "
        "| critical errors on offer | measured difficulty |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in covs:
        a = analyses[c.id]
        level = a.structure.level if a.structure else "-"
        share = f"{c.defensible_scenes / c.decision_scenes:.0%}" if c.decision_scenes else "-"
        rows.append(
            f"| `{c.id}` | {c.decision_scenes} | {share} | {len(a.endings)} | {len(c.positive)} "
            f"| {len(c.critical_errors)} | {level} |"
        )
    rows.append(
        f"| **library** | {sum(c.decision_scenes for c in covs)} | {defensible_share(covs):.0%} | "
        f"{sum(len(analyses[c.id].endings) for c in covs)} | | | |"
    )
    return "\n".join(rows)


README = Path(__file__).resolve().parent.parent / "scenarios" / "README.md"
START, END = "<!-- coverage tables: python -m scoring.coverage --write -->", "<!-- end of coverage tables -->"


def readme_block(covs: Sequence[ScenarioCoverage], analyses: dict[str, Analysis], rubric: Rubric) -> str:
    """The generated part of scenarios/README.md, between its markers."""
    return "\n\n".join([START, summary_table(covs, analyses), principles_table(covs, rubric), END])


def main(argv: Sequence[str]) -> int:
    """Print the bundled library's coverage tables and any rule it misses; with ``--write``,
    put the tables in scenarios/README.md between its markers."""
    from scoring.analysis import analyze
    from scoring.catalog import load_graded
    from simulator.library import library_files

    covs: list[ScenarioCoverage] = []
    analyses: dict[str, Analysis] = {}
    rubric: Rubric | None = None
    for path in library_files():
        graded = load_graded(path)
        if not graded.ok or graded.scenario is None or graded.rubric is None:
            print(f"{path}: does not validate; run crisis-sim validate {path}", file=sys.stderr)
            return 1
        rubric = graded.rubric
        analyses[graded.scenario.id] = analysis = analyze(graded.scenario, graded.rubric)
        covs.append(scenario_coverage(graded.scenario, analysis))
    if rubric is None:
        print("the bundled library is empty", file=sys.stderr)
        return 1
    block = readme_block(covs, analyses, rubric)
    if "--write" in argv:
        text = README.read_text(encoding="utf-8")
        if START not in text or END not in text:
            print(f"{README}: the coverage table markers are missing; add {START} and {END}", file=sys.stderr)
            return 1
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        README.write_text(before + block + after, encoding="utf-8")
    else:
        print(block)
    for line in shortfalls(covs, rubric):
        print(f"short: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
