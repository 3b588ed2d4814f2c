"""Image classifiers built from ``nets.mlp.layers``: the seed's Classifier API.

A classifier holds its parameters in a dict (``parameters()``), computes class scores
with ``forward`` and parameter gradients with ``backward``. Shapes: X is (N, D) with
D = input_dim, scores are (N, C) with C = num_classes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

import numpy as np

from nets.errors import CheckpointError, ConfigError, ResourceError
from nets.mlp.layers import fc_backward, fc_forward, relu_backward, relu_forward

Grads = dict[str, np.ndarray]


class Probe(Protocol):
    """What a classifier's forward and backward passes report when given a probe
    (``nets.internals`` samples layers this way): a layer's output as it is computed and
    the gradient flowing into it. The arrays are the model's own buffers: read them, do
    not keep them."""

    def activation(self, layer: str, kind: str, out: np.ndarray) -> None: ...

    def gradient(self, layer: str, grad: np.ndarray) -> None: ...


_DTYPES = {"float32": np.float32, "float64": np.float64}


def _dtype_name(dtype: Any) -> str:
    name = np.dtype(dtype).name
    if name not in _DTYPES:
        raise ConfigError(f"dtype must be float32 or float64, got {name}")
    return name


class Classifier:
    """Base class: subclasses define ``parameters``, ``forward`` and ``backward``.

    ``forward(X, reuse_buffers=True)`` and ``backward(..., reuse_buffers=True)`` write
    into arrays the model keeps between calls (the trainer's hot loop): their results
    are valid until the next such call.
    """

    #: Registered subclasses by name, for rebuilding a model from a checkpoint.
    registry: ClassVar[dict[str, type[Classifier]]] = {}
    #: Whether the passes' matrix products go through ``nets.mlp.parallel`` (the trainer
    #: then splits them itself); False for a wrapper of plain numpy code (the user's own
    #: model), whose products only BLAS's own threads can spread.
    splits_gemms: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Classifier.registry[cls.__name__] = cls

    def __init__(self, dtype: Any = np.float32) -> None:
        self.dtype_name = _dtype_name(dtype)
        self.params: dict[str, np.ndarray] = {}
        self._workspace: dict[str, np.ndarray] = {}
        self._grad_betas: dict[str, float] = {}  # writing_gradients_into's

    # -- the seed's API ---------------------------------------------------------------

    def parameters(self) -> dict[str, np.ndarray]:
        """The parameter dict (name -> array). Optimizers update it in place."""
        return self.params

    def forward(
        self, X: np.ndarray, *, reuse_buffers: bool = False, probe: Probe | None = None
    ) -> tuple[np.ndarray, Any]:
        """X: (N, D) -> (scores (N, C), cache for ``backward``)."""
        raise NotImplementedError

    def backward(
        self,
        grad_scores: np.ndarray,
        cache: Any,
        *,
        reuse_buffers: bool = False,
        probe: Probe | None = None,
    ) -> Grads:
        """grad_scores: (N, C) dL/dscores -> dict of dL/dparam, same keys and shapes."""
        raise NotImplementedError

    def predict(self, X: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """X: (N, D) -> predicted labels, int64 (N,)."""
        return np.argmax(self.scores(X, batch_size), axis=1).astype(np.int64)

    # -- helpers shared by every classifier ------------------------------------------

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.dtype_name)

    @property
    def input_dim(self) -> int:
        raise NotImplementedError

    @property
    def num_classes(self) -> int:
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (JSON-friendly)."""
        raise NotImplementedError

    @staticmethod
    def param_shapes(*args: Any, **dims: Any) -> dict[str, tuple[int, ...]]:
        """Parameter shapes for the given constructor dimensions (no allocation). Each
        classifier takes its own dimensions (keywords of its constructor)."""
        raise NotImplementedError

    def layer_table(self) -> list[tuple[str, str, dict[str, str]]]:
        """The layers in forward order for layer sampling (``nets.internals``):
        (name, kind, {"weight": parameter name, "bias": parameter name})."""
        raise NotImplementedError

    def weight_names(self) -> tuple[str, ...]:
        """Parameters that L2 regularization applies to: the weight matrices, never biases."""
        return tuple(k for k, v in self.params.items() if v.ndim >= 2)

    def num_parameters(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def scores(self, X: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Class scores for X (N, D) in chunks: (N, C) of the model's dtype."""
        out = np.empty((X.shape[0], self.num_classes), dtype=self.dtype)
        for start in range(0, X.shape[0], batch_size):
            chunk = np.asarray(X[start : start + batch_size], dtype=self.dtype)
            out[start : start + batch_size] = self.forward(chunk)[0]
        return out

    def accuracy(self, X: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
        """Fraction of X (N, D) classified as y (N,); nan when N is 0."""
        if len(y) == 0:
            return float("nan")
        return float(np.mean(self.predict(X, batch_size) == y))

    @contextmanager
    def writing_gradients_into(
        self, buffers: Mapping[str, tuple[np.ndarray, float]]
    ) -> Iterator[None]:
        """Within the block, ``backward(..., reuse_buffers=True)`` writes the gradient of
        each named weight matrix into the given array (the parameter's shape and dtype),
        as ``array = beta * array + gradient`` for the (array, beta) given: the optimizer's
        spare array with beta 0, or its velocity with beta = momentum
        (``SGD.gradient_buffers``), the addition done by the GEMM itself. The model's own
        buffers are back afterwards: the lent arrays are the optimizer's, and no other
        pass may write into them. (Every classifier here names a parameter's gradient
        buffer ``"grad_" + name``; a bias's gradient, a column sum, is never lent.)"""
        keys = {"grad_" + name: buf for name, (buf, _) in buffers.items()}
        saved = {key: self._workspace.get(key) for key in keys}
        saved_betas = self._grad_betas
        self._workspace.update(keys)
        self._grad_betas = {name: float(beta) for name, (_, beta) in buffers.items() if beta}
        try:
            yield
        finally:
            self._grad_betas = saved_betas
            for key, own in saved.items():
                if own is None:
                    self._workspace.pop(key, None)
                else:
                    self._workspace[key] = own

    def _grad_beta(self, name: str, reuse_buffers: bool) -> float:
        """The beta ``writing_gradients_into`` gave ``name``'s lent buffer (0: overwrite)."""
        return self._grad_betas.get(name, 0.0) if reuse_buffers else 0.0

    def _buffer(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        buf = self._workspace.get(name)
        if buf is None or buf.shape != shape:
            buf = self._workspace[name] = np.empty(shape, dtype=self.dtype)
        return buf

    def state(self) -> dict[str, np.ndarray]:
        """Copies of the parameters."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Replace the parameters with ``state`` after checking every name and shape.

        Raises CheckpointError naming the mismatch; the model is unchanged then.
        """
        expected = {k: v.shape for k, v in self.params.items()}
        got = {k: tuple(np.shape(v)) for k, v in state.items()}
        if set(expected) != set(got):
            raise CheckpointError(
                f"architecture mismatch: {type(self).__name__} has parameters "
                f"{sorted(expected)}, the checkpoint has {sorted(got)}"
            )
        for k, shape in expected.items():
            if got[k] != shape:
                raise CheckpointError(
                    f"architecture mismatch: parameter {k} is {shape} in this "
                    f"{type(self).__name__} but {got[k]} in the checkpoint"
                )
        new = {}
        for k, v in state.items():
            if np.asarray(v).dtype.kind not in "biuf":
                # complex, text or object arrays: numpy would warn or fail converting them
                raise CheckpointError(
                    f"checkpoint corrupted: parameter {k} holds {np.asarray(v).dtype} values, "
                    "not real numbers"
                )
            arr = np.array(v, dtype=self.dtype, copy=True)
            if not np.all(np.isfinite(arr)):
                raise CheckpointError(f"checkpoint corrupted: parameter {k} is not finite")
            new[k] = arr
        self.params.update(new)
        self._workspace.clear()


def _check_dims(**dims: Any) -> None:
    for name, value in dims.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _check_allocation(name: str, values: int, dtype: np.dtype) -> None:
    """Refuse parameters that cannot fit in memory before allocating them (ResourceError)."""
    from nets.memory import available_memory
    from nets.units import format_bytes

    needed = int(values) * dtype.itemsize
    available = available_memory()
    if available is not None and needed > 0.8 * available:
        raise ResourceError(
            f"a {name} with {values:,} parameters needs {format_bytes(needed)} for its weights "
            f"alone, but only {format_bytes(available)} is available: make it smaller"
        )


def _init_weights(
    rng: np.random.Generator, shape: tuple[int, int], scale: float, dtype: np.dtype
) -> np.ndarray:
    """scale * N(0, 1) samples drawn directly in ``dtype`` (no float64 temporary)."""
    w = rng.standard_normal(shape, dtype=dtype)
    w *= dtype.type(scale)
    return w


def _check_scale(weight_scale: float) -> None:
    if not np.isfinite(weight_scale) or weight_scale <= 0:
        raise ConfigError(f"weight_scale must be a positive number, got {weight_scale!r}")


class LinearClassifier(Classifier):
    """scores = X @ W + b with W: (D, C), b: (C,)."""

    def __init__(
        self,
        input_dim: int = 3072,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        *,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        super().__init__(dtype)
        _check_dims(input_dim=input_dim, num_classes=num_classes)
        _check_scale(weight_scale)
        self.weight_scale = float(weight_scale)
        _check_allocation("LinearClassifier", (input_dim + 1) * num_classes, self.dtype)
        rng = np.random.default_rng(seed)
        self.params = {
            "W": _init_weights(rng, (input_dim, num_classes), weight_scale, self.dtype),
            "b": np.zeros(num_classes, dtype=self.dtype),
        }

    @staticmethod
    def param_shapes(input_dim: int, num_classes: int) -> dict[str, tuple[int, ...]]:
        """The parameter shapes of a LinearClassifier with these dimensions."""
        return {"W": (int(input_dim), int(num_classes)), "b": (int(num_classes),)}

    @property
    def input_dim(self) -> int:
        return int(self.params["W"].shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.params["W"].shape[1])

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "input_dim": self.input_dim,
            "num_classes": self.num_classes,
            "weight_scale": self.weight_scale,
        }

    def layer_table(self) -> list[tuple[str, str, dict[str, str]]]:
        return [("fc1", "linear", {"weight": "W", "bias": "b"})]

    def forward(
        self, X: np.ndarray, *, reuse_buffers: bool = False, probe: Probe | None = None
    ) -> tuple[np.ndarray, Any]:
        out = self._buffer("scores", (X.shape[0], self.num_classes)) if reuse_buffers else None
        scores, cache = fc_forward(X, self.params["W"], self.params["b"], out=out)
        if probe is not None:
            probe.activation("fc1", "linear", scores)
        return scores, cache

    def backward(
        self,
        grad_scores: np.ndarray,
        cache: Any,
        *,
        reuse_buffers: bool = False,
        probe: Probe | None = None,
    ) -> Grads:
        if probe is not None:
            probe.gradient("fc1", grad_scores)
        out_w = self._buffer("grad_W", self.params["W"].shape) if reuse_buffers else None
        _, grad_w, grad_b = fc_backward(
            grad_scores,
            cache,
            need_grad_x=False,
            out_grad_w=out_w,
            grad_w_beta=self._grad_beta("W", reuse_buffers),
        )
        return {"W": grad_w, "b": grad_b}


class TwoLayerNet(Classifier):
    """fc -> ReLU -> fc: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).

    Weights start as ``weight_scale`` times standard normal samples, biases as zeros.
    """

    def __init__(
        self,
        input_dim: int = 3072,
        num_classes: int = 10,
        hidden_dim: int = 512,
        weight_scale: float = 1e-3,
        *,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        super().__init__(dtype)
        _check_dims(input_dim=input_dim, num_classes=num_classes, hidden_dim=hidden_dim)
        _check_scale(weight_scale)
        self.weight_scale = float(weight_scale)
        values = (input_dim + 1) * hidden_dim + (hidden_dim + 1) * num_classes
        _check_allocation("TwoLayerNet", values, self.dtype)
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": _init_weights(rng, (input_dim, hidden_dim), weight_scale, self.dtype),
            "b1": np.zeros(hidden_dim, dtype=self.dtype),
            "W2": _init_weights(rng, (hidden_dim, num_classes), weight_scale, self.dtype),
            "b2": np.zeros(num_classes, dtype=self.dtype),
        }

    @staticmethod
    def param_shapes(
        input_dim: int, num_classes: int, hidden_dim: int
    ) -> dict[str, tuple[int, ...]]:
        """The parameter shapes of a TwoLayerNet with these dimensions."""
        d, c, h = int(input_dim), int(num_classes), int(hidden_dim)
        return {"W1": (d, h), "b1": (h,), "W2": (h, c), "b2": (c,)}

    @property
    def input_dim(self) -> int:
        return int(self.params["W1"].shape[0])

    @property
    def hidden_dim(self) -> int:
        return int(self.params["W1"].shape[1])

    @property
    def num_classes(self) -> int:
        return int(self.params["W2"].shape[1])

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "input_dim": self.input_dim,
            "num_classes": self.num_classes,
            "hidden_dim": self.hidden_dim,
            "weight_scale": self.weight_scale,
        }

    def layer_table(self) -> list[tuple[str, str, dict[str, str]]]:
        return [
            ("fc1", "linear", {"weight": "W1", "bias": "b1"}),
            ("relu1", "relu", {}),
            ("fc2", "linear", {"weight": "W2", "bias": "b2"}),
        ]

    def forward(
        self, X: np.ndarray, *, reuse_buffers: bool = False, probe: Probe | None = None
    ) -> tuple[np.ndarray, Any]:
        p = self.params
        n = X.shape[0]
        h_out = self._buffer("hidden", (n, self.hidden_dim)) if reuse_buffers else None
        s_out = self._buffer("scores", (n, self.num_classes)) if reuse_buffers else None
        hidden, fc1_cache = fc_forward(X, p["W1"], p["b1"], out=h_out)
        if probe is not None:  # before the in-place ReLU overwrites fc1's output
            probe.activation("fc1", "linear", hidden)
        # fc_forward's output is ours to overwrite: ReLU in place.
        hidden, relu_cache = relu_forward(hidden, inplace=True)
        scores, fc2_cache = fc_forward(hidden, p["W2"], p["b2"], out=s_out)
        if probe is not None:
            probe.activation("relu1", "relu", hidden)
            probe.activation("fc2", "linear", scores)
        return scores, (fc1_cache, relu_cache, fc2_cache)

    def backward(
        self,
        grad_scores: np.ndarray,
        cache: Any,
        *,
        reuse_buffers: bool = False,
        probe: Probe | None = None,
    ) -> Grads:
        fc1_cache, relu_cache, fc2_cache = cache
        if probe is not None:
            probe.gradient("fc2", grad_scores)
        p = self.params
        buf = self._buffer if reuse_buffers else (lambda name, shape: None)
        grad_hidden, grad_w2, grad_b2 = fc_backward(
            grad_scores,
            fc2_cache,
            out_grad_w=buf("grad_W2", p["W2"].shape),
            out_grad_x=buf("grad_hidden", relu_cache.shape),
            grad_w_beta=self._grad_beta("W2", reuse_buffers),
        )
        assert grad_hidden is not None
        if probe is not None:  # before relu_backward masks it in place
            probe.gradient("relu1", grad_hidden)
        grad_hidden = relu_backward(grad_hidden, relu_cache, inplace=True)
        if probe is not None:
            probe.gradient("fc1", grad_hidden)
        _, grad_w1, grad_b1 = fc_backward(
            grad_hidden,
            fc1_cache,
            need_grad_x=False,
            out_grad_w=buf("grad_W1", p["W1"].shape),
            grad_w_beta=self._grad_beta("W1", reuse_buffers),
        )
        return {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}


def build_classifier(
    name: str,
    hyperparameters: Mapping[str, Any],
    dtype: Any,
    state: Mapping[str, np.ndarray] | None = None,
) -> Classifier:
    """Rebuild a registered classifier from its name and ``hyperparameters()``.

    With ``state`` (parameter arrays, as in a checkpoint) the shapes are checked against
    the hyperparameters before anything is allocated, then loaded into the model, so a
    file whose metadata claims a huge network cannot make the app allocate one.
    """
    cls = Classifier.registry.get(name)
    if cls is None:
        raise CheckpointError(
            f"architecture mismatch: unknown model type {name!r} (this app's numpy networks "
            f"are {', '.join(sorted(Classifier.registry))})"
        )
    hp = dict(hyperparameters)
    if state is not None:
        try:
            expected = cls.param_shapes(**{k: v for k, v in hp.items() if k != "weight_scale"})
        except (TypeError, ValueError) as exc:
            raise CheckpointError(
                f"checkpoint corrupted: bad {name} hyperparameters ({exc})"
            ) from exc
        got = {k: tuple(np.shape(v)) for k, v in state.items()}
        if got != expected:
            raise CheckpointError(
                f"architecture mismatch: a {name} with {hp} has parameters {expected}, "
                f"the checkpoint holds {got}"
            )
    try:
        model = cls(**hp, dtype=dtype)
    except (TypeError, ConfigError) as exc:
        raise CheckpointError(f"checkpoint corrupted: bad {name} hyperparameters ({exc})") from exc
    if state is not None:
        model.load_state(state)
    return model
