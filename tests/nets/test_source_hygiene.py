"""Static checks over the whole source tree (ast, not grep).

- no ``torch.load`` without ``weights_only=True`` (aliases and references included; the
  tests too);
- no ``pickle.load``/``pickle.loads``/``Unpickler`` outside the MD5-checked CIFAR loader;
- no ``eval`` or ``exec`` (nor ``compile`` of source text);
- no ``np.load``/``numpy.load`` with ``allow_pickle=True``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    [ROOT / "main.py"]
    + [p for pkg in ("gui", "graph", "nets", "assets", "bench") for p in (ROOT / pkg).rglob("*.py")]
)
# The tests load checkpoints too: the same torch.load rule holds for them.
TESTS = sorted((ROOT / "tests").rglob("*.py"))
# The one place allowed to unpickle: it checks each batch file's MD5 first.
PICKLE_ALLOWED = {"nets/data/cifar10.py"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _keyword_true(call: ast.Call, name: str) -> bool:
    for kw in call.keywords:
        if kw.arg == name:
            return isinstance(kw.value, ast.Constant) and kw.value.value is True
    return False


def _has_keyword(call: ast.Call, name: str) -> bool:
    return any(kw.arg == name for kw in call.keywords)


def _calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, _dotted(node.func)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_scan_sees_the_packages():
    names = {_rel(p).split("/")[0] for p in SOURCES}
    assert {"gui", "graph", "nets", "main.py"} <= names
    assert len(SOURCES) > 10


def torch_loads(source: str) -> tuple[list[int], list[int]]:
    """(lines of safe torch.load calls, lines of unsafe uses) in ``source``.

    A call is safe when it passes the literal ``weights_only=True``. Unsafe: any other
    call, through aliases too (``import torch as t``, ``from torch import load as ld``,
    ``torch.serialization.load``), and any use of ``torch.load`` that is not a direct call
    (``f = torch.load``, ``partial(torch.load, ...)``), which could call it without the flag.
    """
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
                if alias.name in ("load", "*"):
                    load_names.add(alias.asname or "load")

    def is_load(func: ast.AST) -> bool:
        if isinstance(func, ast.Attribute) and func.attr == "load":
            owner = func.value
            return (isinstance(owner, ast.Name) and owner.id in torch_names) or (
                isinstance(owner, ast.Attribute) and owner.attr == "serialization"
            )
        return isinstance(func, ast.Name) and func.id in load_names

    safe, bad = [], []
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and is_load(node.func):
            called.add(id(node.func))
            flag = [kw for kw in node.keywords if kw.arg == "weights_only"]
            ok = bool(flag) and isinstance(flag[0].value, ast.Constant)
            (safe if ok and flag[0].value.value is True else bad).append(node.lineno)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute | ast.Name)
            and isinstance(node.ctx, ast.Load)
            and is_load(node)
            and id(node) not in called
        ):
            bad.append(node.lineno)  # a reference passed on: called elsewhere, unchecked
    return safe, sorted(bad)


def unsafe_torch_loads(source: str) -> list[int]:
    """Line numbers of torch.load uses that do not pass the literal ``weights_only=True``."""
    return torch_loads(source)[1]


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
        ("import torch\nf = torch.load\nf('x.pt')\n", [2]),
        ("import functools, torch\nfunctools.partial(torch.load, 'x.pt')()\n", [2]),
        ("from torch import *\nload('x.pt')\n", [2]),
        ("import torch\n'torch.load(x, weights_only=True)'\ntorch.load('x.pt')\n", [3]),
    ],
)
def test_the_torch_load_scan_catches_aliases_and_flags(source, expected):
    assert unsafe_torch_loads(source) == expected


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_no_torch_load_without_weights_only(path):
    """Including calls through aliases (``import torch as t``, ``from torch import load``)
    and a flag that is not the literal True."""
    assert unsafe_torch_loads(path.read_text(encoding="utf-8")) == [], _rel(path)


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_no_eval_or_exec(path):
    for call, name in _calls(path):
        assert name not in {"eval", "exec", "builtins.eval", "builtins.exec"}, (
            f"{_rel(path)}:{call.lineno}: {name}() runs arbitrary code"
        )
        if name == "compile" and call.args:
            raise AssertionError(f"{_rel(path)}:{call.lineno}: compile() of source text")


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_no_numpy_load_with_allow_pickle(path):
    for call, name in _calls(path):
        if name in {"np.load", "numpy.load"}:
            assert not _keyword_true(call, "allow_pickle"), (
                f"{_rel(path)}:{call.lineno}: np.load with allow_pickle=True"
            )


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_no_pickle_load_outside_the_cifar_loader(path):
    if _rel(path) in PICKLE_ALLOWED:
        return
    for call, name in _calls(path):
        assert name not in {
            "pickle.load",
            "pickle.loads",
            "pickle.Unpickler",
            "cPickle.load",
            "dill.load",
            "joblib.load",
        }, f"{_rel(path)}:{call.lineno}: {name} outside the MD5-checked CIFAR loader"


def test_the_checks_catch_offenders(tmp_path):
    """The scanners above must be able to fail: feed them a file that breaks every rule."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import torch, pickle, numpy as np\n"
        "torch.load('x.pt')\n"
        "torch.load('y.pt', weights_only=False)\n"
        "eval('1+1')\n"
        "np.load('a.npy', allow_pickle=True)\n"
        "pickle.loads(b'')\n"
    )
    found = [name for _call, name in _calls(bad)]
    assert found.count("torch.load") == 2
    calls = dict((name, call) for call, name in _calls(bad))
    assert not _keyword_true(calls["torch.load"], "weights_only")
    assert _keyword_true(calls["np.load"], "allow_pickle")
    assert "eval" in found and "pickle.loads" in found


@pytest.mark.parametrize("module", ["nets/cnn/checkpoint.py", "nets/pretrained/registry.py"])
def test_the_torch_loaders_call_torch_load_with_weights_only(module):
    """The CNN checkpoint and the pretrained weights are read by real torch.load calls
    (not a docstring mentioning one), every one of them with ``weights_only=True``."""
    safe, bad = torch_loads((ROOT / module).read_text(encoding="utf-8"))
    assert safe and not bad, (module, safe, bad)


def test_no_torch_load_without_weights_only_in_the_tests():
    offenders = {
        _rel(path): lines
        for path in TESTS
        if (lines := unsafe_torch_loads(path.read_text(encoding="utf-8")))
    }
    assert len(TESTS) > 50 and offenders == {}
