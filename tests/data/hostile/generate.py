"""The hostile cases too big to commit, written at test time (see README.md in this folder).

Each function writes one case into ``folder`` and returns a ``Generated``: the argv of
``crisis-sim`` (with ``{path}`` for the written file) and the exact diagnostic lines expected,
also with ``{path}``. ``CASES`` maps each case's name to its function. The lines are worked out
here, next to the text that causes them, because some cases expect thousands of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024
SIZE_LIMIT = 5 * MB  # simulator.yamlsource.DEFAULT_MAX_BYTES
DEPTH = 10_000
SCENES = 50_000

HEADER = """\
format: 1
id: {id}
title: Generated hostile case
version: "1"
summary: Written by tests/data/hostile/generate.py.
difficulty: introductory
minutes: 1
briefing: Generated.
"""


@dataclass
class Generated:
    path: Path
    expected: list[str]
    args: list[str] = field(default_factory=lambda: ["validate", "{path}"])
    exit_code: int | None = None  # None: 1 if an expected line is an error, else 0


def _too_large(size: int) -> str:
    return (
        f"{{path}}: error: the file is {size:,} bytes, over the {SIZE_LIMIT:,}-byte limit; "
        "split the scenario or check it is the right file (or raise the limit with --max-bytes, "
        "or [scenarios] max_bytes in the config) [file-too-large]"
    )


def big_file_50mb(folder: Path) -> Generated:
    """A 50 MB scenario (a huge briefing): refused by its size before a byte is parsed."""
    path = folder / "big-file-50mb.yaml"
    head = HEADER.format(id="big-file").replace("briefing: Generated.\n", "briefing: |\n").encode()
    line = b"  " + b"All work and no play makes the briefing very long. " * 20 + b"\n"
    with path.open("wb") as fh:
        fh.write(head)
        written = len(head)
        while written + len(line) <= 50 * MB:
            fh.write(line)
            written += len(line)
        fh.write(b"x" * (50 * MB - written))
    return Generated(path, [_too_large(50 * MB)])


def nest_flow_10000(folder: Path) -> Generated:
    """``[[[[...]]]]`` 10,000 deep: libyaml's own depth limit (1,000) stops it; one line."""
    path = folder / "nest-flow-10000.yaml"
    path.write_text("a: " + "[" * DEPTH + "]" * DEPTH + "\n", encoding="utf-8")
    return Generated(
        path, ["{path}:1:1003: error: nesting deeper than 64 levels; no scenario or rubric needs this [yaml-too-deep]"]
    )


def nest_flow_map_10000(folder: Path) -> Generated:
    """``{a: {a: ...}}`` 10,000 deep: the reader's 64-level limit, at the 65th brace."""
    path = folder / "nest-flow-map-10000.yaml"
    path.write_text("a: " + "{a: " * DEPTH + "1" + "}" * DEPTH + "\n", encoding="utf-8")
    return Generated(
        path, ["{path}:1:256: error: nesting deeper than 64 levels; no scenario or rubric needs this [yaml-too-deep]"]
    )


def nest_block_compact_10000(folder: Path) -> Generated:
    """``- - - - x``: 10,000 nested block sequences on one line (block style, no brackets)."""
    path = folder / "nest-block-compact-10000.yaml"
    path.write_text("- " * DEPTH + "x\n", encoding="utf-8")
    return Generated(
        path, ["{path}:1:129: error: nesting deeper than 64 levels; no scenario or rubric needs this [yaml-too-deep]"]
    )


def nest_block_indented_10000(folder: Path) -> Generated:
    """10,000 levels of ``key:`` each indented one more space: ~50 MB, so the size cap
    answers first (``test_hostile`` also loads it with the cap lifted: the depth limit holds)."""
    path = folder / "nest-block-indented-10000.yaml"
    with path.open("w", encoding="utf-8") as fh:
        for level in range(DEPTH):
            fh.write(" " * level + "a:\n")
        fh.write(" " * DEPTH + "b: 1\n")
    return Generated(path, [_too_large(path.stat().st_size)])


def condition_10000_parens(folder: Path) -> Generated:
    """A condition nested 10,000 parentheses deep: over the condition length limit."""
    path = folder / "condition-10000-parens.yaml"
    condition = "(" * DEPTH + "agitation > 2" + ")" * DEPTH
    text = HEADER.format(id="deep-condition") + (
        "meters:\n"
        "  agitation: {start: 5, label: Agitation}\n"
        "start: a\n"
        "scenes:\n"
        "  a:\n"
        f'    auto: [{{if: "{condition}", to: b}}, {{to: b}}]\n'
        "  b:\n"
        "    end: {rating: good, outcome: Done., debrief: Fine.}\n"
    )
    path.write_text(text, encoding="utf-8")
    return Generated(
        path,
        [
            # at the 1001st character (column 17 + 1000 + 1), the text cut to 80 characters
            f"{{path}}:14:1018: error: condition '{'(' * 80}...': the condition is longer than 1000 characters "
            "[bad-condition]"
        ],
    )


