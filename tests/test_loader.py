"""The scenario loader's diagnostics: every problem an instructor can make in a file is
reported with the right code, at the right line (and column where it means something), with
a message that says what to do. Broken scenarios are built from one small valid text by
changing one thing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.diagnostics import Diagnostic, DiagnosticError
from simulator.library import bundled_dir
from simulator.loader import LoadResult, load_many, load_scenario
from simulator.yamlsource import MAX_DEPTH, YamlDocument, parse_text

REPO = Path(__file__).resolve().parent.parent
SAMPLE_PATH = REPO / "scenarios" / "overpass-railing.yaml"
SAMPLE = SAMPLE_PATH.read_text(encoding="utf-8")

BASE = """\
format: 1
id: test-scenario
title: Test scenario
version: "1.0"
summary: A small scenario for tests.
difficulty: introductory
minutes: 5
briefing: Dispatch sends you to a call.
cast:
  alex: {name: Alex}
meters:
  agitation: {start: 5, label: Agitation}
flags:
  asked: {label: You asked}
start: arrival
scenes:
  arrival:
    text: You arrive.
    lines:
      - {who: alex, says: "Hello."}
    timeout:
      seconds: 30
      to: talk
    choices:
      - id: greet
        text: Say hello.
        to: talk
        effects: {agitation: -1}
        set: {asked: true}
        scores: {active_listening: 2}
      - id: leave
        text: Leave.
        to: bad_end
  talk:
    auto:
      - {if: "agitation > 8", to: bad_end}
    choices:
      - id: ask
        text: Ask.
        to: good_end
  good_end:
    end: {rating: good, outcome: Safe.}
  bad_end:
    end: {rating: poor, outcome: Not safe.}
# crisis-sim: ignore-file[missing-feedback, missing-debrief, single-option]
"""
# (BASE is deliberately minimal: it tests the loader, not authoring quality, so the authoring
# lints are silenced the way an instructor would silence them.)

# ---- helpers --------------------------------------------------------------------------------


def change(old: str, new: str, text: str = BASE) -> str:
    """``text`` with the one occurrence of ``old`` replaced (fails if it is not unique)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def pos(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the ``nth`` occurrence of ``needle`` in ``text``."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def find(result: LoadResult, code: str) -> Diagnostic:
    """The one diagnostic with ``code``."""
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, f"expected one {code!r}, got: {[d.format() for d in result.diagnostics]}"
    return found[0]


def check(
    result: LoadResult,
    code: str,
    line: int,
    col: int | None = None,
    words: tuple[str, ...] = (),
    severity: str = "error",
) -> Diagnostic:
    """Assert there is exactly one ``code`` diagnostic, where it should be, saying ``words``."""
    d = find(result, code)
    assert (d.severity, d.line) == (severity, line), d.format()
    if col is not None:
        assert d.col == col, d.format()
    for word in words:
        assert word in d.message, f"{word!r} not in {d.format()}"
    assert d.path == result.path
    if severity == "error":
        assert result.scenario is None
        assert not result.ok
    return d


Loader = Callable[..., LoadResult]


@pytest.fixture
def load(tmp_path: Path) -> Loader:
    """Write text (or bytes) to a file in tmp_path and load it."""

    def _load(content: str | bytes, name: str = "scenario.yaml", **kwargs: object) -> LoadResult:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return load_scenario(path, **kwargs)  # type: ignore[arg-type]

    return _load


def test_base_is_valid(load: Loader) -> None:
    result = load(BASE)
    assert result.ok, [d.format() for d in result.diagnostics]
    assert result.diagnostics == []
    assert result.scenario is not None and result.scenario.id == "test-scenario"


def test_bundled_library_has_no_diagnostics() -> None:
    results = load_many([bundled_dir()])
    assert results, "the bundled library is empty"
    for result in results:
        assert result.ok, result.path
        assert result.diagnostics == [], [d.format() for d in result.diagnostics]


# ---- reading the file -----------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    result = load_scenario(tmp_path / "nope.yaml")
    d = check(result, "file-missing", 0, 0, ("no such file",))
    assert d.path.endswith("nope.yaml")


def test_folder_given_as_file(tmp_path: Path) -> None:
    check(load_scenario(tmp_path), "file-unreadable", 0, 0, ("folder",))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.yaml"
    path.write_text(BASE, encoding="utf-8")
    path.chmod(0)
    try:
        check(load_scenario(path), "file-unreadable", 0, 0, ("permission",))
    finally:
        path.chmod(0o644)


def test_permission_error_is_a_diagnostic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same path as the chmod test, reachable when the tests run as root.
    path = tmp_path / "locked.yaml"
    path.write_text(BASE, encoding="utf-8")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)  # the one reader, simulator.safefile, opens with os.open
    check(load_scenario(path), "file-unreadable", 0, 0, ("permission",))


def test_file_over_size_cap(load: Loader) -> None:
    check(load(BASE, max_bytes=100), "file-too-large", 0, 0, ("100-byte", "limit"))
    assert load(BASE, max_bytes=len(BASE.encode())).ok


def test_latin1_byte_names_line_and_column(load: Loader) -> None:
    text = change("text: You arrive.", "text: Café.")
    line, col = pos(text, "é")
    assert line == 18
    check(load(text.encode("latin-1")), "not-utf8", line, col, ("0xe9", "UTF-8", "Latin-1"))


