"""Train the user's own TwoLayerNet: the parent side, a generator of the shared events.

``train_own`` takes the arguments of ``nets.mlp.train.train`` plus the homework's files
and yields the same ``nets.training`` events, so the Two-layer net tab shows the run
with its usual plots, runs list and weights view. The loop itself runs in the child
process (``own_model``) around the user's model; this side mirrors the user's weights
into ``model``, a built-in TwoLayerNet updated before every Evaluation and at the end,
which is what the events' results hold (for the weights view, the test set, checkpoints).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

from nets.coach import coached
from nets.data.dataset import CancelToken, ImageDataset, is_cancelled
from nets.data.preprocess import Preprocessor
from nets.errors import ConfigError, NetsError
from nets.homework.layout import HomeworkFiles
from nets.homework.sandbox import DEFAULT_CALL_TIMEOUT, Sandbox
from nets.memory import MemoryEstimate
from nets.mlp.classifiers import TwoLayerNet
from nets.mlp.config import TrainConfig, estimate_memory
from nets.mlp.result import TrainingHistory, TrainingResult
from nets.training import Diverged, Evaluation, Finished, Started, Step, Stopped, TrainingEvent

_ENDINGS: dict[str, type[Finished] | type[Stopped] | type[Diverged]] = {
    cls.__name__: cls for cls in (Finished, Stopped, Diverged)
}
_PROGRESS: dict[str, type[Step] | type[Evaluation]] = {
    cls.__name__: cls for cls in (Step, Evaluation)
}
#: What the child needs beyond the run's own estimate: Python, numpy, the user's modules.
_MEMORY_MARGIN = 2 << 30


class GradientCheckFailed(NetsError):
    """The user's TwoLayerNet failed the quick check before training; nothing ran."""


def _mirror(model: TwoLayerNet | None, params: dict[str, np.ndarray]) -> TwoLayerNet:
    """``model`` (or a new float64 TwoLayerNet) holding the user's current weights."""
    if model is None or {k: v.shape for k, v in model.params.items()} != {
        k: v.shape for k, v in params.items()
    }:
        d, h = params["W1"].shape
        c = params["W2"].shape[1]
        model = TwoLayerNet(d, c, h, 1.0, dtype=np.float64)
    model.load_state(params)
    return model


def train_own(*args: Any, **kwargs: Any) -> Iterator[TrainingEvent]:
    """``_train_own`` with the coach's findings among its events (``nets.coach``)."""
    return coached(_train_own(*args, **kwargs))


def _train_own(
    config: TrainConfig,
    data: ImageDataset,
    homework: HomeworkFiles,
    *,
    cancel: CancelToken | None = None,
    model: TwoLayerNet | None = None,
    start_from_model: bool = False,
    preprocessor: Preprocessor | None = None,
    call_timeout: float = DEFAULT_CALL_TIMEOUT,
) -> Iterator[TrainingEvent]:
    """Train the user's TwoLayerNet (from ``homework``) on ``data``.

    Args:
        model: the mirror to fill with the user's weights (a new one when None or of
            other shapes); ``start_from_model`` copies its weights into the user's model
            first (continuing a run), else the user's own initialisation stands.
        cancel: checked between steps; the run then ends with ``Stopped``.
    Raises GradientCheckFailed (before any step) when the quick gradient check of the
    user's model fails, naming the parameter; SandboxError when their code fails.
    """
    if "two_layer_net.py" not in homework.files:
        raise ConfigError("training your own code needs your two_layer_net.py")
    config.validate()
    estimate = estimate_memory(
        config, len(data.y_train), data.input_dim, data.num_classes, n_val=len(data.y_val)
    )
    request: dict[str, Any] = {
        "op": "train",
        "files": {name: str(path) for name, path in homework.files.items()},
        "config": dataclasses.asdict(config),
        "data": {
            "X_train": data.X_train,
            "y_train": data.y_train,
            "X_val": data.X_val,
            "y_val": data.y_val,
        },
        "num_classes": data.num_classes,
        "initial": model.state() if start_from_model and model is not None else None,
        "preprocessor": None
        if preprocessor is None
        else {"mean": preprocessor.mean, "scale": preprocessor.scale},
    }
    memory_limit = max(3 << 30, 2 * estimate.total + _MEMORY_MARGIN)
    with Sandbox(homework.folders, call_timeout=call_timeout, memory_limit=memory_limit) as box:
        run_config = config
        for message in box.request(request):
            if message["type"] == "refused":
                raise GradientCheckFailed(message["message"] + "; training did not start")
            kind = message["event"]
            fields = message["fields"]
            if "params" in message:
                model = _mirror(model, message["params"])
            event: TrainingEvent
            if kind == Started.__name__:
                run_config = dataclasses.replace(config, dtype=message["dtype"])
                memory = message.get("memory")
                event = Started(
                    **fields,
                    config=run_config,
                    memory=MemoryEstimate(**memory) if memory else None,
                )
            elif kind in _ENDINGS:
                if model is None:
                    raise NetsError("the training process ended without sending its weights")
                pre = message["preprocessor"]
                result = TrainingResult(
                    model,
                    Preprocessor(pre["mean"], float(pre["scale"])) if pre else None,
                    run_config,
                    TrainingHistory(**{k: tuple(v) for k, v in message["history"].items()}),
                    tuple(data.class_names),
                    tuple(data.image_shape),
                    data.source,
                )
                event = _ENDINGS[kind](**fields, result=result)
            else:
                event = _PROGRESS[kind](**fields)
            yield event
            if not message.get("final"):
                box.send({"op": "stop" if is_cancelled(cancel) else "go"})
