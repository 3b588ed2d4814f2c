"""Layer sampling for torch models (the CNN): hooks registered only on sampled steps.

Every Linear, Conv2d, BatchNorm and ReLU module of the model is sampled, in the order
``model.modules()`` lists them (a Sequential's forward order). On a sampled step forward
hooks record each output and hang a tensor hook on it for the gradient flowing in; the
hooks are removed after the step. ReLU unit activity (a channel or unit that is positive
for some example) is gathered on every step by one light forward hook per ReLU, so the dead
fraction covers every batch since the last sample. torch is imported by the caller.

    tracker = TorchInternals(model, every=50)
    tracker.before_step(step, epoch, xb)
    loss = loss_fn(model(xb), yb); loss.backward()
    tracker.before_update()
    optimizer.step()
    event = tracker.after_update()      # an Internals on sampled steps
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nets.internals.recorder import DEFAULT_EVERY, InternalsRecorder, is_sampled, layer_names
from nets.training import Internals


def _kind(module: Any) -> str | None:
    from torch import nn

    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return "batchnorm"
    if isinstance(module, nn.ReLU):
        return "relu"
    return None


def _float32(t: Any) -> Any:
    """numpy has no bfloat16: mixed-precision activations and gradients come as float32."""
    import torch

    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def _numpy(tensor: Any) -> np.ndarray:
    return _float32(tensor.detach()).cpu().numpy()


def _values(tensor: Any) -> np.ndarray:
    """The tensor's values as numpy without a copy on the CPU, in memory order: a
    channels_last (N, C, H, W) tensor comes as its (N, H, W, C) view, whose flattening
    is free. For order-free statistics only (moments, norms, histograms)."""
    import torch

    t = tensor.detach()
    if (
        t.dim() == 4
        and not t.is_contiguous()
        and t.is_contiguous(memory_format=torch.channels_last)
    ):
        t = t.permute(0, 2, 3, 1)
    return _float32(t).cpu().numpy()


class TorchInternals:
    """Samples every layer with parameters and every ReLU of ``model``."""

    def __init__(self, model: Any, every: int = DEFAULT_EVERY) -> None:
        found = [(m, k) for m in model.modules() if (k := _kind(m)) is not None]
        names = layer_names([k for _, k in found])
        self.modules = [
            (name, module, kind) for name, (module, kind) in zip(names, found, strict=True)
        ]
        self.recorder = InternalsRecorder([(n, k) for n, _, k in self.modules], every)
        self._sampled = False
        self._hooks: list[Any] = []
        self._activity_hooks = [
            module.register_forward_hook(self._activity_hook(name))
            for name, module, kind in self.modules
            if kind == "relu"
        ]

    @property
    def every(self) -> int:
        return self.recorder.every

    def close(self) -> None:
        """Remove every hook (the model is left as it was)."""
        for handle in self._activity_hooks + self._hooks:
            handle.remove()
        self._activity_hooks, self._hooks = [], []

    def _activity_hook(self, name: str) -> Callable[..., None]:
        def hook(module: Any, inputs: Any, out: Any) -> None:
            if not module.training:
                return  # evaluation passes are not training batches
            if self.recorder.all_active(name):
                return  # every unit already seen active in this window: a pass saved
            dims = (0, 2, 3) if out.dim() == 4 else (0,)
            self.recorder.activity(name, _numpy(out.detach().amax(dim=dims) > 0))

        return hook

    def _sample_hook(self, name: str) -> Callable[..., None]:
        def hook(module: Any, inputs: Any, out: Any) -> None:
            self.recorder.observe_activation(name, _values(out))
            if out.requires_grad:
                out.register_hook(lambda grad: self.recorder.observe_gradient(name, _values(grad)))

        return hook

    def before_step(self, step: int, epoch: int, xb: Any) -> None:
        """Call before the forward pass of ``step`` (from 1) on the batch ``xb``."""
        self.recorder.count_batch()
        self._sampled = is_sampled(step, self.every)
        if self._sampled:
            self._start(step, epoch, xb)

    def _start(self, step: int, epoch: int, xb: Any) -> None:
        self._stop_hooks()  # a diagnosis may follow a sampled step's forward pass
        self.recorder.begin(step, epoch)
        self.recorder.observe_input(_values(xb))
        self._hooks = [
            module.register_forward_hook(self._sample_hook(name))
            for name, module, _ in self.modules
        ]

    def _stop_hooks(self) -> None:
        for handle in self._hooks:
            handle.remove()
        self._hooks = []

    def _parameters(self) -> None:
        for name, module, _ in self.modules:
            for role in ("weight", "bias"):
                p = getattr(module, role, None)
                if p is not None:
                    grad = _numpy(p.grad) if p.grad is not None else None
                    self.recorder.observe_parameter(name, role, _numpy(p), grad)

    def before_update(self) -> None:
        """After ``loss.backward()``, before ``optimizer.step()``."""
        if self._sampled:
            self._stop_hooks()
            self._parameters()

    def after_update(self) -> Internals | None:
        """After ``optimizer.step()``: the Internals event of a sampled step, else None."""
        if not self._sampled:
            return None
        self._sampled = False
        for name, module, kind in self.modules:
            for role in ("weight", "bias"):
                p = getattr(module, role, None)
                if p is not None:
                    self.recorder.observe_update(name, role, _numpy(p))
            if kind == "batchnorm" and module.running_mean is not None:
                self.recorder.observe_running_stats(
                    name, _numpy(module.running_mean), _numpy(module.running_var)
                )
        return self.recorder.finish()

    def diagnose(self, step: int, epoch: int, xb: Any, run_step: Callable[[], Any]) -> Internals:
        """Re-run a step whose loss was not finite with every layer recorded, to say where
        the NaN or inf first appeared: ``run_step()`` repeats the forward pass and
        ``backward()`` with the weights that produced it (no optimizer step)."""
        self._start(step, epoch, xb)
        try:
            run_step()
        finally:
            self._stop_hooks()
        self._parameters()
        self._sampled = False
        return self.recorder.finish()
