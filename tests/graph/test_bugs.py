"""A planted bug: a wrong local derivative used in the backward pass only, found by the
numeric gradient check; typed formulas parsed safely; hidden in the file."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph import fileformat
from graph.bugs import (
    BUG_KEY,
    KINDS,
    compile_expr,
    decode,
    make_bug,
    plantable,
    planted,
    right_formula,
    suggestion,
)
from graph.errors import GraphEditError
from graph.evaluate import Stepper, evaluate
from graph.examples import build_example
from graph.gradcheck import gradcheck


def _plant(g, name, port, kind, expr=None):
    node = g.node(g.id_of(name))
    bug = make_bug(g, node.id, port, kind, expr or suggestion(node, port, kind))
    g.set_meta(BUG_KEY, bug.encode())
    return bug


@pytest.mark.parametrize("kind", ["sign", "factor", "input"])
def test_each_kind_changes_the_backward_pass_only_and_the_check_exposes_it(kind):
    g = build_example("f4")
    right = evaluate(g)
    assert gradcheck(g).worst < 1e-7
    _plant(g, "p", 0, kind)
    wrong = evaluate(g)
    assert repr(wrong.values) == repr(right.values)  # forward is untouched
    assert wrong.grads[g.id_of("w1")] != right.grads[g.id_of("w1")]
    assert wrong.grads[g.id_of("y")] == right.grads[g.id_of("y")]  # y is after p
    assert gradcheck(g).worst > 1e-3
    g.set_meta(BUG_KEY, None)
    assert repr(evaluate(g).grads) == repr(right.grads)


def test_a_typed_formula_is_used_and_the_stepper_follows_the_change():
    g = build_example("f1")
    stepper = Stepper(g, publish=False)
    before = stepper.run_all().grads[g.id_of("w")]
    _plant(g, "wx", 0, "expr", "2 * b")  # d(w*x)/dw = x, here 2x
    after = Stepper(g, publish=False).run_all().grads[g.id_of("w")]
    assert math.isclose(after, 2 * before)
    assert stepper.run_all().grads[g.id_of("w")] == after  # the old stepper rebuilt itself


def test_the_bug_is_saved_hidden_and_comes_back(tmp_path):
    g = build_example("f4")
    bug = _plant(g, "z", 1, "sign")
    g.set_meta("practice", {"enabled": True, "tolerance": 0.01})
    path = tmp_path / "hunt.json"
    fileformat.save(g, path)
    text = path.read_text()
    assert "sign" not in text and "-1" not in text.split('"meta"')[1]
    loaded = fileformat.load(path)
    assert planted(loaded) == bug
    assert repr(evaluate(loaded).grads) == repr(evaluate(g).grads)


def test_suggestions_and_right_formulas():
    g = build_example("f4")
    p = g.node(g.id_of("p"))
    assert right_formula(p, 0) == "out * (1 - out)"
    assert suggestion(p, 0, "factor") == "out"
    assert suggestion(p, 0, "input") == "x * (1 - x)"
    assert suggestion(g.node(g.id_of("s")), 0, "sign") == "-1"
    assert plantable(g.node(g.id_of("w1"))) == []  # an input has no local derivative
    f3 = build_example("f3")
    assert plantable(f3.node(f3.id_of("p"))) == []  # choose: a branch, not a formula


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "only numbers"),
        ("a.real", "only numbers"),
        ("(lambda: 1)()", "only numbers"),
        ("open('x')", "only numbers"),
        ("q + 1", "unknown name 'q'"),
        ("a +", "does not parse"),
        ("", "type a formula"),
        ("a" * 300, "at most 200"),
        ("a if b else 1", "only numbers"),
    ],
)
def test_typed_formulas_are_parsed_never_run(text, message):
    with pytest.raises(GraphEditError, match=message):
        compile_expr(text, ("a", "b", "out"))


def test_bad_bugs_are_refused_and_unreadable_meta_is_ignored():
    g = build_example("f4")
    with pytest.raises(GraphEditError, match="unknown kind"):
        make_bug(g, g.id_of("p"), 0, "typo", "1")
    with pytest.raises(GraphEditError, match="no port 3"):
        make_bug(g, g.id_of("p"), 3, "sign", "1")
    g.set_meta(BUG_KEY, "not base64!")
    assert planted(g) is None and decode(12) is None
    assert gradcheck(g).worst < 1e-7


_atoms = st.sampled_from(["a", "b", "out", "1", "0", "2.5", "-a"])


@st.composite
def formulas(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(_atoms)
    kind = draw(st.sampled_from(["bin", "fn", "neg"]))
    if kind == "bin":
        op = draw(st.sampled_from(["+", "-", "*", "/", "**"]))
        return f"({draw(formulas(depth - 1))} {op} {draw(formulas(depth - 1))})"
    if kind == "fn":
        fn = draw(st.sampled_from(["exp", "log", "sqrt", "abs", "tanh", "sigmoid"]))
        return f"{fn}({draw(formulas(depth - 1))})"
    return f"-{draw(formulas(depth - 1))}"


@settings(max_examples=200, deadline=None)
@given(formulas(), st.floats(-1e3, 1e3), st.floats(-1e3, 1e3), st.floats(-1e3, 1e3))
def test_any_allowed_formula_evaluates_without_raising(text, a, b, out):
    fn = compile_expr(text, ("a", "b", "out"))
    assert isinstance(fn({"a": a, "b": b, "out": out}), float)


def test_every_kind_has_a_label():
    from graph.bugs import KIND_LABELS

    assert set(KIND_LABELS) == set(KINDS)
