"""The condition language: parsing, checking, evaluation, and robustness."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.expressions import ConditionError, Names, Values, compile_condition, parse

NAMES = Names(frozenset({"agitation", "rapport"}), frozenset({"asked", "armed"}), frozenset({"arrival", "bridge"}))
CTX = Values({"agitation": 6, "rapport": 2}, {"asked": True, "armed": False}, {"arrival": 2})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("agitation >= 6", True),
        ("agitation > 6", False),
        ("agitation < 7 and rapport <= 2", True),
        ("agitation == 6 and rapport != 2", False),
        ("not armed", True),
        ("not not asked", True),
        ("armed or asked", True),
        ("armed or not asked", False),
        ("visited(arrival)", True),
        ("visited(bridge)", False),
        ("visits(arrival) == 2", True),
        ("visits(bridge) < 1", True),
        ("(armed or asked) and agitation > 5", True),
        ("armed or asked and agitation > 9", False),  # and binds tighter than or
        ("not armed and asked", True),  # not binds tighter than and
        ("rapport > -1", True),
        ("asked == true", True),
        ("armed != false", False),
        ("true", True),
        ("  agitation>=6  ", True),
    ],
)
def test_evaluation(text, expected):
    assert compile_condition(text, NAMES).holds(CTX) is expected


@pytest.mark.parametrize(
    ("text", "offset", "words"),
    [
        ("", 0, "empty"),
        ("agitaton > 1", 0, "did you mean 'agitation'"),
        ("agitation", 0, "is a number"),
        ("arrival", 0, "is a scene"),
        ("agitation > ", 12, "ends too early"),
        ("agitation >> 2", 11, "expected a number"),
        ("a < b < c", 6, "cannot be chained"),
        ("agitation = 3", 10, "'=='"),
        ("agitation && asked", 10, "'and'"),
        ("agitation || asked", 10, "'or'"),
        ("!asked", 0, "'not'"),
        ("agitation + 1 > 2", 10, "arithmetic"),
        ("agitation - 1 > 2", 10, "arithmetic"),
        ("__import__(os)", 0, "cannot be called"),
        ("().__class__", 2, "attribute access"),
        ("x.y", 1, "attribute access"),
        ("open('f')", 5, "quotes"),
        ("visited(nowhere)", 0, "unknown scene 'nowhere'"),
        ("visited(arival)", 0, "did you mean 'arrival'"),
        ("visited()", 8, "one scene id"),
        ("visited(arrival, bridge)", 15, "one scene id"),
        ("asked == 1", 6, "compares"),
        ("agitation and asked", 0, "'and' joins true/false"),
        ("not agitation", 4, "'not' needs true/false"),
        ("(asked", 6, "missing ')'"),
        ("asked)", 5, "unexpected ')'"),
        ("and asked", 0, "needs a value"),
        ("asked asked", 6, "unexpected 'asked'"),
        ("(" * 60 + "asked" + ")" * 60, 40, "nested"),
        ("asked or " * 200 + "asked", 1000, "longer than"),
    ],
)
def test_errors_name_the_problem_and_its_position(text, offset, words):
    with pytest.raises(ConditionError) as info:
        compile_condition(text, NAMES)
    assert words in info.value.message
    assert info.value.offset == offset


@pytest.mark.parametrize(
    ("text", "offset", "words"),
    [
        ("True", 0, "write lowercase 'true'"),
        ("False", 0, "write lowercase 'false'"),
        ("asked AND armed", 6, "write lowercase 'and'"),
        ("asked Or armed", 6, "write lowercase 'or'"),
        ("NOT asked", 0, "write lowercase 'not'"),
        ("Visited(bridge)", 0, "write lowercase 'visited'"),
    ],
)
def test_capitalised_words_get_a_lowercase_hint(text, offset, words):
    with pytest.raises(ConditionError) as info:
        compile_condition(text, NAMES)
    assert words in info.value.message
    assert "unknown name" not in info.value.message
    assert info.value.offset == offset


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("asked == 1", "'==' compares a true/false value with a number; compare like with like"),
        ("rapport != armed", "'!=' compares a number with a true/false value"),
    ],
)
def test_mixed_comparison_says_true_false_not_bool(text, words):
    with pytest.raises(ConditionError) as info:
        compile_condition(text, NAMES)
    assert words in info.value.message
    assert "bool" not in info.value.message


def test_condition_reports_what_it_reads():
    cond = compile_condition("agitation > 3 and visited(bridge) or not asked", NAMES)
    assert cond.variables == {"agitation", "asked"}
    assert cond.scenes == {"bridge"}
    assert str(cond) == "agitation > 3 and visited(bridge) or not asked"


TOKENS = [
    "agitation",
    "rapport",
    "asked",
    "armed",
    "visited(arrival)",
    "visits(bridge)",
    "and",
    "or",
    "not",
    "(",
    ")",
    "<",
    "<=",
    "==",
    "!=",
    ">=",
    ">",
    "-",
    "0",
    "7",
    "true",
    "false",
    "x",
    ".",
    "__import__",
    "'",
    "&&",
    "=",
    "+",
]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_any_text_gives_a_condition_or_a_condition_error(text):
    try:
        cond = compile_condition(text, NAMES)
    except ConditionError as exc:
        assert 0 <= exc.offset <= max(len(text), 1000)
    else:
        assert cond.holds(CTX) in (True, False)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=15))
def test_any_token_sequence_gives_a_condition_or_a_condition_error(tokens):
    text = " ".join(tokens)
    try:
        cond = compile_condition(text, NAMES)
    except ConditionError:
        return
    assert cond.holds(CTX) in (True, False)


def _ast(depth: int) -> st.SearchStrategy[str]:
    """Random well-formed boolean conditions (as text)."""
    number = st.sampled_from(["agitation", "rapport", "visits(arrival)", "3", "-2", "0"])
    leaf = st.one_of(
        st.sampled_from(["asked", "armed", "true", "false", "visited(bridge)"]),
        st.builds(
            lambda a, op, b: f"{a} {op} {b}", number, st.sampled_from(["<", "<=", "==", "!=", ">=", ">"]), number
        ),
    )
    if depth == 0:
        return leaf
    sub = _ast(depth - 1)
    return st.one_of(
        leaf,
        st.builds(lambda a: f"not {a}", sub),
        st.builds(lambda a: f"({a})", sub),
        st.builds(lambda a, op, b: f"{a} {op} {b}", sub, st.sampled_from(["and", "or"]), sub),
    )


def _reference(text: str) -> bool:
    """Evaluate with Python's own semantics on a translated string, as an independent oracle
    (only ever fed the generated grammar above, never user input)."""
    py = text.replace("visited(bridge)", "False").replace("visits(arrival)", "2")
    py = py.replace("true", "True").replace("false", "False")
    env = {"agitation": 6, "rapport": 2, "asked": True, "armed": False}
    return bool(eval(py, {"__builtins__": {}}, env))


@settings(max_examples=300, deadline=None)
@given(_ast(3))
def test_random_well_formed_conditions_match_python_semantics(text):
    assert compile_condition(text, NAMES).holds(CTX) is _reference(text)


def test_parse_rejects_non_text():
    with pytest.raises(ConditionError):
        parse(42)  # type: ignore[arg-type]
