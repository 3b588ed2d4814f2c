"""The real-window layer: one Xvfb + openbox per test session, the real app per test.

Skips (loudly: a skip reason per test and a line in pytest's terminal summary) when
Xvfb, xdotool or openbox are missing; `.ci/run` installs them so CI always runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gui.realwindow.driver import App, XServer, missing_tools

_skipped: list[str] = []


@pytest.fixture(scope="session")
def xserver() -> Iterator[XServer]:
    missing = missing_tools()
    if missing:
        reason = (
            f"real-window tests skipped: {', '.join(missing)} not installed "
            "(apt-get install xvfb xdotool openbox)"
        )
        if reason not in _skipped:
            _skipped.append(reason)
        pytest.skip(reason)
    server = XServer()
    yield server
    server.stop()


@pytest.fixture
def start_app(xserver: XServer, tmp_path: Path) -> Iterator:
    """``start_app(*args, size="WxH")`` starts the real app; it is closed after the test
    and a screenshot of the screen is left in the test's tmp_path."""
    apps: list[App] = []

    def start(*args: str, size: str = "1280x800") -> App:
        app = App(xserver, args, size)
        apps.append(app)
        return app

    yield start
    for app in apps:
        if app.proc.poll() is None:
            try:
                xserver.screenshot(tmp_path / "last-screen.png")
            except Exception:
                pass
        app.close()


def pytest_terminal_summary(terminalreporter) -> None:
    for reason in _skipped:
        terminalreporter.write_sep("!", reason.upper(), red=True, bold=True)
