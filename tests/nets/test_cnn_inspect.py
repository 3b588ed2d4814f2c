"""nets.cnn.inspect and nets.cnn.dream on tiny untrained networks: saliency against
autograd, every layer's output, receptive fields, Grad-CAM, top patches, activation
maximisation (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nets.cnn.arch import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    validate,
)
from nets.cnn.dream import (
    ChannelObjective,
    ClassObjective,
    DreamSettings,
    dream,
    run_dream,
)
from nets.cnn.inspect import (
    Box,
    Inspector,
    geometries,
    gradcam_layer,
    image_for_model,
    receptive_field,
)
from nets.cnn.model import build_model
from nets.cnn.presets import DEFAULT, SEED_TWO_CONV
from nets.cnn.trained import TrainedCnn
from nets.errors import ConfigError

SHAPE = (1, 28, 28)
BN_DROPOUT = (
    Conv2d(6, kernel_size=3, padding=1),
    BatchNorm2d(),
    ReLU(),
    MaxPool2d(2),
    Dropout(0.5),
    Conv2d(8, kernel_size=3, stride=2),
    BatchNorm2d(),
    ReLU(),
    Flatten(),
    Dropout(0.3),
    Linear(10),
)
ARCHS = {"seed": SEED_TWO_CONV.layers, "default": DEFAULT.layers, "bn-dropout": BN_DROPOUT}
MEAN, STD = (72.9,), (90.0,)


def _trained(layers, seed: int = 0, shape=SHAPE, classes: int = 10) -> TrainedCnn:
    torch.manual_seed(seed)
    model = build_model(layers, shape, classes)
    # Non-trivial BatchNorm statistics, so eval mode (running stats) differs from training.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    model.train()  # as a run leaves it; the inspector must not depend on it
    names = tuple(f"class{k}" for k in range(classes))
    return TrainedCnn(model, tuple(layers), shape, names, MEAN * shape[0], STD * shape[0])


def _image(seed: int = 1, shape=SHAPE) -> np.ndarray:
    c, h, w = shape
    return np.random.default_rng(seed).integers(0, 256, (h, w, c)).astype(np.uint8)


def _autograd_saliency(trained: TrainedCnn, image: np.ndarray, target: int) -> np.ndarray:
    """d logit[target] / d normalised input, computed directly with autograd."""
    model = trained.model
    was = model.training
    model.eval()
    mean = np.array(trained.mean, np.float32)[:, None, None]
    std = np.array(trained.std, np.float32)[:, None, None]
    x = torch.tensor((image.transpose(2, 0, 1).astype(np.float32) - mean) / std)[None]
    x.requires_grad_(True)
    model(x)[0, target].backward()
    model.train(was)
    return x.grad[0].numpy()


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_saliency_equals_autograd_gradient_of_the_class_score(name):
    trained = _trained(ARCHS[name])
    image = _image()
    inspector = Inspector(trained)
    predicted = inspector.inspect(image)
    np.testing.assert_allclose(
        predicted.saliency,
        _autograd_saliency(trained, image, predicted.predicted),
        rtol=1e-4,
        atol=1e-6,
    )
    other = (predicted.predicted + 3) % 10
    chosen = inspector.inspect(image, target=other)
    assert chosen.target == other
    np.testing.assert_allclose(
        chosen.saliency, _autograd_saliency(trained, image, other), rtol=1e-4, atol=1e-6
    )
    assert trained.model.training  # the run's own module keeps its mode


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_every_layer_output_matches_the_eval_mode_network(name):
    trained = _trained(ARCHS[name])
    image = _image(2)
    result = Inspector(trained).inspect(image)
    rows = validate(ARCHS[name], SHAPE, 10)
    assert [a.shape for a in result.activations] == [r.output_shape for r in rows]
    model = trained.model.eval()
    x = (torch.tensor(image.transpose(2, 0, 1), dtype=torch.float32)[None] - MEAN[0]) / STD[0]
    with torch.no_grad():
        for i, layer in enumerate(model.layers):
            x = layer(x)
            np.testing.assert_allclose(result.activations[i], x[0].numpy(), rtol=1e-5, atol=1e-5)
    probs = torch.softmax(x[0], 0).numpy()
    np.testing.assert_allclose(result.probabilities, probs, rtol=1e-5, atol=1e-7)
    assert result.predicted == int(probs.argmax())
    top = result.top_classes(5)
    assert [i for i, _ in top] == list(np.argsort(-probs, kind="stable")[:5])


def test_gradient_of_the_logits_is_one_hot_and_gradient_x_input_scales_saliency():
    trained = _trained(SEED_TWO_CONV.layers)
    image = _image(3)
    result = Inspector(trained).inspect(image, target=4)
    expected = np.zeros(10, np.float32)
    expected[4] = 1.0
    np.testing.assert_array_equal(result.gradients[-1], expected)
    pixels = image.transpose(2, 0, 1).astype(np.float32) / 255.0
    np.testing.assert_allclose(
        result.grad_x_input, result.saliency * (255.0 / STD[0]) * pixels, rtol=1e-5, atol=1e-7
    )


def test_gradcam_is_on_the_last_convolution_in_zero_to_one():
    assert gradcam_layer(SEED_TWO_CONV.layers) == 4  # the ReLU right after the last Conv2d
    assert gradcam_layer(DEFAULT.layers) == 11  # conv 8, pool, BatchNorm, ReLU 11
    assert gradcam_layer((Conv2d(2), Flatten(), Linear(3))) == 0
    assert gradcam_layer((Flatten(), Linear(3))) is None
    trained = _trained(DEFAULT.layers)
    inspector = Inspector(trained)
    result = inspector.inspect(_image(4))
    assert result.gradcam_layer == 11
    assert result.gradcam.shape == result.activations[11].shape[1:]
    assert result.gradcam.min() >= 0.0 and result.gradcam.max() <= 1.0
    acts, grads = result.activations[11], result.gradients[11]
    cam = np.maximum((grads.mean(axis=(1, 2))[:, None, None] * acts).sum(axis=0), 0)
    if cam.max() > 0:
        np.testing.assert_allclose(result.gradcam, cam / cam.max(), rtol=1e-4, atol=1e-5)


def test_receptive_field_of_the_seed_network_by_hand():
    arch = SEED_TWO_CONV.layers
    # conv 5x5 pad 2 -> 5 wide from -2; pool 2 -> 6 wide, jump 2; conv 5x5 pad 2 ->
    # 6 + 4 * 2 = 14 wide from -2 - 2 * 2 = -6; pool 2 -> 16 wide, jump 4.
    g = geometries(arch, SHAPE)
    assert (g[0].size, g[0].jump, g[0].start) == (5, 1, -2)
    assert (g[2].size, g[2].jump, g[2].start) == (6, 2, -2)
    assert (g[3].size, g[3].jump, g[3].start) == (14, 2, -6)
    assert (g[5].size, g[5].jump, g[5].start) == (16, 4, -6)
    assert g[6] is None and g[7] is None
    assert receptive_field(arch, SHAPE, 5, 0, 0) == Box(0, 0, 10, 10)
    assert receptive_field(arch, SHAPE, 5, 3, 2) == Box(6, 2, 22, 18)
    assert receptive_field(arch, SHAPE, 5, 6, 6) == Box(18, 18, 28, 28)
    assert receptive_field(arch, SHAPE, 7) == Box(0, 0, 28, 28)


@pytest.mark.parametrize("y, x", [(0, 0), (1, 2), (2, 1)])
def test_receptive_field_is_exactly_where_the_gradient_reaches(y, x):
    """With positive weights and average pooling every input pixel in the field matters."""
    arch = (
        Conv2d(2, kernel_size=3, padding=1),
        AvgPool2d(2),
        Conv2d(2, kernel_size=3, stride=2, padding=1),
        AvgPool2d(kernel_size=3, stride=1),
        Flatten(),
        Linear(2),
    )
    model = build_model(arch, (1, 20, 20), 2)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.1)
    x_in = torch.ones((1, 1, 20, 20), requires_grad=True)
    out = x_in
    for layer in list(model.layers)[:4]:
        out = layer(out)
    out[0, 0, y, x].backward()
    rows, cols = np.nonzero(x_in.grad[0, 0].numpy())
    box = receptive_field(arch, (1, 20, 20), 3, y, x)
    assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == (
        box.top,
        box.left,
        box.bottom,
        box.right,
    )


def test_top_patches_are_the_strongest_images_with_their_field():
    trained = _trained(SEED_TWO_CONV.layers)
    inspector = Inspector(trained)
    images = np.stack([_image(10 + i) for i in range(40)])
    layer, channel = 3, 5
    index = inspector.index_layer(images, layer, batch=16)
    strongest = [inspector.inspect(img).activations[layer][channel].max() for img in images]
    patches = inspector.top_patches(index, images, channel, k=9)
    assert [p.index for p in patches] == list(np.argsort(-np.array(strongest), kind="stable")[:9])
    best = patches[0]
    maps = inspector.inspect(images[best.index]).activations[layer][channel]
    assert maps[best.y, best.x] == pytest.approx(maps.max(), rel=1e-5)
    assert best.value == pytest.approx(maps.max(), rel=1e-5)
    b = best.box
    np.testing.assert_array_equal(
        best.pixels, images[best.index, b.top : b.bottom, b.left : b.right]
    )
    with pytest.raises(ConfigError, match="channel 99"):
        inspector.top_patches(index, images, 99)


def test_filters_are_the_convolution_weights_with_their_norms():
    trained = _trained(SEED_TWO_CONV.layers)
    found = Inspector(trained).filters()
    assert [i for i, _, _ in found] == [0, 3]
    _, w, norms = found[1]
    assert w.shape == (32, 16, 5, 5) and norms.shape == (32, 16)
    expected = trained.model.layers[3].weight.detach().numpy()
    np.testing.assert_allclose(norms, np.sqrt((expected**2).sum(axis=(2, 3))), rtol=1e-5)


def test_image_file_is_converted_like_the_training_data():
    from PIL import Image

    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, 20:60] = (255, 0, 0)  # the centre square is pure red
    converted = image_for_model(Image.fromarray(wide), SHAPE)
    assert converted.shape == (28, 28, 1) and converted.dtype == np.uint8
    # The sides are cropped away: only red remains, at red's luma (0.299 * 255).
    assert abs(int(converted.mean()) - 76) <= 1
    rgb = image_for_model(Image.fromarray(wide), (3, 16, 16))
    assert rgb.shape == (16, 16, 3) and (rgb[2:-2, 2:-2, 0] > 250).all()
    assert rgb[..., 1:].max() == 0  # no green or blue anywhere: still pure red


def test_bad_input_is_refused_with_the_reason():
    inspector = Inspector(_trained(SEED_TWO_CONV.layers))
    with pytest.raises(ConfigError, match="28x28x1"):
        inspector.inspect(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ConfigError, match="class 10"):
        inspector.inspect(_image(), target=10)


@pytest.mark.parametrize(
    "objective", [ClassObjective(3), ChannelObjective(3, 7), ChannelObjective(0, 1)]
)
def test_dream_improves_the_objective(objective):
    inspector = Inspector(_trained(SEED_TWO_CONV.layers))
    frames = list(dream(inspector, objective, DreamSettings(steps=30)))
    assert [f.step for f in frames] == list(range(31))
    assert frames[-1].objective > frames[0].objective + 1e-3
    assert frames[-1].image.shape == (28, 28, 1) and frames[-1].image.dtype == np.uint8
    # The frame's objective is the objective of the picture it carries.
    result = inspector.inspect(frames[-1].image)
    if isinstance(objective, ClassObjective):
        value = result.logits[objective.index]
    else:
        value = result.activations[objective.layer][objective.channel].mean()
    assert value == pytest.approx(frames[-1].objective, rel=0.05, abs=0.05)


def test_dream_stops_on_cancel_and_refuses_unknown_units():
    inspector = Inspector(_trained(DEFAULT.layers))
    seen = []

    def cancel() -> bool:
        return len(seen) >= 5

    for frame in dream(inspector, ClassObjective(1), DreamSettings(steps=50), cancel=cancel):
        seen.append(frame)
    assert len(seen) == 5
    with pytest.raises(ConfigError, match="channel 16 is outside"):
        run_dream(inspector, ChannelObjective(0, 16))
    with pytest.raises(ConfigError, match="layer 40"):
        run_dream(inspector, ChannelObjective(40, 0))
    with pytest.raises(ConfigError, match="steps"):
        run_dream(inspector, ClassObjective(0), DreamSettings(steps=0))


def test_pictures_stretch_each_channel_and_colour_signs():
    from nets.cnn import pictures as pic

    maps = np.stack([np.arange(4.0).reshape(2, 2), np.full((2, 2), 3.0), np.zeros((2, 2))])
    out = pic.grey_each(maps)
    assert out[0].tolist() == [[0, 85], [170, 255]]
    assert (out[1] == 128).all() and (out[2] == 0).all()
    np.testing.assert_array_equal(out[0], pic.grey(maps[0]))
    rgb = pic.signed_rgb(np.array([[-2.0, 0.0, 2.0]]))
    assert rgb[0].tolist() == [[0, 0, 255], [255, 255, 255], [255, 0, 0]]
    heat = pic.overlay(np.zeros((4, 4, 1), np.uint8), np.ones((2, 2)), alpha=1.0)
    assert heat.shape == (4, 4, 3) and (heat == heat[0, 0]).all() and heat[0, 0].sum() > 600


def test_colour_images_with_strided_convolutions_for_folder_data():
    shape = (3, 16, 16)
    arch = (Conv2d(5, kernel_size=3, stride=2, padding=1), ReLU(), Flatten(), Linear(4))
    trained = _trained(arch, shape=shape, classes=4)
    image = _image(7, shape)
    result = Inspector(trained).inspect(image, target=2)
    assert result.saliency.shape == (3, 16, 16)
    np.testing.assert_allclose(
        result.saliency, _autograd_saliency(trained, image, 2), rtol=1e-4, atol=1e-6
    )
    assert result.gradcam_layer == 1 and result.gradcam.shape == (8, 8)
    assert receptive_field(arch, shape, 0, 3, 4) == Box(5, 7, 8, 10)
    run = run_dream(Inspector(trained), ChannelObjective(1, 2), DreamSettings(steps=10))
    assert run.image.shape == (16, 16, 3)
