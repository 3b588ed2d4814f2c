"""SIGTERM during a command's atomic write removes the temporary file and exits 143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_during_a_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "log.json"
    target.write_text("old")
    script = textwrap.dedent(
        f"""
        import sys, time
        import main
        from nets.errors import NetsError
        from nets.fileio import atomic_write

        def slow(f):
            f.write(b"half")
            f.flush()
            print("writing", flush=True)
            time.sleep(60)

        class E(NetsError):
            pass

        def handler(args):
            atomic_write({str(target)!r}, slow, E)
            return 0

        args = main.build_parser().parse_args(["graph", "eval", "x.json"])
        args.handler = handler
        main.build_parser = lambda: type("P", (), {{"parse_args": lambda s, a: args}})()
        sys.exit(main.main(["graph", "eval", "x.json"]))
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.json"]


def test_a_command_run_in_process_puts_the_signal_handlers_back() -> None:
    """Tests run commands through main(argv): the command's SIGTERM handler must not
    outlive it, or SIGTERM no longer stops the test runner."""
    sys.path.insert(0, str(ROOT))
    import main

    def ours(signum: int, frame: object) -> None:
        raise AssertionError("not called")

    before = signal.signal(signal.SIGTERM, ours)
    try:
        code = main.main(["graph", "eval", str(ROOT / "assets" / "graphs" / "f1.json")])
        assert code == 0
        assert signal.getsignal(signal.SIGTERM) is ours
    finally:
        signal.signal(signal.SIGTERM, before)
