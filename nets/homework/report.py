"""The checklist as text: one line per function and per returned value, details for
each failure (inputs, expected, got, relative error). Used by the CLI and the GUI."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nets.homework.results import AGAINST, Check, FunctionResult


def format_value(value: Any, width: int = 100) -> str:
    """A float, an int, or an array (abbreviated past 24 elements), on as few lines as fit."""
    if isinstance(value, np.ndarray) or isinstance(value, list):
        array = np.asarray(value)
        text = np.array2string(
            array, precision=6, threshold=24, edgeitems=3, max_line_width=width, separator=", "
        )
        return text if array.ndim < 1 else f"{text}  shape {array.shape}"
    if isinstance(value, float):
        return f"{value:.10g}"
    return repr(value)


def format_error(check: Check) -> str:
    if check.rel_error is None:
        return ""
    err = check.rel_error
    text = "inf" if math.isinf(err) else ("nan" if math.isnan(err) else f"{err:.2e}")
    sign = "<" if check.ok else ">="
    return f"{text} {sign} {check.threshold:g}" if check.threshold is not None else text


def check_line(check: Check) -> str:
    against = {"app": "vs app", "numeric": "vs numeric"}.get(check.against, check.against)
    mark = "ok  " if check.ok else "FAIL"
    return f"{mark}  {check.value:<12} {against:<11} {format_error(check)}".rstrip()


def check_details(check: Check, indent: str = "") -> list[str]:
    """The lines under a failing check: why, expected and got, the relative error, and the
    inputs of that point."""
    lines: list[str] = []
    if check.message:
        lines += [indent + ln for ln in check.message.splitlines()]
    if check.against in AGAINST and check.expected is not None:
        lines.append(f"{indent}against {AGAINST[check.against]}:")
        for label, value in (("expected", check.expected), ("got", check.got)):
            if value is not None:
                body = format_value(value).replace("\n", "\n" + indent + " " * 12)
                lines.append(f"{indent}  {label + ':':<9} {body}")
        if check.rel_error is not None:
            lines.append(f"{indent}  relative error {format_error(check)}")
        lines.append(f"{indent}at the inputs:")
        for name, value in check.inputs.items():
            body = format_value(value).replace("\n", "\n" + indent + " " * (len(name) + 5))
            lines.append(f"{indent}  {name} = {body}")
    return lines


def format_results(results: list[FunctionResult]) -> str:
    """The whole checklist, grouped by file, with a summary line."""
    lines: list[str] = []
    current = None
    for result in results:
        if result.file != current:
            current = result.file
            lines.append(("" if not lines else "\n") + result.file)
        if not result.checks:
            lines.append(f"  --    {result.function}: {result.note}")
            continue
        lines.append(f"  {'PASS' if result.ok else 'FAIL'}  {result.function}")
        for check in result.checks:
            lines.append("          " + check_line(check))
            if not check.ok:
                lines += check_details(check, " " * 16)
        if result.note:
            lines.append(f"          note: {result.note}")
        if result.output and not result.ok:
            lines.append(
                "          printed: " + result.output.strip().replace("\n", "\n" + " " * 19)
            )
    checked = [r for r in results if r.checks]
    passed = sum(r.ok for r in checked)
    lines.append(f"\n{passed} of {len(checked)} functions pass")
    return "\n".join(lines)
