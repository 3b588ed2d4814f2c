"""The model-randomisation sanity check of Adebayo et al. (2018), "Sanity Checks for
Saliency Maps": does an attribution map depend on what the model learned?

The network's layers are re-initialised cumulatively from the top (the classifier) down
to the stem, on a copy of the network; after each stage every chosen method's map is
computed again and compared with the map of the trained model by Spearman's rank
correlation. A method whose map stays similar while the weights that produced the
prediction are destroyed shows the image (its edges), not the model's reasons::

    for item in cascading_randomization(model, photo, target, ["gradcam", "saliency"]):
        ...  # SanityMap per (stage, method), then one SanityVerdict

Stages: the trained model, then the network's blocks (``blocks``) randomised from the
top in ``stages`` roughly equal cuts, the last with every layer random.

Importing this module does not import torch.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from nets.pretrained.attribution import (
    AttributionSettings,
    check_method,
    explain_tensor,
    method_title,
)

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from nets.pretrained.classify import PretrainedModel

Cancel = Callable[[], bool]

# Spearman's rho with the trained model's map once every layer is random.
DEPENDS_BELOW = 0.3  # the map changed: it depends on the model
BARELY_ABOVE = 0.6  # the map barely changed: it shows the image more than the model


@dataclass(frozen=True)
class SanityMap:
    """One method's map at one stage. ``stage`` 0 is the trained model.

    ``heat``: ``(S, S)`` float32 in [0, 1]; ``rho``: Spearman's rank correlation with
    the stage-0 map (1.0 at stage 0); ``randomized``: the blocks random at this stage.
    """

    stage: int
    stages: int
    stage_name: str
    method: str
    heat: np.ndarray = field(repr=False)
    rho: float
    randomized: int
    blocks: int


@dataclass(frozen=True)
class SanityVerdict:
    """The correlations by method (one per stage) and the verdict in words."""

    rhos: dict[str, tuple[float, ...]]
    stage_names: tuple[str, ...]
    depends: tuple[str, ...]
    partly: tuple[str, ...]
    barely: tuple[str, ...]
    text: str


def rank(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D array, ties sharing their average rank (as scipy's rankdata)."""
    values = np.asarray(values).ravel()
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.concatenate(([True], sorted_values[1:] != sorted_values[:-1]))
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, values.size))
    average = first + (counts + 1) / 2.0  # 1-based mean position of each tie group
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = average[group]
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally sized arrays (0.0 if one is constant)."""
    ra, rb = rank(a), rank(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denominator) if denominator > 0 else 0.0


def _block_name(module_name: str) -> str:
    # "_blocks.14._depthwise_conv" -> "_blocks.14", "layer4.1.conv2" -> "layer4.1",
    # "features.7.2.block.0" -> "features.7.2", "fc" -> "fc": a name's first run of
    # indices marks the block it belongs to.
    parts = module_name.split(".")
    for i, part in enumerate(parts):
        if part.isdigit():
            end = i
            while end < len(parts) and parts[end].isdigit():
                end += 1
            return ".".join(parts[:end])
    return module_name


def blocks(network: torch.nn.Module) -> list[tuple[str, list[torch.nn.Module]]]:
    """The network's parameterised layers grouped in blocks, in forward (registration)
    order: ``[(block name, [modules with their own parameters]), ...]``."""
    grouped: dict[str, list[torch.nn.Module]] = {}
    for name, module in network.named_modules():
        if name and any(True for _ in module.parameters(recurse=False)):
            grouped.setdefault(_block_name(name), []).append(module)
    return list(grouped.items())


def randomize(modules: list[torch.nn.Module], generator: torch.Generator) -> None:
    """Re-initialise ``modules`` in place: normal weights scaled as He et al. (fan-in),
    batch-norm statistics reset. Seeded by ``generator``."""
    import torch

    with torch.no_grad():
        for module in modules:
            if isinstance(module, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm)):
                module.reset_parameters()  # scale 1, shift 0 (and fresh statistics)
                continue
            for name, parameter in module.named_parameters(recurse=False):
                if parameter.dim() >= 2:
                    fan_in = parameter[0].numel()
                    std = float(np.sqrt(2.0 / max(fan_in, 1)))
                    noise = torch.randn(parameter.shape, generator=generator) * std
                elif name == "bias":
                    noise = torch.zeros(parameter.shape)
                else:
                    noise = torch.randn(parameter.shape, generator=generator) * 0.1
                parameter.copy_(noise.to(parameter.dtype))


def stage_cuts(n_blocks: int, stages: int) -> list[int]:
    """How many blocks (from the top) are random at each randomised stage, increasing."""
    stages = max(1, min(int(stages), n_blocks))
    cuts = np.unique(np.rint(np.linspace(1, n_blocks, stages)).astype(int))
    return [int(c) for c in cuts]


def cascading_randomization(
    model: PretrainedModel,
    image: Image.Image | torch.Tensor,
    target: int,
    methods: list[str],
    settings: AttributionSettings | None = None,
    *,
    stages: int = 5,
    seed: int = 0,
    cancel: Cancel | None = None,
    threads: int | None = None,
) -> Iterator[SanityMap | SanityVerdict]:
    """Yield a ``SanityMap`` per (stage, method), then the ``SanityVerdict``.

    Works on a deep copy of the model's network: the model itself is never changed,
    and other threads may keep using it. Stops quietly when ``cancel()`` is true.
    """
    import torch

    from nets.pretrained.threads import configure_threads

    configure_threads(threads)
    for method in methods:
        check_method(method)
    settings = settings or AttributionSettings()
    x = image if isinstance(image, torch.Tensor) else model.preprocess(image)
    with model.lock:
        network = copy.deepcopy(model.network)
    layer_name = model.spec.target_layer
    groups = blocks(network)
    cuts = stage_cuts(len(groups), stages)
    names = ["trained"] + [
        f"top {cut} of {len(groups)} blocks random (down to {groups[-cut][0]})"
        if cut < len(groups)
        else f"all {len(groups)} blocks random"
        for cut in cuts
    ]
    generator = torch.Generator().manual_seed(seed)
    baseline = model.black_input()
    originals: dict[str, np.ndarray] = {}
    rhos: dict[str, list[float]] = {method: [] for method in methods}
    done = 0
    for stage, cut in enumerate([0, *cuts]):
        for _name, modules in groups[len(groups) - cut : len(groups) - done]:
            randomize(modules, generator)
        done = cut
        layer = network.get_submodule(layer_name)
        for method in methods:
            if cancel is not None and cancel():
                return
            found = explain_tensor(network, layer, x, method, target, settings, baseline)
            if stage == 0:
                originals[method] = found.heat
                rho = 1.0
            else:
                rho = spearman(originals[method], found.heat)
            rhos[method].append(rho)
            yield SanityMap(
                stage=stage,
                stages=len(cuts) + 1,
                stage_name=names[stage],
                method=method,
                heat=found.heat,
                rho=rho,
                randomized=cut,
                blocks=len(groups),
            )
    yield verdict({m: tuple(r) for m, r in rhos.items()}, tuple(names))


def verdict(rhos: dict[str, tuple[float, ...]], stage_names: tuple[str, ...]) -> SanityVerdict:
    """Sort methods by their correlation once every layer is random, and say so in words."""
    final = {method: values[-1] for method, values in rhos.items() if values}
    depends = tuple(m for m, r in final.items() if abs(r) < DEPENDS_BELOW)
    barely = tuple(m for m, r in final.items() if r >= BARELY_ABOVE)
    partly = tuple(m for m in final if m not in depends and m not in barely)

    def listed(methods: tuple[str, ...]) -> str:
        return ", ".join(f"{method_title(m)} (\u03c1 = {final[m]:.2f})" for m in methods)

    sentences = []
    if depends:
        sentences.append(
            f"Depend on the model: {listed(depends)}; their maps change completely once "
            "the learned weights are gone."
        )
    if partly:
        sentences.append(f"Partly: {listed(partly)}; some of the map survives random weights.")
    if barely:
        sentences.append(
            f"Barely change: {listed(barely)}; with every layer random they still look "
            "alike, a sign they show the image's edges rather than the model's reasons."
        )
    if not sentences:
        sentences.append("No method was checked.")
    return SanityVerdict(
        rhos=rhos,
        stage_names=stage_names,
        depends=depends,
        partly=partly,
        barely=barely,
        text=" ".join(sentences),
    )
