"""The numpy net's own split of its big operations across cores gives the whole-call results."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nets.mlp import parallel
from nets.mlp.layers import fc_backward, fc_forward
from nets.mlp.optim import SGD


@pytest.fixture
def workers():
    w = parallel.Workers(3)
    yield w
    w.close()


def test_split_gemms_and_gather_equal_the_whole_calls(workers: parallel.Workers) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((70, 1200), dtype=np.float32)
    b = rng.standard_normal((1200, 50), dtype=np.float32)
    g = rng.standard_normal((70, 50), dtype=np.float32)
    X = rng.standard_normal((500, 4000), dtype=np.float32)
    idx = rng.permutation(500)[:90]
    with parallel.splitting(workers):
        assert parallel.active() is workers
        out = parallel.dot(a, b, np.full((70, 50), np.nan, np.float32))
        gw = parallel.dot_tn(a, g, np.full((1200, 50), np.nan, np.float32))
        rows = parallel.take_rows(X, idx, np.empty((90, 4000), np.float32))
    assert parallel.active() is None
    assert 70 * 1200 * 50 >= parallel.MIN_GEMM_WORK  # the split path, not the whole call
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gw, a.T @ g, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(rows, X[idx])


def test_wide_gemms_split_over_columns_equal_the_whole_calls(
    workers: parallel.Workers,
) -> None:
    """Outputs with enough columns are split over them, each part written in place."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((96, 310), dtype=np.float32)
    w = rng.standard_normal((310, 400), dtype=np.float32)
    g = rng.standard_normal((96, 400), dtype=np.float32)
    assert w.shape[1] >= parallel.MIN_COLUMNS * workers.width
    with parallel.splitting(workers):
        out = parallel.dot(x, w, np.full((96, 400), np.nan, np.float32))
        gw = parallel.dot_tn(x, g, np.full((310, 400), np.nan, np.float32))
    np.testing.assert_allclose(out, x @ w, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gw, x.T @ g, rtol=1e-5, atol=1e-4)


def test_layers_and_sgd_give_the_same_numbers_split_or_not(workers: parallel.Workers) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 700), dtype=np.float32)
    w = rng.standard_normal((700, 400), dtype=np.float32)
    bias = rng.standard_normal(400, dtype=np.float32)
    up = rng.standard_normal((64, 400), dtype=np.float32)

    def run() -> tuple[np.ndarray, ...]:
        out, cache = fc_forward(x, w, bias)
        _, gw, gb = fc_backward(up, cache, need_grad_x=False)
        params = {"W": w.copy(), "b": bias.copy()}
        opt = SGD(params, 0.1, momentum=0.9)
        for _ in range(3):
            opt.step({"W": gw, "b": gb})
        return out, gw, params["W"], params["b"]

    plain = run()
    with parallel.splitting(workers):
        split = run()
    for p, s in zip(plain, split, strict=True):
        # float32 sums of 700 products in another order (column blocks pick other BLAS
        # kernels on some CPUs): the error scales with the sums' size, not with each
        # element (seen: 3e-5 at an element of 1.0 among outputs of up to 100, AMD EPYC).
        np.testing.assert_allclose(s, p, rtol=1e-5, atol=1e-6 * float(np.abs(p).max()))


def test_a_failing_part_is_raised_in_the_caller(workers: parallel.Workers) -> None:
    def fn(part: int, parts: int) -> None:
        if part == parts - 1:
            raise ValueError(f"part {part} of {parts}")

    with pytest.raises(ValueError, match="part 2 of 3"):
        workers.run(fn)
    seen: list[int] = []
    workers.run(lambda part, parts: seen.append(part))  # still usable afterwards
    assert sorted(seen) == [0, 1, 2]
    workers.set_width(1)
    seen.clear()
    workers.run(lambda part, parts: seen.append(parts))
    assert seen == [1]


def test_blocks_cover_every_element_once(workers: parallel.Workers) -> None:
    size = parallel.MIN_WORK + 12345
    hits = np.zeros(size, np.int64)

    def block(s: int, e: int) -> None:
        hits[s:e] += 1

    with parallel.splitting(workers):
        parallel.for_blocks(size, block)
    assert hits.min() == 1 and hits.max() == 1


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_adding_the_l2_term_in_its_pass_gives_the_same_numbers(
    workers: parallel.Workers, momentum: float
) -> None:
    """training_step(l2_in_grads=False) + step(l2=...) is the L2-in-the-gradient update:
    to the last bit without momentum; with it, once a velocity exists, the sum is
    (momentum * v + reg * w) + g against momentum * v + (g + reg * w), equal to rounding."""
    from nets.mlp.classifiers import TwoLayerNet
    from nets.mlp.step import l2_terms, training_step

    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 600), dtype=np.float32)
    y = rng.integers(0, 10, 40)
    reg = 0.05

    def run(fused: bool) -> tuple[list[float], dict[str, np.ndarray]]:
        model = TwoLayerNet(600, 10, 520, 0.05, seed=1)
        opt = SGD(model.parameters(), 0.1, momentum=momentum)
        losses = []
        with parallel.splitting(workers):
            for _ in range(3):
                loss, grads = training_step(
                    model, X, y, reg, reuse_buffers=True, l2_in_grads=not fused
                )
                opt.step(grads, l2=l2_terms(model, reg) if fused else None)
                losses.append(loss)
        return losses, model.parameters()

    plain_losses, plain = run(False)
    fused_losses, fused = run(True)
    assert plain["W1"].size > parallel.MIN_WORK  # the split pass, not the small-array path
    if not momentum:
        assert fused_losses == plain_losses
        for name in plain:
            np.testing.assert_array_equal(fused[name], plain[name])
        return
    assert fused_losses[:2] == plain_losses[:2]  # the second step uses the first velocity
    np.testing.assert_allclose(fused_losses, plain_losses, rtol=1e-6)
    for name in plain:
        np.testing.assert_allclose(fused[name], plain[name], rtol=1e-5, atol=1e-7)