@pytest.mark.parametrize("raw", [BASE.encode("utf-16-le"), BASE.encode("utf-16-be")], ids=["le", "be"])
def test_utf16_bom(load: Loader, raw: bytes) -> None:
    bom = b"\xff\xfe" if raw[1:2] == b"\0" else b"\xfe\xff"
    check(load(bom + raw), "not-utf8", 1, 1, ("UTF-16", "UTF-8"))


def test_utf8_bom_is_accepted(load: Loader) -> None:
    assert load(b"\xef\xbb\xbf" + BASE.encode()).ok


def test_nul_byte(load: Loader) -> None:
    text = change("text: You arrive.", "text: You\0 arrive.")
    line, col = pos(text, "\0")
    check(load(text), "nul-byte", line, col, ("NUL",))


# ---- YAML syntax and safety -----------------------------------------------------------------


def test_yaml_syntax_error(load: Loader) -> None:
    text = change("title: Test scenario", "title: Test: scenario")
    line, col = pos(text, ": scenario")
    check(load(text), "yaml-syntax", line, col, ("YAML cannot read this line", "indentation", "': '", "in quotes"))
    assert "mapping values" not in load(text).diagnostics[0].message  # libyaml's jargon stays out


def test_unclosed_bracket_names_where_it_opened(load: Loader) -> None:
    text = change("title: Test scenario", "title: [Test scenario")
    d = check(load(text), "yaml-syntax", 4, words=("']'",))
    # The parser only notices on the next line: the message must point back at the '['.
    assert "line 3" in d.message, d.format()


def test_error_at_end_of_truncated_file_stays_inside_the_file(load: Loader) -> None:
    text = BASE[: BASE.index("scores: {active") + 3]  # "...\n        sco", no final newline
    result = load(text)
    # libyaml puts the end of such a file on a line past the last; the error must point at
    # the half-written key instead.
    check(result, "yaml-syntax", text.count("\n") + 1, len("        ") + 1, ("':'",))


def test_tab_indentation(load: Loader) -> None:
    text = change("    text: You arrive.", "\ttext: You arrive.")
    check(load(text), "yaml-tab", pos(text, "\t")[0], 1, ("tab", "spaces"))


@pytest.mark.parametrize(
    ("value", "char", "meaning"),
    [("*sigh* Test", "*", "alias"), ("& Test", "&", "anchor"), ("!Test! scenario", "!", "tag"), ("@Test", "@", "")],
    ids=["star", "ampersand", "bang", "at"],
)
def test_text_starting_with_a_yaml_indicator_must_be_quoted(load: Loader, value: str, char: str, meaning: str) -> None:
    text = change("title: Test scenario", f"title: {value}")
    d = check(load(text), "yaml-syntax", *pos(text, value), words=(f"a value starting with '{char}' must be quoted",))
    assert meaning in d.message and "while scanning" not in d.message and "while parsing" not in d.message, d.format()


def test_alias_like_text_gets_the_quote_hint(load: Loader) -> None:
    text = change("title: Test scenario", "title: *sigh Test")
    check(load(text), "yaml-alias", *pos(text, "*sigh"), words=("*sigh", "put text that starts with '*' in quotes"))


def test_quote_never_closed_points_at_the_opening_quote(load: Loader) -> None:
    text = BASE + 'content_warning: "Distress\n'
    d = check(load(text), "yaml-syntax", *pos(text, '"Distress'), words=("a quote is not closed",))
    assert "end of stream" not in d.message, d.format()


def test_quote_closed_lines_later_points_at_the_opening_quote(load: Loader) -> None:
    # The missing '"' makes YAML read on to the next '"' (line 4) and fail there; the error
    # must name line 3, where the quote was opened.
    text = change("title: Test scenario", 'title: "Test scenario')
    check(load(text), "yaml-syntax", *pos(text, '"Test'), words=("a quote is not closed", "line 4"))


def test_bad_indentation_says_check_the_indentation(load: Loader) -> None:
    # 'text:' one space too far makes the scene's keys 5 spaces deep; 'lines:' at 4 then fits
    # nowhere. libyaml blames the block of all scenes (line 17): that line is left out.
    text = change("    text: You arrive.", "     text: You arrive.")
    d = check(
        load(text),
        "yaml-syntax",
        *pos(text, "lines:"),
        words=("check the indentation on this line and the lines above it", "in quotes"),
    )
    assert "line 17" not in d.message and "block mapping" not in d.message, d.format()


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_rejected_at_first_anchor(load: Loader) -> None:
    # Rejected at the very first anchor: nothing after line 1 is ever built or walked.
    check(load(BILLION_LAUGHS), "yaml-anchor", 1, 4, ("&a", "not allowed"))
    with pytest.raises(DiagnosticError) as info:
        parse_text(BILLION_LAUGHS, "bomb.yaml")
    assert [(d.line, d.code) for d in info.value.diagnostics] == [(1, "yaml-anchor")]


def test_anchor(load: Loader) -> None:
    text = change("alex: {name: Alex}", "alex: &person {name: Alex}")
    check(load(text), "yaml-anchor", *pos(text, "&person"), words=("&person",))


def test_alias(load: Loader) -> None:
    text = change("title: Test scenario", "title: *name")
    check(load(text), "yaml-alias", *pos(text, "*name"), words=("*name", "not allowed"))


