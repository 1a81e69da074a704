"""The condition language used by ``if:`` keys.

    agitation >= 7 and not asked_about_suicide
    visits(first_words) < 2 or (rapport > 4 and visited(bridge))

Grammar (``not`` binds tighter than ``and``, which binds tighter than ``or``)::

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := atom (("<"|"<="|"=="|"!="|">="|">") atom)?
    atom    := INT | "-" INT | "true" | "false" | NAME | FUNC "(" NAME ")" | "(" expr ")"

Names are meters (numbers) and flags (true/false); ``visited(scene)`` is true/false and
``visits(scene)`` a number. Everything is parsed and type-checked once, when the scenario is
loaded, and compiled to small closures: there is no ``eval`` and nothing else can be called.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

MAX_LENGTH = 1000
MAX_DEPTH = 40

Type = Literal["number", "bool"]


class ConditionError(Exception):
    """A syntax, name or type error; ``offset`` is the 0-based position in the text."""

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.message = message
        self.offset = offset


class Context(Protocol):
    """What a condition reads: meter values, flag values and scene visit counts."""

    @property
    def meters(self) -> Mapping[str, int]: ...
    @property
    def flags(self) -> Mapping[str, bool]: ...
    @property
    def visits(self) -> Mapping[str, int]: ...


class Values(NamedTuple):
    """A plain Context."""

    meters: Mapping[str, int]
    flags: Mapping[str, bool]
    visits: Mapping[str, int]


class Names(NamedTuple):
    """The names a condition may use, from the scenario."""

    meters: frozenset[str]
    flags: frozenset[str]
    scenes: frozenset[str]


class _Tok(NamedTuple):
    kind: str  # INT NAME OP LP RP END
    text: str
    pos: int


_TOKEN = re.compile(
    r"\s*(?:(?P<INT>[0-9]+)|(?P<NAME>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<OP><=|>=|==|!=|<|>|-)|(?P<LP>\()|(?P<RP>\)))"
)
_KEYWORDS = {"and", "or", "not", "true", "false"}
_FUNCS = {"visited": "bool", "visits": "number"}
KEYWORDS = frozenset(_KEYWORDS)
"""Words of the language: no meter, flag or scene can be called one of these."""
FUNCTIONS = frozenset(_FUNCS)
"""Function names: reserved for meters and flags too, so a condition reads one way."""
_HINTS = {
    "&": "use 'and' instead of '&&'",
    "|": "use 'or' instead of '||'",
    "!": "use 'not' (and '!=' for not-equal)",
    "=": "use '==' to compare",
    ".": "attribute access is not allowed; conditions can only name meters, flags and scenes",
    "[": "indexing is not allowed; conditions can only name meters, flags and scenes",
    ",": "',' is not used: visited(...) and visits(...) take one scene id",
    "+": "arithmetic is not supported; compare values directly",
    "*": "arithmetic is not supported; compare values directly",
    "/": "arithmetic is not supported; compare values directly",
    "%": "arithmetic is not supported; compare values directly",
    "'": "quotes are not needed; scene names in visited(...) are written bare",
    '"': "quotes are not needed; scene names in visited(...) are written bare",
}


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    end = len(text.rstrip())
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            bad_at = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            ch = text[bad_at]
            if ch == "!" and text[bad_at : bad_at + 2] != "!=":
                hint = _HINTS["!"]
            elif ch == "=" and text[bad_at : bad_at + 2] != "==":
                hint = _HINTS["="]
            else:
                hint = _HINTS.get(ch, "conditions use numbers, names, comparisons, and/or/not")
            raise ConditionError(f"unexpected character {ch!r}: {hint}", bad_at)
        kind = m.lastgroup or ""
        word = m.group(kind)
        if kind == "NAME" and word.lower() != word and (word.lower() in _KEYWORDS or word.lower() in _FUNCS):
            lower = word.lower()
            raise ConditionError(
                f"conditions are case-sensitive: write lowercase '{lower}', not '{word}'", m.start(kind)
            )
        tokens.append(_Tok(kind, word, m.start(kind)))
        pos = m.end()
    tokens.append(_Tok("END", "", len(text)))
    return tokens


# ---- AST -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    pos: int


@dataclass(frozen=True, slots=True)
class Const(Node):
    value: int | bool


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Call(Node):
    func: str
    scene: str


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    op: Literal["and", "or"]
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def word(self, w: str) -> bool:
        return self.tok.kind == "NAME" and self.tok.text == w

    def parse(self) -> Node:
        if self.tok.kind == "END":
            raise ConditionError("the condition is empty", 0)
        node = self.expr()
        if self.tok.kind != "END":
            tok = self.tok
            raise ConditionError(f"unexpected {tok.text!r}; expected 'and', 'or' or the end", tok.pos)
        return node

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(f"the condition is nested more than {MAX_DEPTH} deep", self.tok.pos)

    def expr(self) -> Node:
        self.nest()
        first = self.and_()
        items = [first]
        while self.word("or"):
            self.take()
            items.append(self.and_())
        self.depth -= 1
        return first if len(items) == 1 else BoolOp(first.pos, "or", tuple(items))

    def and_(self) -> Node:
        first = self.not_()
        items = [first]
        while self.word("and"):
            self.take()
            items.append(self.not_())
        return first if len(items) == 1 else BoolOp(first.pos, "and", tuple(items))

    def not_(self) -> Node:
        if self.word("not"):
            tok = self.take()
            self.nest()
            operand = self.not_()
            self.depth -= 1
            return Not(tok.pos, operand)
        return self.compare()

    def compare(self) -> Node:
        left = self.atom()
        if self.tok.kind == "OP" and self.tok.text == "-":
            raise ConditionError(_HINTS["+"], self.tok.pos)
        if self.tok.kind == "OP":
            op = self.take()
            right = self.atom()
            if self.tok.kind == "OP":
                raise ConditionError("comparisons cannot be chained; join them with 'and'", self.tok.pos)
            return Compare(op.pos, op.text, left, right)
        return left

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "INT":
            return Const(tok.pos, _number(tok))
        if tok.kind == "OP" and tok.text == "-" and self.tok.kind == "INT":
            num = self.take()
            return Const(tok.pos, -_number(num))
        if tok.kind == "LP":
            node = self.expr()
            if self.tok.kind != "RP":
                raise ConditionError("missing ')'", self.tok.pos)
            self.take()
            return node
        if tok.kind == "NAME":
            if tok.text in ("true", "false"):
                return Const(tok.pos, tok.text == "true")
            if tok.text in _KEYWORDS:
                raise ConditionError(f"'{tok.text}' needs a value before it", tok.pos)
            if self.tok.kind == "LP":
                return self.call(tok)
            return Name(tok.pos, tok.text)
        if tok.kind == "END":
            raise ConditionError("the condition ends too early; a value is missing", tok.pos)
        raise ConditionError(f"unexpected {tok.text!r}; expected a number, a name or '('", tok.pos)

    def call(self, func: _Tok) -> Node:
        if func.text not in _FUNCS:
            raise ConditionError(
                f"'{func.text}(...)' cannot be called; conditions can only call visited(scene) and visits(scene)",
                func.pos,
            )
        self.take()  # (
        arg = self.take()
        if arg.kind != "NAME" or arg.text in _KEYWORDS:
            raise ConditionError(f"{func.text}(...) takes one scene id", arg.pos)
        if self.tok.kind != "RP":
            raise ConditionError(f"{func.text}(...) takes one scene id; missing ')'", self.tok.pos)
        self.take()
        return Call(func.pos, func.text, arg.text)


def _number(tok: _Tok) -> int:
    """The value of an INT token. Python refuses to convert more than 4,300 digits (ValueError);
    the length cap keeps literals shorter, but the parser must not rely on it."""
    try:
        return int(tok.text)
    except ValueError:
        raise ConditionError(f"the number {tok.text[:12]}... is too large", tok.pos) from None


# ---- checking and compiling -----------------------------------------------------------------

_ORDER_OPS: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_EQ_OPS: dict[str, Callable[[object, object], bool]] = {"==": operator.eq, "!=": operator.ne}

Evaluator = Callable[[Context], "int | bool"]


def _suggest(name: str, names: Names) -> str:
    from simulator.diagnostics import did_you_mean

    return did_you_mean(name, [*names.meters, *names.flags])


def _compile(node: Node, names: Names) -> tuple[Type, Evaluator]:
    if isinstance(node, Const):
        value = node.value
        return ("bool" if isinstance(value, bool) else "number"), (lambda ctx: value)
    if isinstance(node, Name):
        name = node.name
        if name in names.meters:
            return "number", (lambda ctx: ctx.meters[name])
        if name in names.flags:
            return "bool", (lambda ctx: ctx.flags[name])
        if name in names.scenes:
            raise ConditionError(f"'{name}' is a scene; write visited({name}) or visits({name})", node.pos)
        raise ConditionError(
            f"unknown name '{name}': not a meter or flag of this scenario{_suggest(name, names)}",
            node.pos,
        )
    if isinstance(node, Call):
        scene = node.scene
        if scene not in names.scenes:
            from simulator.diagnostics import did_you_mean

            raise ConditionError(
                f"unknown scene '{scene}' in {node.func}(...){did_you_mean(scene, names.scenes)}",
                node.pos,
            )
        if node.func == "visited":
            return "bool", (lambda ctx: ctx.visits.get(scene, 0) > 0)
        return "number", (lambda ctx: ctx.visits.get(scene, 0))
    if isinstance(node, Not):
        kind, inner = _compile(node.operand, names)
        _expect(kind, "bool", node.operand, "'not' needs true/false")
        return "bool", (lambda ctx: not inner(ctx))
    if isinstance(node, BoolOp):
        parts = []
        for operand in node.operands:
            kind, fn = _compile(operand, names)
            _expect(kind, "bool", operand, f"'{node.op}' joins true/false conditions")
            parts.append(fn)
        funcs = tuple(parts)
        if node.op == "and":
            return "bool", (lambda ctx: all(f(ctx) for f in funcs))
        return "bool", (lambda ctx: any(f(ctx) for f in funcs))
    if isinstance(node, Compare):
        lkind, left = _compile(node.left, names)
        rkind, right = _compile(node.right, names)
        if node.op in _ORDER_OPS:
            _expect(lkind, "number", node.left, f"'{node.op}' compares numbers")
            _expect(rkind, "number", node.right, f"'{node.op}' compares numbers")
            order = _ORDER_OPS[node.op]
            return "bool", (lambda ctx: order(left(ctx), right(ctx)))
        if lkind != rkind:
            raise ConditionError(
                f"'{node.op}' compares {_KIND_WORDS[lkind]} with {_KIND_WORDS[rkind]}; compare like with like", node.pos
            )
        eq = _EQ_OPS[node.op]
        return "bool", (lambda ctx: eq(left(ctx), right(ctx)))
    raise ConditionError("unsupported expression", node.pos)  # pragma: no cover


_KIND_WORDS: dict[Type, str] = {"number": "a number", "bool": "a true/false value"}


def _expect(kind: Type, want: Type, node: Node, why: str) -> None:
    if kind != want:
        what = "a number" if kind == "number" else "true/false"
        raise ConditionError(f"{why}, but this is {what}", node.pos)


@dataclass(frozen=True)
class Condition:
    """A parsed, checked condition. Call ``holds(ctx)`` to evaluate it."""

    source: str
    tree: Node
    _fn: Evaluator

    def holds(self, ctx: Context) -> bool:
        return bool(self._fn(ctx))

    @property
    def variables(self) -> frozenset[str]:
        """Meters and flags the condition reads."""
        return frozenset(n.name for n in iter_nodes(self.tree) if isinstance(n, Name))

    @property
    def scenes(self) -> frozenset[str]:
        """Scenes whose visit counts the condition reads."""
        return frozenset(n.scene for n in iter_nodes(self.tree) if isinstance(n, Call))

    def __str__(self) -> str:
        return self.source


def iter_nodes(node: Node) -> Iterator[Node]:
    """Every node of a tree, depth first."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Not):
            stack.append(current.operand)
        elif isinstance(current, BoolOp):
            stack.extend(current.operands)
        elif isinstance(current, Compare):
            stack.extend((current.left, current.right))


def parse(text: str) -> Node:
    """Parse without name checks (raises ConditionError)."""
    if not isinstance(text, str):
        raise ConditionError("a condition must be text", 0)
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"the condition is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    return _Parser(text).parse()


def compile_condition(text: str, names: Names) -> Condition:
    """Parse, name-check and type-check a condition; it must be true/false."""
    tree = parse(text)
    kind, fn = _compile(tree, names)
    if kind != "bool":
        raise ConditionError(
            f"this condition is a number, not true/false; compare it, e.g. '{' '.join(text.split())} > 0'",
            tree.pos,
        )
    return Condition(text, tree, fn)
