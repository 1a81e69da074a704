"""Load a scenario file and check it like a compiler: every problem with ``file:line:col``.

Stages: safe YAML (``yamlsource``) -> structure (pydantic ``Scenario``) -> cross-references,
conditions and the scene graph (this module). Structural errors are all reported together;
the later stages run once the structure is sound.
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from simulator.collector import gc_paused
from simulator.diagnostics import Diagnostic, DiagnosticError, Suggester, did_you_mean, has_errors
from simulator.expressions import FUNCTIONS, KEYWORDS, Condition, ConditionError, Names, compile_condition
from simulator.lint import authoring_lint, wording_findings
from simulator.model import MAX_ID_LENGTH, PATTERN_HELP, Choice, Scenario, Scene, Timeout
from simulator.sources import is_sidecar, scenario_files, sidecar_owner, sidecar_path  # noqa: F401 - re-exported
from simulator.yamlsource import DEFAULT_MAX_BYTES, SourceMap, YamlDocument, load_bytes, load_file

Loc = tuple[str | int, ...]


@dataclass
class LoadResult:
    """What loading one file produced: the scenario (None if it has errors) and findings."""

    path: str
    scenario: Scenario | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    document: YamlDocument | None = None

    @property
    def ok(self) -> bool:
        return self.scenario is not None and not has_errors(self.diagnostics)


def format_loc(loc: Iterable[str | int]) -> str:
    """``('scenes', 'a', 'choices', 0, 'to')`` -> ``scenes.a.choices[0].to``; ``()`` -> ``the top level``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "the top level"


def _place(loc: Loc) -> str:
    """``in scenes.a`` / ``at the top level``: where a key is, inside a sentence."""
    return f"in {format_loc(loc)}" if loc else "at the top level"


class Reporter:
    """Collects diagnostics for one file, placing each at the right line and column."""

    def __init__(self, source: SourceMap):
        self.source = source
        self.items: list[Diagnostic] = []

    def add(
        self,
        loc: Loc,
        code: str,
        message: str,
        *,
        severity: str = "error",
        at_key: bool = False,
        offset: int | None = None,
    ) -> None:
        mark = self.source.key(loc) if at_key else self.source.value(loc)
        col = mark.col
        if offset is not None and mark.inline >= 0:
            col += mark.inline + offset
        self.items.append(
            Diagnostic(self.source.path, mark.line, col, severity, code, message)  # type: ignore[arg-type]
        )

    def warn(self, loc: Loc, code: str, message: str, *, at_key: bool = False) -> None:
        self.add(loc, code, message, severity="warning", at_key=at_key)


# ---- structural errors from pydantic --------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    """Strip Annotated/Optional wrappers down to the type that holds keys."""
    while True:
        origin = get_origin(tp)
        args = get_args(tp)
        if origin is None:
            return tp
        if str(origin) == "typing.Annotated" or getattr(origin, "__name__", "") == "Annotated":
            tp = args[0]
            continue
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1 and origin is not list and origin is not dict:
            tp = non_none[0]
            continue
        return tp


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that owns the mapping at ``loc`` (to list the keys it accepts)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or name: f for name, f in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


_QUOTED_NUMBER = re.compile(r"[-+]?[0-9]{1,18}(\.[0-9]+)?\Z")
_HUGE_NUMBER = re.compile(r"[-+]?[0-9]{19,}\Z")


def _describe_input(value: Any, wants_text: bool) -> str:
    if isinstance(value, bool):
        found = str(value).lower()
    elif isinstance(value, (int, float)):
        found = f"the number {value!r}"
    elif isinstance(value, dict):
        found = "a mapping"
    elif isinstance(value, list):
        found = "a list"
    elif value is None:
        return " (found nothing)"
    elif isinstance(value, str):
        shown = repr(value if len(value) <= 40 else value[:40] + "...")
        if value.lower() in ("yes", "no", "on", "off", "y", "n"):
            return f" (found the text {shown}: YAML 1.2 reads only true and false as true/false)"
        if _QUOTED_NUMBER.match(value):
            return f" (found the text {shown}; remove the quotes)"
        if _HUGE_NUMBER.match(value):  # more digits than Python converts: the reader kept it as text
            return f" (found a number with {len(value.lstrip('+-'))} digits, far too big)"
        return f" (found the text {shown})"
    else:
        return ""
    if wants_text:
        return f" (YAML read it as {found}; put the text in quotes)"
    return f" (found {found})"


