"""Optimizers: the seed's ``Optimizer`` interface and SGD with momentum and lr decay."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import numpy as np

from nets.errors import ConfigError


class Optimizer:
    """Updates a dict of parameter arrays from a dict of gradients of the same shapes.

    ``params`` is the model's own dict (``model.parameters()``): an optimizer may replace
    its values with new arrays, and the model reads them from that dict on every pass.
    """

    def __init__(self, params: MutableMapping[str, np.ndarray]) -> None:
        self.params = params

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        """Apply one update; ``grads`` holds an array for every key of ``params``."""
        raise NotImplementedError

    def end_epoch(self) -> None:
        """Called once after every epoch (learning-rate schedules)."""

    def rollback(self) -> bool:
        """Restore the parameters from before the last ``step``; False if not possible."""
        return False


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and per-epoch lr decay.

    Momentum follows PyTorch's convention: v = momentum * v + grad; w = w - lr * v
    (plain SGD when momentum is 0). After every epoch lr = lr * lr_decay.

    Updates are double-buffered: each step writes the new weights into a second set of
    arrays and swaps them into ``params``, which costs no extra memory traffic and keeps
    the previous weights for ``rollback`` (the trainer's "last good weights" after a
    divergence).
    """

    def __init__(
        self,
        params: MutableMapping[str, np.ndarray],
        learning_rate: float,
        momentum: float = 0.0,
        lr_decay: float = 1.0,
    ) -> None:
        super().__init__(params)
        if not np.isfinite(learning_rate) or learning_rate <= 0:
            raise ConfigError(f"learning rate must be a positive number, got {learning_rate}")
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum}")
        if not 0.0 < lr_decay <= 1.0:
            raise ConfigError(f"learning-rate decay must be in (0, 1], got {lr_decay}")
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.lr_decay = float(lr_decay)
        self._velocity: dict[str, np.ndarray] = {}
        self._spare: dict[str, np.ndarray] = {}
        self._can_rollback = False

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        lr = self.learning_rate
        for name, w in self.params.items():
            g = grads[name]
            if self.momentum:
                v = self._velocity.get(name)
                if v is None:
                    v = self._velocity[name] = np.array(g, dtype=w.dtype, copy=True)
                else:
                    v *= self.momentum
                    v += g
                g = v
            spare = self._spare.get(name)
            if spare is None or spare.shape != w.shape or spare.dtype != w.dtype:
                spare = np.empty_like(w)
            # new = w - lr * g, written into the spare buffer.
            np.multiply(g, -lr, out=spare, casting="unsafe")
            spare += w
            self.params[name] = spare
            self._spare[name] = w
        self._can_rollback = True

    def rollback(self) -> bool:
        if not self._can_rollback:
            return False
        for name in list(self.params):
            self.params[name], self._spare[name] = self._spare[name], self.params[name]
        self._can_rollback = False
        return True

    def end_epoch(self) -> None:
        self.learning_rate *= self.lr_decay
