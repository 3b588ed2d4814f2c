"""A CNN architecture as plain data: an ordered list of layer specs, validated without torch.

Each spec says what a student would write in ``nn.Sequential`` minus the input sizes:
``Conv2d(out_channels=16, kernel_size=3, padding=1)`` gets its ``in_channels`` from the layer
before it, ``Linear(out_features=10)`` its ``in_features``. :func:`validate` walks the list
with the input shape ``(C, H, W)`` and returns, per layer, the output shape, the parameter
count and the multiply-adds, using the same formulas as PyTorch; it is pure Python, so a
GUI can refresh its summary table on every edit. A list that cannot run raises
:class:`~nets.errors.ConfigError` naming the layer and the shapes.

Architectures save to and load from JSON (:func:`save_architecture`, :func:`load_architecture`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nets.errors import ConfigError
from nets.fileio import atomic_write_bytes, read_regular

ARCH_FORMAT = "backprop-explorer-cnn-architecture"
ARCH_VERSION = 1

#: Largest value accepted for a size field (channels, features, kernel...): a typo guard.
MAX_SIZE = 1_000_000
#: Largest architecture file read, in bytes; real ones are a few kilobytes.
MAX_ARCH_FILE_BYTES = 1_000_000
#: Most layers in one architecture.
MAX_LAYERS = 500


def _size(minimum: int, doc: str, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field holding an int with a lower bound (metadata for validation and GUIs)."""
    meta = {"kind": "int", "min": minimum, "max": MAX_SIZE, "doc": doc}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Conv2d:
    """``nn.Conv2d(in, out_channels, kernel_size, stride, padding)``; ``in`` is inferred."""

    out_channels: int = _size(1, "number of filters", 16)
    kernel_size: int = _size(1, "filter height and width", 3)
    stride: int = _size(1, "step between filter positions", 1)
    padding: int = _size(0, "zeros added on each border", 0)


@dataclass(frozen=True)
class MaxPool2d:
    """``nn.MaxPool2d(kernel_size, stride)``; ``stride`` 0 means "same as kernel_size"."""

    kernel_size: int = _size(1, "window height and width", 2)
    stride: int = _size(0, "step between windows (0: same as the window)", 0)


@dataclass(frozen=True)
class AvgPool2d:
    """``nn.AvgPool2d(kernel_size, stride)``; ``stride`` 0 means "same as kernel_size"."""

    kernel_size: int = _size(1, "window height and width", 2)
    stride: int = _size(0, "step between windows (0: same as the window)", 0)


@dataclass(frozen=True)
class ReLU:
    """``nn.ReLU()``."""


@dataclass(frozen=True)
class BatchNorm2d:
    """``nn.BatchNorm2d(C)``; ``C`` is inferred from the feature map before it."""


@dataclass(frozen=True)
class Dropout:
    """``nn.Dropout(p)``: zeroes each value with probability ``p`` while training."""

    p: float = field(
        default=0.5, metadata={"kind": "float", "min": 0.0, "max": 0.99, "doc": "drop rate"}
    )


@dataclass(frozen=True)
class Flatten:
    """``nn.Flatten()``: a ``(C, H, W)`` feature map becomes a vector of ``C*H*W`` values."""


@dataclass(frozen=True)
class Linear:
    """``nn.Linear(in, out_features)``; ``in`` is inferred (needs a flat input)."""

    out_features: int = _size(1, "number of outputs", 10)


LayerSpec = Conv2d | MaxPool2d | AvgPool2d | ReLU | BatchNorm2d | Dropout | Flatten | Linear

#: Layer type name (as in torch.nn and the JSON files) -> spec class, in menu order.
LAYER_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (Conv2d, MaxPool2d, AvgPool2d, ReLU, BatchNorm2d, Dropout, Flatten, Linear)
}


@dataclass(frozen=True)
class FieldInfo:
    """One editable parameter of a layer type, for building editors."""

    name: str
    kind: str  # "int" or "float"
    minimum: float
    maximum: float
    default: float
    doc: str