def _shown(value: Any) -> str:
    """A value as a message shows it: text quoted and cut at 40 characters, true/false in
    YAML's spelling."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)


_OPTION = re.compile(r"'((?:[^'\\]|\\.)*)'|(-?[0-9]+)")


def _literal_words(expected: str, value: Any) -> str:
    """The end of a ``literal_error`` message: which values are allowed and what was found.
    ``expected`` is pydantic's list, e.g. ``'good', 'acceptable' or 'poor'`` or ``1``."""
    found = _OPTION.findall(expected)
    words = [w for w, n in found if not n]
    numbers = [n for _, n in found if n]
    if numbers and not words:
        want = f"the number {numbers[0]}" if len(numbers) == 1 else f"one of the numbers {expected}"
        if isinstance(value, str):
            fix = "; remove the quotes" if value.strip() in numbers else ""
            return f"must be {want}, not the text {_shown(value)}{fix}"
        return f"must be {want}, not {_shown(value)}"
    hint = did_you_mean(str(value), [w for w in words if w != str(value)])
    return f"must be one of {expected}, not {_shown(value)}{hint}"


_TYPE_WORDS = {
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping (indented 'key: value' lines)",
    "list_type": "must be a list ('- item' lines or [a, b])",
    "model_type": "must be a mapping (indented 'key: value' lines)",
    "model_attributes_type": "must be a mapping (indented 'key: value' lines)",
}