def test_the_squares_summed_in_sgds_pass_give_the_same_losses(workers: parallel.Workers) -> None:
    """The L2 penalty from SGD's own sums of the new weights (square_sums) is the one a
    separate pass over the weights gives, to the last bit; replaced or rolled-back
    weights have none."""
    from nets.mlp.classifiers import TwoLayerNet
    from nets.mlp.step import l2_terms, training_step

    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 900), dtype=np.float32)
    y = rng.integers(0, 10, 40)
    reg = 0.05

    def run(reuse: bool) -> tuple[list[float], SGD]:
        model = TwoLayerNet(900, 10, 700, 0.05, seed=2)
        opt = SGD(model.parameters(), 0.1, momentum=0.9)
        losses = []
        with parallel.splitting(workers):
            for _ in range(4):
                known = opt.square_sums() if reuse else None
                loss, grads = training_step(
                    model, X, y, reg, reuse_buffers=True, l2_in_grads=False, squares=known
                )
                opt.step(grads, l2=l2_terms(model, reg))
                losses.append(loss)
        return losses, opt

    plain, _ = run(False)
    reused, opt = run(True)
    assert reused == plain
    assert 900 * 700 > 2 * parallel.BLOCK  # several blocks, split across the workers
    sums = opt.square_sums()
    assert set(sums) == {"W1", "W2"}
    w1 = opt.params["W1"].astype(np.float64)
    assert sums["W1"] == pytest.approx(float(np.sum(w1 * w1)), rel=1e-5)
    opt.params["W2"] = opt.params["W2"].copy()
    assert set(opt.square_sums()) == {"W1"}
    assert opt.rollback()
    assert opt.square_sums() == {}


def test_a_deferred_job_runs_on_a_helper_after_its_part_of_the_next_split(
    workers: parallel.Workers,
) -> None:
    seen: list[tuple[str, bool]] = []

    def job() -> None:
        with parallel.splitting(workers):  # a helper's own calls are never split
            seen.append((threading.current_thread().name, parallel.active() is None))

    workers.defer(job)
    assert seen == []  # nothing runs before the next split
    workers.run(lambda part, parts: None)
    workers.settle()
    assert seen == [("mlp-split-1", True)]
    workers.set_width(1)  # no helper takes it: settle() runs it in the caller
    workers.defer(job)
    workers.run(lambda part, parts: None)
    assert len(seen) == 1
    workers.settle()
    assert seen[1] == (threading.current_thread().name, True)


def test_a_failing_deferred_job_is_raised_by_settle(workers: parallel.Workers) -> None:
    def job() -> None:
        raise ValueError("deferred")

    workers.defer(job)
    workers.run(lambda part, parts: None)
    with pytest.raises(ValueError, match="deferred"):
        workers.settle()
    workers.settle()  # raised once, then gone
    ran: list[int] = []
    workers.defer(lambda: ran.append(1))
    workers.close()  # a pending job is run (or waited for) before the helpers end
    assert ran == [1]


@pytest.mark.parametrize("width", [1, 3])
def test_prefetching_sampler_yields_the_batches_of_the_plain_one(
    workers: parallel.Workers, width: int
) -> None:
    """Batches gathered by a helper during the consumer's split work are the ones the
    sampler gathers itself, in the same order, each intact while it is used."""
    from nets.data.preprocess import DataSampler

    rng = np.random.default_rng(5)
    X = rng.standard_normal((103, 300), dtype=np.float32)
    y = np.arange(103)
    workers.set_width(width)
    plain = DataSampler(X, y, 16, seed=7, reuse_buffers=True)
    fetched = DataSampler(X, y, 16, seed=7, reuse_buffers=True, prefetch=workers)
    a = rng.standard_normal((64, 700), dtype=np.float32)
    b = rng.standard_normal((700, 512), dtype=np.float32)
    out = np.empty((64, 512), np.float32)
    for _ in range(2):  # two epochs
        batches = 0
        for (xp, yp), (xf, yf) in zip(plain, fetched, strict=True):
            before = xf.copy()
            with parallel.splitting(workers):
                parallel.dot(a, b, out)  # the helper fetches the next batch after its part
                parallel.dot(a, b, out)
            np.testing.assert_array_equal(xf, before)  # not overwritten while in use
            np.testing.assert_array_equal(xf, xp)
            np.testing.assert_array_equal(yf, yp)
            batches += 1
        assert batches == 7