def layer_fields(layer_type: str | type) -> list[FieldInfo]:
    """The editable parameters of a layer type (by name or class), in constructor order."""
    cls = LAYER_TYPES[layer_type] if isinstance(layer_type, str) else layer_type
    return [
        FieldInfo(
            f.name,
            f.metadata["kind"],
            f.metadata["min"],
            f.metadata["max"],
            _default(f),
            f.metadata["doc"],
        )
        for f in dataclasses.fields(cls)
    ]


def _default(f: dataclasses.Field[Any]) -> float:
    # Every layer parameter has a default: an editor starts a new layer from it.
    if f.default is dataclasses.MISSING:
        raise TypeError(f"layer parameter {f.name} has no default")
    return f.default  # an int for int fields, as the layer holds it


def layer_name(layer: LayerSpec) -> str:
    """The layer's type name, e.g. ``"Conv2d"``."""
    return type(layer).__name__


def describe_layer(layer: LayerSpec) -> str:
    """A short label such as ``Conv2d(16, k=3, s=1, p=1)`` for tables and lists."""
    if isinstance(layer, Conv2d):
        return (
            f"Conv2d({layer.out_channels}, k={layer.kernel_size}, s={layer.stride}, "
            f"p={layer.padding})"
        )
    if isinstance(layer, (MaxPool2d, AvgPool2d)):
        return f"{layer_name(layer)}(k={layer.kernel_size}, s={_pool_stride(layer)})"
    if isinstance(layer, Dropout):
        return f"Dropout(p={layer.p:g})"
    if isinstance(layer, Linear):
        return f"Linear({layer.out_features})"
    return f"{layer_name(layer)}()"


def _pool_stride(layer: MaxPool2d | AvgPool2d) -> int:
    return layer.stride or layer.kernel_size


# --------------------------------------------------------------------------- validation

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerSummary:
    """One row of the summary table: the shape a layer outputs for ONE image.

    ``output_shape`` is ``(C, H, W)`` for feature maps and ``(F,)`` after Flatten.
    ``params`` counts trainable parameters (as ``sum(p.numel() for p in parameters())``);
    ``mult_adds`` counts multiply-accumulates of Conv2d and Linear for one image.
    """

    index: int
    name: str
    output_shape: Shape
    params: int
    mult_adds: int


@dataclass(frozen=True)
class Totals:
    """Totals of a summary table, for one image."""

    params: int
    mult_adds: int
    activations: int  # values output by all layers together (for memory estimates)
    output_shape: Shape


def format_shape(shape: Shape) -> str:
    """``(16, 28, 28)`` -> ``"16x28x28"``."""
    return "x".join(str(s) for s in shape)


def _check_fields(index: int, layer: LayerSpec) -> None:
    for f in dataclasses.fields(layer):
        value = getattr(layer, f.name)
        kind = f.metadata["kind"]
        where = f"layer {index} ({layer_name(layer)})"
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{where}: {f.name} must be a whole number, got {value!r}")
        if kind == "float" and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ConfigError(f"{where}: {f.name} must be a number, got {value!r}")
        if not f.metadata["min"] <= value <= f.metadata["max"]:
            raise ConfigError(
                f"{where}: {f.name} must be between {f.metadata['min']} and "
                f"{f.metadata['max']}, got {value!r}"
            )


def _spatial_out(size: int, kernel: int, stride: int, padding: int) -> int:
    """The output size of a conv/pool window sliding over ``size`` (PyTorch's floor rule)."""
    return (size + 2 * padding - kernel) // stride + 1


