"""argparse types of the cnn commands (shared by ``nets.cnn.cli`` and ``nets.cnn.inspect_cli``)."""

from __future__ import annotations

import argparse
import math
from typing import Any


def number(kind: type, low: float, name: str, *, open_low: bool = False) -> Any:
    """An argparse type for ``name`` (``--lr``): a usage error (exit 2) for text that is
    not a number or lies outside the setting's range in ``nets.cnn.config.LIMITS``."""
    from nets.cnn.config import LIMITS

    high = LIMITS.get(name.lstrip("-").replace("-", "_").replace("threads", "num_threads"))

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{name} must be {what}, not {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number, not {text!r}")
        if value < low or (open_low and value == low):
            bound = f"more than {low:g}" if open_low else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{name} must be {bound}, not {text}")
        if high is not None and value > high[1]:
            raise argparse.ArgumentTypeError(f"{name} must be at most {high[1]:g}, not {text}")
        return value

    return parse
