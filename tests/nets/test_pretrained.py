"""nets.pretrained: the embedded EfficientNet-Lite0, labels, preprocessing, Grad-CAM, batches.

The model is loaded once for the module (about 0.1 s once torch is imported).
"""

from __future__ import annotations

import copy
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nets.errors import ConfigError
from nets.images import open_image
from nets.pretrained import classify as classify_module
from nets.pretrained.classify import (
    ClassifyResult,
    Prediction,
    PretrainedModel,
    TopClass,
    classify_paths,
    expand_paths,
    load_model,
)
from nets.pretrained.efficientnet_lite import (
    BN_EPS,
    BN_MOMENTUM,
    EfficientNetLite,
    MBConvBlock,
    tf_same_padding,
)
from nets.pretrained.labels import imagenet_labels
from nets.pretrained.registry import get_spec, read_state_dict


@pytest.fixture(scope="module")
def lite0() -> Iterator[PretrainedModel]:
    # One thread: the 2 cores are shared with other test processes, and oversubscribed
    # OpenMP threads spin. The process-wide setting is restored for the tests after us.
    before = torch.get_num_threads()
    yield load_model("efficientnet_lite0", threads=1)
    torch.set_num_threads(before)


def _photo(width: int = 300, height: int = 200, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


# --- the architecture ------------------------------------------------------------------


def test_embedded_weights_load_strictly(lite0: PretrainedModel) -> None:
    path = get_spec("efficientnet_lite0").weights_path()
    assert path is not None and path.suffix == ".pth"
    state = read_state_dict(path)
    fresh = EfficientNetLite()
    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert set(state) == set(fresh.state_dict())
    for key, value in lite0.network.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_lite0_structure_follows_the_tensorflow_release() -> None:
    net = EfficientNetLite()
    blocks = [m for m in net.modules() if isinstance(m, MBConvBlock)]
    assert len(blocks) == 16
    assert net._conv_stem.out_channels == 32 and net._conv_head.out_channels == 1280
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(m.eps == BN_EPS == 1e-3 for m in norms)
    assert all(m.momentum == BN_MOMENTUM for m in norms)
    names = {type(m).__name__ for m in net.modules()}
    assert "ReLU6" in names and not names & {"SiLU", "Hardswish", "Sigmoid"}
    # EfficientNet-PyTorch calls squeeze-and-excitation layers _se_reduce / _se_expand.
    assert not any("_se_" in name for name, _ in net.named_modules())
    assert net(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
    assert net.features(torch.zeros(1, 3, 224, 224)).shape == (1, 1280, 7, 7)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        (224, 3, 2, (0, 1)),
        (112, 5, 2, (1, 2)),
        (7, 3, 1, (1, 1)),
        (225, 3, 2, (1, 1)),
        (5, 1, 1, (0, 0)),
    ],
)
def test_tf_same_padding_is_asymmetric_like_tensorflow(
    size: int, kernel: int, stride: int, expected: tuple[int, int]
) -> None:
    assert tf_same_padding(size, kernel, stride) == expected
    # The output size is TensorFlow's ceil(size / stride).
    before, after = expected
    assert (size + before + after - kernel) // stride + 1 == -(-size // stride)


# --- labels --------------------------------------------------------------------------------


def test_labels_are_1000_human_readable_names() -> None:
    labels = imagenet_labels()
    assert len(labels) == 1000 and len(set(labels)) == 1000
    assert labels[0] == "tench" and labels[207] == "golden retriever" and labels[999]
    assert all(label == label.strip() and "n0" not in label for label in labels)


@pytest.mark.parametrize("winner", [0, 207, 999])
def test_label_mapping_with_a_known_winning_class(lite0: PretrainedModel, winner: int) -> None:
    network = copy.deepcopy(lite0.network)
    with torch.no_grad():
        network._fc.weight.zero_()
        network._fc.bias.zero_()
        network._fc.bias[winner] = 20.0
    rigged = PretrainedModel(lite0.spec, network, lite0.preprocessing)
    prediction = rigged.predict(_photo(), topk=3)
    assert prediction.top[0].index == winner
    assert prediction.top[0].label == imagenet_labels()[winner]
    assert prediction.top[0].prob > 0.99


