"""Training the user's own ``TwoLayerNet`` inside the child process, with the app's loop.

``UserModel`` wraps the user's model as a ``nets.mlp`` Classifier, so
``nets.mlp.train.train`` (the one training loop) drives it: every forward and backward
pass is the user's code (through ``UserCode.call``), and so is the training step when
their ``train.py`` has one. ``handle_train`` runs that loop and sends each event to the
parent; the parent answers each with "go" (or "stop"), and the loop runs at most
``WINDOW`` events ahead of it, so a paused consumer pauses the loop within a few steps.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from nets.data.preprocess import Preprocessor
from nets.homework.checks import Context, check_two_layer_net
from nets.homework.compare import BadReturn
from nets.homework.usercode import UserCode, UserCodeError
from nets.mlp.classifiers import Classifier
from nets.mlp.config import TrainConfig
from nets.mlp.train import train
from nets.training import Advice, Ended, Evaluation, Started

#: Events the loop may run ahead of its consumer: enough to hide the round trip, few
#: enough that Pause and Stop take effect within a few steps.
WINDOW = 4

#: Parameter shapes by role: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
ROLES = ("W1", "b1", "W2", "b2")


def roles_by_shape(params: dict[str, np.ndarray], d: int, c: int) -> dict[str, str]:
    """Map W1/b1/W2/b2 to the user's parameter names from the shapes alone."""
    shapes = {k: tuple(np.shape(v)) for k, v in params.items()}
    w1 = [k for k, s in shapes.items() if len(s) == 2 and s[0] == d]
    w2 = [k for k, s in shapes.items() if len(s) == 2 and s[1] == c and k not in w1]
    if len(params) != 4 or len(w1) != 1 or len(w2) != 1:
        raise BadReturn(f"parameters() should hold W1 ({d}, H), b1, W2 (H, {c}), b2; got {shapes}")
    h = shapes[w1[0]][1]
    b1 = [k for k, s in shapes.items() if s == (h,) and k not in (w1[0], w2[0])]
    b2 = [k for k, s in shapes.items() if s == (c,) and k not in (w1[0], w2[0], *b1[:1])]
    if not b1 or not b2:
        raise BadReturn(f"parameters() should hold biases b1 ({h},) and b2 ({c},); got {shapes}")
    return {"W1": w1[0], "b1": b1[0], "W2": w2[0], "b2": b2[0]}


class UserModel(Classifier):
    """The user's model seen through the Classifier API (keys: the user's own names).

    The optimizer replaces arrays in ``self.params`` (it double-buffers); before each of
    the user's passes the current values are copied into the user's own arrays, which is
    where their ``forward`` reads them, whatever it does with ``parameters()``.
    """

    splits_gemms = False

    def __init__(self, code: UserCode, user: Any, roles: dict[str, str]) -> None:
        params = code.call("TwoLayerNet.parameters", user.parameters)
        dtype = np.result_type(*params.values())
        super().__init__(np.float64 if dtype != np.float32 else np.float32)
        self.code = code
        self.user = user
        self.roles = roles
        self.params = dict(params)

    @property
    def input_dim(self) -> int:
        return int(self.params[self.roles["W1"]].shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.params[self.roles["W2"]].shape[1])

    def weight_names(self) -> tuple[str, ...]:
        return tuple(k for k, v in self.params.items() if np.ndim(v) >= 2)

    def sync(self) -> None:
        """Put the current parameter values into the user's own arrays."""
        theirs = self.code.call("TwoLayerNet.parameters", self.user.parameters)
        for name, value in self.params.items():
            target = theirs[name]
            if target is not value:
                np.copyto(target, value)

    def forward(self, X: np.ndarray, **_options: Any) -> tuple[np.ndarray, Any]:
        self.sync()
        scores, cache = self.code.call("TwoLayerNet.forward", self.user.forward, X)
        return np.asarray(scores), cache

    def backward(self, grad_scores: np.ndarray, cache: Any, **_options: Any) -> dict:
        grads = self.code.call("TwoLayerNet.backward", self.user.backward, grad_scores, cache)
        if not isinstance(grads, dict) or set(grads) != set(self.params):
            raise BadReturn("TwoLayerNet.backward should return a dict with the parameters' keys")
        return grads

    def role_params(self) -> dict[str, np.ndarray]:
        """The current parameters under the names W1, b1, W2, b2."""
        return {role: np.asarray(self.params[name]) for role, name in self.roles.items()}


