"""Forward/backward: closed forms for f1-f3, functions.py vs engine, fan-out, the stepper."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph import functions
from graph.evaluate import BackwardRecord, ForwardRecord, Stepper, evaluate, forward
from graph.examples import build_example, load_example
from graph.model import Graph

_X = st.floats(-5, 5, allow_nan=False)


def _close(a: float, b: float, rel: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-15)


def _with(name: str, **values: float) -> Graph:
    g = build_example(name)
    for k, v in values.items():
        g.set_value(g.id_of(k), v)
    return g


def _grad(g: Graph, result, name: str) -> float:
    return result.grads.get(g.id_of(name), 0.0)


@given(_X, _X, _X, _X)
def test_f1_matches_closed_form(w, x, b, y):
    g = _with("f1", w=w, x=x, b=b, y=y)
    r = evaluate(g)
    d = w * x + b - y
    assert _close(r.value, d * d)
    assert _close(_grad(g, r, "w"), 2 * d * x)
    assert _close(_grad(g, r, "x"), 2 * d * w)
    assert _close(_grad(g, r, "b"), 2 * d)
    assert _close(_grad(g, r, "y"), -2 * d)


@given(st.floats(-3, 3, allow_nan=False))
def test_f2_is_tanh_with_derivative_one_minus_tanh_squared(x):
    g = _with("f2", x=x)
    r = evaluate(g)
    t = math.tanh(x)
    assert math.isclose(r.value, t, rel_tol=1e-12, abs_tol=1e-15)
    assert math.isclose(_grad(g, r, "x"), 1 - t * t, rel_tol=1e-11, abs_tol=1e-15)


def _stable_softmax_ce(s1: float, s2: float, y: int) -> tuple[float, float, float]:
    m = max(s1, s2)
    z1, z2 = math.exp(s1 - m), math.exp(s2 - m)
    p1, p2 = z1 / (z1 + z2), z2 / (z1 + z2)
    loss = -(s1 if y == 1 else s2) + m + math.log(z1 + z2)
    return loss, p1 - (y == 1), p2 - (y == 2)


@pytest.mark.parametrize("y", [1, 2])
def test_f3_matches_stable_softmax_cross_entropy(y):
    @given(st.floats(-20, 20, allow_nan=False), st.floats(-20, 20, allow_nan=False))
    def check(s1, s2):
        g = _with("f3", s1=s1, s2=s2, y=float(y))
        r = evaluate(g)
        loss, g1, g2 = _stable_softmax_ce(s1, s2, y)
        assert math.isclose(r.value, loss, rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(_grad(g, r, "s1"), g1, rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(_grad(g, r, "s2"), g2, rel_tol=1e-9, abs_tol=1e-12)
        assert g.id_of("y") not in r.grads  # the selector gets no gradient

    check()


_F_ARGS = {
    "f1": st.tuples(_X, _X, _X, _X),
    "f2": st.tuples(st.floats(-3, 3, allow_nan=False)),
    "f3": st.tuples(_X, _X, st.sampled_from([1, 2])),
    "f4": st.tuples(_X, _X, _X, _X, _X, _X),
}


@pytest.mark.parametrize("name", sorted(_F_ARGS))
def test_hand_written_functions_agree_with_the_engine(name):
    fn = getattr(functions, name)

    @given(_F_ARGS[name])
    def check(args):
        g = build_example(name)
        for node_id, v in zip(g.inputs(), args, strict=True):
            g.set_value(node_id, float(v))
        r = evaluate(g)
        loss, grads = fn(*args)
        assert math.isclose(r.value, loss, rel_tol=1e-12, abs_tol=1e-15)
        names = [g.node(i).name for i in g.inputs()]
        if name == "f3":
            names = ["s1", "s2"]
        for n, expected in zip(names, grads, strict=True):
            assert math.isclose(_grad(g, r, n), expected, rel_tol=1e-9, abs_tol=1e-12), n

    check()


def test_builtin_files_are_the_seed_graphs():
    for name in ("f1", "f2", "f3", "f4"):
        assert load_example(name).same_as(build_example(name))
    f3 = load_example("f3")
    assert {n.name for n in f3.nodes()} >= {"e1", "e2", "d", "p1", "p2", "L"}
    f4 = load_example("f4")
    assert sum(1 for n in f4.nodes() if not n.is_leaf) >= 5


def test_fan_out_gradients_sum():
    # y = x*x + exp(x) + copy-fed tanh: x feeds four ports; dy/dx sums them all.
    g = Graph()
    x = g.add_node("input", "x", 0.7)
    sq = g.add_node("mul", "sq")
    e = g.add_node("exp", "e")
    c = g.add_node("copy", "c")
    t = g.add_node("tanh", "t")
    s1 = g.add_node("add", "s1")
    s2 = g.add_node("add", "s2")
    for src, dst, port in [
        (x, sq, 0),
        (x, sq, 1),
        (x, e, 0),
        (x, c, 0),
        (c, t, 0),
        (sq, s1, 0),
        (e, s1, 1),
        (s1, s2, 0),
        (t, s2, 1),
    ]:
        g.connect(src, dst, port)
    r = evaluate(g)
    xv = 0.7
    expected = 2 * xv + math.exp(xv) + (1 - math.tanh(xv) ** 2)
    assert math.isclose(r.grads[x], expected, rel_tol=1e-14)
    st_ = Stepper(g, publish=False)
    st_.run_all()
    record = next(rec for rec in st_.history if rec.phase == "backward" and rec.node == c)
    assert record.upstream == 1 - math.tanh(xv) ** 2
    # The stepper shows each consumer's contribution to x; they sum to dL/dx.
    parts = [
        eg.contribution
        for rec in st_.history
        if rec.phase == "backward"
        for eg in rec.edges
        if eg.src == x
    ]
    assert len(parts) == 4
    assert math.isclose(sum(parts), r.grads[x], rel_tol=1e-14)


def test_stepper_all_the_way_forward_and_back_restores_the_initial_state():
    g = load_example("f3")
    s = Stepper(g)
    initial = (
        dict(s.values),
        dict(s.grads),
        dict(s.contributions),
        dict(s.local_grads),
        s.nonfinite,
        s.phase,
    )
    published_initial = g.evaluation
    records = []
    while (rec := s.step_forward()) is not None:
        records.append(rec)
    while (rec := s.step_backward()) is not None:
        records.append(rec)
    assert s.phase == "done" and s.position == (8, 8)
    assert len(s.local_grads) == 13 and g.evaluation.local_grads == dict(s.local_grads)
    assert len(records) == 16
    undone = []
    while (rec := s.step_back()) is not None:
        undone.append(rec)
    assert undone == list(reversed(records))
    assert len(s.local_grads) == 0 and initial[3] == {}
    now = (
        dict(s.values),
        dict(s.grads),
        dict(s.contributions),
        dict(s.local_grads),
        s.nonfinite,
        s.phase,
    )
    assert now == initial
    assert g.evaluation.values == dict(s.values) and g.evaluation.phase == "idle"
    assert published_initial.grads == {} or all(v is None for v in g.evaluation.grads.values())


def test_stepper_numbers_equal_evaluate_and_records_explain_each_edge():
    g = load_example("f3")
    s = Stepper(g)
    result = s.run_all()
    fast = evaluate(g)
    assert result.value == fast.value
    assert result.grads == dict(fast.grads)
    assert g.evaluation.grads[g.id_of("s1")] == fast.grads[g.id_of("s1")]
    back = [r for r in s.history if isinstance(r, BackwardRecord)]
    assert back[0].name == "L" and back[0].upstream == 1.0 and back[0].upstream_parts == ()
    for rec in back:
        assert math.isclose(rec.upstream, fast.grads[rec.node], rel_tol=1e-15)
        for eg in rec.edges:
            if not eg.no_grad:
                assert eg.contribution == eg.upstream * eg.local
    p1 = next(r for r in back if r.name == "p1")
    assert p1.describe() == f"backward {p1.index}/8: p1 = e1 / d"
    choose = next(r for r in back if r.name == "p")
    sel = choose.edges[0]
    assert sel.no_grad and sel.local == 0.0 and "no gradient" in sel.describe()
    d = next(r for r in back if r.name == "d")
    assert len(d.upstream_parts) == 2  # d fans out to p1 and p2
    assert math.isclose(sum(c.value for c in d.upstream_parts), d.upstream, rel_tol=1e-15)
    assert "×" in d.explain()[1]
    fwd = [r for r in s.history if isinstance(r, ForwardRecord)]
    assert fwd[0].describe().startswith("forward 1/8: e1 = exp(s1) = 2.718")


def test_step_back_undoes_exactly_one_step():
    g = load_example("f1")
    s = Stepper(g)
    s.run_all()
    full = (dict(s.values), dict(s.grads))
    rec = s.step_back()
    assert rec.phase == "backward" and s.position == (3, 4)
    assert s.step_backward() == rec
    assert (dict(s.values), dict(s.grads)) == full


def test_backward_needs_a_finished_forward_and_an_output():
    g = load_example("f1")
    s = Stepper(g)
    assert s.step_backward() is None
    s.step_forward()
    assert not s.can_step_backward and s.step_backward() is None
    g2 = Graph()
    g2.add_node("input", "a")
    g2.add_node("input", "b")
    s2 = Stepper(g2)
    assert s2.run_all().grads == {}
    assert "several sinks" in s2.problem


def test_edit_after_steps_restarts_on_next_step():
    g = load_example("f1")
    s = Stepper(g)
    s.run_all()
    g.set_value(g.id_of("w"), 0.0)
    assert g.evaluation.stale and not s.can_step_back
    rec = s.step_forward()
    assert rec.index == 1 and not g.evaluation.stale
    assert s.run_all().value == evaluate(g).value


def test_nonfinite_values_are_flagged_where_they_first_appear_and_nothing_raises():
    g = Graph()
    x = g.add_node("input", "x", -1.0)
    lg = g.add_node("log", "lg")
    z = g.add_node("const", "z", 0.0)
    dv = g.add_node("div", "dv")
    out = g.add_node("add", "out")
    g.connect(x, lg, 0)
    g.connect(x, dv, 0)
    g.connect(z, dv, 1)
    g.connect(lg, out, 0)
    g.connect(dv, out, 1)
    r = evaluate(g)
    assert math.isnan(r.value)
    assert r.nonfinite_forward == {lg, dv}  # not `out`: its inputs were already bad
    s = Stepper(g)
    s.run_all()
    flagged = [rec.node for rec in s.history if rec.nonfinite]
    assert set(flagged) >= {lg, dv} and out not in flagged
    assert g.nonfinite >= {lg, dv}


def test_backward_flags_an_infinite_local_derivative():
    g = Graph()
    x = g.add_node("input", "x", 0.0)
    sq = g.add_node("sqrt", "r")
    g.connect(x, sq, 0)
    r = evaluate(g)
    assert r.value == 0.0 and r.grads[x] == math.inf
    assert r.nonfinite_backward == {sq}


def test_unconnected_port_blocks_only_what_depends_on_it():
    g = Graph()
    x = g.add_node("input", "x", 2.0)
    e = g.add_node("exp", "e")
    m = g.add_node("mul", "m")
    g.connect(x, e, 0)
    g.connect(e, m, 0)
    values = forward(g)
    assert values[e] == math.exp(2.0) and values[m] is None
    r = evaluate(g)
    assert "no input on port b" in r.problem and r.grads == {}


def test_a_leaf_output_has_gradient_one():
    g = Graph()
    x = g.add_node("input", "x", 3.0)
    r = evaluate(g)
    assert r.value == 3.0 and r.grads == {x: 1.0}
    s = Stepper(g)
    s.run_all()
    assert s.grads[x] == 1.0 and s.phase == "done"