@pytest.mark.data
def test_label_file_matches_the_sample_wnids(imagenet_samples: Path) -> None:
    wnids = (imagenet_samples / "wnids.txt").read_text().split()
    labels = imagenet_labels()
    photos = sorted(imagenet_samples.glob("*.JPEG"))
    assert len(wnids) == 1000 and photos
    for photo in photos:
        wnid, name = photo.stem.split("_", 1)
        assert labels[wnids.index(wnid)].lower().replace(" ", "_").startswith(name.lower())


# --- prediction on real photos -------------------------------------------------------------


@pytest.mark.data
@pytest.mark.slow
def test_sample_photos_top1_at_least_85_percent(
    lite0: PretrainedModel, imagenet_samples: Path
) -> None:
    wnids = (imagenet_samples / "wnids.txt").read_text().split()
    results = list(classify_paths([imagenet_samples], lite0, topk=5))
    photos = sorted(imagenet_samples.glob("*.JPEG"))
    assert len(results) == len(photos) == 50
    assert all(r.ok and r.top is not None and len(r.top) == 5 for r in results)
    truth = [wnids.index(Path(r.path).name.split("_")[0]) for r in results]
    top1 = np.mean([r.top[0].index == t for r, t in zip(results, truth, strict=True)])
    assert top1 >= 0.85, f"top-1 {top1:.0%}"


@pytest.mark.data
def test_gradcam_looks_at_the_object(lite0: PretrainedModel, imagenet_samples: Path) -> None:
    photo = open_image(imagenet_samples / "n01833805_hummingbird.JPEG")
    # The bird in the left half of a wide white canvas: the heat must lean left.
    canvas = Image.new("RGB", (photo.width * 2, photo.height), (255, 255, 255))
    canvas.paste(photo, (0, 0))
    cls = lite0.predict(photo).top[0].index
    heat = lite0.gradcam(canvas, cls)
    assert heat.shape == (canvas.height, canvas.width) and heat.dtype == np.float32
    half = canvas.width // 2
    assert heat[:, :half].mean() > 2 * heat[:, half:].mean()


# --- preprocessing, de-normalisation, Grad-CAM shapes --------------------------------------


def test_preprocess_shape_and_denormalize_round_trip(lite0: PretrainedModel) -> None:
    img = _photo(300, 200)
    tensor = lite0.preprocess(img)
    assert tensor.shape == (3, 224, 224) and tensor.dtype == torch.float32
    back = lite0.denormalize(tensor)
    assert back.shape == (224, 224, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - np.asarray(lite0.crop(img), dtype=int)).max() <= 1
    assert np.array_equal(lite0.denormalize(tensor.unsqueeze(0)), back)
    # (x - 127) / 128: white is just under 1, black is just under -1.
    white = lite0.preprocess(Image.new("RGB", (224, 224), (255, 255, 255)))
    assert torch.allclose(white, torch.full_like(white, 128 / 128))


