"""Fuzzing the condition language (``simulator/expressions.py``).

Property everywhere: any text gives a checked Condition that evaluates to True/False, or a
ConditionError (the module's own error) whose message is one line and whose offset lies
inside the text; never another exception (RecursionError, OverflowError, ValueError,
TypeError...), never a hang. ``tests/test_expressions.py`` already covers random printable
text and short token lists against one fixed context; this file goes further:

- token soup drawn from the language, Python-isms, numbers of every size and unicode, with
  odd separators;
- random typed ASTs (well- and ill-typed) rendered to text with random parentheses and
  spacing, parsed back (structure compared), type-checked against a reference checker and
  evaluated against a reference evaluator with random meter/flag/visit values;
- nesting and length far beyond the limits, with the length cap in place and lifted (the depth
  guard must hold on its own);
- conditions inside a scenario file: a bad condition is a one-line ``file:line:col``
  diagnostic whose column points at the offending character.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import pytest
from hang_guard import no_hang
from hypothesis import assume, event, example, given
from hypothesis import strategies as st
from scenario_factory import HEADER

from simulator import expressions
from simulator.expressions import (
    BoolOp,
    Call,
    Compare,
    Condition,
    ConditionError,
    Const,
    Name,
    Names,
    Node,
    Not,
    Values,
    compile_condition,
    parse,
)
from simulator.loader import load_scenario
from simulator.yamlsource import resolve_plain

METERS = ("agitation", "rapport", "trust")
FLAGS = ("asked", "armed", "calm")
SCENES = ("arrival", "bridge", "home")
NAMES = Names(frozenset(METERS), frozenset(FLAGS), frozenset(SCENES))

# ---- strategies: values a running scenario can hold ----------------------------------------

big_ints = st.one_of(
    st.integers(min_value=-10, max_value=10),
    st.integers(),
    st.sampled_from([2**63, -(2**63), 2**64 + 1, 10**300, -(10**300)]),
)


@st.composite
def contexts(draw: st.DrawFn) -> Values:
    """Meter values (any int, huge ones too), flags (bools) and visit counts (some scenes never
    visited, i.e. missing from the mapping, as in a fresh Session)."""
    meters = {m: draw(big_ints) for m in METERS}
    flags = {f: draw(st.booleans()) for f in FLAGS}
    visits = draw(st.dictionaries(st.sampled_from(SCENES), st.integers(min_value=0, max_value=10**6)))
    return Values(meters, flags, visits)


# ---- the property ---------------------------------------------------------------------------


def outcome(text: str, names: Names = NAMES) -> Condition | ConditionError:
    """Compile ``text``; a ConditionError is returned (checked), anything else propagates and
    fails the test with the input shown."""
    with no_hang(10, "condition"):
        try:
            cond = compile_condition(text, names)
        except ConditionError as exc:
            check_error(exc, text)
            return exc
    return cond


def check_error(exc: ConditionError, text: str) -> None:
    assert isinstance(exc.message, str) and exc.message.strip(), "an empty message"
    assert "\n" not in exc.message and "\r" not in exc.message, f"a message on more than one line: {exc.message!r}"
    assert isinstance(exc.offset, int) and 0 <= exc.offset <= len(text), (exc.offset, len(text))
    if exc.message.startswith("unexpected character"):  # the position is that character's
        assert exc.message.startswith(f"unexpected character {text[exc.offset]!r}"), (exc.message, exc.offset)


def check_value(cond: Condition, ctx: Values) -> None:
    with no_hang(10, "evaluation"):
        value = cond.holds(ctx)
    assert value is True or value is False
    assert cond.variables <= set(METERS) | set(FLAGS)
    assert cond.scenes <= set(SCENES)


# ---- 1. token soup --------------------------------------------------------------------------

LANGUAGE = [
    *METERS,
    *FLAGS,
    "visited",
    "visits",
    "visited(arrival)",
    "visits(bridge)",
    "visited(nowhere)",
    "and",
    "or",
    "not",
    "true",
    "false",
    "(",
    ")",
    "<",
    "<=",
    "==",
    "!=",
    ">=",
    ">",
    "-",
]
PYTHONISMS = [
    "__import__",
    "__import__('os')",
    ".",
    "().__class__",
    "__class__",
    "__subclasses__()",
    "lambda",
    "lambda:",
    "[",
    "]",
    "{",
    "}",
    "**",
    "*",
    "+",
    "/",
    "//",
    "%",
    "@",
    "if",
    "else",
    "is",
    "in",
    "True",
    "False",
    "None",
    "AND",
    "Or",
    "NOT",
    "Visited",
    "&&",
    "||",
    "!",
    "=",
    "===",
    "<>",
    "=>",
    "=<",
    "~",
    "^",
    "&",
    "|",
    ",",
    ":",
    ";",
    "'",
    '"',
    "'arrival'",
    '"x"',
    "`",
    "\\",
    "#",
    "$x",
    "f(x)",
    "eval",
    "exec",
    "open",
    "x.y",
    "a[0]",
    "1 if asked else 0",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "1e309",
    "-1e309",
    "1.5",
    ".5",
    "5.",
    "nan",
    "inf",
    "-inf",
    "NaN",
    "Infinity",
    "--1",
    "- -1",
    "+1",
    "-0",
    "00",
    "007",
]
UNICODE = [
    "１２",
    "٣",
    "²",
    "Ⅻ",
    "ａｇｉｔａｔｉｏｎ",
    "agitatión",
    "ℌ",
    "ﬁ",
    "İ",
    "ß",
    "\u00a0",
    "\u2003",
    "\u3000",
    "\u200b",
    "\u202e",
    "\u2066",
    "\x00",
    "\x1b[31m",
    "\x85",
    "\u2028",
    "\ud800",
    "\U0001f600",
    "\ufeff",
    "ǅ",
]
SEPARATORS = [" ", "", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\x0b", "\x0c"]

numbers = st.one_of(
    big_ints.map(str),
    st.integers(min_value=1, max_value=990).map(lambda n: "9" * n),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)

tokens = st.one_of(
    st.sampled_from(LANGUAGE),
    st.sampled_from(PYTHONISMS),
    st.sampled_from(UNICODE),
    numbers,
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
    st.text(max_size=3),
)


@st.composite
def token_soup(draw: st.DrawFn) -> str:
    parts = draw(st.lists(tokens, max_size=25))
    out = []
    for part in parts:
        out.append(part)
        out.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(out)


SOUP_EXAMPLES = [
    "agitation > 99999999999999999999999999999999999999 and not armed",
    "visits(\narrival)",  # a multi-line number condition: the hint must stay on one line
    "(agitation\n)",
    "rapport\n\n",
    "__import__('os').system('x')",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 1 if asked else 0",
    "agitation ** 999999999 > 0",
    "1e309 > agitation",
    "\x00",
    "\ud800",
]
CTX0 = Values({m: 3 for m in METERS}, {f: True for f in FLAGS}, {"arrival": 1})


def check_soup(text: str, ctx: Values) -> None:
    result = outcome(text)
    if isinstance(result, Condition):
        check_value(result, ctx)
        parse(text)  # what compiles also parses
    else:
        # a parse error comes before any name or type error, from parse() alone as well
        try:
            parse(text)
        except ConditionError as exc:
            check_error(exc, text)
            assert (exc.message, exc.offset) == (result.message, result.offset)


@pytest.mark.parametrize("text", SOUP_EXAMPLES)
def test_hostile_conditions(text: str) -> None:
    check_soup(text, CTX0)


@given(token_soup(), contexts())
def test_token_soup_gives_a_condition_or_a_one_line_condition_error(text: str, ctx: Values) -> None:
    check_soup(text, ctx)


def test_a_number_condition_hint_is_one_line() -> None:
    """Regression: 'this condition is a number ... e.g. '<text> > 0'' quoted the text as
    written, so a condition split over lines (a YAML block scalar) gave a multi-line
    diagnostic."""
    exc = outcome("visits(\narrival)")
    assert isinstance(exc, ConditionError)
    assert "e.g. 'visits( arrival) > 0'" in exc.message


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), contexts())
def test_any_unicode_text_in_a_valid_condition(noise: str, ctx: Values) -> None:
    """Unicode (every plane, controls, bidi, whitespace of every kind) around and inside a
    valid condition."""
    for text in (f"{noise}asked", f"asked{noise}", f"not {noise} armed", f"agitation >{noise}3", f"visited({noise})"):
        result = outcome(text)
        if isinstance(result, Condition):
            check_value(result, ctx)


# ---- 2. random typed ASTs -------------------------------------------------------------------
#
# A tree is a tuple: ("num", int) ("bool", bool) ("meter", name) ("flag", name)
# ("visited", scene) ("visits", scene) ("not", t) ("and", (t, ...)) ("or", (t, ...))
# ("cmp", op, t, t). The renderer adds the parentheses precedence needs (and random extra
# ones); the reference checker and evaluator below are written from the grammar in the
# module docstring, independently of the module's code.

ORDER = ("<", "<=", ">", ">=")
EQUALITY = ("==", "!=")

leaves = st.one_of(
    st.tuples(st.just("num"), big_ints.filter(lambda n: abs(n) < 10**200)),
    st.tuples(st.just("bool"), st.booleans()),
    st.tuples(st.just("meter"), st.sampled_from(METERS)),
    st.tuples(st.just("flag"), st.sampled_from(FLAGS)),
    st.tuples(st.just("visited"), st.sampled_from(SCENES)),
    st.tuples(st.just("visits"), st.sampled_from(SCENES)),
)


def _extend(children: st.SearchStrategy[tuple]) -> st.SearchStrategy[tuple]:
    return st.one_of(
        st.tuples(st.just("not"), children),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=4).map(tuple)),
        st.tuples(st.just("cmp"), st.sampled_from(ORDER + EQUALITY), children, children),
    )


trees = st.recursive(leaves, _extend, max_leaves=14)

num_leaves = st.one_of(
    st.tuples(st.just("num"), big_ints.filter(lambda n: abs(n) < 10**200)),
    st.tuples(st.just("meter"), st.sampled_from(METERS)),
    st.tuples(st.just("visits"), st.sampled_from(SCENES)),
)
bool_leaves = st.one_of(
    st.tuples(st.just("bool"), st.booleans()),
    st.tuples(st.just("flag"), st.sampled_from(FLAGS)),
    st.tuples(st.just("visited"), st.sampled_from(SCENES)),
    st.tuples(st.just("cmp"), st.sampled_from(ORDER + EQUALITY), num_leaves, num_leaves),
)


def _extend_bool(children: st.SearchStrategy[tuple]) -> st.SearchStrategy[tuple]:
    return st.one_of(
        st.tuples(st.just("not"), children),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=4).map(tuple)),
        st.tuples(st.just("cmp"), st.sampled_from(EQUALITY), children, children),
    )


well_typed = st.recursive(bool_leaves, _extend_bool, max_leaves=14)
"""Only true/false conditions: most random trees have a type error somewhere."""


def ref_type(tree: tuple) -> str:
    """'number', 'bool', or 'error' (a type error somewhere in the tree)."""
    kind = tree[0]
    if kind in ("num", "meter", "visits"):
        return "number"
    if kind in ("bool", "flag", "visited"):
        return "bool"
    if kind == "not":
        return "bool" if ref_type(tree[1]) == "bool" else "error"
    if kind in ("and", "or"):
        return "bool" if all(ref_type(t) == "bool" for t in tree[1]) else "error"
    op, left, right = tree[1:]
    lt, rt = ref_type(left), ref_type(right)
    if "error" in (lt, rt):
        return "error"
    if op in ORDER:
        return "bool" if lt == rt == "number" else "error"
    return "bool" if lt == rt else "error"


def ref_eval(tree: tuple, ctx: Values) -> int | bool:
    kind = tree[0]
    if kind in ("num", "bool"):
        return tree[1]
    if kind == "meter":
        return ctx.meters[tree[1]]
    if kind == "flag":
        return ctx.flags[tree[1]]
    if kind == "visits":
        return ctx.visits.get(tree[1], 0)
    if kind == "visited":
        return ctx.visits.get(tree[1], 0) > 0
    if kind == "not":
        return not ref_eval(tree[1], ctx)
    if kind == "and":
        return all([ref_eval(t, ctx) for t in tree[1]])
    if kind == "or":
        return any([ref_eval(t, ctx) for t in tree[1]])
    op, left, right = tree[1:]
    a, b = ref_eval(left, ctx), ref_eval(right, ctx)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]


# Binding strength: or < and < not < compare < atom.
_LEVEL = {"or": 0, "and": 1, "not": 2, "cmp": 3}


@dataclass
class Renderer:
    """Renders a tree; ``extra`` decides, per node, whether to add redundant parentheses and
    ``space`` the spacing around tokens (both drawn by hypothesis)."""

    extra: list[bool]
    space: list[str]
    i: int = 0

    def _next(self, seq: list) -> object:
        value = seq[self.i % len(seq)] if seq else seq
        self.i += 1
        return value

    def sp(self) -> str:
        return self._next(self.space) if self.space else " "

    def render(self, tree: tuple, need: int = 0) -> str:
        kind = tree[0]
        level = _LEVEL.get(kind, 4)
        text = self._bare(tree)
        if level < need or (self.extra and self._next(self.extra)):
            text = f"({self.sp()}{text}{self.sp()})"
        return text

    def _bare(self, tree: tuple) -> str:
        kind = tree[0]
        if kind == "num":
            return str(tree[1]) if tree[1] >= 0 else f"-{self.sp()}{-tree[1]}"
        if kind == "bool":
            return "true" if tree[1] else "false"
        if kind in ("meter", "flag"):
            return tree[1]
        if kind in ("visited", "visits"):
            return f"{kind}({self.sp()}{tree[1]}{self.sp()})"
        # words need at least one space around them; symbols need none
        if kind == "not":
            return f"not {self.sp()}{self.render(tree[1], _LEVEL['not'])}"
        if kind in ("and", "or"):
            # a child of the same kind renders bare (parses flat) or in parentheses
            sep = f" {self.sp()}{kind} {self.sp()}"
            return sep.join(self.render(t, _LEVEL[kind]) for t in tree[1])
        op, left, right = tree[1:]
        return f"{self.render(left, 4)}{self.sp()}{op}{self.sp()}{self.render(right, 4)}"


def flatten(tree: tuple) -> tuple:
    """The tree with nested and/or of the same kind merged (``a and (b and c)`` is the same
    condition however it is bracketed)."""
    kind = tree[0]
    if kind in ("and", "or"):
        items: list[tuple] = []
        for child in tree[1]:
            flat = flatten(child)
            items.extend(flat[1] if flat[0] == kind else [flat])
        return (kind, tuple(items))
    if kind == "not":
        return ("not", flatten(tree[1]))
    if kind == "cmp":
        return ("cmp", tree[1], flatten(tree[2]), flatten(tree[3]))
    return tree


def from_module(node: Node) -> tuple:
    """The module's AST in the test's tuple form (names sorted into meters and flags)."""
    if isinstance(node, Const):
        return ("bool", node.value) if isinstance(node.value, bool) else ("num", node.value)
    if isinstance(node, Name):
        return ("meter" if node.name in METERS else "flag", node.name)
    if isinstance(node, Call):
        return (node.func, node.scene)
    if isinstance(node, Not):
        return ("not", from_module(node.operand))
    if isinstance(node, BoolOp):
        return (node.op, tuple(from_module(n) for n in node.operands))
    assert isinstance(node, Compare), node
    return ("cmp", node.op, from_module(node.left), from_module(node.right))


def names_in(tree: tuple) -> tuple[set[str], set[str]]:
    kind = tree[0]
    if kind in ("meter", "flag"):
        return {tree[1]}, set()
    if kind in ("visited", "visits"):
        return set(), {tree[1]}
    children = {"not": lambda: [tree[1]], "and": lambda: tree[1], "or": lambda: tree[1]}.get(
        kind, lambda: [tree[2], tree[3]] if kind == "cmp" else []
    )()
    variables: set[str] = set()
    scenes: set[str] = set()
    for child in children:
        v, s = names_in(child)
        variables |= v
        scenes |= s
    return variables, scenes


spacing = st.lists(st.sampled_from(["", "", " ", "  ", "\t", "\n"]), max_size=8)


@example(("cmp", "==", ("cmp", "<", ("meter", "agitation"), ("num", -3)), ("flag", "asked")), [], [], [CTX0])
@example(("not", ("cmp", ">=", ("meter", "rapport"), ("num", 10**199))), [True], [""], [CTX0])
@example(("and", (("or", (("flag", "asked"), ("flag", "armed"))), ("not", ("visited", "home")))), [], [], [CTX0])
@given(
    st.one_of(trees, well_typed),
    st.lists(st.booleans(), max_size=8),
    spacing,
    st.lists(contexts(), min_size=1, max_size=4),
)
def test_random_trees_parse_back_typecheck_and_evaluate_like_the_reference(
    tree: tuple, extra: list[bool], space: list[str], ctxs: list[Values]
) -> None:
    text = Renderer(extra, space).render(tree)
    assume(len(text) <= expressions.MAX_LENGTH)
    with no_hang(10, "condition"):
        parsed = parse(text)  # any well-formed tree parses, whatever its types
    assert flatten(from_module(parsed)) == flatten(tree), text
    result = outcome(text)
    kind = ref_type(tree)
    event(f"type: {kind}")
    if kind == "bool":
        assert isinstance(result, Condition), f"{text!r}: {result}"
        variables, scenes = names_in(tree)
        assert result.variables == variables and result.scenes == scenes
        for ctx in ctxs:
            check_value(result, ctx)
            assert result.holds(ctx) is bool(ref_eval(tree, ctx)), (text, ctx)
    else:
        # a type error, or a number where true/false is needed: a diagnostic, never a crash
        assert isinstance(result, ConditionError), f"{text!r} ({kind}) compiled"
        assert result.offset < len(text) and not text[result.offset].isspace(), (text, result.offset)


@given(trees, st.sampled_from(["meter", "flag", "scene", "missing"]))
def test_unknown_and_misused_names_are_diagnostics(tree: tuple, swap: str) -> None:
    """The same trees against a scenario that names things differently: every name error is a
    ConditionError at the name, never a KeyError."""
    shuffled = {
        "meter": Names(frozenset(FLAGS), frozenset(METERS), frozenset(SCENES)),
        "flag": Names(frozenset(), frozenset(), frozenset(SCENES)),
        "scene": Names(frozenset(METERS), frozenset(FLAGS), frozenset(METERS + FLAGS)),
        "missing": Names(frozenset(), frozenset(), frozenset()),
    }[swap]
    text = Renderer([], []).render(tree)
    assume(len(text) <= expressions.MAX_LENGTH)
    result = outcome(text, shuffled)
    if isinstance(result, ConditionError):
        assert text[result.offset :].strip(), (text, result.offset)


# ---- 3. nesting and length beyond the limits ------------------------------------------------

NESTS = {
    "parens": lambda n: "(" * n + "asked" + ")" * n,
    "open parens": lambda n: "(" * n,
    "close parens": lambda n: "asked" + ")" * n,
    "not": lambda n: "not " * n + "asked",
    "not (": lambda n: "not (" * n + "asked" + ")" * n,
    "not-not-not": lambda n: "not" + " not" * n,
    "compare in parens": lambda n: "(" * n + "agitation > 1" + ")" * n,
    "flat or": lambda n: " or ".join(["asked"] * (n + 1)),
    "flat and of compares": lambda n: " and ".join(["rapport <= 3"] * (n + 1)),
    "minus": lambda n: "agitation > " + "-" * n + "1",
    "long number": lambda n: "agitation > " + "9" * n,
    "long name": lambda n: "a" * n + " > 1",
    "visited": lambda n: "visited(" * n + "arrival" + ")" * n,
    "spaces": lambda n: " " * n + "asked" + " " * n,
}
DEPTHS = [0, 1, 39, 40, 41, 100, 999, 1000, 10_000]


@pytest.mark.parametrize("shape", sorted(NESTS))
def test_deep_and_long_conditions_with_the_length_cap(shape: str) -> None:
    for n in DEPTHS:
        text = NESTS[shape](n)
        result = outcome(text)
        if len(text) > expressions.MAX_LENGTH:
            assert isinstance(result, ConditionError) and "longer than" in result.message


@pytest.fixture
def no_length_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lift the 1,000-character cap: the depth guard and the number conversion must hold on
    their own (the cap is a limit for authors, not what keeps the parser safe)."""
    monkeypatch.setattr(expressions, "MAX_LENGTH", 10**7)


