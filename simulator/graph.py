"""Draw a scenario's scene graph as Mermaid (renders on GitHub) or Graphviz DOT.

Pure functions from a loaded ``Scenario`` (and, optionally, the effective rubric that weighs
its points) to text; ``crisis-sim graph`` only loads the scenario and writes the result.

What the drawing shows:

- every scene as a node labelled with its id; endings have their own shape and are coloured
  by rating (good green, acceptable amber, poor red) with the rating written under the id;
- the start scene, pointed at by a small ``start`` marker;
- every choice as an edge labelled with its id, and ``[if: ...]`` under it when conditional;
- auto moves as dashed edges labelled ``auto`` and timeouts as dotted edges labelled
  ``timeout 40s``;
- a critical error as a thick red edge whose label starts with ``⚠``;
- every other edge coloured by the sign of its weighted points (``option_value``): positive
  green, negative red, zero grey. Without a rubric the plain sum of the points is used.

Scenario text never reaches the output unescaped: node ids in the output are generated
(``s0``, ``s1``, ... in Mermaid, quoted strings in DOT), and every label goes through the
escaping of its format, so quotes, brackets, ``#``, ``|``, newlines and markup-like text in a
condition are shown as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from simulator.safetext import one_line

if TYPE_CHECKING:
    from scoring.rubric import Rubric
    from simulator.model import Scenario

Format = Literal["mermaid", "dot"]
FORMATS: tuple[Format, ...] = ("mermaid", "dot")
EdgeKind = Literal["choice", "auto", "timeout"]

# One palette for both formats: (fill, border) per rating, and a colour per sign of points.
RATING_COLOURS = {
    "good": ("#c8e6c9", "#2e7d32"),
    "acceptable": ("#ffe0b2", "#e69500"),
    "poor": ("#ffcdd2", "#c62828"),
}
POSITIVE = "#2e7d32"
NEGATIVE = "#c62828"
NEUTRAL = "#8a8a8a"
CRITICAL = "#c62828"
SCENE_FILL = "#eef3fb"
SCENE_BORDER = "#44618b"
WARNING_SIGN = "⚠"

@dataclass(frozen=True)
class Edge:
    """One move of the scene graph, with what the drawing says about it."""

    source: str
    target: str
    kind: EdgeKind
    name: str  # the choice id, 'auto' or 'timeout 40s'
    condition: str | None
    value: int  # weighted points; its sign picks the colour
    critical: str | None

    @property
    def lines(self) -> list[str]:
        """The edge label, one entry per line (not yet escaped)."""
        head = f"{WARNING_SIGN} {self.name}" if self.critical else self.name
        return [head] if self.condition is None else [head, f"[if: {self.condition}]"]

    @property
    def colour(self) -> str:
        if self.critical:
            return CRITICAL
        return POSITIVE if self.value > 0 else NEGATIVE if self.value < 0 else NEUTRAL


def _value(points: Mapping[str, int], rubric: Rubric | None) -> int:
    """Weighted value of an option's points (the plain sum without a rubric, or for a
    principle the rubric does not know, which only a scenario with errors can have)."""
    if not points:
        return 0
    if rubric is not None and all(p in rubric.principles for p in points):
        from scoring.grading import option_value

        return option_value(points, rubric)
    return sum(points.values())


def edges(scenario: Scenario, rubric: Rubric | None = None) -> list[Edge]:
    """Every move of the scenario, scene by scene in file order: auto moves first (they are
    checked first), then the timeout, then the choices."""
    out: list[Edge] = []
    for sid, scene in scenario.scenes.items():
        for auto in scene.auto:
            out.append(Edge(sid, auto.to, "auto", "auto", auto.if_, 0, None))
        if scene.timeout is not None:
            t = scene.timeout
            out.append(Edge(sid, t.to, "timeout", f"timeout {t.seconds}s", None, _value(t.scores, rubric), t.critical))
        for choice in scene.choices:
            out.append(
                Edge(sid, choice.to, "choice", choice.id, choice.if_, _value(choice.scores, rubric), choice.critical)
            )
    return out




def _ending_lines(scenario: Scenario, sid: str, rating: str) -> list[str]:
    """An ending's label: its id, its rating and, when its outcome or debrief has parts that
    depend on the path, what they depend on (``varies with: asked_about_suicide``)."""
    lines = [sid, rating]
    end = scenario.scenes[sid].end if sid in scenario.scenes else None
    if end is None:
        return lines
    read: set[str] = set()
    for part in [*end.outcome, *end.debrief]:
        if part.if_ is not None and part.if_ in scenario._conditions:
            condition = scenario.condition(part.if_)
            read |= condition.variables | {f"visits({s})" for s in condition.scenes}
    if read:
        lines.append("varies with: " + ", ".join(sorted(read)))
    return lines


def _nodes(scenario: Scenario, moves: list[Edge]) -> list[tuple[str, str | None]]:
    """(scene id, ending rating or None) for every scene, then for every target that is not a
    scene (only a scenario with errors has one; it is drawn, marked as missing)."""
    nodes: list[tuple[str, str | None]] = [
        (sid, scene.end.rating if scene.end is not None else None) for sid, scene in scenario.scenes.items()
    ]
    known = set(scenario.scenes)
    for e in moves:
        if e.target not in known:
            known.add(e.target)
            nodes.append((e.target, "missing"))
    if scenario.start not in known:
        nodes.append((scenario.start, "missing"))
    return nodes


# --- Mermaid ---------------------------------------------------------------------------------

# Characters that are markup in a Mermaid label, written as Mermaid's '#name;' entities (which
# become HTML entities, shown literally). '#' itself first, so entities are not re-escaped.
_MERMAID_ENTITIES = {
    "#": "#35;",
    '"': "#quot;",
    "&": "#amp;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",
    "|": "#124;",
    "\\": "#92;",
    "%": "#37;",  # '%%{init: ...}%%' anywhere in the text would be read as a directive
}
_MERMAID_SPECIAL = re.compile("[" + re.escape("".join(_MERMAID_ENTITIES)) + "]")


def mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label ``"..."``: one line, markup as entities."""
    return _MERMAID_SPECIAL.sub(lambda m: _MERMAID_ENTITIES[m.group()], one_line(text))


