"""How both command lines report the optional training events (``Internals``, ``Advice``).

``record(event)`` is the JSON-log object of such an event (None for other events):
``{"event": "internals", "step", "layers": {...}, ...}`` (see ``nets.internals.to_json``)
or ``{"event": "advice", "rule", "step", "message", "evidence", "suggest"}`` or
``{"event": "snapshot", "name", "step", "epoch", "end_of_epoch"}``.
``advice_line(advice)`` is the one line ``mlp train`` and ``cnn train`` print on stderr.
"""

from __future__ import annotations

from typing import Any, overload

from nets.training import Advice, Internals, Snapshot


@overload
def record(event: Internals | Advice | Snapshot) -> dict[str, Any]: ...
@overload
def record(event: object) -> dict[str, Any] | None: ...
def record(event: object) -> dict[str, Any] | None:
    """The JSON object of an Internals, Advice or Snapshot event; None for any other."""
    if isinstance(event, Snapshot):
        return {
            "event": "snapshot",
            "name": event.name,
            "step": event.step,
            "epoch": event.epoch,
            "end_of_epoch": event.end_of_epoch,
        }
    if isinstance(event, Internals):
        from nets.internals import to_json

        return to_json(event)
    if isinstance(event, Advice):
        from nets.coach import advice_to_json

        return advice_to_json(event)
    return None


def format_suggestion(suggest: dict[str, Any]) -> str:
    """``lr = 0.0005, epochs = 3`` (empty for no suggestion)."""
    return ", ".join(
        f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in suggest.items()
    )


def advice_line(advice: Advice) -> str:
    """``advice: [diverging] step 42: The loss ... (suggest: lr = 0.0005)``."""
    suggest = format_suggestion(advice.suggest)
    tail = f" (suggest: {suggest})" if suggest else ""
    return f"advice: [{advice.rule}] step {advice.step}: {advice.message}{tail}"
