"""``nets.mlp.cblas``: the GEMM that adds into its output and the one-pass axpby, through
numpy's own OpenBLAS and through the numpy fallback alike."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nets.mlp import cblas


@pytest.fixture(params=["blas", "numpy"])
def route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "numpy":
        monkeypatch.setattr(cblas, "_functions", {})
    elif not cblas.available():
        pytest.skip("numpy's BLAS here is not an OpenBLAS with cblas_sgemm")
    yield request.param


def _operand(rng: np.random.Generator, shape: tuple[int, int], transposed: bool, dtype):
    """A (rows, cols) array, stored transposed (a .T view) or as a column block."""
    if transposed:
        return rng.standard_normal(shape[::-1]).astype(dtype).T
    wide = rng.standard_normal((shape[0], shape[1] + 3)).astype(dtype)
    return wide[:, 1 : 1 + shape[1]]


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 40),
    n=st.integers(1, 40),
    k=st.integers(0, 40),
    ta=st.booleans(),
    tb=st.booleans(),
    beta=st.sampled_from([0.0, 1.0, 0.9, -0.5]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_gemm_adds_the_product_to_beta_times_the_output(
    m: int, n: int, k: int, ta: bool, tb: bool, beta: float, dtype, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a = _operand(rng, (m, k), ta, dtype)
    b = _operand(rng, (k, n), tb, dtype)
    wide = rng.standard_normal((m, n + 2)).astype(dtype)
    out = wide[:, :n]  # a column block: unit-strided rows, a longer leading dimension
    before, right = out.copy(), wide[:, n:].copy()
    expected = a.astype(np.float64) @ b.astype(np.float64) + beta * before
    for fallback in (False, True):
        target = out if not fallback else before.copy()
        if fallback:
            saved = cblas._functions
            cblas._functions = {}
        try:
            result = cblas.gemm(a, b, target, beta)
        finally:
            if fallback:
                cblas._functions = saved
        assert result is target
        tol = 1e-4 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(target, expected, rtol=tol, atol=tol * (1 + k))
    np.testing.assert_array_equal(wide[:, n:], right)  # nothing beside the block written


def test_gemm_with_beta_zero_never_reads_the_output(route: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 20), dtype=np.float32)
    b = rng.standard_normal((20, 10), dtype=np.float32)
    out = np.full((30, 10), np.nan, dtype=np.float32)
    cblas.gemm(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)


def test_gemm_refuses_shapes_that_do_not_match(route: str) -> None:
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="do not match"):
        cblas.gemm(a, np.ones((5, 2), np.float32), np.empty((3, 2), np.float32))
    with pytest.raises(ValueError, match="do not match"):
        cblas.gemm(a, np.ones((4, 2), np.float32), np.empty((3, 3), np.float32))


def test_gemm_of_a_column_block_in_place_matches_the_whole_product(route: str) -> None:
    """The trainer's split: each part writes its own columns of one C-contiguous array."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 300), dtype=np.float32)
    g = rng.standard_normal((64, 96), dtype=np.float32)
    v = rng.standard_normal((300, 96), dtype=np.float32)
    expected = 0.9 * v.astype(np.float64) + x.T.astype(np.float64) @ g
    for s, e in ((0, 48), (48, 96)):
        cblas.gemm(x.T, g[:, s:e], v[:, s:e], 0.9)
    np.testing.assert_allclose(v, expected, rtol=1e-4, atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(0, 3000),
    alpha=st.floats(-2, 2),
    beta=st.sampled_from([0.0, 1.0, 0.9]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_axpby_scales_and_adds_in_place(n: int, alpha: float, beta: float, dtype) -> None:
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    expected = alpha * x.astype(np.float64) + beta * y.astype(np.float64)
    assert cblas.axpby(alpha, x, beta, y) is y
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_axpby_falls_back_to_numpy_with_the_same_result(route: str) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal(1000, dtype=np.float32)
    y = rng.standard_normal(1000, dtype=np.float32)
    expected = 0.25 * x.astype(np.float64) + 0.9 * y
    cblas.axpby(0.25, x, 0.9, y)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="flat arrays"):
        cblas.axpby(1.0, x, 1.0, y[:10])


def test_numpys_openblas_is_found_where_threadpoolctl_sees_it() -> None:
    from threadpoolctl import threadpool_info

    openblas = any(
        lib.get("user_api") == "blas" and lib.get("internal_api") == "openblas"
        for lib in threadpool_info()
    )
    if not openblas:
        pytest.skip("numpy's BLAS here is not OpenBLAS")
    assert cblas.available("gemm", np.float32) and cblas.available("gemm", np.float64)
    assert cblas.available("axpby", np.float32)
