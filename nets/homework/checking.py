"""Check a homework folder: the parent side of ``backprop-explorer check`` and the GUI.

``check_homework`` yields one ``FunctionResult`` per function, in the homework's order,
as soon as each is known. Each file is imported and each function checked by its own
request to the sandbox, so an endless loop or a crash in one function is reported
against that function and the next one runs in a fresh process.
"""

from __future__ import annotations

from collections.abc import Iterator

from nets.data.dataset import CancelToken, is_cancelled
from nets.errors import Cancelled
from nets.homework.layout import HomeworkFiles
from nets.homework.results import FunctionResult, failed
from nets.homework.sandbox import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_MEMORY_LIMIT,
    Sandbox,
    SandboxError,
)


def _final(sandbox: Sandbox, request: dict) -> dict:
    """The last answer to a request (check requests send only that one)."""
    answers = list(sandbox.request(request))
    return answers[-1]


def check_homework(
    homework: HomeworkFiles,
    *,
    call_timeout: float = DEFAULT_CALL_TIMEOUT,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    cancel: CancelToken | None = None,
) -> Iterator[FunctionResult]:
    """Check every function of the found files; see the module docstring. A cancel
    stops the child at once and ends the generator."""
    try:
        yield from _check(homework, call_timeout, memory_limit, cancel)
    except Cancelled:
        return


def _check(
    homework: HomeworkFiles,
    call_timeout: float,
    memory_limit: int,
    cancel: CancelToken | None,
) -> Iterator[FunctionResult]:
    with Sandbox(
        homework.folders, call_timeout=call_timeout, memory_limit=memory_limit, cancel=cancel
    ) as box:
        for file_name, path in homework.files.items():
            label = str(path)
            try:
                listed = _final(box, {"op": "list", "path": str(path)})
            except SandboxError as exc:
                yield failed(label, "(import)", str(exc), value=file_name)
                continue
            if "error" in listed:
                yield failed(
                    label, "(import)", listed["error"], file_name, listed.get("output", "")
                )
                continue
            for file, function in homework.functions():
                if file != file_name:
                    continue
                if is_cancelled(cancel):
                    return
                if function not in listed["found"]:
                    yield FunctionResult(label, function, (), note="not in the file: skipped")
                    continue
                request = {"op": "check", "path": str(path), "file": label, "function": function}
                try:
                    answer = _final(box, request)
                except SandboxError as exc:
                    yield failed(label, function, str(exc))
                    continue
                yield FunctionResult.from_dict(answer["result"])
