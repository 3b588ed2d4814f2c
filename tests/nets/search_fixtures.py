"""Tiny data and a throwaway PostgreSQL server for the search tests."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest


def tiny_folder(root: Path, classes: int = 3, per_class: int = 40, size: int = 8) -> str:
    """``folder:ROOT``: per_class images of each class, a class's colour plus noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        d = root / "train" / f"c{c}"
        d.mkdir(parents=True, exist_ok=True)
        base = rng.uniform(40, 215, size=(size, size, 3))
        for i in range(per_class):
            img = np.clip(base + rng.normal(0, 50, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(d / f"{i}.png")
    return f"folder:{root}"


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server in a temporary folder on a loopback port, for this module.

    As root (the server refuses to run as root) it runs as ``nobody``."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (no initdb): the database test cannot run")
    root = Path(tempfile.mkdtemp(prefix="bpe-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody", "nogroup")
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    port = _free_port()
    data = root / "db"
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off"
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "-l",
            str(root / "log"),
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
