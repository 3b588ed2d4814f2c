"""The op table: local derivatives against central differences, IEEE edge cases, docs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.errors import GraphError
from graph.ops import OPS, get_op, op_names
from graph.opspec import format_number


def _num(lo: float, hi: float) -> st.SearchStrategy[float]:
    # Rounded to 4 decimals: no subnormals, which central differences cannot resolve.
    return st.floats(lo, hi, allow_nan=False).map(lambda v: round(v, 4))


def _away_from(values: st.SearchStrategy[float], point: float, gap: float = 1e-3):
    return values.filter(lambda v: abs(v - point) > gap)


_WIDE = _num(-10, 10)
_POS = _num(0.01, 100)
_EXPONENTS = st.sampled_from([-2.0, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0, 3.0])
_INT_EXPONENTS = st.sampled_from([-2.0, -1.0, 1.0, 2.0, 3.0])
_UNTIED = st.tuples(_WIDE, _WIDE).filter(lambda ab: abs(ab[0] - ab[1]) > 1e-3)

# op -> strategy of (inputs, params). Domains keep central differences well conditioned:
# away from kinks and poles, and where |f| / |f'| is moderate.
DOMAINS: dict[str, st.SearchStrategy] = {
    "add": st.tuples(st.tuples(_WIDE, _WIDE), st.just({})),
    "sub": st.tuples(st.tuples(_WIDE, _WIDE), st.just({})),
    "mul": st.tuples(st.tuples(_WIDE, _WIDE), st.just({})),
    "div": st.tuples(st.tuples(_WIDE, st.one_of(_num(0.1, 10), _num(-10, -0.1))), st.just({})),
    "neg": st.tuples(st.tuples(_WIDE), st.just({})),
    "pow": st.tuples(
        st.tuples(
            st.one_of(_num(0.1, 0.9), _num(1.1, 5)),
            st.one_of(_num(0.1, 3), _num(-3, -0.1)),
        ),
        st.just({}),
    ),
    "powc": st.one_of(
        st.tuples(st.tuples(_num(0.1, 5)), _EXPONENTS.map(lambda p: {"exponent": p})),
        st.tuples(st.tuples(_num(-5, -0.1)), _INT_EXPONENTS.map(lambda p: {"exponent": p})),
    ),
    "square": st.tuples(st.tuples(_WIDE), st.just({})),
    "exp": st.tuples(st.tuples(_WIDE), st.just({})),
    "log": st.tuples(st.tuples(_POS), st.just({})),
    "sqrt": st.tuples(st.tuples(_POS), st.just({})),
    "abs": st.tuples(st.tuples(_away_from(_WIDE, 0.0)), st.just({})),
    "tanh": st.tuples(st.tuples(_num(-3, 3)), st.just({})),
    "sigmoid": st.tuples(st.tuples(_num(-5, 5)), st.just({})),
    "relu": st.tuples(st.tuples(_away_from(_WIDE, 0.0)), st.just({})),
    "max": st.tuples(_UNTIED, st.just({})),
    "min": st.tuples(_UNTIED, st.just({})),
    "copy": st.tuples(st.tuples(_WIDE), st.just({})),
    "choose": st.integers(2, 5).flatmap(
        lambda n: st.tuples(
            st.integers(1, n).flatmap(
                lambda k: st.lists(_WIDE, min_size=n, max_size=n).map(lambda xs: (float(k), *xs))
            ),
            st.just({"n": n}),
        )
    ),
}


def _numeric_partial(fwd, args: list[float], i: int) -> float:
    x = args[i]
    h = 1e-6 * max(1.0, abs(x))
    hi = list(args)
    lo = list(args)
    hi[i] = x + h
    lo[i] = x - h
    # Divide by the step actually taken, not 2h: x + h and x - h are rounded.
    return (fwd(*hi) - fwd(*lo)) / (hi[i] - lo[i])


def _rel(a: float, n: float) -> float:
    if a == n:
        return 0.0
    return abs(a - n) / max(abs(a) + abs(n), 1e-300)


def test_every_non_leaf_op_has_a_derivative_domain():
    non_leaf = {name for name, spec in OPS.items() if not spec.is_leaf}
    assert non_leaf == set(DOMAINS)


@pytest.mark.parametrize("op", sorted(DOMAINS))
def test_local_derivatives_match_central_differences(op):
    spec = OPS[op]

    @given(DOMAINS[op])
    def check(case):
        args, params = case
        fwd, local = spec.bind(params)
        out = fwd(*args)
        partials = local(*args, out)
        assert len(partials) == spec.arity(params) == len(args)
        ports = spec.port_names(params)
        for i, port in enumerate(ports):
            if port in spec.no_grad_ports:
                assert partials[i] == 0.0
                continue
            numeric = _numeric_partial(fwd, list(args), i)
            assert _rel(partials[i], numeric) < 1e-7, (op, args, params, port, partials[i])

    check()


@pytest.mark.parametrize(
    ("op", "args", "expected"),
    [
        ("div", (1.0, 0.0), math.inf),
        ("div", (-1.0, 0.0), -math.inf),
        ("div", (1.0, -0.0), -math.inf),
        ("div", (0.0, 0.0), math.nan),
        ("log", (0.0,), -math.inf),
        ("log", (-1.0,), math.nan),
        ("sqrt", (-4.0,), math.nan),
        ("exp", (1000.0,), math.inf),
        ("exp", (-1000.0,), 0.0),
        ("pow", (-8.0, 1 / 3), math.nan),
        ("pow", (0.0, -1.0), math.inf),
        ("pow", (10.0, 400.0), math.inf),
        ("pow", (-10.0, 401.0), -math.inf),
        ("sigmoid", (-1000.0,), 0.0),
        ("sigmoid", (1000.0,), 1.0),
        ("relu", (math.nan,), math.nan),
        ("max", (math.nan, 1.0), math.nan),
        ("min", (1.0, math.nan), math.nan),
    ],
)
def test_forward_follows_ieee_instead_of_raising(op, args, expected):
    value = OPS[op].forward(*args)
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == expected


def test_powc_exponent_param_and_overflow():
    fwd, local = OPS["powc"].bind({"exponent": 0.5})
    assert fwd(9.0) == 3.0
    assert local(0.0, 0.0) == (math.inf,)
    fwd0, local0 = OPS["powc"].bind({"exponent": 0.0})
    assert fwd0(0.0) == 1.0 and local0(0.0, 1.0) == (0.0,)
    big, _ = OPS["powc"].bind({"exponent": 3.0})
    assert big(1e200) == math.inf


@pytest.mark.parametrize(
    ("op", "args", "expected"),
    [
        ("relu", (0.0,), (0.0,)),
        ("abs", (0.0,), (0.0,)),
        ("max", (2.0, 2.0), (1.0, 0.0)),
        ("min", (2.0, 2.0), (1.0, 0.0)),
    ],
)
def test_values_at_non_differentiable_points_are_the_documented_ones(op, args, expected):
    spec = OPS[op]
    assert spec.local(*args, spec.forward(*args)) == expected
    assert spec.kink is not None and spec.kink(*args)
    assert "Not differentiable" in spec.doc and "the engine uses" in spec.doc
    assert spec.tooltip() == spec.doc


def test_choose_picks_by_one_based_selector_and_selector_gets_no_gradient():
    fwd, local = OPS["choose"].bind({"n": 3})
    assert fwd(1.0, 10.0, 20.0, 30.0) == 10.0
    assert fwd(3.0, 10.0, 20.0, 30.0) == 30.0
    assert local(2.0, 10.0, 20.0, 30.0, 20.0) == (0.0, 0.0, 1.0, 0.0)
    for bad in (0.0, 4.0, 1.5, math.nan, math.inf):
        assert math.isnan(fwd(bad, 10.0, 20.0, 30.0))
    assert OPS["choose"].no_grad_ports == frozenset({"sel"})
    assert OPS["choose"].port_names({"n": 3}) == ("sel", "x1", "x2", "x3")


def test_table_entries_are_complete():
    for name in op_names():
        spec = get_op(name)
        assert spec.name == name and spec.symbol and spec.doc
        if not spec.is_leaf:
            assert len(spec.port_names(spec.default_params())) >= 1
    assert {"input", "const", "copy", "choose", "powc", "pow"} <= set(OPS)
    with pytest.raises(GraphError, match="unknown op 'foo'"):
        get_op("foo")


def test_labels_and_formulas():
    assert OPS["powc"].label({"exponent": 2.0}) == "^2"
    assert OPS["const"].label({"value": 0.5}) == "0.5"
    assert OPS["div"].format_expr(["e1", "d"]) == "e1 / d"
    assert OPS["choose"].format_expr(["y", "p1", "p2"], {"n": 2}) == "choose(y: p1, p2)"
    assert format_number(3.0) == "3" and format_number(math.nan) == "nan"