@pytest.mark.parametrize("shape", sorted(NESTS))
def test_deep_and_long_conditions_without_the_length_cap(shape: str, no_length_cap: None, soak: bool) -> None:
    for n in [*DEPTHS, 100_000] if soak else DEPTHS:
        text = NESTS[shape](n)
        result = outcome(text)
        if isinstance(result, Condition):
            check_value(result, Values({m: 5 for m in METERS}, {f: True for f in FLAGS}, {}))


def test_a_huge_number_is_a_diagnostic_not_a_value_error(no_length_cap: None) -> None:
    """Regression: with more than 4,300 digits Python's int() raises ValueError; a literal
    that long must be a ConditionError at the number."""
    text = "agitation > " + "9" * 5000
    result = outcome(text)
    assert isinstance(result, ConditionError) and result.offset == len("agitation > ")


@given(
    st.lists(st.sampled_from(sorted(NESTS)), min_size=1, max_size=3),
    st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=3),
    st.sampled_from([" and ", " or ", "", " "]),
)
def test_mixed_deep_shapes_without_the_length_cap(
    no_length_cap: None, shapes: list[str], depths: list[int], joint: str
) -> None:
    text = joint.join(NESTS[s](d) for s, d in zip(shapes, depths * 3, strict=False))
    result = outcome(text)
    if isinstance(result, Condition):
        check_value(result, Values({m: 0 for m in METERS}, {f: False for f in FLAGS}, {"arrival": 1}))


