"""The image-folder loader: classes, resizing, skipped files, the cache (issue 9 case 4)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nets.data import folder as folder_mod
from nets.data import load_dataset, parse_spec, probe_dataset
from nets.errors import Cancelled, DataError


def _png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (32, 32)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def _make_folder(root: Path, per_class: int = 6, test: bool = True) -> Path:
    colours = {"cat": (200, 0, 0), "dog": (0, 200, 0), "emu": (0, 0, 200)}
    for name, colour in colours.items():
        for i in range(per_class):
            _png(root / "train" / name / f"{i}.png", colour)
        if test:
            _png(root / "test" / name / "t.png", colour)
    return root


def test_loads_classes_in_sorted_order_with_labels(tmp_path: Path) -> None:
    root = _make_folder(tmp_path / "data")
    ds = load_dataset(f"folder:{root}", num_val=3)
    assert ds.class_names == ("cat", "dog", "emu")
    assert ds.X_train.shape == (15, 32, 32, 3) and ds.X_val.shape == (3, 32, 32, 3)
    assert ds.X_test is not None and len(ds.y_test) == 3
    # The pixel colour tells the class: labels must match the folder each image came from.
    for X, y in ((ds.X_train, ds.y_train), (ds.X_val, ds.y_val), (ds.X_test, ds.y_test)):
        np.testing.assert_array_equal(np.argmax(X[:, 0, 0, :], axis=1), y)
    assert sorted(np.bincount(ds.y_val).tolist()) == [1, 1, 1]  # stratified
    assert ds.skipped == 0 and ds.skipped_summary == ""


def test_cifar_sized_images_stay_as_they_are_and_others_are_resized(tmp_path: Path) -> None:
    root = tmp_path / "d"
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    (root / "train" / "a").mkdir(parents=True)
    Image.fromarray(pixels).save(root / "train" / "a" / "exact.png")
    _png(root / "train" / "b" / "wide.png", (10, 20, 30), size=(300, 120))
    Image.new("L", (50, 50), 77).save(root / "train" / "b" / "gray.png")
    ds = load_dataset(f"folder:{root}", num_val=0)
    assert ds.X_train.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(ds.X_train[0], pixels)
    assert tuple(ds.X_train[1, 5, 5]) == (77, 77, 77)
    assert tuple(ds.X_train[2, 16, 16]) == (10, 20, 30)


def test_bad_files_are_skipped_and_counted(tmp_path: Path) -> None:
    root = _make_folder(tmp_path / "d", test=False)
    cat = root / "train" / "cat"
    (cat / "empty.jpg").write_bytes(b"")
    (cat / "notes.jpg").write_text("this is text, not a JPEG")
    good = (cat / "0.png").read_bytes()
    (cat / "truncated.png").write_bytes(good[: len(good) // 2])
    (cat / "loop").symlink_to(cat, target_is_directory=True)
    (cat / "self-link.png").symlink_to(cat / "self-link.png")
    (cat / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    ds = load_dataset(f"folder:{root}", num_val=2)
    assert len(ds.y_train) + len(ds.y_val) == 18
    reasons = dict(ds.skipped_by_reason)
    assert reasons[folder_mod.REASON_EMPTY] == 1
    assert reasons[folder_mod.REASON_NOT_IMAGE] == 1
    assert reasons[folder_mod.REASON_TRUNCATED] == 1
    assert reasons[folder_mod.REASON_DIR_LOOP] == 1
    assert reasons[folder_mod.REASON_BROKEN_LINK] == 2
    assert ds.skipped == 6
    assert ds.skipped_summary.startswith("6 files skipped: 2 broken or looping symlink")
    assert "skipped" in ds.describe()


def test_unreadable_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _make_folder(tmp_path / "d", test=False)
    locked = root / "train" / "dog" / "locked.png"
    _png(locked, (1, 2, 3))
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads any file: make the read fail the way it would
        import nets.images

        real = nets.images.read_image_bytes

        def deny(path):
            if Path(path).name == "locked.png":
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(nets.images, "read_image_bytes", deny)
    try:
        ds = load_dataset(f"folder:{root}", num_val=2)
    finally:
        locked.chmod(0o644)
    assert ds.skipped_by_reason[folder_mod.REASON_PERMISSION] == 1
    assert len(ds.y_train) + len(ds.y_val) == 18


def test_empty_folder_and_single_class_get_clear_messages(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no train/ folder"):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load_dataset(f"folder:{tmp_path}")
    _png(tmp_path / "train" / "only" / "a.png", (1, 1, 1))
    with pytest.raises(DataError, match="only one class"):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "train" / "other").mkdir()
    (tmp_path / "train" / "other" / "bad.png").write_bytes(b"junk")
    with pytest.raises(DataError, match="only one class .* readable"):
        load_dataset(f"folder:{tmp_path}")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'missing'}")


def test_every_file_unreadable(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / "train" / name).mkdir(parents=True)
        (tmp_path / "train" / name / "x.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="no readable images.*2 skipped"):
        load_dataset(f"folder:{tmp_path}")


def test_test_classes_must_be_train_classes(tmp_path: Path) -> None:
    root = _make_folder(tmp_path / "d")
    _png(root / "test" / "yak" / "y.png", (5, 5, 5))
    ds = load_dataset(f"folder:{root}", num_val=3)
    assert len(ds.y_test) == 3
    assert ds.skipped_by_reason[folder_mod.REASON_UNKNOWN_CLASS] == 1


def test_cache_is_reused_and_invalidated_when_files_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _make_folder(tmp_path / "d")
    first = load_dataset(f"folder:{root}", num_val=3)
    cache = root / ".backprop-explorer-cache-32px.npz"
    assert cache.is_file()
    with np.load(cache, allow_pickle=False) as npz:  # no pickled objects inside
        assert "X_train" in npz.files

    calls = []
    real = folder_mod.decode_chunk

    def counting(paths: list[str], size: int):
        calls.append(len(paths))
        return real(paths, size)

    monkeypatch.setattr(folder_mod, "decode_chunk", counting)
    second = load_dataset(f"folder:{root}", num_val=3)
    assert calls == []
    np.testing.assert_array_equal(first.X_train, second.X_train)

    _png(root / "train" / "dog" / "new.png", (0, 199, 0))
    third = load_dataset(f"folder:{root}", num_val=3)
    assert calls and len(third.y_train) == len(first.y_train) + 1

    calls.clear()
    stamp = root / "train" / "cat" / "0.png"
    os.utime(stamp, ns=(1, 1))
    load_dataset(f"folder:{root}", num_val=3)
    assert calls


def test_cache_falls_back_to_user_cache_dir_when_folder_not_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _make_folder(tmp_path / "d")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    user = tmp_path / "user-cache" / "c.npz"
    monkeypatch.setattr(folder_mod, "cache_paths", lambda r, s: [blocked / "cache.npz", user])
    load_dataset(f"folder:{root}", num_val=3)
    assert user.is_file() and not (root / ".backprop-explorer-cache-32px.npz").exists()


def test_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    root = _make_folder(tmp_path / "d")
    load_dataset(f"folder:{root}", num_val=3)
    cache = root / ".backprop-explorer-cache-32px.npz"
    cache.write_bytes(cache.read_bytes()[:100])
    ds = load_dataset(f"folder:{root}", num_val=3)
    assert len(ds.y_train) == 15


def test_worker_pool_path_matches_in_process_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _make_folder(tmp_path / "d", per_class=4)
    (root / "train" / "cat" / "bad.jpg").write_text("nope")
    serial = folder_mod.load(parse_spec(f"folder:{root}"), num_val=3, use_cache=False)
    monkeypatch.setattr(folder_mod, "_POOL_MIN_FILES", 1)
    monkeypatch.setattr(folder_mod, "_CHUNK", 4)
    events = []
    pooled = folder_mod.load(
        parse_spec(f"folder:{root}"),
        num_val=3,
        use_cache=False,
        progress=lambda d, t, m: events.append((d, t)),
    )
    np.testing.assert_array_equal(serial.X_train, pooled.X_train)
    np.testing.assert_array_equal(serial.y_val, pooled.y_val)
    assert pooled.skipped == 1
    assert events[-1][0] == events[-1][1] == 16


def test_cancel_stops_loading(tmp_path: Path) -> None:
    root = _make_folder(tmp_path / "d")
    with pytest.raises(Cancelled):
        load_dataset(f"folder:{root}", cancel=lambda: True)


def test_probe_lists_classes_and_counts_without_decoding(tmp_path: Path) -> None:
    root = _make_folder(tmp_path / "d", per_class=2)
    info = probe_dataset(f"folder:{root}")
    assert info.found and info.class_counts == {"cat": 2, "dog": 2, "emu": 2}
    assert info.num_test == 3
    single = tmp_path / "single"
    _png(single / "train" / "x" / "a.png", (0, 0, 0))
    info = probe_dataset(f"folder:{single}")
    assert not info.found and "only one class" in info.hint
    assert not probe_dataset(f"folder:{tmp_path / 'none'}").found


@pytest.mark.parametrize("spelling", ["absolute", "relative", "dotted"])
def test_files_are_fingerprinted_by_their_path_relative_to_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    root = _make_folder(tmp_path / "d", per_class=2, test=False)
    _png(root / "train" / "cat" / "sub" / "deep.png", (1, 1, 1))
    _png(root / "train" / "dog" / ".hidden" / "x.png", (2, 2, 2))  # seen through the link only
    (root / "train" / "dog" / "inner").symlink_to(root / "train" / "dog" / ".hidden")
    monkeypatch.chdir(tmp_path)
    given = {"absolute": root, "relative": Path("d"), "dotted": Path("d/../d/./train/..")}
    _, scan = folder_mod._scan_split(given[spelling] / "train", None, given[spelling])
    rels = sorted(row.split("\0")[0] for row in scan.fingerprint_rows)
    assert rels == [
        "train/cat/0.png",
        "train/cat/1.png",
        "train/cat/sub/deep.png",
        "train/dog/0.png",
        "train/dog/1.png",
        "train/dog/inner/x.png",
        "train/emu/0.png",
        "train/emu/1.png",
    ]
