"""Missing system libraries for Qt's xcb plugin are named, with the apt command (issue 13,
defect 14)."""

from __future__ import annotations

import subprocess
import sys

from gui import platform_check
from tests.conftest import PROJECT_ROOT

LDD_WITHOUT_ICCCM_AND_KEYSYMS = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f22)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f224d967000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-icccm.so.4 => not found
"""


def test_ldd_output_names_only_the_libraries_not_found():
    assert platform_check.parse_ldd(LDD_WITHOUT_ICCCM_AND_KEYSYMS) == [
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libxkbcommon-x11.so.0",
    ]


def test_message_names_the_libraries_and_one_apt_command():
    missing = platform_check.parse_ldd(LDD_WITHOUT_ICCCM_AND_KEYSYMS)
    text = platform_check.message(missing)
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1, libxkbcommon-x11.so.0" in text
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0" in text
    assert "libxcb-cursor" not in text  # installed: never blamed


def test_sonames_map_to_their_debian_packages():
    assert platform_check.package_for("libxcb-shape.so.0") == "libxcb-shape0"
    assert platform_check.package_for("libxcb-render-util.so.0") == "libxcb-render-util0"
    assert platform_check.package_for("libEGL.so.1") == "libegl1"
    assert platform_check.package_for("libdbus-1.so.3") == "libdbus-1-3"


def test_the_installed_plugin_is_found_and_read_with_ldd():
    plugin = platform_check.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    assert isinstance(platform_check.missing_libraries(plugin), list)


def test_xcb_is_wanted_only_for_an_x_display_or_when_asked():
    assert platform_check.wants_xcb({"QT_QPA_PLATFORM": "xcb"})
    assert not platform_check.wants_xcb({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"})
    assert not platform_check.wants_xcb({})


def test_the_app_prints_the_message_and_exits_1_instead_of_aborting(tmp_path):
    # A fake ldd that reports two libraries missing stands in for a bare machine.
    fake = tmp_path / "ldd"
    fake.write_text(
        "#!/bin/sh\necho '\tlibxcb-icccm.so.4 => not found'\n"
        "echo '\tlibxcb-keysyms.so.1 => not found'\n"
    )
    fake.chmod(0o755)
    env = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT_ROOT),
        "QT_QPA_PLATFORM": "xcb",
        "HOME": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in out.stderr
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in out.stderr
    assert "Traceback" not in out.stderr
    module = subprocess.run(
        [sys.executable, "-m", "gui.platform_check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )
    assert module.returncode == 1 and "apt-get install" in module.stderr
