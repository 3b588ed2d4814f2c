""" "Explain this number": scalar graphs behind single tensor elements (nets.mlp.explain)."""

from __future__ import annotations

import keyword

import numpy as np
import pytest
from hypothesis import given

from nets.mlp.explain import (
    ExplainError,
    explain,
    explainable_shapes,
    parse_element,
)
from nets.mlp.netgraph import build_netgraph, fresh_weights, random_batch
from tests.nets.mlp_fixtures import explained_nets

# The op names graph/ops.py defines that an explanation may use.
GRAPH_OPS = {
    "input",
    "const",
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "square",
    "exp",
    "log",
    "relu",
    "choose",
}


def _net(kind: str, n: int, d: int, h: int, c: int, scale: float, reg: float, seed: int):
    batch = random_batch(n, d, c, seed=seed)
    weights = fresh_weights(kind, d, c, h, scale, seed=seed + 1)
    return build_netgraph(weights, batch, reg)


@given(explained_nets())
def test_every_element_kind_equals_its_tensor_element_to_1e_9_on_random_data(case) -> None:
    ng, elements, top = case
    for text in elements:
        ex = explain(ng, text, top_terms=top)
        full = ng.full()
        tensor = (
            full.value(ex.element.tensor)
            if ex.element.kind == "value"
            else full.grad(ex.element.tensor)
        )
        assert ex.value == float(tensor[ex.element.index])
        assert abs(ex.graph_value - ex.value) <= 1e-9 * max(1.0, abs(ex.value))


def test_a_sum_shows_the_largest_terms_and_folds_the_rest_into_one_labelled_constant() -> None:
    ng = _net("TwoLayerNet", 3, 3072, 50, 10, 0.01, 0.0, 5)
    ex = explain(ng, "value:a1[2,41]")
    assert (ex.terms, ex.folded) == (3072, 3064)
    labels = ex.graph["meta"]["explain"]["labels"]
    folded = ex.sum("a1")
    assert labels[folded.node_id].startswith("+ 3,064 smaller terms = ")
    products = ng.full().value("X")[2] * ng.params["W1"][:, 41]
    top8 = np.argsort(-np.abs(products))[:8]
    mul_values = [_node_value(ex, n["id"]) for n in ex.graph["nodes"] if n["op"] == "mul"]
    np.testing.assert_allclose(mul_values, products[top8])  # largest first
    assert folded.folded_value == pytest.approx(products.sum() - products[top8].sum(), abs=1e-12)


def _node_value(ex, node_id: str) -> float:
    """A product node's value from its two leaves in the graph data."""
    leaves = {n["id"]: n for n in ex.graph["nodes"]}
    ins = [leaves[e["from"]]["value"] for e in ex.graph["edges"] if e["to"] == node_id]
    return float(ins[0]) * float(ins[1])


def test_unfolding_shows_more_terms_and_keeps_the_value() -> None:
    ng = _net("TwoLayerNet", 2, 300, 8, 4, 0.1, 0.0, 2)
    ex = explain(ng, "value:a1[1,3]", top_terms=4)
    more = ex.unfold("a1", 10)
    assert (more.sum("a1").shown, more.folded) == (14, 286)
    assert abs(more.graph_value - ex.value) < 1e-12
    everything = more.unfold("a1", 1000)
    assert everything.folded == 0 and everything.sum("a1").node_id is None


def test_the_loss_expands_the_largest_example_as_softmax_choose_log() -> None:
    ng = _net("TwoLayerNet", 4, 10, 6, 5, 1.0, 0.2, 9)
    ex = explain(ng, "value:L")
    ops = [n["op"] for n in ex.graph["nodes"]]
    assert ops.count("exp") == 5 and ops.count("choose") == 1 and "log" in ops
    assert ops.count("square") > 0
    assert ex.formula.startswith("L = (1/N) Σ_n −log p[n,y_n]")
    assert {s.key for s in ex.sums} >= {"data_loss", "reg_W1", "reg_W2"}


