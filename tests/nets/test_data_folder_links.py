"""Symlinks in image-folder datasets: followed only inside their own class folder, and
every skipped link named in the summary (never a silent mislabel)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from nets.data import folder as folder_mod
from nets.data import load_dataset


def _folder(root: Path, per_class: int = 4) -> Path:
    colours = {"airplane": (200, 0, 0), "bird": (0, 200, 0), "cat": (0, 0, 200)}
    for name, colour in colours.items():
        (root / "train" / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (32, 32), colour).save(root / "train" / name / f"{i}.png")
    return root


def _labels_match_colours(ds) -> None:
    for X, y in ((ds.X_train, ds.y_train), (ds.X_val, ds.y_val)):
        np.testing.assert_array_equal(np.argmax(X[:, 0, 0, :], axis=1), y)


def test_a_link_into_another_class_is_skipped_and_named(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    (root / "train" / "airplane" / "more").symlink_to("../bird", target_is_directory=True)
    ds = load_dataset(f"folder:{root}", num_val=3)
    assert len(ds.y_train) + len(ds.y_val) == 12  # bird images counted once, as birds
    _labels_match_colours(ds)
    assert "symlink leading out of its class folder (train/airplane/more -> ../bird)" in (
        ds.skipped_summary
    )


def test_a_link_to_the_parent_does_not_break_the_load(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    (root / "train" / "cat" / "up").symlink_to("..", target_is_directory=True)
    ds = load_dataset(f"folder:{root}", num_val=3)
    assert ds.class_names == ("airplane", "bird", "cat")
    assert len(ds.y_train) + len(ds.y_val) == 12
    assert "(train/cat/up -> ..)" in ds.skipped_summary


def test_a_link_inside_its_own_class_folder_is_followed(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    sub = root / "train" / "cat" / "sub"
    sub.mkdir()
    Image.new("RGB", (32, 32), (0, 0, 200)).save(sub / "x.png")
    (root / "train" / "cat" / "alias.png").symlink_to("sub/x.png")
    ds = load_dataset(f"folder:{root}", num_val=3)
    assert len(ds.y_train) + len(ds.y_val) == 14
    assert ds.skipped == 0


def test_a_class_folder_linked_to_another_class_is_skipped_and_named(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    (root / "train" / "dog").symlink_to("cat", target_is_directory=True)
    ds = load_dataset(f"folder:{root}", num_val=3)
    assert ds.class_names == ("airplane", "bird", "cat")
    assert "(train/dog -> cat)" in ds.skipped_summary


def test_a_fifo_among_the_images_is_skipped_without_blocking(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    os.mkfifo(tmp_path / "pipe")
    (root / "train" / "cat" / "x.jpg").symlink_to(tmp_path / "pipe")
    os.mkfifo(root / "train" / "bird" / "y.jpg")
    ds = load_dataset(f"folder:{root}", num_val=3)
    assert len(ds.y_train) + len(ds.y_val) == 12
    assert ds.skipped == 2


def test_a_new_outside_link_is_reported_even_with_a_cache(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    load_dataset(f"folder:{root}", num_val=3)
    (root / "train" / "airplane" / "more").symlink_to("../bird", target_is_directory=True)
    ds = load_dataset(f"folder:{root}", num_val=3)
    assert folder_mod.REASON_LINK_OUT in ds.skipped_summary
