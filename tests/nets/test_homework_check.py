"""``check`` on the homework's files: a correct folder passes every check, a planted bug
fails exactly the function it is in, and the references agree with the built-in graphs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from graph import functions as graph_functions
from graph.evaluate import evaluate
from graph.examples import load_example
from nets.homework import references
from nets.homework.checking import check_homework
from nets.homework.layout import HomeworkError, find_homework

FIXTURES = Path(__file__).parent / "homework_fixtures"
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# (file, correct line, buggy line, the one function that must fail)
BUGS = [
    ("backprop/functions.py", "grad_w1 = grad_a1 * x1", "grad_w1 = grad_a1 * w1", "f1"),
    ("backprop/functions.py", "grad_x = grad_d * 2", "grad_x = grad_d", "f2"),
    ("backprop/functions.py", "grad_e2 = grad_e2 + grad_d", "grad_e2 = grad_e2", "f3"),
    ("backprop/functions.py", "grad_c = grad_c1 + grad_c2", "grad_c = grad_c1", "f4"),
    ("neuralnet/layers.py", "out = x.dot(w) + b", "out = x.dot(w)", "fc_forward"),
    (
        "neuralnet/layers.py",
        "grad_b = np.sum(grad_out, axis=0)",
        "grad_b = np.mean(grad_out, axis=0)",
        "fc_backward",
    ),
    ("neuralnet/layers.py", "out = np.maximum(x, 0)", "out = np.abs(x)", "relu_forward"),
    (
        "neuralnet/layers.py",
        "grad_x = grad_out * (x > 0)",
        "grad_x = grad_out * (x >= 0)",
        "relu_backward",
    ),
    ("neuralnet/layers.py", "grad = diff / N", "grad = diff", "l2_loss"),
    (
        "neuralnet/layers.py",
        "shifted = x - np.max(x, axis=1, keepdims=True)",
        "shifted = x",
        "softmax_loss",
    ),
    ("neuralnet/layers.py", "grad_w = reg * w", "grad_w = 2 * reg * w", "l2_regularization"),
    (
        "neuralnet/two_layer_net.py",
        "grad_h = relu_backward(grad_a, cache2)",
        "grad_h = grad_a",
        "TwoLayerNet",
    ),
    ("neuralnet/train.py", 'if name.startswith("W"):', "if True:", "training_step"),
]


def _check(path: Path) -> dict[str, object]:
    return {r.function: r for r in check_homework(find_homework([path]))}


def test_the_correct_homework_folder_passes_every_check():
    results = _check(FIXTURES)
    assert list(results) == [
        "f1",
        "f2",
        "f3",
        "f4",
        "fc_forward",
        "fc_backward",
        "relu_forward",
        "relu_backward",
        "l2_loss",
        "softmax_loss",
        "l2_regularization",
        "TwoLayerNet",
        "training_step",
    ]
    for name, result in results.items():
        assert result.ok, (name, [c for c in result.checks if not c.ok])
        assert result.checks


@pytest.mark.parametrize(("file", "good", "bad", "function"), BUGS, ids=[b[3] for b in BUGS])
def test_a_planted_bug_fails_exactly_its_function(tmp_path, file, good, bad, function):
    folder = tmp_path / "homework"
    shutil.copytree(FIXTURES, folder)
    target = folder / file
    source = target.read_text()
    assert source.count(good) == 1
    target.write_text(source.replace(good, bad))
    results = _check(folder)
    failing = {name for name, r in results.items() if not r.ok}
    assert failing == {function}
    failure = results[function].failures()[0]
    if failure.against in ("app", "numeric") and failure.expected is not None:
        assert failure.inputs and failure.got is not None and failure.rel_error >= failure.threshold


def test_a_bug_names_the_value_and_explains_the_classic_mistakes(tmp_path):
    folder = tmp_path / "neuralnet"
    shutil.copytree(FIXTURES / "neuralnet", folder)
    layers = folder / "layers.py"
    source = layers.read_text()
    layers.write_text(
        source.replace("grad_x = grad_out * (x > 0)", "grad_x = grad_out * (x >= 0)").replace(
            "shifted = x - np.max(x, axis=1, keepdims=True)", "shifted = x"
        )
    )
    results = _check(layers)
    relu = results["relu_backward"].failures()
    assert [(c.value, c.against) for c in relu] == [("grad_x", "app")]
    assert "exactly 0" in relu[0].message
    softmax = results["softmax_loss"].failures()
    assert {c.value for c in softmax} == {"loss", "grad"}
    assert all("subtract each row's maximum" in c.message or "nan" in c.message for c in softmax)


def test_regularised_biases_are_named_in_the_training_step_check(tmp_path):
    folder = tmp_path / "neuralnet"
    shutil.copytree(FIXTURES / "neuralnet", folder)
    train = folder / "train.py"
    train.write_text(train.read_text().replace('if name.startswith("W"):', "if True:"))
    (result,) = [r for r in _check(train).values()]
    loss = next(c for c in result.failures() if c.value == "loss")
    assert "biases" in loss.message
    assert {c.value for c in result.failures()} == {"loss", "grad b1", "grad b2"}


def test_a_missing_classifier_py_is_provided(tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    for name in ("layers.py", "two_layer_net.py"):
        shutil.copy(FIXTURES / "neuralnet" / name, folder / name)
    assert _check(folder)["TwoLayerNet"].ok


def test_stubs_of_the_starter_code_fail_with_a_clear_message(tmp_path):
    (tmp_path / "functions.py").write_text(
        "def f3(s1, s2, y):\n    L, grads = None, None\n    return L, grads\n"
    )
    (check,) = _check(tmp_path / "functions.py")["f3"].failures()
    assert check.against == "returns"
    assert "None (not implemented yet?)" in check.message


def test_paths_that_are_not_homework_are_refused_with_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(HomeworkError, match="notes.txt: not one of the homework's files"):
        find_homework([tmp_path / "notes.txt"])
    with pytest.raises(HomeworkError, match="no homework files in this folder"):
        find_homework([tmp_path])
    run = subprocess.run(
        [sys.executable, "main.py", "check", str(tmp_path / "missing")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert run.stderr.strip() == f"error: {tmp_path / 'missing'}: no such file or folder"


def test_json_output_and_exit_status(tmp_path):
    folder = tmp_path / "backprop"
    shutil.copytree(FIXTURES / "backprop", folder)
    functions = folder / "functions.py"
    functions.write_text(functions.read_text().replace("grad_x = grad_d * 2", "grad_x = grad_d"))
    run = subprocess.run(
        [sys.executable, "main.py", "check", str(functions), "--json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    results = json.loads(run.stdout)["results"]
    assert [(r["function"], r["ok"]) for r in results] == [
        ("f1", True),
        ("f2", False),
        ("f3", True),
        ("f4", True),
    ]
    bad = [c for c in results[1]["checks"] if not c["ok"]]
    assert {(c["value"], c["against"]) for c in bad} == {("grad_x", "app"), ("grad_x", "numeric")}
    assert set(bad[0]) >= {"inputs", "expected", "got", "rel_error", "threshold"}


@pytest.mark.parametrize(("name", "args"), [("f2", ["x"]), ("f3", ["s1", "s2", "y"])])
def test_the_references_agree_with_the_built_in_graphs(name, args):
    graph = load_example(name)
    values = [graph.node(graph.id_of(a)).leaf_value for a in args]
    evaluation = evaluate(graph)
    ref_L, ref_grads = references.REFERENCES[name](*values)
    assert ref_L == pytest.approx(evaluation.value, rel=1e-12)
    graph_grads = [evaluation.grads[graph.id_of(a)] for a in args[: len(ref_grads)]]
    assert ref_grads == pytest.approx(graph_grads, rel=1e-12)
    hand_L, hand_grads = getattr(graph_functions, name)(*values)
    assert (ref_L, *ref_grads) == pytest.approx((hand_L, *hand_grads), rel=1e-12)


def test_the_two_input_f1_reduces_to_the_built_in_one():
    w, x, b, y = 2.0, 1.5, 0.5, 3.0
    L, (g_x1, g_w1, _, g_w2, g_b, g_y) = references.f1(x, w, 0.0, 7.0, b, y)
    hand_L, (g_w, g_x, hand_b, hand_y) = graph_functions.f1(w, x, b, y)
    assert (L, g_x1, g_w1, g_b, g_y) == pytest.approx((hand_L, g_x, g_w, hand_b, hand_y))
    assert g_w2 == 0.0  # x2 = 0 takes no part