# ---- 4. conditions inside a scenario file ---------------------------------------------------

SCENARIO = HEADER + """\
start: arrival
scenes:
  arrival:
    choices:
      - {id: go, text: Go, to: home}
      - id: wait
        text: Wait
        to: home
        if: CONDITION
  home:
    end: {rating: good, outcome: Done.}
"""

condition_texts = st.one_of(
    token_soup(),
    trees.map(lambda t: Renderer([], []).render(t)),
    st.sampled_from(["asked", "rapport > 1 and not asked", "visited(arrival)", "rapport", "agitaton > 1"]),
)


@example('agitation > 1 and "x"', "single")
@example("agitation > 3 and asked.x", "plain")
@example("rapport", "double")
@given(condition_texts, st.sampled_from(["double", "single", "plain"]))
def test_a_condition_in_a_scenario_file_is_a_one_line_diagnostic_at_its_column(
    tmp_path_factory: pytest.TempPathFactory, text: str, quoting: str
) -> None:
    text = " ".join(text.split()) or "asked"  # one line, as a flow value would read it
    assume(text.isprintable() and unicodedata.normalize("NFC", text) == text)
    if quoting == "double":
        assume("\\" not in text and '"' not in text)
        value = f'"{text}"'
    elif quoting == "single":
        value = "'" + text.replace("'", "''") + "'"
    else:
        assume(text[:1].isalnum() and not any(c in text for c in ":#'\"[]{},&*!|>%@`"))
        assume(isinstance(resolve_plain(text), str))
        value = text
    path = tmp_path_factory.mktemp("cond") / "cond-fuzz.yaml"
    source = SCENARIO.replace("CONDITION", value)
    path.write_text(source, encoding="utf-8")
    with no_hang(20, "scenario"):
        result = load_scenario(path)
    for d in result.diagnostics:
        assert "\n" not in d.format(), d.format()
    bad = [d for d in result.diagnostics if d.code == "bad-condition"]
    expected = outcome(
        text, Names(frozenset({"agitation", "rapport"}), frozenset({"asked"}), frozenset({"arrival", "home"}))
    )
    event(f"{quoting}: {'a condition' if isinstance(expected, Condition) else 'a diagnostic'}")
    if isinstance(expected, Condition):
        assert not bad, [d.format() for d in bad]
        return
    assert len(bad) == 1, [d.format() for d in result.diagnostics]
    d = bad[0]
    line = source.splitlines()[d.line - 1]
    assert line.lstrip().startswith("if:"), d.format()
    if "'" in text or "\\" in text:
        return  # text that may hold escapes is not mapped column for column: the column is the value's
    assert line[d.col - 1 :].startswith(text[expected.offset :].rstrip()), (d.format(), line)
