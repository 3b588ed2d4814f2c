"""Program import: valid programs give the right graphs; refusals carry line and column."""

from __future__ import annotations

import ast
import math

import pytest

from graph.errors import ProgramError
from graph.evaluate import evaluate
from graph.program import from_program

MICROGRAD_README = """
from micrograd.engine import Value

a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
print(f'{g.data:.4f}') # prints 24.7041, the outcome of this forward pass
g.backward()
print(f'{a.grad:.4f}') # prints 138.8338, i.e. the numerical value of dg/da
print(f'{b.grad:.4f}') # prints 645.5773, i.e. the numerical value of dg/db
"""

KARPATHY_NEURON = """
# inputs x1,x2
x1 = Value(2.0, label='x1')
x2 = Value(0.0, label='x2')
# weights w1,w2
w1 = Value(-3.0, label='w1')
w2 = Value(1.0, label='w2')
# bias of the neuron
b = Value(6.8813735870195432, label='b')
x1w1 = x1*w1; x1w1.label = 'x1*w1'
x2w2 = x2*w2; x2w2.label = 'x2*w2'
x1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = 'x1*w1 + x2*w2'
n = x1w1x2w2 + b; n.label = 'n'
e = (2*n).exp()
o = (e - 1) / (e + 1)
o.label = 'o'
o.backward()
"""


def _values(g):
    r = evaluate(g)
    return r, {g.node(i).name: r.grads.get(i, 0.0) for i in g.inputs()}


def test_micrograd_readme_example_gives_micrograds_numbers():
    g = from_program(MICROGRAD_README)
    r, grads = _values(g)
    assert g.node(g.output_id).name == "g"
    assert f"{r.value:.4f}" == "24.7041"
    assert f"{grads['a']:.4f}" == "138.8338"
    assert f"{grads['b']:.4f}" == "645.5773"
    names = {n.name for n in g.nodes()}
    assert {"c_1", "c_2", "c", "d_1", "d_2", "d", "g_1", "g"} <= names


def test_karpathy_neuron_with_labels_and_semicolons():
    g = from_program(KARPATHY_NEURON)
    r, grads = _values(g)
    assert g.node(g.output_id).name == "o"
    assert math.isclose(r.value, 0.7071, abs_tol=1e-4)
    assert math.isclose(grads["x1"], -1.5, abs_tol=1e-4)
    assert math.isclose(grads["w1"], 1.0, abs_tol=1e-4)
    assert math.isclose(grads["x2"], 0.5, abs_tol=1e-4)
    assert grads["w2"] == 0.0


def test_textbook_expression_builds_the_expected_ops_and_inputs():
    g = from_program("x = 3.0\nw = -2\nb = 0.5\ny = 1\nL = (sigmoid(w * x + b) - y) ** 2\n")
    ops = sorted(n.op for n in g.nodes() if not n.is_leaf)
    assert ops == ["add", "mul", "powc", "sigmoid", "sub"]
    assert [g.node(i).name for i in g.inputs()] == ["x", "w", "b", "y"]
    assert g.node(g.id_of("L")).params["exponent"] == 2.0
    r, grads = _values(g)
    s = 1 / (1 + math.exp(-(-2 * 3 + 0.5)))
    assert math.isclose(r.value, (s - 1) ** 2)
    assert math.isclose(grads["w"], 2 * (s - 1) * s * (1 - s) * 3)


def test_functions_methods_modules_and_constants():
    g = from_program(
        "import math\nimport numpy as np\nfrom math import exp as e_\n"
        "a = 0.3\nb = Value(-1.5)\n"
        "c = math.exp(a) + np.tanh(b) + abs(b) + sqrt(a) + log(a) + e_(b)\n"
        "d = max(a, b, c) * min(a, b) + pow(a, 3) + pow(a, b) + a.relu() + (a + b).exp()\n"
        "f = d * math.pi + b.square() - (-a) + neg(a)\n"
    )
    r, _grads = _values(g)
    a, b = 0.3, -1.5
    c = math.exp(a) + math.tanh(b) + abs(b) + math.sqrt(a) + math.log(a) + math.exp(b)
    d = max(a, b, c) * min(a, b) + a**3 + a**b + max(a, 0) + math.exp(a + b)
    f = d * math.pi + b * b + a - a
    assert math.isclose(r.value, f, rel_tol=1e-12)
    ops = {n.op for n in g.nodes()}
    assert {"powc", "pow", "max", "min", "relu", "square", "neg", "abs", "sqrt", "log"} <= ops