def test_unfolding_the_loss_draws_more_examples_as_their_softmax() -> None:
    ng = _net("TwoLayerNet", 4, 10, 6, 5, 1.0, 0.2, 9)
    ex = explain(ng, "value:L")
    more = ex.unfold("expanded", 2)
    assert [n["op"] for n in more.graph["nodes"]].count("choose") == 3
    assert abs(more.graph_value - ex.value) <= 1e-12


def test_upstream_gradients_are_labelled_leaf_inputs() -> None:
    ng = _net("TwoLayerNet", 3, 6, 4, 3, 1.0, 0.1, 1)
    ex = explain(ng, "grad:W1[5,2]")
    labels = ex.graph["meta"]["explain"]["labels"]
    inputs = {labels[n["id"]] for n in ex.graph["nodes"] if n["op"] == "input"}
    assert "dL/da1[0,2] from the ReLU" in inputs
    assert ex.vectorised == "dW1 = Xᵀ · da1 + reg·W1"
    ops = {(o.tensor, o.which, o.row, o.col) for o in ex.operands}
    assert ops == {("X", "value", None, 5), ("a1", "grad", None, 2), ("W1", "value", 5, 2)}


def test_relu_gradient_is_the_upstream_times_the_mask() -> None:
    ng = _net("TwoLayerNet", 3, 6, 4, 3, 1.0, 0.0, 1)
    a1 = ng.full().value("a1")
    n, k = np.argwhere(a1 <= 0)[0]
    ex = explain(ng, f"grad:a1[{n},{k}]")
    assert ex.value == 0.0
    mask = [n for n in ex.graph["nodes"] if n["name"].startswith("relu_mask")]
    assert mask and mask[0]["params"]["value"] == 0.0


def test_graph_files_use_only_engine_ops_and_unique_identifier_names() -> None:
    ng = _net("TwoLayerNet", 4, 40, 6, 5, 0.5, 0.3, 3)
    for text in (
        "value:X[1,3]",
        "value:h1[0,1]",
        "value:L",
        "grad:scores[1,2]",
        "grad:X[0,0]",
        "grad:b2[1]",
        "grad:L",
    ):
        data = explain(ng, text).graph
        assert data["format"] == "backprop-explorer-graph" and data["version"] == 1
        names = [n["name"] for n in data["nodes"]]
        assert len(set(names)) == len(names)
        assert all(n.isidentifier() and not keyword.iskeyword(n) and len(n) <= 64 for n in names)
        assert {n["op"] for n in data["nodes"]} <= GRAPH_OPS
        assert data["output"] in {n["id"] for n in data["nodes"]}


def test_json_summary_has_the_documented_keys() -> None:
    ng = _net("LinearClassifier", 2, 20, 1, 3, 0.5, 0.0, 0)
    out = explain(ng, "grad:W[3,1]").to_json()
    assert set(out) == {"element", "value", "formula", "terms", "folded"}
    assert out["element"] == "grad:W[3,1]" and out["terms"] == 2


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("grad:W3[0,0]", "unknown tensor 'W3'"),
        ("W1[0,0]", "write value:NAME[i,j]"),
        ("grad:W1[12,0]", "does not fit W1 (12×7): use [0..11,0..6]"),
        ("value:b1[1,2]", "does not fit b1 (7)"),
        ("value:L[0]", "use no index"),
        ("grad:X[a,b]", "whole numbers only"),
    ],
)
def test_bad_elements_get_one_line_naming_valid_names_and_shapes(text, fragment) -> None:
    ng = _net("TwoLayerNet", 4, 12, 7, 5, 0.3, 0.0, 0)
    with pytest.raises(ExplainError) as info:
        parse_element(text, explainable_shapes(ng))
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert "X (4×12), W1 (12×7), b1 (7), a1 (4×7), h1 (4×7)" in message and "L (scalar)" in message
