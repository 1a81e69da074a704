"""Fuzzing the scenario loader (``simulator.loader.load_scenario``) and ``crisis-sim validate``.

Starting from real valid files (the bundled library, ``tests/scenario_factory.py``'s header and
the hostile corpus's base), inputs are broken the way hands and tools break them:

- as text and bytes: truncated at any byte (also inside a UTF-8 sequence), lines and blocks
  swapped, moved, duplicated (duplicate keys), re-indented; YAML's special tokens, unicode of
  every plane (controls, bidi, private use, astral, non-characters, lone surrogates written as
  bytes) and random bytes spliced in;
- as data (read with our own reader, changed, written back as block YAML or JSON): value types
  swapped (text, number, list, mapping, null, true/false), keys misspelt, dropped or added,
  references broken, conditions replaced, huge strings, deep nesting.

The property everywhere: a model, or diagnostics; never an exception, never a hang. Every
diagnostic names this file, has a position inside it (line within the file, column within the
line, or 0:0 for the whole file), a one-line message free of control and bidi characters, and a
code documented in docs/scenario-format.md. A model comes exactly when there is no error.
``tests/test_loader.py`` has three small hypothesis tests (random text into the YAML reader,
one-character mutations of the sample); this file goes further and deeper.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_runner import run_cli
from hang_guard import no_hang
from hypothesis import event, example, given
from hypothesis import strategies as st
from scenario_factory import HEADER, REPO

from simulator.diagnostics import has_errors
from simulator.loader import LoadResult, is_sidecar, load_scenario
from simulator.yamlsource import parse_text

# ---- the seeds ---------------------------------------------------------------------------------

LIBRARY = sorted(p for p in (REPO / "scenarios").glob("*.yaml") if not is_sidecar(p))
TINY = HEADER + """\
start: a
scenes:
  a:
    text: Sam paces.
    lines:
      - {who: sam, says: "Hey.", if: "agitation > 2"}
    timeout: {seconds: 30, to: b, effects: {agitation: 1}}
    choices:
      - {id: talk, text: Talk, to: b, effects: {rapport: 1}, set: {asked: true}, if: "not asked"}
      - {id: wait, text: Wait, to: a, if: "visits(a) < 3"}
  b:
    end: {rating: good, outcome: Done., debrief: Fine.}
