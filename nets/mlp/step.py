"""One training step of the numpy networks (``training_step``) and how the trainer
spreads a step over the cores (``split_across_cores``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from nets.cnn.config import usable_cores
from nets.mlp import parallel
from nets.mlp.blas_threads import ThreadTuner, blas_threads, set_blas_threads
from nets.mlp.classifiers import Classifier, Probe
from nets.mlp.layers import softmax_loss


def training_step(
    model: Classifier,
    X_batch: np.ndarray,
    y_batch: np.ndarray,
    reg: float,
    *,
    reuse_buffers: bool = False,
    probe: Probe | None = None,
    l2_in_grads: bool = True,
    squares: Mapping[str, float] | None = None,
    grad_buffers: Mapping[str, tuple[np.ndarray, float]] | None = None,
) -> tuple[float, dict[str, np.ndarray]]:
    """One forward and backward pass: softmax data loss + L2 on the weight matrices.

    Args:
        X_batch: (N, D) inputs. y_batch: (N,) labels. reg: L2 strength; the penalty
            reg/2 * sum(W^2) applies to ``model.weight_names()`` (never the biases).
        reuse_buffers: write into the model's preallocated buffers (the trainer's hot
            loop); the returned gradients are then overwritten by the next such call.
        probe: sees every layer's output and incoming gradient (``nets.internals``).
        l2_in_grads: False leaves reg * W out of the returned weight gradients (the loss
            still has the penalty) for the optimizer to add in its own pass over them,
            ``optimizer.step(grads, l2=l2_terms(model, reg))``: the trainer's hot loop
            saves a read and a write of every weight gradient that way.
        squares: {weight name: sum(W^2)} already known for the weights as they are now
            (``SGD.square_sums()``: its pass computed them); with ``l2_in_grads=False``
            those weights are not read again for the penalty.
        grad_buffers: {name: (array, beta)} to write those weight matrices' gradients
            into as array = beta * array + gradient, with ``reuse_buffers`` and
            ``l2_in_grads=False`` (``SGD.gradient_buffers()``: its velocity, holding
            momentum * v + reg * W, with beta 1, or the array its update writes the new
            weights into, so the step's working set holds one big array less). The
            returned "gradient" of such a parameter is that array. Spare arrays hold the
            optimizer's copy of the previous weights until then, which its ``rollback``
            needs, and a velocity must not take a failed step's gradient: a step whose
            loss is not finite skips its backward pass and returns no gradients.
    Returns:
        loss (float) and a dict of gradients with the keys and shapes of
        ``model.parameters()``.
    """
    if grad_buffers is not None and reg and l2_in_grads:
        raise ValueError("grad_buffers need l2_in_grads=False (the loss before the backward)")
    scores, cache = model.forward(X_batch, reuse_buffers=reuse_buffers, probe=probe)
    grad_out = model._buffer("grad_scores", scores.shape) if reuse_buffers else None
    loss, grad_scores = softmax_loss(scores, y_batch, out_grad=grad_out)
    params = model.parameters()
    weights = model.weight_names() if reg else ()
    if not l2_in_grads:  # the whole loss before the backward pass
        known = squares or {}
        for name in weights:
            square_sum = known.get(name)
            if square_sum is None:
                square_sum = _add_scaled(None, params[name], reg)
            loss += 0.5 * reg * square_sum
    if grad_buffers is not None and not math.isfinite(loss):
        return loss, {}
    with model.writing_gradients_into(grad_buffers or {}):
        grads = model.backward(grad_scores, cache, reuse_buffers=reuse_buffers, probe=probe)
    if l2_in_grads:
        for name in weights:
            loss += 0.5 * reg * _add_scaled(grads[name], params[name], reg)
    return loss, grads


def l2_terms(model: Classifier, reg: float) -> dict[str, float]:
    """{weight name: reg} for ``optimizer.step``'s ``l2`` after ``training_step(...,
    l2_in_grads=False)`` (empty without regularization)."""
    return {name: reg for name in model.weight_names()} if reg else {}


def with_l2(
    model: Classifier, grads: Mapping[str, np.ndarray], l2: Mapping[str, float]
) -> dict[str, np.ndarray]:
    """The gradients with the L2 terms that ``training_step(..., l2_in_grads=False)``
    left to the optimizer added (new arrays for those): what a sampled step shows."""
    params = model.parameters()
    out = dict(grads)
    for name, reg in l2.items():
        if reg and name in out:
            out[name] = out[name] + reg * params[name]
    return out


#: ``training_step``'s signature: (model, X_batch, y_batch, reg, *, reuse_buffers) -> (loss,
#: grads).
StepFunction = Callable[..., tuple[float, dict[str, np.ndarray]]]


def _add_scaled(target: np.ndarray | None, w: np.ndarray, scale: float) -> float:
    """target += scale * w (unless target is None); returns sum(w^2). One pass over blocks
    (split across cores in the trainer), with no full-size temporary."""
    t, s = (None if target is None else target.reshape(-1)), w.reshape(-1)
    squares: list[float] = []

    def block(start: int, end: int) -> None:
        part = s[start:end]
        squares.append(float(np.dot(part, part)))
        if t is not None:
            tmp = parallel.scratch(end - start, s.dtype)
            np.multiply(part, scale, out=tmp, casting="unsafe")
            t[start:end] += tmp

    parallel.for_blocks(s.size, block)
    return math.fsum(squares)


#: How a training step uses the cores (the tuner's options): every operation split across
#: the cores by ``nets.mlp.parallel`` with one BLAS thread per part, or one core for
#: everything. OpenBLAS's own threads are never used for training: after each call they
#: spin in ``sched_yield`` loops for a while, and those spinners took the cores our split
#: parts and the passes between the GEMMs needed. Measured in one epoch of 3072-512-10:
#: 17.3 CPU-seconds with the GEMMs on two OpenBLAS threads against 4.0 split (load 12),
#: and the tuner's probes of that mode alone made epochs 14% slower (alternating pairs,
#: load 14). On an idle machine OpenBLAS's threads ran the first layer's GEMMs 1-5% faster
#: than the split (bench_mlp), less than their probes and spinning cost. Tried again on an
#: Intel Xeon (AVX-512, 2 cores), where they ran those GEMMs about 10% faster (262-268
#: against 238-245 GFLOP/s): a third mode, the big GEMMs on OpenBLAS's threads and every
#: other pass split by our workers (BLAS back to one thread after each call, which does not
#: stop the spinning: 8-20 ms of CPU in the next 50 ms). The tuner chose it, its steps
#: being faster, yet the epochs were slower: 1.93/2.15/2.04 s and 3.8-4.0 CPU-s against
#: 1.70/1.76/1.75 s and 3.07-3.17 CPU-s without it (alternating, load 1.5-2.1): the
#: spinner took the core from the batch gather and the tuner's step window leaves out the
#: wait for that gather.
SPLIT_ALL, ONE_CORE = 2, 1


def split_across_cores(
    own_gemms: bool = True,
) -> tuple[parallel.Workers, ThreadTuner]:
    """Workers for every usable core (up to 8 and BLAS's thread count) when that count can be set
    (else BLAS's own threads are all the splitting there is), and the tuner that keeps the
    faster way to use them: timed on real steps, since which wins depends on the load.

    ``own_gemms``: the step's matrix products go through ``nets.mlp.parallel``
    (``training_step``). False for someone else's step (the user's own layers,
    ``nets.homework``): plain numpy calls that only BLAS's own threads can spread, so the
    split mode gives BLAS the cores while the step runs and the trainer's own passes (batch
    gathering, the optimizer's update) are still split by the workers. Measured with the
    seed-style solution, 3072-256-10, batch 200, float64: 1.57 s per epoch with one BLAS
    thread against 0.93 s with the cores before the tuner stopped offering them.
    """
    blas = blas_threads()
    # Never more parts than BLAS was given threads: a process limited to one (a search
    # worker, OPENBLAS_NUM_THREADS=1) stays on one core.
    cores = min(8, usable_cores(), blas) if blas is not None else 1
    workers = parallel.Workers(cores)

    def apply(mode: int) -> None:
        workers.set_width(1 if mode == ONE_CORE else cores)
        set_blas_threads(cores if mode == SPLIT_ALL and not own_gemms else 1)

    # Fewer and rarer probes than for BLAS threads alone: on an idle machine each costs a
    # step at up to half speed (two trials of each option, then one step in 100).
    tuner = ThreadTuner(
        trials=2,
        period=100,
        threads=SPLIT_ALL,
        apply=apply,
        options=[SPLIT_ALL, ONE_CORE] if cores > 1 else [],
    )
    return workers, tuner
