"""nets.cnn.checkpoint: round trip, and issue 9 case 3 for .pt files (pickle payloads,
zero-byte/truncated/corrupt files, a numpy .npz or a wrong architecture)."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from nets.cnn.arch import BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from nets.cnn.checkpoint import (
    checkpoint_dict,
    load_checkpoint,
    load_weights_into,
    read_checkpoint_dict,
    record_test,
    save_checkpoint,
)
from nets.cnn.config import TrainConfig
from nets.cnn.model import build_model
from nets.cnn.trained import TrainedCnn, predict
from nets.errors import CheckpointError
from nets.testrecord import TestRecord

ARCH = (
    Conv2d(4, 3, padding=1),
    BatchNorm2d(),
    ReLU(),
    MaxPool2d(2),
    Dropout(0.2),
    Flatten(),
    Linear(3),
)
OTHER = (
    Conv2d(6, 3, padding=1),
    BatchNorm2d(),
    ReLU(),
    MaxPool2d(2),
    Dropout(0.2),
    Flatten(),
    Linear(3),
)
SHAPE = (1, 8, 8)


def make_trained(arch=ARCH, seed: int = 0) -> TrainedCnn:
    torch.manual_seed(seed)
    model = build_model(arch, SHAPE, 3)
    # Non-default BatchNorm statistics so the round trip must carry buffers too.
    model.layers[1].running_mean.uniform_(-1, 1)
    model.layers[1].running_var.uniform_(0.5, 2)
    model.eval()
    return TrainedCnn(
        model=model,
        arch=tuple(arch),
        input_shape=SHAPE,
        class_names=("a", "b", "c"),
        mean=(40.0,),
        std=(60.0,),
        config=TrainConfig(epochs=3),
        data_source="synthetic",
        iterations=12,
        val_acc=0.5,
    )


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (32, 8, 8, 1)).astype(np.uint8)


@pytest.fixture
def saved(tmp_path) -> tuple[Path, TrainedCnn]:
    trained = make_trained()
    path = tmp_path / "model.pt"
    save_checkpoint(path, trained)
    return path, trained


def test_round_trip_gives_identical_predictions(saved, images):
    path, trained = saved
    loaded = load_checkpoint(path)
    before = predict(trained, images)
    after = predict(loaded, images)
    np.testing.assert_array_equal(after.labels, before.labels)
    np.testing.assert_array_equal(after.probabilities, before.probabilities)
    assert loaded.arch == ARCH and loaded.class_names == ("a", "b", "c")
    assert loaded.mean == (40.0,) and loaded.std == (60.0,)
    assert loaded.config == TrainConfig(epochs=3)
    assert loaded.iterations == 12 and loaded.val_acc == 0.5
    assert loaded.test_record == TestRecord()
    assert not loaded.model.training


def test_the_file_holds_only_plain_data(saved):
    path, _ = saved
    data = torch.load(path, weights_only=True)
    assert set(data) >= {"architecture", "state_dict", "class_names", "test_record"}

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, float, bool, torch.Tensor))

    assert plain(data)


def test_test_record_is_kept(saved):
    path, trained = saved
    updated = record_test(path, trained, 0.875, 32)
    assert updated.test_record.used and updated.test_record.count == 1
    again = load_checkpoint(path)
    assert again.test_record.used and again.test_record.test_acc == 0.875
    assert again.test_record.n == 32 and again.test_record.when
    assert record_test(path, again, 0.9, 32).test_record.count == 2


class _Payload:
    """Unpickling this would create a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_payload_inside_a_torch_file_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    data = checkpoint_dict(make_trained())
    data["class_names"] = _Payload(marker)
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="checkpoint refused.*could run code"):
        load_checkpoint(path)
    assert not marker.exists()


def test_raw_pickle_payload_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError, match="checkpoint refused.*raw Python pickle"):
        load_checkpoint(path)
    assert not marker.exists()


def test_zero_byte_checkpoint_is_corrupted(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="checkpoint corrupted.*empty"):
        load_checkpoint(path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_checkpoint_is_corrupted(saved, fraction):
    path, _ = saved
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(CheckpointError, match="checkpoint corrupted"):
        load_checkpoint(path)


def test_flipped_weight_bytes_are_corrupted(saved):
    path, _ = saved
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if "/data/" in i.filename and i.file_size > 40)
    # Stored (uncompressed) member: its bytes follow the local header, whose name and
    # extra-field lengths (at offsets 26 and 28) may differ from the central directory's.
    h = info.header_offset
    start = h + 30 + int.from_bytes(raw[h + 26 : h + 28], "little")
    start += int.from_bytes(raw[h + 28 : h + 30], "little")
    raw[start + 8] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checkpoint corrupted"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "content",
    [b"\x00" * 100, b"not a checkpoint at all", bytes(range(256)) * 4, b"PK\x03\x04garbage"],
)
def test_garbage_is_corrupted(tmp_path, content):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="checkpoint corrupted"):
        load_checkpoint(path)