def huge_string_4mb(folder: Path) -> Generated:
    """A scene narration of 4 MB on one line, under the size cap: loads, with one warning."""
    path = folder / "huge-string-4mb.yaml"
    narration = "Sam paces. " * (4 * MB // 11)
    text = HEADER.format(id="huge-string") + (
        "start: a\n"
        "scenes:\n"
        "  a:\n"
        f"    text: {narration.strip()}\n"
        "    choices:\n"
        "      - {id: stay, text: Stay, to: b, feedback: Fine.}\n"
        "      - {id: go, text: Go, to: b, feedback: Fine.}\n"
        "  b:\n"
        "    end: {rating: good, outcome: Done., debrief: Fine.}\n"
    )
    path.write_text(text, encoding="utf-8")
    length = len(narration.strip())
    return Generated(
        path,
        [
            f"{{path}}:12:5: warning: the narration of scene 'a' is {length} characters, over the 600 a trainee "
            "takes in at a glance; cut it down, or split the scene in two [long-text]"
        ],
    )


def folder_named_yaml(folder: Path) -> Generated:
    """A folder where a file was meant (git cannot hold an empty folder, so it is made here)."""
    path = folder / "folder.yaml"
    path.mkdir()
    return Generated(
        path, ["{path}: error: is a folder with no scenario files (*.yaml, *.yml) in it; check the path [no-scenarios]"]
    )


def _graph(folder: Path, name: str, broken_every: int) -> tuple[Path, list[str]]:
    """A graph of ``SCENES`` scenes, every tenth an ending: scene i has choice 'a' on to the next
    scene that is not an ending, and the scene before each ending also 'e' into it, so every
    scene is reached and reaches an ending. When ``broken_every`` is set, every
    ``broken_every``-th scene also has a choice 'b' to a scene that does not exist (the first a
    near miss, the rest far off). The single-option and feedback lints are silenced by the
    file's first line, so only the graph speaks. Returns the path and the expected lines."""
    path = folder / f"{name}.yaml"
    out = ["# crisis-sim: ignore-file[single-option, missing-feedback, missing-debrief]\n"]
    out.append(HEADER.format(id=name) + "start: s0\nscenes:\n")
    line = sum(part.count("\n") for part in out) + 1  # the line the next scene starts on
    expected: list[str] = []
    for i in range(SCENES):
        if i % 10 == 9:
            out.append(f"  s{i}: {{end: {{rating: good, outcome: Done.}}}}\n")
            line += 1
            continue
        following = i + 1 if i % 10 != 8 else i + 2
        choices = [f"{{id: a, text: A, to: s{following}}}"] if following < SCENES else []
        if i % 10 == 8:
            choices.append(f"{{id: e, text: E, to: s{i + 1}}}")
        if broken_every and i % broken_every == 3:
            target = f"s{i + 2}x" if not expected else f"gone_{i}"
            hint = f" (did you mean 's{i + 2}'?)" if not expected else ""
            prefix = f"  s{i}: {{choices: [{', '.join(choices)}, {{id: b, text: B, to: "
            out.append(prefix + target + "}]}\n")
            expected.append(
                f"{{path}}:{line}:{len(prefix) + 1}: error: choice 'b' goes to unknown scene '{target}'{hint} "
                "[unknown-scene]"
            )
        else:
            out.append(f"  s{i}: {{choices: [{', '.join(choices)}]}}\n")
        line += 1
    path.write_text("".join(out), encoding="utf-8")
    return path, expected


def graph_50000_broken_refs(folder: Path) -> Generated:
    """50,000 scenes with 5,000 broken references: every one reported, in bounded time (the
    "did you mean" search over 50,000 ids per reference was quadratic: minutes)."""
    path, expected = _graph(folder, "graph-50000-broken-refs", broken_every=10)
    return Generated(path, expected)


def graph_50000_analyze(folder: Path) -> Generated:
    """A valid 50,000-scene graph, through ``analyze`` with a state bound: the bound is
    reported in one line (``test_hostile`` checks the line; no diagnostics expected)."""
    path, _ = _graph(folder, "graph-50000-analyze", broken_every=0)
    return Generated(path, [], args=["analyze", "{path}", "--max-states", "1000"], exit_code=1)


CASES: dict[str, Callable[[Path], Generated]] = {
    "big-file-50mb": big_file_50mb,
    "nest-flow-10000": nest_flow_10000,
    "nest-flow-map-10000": nest_flow_map_10000,
    "nest-block-compact-10000": nest_block_compact_10000,
    "nest-block-indented-10000": nest_block_indented_10000,
    "condition-10000-parens": condition_10000_parens,
    "huge-string-4mb": huge_string_4mb,
    "folder-named-yaml": folder_named_yaml,
    "graph-50000-broken-refs": graph_50000_broken_refs,
    "graph-50000-analyze": graph_50000_analyze,
}