@pytest.mark.parametrize(
    "name", ["resnet18", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny"]
)
def test_torchvision_preprocessing_and_gradcam(name: str) -> None:
    import torchvision.models as tv_models

    from nets.pretrained.registry import build_network, preprocessing_for

    spec = get_spec(name)
    transforms = getattr(tv_models, spec.weights_enum).DEFAULT.transforms()
    model = PretrainedModel.__new__(PretrainedModel)
    PretrainedModel.__init__(model, spec, build_network(name), preprocessing_for(name))
    for size in ((300, 200), (200, 301), (224, 224), (1000, 90)):
        img = _photo(*size, seed=size[0])
        ours = model.preprocess(img)
        theirs = transforms(img)
        assert ours.shape == theirs.shape == (3, 224, 224)
        assert torch.allclose(ours, theirs, atol=1e-5), size
    # Grad-CAM hooks each architecture's own last block (untrained weights suffice here).
    heat = model.gradcam(_photo(320, 240), 5)
    assert heat.shape == (240, 320) and 0.0 <= heat.min() and heat.max() <= 1.0


def test_extreme_aspect_ratio_crops_before_resizing(
    lite0: PretrainedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    strip = Image.fromarray(np.tile(np.arange(20000, dtype=np.uint8)[None, :, None], (4, 1, 3)))
    # Resized the torchvision way this would be 256 x 1,280,000 pixels (almost 1 GB).
    assert lite0.crop(strip).size == (224, 224)
    # The crop-first path gives the same pixels as resize-then-crop, up to rounding.
    wide = _photo(3000, 40, seed=9)
    exact = np.asarray(lite0.crop(wide), dtype=int)
    monkeypatch.setattr(classify_module, "_MAX_RESIZED_PIXELS", 0)
    boxed = np.asarray(lite0.crop(wide), dtype=int)
    assert boxed.shape == exact.shape and np.abs(boxed - exact).mean() < 2.0


def test_gradcam_shape_range_and_crop(lite0: PretrainedModel) -> None:
    img = _photo(400, 100)
    heat = lite0.gradcam(img, 3)
    assert heat.shape == (100, 400) and heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() <= 1.0 and heat.max() > 0.5
    left, _, right, _ = lite0.crop_box(img.size)
    assert 0 < left < right < 400
    assert heat[:, : int(left) - 1].max() == 0.0 and heat[:, int(right) + 1 :].max() == 0.0
    tiny = lite0.gradcam(Image.new("RGB", (1, 1), "red"), 0)
    assert tiny.shape == (1, 1)


def test_gradcam_rejects_a_bad_class_index(lite0: PretrainedModel) -> None:
    with pytest.raises(ConfigError, match="class index"):
        lite0.gradcam(_photo(), 1000)


def test_predict_result_types(lite0: PretrainedModel) -> None:
    prediction = lite0.predict(_photo(), topk=7)
    assert isinstance(prediction, Prediction) and len(prediction.top) == 7
    assert prediction.probs.shape == (1000,) and abs(prediction.probs.sum() - 1) < 1e-6
    probs = [t.prob for t in prediction.top]
    assert probs == sorted(probs, reverse=True)
    assert all(isinstance(t, TopClass) for t in prediction.top)
    assert prediction.top[0].prob == pytest.approx(prediction.probs.max())
    assert len(lite0.predict(_photo(), topk=5000).top) == 1000
    assert len(lite0.predict(_photo(), topk=0).top) == 1


# --- batches of files ------------------------------------------------------------------------


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


def test_classify_paths_bad_files_become_errors_and_the_rest_go_on(
    lite0: PretrainedModel, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "empty").mkdir()
    (folder / "a.jpg").write_bytes(_jpeg(_photo()))
    (folder / "b_text.jpg").write_text("not a photo")
    (folder / "c_cut.jpg").write_bytes(_jpeg(_photo(seed=3))[:300])
    (folder / "notes.txt").write_text("skipped: not an image name")
    (folder / ".hidden.jpg").write_bytes(_jpeg(_photo()))
    (folder / "sub" / "d.png").write_bytes(b"")
    explicit = tmp_path / "single.bin"
    explicit.write_bytes(_jpeg(_photo(seed=5)))
    inputs = [folder, explicit, tmp_path / "missing.jpg", folder / "empty"]
    results = list(classify_paths(inputs, lite0, topk=3, thumbnail_size=32))
    by_name = {Path(r.path).name: r for r in results}
    assert list(by_name) == [
        "a.jpg", "b_text.jpg", "c_cut.jpg", "d.png", "single.bin", "missing.jpg", "empty",
    ]  # fmt: skip
    assert by_name["a.jpg"].ok and len(by_name["a.jpg"].top) == 3
    assert by_name["a.jpg"].thumbnail is not None and max(by_name["a.jpg"].thumbnail.size) <= 32
    assert by_name["single.bin"].ok
    for bad, words in [
        ("b_text.jpg", "text"),
        ("c_cut.jpg", "truncated"),
        ("d.png", "empty"),
        ("missing.jpg", "no such"),
        ("empty", "no image files"),
    ]:
        result = by_name[bad]
        assert not result.ok and result.top is None and words in result.error, bad
        assert result.as_dict() == {"path": result.path, "error": result.error}
    entry = by_name["a.jpg"].as_dict()
    assert set(entry) == {"path", "top"} and set(entry["top"][0]) == {"index", "label", "prob"}


def test_classify_result_is_frozen() -> None:
    result = ClassifyResult(path="x", error="bad")
    with pytest.raises(AttributeError):
        result.error = "changed"  # type: ignore[misc]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_expand_paths_does_not_follow_symlink_loops(tmp_path: Path) -> None:
    folder = tmp_path / "loop"
    folder.mkdir()
    (folder / "x.png").write_bytes(b"")
    (folder / "back").symlink_to(folder, target_is_directory=True)
    assert [Path(p).name for p, _ in expand_paths([folder])] == ["x.png"]


def test_unknown_model_name() -> None:
    with pytest.raises(ConfigError, match="efficientnet_lite0"):
        load_model("alexnet")