def _mermaid_label(lines: list[str]) -> str:
    return '"' + "<br/>".join(mermaid_text(line) for line in lines) + '"'


def to_mermaid(scenario: Scenario, rubric: Rubric | None = None) -> str:
    """A ``flowchart TD`` for a GitHub ```` ```mermaid ```` block (or mermaid.live)."""
    moves = edges(scenario, rubric)
    nodes = _nodes(scenario, moves)
    ids = {sid: f"s{i}" for i, (sid, _) in enumerate(nodes)}
    title = one_line(f"{scenario.title} ({scenario.id})")
    out = [
        "---",
        f"title: {_yaml_quoted(title)}",
        "---",
        "flowchart TD",
        f"  %% crisis-sim graph {scenario.id}: choices are solid, auto moves dashed, timeouts dotted",
        '  start(("start")):::entry',
    ]
    for sid, rating in nodes:
        if rating is None:
            out.append(f"  {ids[sid]}[{_mermaid_label([sid])}]:::scene")
        elif rating == "missing":
            out.append(f"  {ids[sid]}[{_mermaid_label([sid, 'missing scene'])}]:::missing")
        else:
            out.append(f"  {ids[sid]}([{_mermaid_label(_ending_lines(scenario, sid, rating))}]):::{rating}")
    styles = [f"  linkStyle 0 stroke:{SCENE_BORDER},stroke-width:2px"]
    out.append(f"  start --> {ids[scenario.start]}")
    for index, e in enumerate(moves, start=1):
        arrow = "==>" if e.critical else "-.->" if e.kind != "choice" else "-->"
        out.append(f"  {ids[e.source]} {arrow}|{_mermaid_label(e.lines)}| {ids[e.target]}")
        style = f"stroke:{e.colour},stroke-width:{4 if e.critical else 2}px"
        if e.kind == "auto":
            style += ",stroke-dasharray:8 5"
        elif e.kind == "timeout":
            style += ",stroke-dasharray:2 4"
        styles.append(f"  linkStyle {index} {style}")
    out += styles
    out.append(f"  classDef scene fill:{SCENE_FILL},stroke:{SCENE_BORDER},color:#1a1a1a")
    out.append("  classDef entry fill:#333333,stroke:#333333,color:#ffffff")
    for rating, (fill, border) in RATING_COLOURS.items():
        out.append(f"  classDef {rating} fill:{fill},stroke:{border},stroke-width:3px,color:#1a1a1a")
    out.append("  classDef missing fill:#ffffff,stroke:#c62828,stroke-dasharray:4 3,color:#c62828")
    return "\n".join(out) + "\n"