def test_numpy_npz_where_a_pt_is_expected_is_a_clear_mismatch(tmp_path):
    path = tmp_path / "mlp.npz"
    np.savez(path, W1=np.zeros((3, 4)), b1=np.zeros(4))
    with pytest.raises(CheckpointError, match="checkpoint mismatch.*numpy .npz"):
        load_checkpoint(path)


def test_bare_state_dict_is_a_clear_mismatch(tmp_path):
    path = tmp_path / "bare.pt"
    torch.save(make_trained().model.state_dict(), path)
    with pytest.raises(CheckpointError, match="checkpoint mismatch.*bare state_dict"):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_saved_architecture(tmp_path):
    data = checkpoint_dict(make_trained())
    other = checkpoint_dict(make_trained(OTHER))
    data["state_dict"], data["weights_sha256"] = other["state_dict"], other["weights_sha256"]
    path = tmp_path / "mixed.pt"
    torch.save(data, path)
    with pytest.raises(
        CheckpointError, match=r"checkpoint mismatch.*layer 0 \(Conv2d.*\(6, 1, 3, 3\)"
    ):
        load_checkpoint(path)


def test_wrong_architecture_leaves_the_current_model_unchanged(tmp_path, images):
    current = make_trained(OTHER, seed=5)
    before = {k: v.clone() for k, v in current.model.state_dict().items()}
    path = tmp_path / "model.pt"
    save_checkpoint(path, make_trained(ARCH))
    with pytest.raises(
        CheckpointError, match=r"checkpoint mismatch.*layer 0 is Conv2d\(4.*Conv2d\(6"
    ):
        load_weights_into(current, path)
    with pytest.raises(CheckpointError, match="checkpoint mismatch.*different architecture"):
        load_checkpoint(path, expect_arch=OTHER)
    after = current.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_load_weights_into_the_same_architecture(tmp_path, images):
    source = make_trained(seed=1)
    path = tmp_path / "model.pt"
    save_checkpoint(path, source)
    target = make_trained(seed=2)
    updated = load_weights_into(target, path)
    assert updated.model is target.model
    np.testing.assert_array_equal(predict(updated, images).labels, predict(source, images).labels)


def test_failed_save_keeps_the_old_checkpoint(saved, monkeypatch):
    path, trained = saved
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("nets.fileio.os.fsync", full_disk)
    with pytest.raises(CheckpointError, match="cannot write.*no space left on the device"):
        save_checkpoint(path, make_trained(seed=9))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CheckpointError, match="cannot open .*no such checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="cannot open .*: it is a folder"):
        read_checkpoint_dict(tmp_path)


def test_saving_into_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="cannot write"):
        save_checkpoint(tmp_path / "no" / "such" / "dir.pt", make_trained())


def test_a_torch_file_with_the_wrong_top_level(tmp_path):
    path = tmp_path / "list.pt"
    buffer = io.BytesIO()
    torch.save([torch.zeros(2)], buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="checkpoint mismatch.*holds a list"):
        load_checkpoint(path)


def test_a_checkpoint_with_nan_weights_is_refused_like_the_numpy_ones(tmp_path):
    trained = make_trained()
    with torch.no_grad():
        next(trained.model.parameters()).view(-1)[0] = float("nan")
    path = tmp_path / "nan.pt"
    save_checkpoint(path, trained)  # the checksum matches: the file is what was saved
    with pytest.raises(CheckpointError, match=r"parameter .* is not finite"):
        load_checkpoint(path)


def test_a_checkpoint_missing_a_part_says_so_without_torch_internals(tmp_path):
    import io
    import zipfile

    path = tmp_path / "m.pt"
    save_checkpoint(path, make_trained())
    with zipfile.ZipFile(path) as src:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                if "/data/" not in info.filename:
                    dst.writestr(info, src.read(info.filename))
    path.write_bytes(out.getvalue())
    with pytest.raises(CheckpointError, match="damaged or incomplete") as exc:
        load_checkpoint(path)
    assert "enforce" not in str(exc.value) and ".cc" not in str(exc.value)