def test_f3_written_as_a_program_with_choose():
    from graph.examples import build_example

    src = (
        "s1 = 1.0\ns2 = 2.0\ny = 1\ne1 = exp(s1)\ne2 = exp(s2)\nd = e1 + e2\n"
        "p1 = e1 / d\np2 = e2 / d\np = choose(y, p1, p2)\nL = -log(p)\n"
    )
    g = from_program(src)
    ref = build_example("f3")
    r, grads = _values(g)
    rr = evaluate(ref)
    assert r.value == rr.value
    assert grads["s1"] == rr.grads[ref.id_of("s1")] and grads["y"] == 0.0
    with pytest.raises(ProgramError, match="takes 2 to 16 values"):
        from_program("y = 1.0\na = 2.0\np = choose(y, a)\n")


def test_alias_becomes_a_copy_and_fan_out_sums():
    g = from_program("b = 3.0\nb1 = b\nb2 = b\na = 2.0\nc = 4.0\nL = a * b1 + c * b2\n")
    assert g.node(g.id_of("b1")).op == "copy"
    _r, grads = _values(g)
    assert grads["b"] == 2.0 + 4.0


def test_augmented_assignments_and_output_choice():
    src = "x = 2.0\ny = x\ny *= 3\ny -= 1\ny /= 2\ny **= 2\nz = y + 1\n"
    g = from_program(src)
    assert g.node(g.output_id).name == "z"
    assert evaluate(g).value == ((2 * 3 - 1) / 2) ** 2 + 1
    g2 = from_program(src, output="y")
    assert g2.node(g2.output_id).name == "y"
    assert evaluate(g2).value == ((2 * 3 - 1) / 2) ** 2
    with pytest.raises(ProgramError, match="no variable named 'q'"):
        from_program(src, output="q")


def test_backward_call_names_the_output_at_that_point():
    g = from_program("a = 1.0\nb = a * 2\nb.backward()\nc = b + 1\n")
    assert g.node(g.output_id).name == "b"


def test_tuple_assignment_and_reassigned_inputs():
    g = from_program("a, b = 1.0, 2.0\na = a * b\n")
    assert g.node(g.id_of("a_1")).op == "input" and g.node(g.id_of("a")).op == "mul"


def test_positions_are_laid_out_left_to_right():
    g = from_program(MICROGRAD_README)
    for e in g.edges():
        assert g.node(e.src).pos[0] < g.node(e.dst).pos[0]
    assert len({n.pos for n in g.nodes()}) == len(g)


