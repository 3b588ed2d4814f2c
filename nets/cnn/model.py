"""Turn an architecture (nets.cnn.arch) into a torch module, or into PyTorch source code.

torch is imported inside the functions so that importing this module stays instant.
The module built here and the class in the exported source share one layout,
``self.layers = nn.Sequential(...)``, so their state_dicts are interchangeable.
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nets.cnn.arch import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    LayerSpec,
    Linear,
    MaxPool2d,
    ReLU,
    format_shape,
    totals,
    validate,
)
from nets.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn


def _layer_calls(
    arch: Sequence[LayerSpec], input_shape: Sequence[int], num_classes: int | None
) -> list[tuple[str, str, Any]]:
    """Per layer: (torch.nn class name, constructor argument text, output shape)."""
    rows = validate(arch, input_shape, num_classes)
    calls = []
    shape = tuple(input_shape)
    for layer, row in zip(arch, rows, strict=True):
        if isinstance(layer, Conv2d):
            args = (
                f"{shape[0]}, {layer.out_channels}, kernel_size={layer.kernel_size}, "
                f"stride={layer.stride}, padding={layer.padding}"
            )
        elif isinstance(layer, (MaxPool2d, AvgPool2d)):
            args = f"kernel_size={layer.kernel_size}, stride={layer.stride or layer.kernel_size}"
        elif isinstance(layer, BatchNorm2d):
            args = f"{shape[0]}"
        elif isinstance(layer, Dropout):
            args = f"p={layer.p!r}"
        elif isinstance(layer, Linear):
            args = f"{shape[0]}, {layer.out_features}"
        elif isinstance(layer, (ReLU, Flatten)):
            args = ""
        else:  # validate() already refused it; kept for type checkers
            raise ConfigError(f"layer {row.index}: unknown layer type {type(layer).__name__}")
        calls.append((type(layer).__name__, args, row.output_shape))
        shape = row.output_shape
    return calls


def build_model(
    arch: Sequence[LayerSpec], input_shape: Sequence[int], num_classes: int | None = None
) -> nn.Module:
    """A freshly initialised torch module for ``arch`` on ``(C, H, W)`` images.

    Input: float tensor (N, C, H, W); output: (N, num_classes) class scores (logits).
    Raises ConfigError (from :func:`validate`) when the architecture cannot run.
    """
    from torch import nn

    calls = _layer_calls(arch, input_shape, num_classes)
    modules: list[nn.Module] = []
    shape = tuple(input_shape)
    for layer, (_, _, out_shape) in zip(arch, calls, strict=True):
        if isinstance(layer, Conv2d):
            modules.append(
                nn.Conv2d(
                    shape[0], layer.out_channels, layer.kernel_size, layer.stride, layer.padding
                )
            )
        elif isinstance(layer, MaxPool2d):
            modules.append(nn.MaxPool2d(layer.kernel_size, layer.stride or layer.kernel_size))
        elif isinstance(layer, AvgPool2d):
            modules.append(nn.AvgPool2d(layer.kernel_size, layer.stride or layer.kernel_size))
        elif isinstance(layer, BatchNorm2d):
            modules.append(nn.BatchNorm2d(shape[0]))
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(layer.p))
        elif isinstance(layer, Linear):
            modules.append(nn.Linear(shape[0], layer.out_features))
        elif isinstance(layer, ReLU):
            modules.append(nn.ReLU())
        elif isinstance(layer, Flatten):
            modules.append(nn.Flatten())
        shape = out_shape
    return _network_class()(nn.Sequential(*modules))


_NETWORK_CLASS: Any = None


def _network_class() -> type:
    """``CnnNet(nn.Module)`` holding ``self.layers``; defined on first use (lazy torch)."""
    global _NETWORK_CLASS
    if _NETWORK_CLASS is None:
        from torch import nn

        class CnnNet(nn.Module):
            """A Sequential of layers; the same layout as the exported source."""

            def __init__(self, layers: nn.Sequential) -> None:
                super().__init__()
                self.layers = layers

            def forward(self, x: Any) -> Any:
                return self.layers(x)

        _NETWORK_CLASS = CnnNet
    return _NETWORK_CLASS


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters of a torch module (what the summary table's total counts)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def to_pytorch_source(
    arch: Sequence[LayerSpec],
    input_shape: Sequence[int],
    num_classes: int | None = None,
    class_name: str = "FashionCNN",
    normalization: tuple[Sequence[float], Sequence[float]] | None = None,
    class_names: Sequence[str] | None = None,
) -> str:
    """Python source of an ``nn.Module`` class for ``arch``, ready to paste into a notebook.

    Its state_dict keys match :func:`build_model` (``layers.0.weight``...), so weights
    trained here load into it with ``load_state_dict``. ``normalization`` is the per-channel
    (mean, std) in 0-255 pixel units the inputs were normalised with; it goes into the
    docstring, as do ``class_names``.
    """
    if not class_name.isidentifier() or keyword.iskeyword(class_name):
        raise ConfigError(f"class name {class_name!r} is not a Python identifier")
    calls = _layer_calls(arch, input_shape, num_classes)
    rows = validate(arch, input_shape, num_classes)
    tot = totals(rows, input_shape)
    c, h, w = input_shape
    doc = [
        f'    """A CNN exported by Backprop Explorer ({tot.params:,} parameters).',
        "",
        f"    Input: a float tensor of shape (N, {c}, {h}, {w}).",
    ]
    if normalization is not None:
        mean, std = normalization
        m = ", ".join(f"{v / 255:.4f}" for v in mean)
        s = ", ".join(f"{v / 255:.4f}" for v in std)
        doc.append(f"    Pixels scaled to [0, 1], then normalised with mean ({m}) and std ({s}).")
    doc.append(f"    Output: (N, {format_shape(tot.output_shape)}) class scores (logits).")
    if class_names:
        doc.append(f"    Classes: {', '.join(str(n) for n in class_names)}.")
    doc.append('    """')
    width = max(len(f"nn.{name}({args}),") for name, args, _ in calls)
    layer_lines = [
        f"            {f'nn.{name}({args}),':<{width}}  # -> {format_shape(out)}"
        for name, args, out in calls
    ]
    lines = [
        "import torch",
        "from torch import nn",
        "",
        "",
        f"class {class_name}(nn.Module):",
        *doc,
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        "        self.layers = nn.Sequential(",
        *layer_lines,
        "        )",
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        "        return self.layers(x)",
        "",
    ]
    return "\n".join(lines)
