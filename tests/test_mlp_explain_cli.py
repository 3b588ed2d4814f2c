"""``backprop-explorer mlp explain``: --json, --out read back by the real ``graph eval``,
checkpoints, and one-line refusals of bad elements.

(A test outside tests/nets: it drives both the ``mlp`` and the ``graph`` command lines.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import main
from nets.data import load_dataset
from nets.data.preprocess import Preprocessor
from nets.mlp.checkpoint import save_checkpoint
from nets.mlp.classifiers import TwoLayerNet
from nets.mlp.explain import explain
from nets.mlp.netgraph import netgraph_from_checkpoint
from tests.nets.cnn_fixtures import random_fashion_folder
from tests.nets.mlp_fixtures import small_cifar_folder


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("fm")
    return f"fashion-mnist:{random_fashion_folder(folder, 60, 10, seed=4)}"


INIT = ("--init", "--num-val", "10", "--batch", "5", "--seed", "2", "--hidden-dim", "12")


def _explain(capsys, *argv: str) -> tuple[int, str, str]:
    code = main.main(["mlp", "explain", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "element",
    [
        "value:X[1,400]",
        "value:W1[10,3]",
        "value:a1[4,11]",
        "value:h1[0,3]",
        "value:scores[2,7]",
        "value:L",
        "grad:L",
        "grad:scores[3,1]",
        "grad:W2[5,9]",
        "grad:b2[3]",
        "grad:h1[1,2]",
        "grad:a1[2,5]",
        "grad:W1[783,11]",
        "grad:b1[0]",
        "grad:X[0,5]",
    ],
)
def test_graph_eval_of_the_written_file_gives_the_json_value(
    fmnist: str, tmp_path: Path, capsys, element: str
) -> None:
    out_file = tmp_path / "g.json"
    code, out, err = _explain(
        capsys, *INIT, "--data", fmnist, "--element", element, "--out", out_file, "--json"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert set(summary) == {"element", "value", "formula", "terms", "folded"}
    assert summary["element"] == element
    assert main.main(["graph", "eval", str(out_file), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert abs(evaluated["value"] - summary["value"]) <= 1e-9


def test_top_terms_sets_how_many_terms_stay_separate(fmnist: str, capsys) -> None:
    args = (*INIT, "--data", fmnist, "--element", "value:a1[0,0]", "--json")
    few = json.loads(_explain(capsys, *args, "--top-terms", "3")[1])
    many = json.loads(_explain(capsys, *args, "--top-terms", "100")[1])
    assert (few["terms"], few["folded"]) == (784, 781)
    assert (many["terms"], many["folded"]) == (784, 684)
    assert few["value"] == many["value"]


def test_a_checkpoint_is_explained_with_its_own_preprocessing_and_reg(
    fmnist: str, tmp_path: Path, capsys
) -> None:
    dataset = load_dataset(fmnist, num_val=10)
    model = TwoLayerNet(784, 10, 6, weight_scale=0.05, seed=3)
    ckpt = save_checkpoint(
        tmp_path / "m.npz",
        model,
        preprocessor=Preprocessor.fit(dataset.X_train),
        config={"reg": 0.25},
        image_shape=dataset.image_shape,
    )
    code, out, err = _explain(
        capsys, "--checkpoint", ckpt, "--data", fmnist, "--num-val", "10", "--batch", "3",
        "--element", "grad:W2[4,6]", "--json",
    )  # fmt: skip
    assert code == 0, err
    ng = netgraph_from_checkpoint(ckpt, dataset, 3, seed=0)
    assert ng.reg == 0.25
    assert json.loads(out)["value"] == explain(ng, "grad:W2[4,6]").value


def test_a_bad_element_of_a_checkpoint_is_refused_in_one_line_before_any_data_is_read(
    tmp_path: Path, capsys
) -> None:
    ckpt = save_checkpoint(tmp_path / "m.npz", TwoLayerNet(30, 4, 5, seed=0))
    out_file = tmp_path / "g.json"
    code, out, err = _explain(
        capsys, "--checkpoint", ckpt, "--data", "folder:/nonexistent/x", "--batch", "2",
        "--element", "grad:W1[30,0]", "--out", out_file,
    )  # fmt: skip
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "W1 (30×5): use [0..29,0..4]" in err
    assert "X (2×30), W1 (30×5), b1 (5), a1 (2×5), h1 (2×5), W2 (5×4), b2 (4)" in err
    assert not out_file.exists()


@pytest.mark.parametrize(
    ("element", "fragment"),
    [
        ("grad:W9[0,0]", "unknown tensor 'W9'"),
        ("gradient:W1[0,0]", "write value:NAME[i,j]"),
        ("value:b1[12]", "does not fit b1 (12)"),
    ],
)
def test_bad_element_names_exit_2_naming_valid_names(fmnist, capsys, element, fragment) -> None:
    code, out, err = _explain(capsys, *INIT, "--data", fmnist, "--element", element)
    assert code == 2 and out == "" and fragment in err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "valid names: X (5×D), W1 (D×12)" in err


def test_text_output_names_the_formula_and_the_folded_terms(fmnist: str, capsys) -> None:
    code, out, _ = _explain(capsys, *INIT, "--data", fmnist, "--element", "grad:X[0,5]")
    assert code == 0
    assert "dL/dX[0,5] = Σ_k dL/da1[0,k]·W1[5,k]" in out
    assert "dX = da1 · W1ᵀ" in out and "12 terms, 8 shown, 4 folded" in out


def test_linear_classifier_elements(fmnist: str, capsys) -> None:
    code, out, err = _explain(
        capsys, *INIT, "--model", "linear", "--data", fmnist, "--element", "grad:W[3,2]", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["formula"].startswith("dL/dW[3,2] = Σ_n X[n,3]·dL/dscores[n,2]")
    assert np.isfinite(json.loads(out)["value"])


@pytest.mark.data
def test_real_cifar_images_explained_and_evaluated_by_graph_eval(tmp_path: Path, capsys) -> None:
    folder = small_cifar_folder(tmp_path / "cifar", per_class=3)
    out_file = tmp_path / "g.json"
    for element in ("grad:W1[1023,41]", "value:a1[15,41]", "value:L", "grad:X[0,5]"):
        code, out, err = _explain(
            capsys, "--init", "--data", f"folder:{folder}", "--num-val", "5", "--batch", "16",
            "--hidden-dim", "64", "--seed", "7", "--element", element, "--out", out_file, "--json",
        )  # fmt: skip
        assert code == 0, err
        assert main.main(["graph", "eval", str(out_file), "--json"]) == 0
        evaluated = json.loads(capsys.readouterr().out)
        assert abs(evaluated["value"] - json.loads(out)["value"]) <= 1e-9


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (("--out", "/nonexistent/folder/g.json"), "the folder does not exist"),
        (("--batch", "17"), "the batch must have 1 to 16 images, got 17"),
    ],
)
def test_bad_output_or_batch_is_refused_before_the_data_is_read(capsys, extra, fragment) -> None:
    code, out, err = _explain(
        capsys, "--init", "--data", "folder:/nonexistent/x", "--element", "value:L", *extra
    )
    assert code == 1 and out == "" and fragment in err and "Traceback" not in err