def validate(
    arch: Sequence[LayerSpec], input_shape: Sequence[int], num_classes: int | None = None
) -> list[LayerSummary]:
    """Check that ``arch`` runs on images of ``input_shape`` = ``(C, H, W)``; one row per layer.

    When ``num_classes`` is given, the network must end in a flat vector of that length
    (the class scores). Raises ConfigError naming the first layer that cannot run, with the
    shape it gets and what it needs. Pure Python: no torch.
    """
    if len(input_shape) != 3 or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in input_shape
    ):
        raise ConfigError(f"input shape must be (channels, height, width), got {input_shape!r}")
    if not arch:
        raise ConfigError("the architecture has no layers")
    if len(arch) > MAX_LAYERS:
        raise ConfigError(f"the architecture has {len(arch)} layers; at most {MAX_LAYERS}")
    shape: Shape = tuple(input_shape)
    rows: list[LayerSummary] = []
    for index, layer in enumerate(arch):
        if type(layer) not in LAYER_TYPES.values():
            raise ConfigError(f"layer {index}: unknown layer type {type(layer).__name__}")
        _check_fields(index, layer)
        name = layer_name(layer)
        where = f"layer {index} ({name})"
        params = mult_adds = 0
        if isinstance(layer, (Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d)) and len(shape) != 3:
            raise ConfigError(
                f"{where}: expects a (channels, height, width) feature map but gets a flat "
                f"vector of {shape[0]} values; move it before the Flatten layer"
            )
        if isinstance(layer, Conv2d):
            c, h, w = shape
            k, s, p = layer.kernel_size, layer.stride, layer.padding
            if k > h + 2 * p or k > w + 2 * p:
                raise ConfigError(
                    f"{where}: its {k}x{k} filter is bigger than the {h}x{w} input"
                    f"{f' padded by {p}' if p else ''} (gets {format_shape(shape)}); use a "
                    f"smaller kernel_size, more padding, or less pooling before it"
                )
            shape = (layer.out_channels, _spatial_out(h, k, s, p), _spatial_out(w, k, s, p))
            params = layer.out_channels * c * k * k + layer.out_channels
            mult_adds = layer.out_channels * shape[1] * shape[2] * c * k * k
        elif isinstance(layer, (MaxPool2d, AvgPool2d)):
            c, h, w = shape
            k, s = layer.kernel_size, _pool_stride(layer)
            if k > h or k > w:
                raise ConfigError(
                    f"{where}: its {k}x{k} window is bigger than the {h}x{w} feature map "
                    f"(gets {format_shape(shape)}); use a smaller kernel_size or remove a "
                    f"pooling layer"
                )
            shape = (c, _spatial_out(h, k, s, 0), _spatial_out(w, k, s, 0))
        elif isinstance(layer, BatchNorm2d):
            params = 2 * shape[0]
        elif isinstance(layer, Flatten):
            shape = (math.prod(shape),)
        elif isinstance(layer, Linear):
            if len(shape) != 1:
                raise ConfigError(
                    f"{where}: expects a flat vector but gets a {format_shape(shape)} feature "
                    f"map; add a Flatten layer before it (it would then get "
                    f"{math.prod(shape)} inputs)"
                )
            params = shape[0] * layer.out_features + layer.out_features
            mult_adds = shape[0] * layer.out_features
            shape = (layer.out_features,)
        rows.append(LayerSummary(index, name, shape, params, mult_adds))
    if num_classes is not None:
        last = len(arch) - 1
        if len(shape) != 1:
            raise ConfigError(
                f"the network ends in a {format_shape(shape)} feature map; it must end in "
                f"{num_classes} class scores: add Flatten and Linear({num_classes})"
            )
        if shape[0] != num_classes:
            raise ConfigError(
                f"layer {last} ({layer_name(arch[last])}): outputs {shape[0]} values but the "
                f"dataset has {num_classes} classes; the last Linear needs out_features="
                f"{num_classes}"
            )
    return rows


def totals(rows: Sequence[LayerSummary], input_shape: Sequence[int]) -> Totals:
    """Sum a :func:`validate` table: parameters, multiply-adds and activation values."""
    return Totals(
        params=sum(r.params for r in rows),
        mult_adds=sum(r.mult_adds for r in rows),
        activations=math.prod(input_shape) + sum(math.prod(r.output_shape) for r in rows),
        output_shape=rows[-1].output_shape if rows else tuple(input_shape),
    )


