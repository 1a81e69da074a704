"""Safe YAML reading that remembers where every key and value came from.

Why not ``yaml.safe_load``: it silently keeps the last of two duplicate keys, expands aliases
(a 300-byte alias bomb becomes hundreds of millions of nodes), resolves ``no`` to ``False``
and ``1:20`` to 80, and forgets positions. This reader lets libyaml's C parser and composer
(``CSafeLoader``'s, never the unsafe loaders') build the node tree, whose nodes carry their line
and column, and turns it in one pass into plain dicts, lists and scalars plus a ``SourceMap``
(the position of every key and value), so later checks can say ``file:line:col``.

Two paths, one answer. The fast path above refuses nothing itself: whenever it meets what a
file must not hold (an anchor or alias, a tag, a duplicate or non-text key, nesting deeper than
``MAX_DEPTH``, a second document, no document, or any libyaml error), it stops, and the checker
walks libyaml's events in document order to report the first such problem at its line, as
the only owner of those diagnostics. Anchors and aliases are found in the text before anything
is composed (the composer would share an alias's node, and walking a shared tree is how an alias
bomb explodes): any ``&`` or ``*`` that could start one sends the file to the checker first.

Plain scalars are resolved with the YAML 1.2 core schema (what editors use): only
``true``/``false``, ``null``/``~``, decimal/octal(0o)/hex(0x) integers and floats are typed;
everything else, ``yes``, ``no``, ``on``, ``1:20``, ``012``-as-octal, stays text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simulator.diagnostics import Diagnostic, DiagnosticError
from simulator.safetext import has_unsafe, strip_unsafe, unsafe_chars
from simulator.sources import DEFAULT_MAX_BYTES, read_bytes

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class EventLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Only used for its parser: the checker consumes events, never its constructor."""


