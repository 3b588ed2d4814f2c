"""The checks themselves, run inside the child process next to the user's modules.

Each ``check_<function>`` calls the user's function (through ``UserCode.call``) at several
random points and at the hard ones, and compares every returned value with the app's own
implementation (f1-f3: ``nets.homework.references``; layers and classifiers: ``nets.mlp``)
and every gradient with central differences (``nets.mlp.gradcheck.numeric_gradient``).
Where a backward pass needs its forward pass, central differences use the user's forward
when it agrees with the app's, else the app's, so one bug fails one function.
"""

from __future__ import annotations

import contextlib
import inspect
import zlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np

from nets.homework.compare import BadReturn, Tally, unpack_pair, unpack_sequence
from nets.homework.references import REFERENCES
from nets.homework.results import Check, FunctionResult
from nets.homework.usercode import UserCode, UserCodeError
from nets.mlp import layers as app_layers
from nets.mlp.classifiers import TwoLayerNet as AppTwoLayerNet
from nets.mlp.gradcheck import CLASSIFIER_THRESHOLD, LAYER_THRESHOLD, numeric_gradient, rel_error
from nets.mlp.step import training_step as app_training_step

#: f1-f3 have no threshold in the seed; their errors are near 1e-12 when right.
SCALAR_THRESHOLD = 1e-9
#: The seed: "depending on the functions in your graph, you may see errors >= 1e-8 even
#: with a correct backward pass. This is ok!"
F4_THRESHOLD = 1e-6
LAYER_NAMES = tuple(app_layers.__all__)


