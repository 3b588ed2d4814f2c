"""Dataset specs, the stratified split, preprocessing and the minibatch sampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nets.data import DataSampler, Preprocessor, parse_spec, split_train_val
from nets.errors import DataError


@pytest.mark.parametrize(
    ("text", "kind", "path"),
    [
        ("cifar10:/data/c", "cifar10", Path("/data/c")),
        ("cifar10", "cifar10", None),
        ("fashion-mnist", "fashion-mnist", None),
        ("Fashion-MNIST:/x", "fashion-mnist", Path("/x")),
        ("folder:/work/imgs", "folder", Path("/work/imgs")),
        ("  folder:rel/dir ", "folder", Path("rel/dir")),
    ],
)
def test_parse_spec_accepts_the_documented_forms(text: str, kind: str, path: Path | None) -> None:
    spec = parse_spec(text)
    assert spec.kind == kind
    assert spec.path == path


@pytest.mark.parametrize("text", ["", "mnist:/x", "folder", "folder:", "/just/a/path", "imagenet"])
def test_parse_spec_rejects_others_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(DataError, match="folder:DIR"):
        parse_spec(text)


def test_split_is_deterministic_stratified_and_disjoint() -> None:
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    train, val = split_train_val(y, 10, seed=3)
    again_train, again_val = split_train_val(y, 10, seed=3)
    np.testing.assert_array_equal(val, again_val)
    np.testing.assert_array_equal(train, again_train)
    assert len(val) == 10 and len(train) == 90
    assert not set(train) & set(val)
    # Proportional: 50/100 of 10 -> 5, 30 -> 3, 15 -> 1.5, 5 -> 0.5 (largest remainders).
    counts = np.bincount(y[val], minlength=4)
    assert counts[0] == 5 and counts[1] == 3 and counts.sum() == 10
    _, other = split_train_val(y, 10, seed=4)
    assert not np.array_equal(val, other)


def test_split_refuses_a_validation_set_as_large_as_train() -> None:
    with pytest.raises(DataError, match="validation"):
        split_train_val(np.arange(10) % 2, 10)


def test_preprocessor_uses_training_statistics_only() -> None:
    rng = np.random.default_rng(0)
    X_train = rng.integers(0, 256, size=(50, 4, 4, 3), dtype=np.uint8)
    X_val = np.full((5, 4, 4, 3), 255, dtype=np.uint8)
    pre = Preprocessor.fit(X_train)
    flat = X_train.reshape(50, -1).astype(np.float64)
    np.testing.assert_allclose(pre.mean, flat.mean(axis=0), rtol=1e-6)
    assert pre.scale == pytest.approx((flat - flat.mean(axis=0)).std(), rel=1e-6)
    out = pre.transform(X_train)
    assert out.dtype == np.float32 and out.shape == (50, 48)
    assert abs(out.mean()) < 1e-5 and out.std() == pytest.approx(1.0, rel=1e-4)
    val = pre.transform(X_val)
    np.testing.assert_allclose(val[0], (255 - pre.mean) / pre.scale, rtol=1e-5)
    restored = Preprocessor.from_arrays(pre.to_arrays())
    np.testing.assert_array_equal(restored.transform(X_val), val)


def test_preprocessor_refuses_images_of_another_size() -> None:
    pre = Preprocessor.fit(np.zeros((3, 2, 2, 1), np.uint8))
    with pytest.raises(DataError, match="expects 4"):
        pre.transform(np.zeros((3, 3, 3, 1), np.uint8))


@pytest.mark.parametrize("reuse", [False, True])
def test_sampler_visits_every_example_once_per_epoch(reuse: bool) -> None:
    X = np.arange(23, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(23)
    sampler = DataSampler(X, y, batch_size=5, seed=1, reuse_buffers=reuse)
    assert len(sampler) == 5
    seen = []
    for xb, yb in sampler:
        assert xb.shape[0] == yb.shape[0] <= 5
        np.testing.assert_array_equal(xb[:, 0], yb)
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(23))
    assert seen != list(range(23))  # shuffled
    second = [int(v) for _, yb in sampler for v in yb]
    assert sorted(second) == list(range(23)) and second != seen


def test_sampler_is_reproducible_from_its_seed() -> None:
    X, y = np.zeros((40, 2)), np.arange(40)
    a = [yb.tolist() for _, yb in DataSampler(X, y, 7, seed=5)]
    b = [yb.tolist() for _, yb in DataSampler(X, y, 7, seed=5)]
    assert a == b


def test_sampler_rejects_bad_arguments() -> None:
    with pytest.raises(DataError):
        DataSampler(np.zeros((3, 2)), np.zeros(3), 0)
    with pytest.raises(DataError):
        DataSampler(np.zeros((3, 2)), np.zeros(2), 1)