class _Stamp:
    """What ``_NodeLoader.resolve`` puts in a node's tag instead of a type. A tag written in the
    file arrives as a string, so a node whose tag is not one of these had one."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_PLAIN = _Stamp("plain scalar")  # typed later by the YAML 1.2 core schema
_TEXT = _Stamp("quoted or block scalar")  # always text
_COLLECTION = _Stamp("mapping or sequence")
_BANG = _Stamp("collection tagged '!'")  # refused, like every tag on a collection


class _NodeLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """libyaml's parser and composer (C code) build the nodes; ``resolve`` only stamps each one
    (no YAML 1.1 typing) and counts the collections composed, so an alias that slipped past the
    text check is caught before its shared nodes are walked twice."""

    collections = 0

    def resolve(self, kind: Any, value: Any, implicit: Any) -> _Stamp:
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else _TEXT
        self.collections += 1
        return _COLLECTION if implicit else _BANG

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None  # no path resolvers: skip PyYAML's per-node bookkeeping

    def ascend_resolver(self) -> None:
        return None


# An '&' (anchor) or '*' (alias) where libyaml could read one: followed by a name character, and
# at the start of the text or after a space, line break or indicator. Text like "Q&A", "AT&T" or
# "Suicide & Crisis" does not count; something that is not really an anchor (" *really* ")
# only costs the checker's slower walk.
_AMP_OR_STAR = re.compile(r"[&*][^\s\[\]{},]")
_BEFORE_ANCHOR = frozenset(" \t\r\n\x85\u2028\u2029\ufeff[]{},?:!|>'\"-")


def _may_hold_anchor(text: str) -> bool:
    """Whether ``text`` may hold an anchor or alias (never False when it does)."""
    return any(m.start() == 0 or text[m.start() - 1] in _BEFORE_ANCHOR for m in _AMP_OR_STAR.finditer(text))


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


# The first characters of every plain value the core schema types (null, booleans, numbers,
# .inf/.nan; "" is null): any other first character means text, with no pattern tried.
_TYPED_FIRST = frozenset(["", *"~nNtTfF0123456789+-."])


def resolve_plain(value: str) -> Any:
    """Type a plain (unquoted) scalar by the YAML 1.2 core schema."""
    if value[:1] not in _TYPED_FIRST:
        return value
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


# A position is kept packed in one int (0-based line, 0-based column, inline + 1): a 50,000-scene
# file has millions of them, and a Mark is only made for the few that a diagnostic asks for.
_LINE_SHIFT = 40
_COL_MASK = (1 << (_LINE_SHIFT - 2)) - 1


def _unpack(packed: int) -> Mark:
    return Mark((packed >> _LINE_SHIFT) + 1, ((packed >> 2) & _COL_MASK) + 1, (packed & 3) - 1)


# The shape of the position tree a SourceMap holds, beside the data it describes: a scalar's
# position is a packed int; a mapping is (its packed position, {key: (the key's packed position,
# the value's tree)}); a sequence is (its packed position, [each item's tree]).
Shadow = Any


@dataclass
class SourceMap:
    """Where each path of the document was written: the value's mark, and the key's mark for
    mapping entries. Paths are tuples of keys and list indexes, like pydantic's ``loc``."""

    path: str
    root: Shadow = None

    def _walk(self, loc: Path_) -> tuple[Shadow, int]:
        """The deepest position tree along ``loc`` and how many parts of ``loc`` it covers."""
        node = self.root
        depth = 0
        for part in loc:
            if isinstance(node, int):
                break
            children = node[1]
            if isinstance(children, dict):
                entry = children.get(part) if isinstance(part, str) else None
                if entry is None:
                    break
                node = entry[1]
            elif isinstance(part, int) and not isinstance(part, bool) and 0 <= part < len(children):
                node = children[part]
            else:
                break
            depth += 1
        return node, depth

    def value(self, loc: Path_) -> Mark:
        """The nearest recorded value position for ``loc`` (walking up to the parents)."""
        if self.root is None:
            return Mark(1, 1)
        node, _ = self._walk(tuple(loc))
        return _unpack(node if isinstance(node, int) else node[0])

    def key(self, loc: Path_) -> Mark:
        """The key's position for a mapping entry, else the value's."""
        loc = tuple(loc)
        if loc and self.root is not None:
            parent, depth = self._walk(loc[:-1])
            if depth == len(loc) - 1 and not isinstance(parent, int) and isinstance(parent[1], dict):
                entry = parent[1].get(loc[-1]) if isinstance(loc[-1], str) else None
                if entry is not None:
                    return _unpack(entry[0])
        return self.value(loc)


@dataclass
class YamlDocument:
    data: Any
    source: SourceMap
    warnings: list[Diagnostic]
    raw: bytes


class _Warnings:
    """The warnings of one file: text made safe, YAML 1.1 readings."""

    def __init__(self, path: str):
        self.path = path
        self.items: list[Diagnostic] = []

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
        self.items.append(Diagnostic(self.path, mark.line + 1, mark.column + 1, "warning", code, message))

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


class _Refuse(Exception):
    """The fast path met something only the checker reports (or a false alarm of the anchor
    check in the text): the checker runs."""


