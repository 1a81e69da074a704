"""`crisis-sim graph`: Mermaid and Graphviz DOT drawings of a scenario's scene graph.

Graphviz: the render tests run `dot -Tsvg` when `dot` is on PATH (apt-get install graphviz).
Mermaid has no renderer here; its tests check the syntax shape line by line, and a real
Mermaid parser runs when CRISIS_SIM_MERMAID_DIR names a folder prepared with
`npm install --prefix DIR mermaid jsdom` (skipped otherwise).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from scenario_factory import SAMPLE, write
from test_run_cli import cli

from scoring.catalog import load_graded
from simulator.graph import edges, render, to_dot, to_mermaid
from simulator.library import library_files
from simulator.model import Scenario

GREEN, RED, GREY = "#2e7d32", "#c62828", "#8a8a8a"


def sample() -> tuple[Scenario, object]:
    graded = load_graded(SAMPLE)
    assert graded.ok and graded.scenario is not None, [d.format() for d in graded.diagnostics]
    return graded.scenario, graded.rubric


# --- reading the output back -----------------------------------------------------------------

MERMAID_ENTITIES = {"quot": '"', "amp": "&", "lt": "<", "gt": ">"}


def mermaid_decode(label: str) -> str:
    """What a Mermaid label shows: '#name;' / '#35;' entities decoded."""

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        return chr(int(code)) if code.isdigit() else MERMAID_ENTITIES[code]

    return re.sub(r"#(\w+);", one, label)


NODE = r'(?P<id>s\d+)(?:\["(?P<box>[^"]*)"\]|\(\["(?P<stadium>[^"]*)"\]\)):::(?P<cls>\w+)'
EDGE = r'(?P<src>s\d+|start) (?P<arrow>-->|-\.->|==>)(?:\|"(?P<label>[^"]*)"\|)? (?P<dst>s\d+)'
MERMAID_LINE = re.compile(
    rf"^(flowchart TD|  %% [^{{}}]*|  start\(\(\"start\"\)\):::entry|  {NODE}|  {EDGE}"
    r"|  linkStyle \d+ [a-z-]+:[#\w. ]+(,[a-z-]+:[#\w. ]+)*|  classDef \w+ [a-z-]+:[#\w. ]+(,[a-z-]+:[#\w. ]+)*)$"
)


def mermaid_parts(text: str) -> tuple[dict[str, tuple[str, str]], list[dict[str, str]], dict[int, str]]:
    """Nodes {node id: (shown label, class)}, edges in order, linkStyle by edge index."""
    front, body = text.split("---\n", 2)[1:]
    assert re.fullmatch(r'title: "[^"\\%]*(\\.[^"\\%]*)*"\n', front)  # one JSON/YAML string, no '%'
    nodes, links, styles = {}, [], {}
    for line in body.splitlines():
        assert MERMAID_LINE.match(line), f"not a line this generator writes: {line!r}"
        if m := re.fullmatch(f"  {NODE}", line):
            nodes[m["id"]] = (mermaid_decode(m["box"] or m["stadium"]), m["cls"])
        elif m := re.fullmatch(f"  {EDGE}", line):
            links.append({**m.groupdict(), "label": mermaid_decode(m["label"] or "")})
        elif m := re.fullmatch(r"  linkStyle (\d+) (.*)", line):
            styles[int(m[1])] = m[2]
    return nodes, links, styles


DOT_STRING = r'"((?:[^"\\]|\\.)*)"'


def dot_decode(quoted: str) -> str:
    r"""What a DOT label shows: '\n' is a line break, '\\' and '\"' single characters, '&amp;' '&'."""
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], quoted).replace("&amp;", "&")


def dot_edges(text: str) -> list[dict[str, str]]:
    out = []
    for line in text.splitlines():
        m = re.fullmatch(rf"  {DOT_STRING} -> {DOT_STRING} \[(.*)\];", line)
        if m:
            attrs = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|[\w.]+)', m[3]))
            label = attrs.get("label", '""')
            out.append({"src": m[1], "dst": m[2], **attrs, "label": dot_decode(label[1:-1])})
    return out


# --- Mermaid ---------------------------------------------------------------------------------


def test_mermaid_sample_has_every_scene_and_choice_with_styles():
    scenario, rubric = sample()
    text = to_mermaid(scenario, rubric)
    assert text.startswith("---\ntitle: ") and "\nflowchart TD\n" in text
    nodes, links, styles = mermaid_parts(text)
    by_scene = {label.split("<br/>")[0]: (nid, label, cls) for nid, (label, cls) in nodes.items()}
    assert set(by_scene) == set(scenario.scenes)
    # Endings: stadium shape, class by rating, rating written under the id; others are scenes.
    for sid, scene in scenario.scenes.items():
        nid, label, cls = by_scene[sid]
        if scene.end is None:
            assert (label, cls) == (sid, "scene")
        else:
            # an ending whose text depends on the path also says what it varies with
            assert label.split("<br/>varies with: ")[0] == f"{sid}<br/>{scene.end.rating}" and cls == scene.end.rating
            assert f'{nid}(["' in text
    assert "classDef good fill:#c8e6c9" in text
    assert "classDef acceptable fill:#ffe0b2" in text
    assert "classDef poor fill:#ffcdd2" in text
    # The start marker points at the start scene, and is edge 0.
    assert links[0]["src"] == "start" and links[0]["dst"] == by_scene[scenario.start][0]
    # Every choice id is on an edge from its scene.
    names = {(link["src"], link["label"].split("<br/>")[0].removeprefix("⚠ ")) for link in links}
    for sid, scene in scenario.scenes.items():
        for choice in scene.choices:
            assert (by_scene[sid][0], choice.id) in names
    assert len(links) == 1 + len(edges(scenario))
    assert set(styles) == set(range(len(links)))


def test_mermaid_marks_conditions_auto_timeout_critical_and_sign():
    scenario, rubric = sample()
    _, links, styles = mermaid_parts(to_mermaid(scenario, rubric))
    found = {link["label"]: (i, link) for i, link in enumerate(links)}

    i, link = found["ask-dispatch<br/>[if: not visited(dispatch_info)]"]
    assert link["arrow"] == "-->" and f"stroke:{GREEN}" in styles[i]

    i, link = found["timeout 40s"]  # +1 and -1 in the same dimension: weighted value 0
    assert link["arrow"] == "-.->" and "stroke-dasharray:2 4" in styles[i] and f"stroke:{GREY}" in styles[i]

    autos = [i for i, link in enumerate(links) if link["label"].startswith("auto")]
    assert autos and all(links[i]["arrow"] == "-.->" and "stroke-dasharray:8 5" in styles[i] for i in autos)
    assert "auto<br/>[if: agitation >= 9]" in found

    i, link = found["⚠ order-down"]
    assert link["arrow"] == "==>" and f"stroke:{RED}" in styles[i] and "stroke-width:4px" in styles[i]

    i, link = found["calm-down"]  # negative points, not critical
    assert link["arrow"] == "-->" and f"stroke:{RED}" in styles[i] and "stroke-width:2px" in styles[i]


def test_edge_colour_uses_the_weighted_value(tmp_path: Path):
    # +1 in safety_assessment (weight 20) and -1 in engagement (weight 15): worth +5, though
    # the points add up to 0.
    path = write(
        tmp_path,
        """\
        start: a
        scenes:
          a:
            choices:
              - {id: mixed, text: M, to: b, scores: {assess_safety_risk: 1, respectful_approach: -1}, feedback: F}
              - {id: plain, text: P, to: b, feedback: F}
          b:
            end: {rating: good, outcome: Done.}
        """,
    )
    graded = load_graded(path)
    assert graded.ok, [d.format() for d in graded.diagnostics]
    by_name = {e.name: e for e in edges(graded.scenario, graded.rubric)}
    assert by_name["mixed"].value == 5 and by_name["mixed"].colour == GREEN
    assert by_name["plain"].colour == GREY
    assert {e.name: e.colour for e in edges(graded.scenario)}["mixed"] == GREY  # no rubric: plain sum


# --- hostile text ----------------------------------------------------------------------------

# Conditions are not checked by the model (the loader compiles them), so a Scenario built
# directly can carry anything; the drawing must still show it as written and stay valid.
HOSTILE = "a == \"x]\" | b[0] {c} (d) #quot; #35; <b>bold</b> & `md` \\N \\\"; %%{init: {'theme': 'dark'}}%% --> end"


def hostile_scenario(condition: str = HOSTILE) -> Scenario:
    return Scenario.model_validate(
        {
            "format": 1,
            "id": "hostile",
            "title": 'A "title" with <b>markup</b>, #hash, | pipe and %%{init: {}}%%\nand a newline',
            "version": "1",
            "summary": "S",
            "difficulty": "introductory",
            "minutes": 1,
            "briefing": "B",
            "start": "end",  # a Mermaid keyword as a scene id
            "scenes": {
                "end": {
                    "auto": [{"if": condition, "to": "graph"}],
                    "timeout": {"seconds": 5, "to": "end", "critical": "x"},
                    "choices": [{"id": "go", "text": "T", "to": "graph", "if": condition}],
                },
                "graph": {"end": {"rating": "good", "outcome": "O"}},
            },
        }
    )


def test_mermaid_escapes_quotes_brackets_and_markup_in_conditions():
    text = to_mermaid(hostile_scenario())
    nodes, links, _ = mermaid_parts(text)  # every line still has the generator's shape
    assert {label for label, _ in nodes.values()} == {"end", "graph<br/>good"}
    assert [link["label"] for link in links[1:]] == [
        "auto<br/>[if: " + HOSTILE + "]",
        "⚠ timeout 5s",
        "go<br/>[if: " + HOSTILE + "]",
    ]
    assert "%" not in text.split("flowchart TD", 1)[1].replace("  %% crisis-sim graph", "")
    body = text.split("flowchart TD", 1)[1]  # the title is YAML text, shown as text
    assert "<b>" not in body and "`" not in body


def test_newlines_and_control_characters_never_split_a_line():
    scenario = hostile_scenario('a\nb\r\n-->|"x"| c\x1b[31m\u202e')
    _, links, _ = mermaid_parts(to_mermaid(scenario))
    assert links[1]["label"] == 'auto<br/>[if: a b -->|"x"| c]'
    dot = [e for e in dot_edges(to_dot(scenario)) if e["src"] == "end"]
    assert dot[0]["label"] == 'auto\n[if: a b -->|"x"| c]'


def test_dot_escapes_quotes_backslashes_and_entities():
    text = to_dot(hostile_scenario())
    found = [e for e in dot_edges(text) if e["src"] == "end"]
    assert [e["label"] for e in found] == ["auto\n[if: " + HOSTILE + "]", "⚠ timeout 5s", "go\n[if: " + HOSTILE + "]"]
    for line in text.splitlines():  # every quoted string is closed on its line
        assert re.sub(DOT_STRING, "", line).count('"') == 0, line


# --- DOT -------------------------------------------------------------------------------------


def test_dot_sample_has_every_scene_and_choice_with_styles():
    scenario, rubric = sample()
    text = to_dot(scenario, rubric)
    assert text.startswith('digraph "overpass-railing" {') and text.rstrip().endswith("}")
    for sid, scene in scenario.scenes.items():
        if scene.end is None:
            assert f'  "{sid}";' in text
        else:
            line = next(x for x in text.splitlines() if x.startswith(f'  "{sid}" ['))
            assert "shape=doubleoctagon" in line and f'label="{sid}\\n{scene.end.rating}' in line
            fill = {"good": "#c8e6c9", "acceptable": "#ffe0b2", "poor": "#ffcdd2"}[scene.end.rating]
            assert f'fillcolor="{fill}"' in line
    assert f'"@start" -> "{scenario.start}"' in text
    listed = dot_edges(text)
    assert len(listed) == 1 + len(edges(scenario))
    named = {(e["src"], e["label"].split("\n")[0].removeprefix("⚠ ")) for e in listed}
    for sid, scene in scenario.scenes.items():
        for choice in scene.choices:
            assert (sid, choice.id) in named
    found = {e["label"]: e for e in listed}
    assert found["ask-dispatch\n[if: not visited(dispatch_info)]"]["color"] == f'"{GREEN}"'
    assert found["timeout 40s"]["style"] == "dotted"
    assert all(e["style"] == "dashed" for label, e in found.items() if label.startswith("auto"))
    assert found["auto\n[if: agitation >= 9]"]["color"] == f'"{GREY}"'
    critical = found["⚠ order-down"]
    assert critical["color"] == f'"{RED}"' and float(critical["penwidth"]) >= 3
    assert found["calm-down"]["color"] == f'"{RED}"' and "style" not in found["calm-down"]


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


def svg_text(svg: str) -> str:
    root = ET.fromstring(svg)
    return "\n".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))


@needs_dot
@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.stem)
def test_dot_renders_every_bundled_scenario(path: Path):
    graded = load_graded(path)
    assert graded.scenario is not None
    out = subprocess.run(
        ["dot", "-Tsvg"], input=to_dot(graded.scenario, graded.rubric), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    shown = svg_text(out.stdout)
    assert all(sid in shown for sid in graded.scenario.scenes)


@needs_dot
def test_dot_renders_hostile_text_literally():
    out = subprocess.run(["dot", "-Tsvg"], input=to_dot(hostile_scenario()), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    assert f"[if: {HOSTILE}]" in svg_text(out.stdout)


# --- a real Mermaid parser, when one is prepared ---------------------------------------------

MERMAID_DIR = os.environ.get("CRISIS_SIM_MERMAID_DIR", "")
PARSE = """
import { JSDOM } from "jsdom";
import { readFileSync } from "node:fs";
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
const results = [];
for (const text of JSON.parse(readFileSync(0, "utf8"))) {
  try {
    const parsed = await mermaid.parse(text);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    results.push({ ok: true, type: parsed.diagramType, config: parsed.config,
                   edges: diagram.db.getEdges().length });
  } catch (e) {
    results.push({ ok: false, error: String(e.message ?? e).split("\\n").slice(0, 4).join(" | ") });
  }
}
console.log(JSON.stringify(results));
"""


@pytest.mark.skipif(
    not (MERMAID_DIR and shutil.which("node") and (Path(MERMAID_DIR) / "node_modules" / "mermaid").is_dir()),
    reason="no Mermaid parser: set CRISIS_SIM_MERMAID_DIR to a folder made with "
    "'npm install --prefix DIR mermaid jsdom'",
)
def test_mermaid_parser_accepts_every_bundled_scenario_and_hostile_text():
    graphs = [load_graded(p) for p in library_files()]
    texts = [to_mermaid(g.scenario, g.rubric) for g in graphs] + [to_mermaid(hostile_scenario())]
    out = subprocess.run(
        ["node", "--input-type=module", "-e", PARSE],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        cwd=MERMAID_DIR,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    for text, result in zip(texts, results, strict=True):
        assert result["ok"], (result, text[:400])
        assert result["type"] == "flowchart-v2"
        assert result["config"] == {}  # no text turned into a %%{init}%% directive
        assert result["edges"] == text.count('|"') + 1  # every move, plus the start marker


# --- the command -----------------------------------------------------------------------------


def test_cli_prints_mermaid_and_writes_dot(tmp_path: Path):
    out = cli("graph", "overpass-railing")
    assert out.returncode == 0, out.stderr
    scenario, rubric = sample()
    assert out.stdout == render(scenario, "mermaid", rubric)
    target = tmp_path / "g.dot"
    out = cli("graph", str(SAMPLE), "--format", "dot", "--out", str(target))
    assert out.returncode == 0, out.stderr
    assert target.read_text(encoding="utf-8") == to_dot(scenario, rubric)
    assert out.stdout.strip() == f"wrote the dot graph of 'overpass-railing' to {target}"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["graph", "overpass-railin"], 1, "did you mean 'overpass-railing'?"),
        (["graph", "missing/file.yaml"], 1, "no such file"),
        (["graph", "overpass-railing", "--format", "png"], 2, "'png' is not one of 'mermaid', 'dot'"),
        (["graph"], 2, "Missing argument 'SCENARIO'"),
    ],
)
def test_cli_errors_are_one_line(args: list[str], code: int, needle: str):
    out = cli(*args)
    assert out.returncode == code
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert needle in out.stderr


def test_cli_reports_a_broken_scenario_by_line(tmp_path: Path):
    path = write(tmp_path, "start: a\nscenes:\n  a:\n    choices:\n      - {id: go, text: Go, to: nowhere}\n")
    out = cli("graph", str(path))
    assert out.returncode == 1 and out.stdout == ""
    assert "[unknown-scene]" in out.stderr and "Traceback" not in out.stderr


def test_cli_cannot_write_is_one_line(tmp_path: Path):
    out = cli("graph", "overpass-railing", "--out", str(tmp_path / "no" / "such" / "dir" / "g.mmd"))
    assert out.returncode == 1
    assert out.stderr.startswith("crisis-sim: error: cannot write") and len(out.stderr.splitlines()) == 1


def test_cli_draws_a_scenario_whose_rubric_checks_fail_and_prints_the_errors(tmp_path: Path):
    path = write(
        tmp_path,
        """\
        start: a
        scenes:
          a:
            choices:
              - {id: go, text: Go, to: b, scores: {crowd_control: 2}, feedback: F}
          b:
            end: {rating: good, outcome: Done.}
        """,
    )
    out = cli("graph", str(path))
    assert out.returncode == 0
    assert '-->|"go"|' in out.stdout and "linkStyle 1 stroke:#2e7d32" in out.stdout  # plain sum: +2
    assert "[unknown-principle]" in out.stderr


def test_the_mermaid_example_in_the_docs_is_what_graph_prints_for_the_new_template(tmp_path: Path):
    from simulator.scaffold import create

    blocks = [
        block
        for doc in sorted((SAMPLE.parent.parent / "docs").glob("*.md"))
        for block in re.findall(r"```mermaid\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
        if "(bus-stop)" in block
    ]
    assert blocks, "the authoring docs show the graph of 'crisis-sim new bus-stop'"
    graded = load_graded(create("bus-stop", tmp_path))
    assert all(block == to_mermaid(graded.scenario, graded.rubric) for block in blocks)
