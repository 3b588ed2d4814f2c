"""nets.pretrained.registry: availability, downloads (local file:// URLs), users' weights files.

Nothing here touches the internet: the torch hub cache points into the test session's
temporary XDG_CACHE_HOME (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
import torch

from nets.errors import CheckpointError, ConfigError, DownloadError
from nets.pretrained import registry
from nets.pretrained.classify import load_model
from nets.pretrained.registry import (
    MODEL_NAMES,
    fetch_checked,
    get_spec,
    hub_checkpoint_dir,
    list_models,
    read_state_dict,
)


@pytest.fixture
def hub_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return hub_checkpoint_dir()


def test_listed_models_and_the_embedded_default() -> None:
    names = [spec.name for spec in list_models()]
    assert names[0] == "efficientnet_lite0" and tuple(names) == MODEL_NAMES
    assert {
        "resnet18",
        "resnet50",
        "mobilenet_v3_large",
        "efficientnet_b0",
        "convnext_tiny",
    } <= set(names)
    lite = get_spec("efficientnet_lite0")
    assert lite.embedded and lite.is_available() and lite.status() == "ready"
    with pytest.raises(ConfigError, match="unknown model"):
        get_spec("nope")


def test_specs_agree_with_torchvision() -> None:
    import torchvision.models as tv_models

    from nets.pretrained.registry import build_network

    for spec in list_models():
        network = build_network(spec.name)
        network.get_submodule(spec.target_layer)  # Grad-CAM's layer exists
        if spec.embedded:
            continue
        weights = getattr(tv_models, spec.weights_enum).DEFAULT
        assert spec.url == weights.url
        assert spec.weights_file == weights.url.rsplit("/", 1)[1]
        assert spec.size_mb == pytest.approx(weights.meta["_file_size"], abs=0.1)


def test_hub_dir_matches_torch_hub(hub_dir: Path) -> None:
    assert hub_dir == Path(torch.hub.get_dir()) / "checkpoints"


def test_torchvision_model_not_downloaded_then_available(hub_dir: Path) -> None:
    spec = get_spec("resnet18")
    assert not spec.is_available()
    assert spec.status().startswith("not downloaded")
    hub_dir.mkdir(parents=True)
    (hub_dir / spec.weights_file).write_bytes(b"placeholder")
    assert spec.is_available() and spec.status() == "ready"


def _hashed_file(folder: Path, payload: bytes, stem: str = "weights") -> tuple[Path, str]:
    digest = hashlib.sha256(payload).hexdigest()[:8]
    source = folder / f"{stem}-{digest}.pth"
    source.write_bytes(payload)
    return source, source.name


def test_fetch_checked_downloads_with_progress_and_checks_the_hash(tmp_path: Path) -> None:
    source, name = _hashed_file(tmp_path, os.urandom(300_000))
    dest = tmp_path / "cache" / name
    seen: list[tuple[int, int]] = []
    fetch_checked(source.as_uri(), dest, progress=lambda d, t, _m: seen.append((d, t)))
    assert dest.read_bytes() == source.read_bytes()
    assert seen and seen[-1][0] == 300_000
    wrong = tmp_path / "cache" / "weights-00000000.pth"
    with pytest.raises(DownloadError, match="checksum"):
        fetch_checked(source.as_uri(), wrong)
    assert not wrong.exists()


def test_fetch_checked_cancel_leaves_nothing(tmp_path: Path) -> None:
    source, name = _hashed_file(tmp_path, os.urandom(400_000))
    dest = tmp_path / "cache" / name
    stop = threading.Event()
    stop.set()
    with pytest.raises(DownloadError, match="cancelled"):
        fetch_checked(source.as_uri(), dest, cancel=stop)
    assert not dest.exists() and not list(dest.parent.glob("*.part"))


def test_offline_download_gives_a_plain_message(tmp_path: Path) -> None:
    dest = tmp_path / "cache" / "resnet18-f37072fd.pth"
    with pytest.raises(DownloadError) as excinfo:
        fetch_checked((tmp_path / "unreachable.pth").as_uri(), dest, what="ResNet-18")
    message = str(excinfo.value)
    assert "ResNet-18 could not be downloaded" in message and str(dest.parent) in message
    assert "\n" not in message and not dest.exists()


def test_load_network_downloads_missing_weights_then_loads(
    hub_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = get_spec("efficientnet_lite0")
    payload = spec.weights_path().read_bytes()
    source, name = _hashed_file(tmp_path, payload, stem="lite")
    # A made-up torchvision-style entry for the Lite0 architecture, served from a file URL.
    fake = registry.ModelSpec(
        name="efficientnet_lite0",
        display_name="Lite0 via download",
        source="torchvision",
        summary="",
        target_layer="_head_activation",
        size_mb=1.0,
        weights_enum=None,
        weights_file=name,
        url=source.as_uri(),
    )
    monkeypatch.setattr(registry, "get_spec", lambda _name: fake)
    monkeypatch.setattr(registry, "build_network", lambda _name: _lite0())
    assert not fake.is_available()
    network = registry.load_network("efficientnet_lite0")
    assert fake.is_available() and (hub_dir / name).is_file()
    assert network._fc.weight.shape == (1000, 1280)


def _lite0() -> torch.nn.Module:
    from nets.pretrained.efficientnet_lite import efficientnet_lite0

    return efficientnet_lite0()


# --- a user's own weights file ------------------------------------------------------------


@pytest.fixture(scope="module")
def lite0_state() -> dict[str, torch.Tensor]:
    return read_state_dict(get_spec("efficientnet_lite0").weights_path())


def test_users_weights_wrapped_and_prefixed_load(
    tmp_path: Path, lite0_state: dict[str, torch.Tensor]
) -> None:
    path = tmp_path / "mine.pt"
    wrapped = {"state_dict": {f"module.{k}": v for k, v in lite0_state.items()}, "epoch": 3}
    torch.save(wrapped, path)
    model = load_model("efficientnet_lite0", weights=path, threads=torch.get_num_threads())
    assert torch.equal(model.network._fc.bias, lite0_state["_fc.bias"])


def test_users_weights_of_another_architecture_are_refused(
    tmp_path: Path, lite0_state: dict[str, torch.Tensor]
) -> None:
    other = tmp_path / "linear.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), other)
    with pytest.raises(CheckpointError, match="do not fit.*missing.*unexpected"):
        load_model("efficientnet_lite0", weights=other, threads=torch.get_num_threads())
    reshaped = dict(lite0_state)
    reshaped["_fc.weight"] = torch.zeros(10, 1280)
    reshaped["_fc.bias"] = torch.zeros(10)
    ten = tmp_path / "ten_classes.pt"
    torch.save(reshaped, ten)
    with pytest.raises(CheckpointError, match="another shape.*_fc"):
        load_model("efficientnet_lite0", weights=ten, threads=torch.get_num_threads())


class _Payload:
    """Unpickling this would create a marker file: weights_only must refuse it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def test_users_weights_with_a_pickle_payload_run_no_code(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pt"
    torch.save({"weights": _Payload(str(marker))}, evil)
    with pytest.raises(CheckpointError, match="refused"):
        read_state_dict(evil)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["empty", "truncated", "garbage", "folder", "missing", "list"])
def test_corrupt_weights_files(
    tmp_path: Path, kind: str, lite0_state: dict[str, torch.Tensor]
) -> None:
    path = tmp_path / f"{kind}.pt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        full = tmp_path / "full.pt"
        torch.save({"_fc.bias": lite0_state["_fc.bias"]}, full)
        path.write_bytes(full.read_bytes()[:200])
    elif kind == "garbage":
        path.write_bytes(os.urandom(1000))
    elif kind == "folder":
        path.mkdir()
    elif kind == "list":
        torch.save([torch.zeros(2)], path)
    with pytest.raises(CheckpointError) as excinfo:
        read_state_dict(path)
    message = str(excinfo.value)
    assert str(path) in message and "\n" not in message
    expected = {
        "empty": "corrupted",
        "truncated": "corrupted",
        "garbage": "corrupted",
        "folder": "folder",
        "missing": "no such weights file",
        "list": "not a state_dict",
    }[kind]
    assert expected in message
