"""The batched gradient check: the same numbers as one engine pass per perturbed input,
a stated random sample above the limit, and inputs that do not reach the output."""

from __future__ import annotations

import math

from hypothesis import given, settings

from graph.evaluate import evaluate
from graph.gradcheck import gradcheck
from graph.program import from_program
from tests.graph.strategies import graphs


def _engine_numeric(g, nid: str, h: float) -> float:
    out = g.output_id
    x = g.node(nid).value or 0.0
    fp = evaluate(g, out, {nid: x + h}, backward=False).value
    fm = evaluate(g, out, {nid: x - h}, backward=False).value
    return math.nan if fp is None or fm is None else (fp - fm) / (2 * h)


@settings(max_examples=60, deadline=None)
@given(graphs(complete=True, finite=True))
def test_batched_numeric_gradients_equal_one_engine_pass_per_input(g) -> None:
    if evaluate(g).output is None:
        return
    check = gradcheck(g, h=1e-4)
    for c in check.inputs:
        if c.no_grad or c.numeric is None:
            continue
        if "does not reach the output" in c.notes:
            # Reported as 0 by definition; the engine's difference is nan when L is nan.
            assert c.numeric == 0.0
            continue
        want = _engine_numeric(g, c.node, 1e-4)
        if math.isnan(want) or math.isinf(want):
            assert math.isnan(c.numeric) or c.numeric == want
        else:
            assert math.isclose(c.numeric, want, rel_tol=1e-7, abs_tol=1e-7), (c, want)


def test_above_the_limit_a_stated_sample_is_checked() -> None:
    lines = [f"x{i} = {i}.0" for i in range(50)] + ["s = x0 * x0"]
    lines += [f"s = s + x{i} * x{i}" for i in range(1, 50)]
    g = from_program("\n".join(lines))
    part = gradcheck(g, max_inputs=10)
    assert part.sampled and part.checked_of == (10, 50) and len(part.inputs) == 10
    full = gradcheck(g, max_inputs=None)
    assert not full.sampled and len(full.inputs) == 50
    assert full.worst is not None and full.worst < 1e-6


def test_an_input_that_does_not_reach_the_output_has_gradient_zero_and_says_so() -> None:
    g = from_program("a = 2.0\nb = 3.0\nunused = 5.0\nc = a * b\nz = unused + 1\nout = c * 1\n")
    g.set_output(g.id_of("out"))
    check = gradcheck(g)
    by_name = {c.name: c for c in check.inputs}
    assert by_name["unused"].analytic == 0.0 and not by_name["unused"].no_grad
    assert by_name["unused"].notes == ("does not reach the output",)
