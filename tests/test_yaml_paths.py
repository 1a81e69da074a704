"""The YAML reader's fast path (libyaml composes the nodes, one pass turns them into data and
positions) against the event walk it replaced (``tests/yaml_reference.py``, frozen from git
history): the same data, value for value and type for type, the same warnings in the same
order, the same line:col for every key and value, and the same diagnostic for every file either
of them refuses. Inputs: generated YAML in every style (block and flow, plain, quoted and block
scalars, YAML 1.1 lookalikes, escapes, bidi and combining characters, duplicate keys, anchors,
aliases, tags, deep nesting), every YAML file in the repository, and the hostile corpus.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hang_guard import no_hang
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scenario_factory import REPO
from yaml_reference import reference_parse

from simulator import yamlsource
from simulator.diagnostics import DiagnosticError
from simulator.yamlsource import Mark, parse_text


def canonical(value: Any) -> Any:
    """Data with its types spelled out (1, 1.0 and True differ; NaN equals NaN)."""
    if isinstance(value, dict):
        return ("dict", [(k, canonical(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [canonical(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def old_value(values: dict, loc: tuple) -> Mark:
    """The old SourceMap.value: the nearest recorded parent."""
    while loc:
        if loc in values:
            return values[loc]
        loc = loc[:-1]
    return values.get((), Mark(1, 1))


def assert_same(text: str) -> None:
    path = "t.yaml"
    try:
        data, positions, warnings = reference_parse(text, path)
    except DiagnosticError as exc:
        with pytest.raises(DiagnosticError) as info:
            parse_text(text, path)
        assert info.value.diagnostics == exc.diagnostics
        if exc.diagnostics[0].code in ("yaml-anchor", "yaml-alias"):
            assert yamlsource._may_hold_anchor(text)
        return
    except (yaml.YAMLError, UnicodeEncodeError, RecursionError):
        with pytest.raises(DiagnosticError):  # libyaml's own errors: mapped by yamlsource.check
            parse_text(text, path)
        return
    doc = parse_text(text, path)
    assert canonical(doc.data) == canonical(data)
    assert doc.warnings == warnings
    for loc, mark in positions.values.items():
        assert doc.source.value(loc) == mark, loc
        assert doc.source.value(loc + ("no-such-key",)) == mark
        assert doc.source.value(loc + (10**6,)) == mark
    for loc, mark in positions.keys.items():
        assert doc.source.key(loc) == mark, loc
    for loc in list(positions.values)[:200]:
        if loc not in positions.keys:
            assert doc.source.key(loc) == old_value(positions.values, loc), loc
    assert doc.source.value(("nowhere", 3)) == old_value(positions.values, ("nowhere", 3))


# ---- generated YAML ---------------------------------------------------------------------------

PLAIN = ["a", "Maya", "scene_1", "two words", "Q&A", "AT&T", "Suicide & Crisis", "5 * 3", "x*y", "it's", "café",
         "e\u0301", "\u202eevil", "a\u200fb", "Ǆ", "ſuicide"]
TYPED = ["1", "-2", "+3", "0", "0o17", "0x1F", "1.5", "-0.5e3", ".5", "1.", ".inf", "-.Inf", ".nan", "true", "False",
         "TRUE", "null", "~", "Null", "9" * 30]
YAML11 = ["yes", "No", "on", "OFF", "y", "n", "012", "1:20", "-1:30.5", "0b101", "1_000", "0x_1F", "1_0.5", "+012"]
QUOTED = ["'single'", "'it''s'", "''", '"double"', '"esc \\e[31m red"', '"bidi \\u202e x"', '"tab\\there"',
          '"c1 \\x9b"', '"caf\\u00e9"', '"cafe\\u0301"', '"back\\\\slash"', '"nel\\N"', '"a\\"b"', "'Q&A'",
          '"*star"', "'&amp'"]
ODD = ["*alias", "&anchor x", "!!str 1", "!tag x", "! 12", "!!python/name:os.system", "! [1]", "&a [1, 2]",
       "*a", "[*a]"]


@st.composite
def scalars(draw: st.DrawFn, *, odd: bool) -> str:
    pools = [PLAIN, TYPED, YAML11, QUOTED] + ([ODD] if odd else [])
    return draw(st.sampled_from(draw(st.sampled_from(pools))))


@st.composite
def keys(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["id", "text", "to", "a", "b", "yes", "1", "'quoted key'", '"k\\u202e"', "?x",
                                 "k\u202ey", "true", "~"]))


def block(draw: st.DrawFn, depth: int, indent: int, odd: bool) -> list[str]:
    """Lines of a block collection at ``indent``."""
    pad = " " * indent
    kind = draw(st.sampled_from(["map", "seq"]))
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        child = draw(st.sampled_from(["scalar", "flow", "block", "literal", "folded", "multi"] if depth < 4
                                     else ["scalar", "flow"]))
        head = f"{pad}{draw(keys())}:" if kind == "map" else f"{pad}-"
        if child == "scalar":
            lines.append(f"{head} {draw(scalars(odd=odd))}")
        elif child == "flow":
            lines.append(f"{head} {flow(draw, depth + 1, odd)}")
        elif child in ("literal", "folded"):
            lines.append(f"{head} {'|' if child == 'literal' else '>-'}")
            lines += [f"{pad}  {draw(st.sampled_from(PLAIN))}" for _ in range(draw(st.integers(1, 3)))]
        elif child == "multi":
            lines.append(f"{head} {draw(st.sampled_from(PLAIN))}")
            lines.append(f"{pad}  {draw(st.sampled_from(PLAIN + ['*really*', '&more']))}")
        else:
            lines.append(head)
            lines += block(draw, depth + 1, indent + 2, odd)
    return lines


def flow(draw: st.DrawFn, depth: int, odd: bool) -> str:
    if depth > 5 or draw(st.booleans()):
        items = [draw(scalars(odd=odd)) if depth > 5 or draw(st.booleans()) else flow(draw, depth + 1, odd)
                 for _ in range(draw(st.integers(0, 3)))]
        return "[" + ", ".join(items) + "]"
    pairs = []
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(['"json"', "k", "'q'", "yes"]))
        sep = draw(st.sampled_from([": ", ":"])) if key.startswith(("'", '"')) else ": "
        value = draw(scalars(odd=odd)) if draw(st.booleans()) or depth > 5 else flow(draw, depth + 1, odd)
        pairs.append(f"{key}{sep}{value}")
    return "{" + ", ".join(pairs) + "}"


@st.composite
def documents(draw: st.DrawFn) -> str:
    odd = draw(st.integers(0, 4)) == 0
    lines = block(draw, 0, 0, odd)
    if draw(st.integers(0, 9)) == 0:
        lines.insert(0, "# a comment")
    end = draw(st.sampled_from(["\n", "", "\n---\nb: 1\n", "\n...\n"]))
    breaks = draw(st.sampled_from(["\n", "\r\n"]))
    return breaks.join(lines) + end


@settings(max_examples=300)
@given(documents())
@example("a: 1\n")
@example("")
@example("---\n")
@example("# only a comment\n")
@example("a: &x 1\nb: *x\n")
@example('{"a":&x 1, "b":*x}\n')
@example("a:\n  b: 1\n  b: 2\n")
@example("? [a]\n: 1\n")
@example("! a: ! 1\n")
@example("a: ! [1]\n")
@example("a: !!str 1\n")
@example("a: 'x'\na: 'y'\n")
@example("k\u202ey: 1\nky: 2\n")
@example("text: |\n  line \u202e one\n")
@example("a: " + "[" * 70 + "1" + "]" * 70 + "\n")
def test_generated_yaml_reads_the_same_on_both_paths(text: str) -> None:
    with no_hang(20, "YAML document"):
        assert_same(text)


@settings(max_examples=300)
@given(st.text(alphabet=" \t\n\r:-[]{},&*!|>'\"#%@`?abc01.\\\u202e\u00e9", max_size=60))
def test_yaml_like_garbage_gets_the_same_answer_on_both_paths(text: str) -> None:
    with no_hang(20, "YAML-like text"):
        assert_same(text)


def repository_yaml() -> list[Path]:
    roots = [REPO / "scenarios", REPO / "scoring" / "rubrics", REPO / "tests" / "data"]
    return sorted(p for root in roots for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


@pytest.mark.parametrize("path", repository_yaml(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_yaml_file_in_the_repository_reads_the_same_on_both_paths(path: Path) -> None:
    raw = path.read_bytes()
    try:
        text = yamlsource.decode(raw, str(path))
    except DiagnosticError:
        return  # refused before parsing: not the reader's business
    with no_hang(60, str(path)):
        assert_same(text)


def test_a_large_generated_scenario_reads_the_same_on_both_paths() -> None:
    from benchmarks.load_validate import scenario_text

    assert_same(scenario_text(300))


BOMB = (REPO / "tests" / "data" / "hostile" / "alias-bomb.yaml").read_text(encoding="utf-8")


def test_an_alias_bomb_that_slipped_past_the_text_check_is_never_walked() -> None:
    """Defence in depth: even composed (the text check is what normally stops it), the builder
    meets a node it already counted and gives up at once instead of walking 387 million."""
    assert yamlsource._may_hold_anchor(BOMB)
    with no_hang(10, "alias bomb"):
        assert yamlsource._compose(BOMB, "bomb.yaml", b"") is None


@pytest.mark.parametrize(
    "text",
    ["a: &x 1", "- *x", "[&a b]", '{"a":&x 1}', "{a: 1,&b c}", "? &k a\n: 1", "a: !t &x 1", "\ufeff&a x",
     "a:\t&x 1", "x: 'q'\ny: &z 2"],
)
def test_every_place_an_anchor_can_start_is_sent_to_the_checker(text: str) -> None:
    assert yamlsource._may_hold_anchor(text)


@pytest.mark.parametrize("text", ["Q&A", "AT&T wireless", "Suicide & Crisis Lifeline", "5 * 3", "x*y", "R&B"])
def test_ampersands_and_stars_inside_text_take_the_fast_path(text: str) -> None:
    assert not yamlsource._may_hold_anchor(f"a: {text}\n")


def test_a_text_that_only_looks_like_an_anchor_still_loads() -> None:
    text = "a: say it *really* loud\nb: '&x'\nc: [ '*y' ]\n"
    assert yamlsource._may_hold_anchor(text)
    assert parse_text(text, "t.yaml").data == {"a": "say it *really* loud", "b": "&x", "c": ["*y"]}
