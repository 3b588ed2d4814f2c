"""Groups: making, nesting and dissolving them, files (version 2 and the old version 1),
the combined local derivative, export as helper functions and ``def`` in programs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from graph import fileformat
from graph.errors import GraphEditError, GraphFileError, ProgramError
from graph.evaluate import evaluate
from graph.examples import build_example
from graph.export import to_python
from graph.groups import (
    GROUPS_KEY,
    Groups,
    group_nodes,
    jacobian,
    known_formula,
    loop_through,
    ungroup,
)
from graph.model import Graph
from graph.program import from_program
from tests.graph.strategies import graphs, same_number
from tests.graph.test_export import _import

FIXTURES = Path(__file__).parent / "fixtures" / "v1"


def _group(g, names, name):
    ids = [g.id_of(n) for n in names]
    groups, gid = group_nodes(g, ids, name)
    g.set_meta(GROUPS_KEY, groups)
    return gid


def test_grouping_gives_one_function_with_the_boundary_as_ports():
    g = build_example("f4")
    gid = _group(g, ["z1", "z2", "s", "z"], "neuron")
    ports = Groups(g).ports(gid)
    assert [g.node(i).name for i in ports.inputs] == ["w1", "x1", "w2", "x2", "b"]
    assert [g.node(i).name for i in ports.outputs] == ["z"]


def test_groups_nest_both_ways_and_ungroup_restores_the_parent():
    g = build_example("f4")
    sig = _group(g, ["p"], "sigmoid")
    outer = _group(g, ["z1", "z2", "s", "z", "p"], "neuron")  # wraps sigmoid
    groups = Groups(g)
    assert groups[sig].parent == outer and groups[outer].nodes == tuple(
        g.id_of(n) for n in ("z1", "z2", "s", "z")
    )
    inner = _group(g, ["z1", "z2"], "products")  # inside neuron
    assert Groups(g)[inner].parent == outer
    assert Groups(g).chain(g.id_of("z1")) == [inner, outer]
    g.set_meta(GROUPS_KEY, ungroup(g, outer))
    groups = Groups(g)
    assert outer not in groups.by_id
    assert groups[sig].parent is None and groups[inner].parent is None
    assert groups.group_of(g.id_of("s")) is None


def test_grouping_refuses_inputs_partial_cuts_and_loops():
    g = build_example("f4")
    with pytest.raises(GraphEditError, match="inputs stay outside"):
        group_nodes(g, [g.id_of("w1"), g.id_of("z1")], "f")
    _group(g, ["z1", "z2", "s"], "lin")
    with pytest.raises(GraphEditError, match="cuts the group lin"):
        group_nodes(g, [g.id_of("s"), g.id_of("z")], "f")
    f3 = build_example("f3")
    # e1 -> d -> p1 and e1 -> p1: grouping e1 and p1 without d would loop through d.
    with pytest.raises(GraphEditError, match="d is computed from the selection"):
        group_nodes(f3, [f3.id_of("e1"), f3.id_of("p1")], "f")
    with pytest.raises(GraphEditError, match="not usable"):
        group_nodes(f3, [f3.id_of("d")], "no good")


def test_grouped_file_round_trips_as_version_2(tmp_path):
    g = build_example("f4")
    _group(g, ["p"], "sigmoid")
    _group(g, ["z1", "z2", "s", "z", "p"], "neuron")
    path = tmp_path / "g.json"
    fileformat.save(g, path)
    text = path.read_text()
    assert '"version": 2' in text and '"groups": [' in text
    loaded = fileformat.load(path)
    assert loaded.get_meta(GROUPS_KEY) == g.get_meta(GROUPS_KEY)
    assert loaded.same_as(g)
    # A graph without groups stays version 1, readable by the app before groups.
    fileformat.save(build_example("f1"), path)
    assert '"version": 1' in path.read_text() and "groups" not in path.read_text()


@pytest.mark.parametrize("name", ["f1", "f3", "f4"])
def test_version_1_files_written_before_groups_still_open(name):
    g = fileformat.load(FIXTURES / f"{name}.json")
    ref = build_example(name)
    assert evaluate(g).value == evaluate(ref).value
    assert evaluate(g).grads == evaluate(ref).grads
    assert not Groups(g)


def test_version_1_file_with_practice_meta_and_nan_opens_unchanged():
    g = fileformat.load(FIXTURES / "practice_nan.json")
    assert g.get_meta("practice") == {"enabled": True, "tolerance": 0.01}
    assert math.isnan(g.node(g.id_of("w")).value)
    assert fileformat.dumps(g) == (FIXTURES / "practice_nan.json").read_text()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(version=1), "groups need version 2"),
        (lambda d: d["groups"][0]["nodes"].append("n99"), r"groups\[0\]\.nodes\[1\]: no node"),
        (lambda d: d["groups"][0]["nodes"].append("n1"), "an input node cannot be inside"),
        (lambda d: d["groups"][0].update(parent="g1"), "parents form a loop"),
        (lambda d: d["groups"][0].update(parent="g7"), "no group has id 'g7'"),
        (lambda d: d["groups"][0].update(colour="red"), "unknown key 'colour'"),
        (lambda d: d["groups"].append(dict(d["groups"][0])), "duplicate id 'g1'"),
        (lambda d: d["groups"][0].update(nodes=["n4", "n7"]), "comes back through d"),
        (lambda d: d["meta"].update(groups=[]), 'belong in the top-level "groups"'),
    ],
)
def test_bad_groups_in_a_file_are_refused_with_their_path(edit, message):
    g = build_example("f3")
    _group(g, ["p"], "pick")
    data = fileformat.to_dict(g)
    edit(data)
    with pytest.raises(GraphFileError, match=message):
        fileformat.from_dict(data)


def test_combined_local_derivative_is_the_chain_through_the_group():
    g = from_program("z = 0.3\ne = exp(-z)\np = 1 / (1 + e)\nL = p * 2\n")
    gid = _group(g, [n.name for n in g.nodes() if n.name not in ("z", "L")], "sigmoid")
    r = evaluate(g)
    ports, jac = jacobian(g, gid, r.values)
    p = r.values[g.id_of("p")]
    assert [g.node(i).name for i in ports.inputs] == ["z"]
    assert math.isclose(jac[0][0], p * (1 - p), rel_tol=1e-12)
    assert known_formula("sigmoid", 0.3, p, jac[0][0]) == "σ(1 − σ)"
    assert known_formula("tanh", 0.3, p, jac[0][0]) is None  # misnamed: no formula


@st.composite
def grouped_graphs(draw):
    g = draw(graphs(max_nodes=10, complete=True, finite=True))
    ops = [n.id for n in g.nodes() if n.op != "input"]
    assume(ops)
    chosen = draw(st.lists(st.sampled_from(ops), min_size=1, max_size=len(ops), unique=True))
    assume(loop_through(g, set(chosen)) is None)
    groups, _ = group_nodes(g, chosen, "fn")
    g.set_meta(GROUPS_KEY, groups)
    rest = [n for n in ops if n not in chosen]
    if rest and draw(st.booleans()):
        more = chosen + draw(st.lists(st.sampled_from(rest), min_size=1, unique=True))
        if loop_through(g, set(more)) is None:
            groups, _ = group_nodes(g, more, "outer")
            g.set_meta(GROUPS_KEY, groups)
    return g


@settings(max_examples=120, deadline=None)
@given(grouped_graphs())
def test_a_grouped_graph_evaluates_exactly_as_its_ungrouped_form(g):
    flat = g.copy()
    flat.set_meta(GROUPS_KEY, None)
    a, b = evaluate(g), evaluate(flat)
    assert repr(a.values) == repr(b.values) and repr(a.grads) == repr(b.grads)
    again = fileformat.loads(fileformat.dumps(g))
    assert again.get_meta(GROUPS_KEY) == Groups(g).as_json()
    assert repr(evaluate(again).grads) == repr(a.grads)


@settings(max_examples=60, deadline=None)
@given(g=grouped_graphs())
def test_grouped_export_with_helpers_gives_the_engines_numbers(g, tmp_path_factory):
    r = evaluate(g)
    assume(r.problem is None and r.value is not None)
    assume(all(math.isfinite(v) for v in r.values.values() if v is not None))
    assume(all(math.isfinite(v) for v in r.grads.values()))
    source = to_python(g)
    assert "def fn(" in source
    module = _import(source, tmp_path_factory.mktemp("export"))
    value, grads = module.f()
    assert same_number(value, r.value, 1e-9)
    for nid, grad in zip(g.inputs(), grads, strict=True):
        assert same_number(grad, r.grads.get(nid, 0.0), 1e-9), g.node(nid).name


def test_a_group_output_the_loss_does_not_use_is_not_differentiated_by_its_helper(tmp_path):
    # 1/x at x = 1e-200: its local derivative -x**-2 overflows (Python raises), but the
    # loss uses only the group's other output, so the engine never computes it.
    g = Graph()
    x = g.add_node("input", "x", 1e-200)
    c = g.add_node("const", "c", params={"value": -0.5})
    inv = g.add_node("powc", "inv", params={"exponent": -1.0})
    neg = g.add_node("neg", "neg")
    sq = g.add_node("square", "L")
    off = g.add_node("neg", "unused")  # makes inv an output of the group
    g.connect(x, inv, 0)
    g.connect(inv, off, 0)
    g.connect(c, neg, 0)
    g.connect(neg, sq, 0)
    g.set_output(sq)
    _group(g, ["inv", "neg"], "pair")
    r = evaluate(g)
    value, grads = _import(to_python(g), tmp_path).f()
    assert value == r.value == 0.25 and grads == (0.0,)


PROGRAM = """
def sigmoid(x):
    \"\"\"The logistic function.\"\"\"
    e = exp(-x)
    return 1 / (1 + e)

