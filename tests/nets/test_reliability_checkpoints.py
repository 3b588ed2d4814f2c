"""Issue 9, case 3 (numpy checkpoints) and case 6 for checkpoint saves."""

from __future__ import annotations

import errno
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nets.errors import CheckpointError
from nets.mlp.checkpoint import load_checkpoint, load_model, save_checkpoint
from nets.mlp.classifiers import LinearClassifier, TwoLayerNet


class _MarkerPayload:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _good(tmp_path: Path) -> Path:
    return save_checkpoint(tmp_path / "good.npz", TwoLayerNet(6, 3, hidden_dim=4, seed=0))


def test_npz_with_pickle_payload_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "evil.npz"
    payload = np.empty(1, dtype=object)
    payload[0] = _MarkerPayload(marker)
    # A valid checkpoint's members plus a pickled object array.
    good = _good(tmp_path)
    with np.load(good, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    members["param/W1"] = payload
    np.savez(path, **members)
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(path)
    assert not marker.exists()


def test_raw_pickle_file_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(_MarkerPayload(marker)))
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(path)
    assert not marker.exists()


def test_zero_byte_truncated_and_corrupt(tmp_path: Path) -> None:
    good = _good(tmp_path).read_bytes()
    cases = {
        "empty.npz": b"",
        "truncated.npz": good[: len(good) // 2],
        "garbage.npz": b"\x00" + os.urandom(1999),  # 0x80 first would read as a pickle
        "flipped.npz": good[:200] + bytes(b ^ 0xFF for b in good[200:400]) + good[400:],
        "header-only.npz": good[:30],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError, match="checkpoint corrupted"):
            load_checkpoint(tmp_path / name)


def test_npz_without_metadata_or_with_bad_metadata(tmp_path: Path) -> None:
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match="checkpoint corrupted"):
        load_checkpoint(tmp_path / "plain.npz")
    np.savez(tmp_path / "badmeta.npz", meta=np.array("{not json"))
    with pytest.raises(CheckpointError, match="checkpoint corrupted"):
        load_checkpoint(tmp_path / "badmeta.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match="checkpoint corrupted"):
        load_checkpoint(tmp_path / "single.npy")


def test_torch_checkpoint_gets_a_mismatch_message(tmp_path: Path) -> None:
    # The layout torch.save writes: a zip with <name>/data.pkl, <name>/version, ...
    path = tmp_path / "cnn.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("cnn/data.pkl", pickle.dumps({"state": 1}))
        zf.writestr("cnn/version", "3\n")
        zf.writestr("cnn/byteorder", "little")
    with pytest.raises(CheckpointError, match="PyTorch checkpoint"):
        load_checkpoint(path)


def test_real_torch_save_file_gets_a_mismatch_message(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "real.pt"
    torch.save({"weight": torch.zeros(2, 2)}, path)
    with pytest.raises(CheckpointError, match="PyTorch checkpoint"):
        load_checkpoint(path)


def test_wrong_architecture_leaves_the_current_model_unchanged(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "other.npz", TwoLayerNet(6, 3, hidden_dim=9, seed=1))
    current = TwoLayerNet(6, 3, hidden_dim=4, seed=0)
    before = current.state()
    with pytest.raises(CheckpointError, match="mismatch"):
        current.load_state(load_checkpoint(path).model.parameters())
    lin = save_checkpoint(tmp_path / "lin.npz", LinearClassifier(6, 3))
    with pytest.raises(CheckpointError, match="mismatch"):
        load_model(lin, TwoLayerNet)
    for k, v in before.items():
        np.testing.assert_array_equal(current.params[k], v)


def test_parameters_inconsistent_with_metadata(tmp_path: Path) -> None:
    good = _good(tmp_path)
    with np.load(good, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    members["param/W1"] = np.zeros((7, 7), np.float32)
    np.savez(tmp_path / "bad.npz", **members)
    with pytest.raises(CheckpointError, match="mismatch"):
        load_checkpoint(tmp_path / "bad.npz")
    members["param/W1"] = np.full((6, 4), np.nan, np.float32)
    np.savez(tmp_path / "nan.npz", **members)
    with pytest.raises(CheckpointError, match="not finite"):
        load_checkpoint(tmp_path / "nan.npz")


def test_enospc_during_save_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _good(tmp_path)
    before = path.read_bytes()
    real_fsync = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CheckpointError, match="no space left on the device"):
        save_checkpoint(path, TwoLayerNet(6, 3, hidden_dim=4, seed=9))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["good.npz"]  # no temporary left
    load_checkpoint(path)


def test_read_only_target_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: fail the open the way it would fail
        import nets.fileio

        def denied(*args: object, **kwargs: object) -> None:
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(nets.fileio, "open", denied, raising=False)
    try:
        with pytest.raises(CheckpointError, match="cannot save .*permission denied"):
            save_checkpoint(folder / "m.npz", LinearClassifier(3, 2))
    finally:
        folder.chmod(0o755)
    assert list(folder.iterdir()) == []


def test_target_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="is a folder"):
        save_checkpoint(tmp_path, LinearClassifier(3, 2))


def test_metadata_claiming_a_huge_network_allocates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    good = _good(tmp_path)
    with np.load(good, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    meta = json.loads(str(members["meta"]))
    meta["model_hyperparameters"]["hidden_dim"] = 10**8
    members["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "huge.npz", **members)

    def no_construction(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was built before the shapes were checked")

    monkeypatch.setattr(TwoLayerNet, "__init__", no_construction)
    with pytest.raises(CheckpointError, match="architecture mismatch"):
        load_checkpoint(tmp_path / "huge.npz")


@pytest.mark.parametrize(
    "meta_change, message",
    [
        ({"version": float("inf")}, "format version of inf, not a whole number"),
        ({"version": "2"}, "format version of '2', not a whole number"),
        ({"image_shape": ["32", 32, 3]}, "bad image shape"),
    ],
)
def test_metadata_of_the_wrong_type_is_refused_in_words(tmp_path: Path, meta_change, message):
    import json

    from nets.mlp.checkpoint import load_checkpoint as load

    path = tmp_path / "m.npz"
    save_checkpoint(path, LinearClassifier(12, 3))
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    meta.update(meta_change)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=message):
        load(path)


def test_complex_weights_are_refused_without_a_numpy_warning(tmp_path: Path) -> None:
    import warnings

    from nets.mlp.checkpoint import load_checkpoint as load

    path = tmp_path / "m.npz"
    save_checkpoint(path, LinearClassifier(12, 3))
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    name = next(k for k in arrays if k.startswith("param/"))
    arrays[name] = arrays[name].astype(np.complex128)
    np.savez(path, **arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckpointError, match="complex128 values, not real numbers"):
            load(path)
