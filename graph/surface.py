"""The loss surface: the graph's output over a grid of one or two inputs, vectorised.

:func:`compile_grid` turns the evaluator's forward plan into numpy array operations, so
a 100 x 100 grid is one pass over the nodes with 10,000-element arrays, not 10,000
engine calls. Every op follows the same IEEE rules as :mod:`graph.ops` (``1/0`` is inf,
``log(-1)`` is nan...), so a grid value equals ``evaluate`` at that point (to the last
bit or so: numpy's ``exp``/``log`` may round differently from ``math``'s).

:func:`surface` samples the output over ranges of one or two inputs (the others held at
their current values); :func:`tangent` gives the slope at the current point;
:func:`descent_path` runs gradient descent ``x <- x - eta * grad`` with the engine's
gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from graph.errors import GraphError
from graph.evaluate import evaluate
from graph.model import Graph
from graph.plans import backward_plan, forward_plan
from graph.safe_math import or_zero

#: Largest grid side accepted (a 1000 x 1000 grid is 8 MB per node).
MAX_STEPS = 1000


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # The stable form of graph.safe_math.stable_sigmoid, picked per element.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _relu(x: np.ndarray) -> np.ndarray:
    return np.where((x > 0) | np.isnan(x), x, 0.0)


def _max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(a) | np.isnan(b), np.nan, np.where(a >= b, a, b))


def _min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(a) | np.isnan(b), np.nan, np.where(a <= b, a, b))


def _power(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    # graph.safe_math.safe_pow's rule, for -inf too: numpy gives inf or nan there, depending on
    # whether it takes its sqrt fast path for b = 0.5.
    with np.errstate(invalid="ignore"):
        out = np.power(a, b)
    bad = (np.asarray(a) < 0) & np.isfinite(b) & (np.asarray(b) != np.floor(b))
    return np.where(bad, np.nan, out)


def _choose(sel: np.ndarray, *xs: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(sel, *xs).shape, np.nan)
    for k, x in enumerate(xs, 1):
        out = np.where(sel == k, x, out)
    return out


#: numpy forms of the op table's forward functions (params passed as keywords).
NUMPY_FORWARD: dict[str, Callable[..., np.ndarray]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "neg": np.negative,
    "pow": _power,
    "powc": lambda x, exponent: _power(x, exponent),
    "square": lambda x: x * x,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": _relu,
    "max": _max,
    "min": _min,
    "copy": lambda x: x,
    "choose": lambda sel, *xs, n=2: _choose(sel, *xs),
}


GridFunction = Callable[[Mapping[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class CompiledGraph:
    """The graph's forward pass as numpy operations over arrays (see :func:`compile_values`).

    ``run(arrays)`` returns every node's value, indexed by ``index[node id]``: an array for
    nodes that depend on a given input, a float for the others (only nodes the output
    depends on are computed; the rest stay None).
    """

    output: str
    index: Mapping[str, int]
    run: Callable[[Mapping[str, np.ndarray]], list]


def compile_values(graph: Graph, output: str | None = None) -> CompiledGraph:
    """Compile the forward plan for ``output`` (default: the graph's) into numpy steps.
    GraphError if the output cannot be computed."""
    plan, _ = forward_plan(graph)
    back = backward_plan(graph, output)
    out = back.output
    if out is None:
        raise GraphError(f"cannot compute the output: {back.problem}")
    if out in plan.blocked:
        raise GraphError(f"cannot compute the output: {plan.blocked[out]}")
    needed = graph.ancestors(out) | {out}
    leaves = [(i, nid, graph.node(nid).leaf_value) for i, nid in plan.leaves if nid in needed]
    steps = []
    for e in plan.ops:
        if e.node_id not in needed:
            continue
        n = graph.node(e.node_id)
        fn = NUMPY_FORWARD[n.op]
        params = dict(n.params)
        if n.op == "choose":
            params = {"n": int(params.get("n", 2))}
        steps.append((e.index, fn, e.ins, params))
    size = len(plan.order)

    def run(arrays: Mapping[str, np.ndarray]) -> list:
        vals: list = [None] * size
        for i, nid, v in leaves:
            vals[i] = np.asarray(arrays[nid], dtype=float) if nid in arrays else or_zero(v)
        with np.errstate(all="ignore"):
            for index, fn, ins, params in steps:
                vals[index] = fn(*[vals[j] for j in ins], **params)
        return vals

    return CompiledGraph(out, plan.index, run)


def compile_grid(graph: Graph, output: str | None = None) -> GridFunction:
    """A function ``{input id: array} -> output array`` evaluating the graph elementwise.

    Inputs not given keep their current value (broadcast). Arrays of any one shape are
    accepted; the result has that shape. GraphError if the output cannot be computed.
    """
    try:
        compiled = compile_values(graph, output)
    except GraphError as exc:
        message = str(exc).replace("cannot compute the output", "cannot draw the surface")
        raise GraphError(message) from None
    out_index = compiled.index[compiled.output]

    def run(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        shape = np.broadcast_shapes(*(np.shape(a) for a in arrays.values())) if arrays else ()
        result = np.asarray(compiled.run(arrays)[out_index], dtype=float)
        return np.broadcast_to(result, shape).copy() if result.shape != shape else result

    return run


@dataclass(frozen=True)
class Surface:
    """The output sampled over a grid.

    ``xs`` has shape (nx,); for two inputs ``ys`` has shape (ny,) and ``z`` (ny, nx)
    (row i is y = ys[i]); for one input ``ys`` is None and ``z`` has shape (nx,).
    ``x``/``y`` are input ids; ``output`` the output's id.
    """

    output: str
    x: str
    y: str | None
    xs: np.ndarray
    ys: np.ndarray | None
    z: np.ndarray


def default_range(value: float) -> tuple[float, float]:
    """A range around ``value``: ±3, widened to ±|value| for large values."""
    v = float(value) if math.isfinite(value) else 0.0
    half = max(3.0, abs(v))
    return v - half, v + half


def check_range(lo: float, hi: float, what: str = "range") -> tuple[float, float]:
    """``(lo, hi)`` as floats if finite with lo < hi, else GraphError."""
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise GraphError(f"the {what} must be two finite numbers LO < HI, got {lo:g}:{hi:g}")
    return lo, hi


def surface(
    graph: Graph,
    x: str,
    y: str | None = None,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    steps: int = 100,
    output: str | None = None,
) -> Surface:
    """Sample the output over ``steps`` points per axis of input ``x`` (and ``y``).

    Ranges default to :func:`default_range` of the input's current value; every other
    input keeps its current value. GraphError for a bad input id, range or step count.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= MAX_STEPS:
        raise GraphError(f"steps must be a whole number from 2 to {MAX_STEPS}, got {steps!r}")
    for nid in (x, y):
        if nid is not None and (nid not in graph or graph.node(nid).op != "input"):
            raise GraphError(f"{nid!r} is not an input of the graph")
    if y == x:
        raise GraphError("pick two different inputs for a contour plot")
    run = compile_grid(graph, output)
    out = backward_plan(graph, output).output
    assert out is not None
    xr = check_range(*(x_range or default_range(or_zero(graph.node(x).value))), "x range")
    xs = np.linspace(xr[0], xr[1], steps)
    if y is None:
        return Surface(out, x, None, xs, None, run({x: xs}))
    yr = check_range(*(y_range or default_range(or_zero(graph.node(y).value))), "y range")
    ys = np.linspace(yr[0], yr[1], steps)
    gx, gy = np.meshgrid(xs, ys)
    return Surface(out, x, y, xs, ys, run({x: gx, y: gy}))


def tangent(graph: Graph, x: str, output: str | None = None) -> tuple[float, float, float]:
    """``(x0, L0, slope)`` at the current point: the slope is the engine's dL/dx."""
    result = evaluate(graph, output)
    if result.problem is not None or result.value is None:
        raise GraphError(f"cannot compute the tangent: {result.problem}")
    x0 = or_zero(graph.node(x).value)
    return x0, result.value, result.grads.get(x, 0.0)


def descent_path(
    graph: Graph,
    inputs: tuple[str, ...],
    eta: float,
    steps: int,
    start: Mapping[str, float] | None = None,
    output: str | None = None,
) -> list[tuple[tuple[float, ...], float]]:
    """Gradient descent on ``inputs``: ``x <- x - eta * dL/dx``, ``steps`` times.

    Returns ``steps + 1`` points ``((x1, x2...), L)`` starting at ``start`` (default:
    the current values). Stops early where a value or gradient becomes nan/inf.
    """
    if not (math.isfinite(eta) and eta > 0):
        raise GraphError(f"the learning rate must be a positive number, got {eta!r}")
    point = {nid: float((start or {}).get(nid, or_zero(graph.node(nid).value))) for nid in inputs}
    path = []
    for k in range(steps + 1):
        r = evaluate(graph, output, point)
        if r.problem is not None or r.value is None:
            raise GraphError(f"cannot run gradient descent: {r.problem}")
        path.append((tuple(point[nid] for nid in inputs), r.value))
        grads = [r.grads.get(nid, 0.0) for nid in inputs]
        if k == steps or not all(math.isfinite(v) for v in [r.value, *grads]):
            break
        point = {nid: point[nid] - eta * g for nid, g in zip(inputs, grads, strict=True)}
    return path