def softmax2(a, b):
    ea, eb = exp(a), exp(b)
    d = ea + eb
    return ea / d, eb / d

def neuron(w, x, b):
    return sigmoid(w * x + b)

w = 0.5
x = 2.0
b = -0.3
s1 = 1.0
s2 = 2.0
p = neuron(w, x, b)
q = sigmoid(p)
p1, p2 = softmax2(s1, s2)
L = -log(p1) + (q - 1) ** 2 + p2
"""

FLAT = """
w = 0.5
x = 2.0
b = -0.3
s1 = 1.0
s2 = 2.0
p = 1 / (1 + exp(-(w * x + b)))
q = 1 / (1 + exp(-p))
ea = exp(s1)
eb = exp(s2)
d = ea + eb
p1 = ea / d
p2 = eb / d
L = -log(p1) + (q - 1) ** 2 + p2
"""


def test_a_def_in_a_program_becomes_a_group_per_call(tmp_path):
    g = from_program(PROGRAM)
    groups = Groups(g)
    names = sorted((x.name, x.parent is not None) for x in groups)
    assert names == [("neuron", False), ("sigmoid", False), ("sigmoid", True), ("softmax2", False)]
    soft = next(x for x in groups if x.name == "softmax2")
    ports = groups.ports(soft.id)
    assert [g.node(i).name for i in ports.inputs] == ["s1", "s2"]
    assert [g.node(i).name for i in ports.outputs] == ["p1", "p2"]
    assert g.find("p") is not None and g.find("sigmoid_e") is not None
    flat = from_program(FLAT)
    r, f = evaluate(g), evaluate(flat)
    assert r.value == f.value
    for name in ("w", "x", "b", "s1", "s2"):
        assert math.isclose(r.grads[g.id_of(name)], f.grads[flat.id_of(name)], rel_tol=1e-12)
    module = _import(to_python(g), tmp_path)
    value, _ = module.f()
    assert math.isclose(value, r.value, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(x):\n    return f(x)\ny = 1.0\nz = f(y)\n", "recursion"),
        ("def f(x=1):\n    return x\n", "plain positional"),
        ("def f(x):\n    y = x\n", "must end with return"),
        ("def f(x):\n    return x\na = 1.0\nb = f(a, a)\n", r"takes 1 argument\(s\), got 2"),
        ("def f(x):\n    return x, x\na = 1.0\nb = f(a) + 1\n", "returns 2 values"),
        ("def f(x):\n    return x, x\na = 1.0\nb, c, d = f(a)\n", "returns 2 value"),
        ("def f(x):\n    def g(y):\n        return y\n    return x\n", "top level"),
    ],
)
def test_unsupported_defs_are_refused_with_line_and_column(source, message):
    with pytest.raises(ProgramError, match=message) as info:
        from_program(source)
    assert info.value.line >= 1
