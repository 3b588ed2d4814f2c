"""Issue 9, case 15 for the graph loader and the program parser: fuzzing with hypothesis.

Only GraphError subclasses may escape, whatever the input. The suite runs
``fuzz_examples()`` inputs per test; ``make fuzz`` runs 10,000.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph import fileformat
from graph.errors import GraphError
from graph.evaluate import evaluate
from graph.examples import example_path
from graph.program import from_program
from tests.conftest import fuzz_examples

FUZZ = settings(
    max_examples=fuzz_examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

_VALID_TEXT = example_path("f3").read_text()
_VALID = json.loads(_VALID_TEXT)

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["nan", "inf", "-inf", "n1", "n4", "x", "a", "input", "add", "choose"]),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


def _accepts_only_graph_errors(load, data) -> None:
    try:
        graph = load(data)
    except GraphError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    evaluate(graph)  # whatever loads also evaluates without raising


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_graph_loader_with_random_bytes(data):
    _accepts_only_graph_errors(fileformat.loads, data)


@FUZZ
@given(_json)
def test_fuzz_graph_loader_with_random_json(data):
    _accepts_only_graph_errors(fileformat.from_dict, data)
    _accepts_only_graph_errors(fileformat.loads, json.dumps(data))


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


_ALL_PATHS = [p for p in _paths(_VALID) if p]


@st.composite
def mutated_graph_files(draw):
    data = json.loads(_VALID_TEXT)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_ALL_PATHS))
        target = data
        try:
            for key in path[:-1]:
                target = target[key]
            action = draw(st.sampled_from(["replace", "delete", "duplicate"]))
            if action == "replace":
                target[path[-1]] = draw(_json)
            elif action == "delete":
                del target[path[-1]]
            elif isinstance(target, list):
                target.append(target[path[-1]])
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    return data


@FUZZ
@given(mutated_graph_files())
def test_fuzz_graph_loader_with_mutated_valid_files(data):
    _accepts_only_graph_errors(fileformat.from_dict, data)


@FUZZ
@given(st.binary(max_size=200), st.integers(0, len(_VALID_TEXT)))
def test_fuzz_graph_loader_with_corrupted_bytes(noise, at):
    raw = _VALID_TEXT.encode()
    _accepts_only_graph_errors(fileformat.loads, raw[:at] + noise + raw[at + len(noise) :])


_TOKENS = [
    "a",
    "b",
    "x",
    "y",
    "L",
    "c",
    "Value",
    "(",
    ")",
    "2.0",
    "-1",
    "0",
    "1e400",
    "3",
    "+",
    "-",
    "*",
    "/",
    "**",
    "//",
    "%",
    "=",
    "+=",
    "*=",
    "-=",
    ".relu()",
    ".exp()",
    ".tanh()",
    ".log()",
    "tanh(",
    "exp(",
    "max(",
    "min(",
    "pow(",
    "sigmoid(",
    "abs(",
    ",",
    "\n",
    " ",
    "import math",
    "math.",
    "print(",
    ".backward()",
    "if",
    "for",
    "lambda",
    ":",
    "[",
    "]",
    "'s'",
    ".label",
    "x.data",
    "Value(",
    "label=",
    "def",
    "return",
    "\t",
    "#",
    "@",
    "\\",
    "9" * 30,
    "_",
    ";",
]


@FUZZ
@given(st.lists(st.sampled_from(_TOKENS), max_size=40))
def test_fuzz_program_parser_with_token_soup(tokens):
    _accepts_only_graph_errors(from_program, "".join(tokens))


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_program_parser_with_random_text(text):
    _accepts_only_graph_errors(from_program, text)


_PROGRAM = """a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
g.backward()
"""


@FUZZ
@given(st.integers(0, len(_PROGRAM)), st.integers(0, 8), st.text(max_size=8))
def test_fuzz_program_parser_with_edited_programs(at, cut, insert):
    _accepts_only_graph_errors(from_program, _PROGRAM[:at] + insert + _PROGRAM[at + cut :])


def test_deep_and_long_programs_are_refused_or_built_cleanly():
    _accepts_only_graph_errors(from_program, "x = " + "(" * 100_000 + "1" + ")" * 100_000)
    _accepts_only_graph_errors(from_program, "x = " + "-" * 100_000 + "1.0")
    _accepts_only_graph_errors(from_program, "x = 1.0\ny = " + " + ".join(["x"] * 20_000))
    _accepts_only_graph_errors(from_program, "x = 1" + "0" * 5000)
    _accepts_only_graph_errors(from_program, "x = tanh(" * 3000 + "1.0" + ")" * 3000)
