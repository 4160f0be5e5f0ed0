"""Headless Chromium for the report.html tests: found on PATH, or installed once from Debian when we may.

`make test` on a clean CI machine (root, Debian and PyPI reachable) installs it here, on first use: Debian's
`chromium` package, about a minute once: apt's log on the CI-sized machine shows the install itself taking 48 s
(2026-12-04, /var/log/apt/history.log, Start-Date to End-Date), and downloading its two largest packages
(chromium, chromium-common: 113 MB) took 4 s that day; `apt-get update` and the smaller dependencies come on
top. No browser is downloaded from anywhere else, and the pages it opens are local files.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser")
INSTALL_LOCK = Path("/tmp/r2a-chromium-install.lock")
INSTALL_TIMEOUT_S = 300


def _found() -> str | None:
    return next((path for path in map(shutil.which, NAMES) if path), None)


def chromium() -> str:
    """The browser's path; installs the Debian package when running as root with apt-get, else skips visibly."""
    path = _found()
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here (needs root and apt-get): "
                    "install the Debian package 'chromium' to run this test")
    with INSTALL_LOCK.open("w") as lock:  # parallel test runs install once, one after the other
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = _found()
        if path:
            return path
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run("apt-get update -q && apt-get install -y -q chromium", shell=True, check=True,
                           capture_output=True, timeout=INSTALL_TIMEOUT_S, env=env)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", b"") or b""
            pytest.skip(f"chromium could not be installed with apt-get: {output.decode(errors='replace')[-300:]}")
    path = _found()
    if not path:
        pytest.skip("apt-get installed chromium but no chromium binary is on PATH")
    return path


def _run(args: list[str], cwd: Path, timeout: int = 90) -> subprocess.CompletedProcess:
    # --no-sandbox: tests run as root in CI containers, where Chromium's sandbox refuses to start. The
    # background-networking flags keep it from calling Google's hosts, which this closed network refuses.
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--hide-scrollbars", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={cwd / 'chromium-profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def dump_dom(page: Path, workdir: Path, size: tuple[int, int] = (1400, 1800)) -> str:
    """The DOM after the page's scripts ran, laid out in a window of `size` (width, height) CSS pixels."""
    result = _run(["--virtual-time-budget=5000", f"--window-size={size[0]},{size[1]}", "--dump-dom", page.as_uri()],
                  workdir)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(page: Path, image: Path, workdir: Path, size: tuple[int, int] = (1400, 1800)) -> Path:
    result = _run(["--virtual-time-budget=5000", f"--window-size={size[0]},{size[1]}", f"--screenshot={image}",
                   page.as_uri()], workdir)
    assert result.returncode == 0 and image.exists(), result.stderr[-2000:]
    return image
