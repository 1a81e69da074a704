"""The YAML reader as it was before libyaml's composer built the nodes: an event walk that builds
plain data and records every position in flat dicts (frozen here, from git history, as the
reference the fast reader is compared with in ``test_yaml_paths.py``; never used by crisis-sim).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import yaml

from simulator.diagnostics import Diagnostic, DiagnosticError
from simulator.safetext import strip_unsafe, unsafe_chars
from simulator.yamlsource import (
    _MAX_INT_BITS,
    _YAML11_FIRST,
    _YAML11_SUSPECT,
    MAX_DEPTH,
    EventLoader,
    Mark,
    Path_,
    resolve_plain,
    yaml11_reading,
)


@dataclass
class _Positions:
    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)


def _mark(m: Any, inline: int = -1) -> Mark:
    return Mark(m.line + 1, m.column + 1, inline)


class _Reader:
    def __init__(self, path: str):
        self.path = path
        self.source = _Positions()
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


def reference_parse(text: str, path: str) -> tuple[Any, _Positions, list[Diagnostic]]:
    """Data, positions and warnings as the old reader built them; DiagnosticError for what it
    refused itself; libyaml's own errors (syntax, characters) propagate as yaml errors."""
    reader = _Reader(path)
    loader = EventLoader(text)

    def events() -> Any:
        while loader.check_event():
            yield loader.get_event()

    try:
        data = reader.build(events())
    finally:
        loader.dispose()
    return data, reader.source, reader.warnings
