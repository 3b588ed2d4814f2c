"""The child's answers to the parent's requests (see ``nets.homework.child``).

``list``: import the given homework files and say which of their functions exist.
``check``: check one function of one file and send its ``FunctionResult``.
``train``: train the user's TwoLayerNet with the app's loop (``own_model``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nets.homework.layout import HOMEWORK_FILES
from nets.homework.usercode import UserCode, UserCodeError


def handle_list(code: UserCode, request: dict[str, Any]) -> None:
    path = Path(request["path"])
    try:
        module = code.import_module(path)
    except UserCodeError as exc:
        code.send(
            {"type": "listed", "final": True, "error": str(exc), "output": code.take_output()}
        )
        return
    names = HOMEWORK_FILES[path.name][1]
    found = [n for n in names if callable(getattr(module, n, None))]
    code.send({"type": "listed", "final": True, "found": found, "output": code.take_output()})


def handle_check(code: UserCode, request: dict[str, Any]) -> None:
    from nets.homework.checks import run_check

    path = Path(request["path"])
    module = code.import_module(path)
    result = run_check(code, module, request["file"], request["function"])
    code.send({"type": "result", "final": True, "result": result.to_dict()})


def handle_train(code: UserCode, request: dict[str, Any]) -> None:
    from nets.homework.own_model import handle_train as train_own

    train_own(code, request)


HANDLERS: dict[str, Callable[[UserCode, dict[str, Any]], None]] = {
    "list": handle_list,
    "check": handle_check,
    "train": handle_train,
}
