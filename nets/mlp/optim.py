"""Optimizers: the seed's ``Optimizer`` interface and SGD with momentum and lr decay."""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping

import numpy as np

from nets.errors import ConfigError
from nets.mlp import cblas, parallel


def _bracket(v: np.ndarray, w: np.ndarray, momentum: float, reg: float) -> None:
    """v = momentum * v + reg * w in place (flat blocks): one pass, the same numbers
    wherever it is done (the update's pass ahead of the next step, or before it)."""
    if reg:
        cblas.axpby(reg, w, momentum, v)
    else:  # not 0 * w: inf there (diverging weights) would make NaN of a finite v
        v *= v.dtype.type(momentum)


class Optimizer:
    """Updates a dict of parameter arrays from a dict of gradients of the same shapes.

    ``params`` is the model's own dict (``model.parameters()``): an optimizer may replace
    its values with new arrays, and the model reads them from that dict on every pass.
    """

    def __init__(self, params: MutableMapping[str, np.ndarray]) -> None:
        self.params = params

    def step(self, grads: Mapping[str, np.ndarray], l2: Mapping[str, float] | None = None) -> None:
        """Apply one update; ``grads`` holds an array for every key of ``params``.

        ``l2`` ({name: reg}) adds reg * w to those gradients first: the L2 term that
        ``training_step(..., l2_in_grads=False)`` left for the update to add in its pass.
        """
        raise NotImplementedError

    def end_epoch(self) -> None:
        """Called once after every epoch (learning-rate schedules)."""

    def rollback(self) -> bool:
        """Restore the parameters from before the last ``step``; False if not possible."""
        return False


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and per-epoch lr decay.

    Momentum follows PyTorch's convention: v = momentum * v + grad; w = w - lr * v
    (plain SGD when momentum is 0). After every epoch lr = lr * lr_decay. ``step``'s ``l2``
    adds reg * w to the named gradients in the same pass (PyTorch's weight decay), summed
    as (momentum * v + reg * w) + grad: equal to PyTorch's order to rounding (``step``).

    Updates are double-buffered: each step writes the new weights into a second set of
    arrays and swaps them into ``params``, which costs no extra memory traffic and keeps
    the previous weights for ``rollback`` (the trainer's "last good weights" after a
    divergence). The same pass sums the squares of the new weights ``l2`` names, for the
    next step's L2 penalty (``square_sums``).
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
        # name -> the L2 strength step(prepare=) folded into that velocity
        self._prepared: dict[str, float] = {}
        self._spare: dict[str, np.ndarray] = {}
        # name -> (the new weights, their sum of squares): see square_sums.
        self._squares: dict[str, tuple[np.ndarray, float]] = {}
        self._can_rollback = False

    def step(
        self,
        grads: Mapping[str, np.ndarray],
        l2: Mapping[str, float] | None = None,
        prepare: Mapping[str, float] | None = None,
    ) -> None:
        """``Optimizer.step``. With momentum, once a velocity exists, v = (momentum * v +
        reg * w) + g: the bracket first, so that it can be made ahead of the gradient (by
        ``prepare`` or ``gradient_buffers``) and every path gives the same numbers.

        ``prepare`` ({name: reg}, the next step's L2 terms) leaves that bracket for the
        next step in each velocity, made in this pass while the blocks are in the cache,
        so that the next backward pass's GEMM adds its gradient to it with beta 1
        (``gradient_buffers``): BLAS skips the sweep over its output that any other beta
        costs (about 5% of a 3072x512 step). ``velocities`` needs the velocity itself:
        the trainer does not prepare before a snapshot.
        """
        lr = self.learning_rate
        momentum = self.momentum
        for name, w in self.params.items():
            g = grads[name]
            reg = float(l2.get(name, 0.0)) if l2 else 0.0
            v = self._velocity.get(name) if momentum else None
            first = bool(momentum) and v is None
            if first:
                v = self._velocity[name] = np.empty(w.shape, dtype=w.dtype)
            # The L2 strength already in v's bracket (None: v is the velocity), and
            # whether g is v itself, to which the GEMM has added the gradient.
            folded = self._prepared.pop(name, None)
            accumulated = v is not None and g is v
            if accumulated and folded is None:
                raise ValueError(f"{name}'s gradient was added to an unprepared velocity")
            nxt = float(prepare.get(name, 0.0)) if prepare is not None and momentum else None
            spare = self._spare_for(name, w)
            # ``g`` may be ``spare`` itself (gradient_buffers): each block below reads its
            # part of g before it writes the new weights there.
            flat_w, flat_new = w.reshape(-1), spare.reshape(-1)
            flat_g = np.asarray(g).reshape(-1)
            flat_v = v.reshape(-1) if v is not None else None
            squares: list[float] = []

            # One pass over blocks (split across cores in the trainer) instead of a pass
            # per operation over the whole arrays, g read once and never written.
            def update(
                s: int,
                e: int,
                w: np.ndarray = flat_w,
                g: np.ndarray = flat_g,
                v: np.ndarray | None = flat_v,
                new: np.ndarray = flat_new,
                first: bool = first,
                folded: float | None = folded,
                accumulated: bool = accumulated,
                nxt: float | None = nxt,
                reg: float = reg,
                squares: list[float] = squares,
            ) -> None:
                if v is None or first:  # plain SGD or the first step: g + reg * w
                    step = g[s:e]
                    if reg:
                        tmp = parallel.scratch(e - s, w.dtype)
                        np.multiply(w[s:e], reg, out=tmp, casting="unsafe")
                        tmp += step
                        step = tmp
                    if v is not None:  # the velocity this first step starts
                        v[s:e] = step
                        step = v[s:e]
                else:
                    step = v[s:e]
                    if folded is None:
                        _bracket(step, w[s:e], momentum, reg)
                    elif reg != folded:  # not the L2 term prepared (never in the trainer)
                        cblas.axpby(reg - folded, w[s:e], 1.0, step)
                    if not accumulated:
                        step += g[s:e]
                np.multiply(step, -lr, out=new[s:e], casting="unsafe")
                new[s:e] += w[s:e]
                if nxt is not None and v is not None:
                    _bracket(v[s:e], new[s:e], momentum, nxt)
                if reg:  # while the block is in the cache: the next step's L2 penalty
                    # (inf for diverging weights, which the trainer's loss check reports;
                    # errstate is per thread, so set here, where the helpers run too)
                    with np.errstate(over="ignore", invalid="ignore"):
                        squares.append(float(np.dot(new[s:e], new[s:e])))

            parallel.for_blocks(flat_w.size, update)
            self.params[name] = spare
            self._spare[name] = w
            if nxt is not None:
                self._prepared[name] = nxt
            if reg:
                self._squares[name] = (spare, math.fsum(squares))
            else:
                self._squares.pop(name, None)
        self._can_rollback = True

    def gradient_buffers(
        self, l2: Mapping[str, float] | None = None
    ) -> dict[str, tuple[np.ndarray, float]]:
        """{name: (array, beta)} for the next gradients (``training_step(...,
        grad_buffers=...)``), each to be written as array = beta * array + gradient;
        ``l2`` ({name: reg}) the L2 terms the next ``step`` is given.

        With momentum, once a velocity exists: the velocity itself, with beta 1, holding
        momentum * v + reg * w (made now unless the last ``step`` prepared it). The
        backward pass's GEMM then leaves the new velocity there and ``step`` only writes
        the new weights (three sweeps fewer over a 6 MB array for a 3072x512 layer, in
        caches that the step's arrays overflow). Otherwise the spare array ``step`` writes
        the new weights into, with beta 0: the update reads each block of the gradient
        before it writes that block's new weights, so a step touches one array less per
        parameter. The spare arrays hold the previous weights, for ``rollback``, until a
        backward pass writes into them."""
        out: dict[str, tuple[np.ndarray, float]] = {}
        for name, w in self.params.items():
            v = self._velocity.get(name) if self.momentum else None
            if v is None or v.shape != w.shape or v.dtype != w.dtype:
                out[name] = (self._spare_for(name, w), 0.0)
                continue
            if name not in self._prepared:
                reg = float(l2.get(name, 0.0)) if l2 else 0.0
                flat_v, flat_w = v.reshape(-1), w.reshape(-1)

                def bracket(
                    s: int, e: int, v: np.ndarray = flat_v, w: np.ndarray = flat_w, reg: float = reg
                ) -> None:
                    _bracket(v[s:e], w[s:e], self.momentum, reg)

                parallel.for_blocks(flat_v.size, bracket)
                self._prepared[name] = reg
            out[name] = (v, 1.0)
        return out

    def velocities(self) -> dict[str, np.ndarray]:
        """The momentum buffers as PyTorch's SGD keeps them ({name: v}, the arrays
        themselves), for snapshots. Not after a ``step`` that prepared the next one."""
        if self._prepared:
            raise RuntimeError("the velocities hold the next step's terms (step(prepare=))")
        return dict(self._velocity)

    def set_velocities(self, velocities: Mapping[str, np.ndarray]) -> None:
        """Take these momentum buffers ({name: v}, as ``velocities`` gives them)."""
        for name, v in velocities.items():
            self._velocity[name] = v
            self._prepared.pop(name, None)

    def _spare_for(self, name: str, w: np.ndarray) -> np.ndarray:
        """The array ``step`` writes ``name``'s new weights into (made to match ``w``)."""
        spare = self._spare.get(name)
        if spare is None or spare.shape != w.shape or spare.dtype != w.dtype:
            spare = self._spare[name] = np.empty(w.shape, dtype=w.dtype)  # C order
        return spare

    def square_sums(self) -> dict[str, float]:
        """{name: sum(w^2)} of the weights the last ``step`` wrote and regularized (its
        ``l2``), for those still in ``params``: ``training_step(..., squares=...)`` takes
        them instead of reading the weights again. Summed over the same blocks as
        ``training_step``'s own pass (``parallel.for_blocks``), so the same number.
        """
        return {
            name: total
            for name, (array, total) in self._squares.items()
            if self.params.get(name) is array
        }

    def rollback(self) -> bool:
        if not self._can_rollback:
            return False
        for name in list(self.params):
            self.params[name], self._spare[name] = self._spare[name], self.params[name]
        self._squares.clear()
        self._can_rollback = False
        return True

    def end_epoch(self) -> None:
        self.learning_rate *= self.lr_decay