def test_python_tag_is_rejected_and_never_run(load: Loader, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = change("title: Test scenario", f"title: !!python/object/apply:os.system ['touch {marker}']")
    check(load(text), "yaml-tag", *pos(text, "!!python"), words=("!!python/object/apply:os.system", "not allowed"))
    assert not marker.exists()


def test_duplicate_key_top_level(load: Loader) -> None:
    text = BASE + "title: Again\n"
    check(load(text), "duplicate-key", pos(text, "title:", 2)[0], 1, ("'title'", "line 3"))


def test_duplicate_key_in_scene(load: Loader) -> None:
    text = change("    text: You arrive.\n", "    text: You arrive.\n    text: Again.\n")
    line, col = pos(text, "text: Again.")
    check(load(text), "duplicate-key", line, col, ("'text'", f"line {line - 1}"))


def test_duplicate_key_in_choice(load: Loader) -> None:
    text = change("        to: bad_end\n", "        to: bad_end\n        to: good_end\n")
    line, col = pos(text, "to: good_end", 1)
    first = pos(text, "to: bad_end")[0]
    check(load(text), "duplicate-key", line, col, ("'to'", f"line {first}"))


def test_duplicate_key_in_flow_mapping(load: Loader) -> None:
    text = change("{start: 5, label: Agitation}", "{start: 5, label: Agitation, start: 6}")
    check(load(text), "duplicate-key", *pos(text, "start: 6"), words=("'start'", "line 12"))


def test_multi_document(load: Loader) -> None:
    text = BASE + "---\nid: other\n"
    check(load(text), "yaml-multi-document", pos(text, "---")[0], 1, ("one YAML document", "---"))


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"], ids=["empty", "blank", "comment"])
def test_empty_file(load: Loader, text: str) -> None:
    check(load(text), "empty-file", 0, 0, ("empty",))


@pytest.mark.parametrize("text", ["- a\n- b\n", "just some text\n", "42\n"], ids=["list", "text", "number"])
def test_root_is_not_a_mapping(load: Loader, text: str) -> None:
    check(load(text), "not-a-mapping", 1, 1, ("mapping",))


def test_nesting_too_deep(load: Loader) -> None:
    text = "a: " + "[" * 100 + "]" * 100 + "\n"
    # The root mapping is level 1, so the MAX_DEPTH-th bracket is one too many.
    check(load(text), "yaml-too-deep", 1, len("a: ") + MAX_DEPTH, (str(MAX_DEPTH),))


def test_nesting_too_deep_block_mapping(load: Loader) -> None:
    text = "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 100))
    check(load(text), "yaml-too-deep", MAX_DEPTH + 1, words=("nesting",))


def test_nesting_beyond_libyaml_limit_is_too_deep(load: Loader) -> None:
    text = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    check(load(text), "yaml-too-deep", 1, words=("nest",))


def test_raw_control_character_has_a_position(load: Loader) -> None:
    text = change("text: You arrive.", "text: Café \x1b[31mred")
    line, col = pos(text, "\x1b")
    check(load(text), "control-character", line, col, ("U+001B",))


@pytest.mark.parametrize("char", ["\ufffe", "\ud800"], ids=["non-character", "lone-surrogate"])
def test_characters_yaml_forbids_have_a_position(char: str) -> None:
    text = "title: ok\nsummary: a" + char + "b\n"
    with pytest.raises(DiagnosticError) as info:
        parse_text(text, "odd.yaml")
    [d] = info.value.diagnostics
    assert (d.line, d.col, d.code) == (2, 11, "bad-character")
    assert f"U+{ord(char):04X}" in d.message


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85"], ids=["LS", "PS", "NEL"])
def test_unicode_line_separators_would_shift_line_numbers(load: Loader, char: str) -> None:
    # libyaml counts these as line breaks but editors do not: every later line number would
    # be off by one, and in plain text they can even break the mapping. Reject with a position.
    text = change("title: Test scenario", f"title: Test{char} scenario")
    check(load(text), "line-separator", *pos(text, char), words=(f"U+{ord(char):04X}",))


# ---- structure --------------------------------------------------------------------------------


def test_wrong_type_number_as_text(load: Loader) -> None:
    text = change("minutes: 5", 'minutes: "ten"')
    check(load(text), "wrong-type", *pos(text, '"ten"'), words=("minutes", "whole number", "ten"))


def test_wrong_type_quoted_number(load: Loader) -> None:
    text = change("minutes: 5", 'minutes: "10"')
    check(load(text), "wrong-type", *pos(text, '"10"'), words=("whole number", "quotes"))


def test_version_number_gets_quote_hint(load: Loader) -> None:
    text = change('version: "1.0"', "version: 1.2")
    check(load(text), "wrong-type", *pos(text, "1.2"), words=("version", "text", "1.2", "quotes"))


def test_yes_is_text_under_yaml_1_2(load: Loader) -> None:
    text = change("{start: 5, label: Agitation}", "{start: 5, label: Agitation, show: yes}")
    check(load(text), "wrong-type", *pos(text, "yes"), words=("show", "true or false", "'yes'"))


@pytest.mark.parametrize("word", ["no", "on", "off", "y"])
def test_yaml_1_1_booleans_are_text(load: Loader, word: str) -> None:
    text = change("summary: A small scenario for tests.", f"summary: {word}")
    result = load(text)
    assert result.ok, [d.format() for d in result.diagnostics]
    assert result.scenario is not None and result.scenario.summary == word


def test_sexagesimal_stays_text(load: Loader) -> None:
    result = load(change('version: "1.0"', "version: 1:20"))
    assert result.scenario is not None, [d.format() for d in result.diagnostics]
    assert result.scenario.version == "1:20"


def test_leading_zero_is_a_decimal_number_needing_quotes(load: Loader) -> None:
    text = change("summary: A small scenario for tests.", "summary: 012")
    check(load(text), "wrong-type", *pos(text, "012"), words=("the number 12", "quotes"))


def test_unknown_key_did_you_mean(load: Loader) -> None:
    text = change("    text: You arrive.", "    txt: You arrive.")
    check(load(text), "unknown-key", *pos(text, "txt:"), words=("'txt'", "scenes.arrival", "did you mean 'text'"))


def test_unknown_key_lists_allowed_keys(load: Loader) -> None:
    text = change("minutes: 5\n", "minutes: 5\ncolour: red\n")
    check(load(text), "unknown-key", *pos(text, "colour"), words=("'colour'", "allowed here", "summary"))


def test_missing_required_key(load: Loader) -> None:
    text = change("summary: A small scenario for tests.\n", "")
    check(load(text), "missing-key", 1, 1, ("the file needs", "'summary'"))


def test_missing_key_in_choice_points_at_the_choice(load: Loader) -> None:
    text = change("        to: bad_end\n", "")
    check(load(text), "missing-key", *pos(text, "id: leave"), words=("scenes.arrival.choices[1]", "'to'"))


def test_all_structural_errors_reported_together(load: Loader) -> None:
    text = change("minutes: 5", 'minutes: "ten"')
    text = change("difficulty: introductory", "difficulty: hard", text)
    text = change("    text: You arrive.", "    txt: You arrive.", text)
    codes = [d.code for d in load(text).diagnostics]
    assert codes == ["bad-value", "wrong-type", "unknown-key"]


def test_bad_scene_id(load: Loader) -> None:
    text = change("  arrival:\n", "  Arrival:\n")
    check(load(text), "bad-id", *pos(text, "Arrival"), words=("'Arrival'", "scenes", "lowercase"))


def test_bad_choice_id(load: Loader) -> None:
    text = change("id: greet", "id: 1st")
    check(load(text), "bad-id", *pos(text, "1st"), words=("'1st'", "choices[0].id", "starting with a letter"))


def test_bad_scenario_id(load: Loader) -> None:
    text = change("id: test-scenario", "id: Test_Scenario")
    check(load(text), "bad-id", *pos(text, "Test_Scenario"), words=("'Test_Scenario'", "hyphens"))


def test_literal_error(load: Loader) -> None:
    text = change("difficulty: introductory", "difficulty: hard")
    check(load(text), "bad-value", *pos(text, "hard"), words=("difficulty", "'intermediate'", "'hard'"))


def test_literal_error_did_you_mean(load: Loader) -> None:
    text = change("rating: good", "rating: goood")
    check(load(text), "bad-value", *pos(text, "goood"), words=("did you mean 'good'",))


def test_points_out_of_range(load: Loader) -> None:
    text = change("scores: {active_listening: 2}", "scores: {active_listening: 4}")
    check(load(text), "out-of-range", *pos(text, "4}"), words=("active_listening", "4", "at most 3"))


def test_timeout_seconds_out_of_range(load: Loader) -> None:
    text = change("seconds: 30", "seconds: 0")
    check(load(text), "out-of-range", *pos(text, "0\n      to: talk"), words=("seconds", "more than 0"))


def test_huge_integer_does_not_crash(load: Loader) -> None:
    digits = "9" * 5000  # beyond Python's int-from-text limit
    text = change("minutes: 5", f"minutes: {digits}")
    check(load(text), "wrong-type", *pos(text, digits), words=("minutes", "whole number"))


@pytest.mark.parametrize(("value", "found"), [("true", "not true"), ("1.0", "not 1.0"), ("2", "not 2")])
def test_format_must_be_exactly_the_number_1(load: Loader, value: str, found: str) -> None:
    # Literal[1] alone accepts true and 1.0, which equal 1 in Python.
    text = change("format: 1", f"format: {value}")
    check(load(text), "bad-value", 1, 9, ("format must be the number 1", found))


def test_quoted_format_says_remove_the_quotes(load: Loader) -> None:
    text = change("format: 1", 'format: "1"')
    d = check(load(text), "bad-value", 1, 9, ("format must be the number 1, not the text '1'; remove the quotes",))
    assert "did you mean" not in d.message, d.format()


def test_rubric_format_true_is_an_error(tmp_path: Path) -> None:
    from scoring.rubric import builtin_rubrics_dir, load_rubric

    source = (builtin_rubrics_dir() / "default.yaml").read_text(encoding="utf-8")
    assert source.count("format: 1\n") == 1
    text = source.replace("format: 1\n", "format: true\n")
    path = tmp_path / "default.yaml"
    path.write_text(text, encoding="utf-8")
    result = load_rubric(path)
    assert result.rubric is None
    [d] = [d for d in result.diagnostics if d.code == "bad-value"]
    assert (d.line, d.col) == pos(text, "true")
    assert "format must be the number 1, not true" in d.message, d.format()


def test_literal_did_you_mean_never_repeats_the_input(load: Loader) -> None:
    text = change("rating: good", "rating: Good")
    d = check(load(text), "bad-value", *pos(text, "Good"), words=("did you mean 'good'",))
    text = change("rating: good", 'rating: "1"')
    d = check(load(text), "bad-value", *pos(text, '"1"'), words=("'good'",))
    assert "did you mean '1'" not in d.message, d.format()


def test_id_value_too_long(load: Loader) -> None:
    long_id = "g" * 81
    text = change("id: greet", f"id: {long_id}")
    check(
        load(text),
        "bad-value",
        *pos(text, long_id),
        words=("scenes.arrival.choices[0].id is longer than 80 characters",),
    )


def test_id_key_too_long(load: Loader) -> None:
    long_id = "a" * 81
    text = change("  asked: {label: You asked}", f"  {long_id}: {{label: You asked}}")
    d = check(load(text), "bad-value", *pos(text, long_id), words=("in flags is longer than 80 characters",))
    assert "String should" not in d.message, d.format()


def test_bad_key_id_mentions_the_length_limit(load: Loader) -> None:
    text = change("  asked: {label: You asked}", "  Asked: {label: You asked}")
    check(load(text), "bad-id", *pos(text, "Asked"), words=("'Asked' in flags", "lowercase", "at most 80 characters"))


def test_unknown_key_at_the_top_level_reads_well(load: Loader) -> None:
    text = BASE + "grading: strict\n"
    d = check(load(text), "unknown-key", *pos(text, "grading"), words=("unknown key 'grading' at the top level",))
    assert "(top level)" not in d.message, d.format()


def test_true_where_text_is_needed_has_no_nested_parentheses(load: Loader) -> None:
    text = change(COND, "{if: true, to: bad_end}")
    d = check(load(text), "wrong-type", *pos(text, "true,"), words=("(YAML read it as true; put the text in quotes)",))
    assert "true/false (" not in d.message, d.format()
    text = change("minutes: 5", "minutes: true")
    check(load(text), "wrong-type", *pos(text, "true"), words=("minutes must be a whole number (found true)",))


# ---- cross-references -----------------------------------------------------------------------


def test_unknown_target_of_choice(load: Loader) -> None:
    text = change("to: good_end", "to: god_end")
    check(
        load(text),
        "unknown-scene",
        *pos(text, "god_end"),
        words=("choice 'ask'", "'god_end'", "did you mean 'good_end'"),
    )


def test_unknown_target_of_auto(load: Loader) -> None:
    text = change('"agitation > 8", to: bad_end', '"agitation > 8", to: bad_ed')
    check(load(text), "unknown-scene", *pos(text, "bad_ed}"), words=("auto move 1", "'talk'", "did you mean 'bad_end'"))


def test_unknown_target_of_timeout(load: Loader) -> None:
    text = change("seconds: 30\n      to: talk", "seconds: 30\n      to: tlak")
    check(load(text), "unknown-scene", *pos(text, "tlak"), words=("timeout of scene 'arrival'", "did you mean 'talk'"))


def test_unknown_meter_in_effects(load: Loader) -> None:
    text = change("effects: {agitation: -1}", "effects: {agitaton: -1}")
    check(load(text), "unknown-meter", *pos(text, "agitaton"), words=("'agitaton'", "did you mean 'agitation'"))


def test_unknown_flag_in_set(load: Loader) -> None:
    text = change("set: {asked: true}", "set: {askd: true}")
    check(load(text), "unknown-flag", *pos(text, "askd"), words=("'askd'", "did you mean 'asked'"))


def test_unknown_cast_member(load: Loader) -> None:
    text = change("{who: alex,", "{who: alx,")
    check(load(text), "unknown-cast", *pos(text, "alx"), words=("'alx'", "did you mean 'alex'", "cast:"))


def test_start_scene_does_not_exist(load: Loader) -> None:
    text = change("start: arrival", "start: arival")
    check(load(text), "unknown-scene", *pos(text, "arival"), words=("start scene", "did you mean 'arrival'"))


def test_start_key_missing(load: Loader) -> None:
    text = change("start: arrival\n", "")
    check(load(text), "missing-key", 1, 1, ("'start'",))


def test_flag_in_effects_says_use_set(load: Loader) -> None:
    text = change("effects: {agitation: -1}", "effects: {asked: 1}")
    check(load(text), "unknown-meter", *pos(text, "asked: 1"), words=("'asked' is a flag: set it under set:",))


def test_meter_in_set_says_use_effects(load: Loader) -> None:
    text = change("set: {asked: true}", "set: {agitation: true}")
    check(load(text), "unknown-flag", *pos(text, "agitation: true"), words=("'agitation' is a meter", "effects:"))


# ---- ids that conditions and lines could not use ----------------------------------------------


def test_meter_and_flag_with_the_same_id(load: Loader) -> None:
    text = change("  asked: {label: You asked}", "  asked: {label: You asked}\n  agitation: {label: Upset}")
    meter_line = pos(text, "agitation: {start")[0]
    check(
        load(text),
        "duplicate-name",
        *pos(text, "agitation: {label"),
        words=("flag 'agitation'", "meter", f"line {meter_line}", "rename"),
    )


@pytest.mark.parametrize(
    ("section", "entry", "name"),
    [
        ("meters", "{start: 1, label: X}", "true"),
        ("meters", "{start: 1, label: X}", "visits"),
        ("flags", "{label: X}", "not"),
        ("flags", "{label: X}", "visited"),
        ("flags", "{label: X}", "and"),
        ("scenes", "{end: {rating: good, outcome: X.}}", "or"),
        ("scenes", "{end: {rating: good, outcome: X.}}", "false"),
    ],
)
def test_condition_words_are_reserved(load: Loader, section: str, entry: str, name: str) -> None:
    anchor = {"meters": "  agitation: {start", "flags": "  asked: {label", "scenes": "  good_end:"}[section]
    text = change(anchor, f"  {name}: {entry}\n{anchor}")
    kind = section[:-1]
    check(load(text), "reserved-name", *pos(text, f"{name}: "), words=(f"'{name}'", f"give the {kind} another id"))


def test_function_names_are_fine_for_scenes(load: Loader) -> None:
    # visited(visits) reads well enough: only meters and flags may not be called visits.
    text = change("to: good_end", "to: visits")
    text = change("  good_end:", "  visits:", text)
    result = load(text)
    assert result.ok, [d.format() for d in result.diagnostics]


def test_cast_member_called_you(load: Loader) -> None:
    text = change("  alex: {name: Alex}", "  alex: {name: Alex}\n  you: {name: Officer Lee}")
    check(load(text), "reserved-name", *pos(text, "you:"), words=("'you'", "trainee", "another id"))


# ---- the scene graph ------------------------------------------------------------------------


def test_no_ending(load: Loader) -> None:
    loop_back = "    choices: [{id: again, text: Again., to: arrival}]"
    text = change("    end: {rating: good, outcome: Safe.}", loop_back)
    text = change("    end: {rating: poor, outcome: Not safe.}", loop_back, text)
    check(load(text), "no-ending", *pos(text, "scenes:"), words=("no ending", "end:"))


def test_scene_with_no_way_out(load: Loader) -> None:
    text = change("    end: {rating: good, outcome: Safe.}", "    text: Nothing happens.")
    result = load(text)
    check(result, "no-way-out", *pos(text, "good_end:"), words=("'good_end'", "choices", "end"))
    # One clear error for a dead end, not a second one claiming it loops.
    assert [d.code for d in result.diagnostics] == ["no-way-out"]


def test_scene_from_which_no_ending_is_reachable(load: Loader) -> None:
    text = change("        to: good_end\n", "        to: loop_a\n")
    text += (
        "  loop_a:\n    choices: [{id: on, text: On., to: loop_b}]\n"
        "  loop_b:\n    choices: [{id: back, text: Back., to: loop_a}]\n"
    )
    result = load(text)
    stuck = [d for d in result.diagnostics if d.code == "no-ending-reachable"]
    assert [(d.line, d.col) for d in stuck] == [pos(text, "loop_a:"), pos(text, "loop_b:")]
    assert all("no ending can be reached" in d.message for d in stuck)
    assert result.scenario is None


def test_unreachable_scene_is_a_warning(load: Loader) -> None:
    text = BASE + "  orphan:\n    end: {rating: good, outcome: Nobody comes here.}\n"
    result = load(text)
    check(result, "unreachable-scene", *pos(text, "orphan:"), words=("'orphan'", "start scene"), severity="warning")
    assert result.ok and result.scenario is not None


def test_duplicate_choice_ids(load: Loader) -> None:
    text = change("id: leave", "id: greet")
    d = check(load(text), "duplicate-choice", *pos(text, "greet", 2), words=("'greet'", "twice"))
    assert f"line {pos(text, 'greet')[0]}" in d.message


def test_ending_with_choices(load: Loader) -> None:
    text = change(
        "    end: {rating: good, outcome: Safe.}",
        "    end: {rating: good, outcome: Safe.}\n    choices: [{id: again, text: Again., to: arrival}]",
    )
    check(load(text), "ending-has-choices", *pos(text, "choices: [{id: again"), words=("ending", "'choices'"))


def test_meter_min_not_below_max(load: Loader) -> None:
    text = change("{start: 5, label: Agitation}", "{start: 5, min: 10, max: 0, label: Agitation}")
    check(load(text), "meter-bounds", *pos(text, "10"), words=("min (10)", "max (0)"))


def test_meter_start_outside_bounds(load: Loader) -> None:
    text = change("{start: 5, label: Agitation}", "{start: 50, label: Agitation}")
    check(load(text), "meter-bounds", *pos(text, "50"), words=("starts at 50", "0..10"))


def test_unconditional_auto_loop(load: Loader) -> None:
    text = change('      - {if: "agitation > 8", to: bad_end}', "      - {to: spin}")
    text = change("  good_end:\n", "  spin:\n    auto: [{to: talk}]\n  good_end:\n", text)
    result = load(text)
    loops = [d for d in result.diagnostics if d.code == "auto-loop"]
    assert loops, [d.format() for d in result.diagnostics]
    assert (loops[0].line, loops[0].col) == pos(text, "{to: spin}")
    assert "talk -> spin -> talk" in loops[0].message
    assert "'if'" in loops[0].message
    assert result.scenario is None


def test_fallback_auto_move_back_to_its_own_scene(load: Loader) -> None:
    # The reviewer's case: crowd_grows: auto: [{if: "crowd >= 4", to: shouting}, {to: crowd_grows}]
    text = change(
        '      - {if: "agitation > 8", to: bad_end}', '      - {if: "agitation > 8", to: bad_end}\n      - {to: talk}'
    )
    check(
        load(text),
        "auto-loop",
        *pos(text, "talk}"),
        words=("auto move 2 of scene 'talk' goes back to 'talk'", "repeats forever", "visits(talk)"),
    )


def test_conditional_auto_move_back_to_its_own_scene(load: Loader) -> None:
    text = change('{if: "agitation > 8", to: bad_end}', '{if: "agitation > 8", to: talk}')
    check(load(text), "auto-loop", *pos(text, "talk}"), words=("auto move 1 of scene 'talk'", "once taken"))


def test_auto_move_to_itself_that_counts_its_visits_is_fine(load: Loader) -> None:
    text = change('{if: "agitation > 8", to: bad_end}', '{if: "visits(talk) < 3", to: talk}')
    result = load(text)
    assert result.ok, [d.format() for d in result.diagnostics]


def test_auto_move_to_itself_reading_another_scenes_visits_still_loops(load: Loader) -> None:
    # visits(arrival) cannot change while auto moves go round talk: only visits(talk) does.
    text = change('{if: "agitation > 8", to: bad_end}', '{if: "visits(arrival) < 9", to: talk}')
    check(load(text), "auto-loop", *pos(text, "talk}"), words=("auto move 1 of scene 'talk'",))


# ---- conditions -----------------------------------------------------------------------------


COND = '{if: "agitation > 8", to: bad_end}'


def cond(condition: str, quote: str = '"') -> str:
    return change(COND, f"{{if: {quote}{condition}{quote}, to: bad_end}}")


def test_bad_condition_syntax_points_into_the_text(load: Loader) -> None:
    text = cond("agitation >> 8")
    line, col = pos(text, ">> 8")
    check(load(text), "bad-condition", line, col + 1, ("'agitation >> 8'", "unexpected '>'"))


@pytest.mark.parametrize("quote", ["", "'"], ids=["plain", "single-quoted"])
def test_bad_condition_column_plain_and_single_quoted(load: Loader, quote: str) -> None:
    text = cond("agitation && asked", quote)
    check(load(text), "bad-condition", *pos(text, "&&"), words=("'and'",))


def test_condition_unknown_variable(load: Loader) -> None:
    text = cond("agitaton > 8")
    check(
        load(text),
        "bad-condition",
        *pos(text, "agitaton"),
        words=("unknown name 'agitaton'", "did you mean 'agitation'"),
    )


def test_condition_cannot_call(load: Loader) -> None:
    text = cond("__import__(os)")
    check(load(text), "bad-condition", *pos(text, "__import__"), words=("cannot be called", "visited"))


def test_condition_attribute_access(load: Loader) -> None:
    text = cond("().__class__")
    check(load(text), "bad-condition", *pos(text, ".__class__"), words=("attribute access",))


def test_condition_type_error(load: Loader) -> None:
    text = cond("agitation and x")
    # 'agitation' is a number, and 'and' needs true/false: reported before the unknown 'x'.
    check(load(text), "bad-condition", *pos(text, "agitation and"), words=("'and'", "true/false", "a number"))


def test_condition_number_not_bool(load: Loader) -> None:
    text = cond("agitation")
    line, col = pos(text, '"agitation"')
    check(load(text), "bad-condition", line, col + 1, ("a number, not true/false", "agitation > 0"))


def test_condition_in_block_scalar_points_at_the_value(load: Loader) -> None:
    text = change(f"      - {COND}", "      - if: >-\n          agitation >\n          8 and x\n        to: bad_end")
    check(load(text), "bad-condition", *pos(text, ">-"), words=("unknown name 'x'",))


def test_condition_column_not_shifted_by_stripped_characters(load: Loader) -> None:
    # A bidi override inside the condition is removed before parsing; the column must not
    # then point one character off, so it falls back to the start of the value.
    text = cond("agi\u202etation >> 8")
    check(load(text), "bad-condition", *pos(text, '"agi'), words=("'agitation >> 8'",))


# ---- control characters ----------------------------------------------------------------------


def test_control_and_bidi_characters_are_stripped_with_warning(load: Loader) -> None:
    text = change("text: You arrive.", 'text: "You \\x1b[31marrive\\u202e."')
    result = load(text)
    check(result, "control-character", *pos(text, '"You'), words=("U+001B", "U+202E"), severity="warning")
    assert result.ok and result.scenario is not None
    assert result.scenario.scenes["arrival"].text == "You arrive."  # the whole sequence, not just ESC


def test_raw_bidi_override_is_stripped_with_warning(load: Loader) -> None:
    text = change('says: "Hello."', "says: Hel\u202elo.")
    result = load(text)
    check(result, "control-character", *pos(text, "Hel"), words=("U+202E",), severity="warning")
    assert result.scenario is not None
    assert result.scenario.scenes["arrival"].lines[0].says == "Hello."


def test_control_character_in_a_key_is_warned_about(load: Loader) -> None:
    text = change("    text: You arrive.", '    "te\\u202ext": You arrive.')
    result = load(text)
    check(result, "control-character", *pos(text, '"te'), words=("U+202E",), severity="warning")
    assert result.scenario is not None
    assert result.scenario.scenes["arrival"].text == "You arrive."


# ---- several files ---------------------------------------------------------------------------


def test_duplicate_scenario_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(BASE, encoding="utf-8")
    first, second = load_many([tmp_path])
    assert first.ok and first.diagnostics == []
    d = check(second, "duplicate-scenario-id", *pos(BASE, "test-scenario"), words=("'test-scenario'", "a.yaml"))
    assert d.path.endswith("b.yaml")


def test_load_many_reports_every_file(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(change("minutes: 5", "minutes: x"), encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("id: [\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a scenario", encoding="utf-8")
    results = {Path(r.path).name: r for r in load_many([tmp_path])}
    assert set(results) == {"good.yaml", "bad.yaml", "broken.yaml"}
    assert results["good.yaml"].ok
    assert [d.code for d in results["bad.yaml"].diagnostics] == ["wrong-type"]
    assert [d.code for d in results["broken.yaml"].diagnostics] == ["yaml-syntax"]


# ---- the CLI ---------------------------------------------------------------------------------


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "simulator.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={**os.environ, "CRISIS_SIM_DEBUG": ""},
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "good.yaml").write_text(BASE, encoding="utf-8")
    (folder / "bad-type.yaml").write_text(
        change("id: test-scenario", "id: bad-type", change("difficulty: introductory", "difficulty: hard")),
        encoding="utf-8",
    )
    (folder / "bad-syntax.yaml").write_text("format: 1\nid: [\n", encoding="utf-8")
    return folder


def test_cli_validate_reports_every_file(library: Path) -> None:
    proc = run_cli("validate", library)
    assert proc.returncode == 1
    assert f"{library / 'bad-type.yaml'}:6:13: error:" in proc.stdout
    assert f"{library / 'bad-syntax.yaml'}:" in proc.stdout
    assert "good.yaml" not in proc.stdout
    assert "3 file(s) checked: 2 error(s), 0 warning(s)" in proc.stdout


def test_cli_validate_good_file_exits_zero(library: Path) -> None:
    proc = run_cli("validate", library / "good.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_validate_bundled_library() -> None:
    proc = run_cli("validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 error(s), 0 warning(s)" in proc.stdout


def test_cli_strict_makes_warnings_fail(tmp_path: Path) -> None:
    path = tmp_path / "warn.yaml"
    path.write_text(BASE + "  orphan:\n    end: {rating: good, outcome: Nobody comes here.}\n", encoding="utf-8")
    relaxed = run_cli("validate", path)
    assert relaxed.returncode == 0
    assert "warning:" in relaxed.stdout and "[unreachable-scene]" in relaxed.stdout
    strict = run_cli("validate", "--strict", path)
    assert strict.returncode == 1


def test_cli_json_format(library: Path) -> None:
    proc = run_cli("validate", "--format", "json", library)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    files = {Path(f["path"]).name: f for f in report["files"]}
    assert set(files) == {"good.yaml", "bad-type.yaml", "bad-syntax.yaml"}
    assert files["good.yaml"]["ok"] is True and files["good.yaml"]["id"] == "test-scenario"
    bad = files["bad-type.yaml"]["diagnostics"]
    assert [(d["line"], d["col"], d["severity"], d["code"]) for d in bad] == [(6, 13, "error", "bad-value")]
    assert files["bad-syntax.yaml"]["diagnostics"][0]["code"] == "yaml-syntax"
    assert (report["errors"], report["warnings"], report["ok"]) == (2, 0, False)


def test_cli_missing_file_and_garbage(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(b"\x00\xff\xfe garbage")
    proc = run_cli("validate", tmp_path / "missing.yaml", tmp_path / "binary.yaml", tmp_path)
    assert proc.returncode == 1
    assert "[file-missing]" in proc.stdout
    assert "binary.yaml" in proc.stdout


# ---- never an uncaught exception -------------------------------------------------------------

_LINE_BREAKS = re.compile("\r\n|\r|\n|\x85|\u2028|\u2029")


def _parse_or_diagnose(text: str) -> None:
    try:
        doc = parse_text(text, "fuzz.yaml")
    except DiagnosticError as exc:
        assert exc.diagnostics
        last = len(_LINE_BREAKS.split(text))
        for d in exc.diagnostics:
            assert d.severity == "error"
            assert 0 <= d.line <= last, (d.format(), last)
    else:
        assert isinstance(doc, YamlDocument)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parse_text_never_raises(text: str) -> None:
    _parse_or_diagnose(text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=" \t\n:-[]{},&*!|>'\"#%@`?abc01.\\", max_size=80))
def test_parse_text_yaml_like_never_raises(text: str) -> None:
    _parse_or_diagnose(text)


@st.composite
def mutated_sample(draw: st.DrawFn) -> str:
    text = SAMPLE
    kind = draw(st.sampled_from(["truncate", "delete-lines", "replace-chars", "swap-lines"]))
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    lines = text.split("\n")
    if kind == "delete-lines":
        for _ in range(draw(st.integers(1, 3))):
            del lines[draw(st.integers(0, len(lines) - 1))]
        return "\n".join(lines)
    if kind == "swap-lines":
        a, b = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[a], lines[b] = lines[b], lines[a]
        return "\n".join(lines)
    chars = list(text)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(chars) - 1))
        chars[at] = draw(st.one_of(st.sampled_from(list(" :-[]{},&*!|>'\"#\t\n\\x0é\u202e")), st.characters()))
    return "".join(chars)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _load_never_raises(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    result = load_scenario(path)
    assert isinstance(result, LoadResult)
    if result.scenario is None:
        assert any(d.severity == "error" for d in result.diagnostics)
    else:
        assert result.ok


@settings(max_examples=200, deadline=None)
@given(text=mutated_sample())
def test_load_mutated_sample_never_raises(fuzz_dir: Path, text: str) -> None:
    _load_never_raises(fuzz_dir / "mutated.yaml", text.encode("utf-8", "surrogatepass"))


@settings(max_examples=100, deadline=None)
@given(content=st.one_of(st.binary(), st.text().map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_load_arbitrary_bytes_never_raises(fuzz_dir: Path, content: bytes) -> None:
    _load_never_raises(fuzz_dir / "arbitrary.yaml", content)