REFUSED = [
    ("x = 1.0\nif x:\n    y = 2\n", 2, 1, "if statements"),
    ("x = 1.0\nfor i in range(3):\n    x += 1\n", 2, 1, "for loops"),
    ("async def f(x):\n    return x\n", 1, 1, "function definitions"),
    ("x = 1.0\ny = x // 2\n", 2, 5, r"the // operator"),
    ("x = 1.0\ny = x % 2\n", 2, 5, r"the % operator"),
    ("x = 1.0\ny = x @ x\n", 2, 5, r"the @ operator"),
    ("x = 1.0\ny = x < 2\n", 2, 5, "comparisons"),
    ("x = 1.0\ny = [x]\n", 2, 5, "lists"),
    ("x = 1.0\ny = x[0]\n", 2, 5, "indexing"),
    ("x = 1.0\ny = foo(x)\n", 2, 5, "unknown function 'foo'"),
    ("x = 1.0\ny = x.foo()\n", 2, 5, r"unknown method .foo\(\)"),
    ("x = 1.0\ny = x.data\n", 2, 5, "attribute .data"),
    ("x = 1.0\ny = q + 1\n", 2, 5, "name 'q' is not defined"),
    ("x = 'abc'\n", 1, 5, "a string is not a number"),
    ("x = 1j\n", 1, 5, "complex numbers"),
    ("x = 1.0\ny = tanh(x, x)\n", 2, 5, r"tanh\(\) takes one argument"),
    ("x = 1.0\ny = max(x)\n", 2, 5, "at least two"),
    ("x = 1.0\ny = exp(x=x)\n", 2, 9, "keyword arguments"),
    ("x = Value('a')\n", 1, 11, "a string is not a number"),
    ("x = Value(y)\n", 1, 11, "Value\\(\\) takes a number"),
    ("x = 1.0\nx.grad += 1\n", 2, 1, "plain names"),
    ("a = b = 1.0\n", 1, 1, "chained assignment"),
    ("import os\n", 1, 1, "importing os"),
    ("x = 1.0\nx + 1\n", 2, 1, "does nothing"),
    ("x = 1.0\ny = lambda: x\n", 2, 5, "lambdas"),
    ("x = 1.0\ny = not x\n", 2, 5, "the not operator"),
    ("x = 1.0\ny = x if x else 2\n", 2, 5, "conditional expressions"),
    ("x = 1.0\nz += 1\n", 2, 1, "'z' is not defined"),
    ("x = 1" + "0" * 400 + "\n", 1, 5, "too large"),
    ("x = 1.0\ny = (x +\n", 2, 5, "syntax error"),
    ("x = 1.0\n  y = 2\n", 2, None, "syntax error: unexpected indent"),
    ("", 1, 1, "assigns nothing"),
    ("print(1)\n", 1, 1, "assigns nothing"),
    ("x = 1.0\nwhile True:\n    pass\n", 2, 1, "while loops"),
    ("x = 1.0\ny = tanh\n", 2, 5, "is a function"),
    ("x = 1.0\ny = é + 1\n", 2, 5, "'é' is not defined"),
    ("x = 'é'; y = foo(x)\n", 1, 5, "a string is not a number"),
    ("é = 1.0; y = é + zz\n", 1, 18, "'zz' is not defined"),  # columns count characters
]


@pytest.mark.parametrize(("source", "line", "col", "message"), REFUSED)
def test_refused_constructs_report_line_and_column(source, line, col, message):
    with pytest.raises(ProgramError, match=message) as info:
        from_program(source)
    err = info.value
    if col is None:  # Python's own column for this syntax error varies between versions
        col = err.col
        assert col >= 1
    assert (err.line, err.col) == (line, col)
    assert str(err).startswith(f"line {line}, col {col}: ")


def test_never_runs_the_program(tmp_path):
    marker = tmp_path / "ran"
    source = f"x = 1.0\n__import__('pathlib').Path({str(marker)!r}).touch()\n"
    with pytest.raises(ProgramError):
        from_program(source)
    assert not marker.exists()


def test_program_module_uses_ast_only():
    import graph.program as program

    tree = ast.parse(open(program.__file__).read())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    called = {n.func.id for n in calls if isinstance(n.func, ast.Name)}
    assert not called & {"eval", "exec", "compile"}


def test_a_program_file_error_names_the_file_and_keeps_line_and_col(tmp_path):
    from graph.errors import ProgramError
    from graph.program import load_program

    path = tmp_path / "broken.py"
    path.write_text("a = 2.0\nb = a +* 3\n")
    with pytest.raises(ProgramError) as info:
        load_program(path)
    assert str(info.value).startswith(f"{path}: line 2, col ")
    assert info.value.line == 2 and info.value.col is not None


def test_a_users_variable_keeps_its_name_when_a_generated_name_would_take_it() -> None:
    g = from_program("x = 1.0\nx_1 = 5.0\nx = x * 2\nL = x + x_1\n")
    names = {g.node(n).name for n in g.inputs()}
    assert "x_1" in names
    x_1 = g.id_of("x_1")
    assert g.node(x_1).value == 5.0  # the user's x_1, not the first value of x