def _structural(err: Any, report: Reporter, root: type[BaseModel]) -> None:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if loc and loc[-1] == "[key]":
        key_loc = loc[:-1]
        key = str(key_loc[-1]) if key_loc else ""
        if kind == "string_too_long":
            limit = ctx.get("max_length", MAX_ID_LENGTH)
            report.add(
                key_loc,
                "bad-value",
                f"id {_shown(key)} {_place(key_loc[:-1])} is longer than {limit} characters ({len(key)}); shorten it",
                at_key=True,
            )
            return
        help_text = PATTERN_HELP.get(ctx.get("pattern", ""), "a short id")
        report.add(
            key_loc,
            "bad-id",
            f"id {_shown(key)} {_place(key_loc[:-1])} must be {help_text}, at most {MAX_ID_LENGTH} characters",
            at_key=True,
        )
        return
    where = format_loc(loc)
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        hint = did_you_mean(str(loc[-1]), _keys_of(parent)) if parent else ""
        if not hint and parent:
            hint = f"; allowed here: {', '.join(_keys_of(parent))}"
        report.add(loc, "unknown-key", f"unknown key '{loc[-1]}' {_place(loc[:-1])}{hint}", at_key=True)
    elif kind == "missing":
        owner = f"{format_loc(loc[:-1])} needs" if loc[:-1] else "the file needs"
        report.add(loc[:-1], "missing-key", f"{owner} the key '{loc[-1]}'")
    elif kind in _TYPE_WORDS:
        found = _describe_input(value, kind == "string_type")
        report.add(loc, "wrong-type", f"{where} {_TYPE_WORDS[kind]}{found}")
    elif kind == "literal_error":
        report.add(loc, "bad-value", f"{where} {_literal_words(str(ctx.get('expected', '')), value)}")
    elif kind == "string_pattern_mismatch":
        help_text = PATTERN_HELP.get(ctx.get("pattern", ""), f"match {ctx.get('pattern')}")
        report.add(loc, "bad-id", f"{where} {_shown(value)} must be {help_text}")
    elif kind == "string_too_short":
        report.add(loc, "bad-value", f"{where} must not be empty")
    elif kind == "string_too_long":
        length = f" ({len(value)})" if isinstance(value, str) else ""
        report.add(loc, "bad-value", f"{where} is longer than {ctx.get('max_length')} characters{length}; shorten it")
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(ctx.values()), "")
        words = {
            "greater_than": "more than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }[kind]
        report.add(loc, "out-of-range", f"{where} is {value!r}; it must be {words} {bound}")
    else:
        report.add(loc, "bad-value", f"{where}: {err['msg']}")


M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def validate_model(model: type[M], data: Any, report: Reporter) -> M | None:
    """Validate ``data`` against a pydantic model, reporting every structural error at its
    line and column. Used for scenarios and rubrics alike."""
    if not isinstance(data, dict):
        report.add((), "not-a-mapping", "the file must be a mapping of 'key: value' lines")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            _structural(err, report, model)
        return None


# ---- semantic checks ----------------------------------------------------------------------


def _edges(scene: Scene) -> Iterator[tuple[str, Loc]]:
    """Every scene this scene can move to, with the sub-location of the ``to`` key."""
    for i, auto in enumerate(scene.auto):
        yield auto.to, ("auto", i, "to")
    if scene.timeout is not None:
        yield scene.timeout.to, ("timeout", "to")
    for i, choice in enumerate(scene.choices):
        yield choice.to, ("choices", i, "to")


def _reachable(start: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(seen)
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


class _Checker:
    def __init__(self, scenario: Scenario, report: Reporter):
        self.s = scenario
        self.report = report
        self.names = Names(frozenset(scenario.meters), frozenset(scenario.flags), frozenset(scenario.scenes))
        self.conditions: dict[str, Condition] = {}
        # One suggester per set of ids, so thousands of broken references in a huge file cost
        # bounded time (see diagnostics.Suggester).
        self.scene_hints = Suggester(scenario.scenes)
        self.meter_hints = Suggester(scenario.meters)
        self.flag_hints = Suggester(scenario.flags)
        self.cast_hints = Suggester([*scenario.cast, "you"])

    def condition(self, text: str | None, loc: Loc) -> None:
        if text is None or text in self.conditions:
            return
        try:
            self.conditions[text] = compile_condition(text, self.names)
        except ConditionError as exc:
            shown = text if len(text) <= 80 else text[:80] + "..."  # one readable line, however long
            self.report.add(loc, "bad-condition", f"condition {shown!r}: {exc.message}", offset=exc.offset)

    def scene_ref(self, target: str, loc: Loc, what: str) -> None:
        if target not in self.s.scenes:
            hint = self.scene_hints.hint(target)
            self.report.add(loc, "unknown-scene", f"{what} goes to unknown scene '{target}'{hint}")

    def effects(self, effects: dict[str, int], flags: dict[str, bool], loc: Loc) -> None:
        for meter in effects:
            if meter in self.s.meters:
                continue
            if meter in self.s.flags:
                message = f"'{meter}' is a flag: set it under set: (effects change meters)"
            else:
                message = f"effects name unknown meter '{meter}'{self.meter_hints.hint(meter)}"
            self.report.add(loc + ("effects", meter), "unknown-meter", message, at_key=True)
        for flag in flags:
            if flag in self.s.flags:
                continue
            if flag in self.s.meters:
                message = f"'{flag}' is a meter: change it under effects: (set changes flags)"
            else:
                message = f"set names unknown flag '{flag}'{self.flag_hints.hint(flag)}"
            self.report.add(loc + ("set", flag), "unknown-flag", message, at_key=True)

    def check_ids(self) -> None:
        """Ids that conditions or ``who:`` could not tell apart: a meter and a flag with one id,
        condition words used as ids, and a cast member called ``you``."""
        s = self.s
        for kind, ids, functions in (("meter", s.meters, True), ("flag", s.flags, True), ("scene", s.scenes, False)):
            for name in ids:
                if name in KEYWORDS:
                    why = f"'{name}' is a word of the condition language, so no condition could name this {kind}"
                elif functions and name in FUNCTIONS:
                    why = f"'{name}' is the {name}(scene) function of the condition language"
                else:
                    continue
                self.report.add((f"{kind}s", name), "reserved-name", f"{why}; give the {kind} another id", at_key=True)
        for name in s.flags:
            if name in s.meters:
                meter_line = self.report.source.key(("meters", name)).line
                self.report.add(
                    ("flags", name),
                    "duplicate-name",
                    f"flag '{name}' has the same id as the meter '{name}' (line {meter_line}); "
                    "conditions would always read the meter, so rename one",
                    at_key=True,
                )
        if "you" in s.cast:
            self.report.add(
                ("cast", "you"),
                "reserved-name",
                "'you' cannot be a cast id: 'who: you' always means the trainee, "
                "so this person could never speak; give them another id",
                at_key=True,
            )

    def run(self) -> None:
        s = self.s
        self.check_ids()
        for mid, meter in s.meters.items():
            if meter.min >= meter.max:
                self.report.add(
                    ("meters", mid, "min"),
                    "meter-bounds",
                    f"meter '{mid}': min ({meter.min}) must be below max ({meter.max})",
                )
            elif not meter.min <= meter.start <= meter.max:
                self.report.add(
                    ("meters", mid, "start"),
                    "meter-bounds",
                    f"meter '{mid}' starts at {meter.start}, outside {meter.min}..{meter.max}",
                )
        if s.start not in s.scenes:
            self.report.add(
                ("start",), "unknown-scene", f"start scene '{s.start}' is not a scene{self.scene_hints.hint(s.start)}"
            )
        for sid, scene in s.scenes.items():
            self.scene(sid, scene)
        self.graph()

    def scene(self, sid: str, scene: Scene) -> None:
        base: Loc = ("scenes", sid)
        for i, line in enumerate(scene.lines):
            if line.who != "you" and line.who not in self.s.cast:
                hint = self.cast_hints.hint(line.who)
                self.report.add(
                    base + ("lines", i, "who"),
                    "unknown-cast",
                    f"line spoken by unknown cast member '{line.who}'{hint}; add them under cast:",
                )
            self.condition(line.if_, base + ("lines", i, "if"))
        for i, auto in enumerate(scene.auto):
            self.scene_ref(auto.to, base + ("auto", i, "to"), f"auto move {i + 1} of scene '{sid}'")
            self.condition(auto.if_, base + ("auto", i, "if"))
            if auto.if_ is None and i < len(scene.auto) - 1:
                self.report.warn(
                    base + ("auto", i + 1),
                    "unused-auto",
                    "this auto move is never checked: the one before it has no 'if' and always moves on",
                )
        self.auto_to_itself(sid, scene)
        always_moves = any(a.if_ is None for a in scene.auto)
        if scene.timeout is not None:
            self.scene_ref(scene.timeout.to, base + ("timeout", "to"), f"timeout of scene '{sid}'")
            self.effects(scene.timeout.effects, scene.timeout.set, base + ("timeout",))
            self.acceptable_not_critical(scene.timeout, base + ("timeout",), f"the timeout of scene '{sid}'")
        seen: dict[str, int] = {}
        for i, choice in enumerate(scene.choices):
            loc = base + ("choices", i)
            if choice.id in seen:
                first = self.report.source.value(base + ("choices", seen[choice.id], "id"))
                self.report.add(
                    loc + ("id",),
                    "duplicate-choice",
                    f"choice id '{choice.id}' is used twice in scene '{sid}' (first at line {first.line}); "
                    "records refer to choices by id, so make it unique",
                )
            else:
                seen[choice.id] = i
            self.scene_ref(choice.to, loc + ("to",), f"choice '{choice.id}'")
            self.condition(choice.if_, loc + ("if",))
            self.effects(choice.effects, choice.set, loc)
            self.acceptable_not_critical(choice, loc, f"choice '{choice.id}'")
        if scene.end is not None:
            self.ending_parts(sid, scene)
            for key, present in (("choices", scene.choices), ("auto", scene.auto), ("timeout", scene.timeout)):
                if present:
                    self.report.add(
                        base + (key,),
                        "ending-has-choices",
                        f"scene '{sid}' is an ending but also has '{key}'; an ending stops the scenario, so remove one",
                        at_key=True,
                    )
        elif not scene.choices and not scene.auto and scene.timeout is None:
            self.report.add(
                base,
                "no-way-out",
                f"scene '{sid}' has no choices, auto moves, timeout or end; add one of them",
                at_key=True,
            )
        elif always_moves and scene.choices:
            self.report.warn(
                base + ("choices",),
                "choices-never-offered",
                f"scene '{sid}' always moves on automatically, so its choices are never offered",
                at_key=True,
            )

    def ending_parts(self, sid: str, scene: Scene) -> None:
        """Conditions of an ending's text parts; an outcome made only of conditional parts could
        be empty (results and exports show it), so say so."""
        end = scene.end
        assert end is not None
        for key, parts in (("outcome", end.outcome), ("debrief", end.debrief)):
            loc: Loc = ("scenes", sid, "end", key)
            for i, part in enumerate(parts):
                self.condition(part.if_, loc + (i, "if"))
            if key == "outcome" and all(part.if_ is not None for part in parts):
                self.report.warn(
                    loc,
                    "conditional-outcome",
                    f"every part of the outcome of ending '{sid}' has an 'if'; when none holds the outcome is "
                    "empty, so add a part without 'if' (crisis-sim analyze checks it exactly)",
                    at_key=True,
                )

    def acceptable_not_critical(self, option: Choice | Timeout, loc: Loc, what: str) -> None:
        """An option cannot be both as good as the best and a run-failing mistake."""
        if option.acceptable and option.critical:
            self.report.add(
                loc + ("acceptable",),
                "acceptable-critical",
                f"{what} is marked both 'acceptable: true' and 'critical: {option.critical}'; "
                "a critical error fails the run, so it cannot be as good as the best: remove one",
            )

    def auto_to_itself(self, sid: str, scene: Scene) -> None:
        """An auto move back to its own scene repeats forever once taken: on the way only the
        scene's visit count changes (auto moves change no meters or flags), so the same moves
        hold again, unless a condition checked up to that move reads visits(this scene)."""
        reads_visits = False
        for i, auto in enumerate(scene.auto):
            if auto.if_ is not None:
                compiled = self.conditions.get(auto.if_)
                if compiled is None:  # a bad condition, reported already
                    return
                reads_visits = reads_visits or sid in compiled.scenes
            if auto.to == sid and not reads_visits and not (i == 0 and auto.if_ is None):
                # (a first move without 'if' back to itself is a forced loop: see graph())
                self.report.add(
                    ("scenes", sid, "auto", i, "to"),
                    "auto-loop",
                    f"auto move {i + 1} of scene '{sid}' goes back to '{sid}', and auto moves change no meters "
                    f"or flags, so once taken it repeats forever; remove it (the scene then offers its choices), "
                    f"or guard it with visits({sid})",
                )
                return
            if auto.if_ is None:
                return  # later moves are never checked

    def graph(self) -> None:
        s = self.s
        edges = {sid: {t for t, _ in _edges(scene) if t in s.scenes} for sid, scene in s.scenes.items()}
        endings = set(s.endings())
        if not endings:
            self.report.add(
                ("scenes",), "no-ending", "the scenario has no ending; give at least one scene an 'end:'", at_key=True
            )
            return
        reverse: dict[str, set[str]] = {}
        for src, targets in edges.items():
            for t in targets:
                reverse.setdefault(t, set()).add(src)
        can_finish = _reachable(endings, reverse)
        for sid, scene in s.scenes.items():
            dead_end = not scene.choices and not scene.auto and scene.timeout is None  # reported as no-way-out
            if sid not in can_finish and not dead_end:
                self.report.add(
                    ("scenes", sid),
                    "no-ending-reachable",
                    f"no ending can be reached from scene '{sid}': every path from it loops or stops before an ending",
                    at_key=True,
                )
        if s.start in s.scenes:
            reached = _reachable([s.start], edges)
            for sid in s.scenes:
                if sid not in reached:
                    self.report.warn(
                        ("scenes", sid),
                        "unreachable-scene",
                        f"scene '{sid}' cannot be reached from the start scene '{s.start}'",
                        at_key=True,
                    )
        forced = {sid: sc.auto[0].to for sid, sc in s.scenes.items() if sc.auto and sc.auto[0].if_ is None}
        # Each scene has at most one forced move, so walk each chain once (linear time; walking
        # from every scene with a list for "seen" was cubic in the chain length).
        on_loop: set[str] = set()
        done: set[str] = set()
        for sid in forced:
            walk: dict[str, None] = {}  # this walk, in order
            cur = sid
            while cur in forced and cur not in done and cur not in walk:
                walk[cur] = None
                cur = forced[cur]
            if cur in walk:  # the walk closed a new loop
                order = list(walk)
                on_loop.update(order[order.index(cur) :])
            done.update(walk)
        reported: set[str] = set()
        for sid in forced:
            if sid in on_loop and sid not in reported:
                path, cur = [sid], forced[sid]
                while cur != sid:
                    path.append(cur)
                    cur = forced[cur]
                reported.update(path)  # one diagnostic per loop, at its first scene
                loop = " -> ".join([*path, sid])
                self.report.add(
                    ("scenes", sid, "auto", 0),
                    "auto-loop",
                    f"auto moves loop forever: {loop}; give one of them an 'if'",
                )


def _locate_in_text(
    source: SourceMap, lines: list[str], loc: Loc, term: str, index: int
) -> tuple[int, int]:
    """Line and column of ``term`` inside the text value at ``loc`` (block scalars included):
    search from the value's first line, a few lines past where the text's own line count says."""
    mark = source.value(loc)
    if mark.inline >= 0:
        return mark.line, mark.col + mark.inline + index
    first = mark.line - 1
    for number in range(first, min(len(lines), first + 200)):
        col = lines[number].lower().find(term.lower())
        if col >= 0:
            return number + 1, col + 1
    return mark.line, mark.col


# ---- silencing warnings with comments ---------------------------------------------------------

WARNING_CODES = frozenset(
    {
        # the YAML reader
        "control-character",
        "yaml11-ambiguous",
        # references and the scene graph
        "unused-auto",
        "choices-never-offered",
        "unreachable-scene",
        "conditional-outcome",
        # the wording and authoring lint (simulator/lint.py)
        "stigmatizing-language",
        "missing-feedback",
        "missing-debrief",
        "single-option",
        "long-text",
        "suicide-no-warning",
        "suicide-no-resources",
        "ambiguous-example",
        # the checks against the rubric (scoring/catalog.attach_rubric)
        "unused-principle",
        "possible-dead-end",
        "acceptable-worth-less",
    }
)
"""Every warning a scenario file can get, so every code ``# crisis-sim: ignore[...]`` can
silence. Errors are never silenced; nor are the warnings about ignore comments themselves."""

# A comment that speaks to crisis-sim. Found by one regex pass over the raw text (comments
# never reach the parsed data); only lines with a match are looked at further.
_DIRECTIVE = re.compile(r"#[ \t]*crisis-sim[ \t]*:(?P<rest>[^\r\n]*)")
_IGNORE = re.compile(r"[ \t]*(?P<kind>ignore-file|ignore)(?:\[(?P<codes>[^\]]*)\])?(?P<after>(?:[ \t].*)?)\Z")
_CODE = re.compile(r"[^,\s]+")
_USAGE = (
    "write '# crisis-sim: ignore[code, ...]' at the end of the line or on the line above, "
    "or '# crisis-sim: ignore-file[code, ...]' on a line of its own"
)


@dataclass
class _Ignore:
    line: int  # 1-based line of the comment
    standalone: bool  # the comment is the whole line (so it speaks to the next line)
    file: bool  # ignore-file
    codes: frozenset[str] | None  # None: every warning of the line


def _ignore_comments(text: str, path: str, errors: set[str], out: list[Diagnostic]) -> list[_Ignore]:
    """The ignore comments of ``text``, in order; problems with them go to ``out`` (as
    ``bad-ignore-comment`` and ``unknown-ignore-code`` warnings). Linear: one regex pass, and
    line numbers counted from one match to the next."""
    found: list[_Ignore] = []
    line, counted = 1, 0
    for match in _DIRECTIVE.finditer(text):
        start = match.start()
        line += text.count("\n", counted, start)
        counted = start
        line_start = text.rfind("\n", 0, start) + 1
        before = text[line_start:start]
        if before and before[-1] not in " \t":
            continue  # a '#' inside a word does not start a comment
        col = start - line_start + 1
        alone = not before.strip()
        rest = match.group("rest")
        parsed = _IGNORE.match(rest)
        problem = ""
        if parsed is None:
            word = rest.replace("[", " ").split()[0] if rest.strip() else ""
            hint = did_you_mean(word, ["ignore", "ignore-file"]) if word not in ("ignore", "ignore-file") else ""
            problem = f"cannot read this crisis-sim comment{hint}; {_USAGE}"
        elif parsed.group("kind") == "ignore-file" and not alone:
            problem = "ignore-file must be a comment on a line of its own; move it above the first key"
        elif parsed.group("codes") is None:
            first = parsed.group("after").replace(",", " ").split()[:1]
            if parsed.group("kind") == "ignore-file":
                problem = (
                    "ignore-file needs the codes it silences, e.g. '# crisis-sim: ignore-file[long-text]'; "
                    "a whole file's warnings cannot be silenced at once"
                )
            elif parsed.group("after").lstrip().startswith("["):
                problem = "write the codes right after 'ignore', without a space: '# crisis-sim: ignore[code]'"
            elif first and first[0] in WARNING_CODES:
                problem = f"put the codes in brackets: '# crisis-sim: ignore[{first[0]}]'"
        elif not _CODE.search(parsed.group("codes")):
            problem = f"the brackets name no code; {_USAGE}"
        if problem:
            out.append(Diagnostic(path, line, col, "warning", "bad-ignore-comment", problem))
            continue
        assert parsed is not None
        listed = parsed.group("codes")
        codes: frozenset[str] | None = None
        if listed is not None:
            codes_at = match.start("rest") + parsed.start("codes") - line_start + 1
            names = list(_CODE.finditer(listed))
            for name in names:
                code = name.group()
                if code in WARNING_CODES:
                    continue
                if code in errors:
                    message = f"'{code}' is an error, and errors cannot be silenced; fix the problem instead"
                else:
                    message = (
                        f"unknown warning code '{code}' in this ignore comment"
                        f"{did_you_mean(code, sorted(WARNING_CODES))}; only warnings can be silenced "
                        "(errors must be fixed)"
                    )
                out.append(Diagnostic(path, line, codes_at + name.start(), "warning", "unknown-ignore-code", message))
            codes = frozenset(name.group() for name in names)
        found.append(_Ignore(line, alone, parsed.group("kind") == "ignore-file", codes))
    return found


def apply_silencing(
    diagnostics: list[Diagnostic], raw_text: str, path: str | None = None, *, check_comments: bool = True
) -> list[Diagnostic]:
    """``diagnostics`` without the warnings that ``# crisis-sim: ignore`` comments in
    ``raw_text`` silence (only those of ``path``, when given), plus warnings about comments
    that cannot be read or name unknown codes (unless ``check_comments`` is false: a second
    pass over the same file, such as the rubric checks, must not repeat them).

    ``# crisis-sim: ignore[code, ...]`` at the end of a line silences those warnings on that
    line; on a line of its own, on the next line (through further such comment lines).
    ``# crisis-sim: ignore`` silences every warning there. ``# crisis-sim: ignore-file[code,
    ...]`` on a line of its own silences those codes in the whole file. Errors never."""
    if "crisis-sim" not in raw_text:
        return diagnostics
    name = path if path is not None else (diagnostics[0].path if diagnostics else "")
    errors = {d.code for d in diagnostics if d.severity == "error"}
    problems: list[Diagnostic] = []
    comments = _ignore_comments(raw_text, name, errors, problems)
    file_codes: set[str] = set()
    by_line: dict[int, frozenset[str]] = {}
    standalone = {c.line for c in comments if c.standalone}
    for comment in reversed(comments):  # bottom up, so a stack of comment lines passes down
        codes = comment.codes if comment.codes is not None else WARNING_CODES
        if comment.file:
            file_codes |= codes
            continue
        target = comment.line
        if comment.standalone:
            target += 1
            while target in standalone:
                target += 1
        by_line[target] = by_line.get(target, frozenset()) | codes
    kept = [
        d
        for d in diagnostics
        if not (
            d.severity == "warning"
            and d.code in WARNING_CODES
            and (path is None or d.path == path)
            and (d.code in file_codes or d.code in by_line.get(d.line, ()))
        )
    ]
    return kept + problems if check_comments else kept


def check_scenario(scenario: Scenario, report: Reporter) -> dict[str, Condition]:
    """Cross-reference, condition and graph checks; returns the compiled conditions."""
    checker = _Checker(scenario, report)
    checker.run()
    return checker.conditions


def load_scenario(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, raw: bytes | None = None) -> LoadResult:
    """Load and check one scenario file. Never raises for bad input: look at diagnostics.
    ``raw``: the file's bytes, already read (and hashed) by the caller, so what is checked is
    exactly what it read."""
    with gc_paused():
        return _load_scenario(Path(path), max_bytes, raw)


_RAISE_THE_LIMIT = " (or raise the limit with --max-bytes, or [scenarios] max_bytes in the config)"


def _load_scenario(path: Path, max_bytes: int, raw: bytes | None) -> LoadResult:
    name = str(path)
    try:
        doc = load_file(path, max_bytes) if raw is None else load_bytes(raw, name)
    except DiagnosticError as exc:
        # A scenario's size cap is a setting (a rubric's is not): say how to change it.
        found = [
            dataclasses.replace(d, message=d.message + _RAISE_THE_LIMIT) if d.code == "file-too-large" else d
            for d in exc.diagnostics
        ]
        return LoadResult(name, None, found)
    report = Reporter(doc.source)
    report.items.extend(doc.warnings)
    text = doc.raw.decode("utf-8", "replace")
    scenario = validate_model(Scenario, doc.data, report)
    if scenario is None:
        report.items = apply_silencing(report.items, text, name)
        report.items.sort(key=lambda d: (d.line, d.col))
        return LoadResult(name, None, report.items, doc)
    conditions = check_scenario(scenario, report)
    source_lines = text.splitlines()
    for loc, message, term, index in wording_findings(scenario):
        line, col = _locate_in_text(doc.source, source_lines, loc, term, index)
        report.items.append(Diagnostic(name, line, col, "warning", "stigmatizing-language", message))
    authoring_lint(scenario, report.warn)
    report.items = apply_silencing(report.items, text, name)
    report.items.sort(key=lambda d: (d.line, d.col))
    if has_errors(report.items):
        return LoadResult(name, None, report.items, doc)
    scenario._conditions = conditions
    scenario.set_origin(name, doc.raw, doc.source)
    return LoadResult(name, scenario, report.items, doc)


def files_of(paths: Iterable[str | Path]) -> list[Path | Diagnostic]:
    """Each path's scenario files, in order (folders expanded by ``scenario_files``). A folder
    named on purpose that holds no scenario file is an error naming it (a mistyped path, or a
    folder where a file was meant), not a silent "nothing found"."""
    out: list[Path | Diagnostic] = []
    for path in map(Path, paths):
        files = scenario_files([path])
        if not files and path.is_dir():
            message = "is a folder with no scenario files (*.yaml, *.yml) in it; check the path"
            out.append(Diagnostic(str(path), 0, 0, "error", "no-scenarios", message))
        out += files
    return out


def duplicate_id(path: str, scenario_id: str, line: int, col: int, first: str) -> Diagnostic:
    """The error for a scenario id already used by the file ``first`` of the same library."""
    return Diagnostic(
        path,
        line,
        col,
        "error",
        "duplicate-scenario-id",
        f"scenario id '{scenario_id}' is also used by {first}; ids must be unique in a library",
    )


def repeated_ids(items: Iterable[T], id_of: Callable[[T], str | None]) -> Iterator[tuple[T, str, T]]:
    """Each item whose scenario id (``id_of``; None: no scenario) an earlier item already uses,
    with the id and that first item."""
    first: dict[str, T] = {}
    for item in items:
        sid = id_of(item)
        if sid is None:
            continue
        if sid in first:
            yield item, sid, first[sid]
        else:
            first[sid] = item


def load_many(paths: Iterable[str | Path], **kwargs: Any) -> list[LoadResult]:
    """Load several files (``files_of``) and also flag scenario ids used by more than one file."""
    results = [
        load_scenario(f, **kwargs) if isinstance(f, Path) else LoadResult(f.path, None, [f]) for f in files_of(paths)
    ]
    for res, sid, first in repeated_ids(results, lambda r: r.scenario.id if r.scenario else None):
        mark = res.scenario.source.value(("id",)) if res.scenario and res.scenario.source else None
        line, col = (mark.line, mark.col) if mark else (0, 0)
        res.diagnostics.append(duplicate_id(res.path, sid, line, col, first.path))
        res.scenario = None
    return results
