"""Issue 9, cases 8 (divergence), 9 (memory guard under an address-space limit) and 10
(field validation on the command line)."""

from __future__ import annotations

import gzip
import math
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import main
from nets.mlp.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def fmnist(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    folder = tmp_path / "fm"
    folder.mkdir()
    for prefix, n in (("train", 300), ("t10k", 50)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        labels = rng.integers(0, 10, size=n)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))
    return folder


def test_learning_rate_1e3_diverges_and_keeps_finite_weights(
    fmnist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "d.npz"
    code = main.main(
        [
            "mlp",
            "train",
            "--data",
            f"fashion-mnist:{fmnist}",
            "--lr",
            "1e3",
            "--hidden-dim",
            "64",
            "--weight-scale",
            "0.1",
            "--epochs",
            "5",
            "--save",
            str(ckpt),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    line = [x for x in err.splitlines() if x.startswith("error: ")]
    assert len(line) == 1 and line[0].startswith("error: diverged at step ")
    step = int(line[0].split("step ")[1].split(":")[0])
    saved = load_checkpoint(ckpt)
    assert all(np.all(np.isfinite(p)) for p in saved.model.parameters().values())
    losses = saved.history["step_loss"]
    assert len(losses) == step - 1 and all(math.isfinite(v) for v in losses)


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--batch-size", "0", "Batch size"),
        ("--epochs", "-1", "Epochs"),
        ("--lr", "abc", "Learning rate"),
        ("--hidden-dim", "0", "Hidden units"),
        ("--momentum", "1.5", "Momentum"),
        ("--reg", "-1", "L2 regularization"),
        ("--num-train", "x", "Training images"),
    ],
)
def test_bad_values_exit_2(
    option: str, value: str, field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main.main(["mlp", "train", "--data", "fashion-mnist", option, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    # The setting is named as the form labels it, never by its internal name.
    assert f"error: argument {option}: {field} must be" in err
    assert "_" not in err.splitlines()[-1]


_GUARDED = textwrap.dedent(
    """
    import resource, sys
    limit = 2 * 1024 ** 3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import numpy as np
    from nets.errors import ConfigError, ResourceError
    from nets.mlp.train import TrainConfig, train
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(200, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=200)
    data = (X[:150], y[:150], X[150:], y[150:])
    for name, cfg in (("hidden", TrainConfig(hidden_dim=10**9)),
                      ("batch", TrainConfig(batch_size=10**7))):
        try:
            next(iter(train(cfg, data)))
            print(name, "ALLOCATED")
        except ResourceError as exc:
            print(name, "REFUSED", exc)
        except ConfigError as exc:
            print(name, "REFUSED-CONFIG", exc)
        except MemoryError:
            print(name, "MEMORYERROR")
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS semantics are Linux's")
def test_huge_configs_refused_before_allocation_under_rlimit() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _GUARDED], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines["hidden"].startswith("REFUSED this configuration needs about")
    assert "TB" in lines["hidden"] and "available" in lines["hidden"]
    # A batch larger than the data is refused as such, not as an absurd memory need.
    assert lines["batch"] == (
        "REFUSED-CONFIG the batch size 10,000,000 is larger than the 150 training images: "
        "use a batch size of at most 150"
    )
    # The limit was what the guard compared against: 2 GB, less what Python already holds.
    assert "GB is available" in lines["hidden"] or "MB is available" in lines["hidden"]


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS semantics are Linux's")
def test_command_line_shows_the_estimate(fmnist: Path) -> None:
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))

    proc = subprocess.run(
        [
            sys.executable,
            "main.py",
            "mlp",
            "train",
            "--data",
            f"fashion-mnist:{fmnist}",
            "--hidden-dim",
            "1e9",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("error: this configuration needs about") and "Traceback" not in proc.stderr
    )


def test_building_a_huge_model_directly_is_refused_before_allocation() -> None:
    from nets.errors import ResourceError
    from nets.mlp.classifiers import TwoLayerNet

    with pytest.raises(ResourceError, match="TwoLayerNet with 3,083,000,000,010 parameters"):
        TwoLayerNet(3072, 10, hidden_dim=10**9)
