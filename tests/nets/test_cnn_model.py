"""nets.cnn.model: the analytic summary matches torch, and the exported source is the same net."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from nets.cnn.arch import AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, ReLU, validate
from nets.cnn.model import build_model, parameter_count, to_pytorch_source
from nets.cnn.presets import PRESETS
from nets.errors import ConfigError

CASES = {
    **{p.key: (p.layers, (1, 28, 28), 10) for p in PRESETS.values()},
    "strided-rgb": (
        (
            Conv2d(6, 5, stride=2, padding=2),
            BatchNorm2d(),
            ReLU(),
            AvgPool2d(3, 2),
            Dropout(0.1),
            Flatten(),
            Linear(20),
            ReLU(),
            Linear(3),
        ),
        (3, 33, 30),
        3,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_analytic_summary_equals_torch(name):
    layers, shape, classes = CASES[name]
    rows = validate(layers, shape, classes)
    torch.manual_seed(0)
    model = build_model(layers, shape, classes).eval()
    x = torch.zeros(2, *shape)
    for row, module in zip(rows, model.layers, strict=True):
        x = module(x)
        assert tuple(x.shape[1:]) == row.output_shape, f"layer {row.index}"
        assert sum(p.numel() for p in module.parameters()) == row.params, f"layer {row.index}"
        assert type(module).__name__ == row.name
    assert parameter_count(model) == sum(r.params for r in rows)


def test_build_model_refuses_a_bad_architecture():
    with pytest.raises(ConfigError, match=r"layer 1 \(Linear\)"):
        build_model([Conv2d(4, 3), Linear(10)], (1, 28, 28), 10)


def _import_source(source: str, tmp_path, module_name: str):
    path = tmp_path / f"{module_name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(module_name, None)
    return module


@pytest.mark.parametrize("name", list(CASES))
def test_exported_source_builds_the_same_network(name, tmp_path):
    layers, shape, classes = CASES[name]
    torch.manual_seed(1)
    ours = build_model(layers, shape, classes).eval()
    source = to_pytorch_source(
        layers,
        shape,
        classes,
        class_name="StudentNet",
        normalization=([72.9] * shape[0], [90.0] * shape[0]),
        class_names=[f"c{i}" for i in range(classes)],
    )
    module = _import_source(source, tmp_path, f"exported_{name.replace('-', '_')}")
    theirs = module.StudentNet().eval()
    assert parameter_count(theirs) == parameter_count(ours)
    theirs.load_state_dict(ours.state_dict())  # strict: the same names and shapes
    x = torch.randn(4, *shape)
    with torch.no_grad():
        torch.testing.assert_close(theirs(x), ours(x), rtol=0, atol=0)
    assert "Output: (N, " in source and "# -> " in source


def test_exported_source_refuses_a_bad_class_name():
    layers, shape, classes = CASES["seed"]
    with pytest.raises(ConfigError, match="not a Python identifier"):
        to_pytorch_source(layers, shape, classes, class_name="class")