def _user_step(code: UserCode, fn: Any):
    def step(model: UserModel, X: np.ndarray, y: np.ndarray, reg: float, **_options: Any):
        model.sync()
        loss, grads = code.call("training_step", fn, model.user, X, y, reg)
        if not isinstance(grads, dict) or set(grads) != set(model.params):
            raise BadReturn("training_step's grads should be a dict with the parameters' keys")
        return float(loss), grads

    return step


def gradient_check(code: UserCode, module: Any) -> str | None:
    """The checker's TwoLayerNet check with the user's own layers; None when it passes,
    else one line naming the failing parameter."""
    ctx = Context(code, module, "TwoLayerNet")
    try:
        with np.errstate(all="ignore"):
            checks = check_two_layer_net(ctx, own_layers=True)
    except (UserCodeError, BadReturn) as exc:
        return f"the gradient check of your TwoLayerNet could not run: {exc}"
    bad = [c for c in checks if not c.ok and c.against in ("numeric", "returns")]
    if not bad:
        return None
    worst = max(bad, key=lambda c: c.rel_error or 0.0)
    return (
        f"the gradient check of your TwoLayerNet fails for {worst.value}: relative error "
        f"{worst.rel_error:.2e} against central differences (threshold {worst.threshold:g})"
    )


def _event_message(event: Any, model: UserModel) -> dict[str, Any]:
    fields = {
        f.name: getattr(event, f.name)
        for f in dataclasses.fields(event)
        if f.name not in ("config", "result", "memory")
    }
    message: dict[str, Any] = {"type": "event", "event": type(event).__name__, "fields": fields}
    if isinstance(event, Started):
        message["memory"] = dataclasses.asdict(event.memory) if event.memory else None
        message["dtype"] = event.config.dtype
    if isinstance(event, Evaluation | Ended | Started):
        message["params"] = model.role_params()
    if isinstance(event, Ended):
        result = event.result
        message["history"] = dataclasses.asdict(result.history)
        pre = result.preprocessor
        message["preprocessor"] = None if pre is None else {"mean": pre.mean, "scale": pre.scale}
        message["final"] = True
    return message


def handle_train(code: UserCode, request: dict[str, Any]) -> None:
    """Train the user's TwoLayerNet on the request's data; see the module docstring."""
    files = {name: Path(p) for name, p in request["files"].items()}
    net_module = code.import_module(files["two_layer_net.py"])
    refusal = gradient_check(code, net_module)
    if refusal is not None:
        code.send({"type": "refused", "final": True, "message": refusal})
        return
    data = request["data"]
    d = int(np.prod(data["X_train"].shape[1:]))
    c = int(request["num_classes"])
    config = TrainConfig(**request["config"])
    # The homework initialises with np.random: the run's seed makes it reproducible.
    np.random.seed(config.seed)
    user = code.call(
        "TwoLayerNet(...)",
        net_module.TwoLayerNet,
        input_dim=d,
        num_classes=c,
        hidden_dim=config.hidden_dim,
        weight_scale=config.weight_scale,
    )
    params = code.call("TwoLayerNet.parameters", user.parameters)
    roles = roles_by_shape(params, d, c)
    model = UserModel(code, user, roles)
    for role, value in (request.get("initial") or {}).items():
        model.params[roles[role]][...] = value
    # The user's arrays set the precision: the data is prepared to match them. Their layers
    # have no probe to sample, and the coach runs in the parent over the events sent back.
    config = dataclasses.replace(config, dtype=model.dtype_name, internals_every=0)
    step = None
    if "train.py" in files:
        step = _user_step(code, code.import_module(files["train.py"]).training_step)
    pre = request.get("preprocessor")
    stop = False
    events = train(
        config,
        (data["X_train"], data["y_train"], data["X_val"], data["y_val"]),
        cancel=lambda: stop,
        model=model,
        preprocessor=Preprocessor(pre["mean"], float(pre["scale"])) if pre else None,
        num_classes=c,
        step=step,
    )
    ahead = 0  # events sent that the parent has not taken yet
    for event in events:
        if isinstance(event, Advice):
            continue
        message = _event_message(event, model)
        code.send(message)
        if message.get("final"):
            return
        ahead += 1
        while ahead >= WINDOW or code.pending():
            ahead -= 1
            if code.receive()["op"] == "stop":
                stop = True