# --------------------------------------------------------------------------- JSON


def arch_to_dict(arch: Sequence[LayerSpec], name: str = "") -> dict[str, Any]:
    """The JSON-ready form: ``{"format", "version", "name", "layers": [{"type": ...}, ...]}``."""
    return {
        "format": ARCH_FORMAT,
        "version": ARCH_VERSION,
        "name": name,
        "layers": [{"type": layer_name(layer), **dataclasses.asdict(layer)} for layer in arch],
    }


def arch_from_dict(data: Any) -> list[LayerSpec]:
    """Read the form :func:`arch_to_dict` writes; ConfigError names the JSON path at fault."""
    if not isinstance(data, dict):
        raise ConfigError(f"architecture: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != ARCH_FORMAT:
        raise ConfigError(
            f"architecture: $.format must be {ARCH_FORMAT!r}, got {data.get('format')!r}"
        )
    version = data.get("version")
    if version != ARCH_VERSION:
        raise ConfigError(
            f"architecture: $.version {version!r} is not supported (this app reads {ARCH_VERSION})"
        )
    layers = data.get("layers")
    if not isinstance(layers, list):
        raise ConfigError("architecture: $.layers must be a list of layers")
    if len(layers) > MAX_LAYERS:
        raise ConfigError(f"architecture: $.layers has {len(layers)} layers; at most {MAX_LAYERS}")
    arch: list[LayerSpec] = []
    for i, item in enumerate(layers):
        where = f"architecture: $.layers[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be an object, got {type(item).__name__}")
        kind = item.get("type")
        if kind not in LAYER_TYPES:
            raise ConfigError(
                f"{where}.type: unknown layer type {kind!r}; known: {', '.join(LAYER_TYPES)}"
            )
        cls = LAYER_TYPES[kind]
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(item) - set(known) - {"type"})
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)} for {kind}")
        kwargs = {}
        for fname, f in known.items():
            if fname not in item:
                continue
            value = item[fname]
            ok = (
                isinstance(value, int) and not isinstance(value, bool)
                if f.metadata["kind"] == "int"
                else isinstance(value, (int, float)) and not isinstance(value, bool)
            )
            if not ok:
                what = "a whole number" if f.metadata["kind"] == "int" else "a number"
                raise ConfigError(f"{where}.{fname}: must be {what}, got {value!r}")
            kwargs[fname] = value
        layer = cls(**kwargs)
        try:
            _check_fields(i, layer)
        except ConfigError as exc:
            raise ConfigError(f"architecture: $.layers[{i}]: {exc}") from None
        arch.append(layer)
    return arch


def arch_to_json(arch: Sequence[LayerSpec], name: str = "") -> str:
    """The architecture as indented JSON text."""
    return json.dumps(arch_to_dict(arch, name), indent=2) + "\n"


def arch_from_json(text: str) -> list[LayerSpec]:
    """Parse JSON text written by :func:`arch_to_json`; ConfigError on anything else."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ConfigError("architecture: the JSON is nested too deeply") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise ConfigError(f"architecture: not valid JSON ({exc})") from None
    return arch_from_dict(data)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def save_architecture(
    path: str | os.PathLike[str], arch: Sequence[LayerSpec], name: str = ""
) -> None:
    """Write the architecture JSON atomically (temporary file, fsync, replace)."""
    atomic_write_bytes(Path(path), arch_to_json(arch, name).encode("utf-8"), ConfigError)


def load_architecture(path: str | os.PathLike[str]) -> list[LayerSpec]:
    """Read an architecture JSON file; ConfigError with the reason when it cannot be used."""
    path = Path(path)
    try:
        raw = read_regular(path, ConfigError, "architecture file", MAX_ARCH_FILE_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read architecture {path}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise ConfigError(f"{path}: the architecture file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    try:
        return arch_from_json(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
