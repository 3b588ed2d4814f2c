"""The graphs "explain this number" writes, evaluated by the Graph tab's own engine.

(This test imports both ``graph`` and ``nets``: only the packages are kept apart.)
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from graph.evaluate import evaluate
from graph.fileformat import from_dict, loads
from graph.gradcheck import gradcheck
from nets.mlp.explain import explain, explainable_shapes
from nets.mlp.netgraph import build_netgraph, fresh_weights, random_batch
from tests.nets.mlp_fixtures import explained_nets


def _net(kind: str, n: int, d: int, h: int, c: int, scale: float, reg: float, seed: int):
    batch = random_batch(n, d, c, seed=seed)
    return build_netgraph(fresh_weights(kind, d, c, h, scale, seed=seed + 1), batch, reg)


def _element(which: str, tensor: str, index: tuple[int, ...]) -> str:
    return f"{which}:{tensor}[{','.join(map(str, index))}]" if index else f"{which}:{tensor}"


@given(explained_nets())
def test_the_engine_evaluates_every_element_kind_to_its_tensor_element_within_1e_9(case) -> None:
    ng, elements, top = case
    for text in elements:
        ex = explain(ng, text, top_terms=top)
        result = evaluate(from_dict(ex.graph))
        assert result.problem is None
        assert abs(result.value - ex.value) <= 1e-9, (text, result.value, ex.value)


def test_a_3072_term_graph_survives_the_file_format_and_evaluates_to_the_element() -> None:
    ng = _net("TwoLayerNet", 16, 3072, 32, 10, 0.01, 0.1, 7)
    import json

    for text in ("value:a1[15,31]", "grad:W1[1023,17]", "grad:X[3,2000]", "value:L"):
        ex = explain(ng, text)
        graph = loads(json.dumps(ex.graph))
        assert abs(evaluate(graph).value - ex.value) <= 1e-9


def test_backprop_through_the_loss_graph_gives_the_tensor_gradients() -> None:
    """The scalar graph of L, differentiated by the engine, reproduces dL/dscores of the
    expanded example and the regularisation part of dL/dW: the bridge both ways."""
    ng = _net("TwoLayerNet", 3, 5, 4, 3, 1.0, 0.4, 11)
    ex = explain(ng, "value:L", top_terms=100)
    graph = from_dict(ex.graph)
    result = evaluate(graph)
    names = {node["id"]: node["name"] for node in ex.graph["nodes"]}
    by_name = {v: k for k, v in names.items()}
    dscores = ng.full().grad("scores")
    expanded = [name for name in by_name if name.startswith("scores_")]
    assert expanded
    for name in expanded:
        _, row, col = name.split("_")
        assert result.grads[by_name[name]] == pytest.approx(dscores[int(row), int(col)], abs=1e-12)
    W1 = ng.params["W1"]
    for r in range(W1.shape[0]):
        for c in range(W1.shape[1]):
            got = result.grads[by_name[f"W1_{r}_{c}"]]
            assert got == pytest.approx(0.4 * W1[r, c], abs=1e-12)


def test_more_classes_than_choose_takes_pick_the_label_directly() -> None:
    ng = _net("LinearClassifier", 3, 4, 1, 20, 1.0, 0.1, 4)
    for text in ("value:L", "grad:scores[1,17]", "grad:scores[2,0]"):
        ex = explain(ng, text, top_terms=3)
        assert "choose" not in {n["op"] for n in ex.graph["nodes"]}
        assert abs(evaluate(from_dict(ex.graph)).value - ex.value) <= 1e-9


def test_explanations_are_gradient_checkable_like_f1_to_f4() -> None:
    ng = _net("TwoLayerNet", 4, 6, 5, 3, 1.0, 0.2, 2)
    for text in ("value:h1[1,2]", "grad:scores[0,1]", "grad:W2[3,1]", "value:L"):
        check = gradcheck(from_dict(explain(ng, text).graph))
        worst = check.worst
        assert worst is not None and worst < 1e-6, (text, worst)


@pytest.mark.data
def test_real_images_agree_to_1e_9_for_every_element_kind(cifar_batch_netgraph) -> None:
    ng = cifar_batch_netgraph
    rng = np.random.default_rng(0)
    for tensor, shape in explainable_shapes(ng).items():
        index = tuple(int(rng.integers(0, s)) for s in shape)
        for which in ("value", "grad"):
            ex = explain(ng, _element(which, tensor, index))
            assert abs(evaluate(from_dict(ex.graph)).value - ex.value) <= 1e-9, str(ex.element)


@pytest.fixture(scope="module")
def cifar_batch_netgraph(tmp_path_factory: pytest.TempPathFactory):
    """16 real CIFAR-10 training images through a fresh TwoLayerNet (hidden 64, reg 0.1)."""
    from nets.data import load_dataset
    from nets.mlp.netgraph import pick_batch
    from tests.nets.mlp_fixtures import small_cifar_folder

    folder = small_cifar_folder(tmp_path_factory.mktemp("cifar-jpegs"))
    dataset = load_dataset(f"folder:{folder}", num_val=10)
    batch = pick_batch(dataset, 16, seed=3)
    assert batch.images is not None and batch.images.shape == (16, 32, 32, 3)
    weights = fresh_weights("TwoLayerNet", 3072, 10, 64, 1e-3, seed=5)
    return build_netgraph(weights, batch, 0.1)