"""
SEEDS: dict[str, str] = {p.stem: p.read_text(encoding="utf-8") for p in LIBRARY[:4]}
SEEDS["tiny"] = TINY
SEEDS["hostile-base"] = (REPO / "tests" / "data" / "hostile" / "base.yaml").read_text(encoding="utf-8")
SEED_DATA: dict[str, Any] = {name: parse_text(text, name).data for name, text in SEEDS.items()}

DOC = (REPO / "docs" / "scenario-format.md").read_text(encoding="utf-8")
DOCUMENTED = set(re.findall(r"^\| `([a-z0-9-]+)` \| (?:error|warning)", DOC, re.M))
LINE_BREAKS = re.compile("\r\n|\r|\n")
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
SUMMARY = re.compile(r"^\d+ file\(s\) checked: \d+ error\(s\), \d+ warning\(s\)$")

# ---- the property ------------------------------------------------------------------------------


def file_lines(raw: bytes) -> list[str]:
    """The file's lines as an editor (and the diagnostics) count them: any line break, after
    an optional UTF-8 byte order mark, undecodable bytes as one character each."""
    text = raw.decode("utf-8", "replace")
    return LINE_BREAKS.split(text[1:] if text.startswith("\ufeff") else text)


def check_result(path: Path, raw: bytes, result: LoadResult) -> None:
    assert isinstance(result, LoadResult)
    assert (result.scenario is not None) == (not has_errors(result.diagnostics)), [
        d.format() for d in result.diagnostics
    ]
    lines = file_lines(raw)
    for d in result.diagnostics:
        shown = d.format()
        assert d.path == str(path), shown
        assert d.severity in ("error", "warning"), shown
        assert d.code in DOCUMENTED, f"undocumented code: {shown}"
        assert "\n" not in shown and "\r" not in shown, shown
        assert not UNSAFE.search(shown), ascii(shown)
        if d.line == 0:
            assert d.col == 0, shown
        else:
            assert 1 <= d.line <= len(lines), (shown, len(lines))
            assert 1 <= d.col <= len(lines[d.line - 1]) + 1, (shown, ascii(lines[d.line - 1][:200]))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-scenarios")


def load_checked(folder: Path, raw: bytes, name: str = "fuzzed.yaml") -> LoadResult:
    path = folder / name
    path.write_bytes(raw)
    with no_hang(20, "scenario file"):
        result = load_scenario(path)
    check_result(path, raw, result)
    errors = sorted({d.code for d in result.diagnostics if d.severity == "error"})
    event(f"errors: {', '.join(errors[:3])}" if errors else "loaded")  # how deep the inputs get (statistics)
    return result


# ---- text and byte mutations -------------------------------------------------------------------

# Characters from every plane and kind: C0/C1 controls, DEL, bidi controls, zero-width and
# line/paragraph separators, BOM, non-characters, private use (BMP and planes 15-16), astral
# letters and emoji, combining marks, and lone surrogates (written with 'surrogatepass', so
# the file holds their invalid UTF-8 bytes).
ODD_CHARS = st.one_of(
    st.sampled_from(
        list("\x00\x07\x08\x0b\x0c\x0d\x1b\x7f\x85\x9b\xa0\u061c\u200b\u200e\u200f\u202a\u202e\u2028\u2029")
        + list("\u2066\u2069\ufeff\ufffd\ufffe\uffff\ue000\U000f0000\U0010fffd\U0001f600\U00020000\u0301")
        + ["\ud800", "\udfff", "\U0001d11e"]
    ),
    st.characters(exclude_categories=()),  # any code point, surrogates included
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
)
YAML_TOKENS = st.sampled_from(
    [": ", "- ", "? ", "&a ", "*a", "!!python/object/apply:os.system ['id']", "!x ", "---\n", "...\n", "%YAML 1.1\n",
     "{", "}", "[", "]", ",", '"', "'", "|", ">-", "#", "\t", "\\", "<<: ", "@", "`", "%", "\n", "  ", "\r", "\r\n",
     "no", "1:20", "012", "~", "null", ".nan", "1e999", "9" * 5000, "if: ", "to: ", "end: ", "choices: "]
)


def _lines(text: str) -> list[str]:
    return text.split("\n")


@st.composite
def text_mutation(draw: st.DrawFn) -> bytes:
    """A seed file with one to four text edits, then maybe truncated at any byte."""
    text = SEEDS[draw(st.sampled_from(sorted(SEEDS)), label="seed")]
    for _ in range(draw(st.integers(1, 4))):
        lines = _lines(text)
        kind = draw(
            st.sampled_from(
                ["swap-lines", "move-block", "duplicate-block", "delete-block", "reindent", "odd-chars", "token",
                 "random-bytes-later"]
            ),
            label="edit",
        )
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        lo, hi = min(i, j), max(i, j) + 1
        if kind == "swap-lines":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "move-block":
            block = lines[lo:hi]
            del lines[lo:hi]
            at = draw(st.integers(0, len(lines)))
            lines[at:at] = block
        elif kind == "duplicate-block":  # duplicate keys at whatever depth the block sits
            lines[hi:hi] = lines[lo:min(hi, lo + 30)]
        elif kind == "delete-block":
            del lines[lo:min(hi, lo + 30)]
        elif kind == "reindent":
            line = lines[i]
            shift = draw(st.integers(-4, 4))
            lines[i] = " " * max(0, shift) + (line[-shift:] if shift < 0 and line[:-shift].isspace() else line)
        else:
            flat = "\n".join(lines)
            at = draw(st.integers(0, len(flat)))
            if kind == "odd-chars":
                piece = "".join(draw(st.lists(ODD_CHARS, min_size=1, max_size=8)))
            elif kind == "token":
                piece = draw(YAML_TOKENS)
            else:
                piece = "\udc80"  # marks a place for random bytes, placed below
            text = flat[:at] + piece + flat[at:]
            continue
        text = "\n".join(lines)
    raw = text.encode("utf-8", "surrogatepass")
    if "\udc80" in text:
        noise = draw(st.binary(min_size=1, max_size=16), label="bytes")
        raw = raw.replace("\udc80".encode("utf-8", "surrogatepass"), noise)
    if draw(st.booleans(), label="truncate"):
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


@given(raw=text_mutation())
@example(raw=SEEDS["tiny"].encode()[:-7])  # cut inside the last line
@example(raw=SEEDS["tiny"].replace("\n", "\r").encode() + b"\x00")  # old Mac line ends, then a NUL
@example(raw="\u00e9".encode()[:1] + SEEDS["tiny"].encode())  # half of a two-byte character first
def test_text_and_byte_mutations_load_or_diagnose(folder: Path, raw: bytes) -> None:
    load_checked(folder, raw)


@given(
    raw=st.one_of(
        st.binary(max_size=2000),
        st.text(ODD_CHARS, max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.text(max_size=500).map(lambda t: (HEADER + t).encode("utf-8", "surrogatepass")),
        st.binary(max_size=300).map(lambda b: HEADER.encode() + b),
    )
)
def test_random_bytes_and_unicode_of_every_plane_load_or_diagnose(folder: Path, raw: bytes) -> None:
    load_checked(folder, raw)


# ---- data mutations ----------------------------------------------------------------------------


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _get(data, path[:-1])[path[-1]] = value
    return data


ANY_TYPE = st.one_of(
    st.text(max_size=20),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "to", "id", "if", "text"]), st.integers(0, 3), max_size=3),
    st.sampled_from(["", " ", "yes", "no", "1:20", "012", "0x1f", "1e3", "true", "null", "-1", "arrival"]),
)
CONDITIONS = st.one_of(
    st.sampled_from(
        ["__import__('os')", "().__class__", "x.y", "f(x)", "lambda: 1", "a[0]", "agitation >", "not", "((((",
         "visits(nowhere) > 1", "agitation > 99999999999999999999999", "true and 1", "rapport == asked", ""]
    ),
    st.text(alphabet="agitonrpsv_()<>=!- 0123456789", max_size=40),
)


# Edits, the semantic ones twice as likely; and the keys each of those aims at.
EDITS = ["type", "misspell", "drop", "add", "huge", "deep", "unicode"] + ["reference", "condition", "id"] * 2
TARGETS = {"reference": ("to", "start", "who", "ending", "timeout"), "condition": ("if",), "id": ("id",)}
# Lone surrogates cannot be written as YAML or JSON text at all (the writer escapes them and
# the reader refuses the escape): the text mutations put them in as raw bytes instead.
PRINTABLE_ODD_CHARS = ODD_CHARS.filter(lambda c: not 0xD800 <= ord(c) <= 0xDFFF)


def _deep(depth: int, style: str) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value] if style == "list" else {"k": value}
    return value


def _misspell(draw: st.DrawFn, key: str) -> str:
    if not key:
        return "x"
    i = draw(st.integers(0, len(key) - 1))
    kind = draw(st.sampled_from(["drop", "double", "swap", "case", "space"]))
    if kind == "drop":
        return key[:i] + key[i + 1 :] or "x"
    if kind == "double":
        return key[:i] + key[i] + key[i:]
    if kind == "swap" and i + 1 < len(key):
        return key[:i] + key[i + 1] + key[i] + key[i + 2 :]
    if kind == "case":
        return key[:i] + key[i].swapcase() + key[i + 1 :]
    return key[:i] + " " + key[i:]


@st.composite
def data_mutation(draw: st.DrawFn) -> bytes:
    """A seed's data with one to four structural edits, written back as YAML or JSON."""
    data = copy.deepcopy(SEED_DATA[draw(st.sampled_from(sorted(SEED_DATA)), label="seed")])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(EDITS), label="edit")
        paths = _paths(data)[1:] or [()]  # the root itself only when nothing else is left
        if kind in TARGETS:  # aim at the keys that the later checks read, to get past the structure
            paths = [p for p in paths if p and p[-1] in TARGETS[kind]] or paths
        path = draw(st.sampled_from(paths), label="at")
        if kind == "type":
            data = _set(data, path, draw(ANY_TYPE))
        elif kind in ("misspell", "drop") and path and isinstance(_get(data, path[:-1]), dict):
            parent = _get(data, path[:-1])
            value = parent.pop(path[-1])
            if kind == "misspell":
                parent[_misspell(draw, str(path[-1]))] = value
        elif kind == "add" and isinstance(_get(data, path), dict):
            _get(data, path)[draw(st.sampled_from(["extra", "text", "to", "if", "choices", "end", "id", "x" * 90]))] = (
                draw(ANY_TYPE)
            )
        elif kind == "huge":
            size = draw(st.sampled_from([1_000, 100_000, 1_000_000]))
            data = _set(data, path, draw(st.sampled_from(["x", "é", "\U0001f600", "[b]", "ab "])) * size)
        elif kind == "deep":
            data = _set(data, path, _deep(draw(st.integers(1, 200)), draw(st.sampled_from(["list", "map"]))))
        elif kind == "reference":
            data = _set(data, path, draw(st.sampled_from(["nowhere", "arrival", "a", "b", "start", "you", "x" * 81])))
        elif kind == "condition":
            data = _set(data, path, draw(CONDITIONS))
        elif kind == "id":  # a duplicate, reserved, malformed or overlong id
            data = _set(data, path, draw(st.sampled_from(["talk", "greet", "and", "you", "Bad Id", "-x", "a" * 81])))
        elif kind == "unicode":
            data = _set(data, path, "".join(draw(st.lists(PRINTABLE_ODD_CHARS, min_size=1, max_size=6))))
    if draw(st.booleans(), label="json"):
        text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    else:
        text = yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False, width=100)
    return text.encode("utf-8", "surrogatepass")


