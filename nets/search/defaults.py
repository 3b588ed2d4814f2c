"""Suggested ranges for every searchable field, and the default space of each trainer.

``FIELD_RANGES[kind][name]`` is a range as SPACE.json writes it; the GUI offers every one
(ticked if it is in ``DEFAULT_SPACES``), the command line searches ``DEFAULT_SPACES``
when no ``--space`` is given.
"""

from __future__ import annotations

from typing import Any


def _log(low: float, high: float) -> dict[str, Any]:
    return {"type": "float", "low": low, "high": high, "log": True}


def _lin(low: float, high: float) -> dict[str, Any]:
    return {"type": "float", "low": low, "high": high, "log": False}


def _int(low: int, high: int, log: bool = False) -> dict[str, Any]:
    return {"type": "int", "low": low, "high": high, "log": log}


def _choice(*options: Any) -> dict[str, Any]:
    return {"type": "choice", "choices": list(options)}


FIELD_RANGES: dict[str, dict[str, dict[str, Any]]] = {
    "mlp": {
        "learning_rate": _log(1e-4, 1e-1),
        "reg": _log(1e-5, 1e-1),
        "hidden_dim": _int(32, 1024, log=True),
        "momentum": _lin(0.0, 0.95),
        "batch_size": _choice(64, 128, 256),
        "num_epochs": _int(2, 10),
        "lr_decay": _lin(0.5, 1.0),
        "weight_scale": _log(1e-3, 5e-2),
        "num_train": _int(1000, 45000, log=True),
        "seed": _int(0, 100),
    },
    "cnn": {
        "lr": _log(1e-4, 1e-2),
        "weight_decay": _log(1e-6, 1e-2),
        "batch_size": _choice(64, 128, 256),
        "optimizer": _choice("sgd", "rmsprop", "adam", "adamw"),
        "momentum": _lin(0.5, 0.99),
        "nesterov": _choice(True, False),
        "schedule": _choice("none", "step", "cosine", "one-cycle"),
        "step_epochs": _int(1, 5),
        "step_gamma": _log(0.05, 0.5),
        "epochs": _int(1, 10),
        "seed": _int(0, 100),
    },
}

_DEFAULT = {
    "mlp": ("learning_rate", "reg", "hidden_dim", "momentum"),
    "cnn": ("lr", "weight_decay", "batch_size"),
}

#: The space searched when none is given.
DEFAULT_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    kind: {name: FIELD_RANGES[kind][name] for name in names} for kind, names in _DEFAULT.items()
}