class Context:
    """One function's check: the user's module, their code runner and a seeded rng."""

    def __init__(self, code: UserCode, module: ModuleType, function: str) -> None:
        self.code = code
        self.module = module
        self.function = function
        self.rng = np.random.default_rng(zlib.crc32(function.encode()))
        self.notes: list[str] = []

    def fn(self, name: str | None = None) -> Callable[..., Any]:
        return getattr(self.module, name or self.function)

    def call(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.code.call(label, fn, *args, **kwargs)

    def randn(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape)


@contextlib.contextmanager
def app_layers_in(module: ModuleType) -> Iterator[bool]:
    """Use the app's layer functions inside ``module`` (their names imported with
    ``from layers import ...``) while checking that module's own code; True if any."""
    saved = {n: module.__dict__[n] for n in LAYER_NAMES if callable(module.__dict__.get(n))}
    try:
        module.__dict__.update({n: getattr(app_layers, n) for n in saved})
        yield bool(saved)
    finally:
        module.__dict__.update(saved)


_APP_LAYERS_NOTE = (
    "checked with the app's layer functions in place of yours, so only this code's own "
    "logic is tested (your layers are checked on their own)"
)


# ---------------------------------------------------------------------- f1 to f4


def _scalar_checks(
    ctx: Context,
    arg_names: list[str],
    grad_names: list[str],
    points: list[tuple[Any, ...]],
    numeric_points: list[tuple[Any, ...]],
    differentiable: list[int],
    threshold: float,
) -> list[Check]:
    name = ctx.function
    fn = ctx.fn()
    reference = REFERENCES.get(name)
    tally = Tally(threshold)
    what = f"{name}({', '.join(arg_names)})"
    for point in points:
        L, grads = unpack_pair(ctx.call(what, fn, *point), name, "L, grads")
        grads = unpack_sequence(grads, grad_names, f"{name}'s grads")
        inputs = dict(zip(arg_names, point, strict=True))
        if reference is not None:
            ref_L, ref_grads = reference(*point)
            tally.compare("L", "app", ref_L, L, inputs)
            for g_name, ref, got in zip(grad_names, ref_grads, grads, strict=True):
                tally.compare(g_name, "app", ref, got, inputs)
    for point in numeric_points:
        _, grads = unpack_pair(ctx.call(what, fn, *point), name, "L, grads")
        grads = unpack_sequence(grads, grad_names, f"{name}'s grads")
        x = np.array([point[i] for i in differentiable], dtype=np.float64)

        def loss(x: np.ndarray = x, point: tuple[Any, ...] = point) -> float:
            args = list(point)
            for slot, i in enumerate(differentiable):
                args[i] = float(x[slot])
            L, _ = unpack_pair(ctx.call(what, fn, *args), name, "L, grads")
            try:
                return float(L)
            except (TypeError, ValueError):
                raise BadReturn(f"{name}'s L is {type(L).__name__}, not a number") from None

        numeric = numeric_gradient(loss, x)
        inputs = dict(zip(arg_names, point, strict=True))
        for slot, i in enumerate(differentiable):
            tally.compare(grad_names[i], "numeric", numeric[slot], grads[i], inputs)
    return tally.checks()


def check_f1(ctx: Context) -> list[Check]:
    args = ["x1", "w1", "x2", "w2", "b", "y"]
    rand = [tuple(float(v) for v in ctx.rng.normal(0, 2, 6)) for _ in range(4)]
    exact = (1.0, 2.0, 3.0, -1.0, 0.5, -0.5)  # y_hat == y: L and every gradient are 0
    large = (300.0, -20.0, 0.25, 4000.0, 7.0, -1e3)
    return _scalar_checks(
        ctx,
        args,
        [f"grad_{a}" for a in args],
        [*rand, exact, large],
        rand,
        list(range(6)),
        SCALAR_THRESHOLD,
    )


def check_f2(ctx: Context) -> list[Check]:
    rand = [(float(v),) for v in ctx.rng.normal(0, 1, 4)]
    hard = [(0.0,), (-3.0,), (5.0,)]
    return _scalar_checks(
        ctx, ["x"], ["grad_x"], [*rand, *hard], [*rand, (-3.0,)], [0], SCALAR_THRESHOLD
    )


def check_f3(ctx: Context) -> list[Check]:
    s = ctx.rng.normal(0, 2, (4, 2))
    rand = [(float(a), float(b), y) for (a, b), y in zip(s, (1, 2, 1, 2), strict=True)]
    hard = [(0.5, 0.5, 1), (0.5, 0.5, 2), (4.0, -3.0, 1), (4.0, -3.0, 2)]
    return _scalar_checks(
        ctx,
        ["s1", "s2", "y"],
        ["grad_s1", "grad_s2"],
        [*rand, *hard],
        [*rand, *hard[2:]],
        [0, 1],
        SCALAR_THRESHOLD,
    )


def check_f4(ctx: Context) -> list[Check]:
    fn = ctx.fn()
    params = list(inspect.signature(fn).parameters.values())
    if any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        raise BadReturn("f4 takes *args or keyword-only inputs: the check needs plain inputs")
    if not params:
        raise BadReturn("f4 takes no inputs: there is no gradient to check")
    names = [p.name for p in params]
    # Positive inputs keep log, sqrt and division of a student's own graph defined.
    points = [tuple(float(v) for v in ctx.rng.uniform(0.5, 2.0, len(names))) for _ in range(3)]
    ctx.notes.append(
        f"f4 has no reference: only central differences, threshold {F4_THRESHOLD:g} "
        "(the seed allows errors above 1e-8 for some graphs)"
    )
    return _scalar_checks(
        ctx,
        names,
        [f"grad_{n}" for n in names],
        [],
        points,
        list(range(len(names))),
        F4_THRESHOLD,
    )


# ---------------------------------------------------------------------- layers


def _numeric_vs(
    tally: Tally,
    value: str,
    forward: Callable[[], Any],
    x: np.ndarray,
    grad_out: np.ndarray | None,
    analytic: Any,
    inputs: dict[str, Any],
) -> None:
    """Compare ``analytic`` with d(sum(forward() * grad_out))/dx (or d forward()/dx)."""

    def f() -> float:
        out = np.asarray(forward(), dtype=np.float64)
        return float(np.sum(out * grad_out)) if grad_out is not None else float(out)

    tally.compare(value, "numeric", numeric_gradient(f, x), analytic, inputs)


def _forward_for_numeric(
    ctx: Context, name: str, app_fn: Callable[..., Any], args: tuple[np.ndarray, ...]
) -> Callable[[], Any]:
    """The forward pass central differences go through: the user's if it matches the
    app's at ``args``, else the app's (noted), so a forward bug does not fail backward."""
    user = ctx.fn(name) if hasattr(ctx.module, name) else None
    expected = app_fn(*[a.copy() for a in args])[0]
    if user is not None:
        try:
            got = unpack_pair(ctx.call(name, user, *[a.copy() for a in args]), name, "out, cache")[
                0
            ]
            if np.shape(got) == np.shape(expected) and rel_error(expected, got) < LAYER_THRESHOLD:
                return lambda: unpack_pair(ctx.call(name, user, *args), name, "out, cache")[0]
        except (UserCodeError, BadReturn, TypeError, ValueError):
            pass
    note = f"central differences use the app's {name}: yours does not match it"
    if note not in ctx.notes:
        ctx.notes.append(note)
    return lambda: app_fn(*args)[0]


def _user_forward(ctx: Context, name: str, *args: np.ndarray) -> Any:
    """The cache of the user's forward pass, which their backward pass needs."""
    if not hasattr(ctx.module, name):
        raise BadReturn(f"{ctx.function} needs {name} from the same file, which is missing")
    _, cache = unpack_pair(
        ctx.call(name, ctx.fn(name), *[a.copy() for a in args]), name, "out, cache"
    )
    return cache


def check_fc_forward(ctx: Context) -> list[Check]:
    tally = Tally(LAYER_THRESHOLD)
    for n, d, m in ((4, 5, 3), (1, 7, 2), (6, 3, 8)):
        x, w, b = ctx.randn(n, d), ctx.randn(d, m), ctx.randn(m)
        expected = app_layers.fc_forward(x.copy(), w.copy(), b.copy())[0]
        out, _ = unpack_pair(
            ctx.call("fc_forward", ctx.fn(), x.copy(), w.copy(), b.copy()),
            "fc_forward",
            "out, cache",
        )
        tally.compare("out", "app", expected, out, {"x": x, "w": w, "b": b})
    return tally.checks()


def check_fc_backward(ctx: Context) -> list[Check]:
    tally = Tally(LAYER_THRESHOLD)
    names = ["grad_x", "grad_w", "grad_b"]
    for n, d, m in ((4, 5, 3), (2, 6, 4)):
        x, w, b = ctx.randn(n, d), ctx.randn(d, m), ctx.randn(m)
        grad_out = ctx.randn(n, m)
        inputs = {"grad_out": grad_out, "x": x, "w": w, "b": b}
        expected = app_layers.fc_backward(grad_out.copy(), (x.copy(), w.copy()))
        cache = _user_forward(ctx, "fc_forward", x, w, b)
        grads = unpack_sequence(
            ctx.call("fc_backward", ctx.fn(), grad_out.copy(), cache), names, "fc_backward"
        )
        forward = _forward_for_numeric(ctx, "fc_forward", app_layers.fc_forward, (x, w, b))
        for value, ref, got, arr in zip(names, expected, grads, (x, w, b), strict=True):
            tally.compare(value, "app", ref, got, inputs)
            _numeric_vs(tally, value, forward, arr, grad_out, got, inputs)
    return tally.checks()


def _relu_points(ctx: Context) -> list[np.ndarray]:
    with_zeros = ctx.randn(4, 5)
    with_zeros[::2, ::2] = 0.0  # exact zeros: ReLU's kink
    return [ctx.randn(3, 4), with_zeros, ctx.randn(2, 3, 2)]


def check_relu_forward(ctx: Context) -> list[Check]:
    tally = Tally(LAYER_THRESHOLD)
    for x in _relu_points(ctx):
        out, _ = unpack_pair(
            ctx.call("relu_forward", ctx.fn(), x.copy()), "relu_forward", "out, cache"
        )
        tally.compare("out", "app", app_layers.relu_forward(x.copy())[0], out, {"x": x})
    return tally.checks()


def check_relu_backward(ctx: Context) -> list[Check]:
    tally = Tally(LAYER_THRESHOLD)
    points = _relu_points(ctx)
    away = ctx.randn(4, 5)
    away += np.sign(away) * 0.1  # central differences need to stay clear of the kink
    for x in [*points, away]:
        grad_out = ctx.randn(*x.shape)
        inputs = {"grad_out": grad_out, "x": x}
        expected = app_layers.relu_backward(grad_out.copy(), app_layers.relu_forward(x.copy())[1])
        cache = _user_forward(ctx, "relu_forward", x)
        got = ctx.call("relu_backward", ctx.fn(), grad_out.copy(), cache)
        check = tally.compare("grad_x", "app", expected, got, inputs)
        if not check.ok and check.got is not None and np.shape(check.got) == x.shape:
            differs = ~np.isclose(
                np.asarray(check.got, dtype=np.float64), expected, rtol=0, atol=1e-12
            )
            if differs.any() and np.all(x[differs] == 0):
                tally.explain(
                    "grad_x",
                    "app",
                    "differs only where x is exactly 0: there ReLU passes no gradient "
                    "(use x > 0, not x >= 0)",
                )
        if x is away:
            forward = _forward_for_numeric(ctx, "relu_forward", app_layers.relu_forward, (x,))
            _numeric_vs(tally, "grad_x", forward, x, grad_out, got, inputs)
    return tally.checks()


def _loss_checks(
    ctx: Context,
    app_fn: Callable[..., tuple[float, np.ndarray]],
    points: list[tuple[dict[str, Any], bool]],
    grad_name: str,
) -> Tally:
    """Loss functions: (loss, grad) against the app, and grad against central differences
    of the user's own loss (for points marked True)."""
    tally = Tally(LAYER_THRESHOLD)
    name = ctx.function
    fn = ctx.fn()
    for inputs, numeric in points:
        args = list(inputs.values())
        ref_loss, ref_grad = app_fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        loss, grad = unpack_pair(ctx.call(name, fn, *copies), name, f"loss, {grad_name}")
        tally.compare("loss", "app", ref_loss, loss, inputs)
        tally.compare(grad_name, "app", ref_grad, grad, inputs)
        if numeric:
            x = args[0].copy()
            rest = args[1:]

            def f(x: np.ndarray = x, rest: list[Any] = rest) -> float:
                value = unpack_pair(ctx.call(name, fn, x, *rest), name, "loss, grad")[0]
                return float(value)

            tally.compare(grad_name, "numeric", numeric_gradient(f, x), grad, inputs)
    return tally


def check_l2_loss(ctx: Context) -> list[Check]:
    points = [({"x": ctx.randn(4, 5), "y": ctx.randn(4, 5)}, True) for _ in range(2)]
    points.append(({"x": ctx.randn(1, 3), "y": ctx.randn(1, 3)}, True))
    return _loss_checks(ctx, app_layers.l2_loss, points, "grad").checks()


def check_softmax_loss(ctx: Context) -> list[Check]:
    rng = ctx.rng
    points: list[tuple[dict[str, Any], bool]] = [
        ({"x": ctx.randn(6, 4), "y": rng.integers(0, 4, 6)}, True),
        ({"x": ctx.randn(1, 3), "y": np.array([2])}, True),
        ({"x": np.zeros((3, 5)), "y": np.array([0, 4, 2])}, False),
    ]
    large = {"x": ctx.randn(5, 4) * 1e4, "y": rng.integers(0, 4, 5)}
    points.append((large, False))  # the seed's stability check: exp would overflow
    tally = _loss_checks(ctx, app_layers.softmax_loss, points, "grad")
    for value in ("loss", "grad"):
        check = tally.get(value, "app")
        if check is not None and not check.ok and np.max(np.abs(check.inputs["x"])) > 100:
            tally.explain(
                value,
                "app",
                "wrong for large scores: subtract each row's maximum before exp "
                "(the seed's stability trick)",
            )
    return tally.checks()


def check_l2_regularization(ctx: Context) -> list[Check]:
    points = [
        ({"w": ctx.randn(5, 3), "reg": 0.3}, True),
        ({"w": ctx.randn(2, 3, 4), "reg": 0.05}, True),
        ({"w": ctx.randn(4, 2), "reg": 0.0}, False),
    ]
    return _loss_checks(ctx, app_layers.l2_regularization, points, "grad_w").checks()


# ---------------------------------------------------------------------- classifiers

_DIMS = {"input_dim": 5, "num_classes": 4, "hidden_dim": 6}
_ROLES = {"W1": (5, 6), "b1": (6,), "W2": (6, 4), "b2": (4,)}


def _roles(params: Any, what: str) -> dict[str, str]:
    """Map W1/b1/W2/b2 to the user's parameter names, by shape."""
    if not isinstance(params, dict):
        raise BadReturn(
            f"{what} should return a dict of arrays; it returned {type(params).__name__}"
        )
    by_shape = {tuple(np.shape(v)): k for k, v in params.items()}
    missing = [r for r, shape in _ROLES.items() if shape not in by_shape]
    if missing or len(params) != len(_ROLES):
        shapes = {k: tuple(np.shape(v)) for k, v in params.items()}
        raise BadReturn(
            f"{what} for TwoLayerNet(input_dim=5, num_classes=4, hidden_dim=6) should hold "
            f"W1 (5, 6), b1 (6,), W2 (6, 4), b2 (4,); it holds {shapes}"
        )
    return {role: by_shape[shape] for role, shape in _ROLES.items()}


def check_two_layer_net(ctx: Context, own_layers: bool = False) -> list[Check]:
    """TwoLayerNet against the app's and central differences; ``own_layers`` keeps the
    user's layer functions in (the check before training their model)."""
    cls = ctx.fn()
    model = ctx.call(
        "TwoLayerNet(input_dim=5, num_classes=4, hidden_dim=6, weight_scale=0.5)",
        cls,
        weight_scale=0.5,
        **_DIMS,
    )
    params = ctx.call("TwoLayerNet.parameters", model.parameters)
    roles = _roles(params, "parameters()")
    tally = Tally(CLASSIFIER_THRESHOLD)
    tally.add(Check("parameters", "returns", True, "W1 (5, 6), b1 (6,), W2 (6, 4), b2 (4,)"))

    values = {role: ctx.randn(*shape) for role, shape in _ROLES.items()}
    X = ctx.randn(3, 5)
    for _ in range(1000):  # hidden pre-activations clear of ReLU's kink (3h * |X| < 0.3)
        if np.min(np.abs(X @ values["W1"] + values["b1"])) > 0.3:
            break
        X = ctx.randn(3, 5)
    for role, name in roles.items():
        params[name][...] = values[role]
    again = ctx.call("TwoLayerNet.parameters", model.parameters)
    if not all(np.array_equal(again[roles[r]], values[r]) for r in roles):
        raise BadReturn(
            "parameters() must return the model's own arrays, not copies: the optimizer "
            "updates them in place"
        )
    app = AppTwoLayerNet(5, 4, 6, 0.5, dtype=np.float64)
    app.params.update({r: v.copy() for r, v in values.items()})
    grad_scores = ctx.randn(3, 4)
    inputs = {"X": X, **values, "grad_scores": grad_scores}

    swap = contextlib.nullcontext(False) if own_layers else app_layers_in(ctx.module)
    with swap as swapped:
        if swapped:
            ctx.notes.append(_APP_LAYERS_NOTE)
        scores, cache = unpack_pair(
            ctx.call("TwoLayerNet.forward", model.forward, X.copy()), "forward", "scores, cache"
        )
        ref_scores, ref_cache = app.forward(X.copy())
        tally.compare("scores", "app", ref_scores, scores, inputs)
        grads = ctx.call("TwoLayerNet.backward", model.backward, grad_scores.copy(), cache)
        if not isinstance(grads, dict) or set(grads) != set(params):
            got = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            raise BadReturn(
                f"backward should return a dict with the keys of parameters() "
                f"({', '.join(params)}); it returned {got}"
            )
        ref_grads = app.backward(grad_scores.copy(), ref_cache)
        for role, name in roles.items():
            tally.compare(name, "app", ref_grads[role], grads[name], inputs)

        def f() -> Any:
            return unpack_pair(
                ctx.call("TwoLayerNet.forward", model.forward, X), "forward", "scores, cache"
            )[0]

        for name in roles.values():
            _numeric_vs(tally, name, f, params[name], grad_scores, grads[name], inputs)
    return tally.checks()


def check_training_step(ctx: Context) -> list[Check]:
    fn = ctx.fn()
    tally = Tally(CLASSIFIER_THRESHOLD)
    model = AppTwoLayerNet(5, 4, 6, 0.5, dtype=np.float64, seed=1)
    for value in model.params.values():  # non-zero biases: L2 must leave them out
        value[...] = ctx.randn(*value.shape)
    X, y = ctx.randn(8, 5), ctx.rng.integers(0, 4, 8)
    params = {k: v.copy() for k, v in model.params.items()}
    with app_layers_in(ctx.module) as swapped:
        if swapped:
            ctx.notes.append(_APP_LAYERS_NOTE)
        for reg in (0.0, 0.1, 2.0):
            inputs = {"X_batch": X, "y_batch": y, "reg": reg, **params}
            ref_loss, ref_grads = app_training_step(model, X.copy(), y.copy(), reg)
            ref_grads = {k: v.copy() for k, v in ref_grads.items()}
            loss, grads = unpack_pair(
                ctx.call("training_step", fn, model, X.copy(), y.copy(), reg),
                "training_step",
                "loss, grads",
            )
            model.params.update({k: v.copy() for k, v in params.items()})  # undo any update
            check = tally.compare("loss", "app", ref_loss, loss, inputs)
            if not check.ok and check.message == "" and isinstance(check.got, float):
                data = ref_loss - 0.5 * reg * sum(
                    float(np.sum(params[k] ** 2)) for k in ("W1", "W2")
                )
                biases = 0.5 * reg * sum(float(np.sum(params[k] ** 2)) for k in ("b1", "b2"))
                for wrong, why in (
                    (data, "the loss has no L2 term"),
                    (ref_loss + biases, "L2 is applied to the biases too (only weights)"),
                    (2 * ref_loss - data, "L2 is reg·ΣW², twice the seed's reg/2·ΣW²"),
                ):
                    if reg and abs(check.got - wrong) <= 1e-9 * max(1.0, abs(wrong)):
                        tally.explain("loss", "app", why)
                        break
            if not isinstance(grads, dict) or set(grads) != set(ref_grads):
                raise BadReturn(
                    "training_step's grads should be a dict with the model's parameter "
                    f"names ({', '.join(ref_grads)})"
                )
            for name in ref_grads:
                tally.compare(f"grad {name}", "app", ref_grads[name], grads[name], inputs)
    return tally.checks()


CHECKS: dict[str, Callable[[Context], list[Check]]] = {
    "f1": check_f1,
    "f2": check_f2,
    "f3": check_f3,
    "f4": check_f4,
    "fc_forward": check_fc_forward,
    "fc_backward": check_fc_backward,
    "relu_forward": check_relu_forward,
    "relu_backward": check_relu_backward,
    "l2_loss": check_l2_loss,
    "softmax_loss": check_softmax_loss,
    "l2_regularization": check_l2_regularization,
    "TwoLayerNet": check_two_layer_net,
    "training_step": check_training_step,
}


def run_check(code: UserCode, module: ModuleType, file: str, function: str) -> FunctionResult:
    """Every check of one function; the user's exceptions become a failing check."""
    ctx = Context(code, module, function)
    checks: list[Check] = []
    try:
        with np.errstate(all="ignore"):
            checks = CHECKS[function](ctx)
    except UserCodeError as exc:
        checks.append(Check(function, "runs", False, str(exc)))
    except BadReturn as exc:
        checks.append(Check(function, "returns", False, str(exc)))
    return FunctionResult(file, function, tuple(checks), code.take_output(), "; ".join(ctx.notes))