@given(raw=data_mutation())
def test_type_swaps_misspelt_keys_and_broken_references_load_or_diagnose(folder: Path, raw: bytes) -> None:
    load_checked(folder, raw)


@given(
    seed=st.sampled_from(sorted(SEEDS)),
    depth=st.integers(1, 3000),
    style=st.sampled_from(["flow-list", "flow-map", "block-list", "block-map", "condition"]),
    size=st.sampled_from([0, 10_000, 1_000_000, 4_000_000]),
)
def test_deep_nesting_and_huge_strings_load_or_diagnose(
    folder: Path, seed: str, depth: int, style: str, size: int
) -> None:
    if style == "flow-list":
        nested = "[" * depth + "x" + "]" * depth
    elif style == "flow-map":
        nested = "{a: " * depth + "x" + "}" * depth
    elif style == "block-list":
        nested = "- " * depth + "x"
    elif style == "block-map":
        nested = "\n" + "".join(" " * (i + 1) + "k:\n" for i in range(min(depth, 400))) + " " * 402 + "x"
    else:
        nested = '"' + "(" * depth + "agitation > 2" + ")" * depth + '"'
    text = SEEDS[seed].replace("\nstart:", f"\nextra: {nested}\nbriefing2: {'w' * size}\nstart:", 1)
    load_checked(folder, text.encode("utf-8"))


# ---- the validate command ----------------------------------------------------------------------





@given(raw=st.one_of(text_mutation(), data_mutation()), as_json=st.booleans())
def test_validate_command_answers_in_diagnostics_only(folder: Path, raw: bytes, as_json: bool) -> None:
    path = folder / "validated.yaml"
    path.write_bytes(raw)
    result = run_cli(["validate", str(path), *(["--format", "json"] if as_json else [])], seconds=30, what="validate")
    code, output = result.code, result.output
    assert "Traceback" not in output and "internal error" not in output, output[-3000:]
    assert code in (0, 1), output[-3000:]
    if as_json:
        report = json.loads(output)
        [entry] = report["files"]
        assert entry["ok"] == (code == 0) == report["ok"]
        assert all(d["path"] == str(path) for d in entry["diagnostics"])
        errors = sum(d["severity"] == "error" for d in entry["diagnostics"])
    else:
        *lines, summary = output.splitlines()
        assert SUMMARY.match(summary), summary
        errors = int(summary.split(": ")[1].split()[0])
        for line in lines:
            assert line.startswith(str(path)) and line.endswith("]"), line
            assert not UNSAFE.search(line), ascii(line)
    assert (code == 1) == (errors > 0)
