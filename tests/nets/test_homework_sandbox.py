"""Running a user's code safely: time limit, memory limit, exceptions, sys.exit, crashes
and printing never take the app down or corrupt the answers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nets.homework.checking import check_homework
from nets.homework.layout import find_homework
from nets.homework.results import FunctionResult

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GOOD_LAYERS = (Path(__file__).parent / "homework_fixtures" / "neuralnet" / "layers.py").read_text()


def _layers_with(tmp_path: Path, fc_forward_body: str, extra: str = "") -> Path:
    """A layers.py whose fc_forward is replaced by ``fc_forward_body``; the rest correct."""
    folder = tmp_path / "neuralnet"
    folder.mkdir()
    start = GOOD_LAYERS.index("def fc_forward")
    end = GOOD_LAYERS.index("def fc_backward")
    body = textwrap.indent(textwrap.dedent(fc_forward_body).strip(), "    ")
    source = GOOD_LAYERS[:start] + f"def fc_forward(x, w, b):\n{body}\n\n\n" + GOOD_LAYERS[end:]
    (folder / "layers.py").write_text(extra + source)
    return folder / "layers.py"


def _results(path: Path, **kwargs) -> dict[str, FunctionResult]:
    return {r.function: r for r in check_homework(find_homework([path]), **kwargs)}


def _failure(result: FunctionResult) -> str:
    assert not result.ok
    return "\n".join(c.message for c in result.failures())


def test_an_endless_loop_stops_at_the_time_limit_and_the_next_function_still_runs(tmp_path):
    path = _layers_with(tmp_path, "while True:\n    pass")
    results = _results(path, call_timeout=1.0)
    message = _failure(results["fc_forward"])
    assert "fc_forward did not finish within 1 s" in message and "endless loop" in message
    assert results["relu_forward"].ok and results["softmax_loss"].ok


def test_running_out_of_memory_is_the_users_error_with_the_limit_named(tmp_path):
    path = _layers_with(tmp_path, "big = np.ones((1 << 28,))  # 2 GiB\nreturn big, None")
    results = _results(path, memory_limit=1 << 30)
    message = _failure(results["fc_forward"])
    assert "ran out of memory (the limit is 1 GiB)" in message
    assert "layers.py" in message and "big = np.ones" in message
    assert results["relu_forward"].ok


def test_an_exception_shows_the_users_traceback_and_not_the_apps(tmp_path):
    path = _layers_with(
        tmp_path,
        "scale = helper(x)\nreturn x.dot(w) * scale + b, (x, w, b)",
        extra="def helper(x):\n    raise ValueError('my own bug')\n\n\n",
    )
    message = _failure(_results(path)["fc_forward"])
    assert "ValueError: my own bug" in message
    assert "in helper" in message and "in fc_forward" in message
    assert "nets/homework" not in message and "usercode.py" not in message


def test_sys_exit_is_reported_and_the_check_carries_on(tmp_path):
    path = _layers_with(tmp_path, "import sys\nsys.exit(3)")
    results = _results(path)
    assert "fc_forward called sys.exit(3)" in _failure(results["fc_forward"])
    assert results["l2_loss"].ok


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("import os\nos.abort()", "crashed (SIGABRT) during fc_forward"),
        ("import ctypes\nctypes.string_at(0)", "crashed (SIGSEGV) during fc_forward"),
        ("import os\nos._exit(0)", "exited with status 0 during fc_forward"),
    ],
    ids=["abort", "segfault", "os_exit"],
)
def test_a_crash_of_the_users_process_is_reported_and_the_app_carries_on(tmp_path, body, expected):
    results = _results(_layers_with(tmp_path, body))
    assert expected in _failure(results["fc_forward"])
    assert results["fc_backward"].checks and results["relu_forward"].ok


def test_printing_to_stdout_is_kept_apart_from_the_answers(tmp_path):
    path = _layers_with(
        tmp_path,
        "import os\nprint('hello from fc_forward')\nos.write(1, b'raw bytes on fd 1')\n"
        "return x.dot(w) + b, (x, w, b)",
    )
    results = _results(path)
    assert results["fc_forward"].ok
    assert "hello from fc_forward" in results["fc_forward"].output
    # The command line's --json output stays one JSON document.
    run = subprocess.run(
        [sys.executable, "main.py", "check", str(path), "--json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["results"][0]["function"] == "fc_forward"


def test_the_users_code_runs_in_a_temporary_folder_and_only_when_checked(tmp_path, monkeypatch):
    marker = "open('written-by-homework.txt', 'w').write('x')\n"
    path = _layers_with(tmp_path, marker + "return x.dot(w) + b, (x, w, b)", extra=marker)
    monkeypatch.chdir(tmp_path)
    homework = find_homework([path])  # finding the files runs nothing
    assert not list(tmp_path.rglob("written-by-homework.txt"))
    results = {r.function: r for r in check_homework(homework)}
    assert results["fc_forward"].ok
    assert not list(tmp_path.rglob("written-by-homework.txt"))


def test_a_file_that_does_not_import_fails_with_its_own_traceback(tmp_path):
    path = _layers_with(tmp_path, "return x.dot(w) + b, (x, w, b)", extra="import no_such_module\n")
    (result,) = _results(path).values()
    assert result.function == "(import)"
    assert "ModuleNotFoundError: No module named 'no_such_module'" in _failure(result)
    assert "line 1" in _failure(result)


def test_a_cancel_stops_the_users_process_at_once(tmp_path):
    import threading
    import time

    path = _layers_with(tmp_path, "while True:\n    pass")
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    results = list(check_homework(find_homework([path]), call_timeout=60, cancel=cancel))
    assert time.monotonic() - started < 10
    assert "fc_forward" not in {r.function for r in results}
