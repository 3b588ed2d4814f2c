"""Source scan (ast): every ``torch.load`` in gui/, graph/, nets/ and main.py passes
``weights_only=True``, including calls through aliases (``import torch as t``,
``from torch import load as ld``) and ``**kwargs`` that could hide the flag."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    [ROOT / "main.py"] + [p for pkg in ("gui", "graph", "nets") for p in (ROOT / pkg).rglob("*.py")]
)


def unsafe_torch_loads(source: str) -> list[int]:
    """Line numbers of torch.load calls that do not pass the literal ``weights_only=True``."""
    tree = ast.parse(source)
    torch_names = {"torch"}
    load_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "torch":
                    torch_names.add(alias.asname or "torch")
        elif isinstance(node, ast.ImportFrom) and node.module in ("torch", "torch.serialization"):
            for alias in node.names:
                if alias.name == "load":
                    load_names.add(alias.asname or "load")
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_load = (
            isinstance(func, ast.Attribute)
            and func.attr == "load"
            and (
                (isinstance(func.value, ast.Name) and func.value.id in torch_names)
                or (isinstance(func.value, ast.Attribute) and func.value.attr == "serialization")
            )
        ) or (isinstance(func, ast.Name) and func.id in load_names)
        if not is_load:
            continue
        flag = [kw for kw in node.keywords if kw.arg == "weights_only"]
        if not flag or not (
            isinstance(flag[0].value, ast.Constant) and flag[0].value.value is True
        ):
            bad.append(node.lineno)
    return bad


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import torch\ntorch.load('x.pt')\n", [2]),
        ("import torch as t\nt.load('x.pt', weights_only=False)\n", [2]),
        ("from torch import load as ld\nld('x.pt', **kw)\n", [2]),
        ("import torch\ntorch.serialization.load('x.pt')\n", [2]),
        ("import torch\ntorch.load('x.pt', weights_only=flag)\n", [2]),
        ("import torch\ntorch.load('x.pt', map_location='cpu', weights_only=True)\n", []),
        ("import numpy as np\nnp.load('x.npz')\n", []),
    ],
)
def test_the_scan_catches_unsafe_loads(source, expected):
    assert unsafe_torch_loads(source) == expected


def test_no_torch_load_without_weights_only_in_the_app():
    assert len(SOURCES) > 10
    found = {
        path.relative_to(ROOT).as_posix(): lines
        for path in SOURCES
        if (lines := unsafe_torch_loads(path.read_text(encoding="utf-8")))
    }
    assert found == {}
    checkpoint = (ROOT / "nets" / "cnn" / "checkpoint.py").read_text(encoding="utf-8")
    assert "weights_only=True" in checkpoint  # the CNN loads through torch.load, safely
