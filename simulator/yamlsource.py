"""Safe YAML reading that remembers where every key and value came from.

Why not ``yaml.safe_load``: it silently keeps the last of two duplicate keys, expands aliases
(a 300-byte alias bomb becomes hundreds of millions of nodes), resolves ``no`` to ``False``
and ``1:20`` to 80, and forgets positions. This reader walks libyaml's event stream instead
(``CSafeLoader``, never the unsafe loaders) and builds plain dicts, lists and scalars while
recording a line and column for every path, so later checks can say ``file:line:col``.

Plain scalars are resolved with the YAML 1.2 core schema (what editors use): only
``true``/``false``, ``null``/``~``, decimal/octal(0o)/hex(0x) integers and floats are typed;
everything else, ``yes``, ``no``, ``on``, ``1:20``, ``012``-as-octal, stays text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulator.diagnostics import Diagnostic, DiagnosticError
from simulator.safefile import FileTooLarge, NotRegularFile, read_regular
from simulator.safetext import strip_unsafe, unsafe_chars

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class EventLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Only used for its parser: we consume events, never its constructor."""


DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64

Path_ = tuple[str | int, ...]

_INT = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}

# YAML 1.1 (PyYAML, many older tools and editor plugins) types more plain values than the
# YAML 1.2 core schema: yes/no/on/off/y/n are booleans, 012 is octal (10), 0b101 binary,
# 1:20 base 60 (80), and '_' may group digits (1_000). The quick test below matches only
# those spellings (never a plain word, id or ordinary number), and only text that starts with
# one of ``_YAML11_FIRST`` reaches it, so most values cost one set lookup (this runs for every
# plain value of a 50,000-scene file); ``yaml11_reading`` then works out what a YAML 1.1
# reader would make of a match.
_YAML11_FIRST = frozenset("yYnNoO0123456789+-.")
_YAML11_SUSPECT = re.compile(
    r"(?:[yYnN]|[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF"
    r"|[-+]?0[0-7_]+|[-+]?0b[01_]+|[-+]?0x[0-9a-fA-F_]+"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
    r"|[-+]?[0-9._]*_[0-9._]*(?:[eE][-+][0-9]+)?)\Z"
)
_YAML11_BOOL = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), False),
}
# PyYAML's YAML 1.1 int and float patterns.
_YAML11_INT = re.compile(
    r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
    r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
)
_YAML11_FLOAT = re.compile(
    r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|(?:[-+]?[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+][0-9]+)?"
)


def yaml11_reading(value: str) -> tuple[Any, str] | None:
    """What a YAML 1.1 reader makes of a plain scalar that ``_YAML11_SUSPECT`` matched: the
    value and how it got there (``"octal"``, ``"base 60"``...), or None if it stays text."""
    if value in _YAML11_BOOL:
        return _YAML11_BOOL[value], ""
    digits = value.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    how = "'_' ignored" if "_" in value else ""
    try:
        if _YAML11_INT.fullmatch(value):
            if ":" in digits:
                number = 0
                for part in digits.split(":"):
                    number = number * 60 + int(part)
                return sign * number, "base 60"
            if digits.startswith("0b"):
                return sign * int(digits[2:], 2), "binary"
            if digits.startswith("0x"):
                return sign * int(digits[2:], 16), "hexadecimal"
            if digits.startswith("0") and digits != "0":
                return sign * int(digits, 8), "octal"
            return sign * int(digits), how
        if _YAML11_FLOAT.fullmatch(value):
            if ":" in digits:
                whole, _, fraction = digits.partition(".")
                number = 0
                for part in whole.split(":"):
                    number = number * 60 + int(part)
                return sign * (number + float(f"0.{fraction or 0}")), "base 60"
            return sign * float(digits), how
    except ValueError:
        return None
    return None


_MAX_INT_BITS = 14_000  # about 4,200 decimal digits, within Python's int-to-text limit


