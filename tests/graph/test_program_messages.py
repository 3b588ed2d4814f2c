"""Program parser messages are plain sentences that say why."""

from __future__ import annotations

import pytest

from graph.errors import GraphError
from graph.program import from_program


def test_the_walrus_operator_is_named_in_a_sentence() -> None:
    with pytest.raises(GraphError, match="the := operator is not supported"):
        from_program("y = (x := 3)")


def test_a_hundred_thousand_unary_minus_signs_say_why_they_cannot_be_read() -> None:
    with pytest.raises(GraphError, match="nested too deeply"):
        from_program("x = 1\ny = " + "-" * 100_000 + "x\n")
