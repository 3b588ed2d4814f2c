"""The Classify lab's library: attribution methods, the sanity check, adversarial examples.

Fast where it can be: the built-in model at a 64-pixel input for the methods, random
weights for the torchvision architectures (they cannot be downloaded here); the real
224-pixel pipeline only where the round trip through a PNG file is the point.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nets.errors import ConfigError
from nets.images import open_image
from nets.pretrained.adversarial import (
    AttackSettings,
    adversarial_photo,
    amplified_perturbation,
    attack,
    parse_epsilon,
    png_bytes,
)
from nets.pretrained.attribution import (
    METHODS,
    AttributionSettings,
    colorize,
    explain,
    find_class,
    normalize_heat,
)
from nets.pretrained.classify import PretrainedModel, classify_paths, load_model
from nets.pretrained.labels import imagenet_labels
from nets.pretrained.registry import MODEL_NAMES, Preprocessing, build_network, get_spec
from nets.pretrained.sanity import (
    blocks,
    cascading_randomization,
    rank,
    spearman,
    stage_cuts,
    verdict,
)

FAST = AttributionSettings(
    ig_steps=4, smooth_samples=2, occlusion_window=16, occlusion_stride=16, batch=4
)


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def lite0() -> PretrainedModel:
    return load_model("efficientnet_lite0", threads=1)


def small(model_name: str, network: torch.nn.Module | None = None) -> PretrainedModel:
    """A model at a 64 x 64 input (random weights unless ``network`` is given)."""
    spec = get_spec(model_name)
    preprocessing = Preprocessing(72, 64, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "bilinear")
    return PretrainedModel(
        spec, network if network is not None else build_network(model_name), preprocessing
    )


def photo(width: int = 96, height: int = 80, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return Image.fromarray(base).resize((width, height), Image.Resampling.BICUBIC)


def test_folded_network_computes_the_same_logits_without_batchnorm(lite0: PretrainedModel) -> None:
    fast = lite0.fast_network
    assert fast is not lite0.network
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in lite0.network.modules())
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 96, 96, generator=generator).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        want, got = lite0.network(x), fast(x)
    assert torch.allclose(got, want, atol=1e-3 * float(want.abs().max()))
    # Gradients with respect to the input agree too (what attacks and IG follow).
    grads = []
    for net in (lite0.network, fast):
        xi = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(net(xi)[:, 7].sum(), xi)
        grads.append(grad)
    # (As a whole: a unit that float rounding moves across a ReLU6 bend changes a few
    # pixels' gradients, so no element-wise tolerance holds on every input; 0.2% measured,
    # while a wrongly folded layer is off by the order of the gradient itself.)
    assert float((grads[1] - grads[0]).norm()) < 1e-2 * float(grads[0].norm())


# --- attribution ----------------------------------------------------------------------


def test_integrated_gradients_completeness_within_its_delta(lite0: PretrainedModel) -> None:
    model = small("efficientnet_lite0", copy.deepcopy(lite0.network))
    img = photo(seed=3)
    target = model.predict(img).top[0].index
    coarse = explain(model, img, "integrated_gradients", target, AttributionSettings(ig_steps=8))
    fine = explain(model, img, "integrated_gradients", target, AttributionSettings(ig_steps=64))
    for found in (coarse, fine):
        assert found.delta is not None and found.baseline_score is not None
        difference = found.score - found.baseline_score
        # Completeness: the attributions add up to score(photo) - score(black) ...
        assert abs(float(found.raw.sum()) - difference) <= abs(found.delta) + 1e-3
    # ... and more steps make the Riemann sum converge (the delta shrinks).
    difference = fine.score - fine.baseline_score
    assert abs(fine.delta) < 0.1 * abs(difference)
    assert abs(fine.delta) < abs(coarse.delta)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_method_runs_for_every_model(name: str) -> None:
    model = small(name)
    img = photo(seed=1)
    for method in METHODS:
        found = explain(model, img, method, 7, FAST)
        assert found.heat.shape == (64, 64), method
        assert found.heat.dtype == np.float32
        assert np.isfinite(found.heat).all() and found.heat.min() >= 0.0
        assert found.heat.max() <= 1.0
        assert np.isfinite(found.raw).all()
        assert (found.delta is not None) == (method == "integrated_gradients")
    # Grad-CAM on the photo, through the model's own API (the app's only Grad-CAM).
    heat = model.gradcam(img, 7)
    assert heat.shape == (80, 96) and 0.0 <= heat.min() and heat.max() <= 1.0


def test_guided_backprop_leaves_no_hooks_behind() -> None:
    model = small("resnet18")
    x = model.preprocess(photo(seed=2)).unsqueeze(0)
    plain = explain(model, x, "saliency", 3, FAST).raw
    explain(model, x, "guided_gradcam", 3, FAST)
    assert np.array_equal(explain(model, x, "saliency", 3, FAST).raw, plain)


def test_guided_gradcam_is_guided_for_relu6_models(lite0: PretrainedModel) -> None:
    # captum's GuidedBackprop hooks nn.ReLU only; the built-in model uses ReLU6, which
    # must be guided too, so Guided Grad-CAM differs from Grad-CAM x the plain gradient.
    img = photo(256, 256, seed=5)
    target = lite0.predict(img).top[0].index  # its Grad-CAM is not all zero
    x = lite0.preprocess(img).unsqueeze(0)
    guided = explain(lite0, x, "guided_gradcam", target).raw
    cam = explain(lite0, x, "gradcam", target).raw
    xr = x.clone().requires_grad_(True)
    lite0.network(xr)[0, target].backward()
    unguided = xr.grad[0].numpy() * cam
    assert np.abs(guided).max() > 0
    assert np.corrcoef(guided.ravel(), unguided.ravel())[0, 1] < 0.9


def test_gradcam_depends_on_the_class(lite0: PretrainedModel) -> None:
    img = photo(seed=4)
    a = explain(lite0, img, "gradcam", 1).heat
    b = explain(lite0, img, "gradcam", 500).heat
    assert a.shape == (224, 224) and not np.allclose(a, b)


def test_gradcam_scores_are_the_logits_of_the_class_they_explain(lite0: PretrainedModel) -> None:
    img = photo(seed=5)
    top = lite0.predict(img, topk=1).top[0].index
    x = lite0.preprocess(img)[None]
    with torch.inference_mode():
        expected = lite0.network(x)[0]
    for method in ("gradcam", "guided_gradcam"):
        for target in (top, 3):
            found = explain(lite0, img, method, target)
            assert found.score == pytest.approx(float(expected[target]), abs=1e-3)


def test_explain_refuses_unknown_methods_and_classes(lite0: PretrainedModel) -> None:
    with pytest.raises(ConfigError, match="unknown method"):
        explain(lite0, photo(), "lime", 0)
    with pytest.raises(ConfigError, match="outside"):
        explain(lite0, photo(), "saliency", 1000)
    with pytest.raises(ConfigError, match="steps"):
        explain(lite0, photo(), "integrated_gradients", 0, AttributionSettings(ig_steps=0))


def test_find_class_by_number_exact_name_or_unique_part() -> None:
    labels = imagenet_labels()
    assert find_class(labels, "282") == 282
    assert find_class(labels, 5) == 5
    assert find_class(labels, "Tiger Cat") == 282
    assert find_class(labels, "triceratops") == 51
    assert find_class(labels, "tricera") == 51
    with pytest.raises(ConfigError, match="several classes"):
        find_class(labels, "cat")
    with pytest.raises(ConfigError, match="no ImageNet class"):
        find_class(labels, "unicorn")
    with pytest.raises(ConfigError, match="outside"):
        find_class(labels, "1000")


def test_display_maps_and_colour_map() -> None:
    values = np.array([[0.0, 1.0], [2.0, 400.0]], dtype=np.float32)
    heat = normalize_heat(values, 50.0)  # the median (1.5) maps to 1
    assert heat[0, 0] == 0.0 and heat[0, 1] == pytest.approx(1 / 1.5) and heat[1, 1] == 1.0
    assert not normalize_heat(np.zeros((3, 3))).any()
    colours = colorize(np.array([[0.0, 1.0]]), "viridis")
    assert colours.shape == (1, 2, 3) and colours.dtype == np.uint8
    # viridis runs from dark purple to bright yellow: monotonic lightness, not jet.
    assert colours[0, 0].sum() < colours[0, 1].sum()
    with pytest.raises(ConfigError, match="colour map"):
        colorize(values, "jet")


# --- the sanity check -----------------------------------------------------------------


def test_spearman_ranks_with_ties() -> None:
    assert rank(np.array([10.0, 30.0, 20.0, 20.0])).tolist() == [1.0, 4.0, 2.5, 2.5]
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spearman(a, a**3) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.array([2.0, 1.0, 4.0, 3.0, 5.0])) == pytest.approx(0.8)
    assert spearman(a, np.ones(5)) == 0.0


def test_stage_cuts_go_from_the_top_to_every_block() -> None:
    assert stage_cuts(21, 5) == [1, 6, 11, 16, 21]
    assert stage_cuts(3, 5) == [1, 2, 3]
    names = [name for name, _modules in blocks(build_network("resnet18"))]
    assert names[0] == "conv1" and names[-1] == "fc" and "layer4.1" in names


def test_cascading_randomization_on_a_copy(lite0: PretrainedModel) -> None:
    model = small("efficientnet_lite0", copy.deepcopy(lite0.network))
    before = {k: v.clone() for k, v in model.network.state_dict().items()}
    img = photo(seed=6)
    items = list(cascading_randomization(model, img, 3, ["gradcam", "saliency"], FAST, stages=3))
    maps, final = items[:-1], items[-1]
    assert [(m.stage, m.method) for m in maps] == [
        (s, method) for s in range(4) for method in ("gradcam", "saliency")
    ]
    assert all(m.rho == 1.0 for m in maps if m.stage == 0)
    assert maps[-1].randomized == maps[-1].blocks
    # Randomising the trained weights changes the maps.
    assert any(m.rho < 0.9 for m in maps if m.stage > 0)
    assert set(final.rhos) == {"gradcam", "saliency"} and len(final.rhos["gradcam"]) == 4
    assert final.text
    # The model itself was never touched.
    after = model.network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_verdict_sorts_methods_by_their_last_correlation() -> None:
    result = verdict(
        {"gradcam": (1.0, 0.5, 0.05), "guided_gradcam": (1.0, 0.9, 0.8), "saliency": (1, 0.4)},
        ("trained", "half", "all"),
    )
    assert result.depends == ("gradcam",)
    assert result.barely == ("guided_gradcam",)
    assert result.partly == ("saliency",)
    assert "Depend on the model: Grad-CAM" in result.text
    assert "edges" in result.text and "Guided Grad-CAM (\u03c1 = 0.80)" in result.text


# --- adversarial examples -------------------------------------------------------------


def test_epsilon_as_a_number_or_a_fraction() -> None:
    assert parse_epsilon("2/255") == pytest.approx(2 / 255)
    assert parse_epsilon("0.01") == pytest.approx(0.01)
    assert parse_epsilon(16 / 255) == pytest.approx(16 / 255)
    for bad in ("17/255", "0", "-1/255", "two", "1/0"):
        with pytest.raises(ConfigError, match="epsilon"):
            parse_epsilon(bad)


def test_attacks_stay_within_epsilon_on_8_bit_pixels(lite0: PretrainedModel) -> None:
    model = small("efficientnet_lite0", copy.deepcopy(lite0.network))
    img = photo(seed=7)
    for settings in (
        AttackSettings("fgsm", 3 / 255),
        AttackSettings("pgd", 4 / 255, steps=3, target=10),
        AttackSettings("pgd", 0.01, steps=2),  # 2.55 levels: at most 2 after rounding
    ):
        result = attack(model, img, settings)
        assert result is not None
        assert result.adversarial.dtype == np.uint8 and result.adversarial.shape == (64, 64, 3)
        assert 1 <= result.linf <= int(settings.epsilon * 255 + 1e-6)
        # "after" is what the rounded pixels make the model say.
        assert result.after.top == model.predict_pixels(result.adversarial).top
    picture = amplified_perturbation(result)
    assert picture.dtype == np.uint8 and picture.min() < 128 < picture.max()


def test_attack_cancel_and_bad_settings(lite0: PretrainedModel) -> None:
    model = small("efficientnet_lite0", copy.deepcopy(lite0.network))
    assert attack(model, photo(), AttackSettings("pgd", 2 / 255), cancel=lambda: True) is None
    with pytest.raises(ConfigError, match="unknown attack"):
        attack(model, photo(), AttackSettings("deepfool"))
    with pytest.raises(ConfigError, match="target"):
        attack(model, photo(), AttackSettings("fgsm", target=1000))


def test_a_saved_adversarial_png_keeps_its_adversarial_class(
    lite0: PretrainedModel, tmp_path: Path
) -> None:
    img = photo(320, 240, seed=8)
    target = lite0.predict(img).top[1].index  # the runner-up: reachable in a few steps
    result = attack(lite0, img, AttackSettings("pgd", 4 / 255, steps=5, target=target))
    assert result is not None and result.reached_target and result.flipped
    path = tmp_path / "adversarial.png"
    path.write_bytes(png_bytes(adversarial_photo(lite0, img, result)))
    # Opened again from the file, through the ordinary classify path.
    (again,) = classify_paths([path], lite0, topk=5)
    assert again.ok and again.top[0].index == target
    assert [t.index for t in again.top] == [t.index for t in result.after.top]
    reread = open_image(path, min_size=lite0.preprocessing.resize)
    assert np.array_equal(lite0.pixels(reread), result.adversarial)
    assert reread.size == lite0.resized_size(img.size)


def test_gradcam_does_not_import_captum() -> None:
    """The Classify tab's first Grad-CAM does not pay for captum's import (about 0.5 s)."""
    from tests.nets.process_fixtures import imported_by

    code = (
        "import torch\n"
        "from nets.pretrained.attribution import explain_tensor\n"
        "torch.set_num_threads(1)\n"
        "net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),\n"
        "    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3))\n"
        "a = explain_tensor(net, net[0], torch.randn(1, 3, 16, 16), 'gradcam', 1)\n"
        "assert a.heat.shape == (16, 16), a.heat.shape\n"
    )
    assert not imported_by(code, "captum")