def resolve_plain(value: str) -> Any:
    """Type a plain (unquoted) scalar by the YAML 1.2 core schema."""
    if value in _NULLS:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INT.match(value):
        try:
            return int(value)
        except ValueError:  # more digits than Python converts; no count or score is this big
            return value
    if _OCT.match(value) or _HEX.match(value):
        number = int(value[2:], 8 if value[1] == "o" else 16)
        # Like the decimal case: a number Python cannot print (over 4,300 digits) stays text.
        return number if number.bit_length() <= _MAX_INT_BITS else value
    if value in (".inf", "+.inf", ".Inf", "+.Inf", ".INF", "+.INF"):
        return float("inf")
    if value in ("-.inf", "-.Inf", "-.INF"):
        return float("-inf")
    if value in (".nan", ".NaN", ".NAN"):
        return float("nan")
    if _FLOAT.match(value) and any(ch.isdigit() for ch in value):
        return float(value)
    return value


@dataclass(frozen=True, slots=True)
class Mark:
    """1-based position of a node. ``inline`` is how many characters precede the text of a
    single-line scalar at that position (0 plain, 1 quoted), or -1 when the text does not map
    column-for-column (block scalars, multi-line or escaped strings)."""

    line: int
    col: int
    inline: int = -1


@dataclass
class SourceMap:
    """Where each path of the document was written: the value's mark, and the key's mark for
    mapping entries. Paths are tuples of keys and list indexes, like pydantic's ``loc``."""

    path: str
    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)

    def value(self, loc: Path_) -> Mark:
        """The nearest recorded value position for ``loc`` (walking up to the parents)."""
        loc = tuple(loc)
        while loc:
            mark = self.values.get(loc)
            if mark is not None:
                return mark
            loc = loc[:-1]
        return self.values.get((), Mark(1, 1))

    def key(self, loc: Path_) -> Mark:
        """The key's position for a mapping entry, else the value's."""
        mark = self.keys.get(tuple(loc))
        return mark if mark is not None else self.value(loc)


@dataclass
class YamlDocument:
    data: Any
    source: SourceMap
    warnings: list[Diagnostic]
    raw: bytes


def _mark(m: Any, inline: int = -1) -> Mark:
    return Mark(m.line + 1, m.column + 1, inline)


