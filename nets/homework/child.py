"""The process that runs a user's code: ``python -I -c BOOT REQ RESP BEAT LIMIT FOLDER...``.

Started by ``nets.homework.sandbox`` only. It limits its own address space first, then
answers requests from the parent one by one: ``{"op": "list" | "check" | ...}``. Every
answer is a stream of messages ending with one that has ``"final": True``. Its stdout is
a file in its temporary working folder, so a ``print`` in the user's code can never mix
into the protocol, which has pipes of its own.
"""

from __future__ import annotations

import faulthandler
import os
import resource
import sys
from pathlib import Path
from typing import Any


def _limit_memory(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> None:
    req_fd, resp_fd, beat_fd, limit = (int(a) for a in argv[:4])
    roots = [Path(p) for p in argv[4:]]
    _limit_memory(limit)
    faulthandler.enable()  # a segfault in the user's code leaves its stack in stderr

    from nets.errors import NetsError
    from nets.homework import handlers
    from nets.homework.compare import BadReturn
    from nets.homework.heartbeat import Heartbeat
    from nets.homework.usercode import UserCode, UserCodeError
    from nets.homework.wire import MessageReader

    reader = MessageReader(req_fd)
    code = UserCode(roots, resp_fd, limit, reader, Heartbeat(beat_fd))
    while True:
        try:
            request: dict[str, Any] = reader.read()
        except EOFError:
            return
        if request["op"] in ("go", "stop"):  # flow control left over from a training run
            continue
        try:
            handlers.HANDLERS[request["op"]](code, request)
        except BrokenPipeError:
            return
        except (NetsError, UserCodeError, BadReturn) as exc:  # the user's to fix
            code.send({"type": "error", "final": True, "message": str(exc)})
        except Exception as exc:
            code.send({"type": "error", "final": True, "message": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    main(sys.argv[1:])
    os._exit(0)