class _Builder:
    """Plain data and its position tree from a composed node tree, in one pass, in document
    order (so warnings come in the order the checker would meet them). The tree is consumed as
    it goes, so the nodes of what is converted are freed while the data grows (the peak memory
    stays near the node tree's own, not the tree plus the data)."""

    def __init__(self, path: str, unsafe_anywhere: bool, collections: int):
        self.warnings = _Warnings(path)
        # Without an unsafe character anywhere in the file, only double-quoted text (whose
        # escapes can make one) needs cleaning.
        self.unsafe_anywhere = unsafe_anywhere
        self.collections_left = collections

    def node(self, node: Any, depth: int) -> tuple[Any, Shadow]:
        cls = node.__class__
        if cls is yaml.ScalarNode:
            return self.scalar(node)
        if node.tag is not _COLLECTION or depth >= MAX_DEPTH:
            raise _Refuse
        self.collections_left -= 1
        if self.collections_left < 0:
            raise _Refuse  # a node reached twice: an alias
        mark = node.start_mark
        packed = (mark.line << _LINE_SHIFT) | (mark.column << 2)
        if cls is yaml.MappingNode:
            return self.mapping(node.value, depth + 1, packed)
        items, shadows = [], []
        pending = node.value
        pending.reverse()  # consumed from the end: each item's nodes are freed once converted
        while pending:
            value, shadow = self.node(pending.pop(), depth + 1)
            items.append(value)
            shadows.append(shadow)
        return items, (packed, shadows)

    def mapping(self, pairs: list[Any], depth: int, packed: int) -> tuple[dict[str, Any], Shadow]:
        out: dict[str, Any] = {}
        marks: dict[str, tuple[int, Shadow]] = {}
        check_all = self.unsafe_anywhere
        scalar_node = yaml.ScalarNode
        pairs.reverse()  # consumed from the end: each entry's nodes are freed once converted
        while pairs:
            key_node, value_node = pairs.pop()
            if key_node.__class__ is not scalar_node:
                raise _Refuse  # a list or mapping as a key
            tag = key_node.tag
            if tag is not _PLAIN and tag is not _TEXT:
                raise _Refuse
            key = key_node.value
            mark = key_node.start_mark
            if check_all or key_node.style == '"':
                key = self.warnings.clean(key, mark)
            if key in out:
                raise _Refuse  # a duplicate key
            if value_node.__class__ is scalar_node:
                value, shadow = self.scalar(value_node)
            else:
                value, shadow = self.node(value_node, depth)
            out[key] = value
            marks[key] = ((mark.line << _LINE_SHIFT) | (mark.column << 2), shadow)
        return out, (packed, marks)

    def scalar(self, node: Any) -> tuple[Any, int]:
        value = node.value
        style = node.style
        mark = node.start_mark
        tag = node.tag
        plain = tag is _PLAIN and not style
        if plain:
            typed = resolve_plain(value)
            if value[:1] in _YAML11_FIRST and _YAML11_SUSPECT.match(value):
                self.warnings.yaml11(value, typed, mark)
            if not isinstance(typed, str):
                return typed, (mark.line << _LINE_SHIFT) | (mark.column << 2) | 1
        elif tag is not _TEXT and tag is not _PLAIN:
            raise _Refuse  # a tag written in the file
        single_line = mark.line == node.end_mark.line
        if (style == "'" or style == '"') and single_line and "\\" not in value and "'" not in value:
            inline = 1
        elif plain and single_line:
            inline = 0
        else:
            inline = -1
        text = self.warnings.clean(value, mark) if self.unsafe_anywhere or style == '"' else value
        if not text.isascii():
            text = unicodedata.normalize("NFC", text)
        if text != value:
            inline = -1  # characters were removed or recomposed: columns no longer line up
        return text, (mark.line << _LINE_SHIFT) | (mark.column << 2) | (inline + 1)


def _compose(text: str, path: str, raw: bytes) -> YamlDocument | None:
    """The fast path: libyaml composes, ``_Builder`` converts. None when the checker must run."""
    loader: Any = None
    try:
        loader = _NodeLoader(text)
        root = loader.get_single_node()
        if root is None:
            return None  # no document: the checker says the file is empty
        builder = _Builder(path, has_unsafe(text), loader.collections)
        data, shadow = builder.node(root, 0)
    except (_Refuse, yaml.YAMLError, UnicodeEncodeError, RecursionError):
        return None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(data, SourceMap(path, shadow), builder.warnings.items, raw)


def fail(path: str, mark: Any, code: str, message: str) -> DiagnosticError:
    """An error at a libyaml mark (0-based), or for the whole file when there is none."""
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    return DiagnosticError([Diagnostic(path, line, col, "error", code, message)])