class _Reader:
    def __init__(self, path: str):
        self.path = path
        self.source = SourceMap(path)
        self.warnings: list[Diagnostic] = []

    def fail(self, mark: Any, code: str, message: str) -> DiagnosticError:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        return DiagnosticError([Diagnostic(self.path, line, col, "error", code, message)])

    def scalar(self, event: Any, loc: Path_) -> Any:
        value = event.value
        style = event.style
        plain = event.implicit[0] and not style
        if plain:
            typed = resolve_plain(value)
            if value[:1] in _YAML11_FIRST and _YAML11_SUSPECT.match(value):
                self.yaml11(value, typed, event.start_mark)
            if not isinstance(typed, str):
                self.source.values[loc] = _mark(event.start_mark, 0)
                return typed
        single_line = event.start_mark.line == event.end_mark.line
        if style in ("'", '"') and single_line and "\\" not in value and "'" not in value:
            inline = 1
        elif plain and single_line:
            inline = 0
        else:
            inline = -1
        cleaned = self.clean(value, event.start_mark)
        text = unicodedata.normalize("NFC", cleaned)
        if text != value:
            inline = -1  # characters were removed or recomposed: columns no longer line up
        self.source.values[loc] = _mark(event.start_mark, inline)
        return text

    def yaml11(self, value: str, typed: Any, mark: Any) -> None:
        """Warn when a YAML 1.1 reader (PyYAML, older editor plugins and tools) would read this
        plain scalar as a boolean or number other than what crisis-sim reads."""
        reading = yaml11_reading(value)
        if reading is None:
            return
        theirs, how = reading
        if type(theirs) is type(typed) and theirs == typed:
            return
        if isinstance(theirs, bool):
            shown = str(theirs).lower()
        elif isinstance(theirs, int) and theirs.bit_length() > _MAX_INT_BITS:
            shown = "a number too long to show" + (f" ({how})" if how else "")
        else:
            shown = f"the number {theirs}" + (f" ({how})" if how else "")
        if isinstance(typed, str):
            ours, fix = "text", f'quote it: "{value}"'
        else:
            ours, fix = f"the number {typed}", f'write {typed} if you mean the number, or quote it: "{value}"'
        self.warn(
            mark,
            "yaml11-ambiguous",
            f"unquoted {value} is {ours} to crisis-sim, but YAML 1.1 readers (PyYAML, older "
            f"editors and tools) read it as {shown}; {fix}",
        )

    def warn(self, mark: Any, code: str, message: str) -> None:
        """A warning at a libyaml mark (0-based line and column)."""
        self.warnings.append(Diagnostic(self.path, mark.line + 1, mark.column + 1, "warning", code, message))

    def clean(self, value: str, mark: Any) -> str:
        """``value`` without control/bidi characters, with a warning when any were removed."""
        cleaned = strip_unsafe(value)
        if cleaned != value:
            bad = unsafe_chars(value)
            self.warn(
                mark,
                "control-character",
                "removed terminal control or bidi characters "
                f"({', '.join(bad[:4])}) from this text; delete them from the file",
            )
        return cleaned

    def check_node_event(self, event: Any) -> None:
        if isinstance(event, yaml.AliasEvent):
            raise self.fail(
                event.start_mark,
                "yaml-alias",
                f"aliases (*{event.anchor}) are not allowed; write the value out in full, "
                "or put text that starts with '*' in quotes",
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise self.fail(
                event.start_mark,
                "yaml-anchor",
                f"anchors (&{anchor}) are not allowed; write each value out in full, "
                "or put text that starts with '&' in quotes",
            )
        tag = getattr(event, "tag", None)
        if tag is not None and not (isinstance(event, yaml.ScalarEvent) and tag == "!"):
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            raise self.fail(
                event.start_mark,
                "yaml-tag",
                f"YAML tags ({shown}) are not allowed; remove the tag and write plain values",
            )

    def build(self, events: Any) -> Any:
        """Build the document from events with an explicit stack (deep nesting cannot
        exhaust Python's recursion limit)."""
        # Each frame: [container, loc, pending_key, pending_key_mark, seen_keys]
        stack: list[list[Any]] = []
        root: Any = None
        have_root = False

        def attach(value: Any, loc: Path_) -> None:
            nonlocal root, have_root
            if not stack:
                root, have_root = value, True
                return
            frame = stack[-1]
            container = frame[0]
            if isinstance(container, list):
                container.append(value)
            else:
                container[frame[2]] = value
                frame[2] = None

        def child_loc(event: Any) -> Path_:
            if not stack:
                return ()
            frame = stack[-1]
            container = frame[0]
            if isinstance(container, list):
                return frame[1] + (len(container),)
            return frame[1] + (frame[2],)

        for event in events:
            if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentStartEvent)):
                if isinstance(event, yaml.DocumentStartEvent) and have_root:
                    raise self.fail(
                        event.start_mark,
                        "yaml-multi-document",
                        "the file must hold one YAML document; remove the extra '---'",
                    )
                continue
            if isinstance(event, (yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                frame = stack.pop()
                attach(frame[0], frame[1])
                continue
            self.check_node_event(event)
            # A mapping waiting for a key: this event is the key.
            if stack and isinstance(stack[-1][0], dict) and stack[-1][2] is None:
                frame = stack[-1]
                if not isinstance(event, yaml.ScalarEvent):
                    raise self.fail(
                        event.start_mark,
                        "yaml-complex-key",
                        "a key must be plain text, not a list or mapping",
                    )
                key = self.clean(event.value, event.start_mark)
                seen = frame[4]
                if key in seen:
                    first = seen[key]
                    raise self.fail(
                        event.start_mark,
                        "duplicate-key",
                        f"duplicate key '{key}' (first written at line {first.line}); "
                        "YAML would silently keep only the last one, so remove or rename one",
                    )
                mark = _mark(event.start_mark)
                seen[key] = mark
                frame[2] = key
                self.source.keys[frame[1] + (key,)] = mark
                continue
            loc = child_loc(event)
            if isinstance(event, yaml.ScalarEvent):
                attach(self.scalar(event, loc), loc)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise self.fail(
                        event.start_mark,
                        "yaml-too-deep",
                        f"nesting deeper than {MAX_DEPTH} levels; no scenario or rubric needs this",
                    )
                self.source.values[loc] = _mark(event.start_mark)
                container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
                stack.append([container, loc, None, None, {}])
        if not have_root:
            raise DiagnosticError([Diagnostic(self.path, 0, 0, "error", "empty-file", "the file is empty")])
        return root


def _char_at(text: str, mark: Any) -> str:
    if mark is None:
        return ""
    lines = text.split("\n")
    if mark.line >= len(lines):
        return ""
    line = lines[mark.line]
    return line[mark.column] if mark.column < len(line) else ""


# NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR: libyaml (YAML 1.1) breaks lines at them, editors
# and YAML 1.2 do not, so every later line number would be off.
_SEPARATORS = re.compile("[\x85\u2028\u2029]")
_LINE_BREAKS = re.compile("\r\n|\r|\n|\x85|\u2028|\u2029")


_EDITOR_BREAKS = re.compile("\r\n|\r|\n")


def _position_of(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``, counting line breaks as editors and YAML do:
    CR LF, LF and a lone CR (counting only LF put a NUL byte in a file with old
    Mac line ends at line 1, column 753: found by tests/fuzz/test_fuzz_scenarios.py)."""
    line, start = 1, 0
    for match in _EDITOR_BREAKS.finditer(text, 0, index):
        line += 1
        start = match.end()
    return line, index - start + 1


def _looks_like_utf16(raw: bytes) -> bool:
    """UTF-16 without a byte order mark: in its first bytes, every other byte is NUL (the
    high byte of ASCII letters) and the others are not. Without this check such a file was
    reported as "contains a NUL byte; is it a binary file?", which does not say what to do."""
    sample = raw[:512]
    if len(sample) < 4 or b"\x00" not in sample:
        return False
    even, odd = sample[0::2], sample[1::2]
    for zeros, other in ((odd, even), (even, odd)):
        if zeros.count(0) >= 0.9 * len(zeros) and other.count(0) == 0:
            return True
    return False


def decode(raw: bytes, path: str) -> str:
    """Bytes to text, refusing anything but UTF-8 with a message that says what to do."""

    def err(line: int, col: int, code: str, msg: str) -> DiagnosticError:
        return DiagnosticError([Diagnostic(path, line, col, "error", code, msg)])

    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise err(1, 1, "not-utf8", "the file is UTF-32; save it as UTF-8")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise err(1, 1, "not-utf8", "the file is UTF-16; save it as UTF-8")
    if _looks_like_utf16(raw):
        raise err(1, 1, "not-utf8", "the file looks like UTF-16 (without a byte order mark); save it as UTF-8")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = raw[: exc.start].decode("utf-8", errors="replace")
        line, col = _position_of(prefix, len(prefix))
        raise err(
            line,
            col,
            "not-utf8",
            f"byte 0x{raw[exc.start]:02x} is not UTF-8 (is the file Latin-1 or Windows-1252?); save it as UTF-8",
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        line, col = _position_of(text, nul)
        raise err(line, col, "nul-byte", "the file contains a NUL byte; is it a binary file?")
    sep = _SEPARATORS.search(text)
    if sep is not None:
        line, col = _position_of(text, sep.start())
        raise err(
            line,
            col,
            "line-separator",
            f"invisible line separator U+{ord(sep.group()):04X} (often pasted from a word processor); "
            "the YAML parser reads it as a line break, so delete it or use a space",
        )
    return text


def read_bytes(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a regular file within the size cap (``simulator.safefile``: a pipe or a device is
    refused, never waited on or read forever), turning OS errors into diagnostics."""
    name = str(path)

    def err(code: str, msg: str) -> DiagnosticError:
        return DiagnosticError([Diagnostic(name, 0, 0, "error", code, msg)])

    try:
        return read_regular(path, max_bytes)
    except NotRegularFile as exc:
        if exc.kind == "a folder":
            raise err("file-unreadable", "is a folder, not a file") from None
        raise err("file-unreadable", f"is {exc.kind}, not a regular file; give the path of a regular file") from None
    except FileTooLarge as exc:
        if exc.size is None:
            raise err("file-too-large", f"the file is over the {max_bytes:,}-byte limit") from None
        raise err(
            "file-too-large",
            f"the file is {exc.size:,} bytes, over the {max_bytes:,}-byte limit; "
            "split the scenario or check it is the right file",
        ) from None
    except FileNotFoundError:
        raise err("file-missing", "no such file; check the path") from None
    except PermissionError:
        raise err("file-unreadable", "permission denied; check the file's permissions") from None
    except OSError as exc:
        raise err("file-unreadable", f"cannot read the file ({exc.strerror or exc})") from None


def parse_text(text: str, path: str, raw: bytes = b"") -> YamlDocument:
    """Parse YAML text into plain data plus its source map."""
    reader = _Reader(path)
    loader: Any = None

    def events() -> Any:
        while loader.check_event():
            yield loader.get_event()

    try:
        loader = EventLoader(text)
        data = reader.build(events())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        context_mark = exc.context_mark
        lines = _LINE_BREAKS.split(text)
        if mark is not None and mark.line >= len(lines):
            # libyaml reports the end of a file without a final newline one line past it
            if context_mark is not None and context_mark.line < len(lines):
                mark = context_mark
            else:
                mark = _Pos(len(lines) - 1, len(lines[-1]))
        if _char_at(text, mark) == "\t" or "'\\t'" in problem:
            message = "tab character in indentation; YAML needs spaces"
            code = "yaml-tab"
        elif "maximum nesting depth" in problem:
            message = f"nesting deeper than {MAX_DEPTH} levels; no scenario or rubric needs this"
            code = "yaml-too-deep"
        else:
            code = "yaml-syntax"
            explained = _explain_syntax(text, problem, exc.context or "", mark, context_mark)
            if explained is not None:
                mark, message = explained
            else:
                context = f" {exc.context}" if exc.context else ""
                if context and context_mark is not None and mark is not None and context_mark.line != mark.line:
                    context += f" (which starts at line {context_mark.line + 1})"
                message = f"YAML syntax error: {problem}{context}"
        raise reader.fail(mark, code, message) from None
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow anywhere (a raw control character, U+FFFE...).
        # libyaml gives a UTF-8 byte offset, the pure-Python reader a character index.
        index = exc.position
        if _BaseLoader is not yaml.SafeLoader:
            index = len(text.encode("utf-8", "surrogatepass")[: exc.position].decode("utf-8", "replace"))
        raise _bad_character(path, text, index, exc.character) from None
    except UnicodeEncodeError as exc:  # a lone surrogate in the text
        raise _bad_character(path, text, exc.start, text[exc.start]) from None
    except yaml.YAMLError as exc:
        raise DiagnosticError([Diagnostic(path, 0, 0, "error", "yaml-syntax", f"YAML error: {exc}")]) from None
    except RecursionError:
        raise DiagnosticError(
            [Diagnostic(path, 0, 0, "error", "yaml-too-deep", "the file is nested too deeply")]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(data, reader.source, reader.warnings, raw)


_QUOTE_FIRST = "put the whole text in quotes"
_STARTERS = {
    "while scanning an alias": ("*", "an alias"),
    "while scanning an anchor": ("&", "an anchor"),
    "while parsing a tag": ("!", "a tag"),
    "while scanning a tag": ("!", "a tag"),
}


def _explain_syntax(text: str, problem: str, context: str, mark: Any, context_mark: Any) -> tuple[Any, str] | None:
    """Instructor wording, and the best position, for the libyaml errors that unquoted text
    and indentation cause; None for any other error (shown in libyaml's words)."""
    if context in _STARTERS and context_mark is not None:
        char, meaning = _STARTERS[context]
        return context_mark, (
            f"a value starting with '{char}' must be quoted: {_QUOTE_FIRST} (YAML reads '{char}' as {meaning})"
        )
    if "cannot start any token" in problem:
        char = _char_at(text, mark)
        if char in ("@", "`", "%"):
            return mark, f"a value starting with '{char}' must be quoted: {_QUOTE_FIRST} ('{char}' is reserved in YAML)"
        return None
    if "block sequence entries are not allowed" in problem:
        return mark, (
            "a '- ' list item cannot follow a key on the same line: put text that starts with '- ' in quotes, "
            "or start the list on the next line"
        )
    if "end of stream" in problem and "quoted scalar" in context and context_mark is not None:
        quote = _char_at(text, context_mark) or '"'
        return context_mark, f"a quote is not closed: the text that starts with {quote} here has no closing {quote}"
    if "did not find expected key" in problem or "mapping values are not allowed" in problem:
        runaway = _runaway_quote(text, mark)
        if runaway is not None:
            opening, quote, closing_line = runaway
            return opening, (
                f"a quote is not closed: the text that starts with {quote} here runs on to the next {quote} "
                f"(line {closing_line}); close it on this line"
            )
        # No "(which starts at line N)": libyaml's block is often far from the mistake.
        return mark, (
            "YAML cannot read this line: check the indentation on this line and the lines above it, "
            "and put text that contains ': ' or starts with a quote in quotes"
        )
    return None


def _runaway_quote(text: str, mark: Any) -> tuple[_Pos, str, int] | None:
    """When the error comes just after a closing quote whose opening quote is on an earlier
    line (the usual sign of a missing closing quote: YAML read on to the next quote
    character), the opening quote's position, the quote character and the closing line."""
    if mark is None:
        return None
    lines = _LINE_BREAKS.split(text)
    if mark.line >= len(lines):
        return None
    line, col = mark.line, min(mark.column, len(lines[mark.line]))
    before = lines[line][:col].rstrip(" ")
    if not before or before[-1] not in "\"'":
        return None
    quote = before[-1]
    # Walk back over the quoted text to its opening quote.
    row, end = line, len(before) - 1
    while row >= 0 and line - row <= 200:
        current = lines[row]
        at = current.rfind(quote, 0, end)
        while at >= 0:
            if quote == "'" and at > 0 and current[at - 1] == "'":
                at = current.rfind(quote, 0, at - 1)  # '' is a quote inside single quotes
                continue
            if quote == '"' and (len(current[:at]) - len(current[:at].rstrip("\\"))) % 2:
                at = current.rfind(quote, 0, at)  # \" is a quote inside double quotes
                continue
            break
        if at >= 0:
            if row == line:
                return None  # opened on the same line: not a runaway quote
            lead = current[:at].rstrip(" ")
            if lead and lead[-1] not in ":-[{,":
                return None
            return _Pos(row, at), quote, line + 1
        row -= 1
        end = len(lines[row]) if row >= 0 else 0
    return None


@dataclass(frozen=True)
class _Pos:
    """A 0-based position shaped like a yaml Mark."""

    line: int
    column: int


def _bad_character(path: str, text: str, index: int, char: str | int) -> DiagnosticError:
    code_point = char if isinstance(char, int) else ord(char)
    line, col = _position_of(text, index)
    kind = "control-character" if unicodedata.category(chr(code_point)) == "Cc" else "bad-character"
    return DiagnosticError(
        [
            Diagnostic(
                path,
                line,
                col,
                "error",
                kind,
                f"character U+{code_point:04X} is not allowed in a YAML file; delete it "
                "(an invisible character, often pasted in from another program)",
            )
        ]
    )


def load_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> YamlDocument:
    """Read, decode and parse one YAML file; raises DiagnosticError with a position."""
    raw = read_bytes(path, max_bytes)
    text = decode(raw, str(path))
    return parse_text(text, str(path), raw)