def _yaml_quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escaping is a subset of YAML's, and is ASCII), with
    '%' escaped too, so no Mermaid version can mistake the title for a '%%{...}%%' directive."""
    import json

    return json.dumps(text).replace("%", "\\u0025")


# --- Graphviz DOT ----------------------------------------------------------------------------


def dot_text(text: str) -> str:
    """Text safe inside a quoted DOT string: backslashes doubled (Graphviz reads ``\\n``,
    ``\\N`` and friends in labels), quotes escaped, ``&`` written as ``&amp;`` (Graphviz
    reads entities such as ``&lt;`` in labels), one line."""
    return one_line(text).replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")


def _dot_label(lines: list[str]) -> str:
    return '"' + "\\n".join(dot_text(line) for line in lines) + '"'


def to_dot(scenario: Scenario, rubric: Rubric | None = None) -> str:
    """A Graphviz digraph: ``dot -Tsvg graph.dot -o graph.svg``."""
    moves = edges(scenario, rubric)
    nodes = _nodes(scenario, moves)
    title = f"{scenario.title} ({scenario.id})"
    out = [
        f'digraph "{dot_text(scenario.id)}" {{',
        f'  graph [label={_dot_label([title])}, labelloc=t, fontsize=18, fontname="Helvetica", rankdir=TB,'
        " nodesep=0.4, ranksep=0.55];",
        f'  node [fontname="Helvetica", fontsize=12, shape=ellipse, style=filled, fillcolor="{SCENE_FILL}",'
        f' color="{SCENE_BORDER}", penwidth=1.5];',
        f'  edge [fontname="Helvetica", fontsize=10, color="{NEUTRAL}", fontcolor="#333333", arrowsize=0.8];',
        '  "@start" [label="start", shape=circle, fillcolor="#333333", color="#333333", fontcolor="white", fontsize=10,'
        " width=0.5, fixedsize=true];",
    ]
    for sid, rating in nodes:
        if rating is None:
            out.append(f"  {_dot_label([sid])};")
        elif rating == "missing":
            out.append(
                f"  {_dot_label([sid])} [label={_dot_label([sid, 'missing scene'])}, shape=box, style=dashed,"
                f' color="{NEGATIVE}", fontcolor="{NEGATIVE}"];'
            )
        else:
            fill, border = RATING_COLOURS[rating]
            out.append(
                f"  {_dot_label([sid])} [label={_dot_label(_ending_lines(scenario, sid, rating))}, shape=doubleoctagon,"
                f' fillcolor="{fill}", color="{border}", penwidth=2];'
            )
    endings = [sid for sid, rating in nodes if rating in RATING_COLOURS]
    if endings:  # endings side by side at the bottom, like the end of a story
        out.append(f"  {{ rank=sink; {' '.join(_dot_label([sid]) for sid in endings)} }}")
    out.append(f'  "@start" -> {_dot_label([scenario.start])} [color="#333333", penwidth=2];')
    for e in moves:
        attrs = [f"label={_dot_label(e.lines)}", f'color="{e.colour}"']
        if e.kind == "auto":
            attrs.append("style=dashed")
        elif e.kind == "timeout":
            attrs.append("style=dotted")
        if e.critical:
            attrs += ["penwidth=3.5", f'fontcolor="{CRITICAL}"']
        elif e.value or e.kind == "timeout":
            attrs.append("penwidth=1.6")
        out.append(f"  {_dot_label([e.source])} -> {_dot_label([e.target])} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def render(scenario: Scenario, fmt: Format, rubric: Rubric | None = None) -> str:
    """The graph in ``fmt`` ('mermaid' or 'dot')."""
    if fmt == "mermaid":
        return to_mermaid(scenario, rubric)
    if fmt == "dot":
        return to_dot(scenario, rubric)
    raise ValueError(f"unknown graph format {fmt!r}; use one of: {', '.join(FORMATS)}")