def _check_event(path: str, event: Any) -> None:
    if isinstance(event, yaml.AliasEvent):
        raise fail(
            path,
            event.start_mark,
            "yaml-alias",
            f"aliases (*{event.anchor}) are not allowed; write the value out in full, "
            "or put text that starts with '*' in quotes",
        )
    anchor = getattr(event, "anchor", None)
    if anchor is not None:
        raise fail(
            path,
            event.start_mark,
            "yaml-anchor",
            f"anchors (&{anchor}) are not allowed; write each value out in full, "
            "or put text that starts with '&' in quotes",
        )
    tag = getattr(event, "tag", None)
    if tag is not None and not (isinstance(event, yaml.ScalarEvent) and tag == "!"):
        shown = tag.replace("tag:yaml.org,2002:", "!!")
        raise fail(
            path,
            event.start_mark,
            "yaml-tag",
            f"YAML tags ({shown}) are not allowed; remove the tag and write plain values",
        )


def _check_events(path: str, events: Any) -> None:
    """Walk the events in document order and raise the first thing a file must not hold: an
    anchor, alias or tag, a list or mapping as a key, a duplicate key (naming the first one's
    line), nesting deeper than ``MAX_DEPTH``, a second document, or no document. An explicit
    stack: deep nesting cannot exhaust Python's recursion limit."""
    # One frame per open collection: [is a mapping, its next event is a key, {key: first line}]
    stack: list[list[Any]] = []
    have_root = False
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            if have_root:
                raise fail(
                    path,
                    event.start_mark,
                    "yaml-multi-document",
                    "the file must hold one YAML document; remove the extra '---'",
                )
            continue
        if isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
            continue
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()
            if not stack:
                have_root = True
            continue
        _check_event(path, event)
        frame = stack[-1] if stack else None
        if frame is not None and frame[0]:
            frame[1] = not frame[1]
            if not frame[1]:  # this event is a key (the flag now waits for its value)
                if not isinstance(event, yaml.ScalarEvent):
                    raise fail(
                        path,
                        event.start_mark,
                        "yaml-complex-key",
                        "a key must be plain text, not a list or mapping",
                    )
                key = strip_unsafe(event.value)
                first = frame[2].get(key)
                if first is not None:
                    raise fail(
                        path,
                        event.start_mark,
                        "duplicate-key",
                        f"duplicate key '{key}' (first written at line {first}); "
                        "YAML would silently keep only the last one, so remove or rename one",
                    )
                frame[2][key] = event.start_mark.line + 1
                continue
        if isinstance(event, yaml.ScalarEvent):
            if not stack:
                have_root = True
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) >= MAX_DEPTH:
                raise fail(
                    path,
                    event.start_mark,
                    "yaml-too-deep",
                    f"nesting deeper than {MAX_DEPTH} levels; no scenario or rubric needs this",
                )
            stack.append([isinstance(event, yaml.MappingStartEvent), True, {}])
    if not have_root:
        raise DiagnosticError([Diagnostic(path, 0, 0, "error", "empty-file", "the file is empty")])


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


def parse_text(text: str, path: str, raw: bytes = b"") -> YamlDocument:
    """Parse YAML text into plain data plus its source map; DiagnosticError for anything a
    scenario or rubric file must not hold, at its line."""
    if not _may_hold_anchor(text):
        doc = _compose(text, path, raw)
        if doc is not None:
            return doc
    check(text, path)
    # The checker found nothing: the text only looked like it held an anchor or alias.
    doc = _compose(text, path, raw)
    if doc is None:
        raise RuntimeError(f"{path}: the YAML reader's two paths disagree about this file (a bug)")
    return doc


def check(text: str, path: str) -> None:
    """Raise the DiagnosticError of the first YAML-level problem in ``text`` (syntax, characters,
    anchors, aliases, tags, keys, depth, documents); return when there is none."""
    loader: Any = None

    def events() -> Any:
        while loader.check_event():
            yield loader.get_event()

    try:
        loader = EventLoader(text)
        _check_events(path, events())
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
        raise fail(path, mark, code, message) from None
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
    return load_bytes(read_bytes(path, max_bytes), str(path))


def load_bytes(raw: bytes, path: str) -> YamlDocument:
    """Decode and parse the bytes of a file already read (``path`` names it in diagnostics)."""
    return parse_text(decode(raw, path), path, raw)
