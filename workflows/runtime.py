"""The Python a demoted run-local task runs: like the image's, readable by the step user.

In an image the interpreter, the packages and /app are readable by anyone. Here they may sit under a folder only
root can enter (pyenv under /root, a clone in `mktemp -d`), so a task run as uid 10001 could not even start Python.
Then the interpreter, its standard library and this environment's packages are linked (hard links: no copy, same
bytes) into a root-owned tree others may read, kept between runs, and the step code is copied beside each run's pods.
Nothing is chmod-ed or opened up in the user's folders. The compiled modules (__pycache__) come along and the step
code is compiled when copied, as an image's installed packages are: the step user cannot write them, and a step
process that compiled every module it imports spent about 0.9 CPU seconds doing so (0.2 s with them), which
fanout_bench then counted as r2a's cost per pod.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CODE = ("shared", "steps")  # what a step image copies to /app (steps/base.Dockerfile, steps/*/Dockerfile)


class StepRuntimeError(Exception):
    """No Python the step user can run (one line saying what to do)."""


def _link(source: str, target: str, *, follow_symlinks: bool = True) -> None:
    try:
        os.link(source, target, follow_symlinks=follow_symlinks)
    except OSError:  # another file system, or a link the kernel refuses: the bytes are copied instead
        shutil.copy2(source, target, follow_symlinks=follow_symlinks)


def _runs(python: str, cwd: Path, preexec: Callable[[], None] | None, environ: dict[str, str]) -> bool:
    probe = "import steps, shared.config, psycopg2"
    try:
        return subprocess.run([python, "-c", probe], cwd=cwd, preexec_fn=preexec, env=environ,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _fingerprint() -> str:
    packages = Path(sysconfig.get_paths()["purelib"])
    parts = ["with-pycache", sys._base_executable, sys.base_prefix, sys.prefix, str(packages.stat().st_mtime_ns),
             str(Path(sys._base_executable).resolve().stat().st_mtime_ns)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _owned_by_root(path: Path) -> bool:
    info = path.lstat()
    return info.st_uid == 0 and not path.is_symlink() and not info.st_mode & 0o022


def _build(target: Path) -> None:
    """bin/python3.X, lib/libpython*, lib/python3.X (stdlib) and its site-packages (this environment's packages)."""
    base = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    building = Path(tempfile.mkdtemp(prefix=".r2a-runtime-", dir=target.parent))
    os.chmod(building, 0o755)  # nosec B103  # root-owned, read-only to the step user by design
    (building / "bin").mkdir(mode=0o755)
    _link(str(Path(sys._base_executable).resolve()), str(building / "bin" / version))
    (building / "lib").mkdir(mode=0o755)
    for library in (base / "lib").glob("libpython*.so*"):
        _link(str(library), str(building / "lib" / library.name))
    stdlib = Path(sysconfig.get_paths(vars={"base": sys.base_prefix, "installed_base": sys.base_prefix})["stdlib"])
    shutil.copytree(stdlib, building / "lib" / version, symlinks=True, copy_function=_link,
                    ignore=shutil.ignore_patterns("site-packages", "test", "idlelib", "tkinter", "turtledemo",
                                                  "ensurepip"))
    shutil.copytree(sysconfig.get_paths()["purelib"], building / "lib" / version / "site-packages", symlinks=True,
                    copy_function=_link, dirs_exist_ok=True)
    (building / ".complete").write_text("ok\n")
    try:
        os.rename(building, target)
    except OSError:  # another run built it first
        shutil.rmtree(building, ignore_errors=True)


class StepRuntime:
    """`python` for a task run as `preexec`'s user: this interpreter when that user can run it, else the shared tree."""

    def __init__(self, pods_root: Path) -> None:
        self.pods_root = pods_root
        self.checked: dict[tuple, tuple[str, Path, dict[str, str]]] = {}
        self.lock = threading.Lock()  # a fan-out's first tasks ask at once; the tree is built once

    def resolve(self, key: tuple, preexec: Callable[[], None] | None) -> tuple[str, Path, dict[str, str]]:
        """(python, working folder, extra environment) for the user `key` names."""
        with self.lock:
            return self._resolve(key, preexec)

    def _resolve(self, key: tuple, preexec: Callable[[], None] | None) -> tuple[str, Path, dict[str, str]]:
        if key in self.checked:
            return self.checked[key]
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG")}
        chosen = (sys.executable, REPO_ROOT, {})
        if preexec is not None and not _runs(sys.executable, REPO_ROOT, preexec, base):
            runtime = self._shared_runtime()
            app = self._code()
            python = str(runtime / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")
            extra = {"LD_LIBRARY_PATH": str(runtime / "lib")}
            if not _runs(python, app, preexec, {**base, **extra}):
                raise StepRuntimeError(
                    f"the step user cannot run Python even from {runtime} (a folder above {tempfile.gettempdir()} "
                    "is closed to other users?); run run-local as a non-root user, or set TMPDIR to a folder "
                    "every user may enter")
            chosen = (python, app, extra)
        self.checked[key] = chosen
        return chosen

    def _shared_runtime(self) -> Path:
        target = Path(tempfile.gettempdir()) / f"r2a-runtime-{_fingerprint()}"
        if target.exists() and not (_owned_by_root(target) and (target / ".complete").is_file()):
            raise StepRuntimeError(f"{target} exists but was not built by root; remove it and run again")
        if not target.exists():
            _build(target)
        return target

    def _code(self) -> Path:
        """The step code as the image has it in /app: copied (edits since the last run count), readable by all."""
        app = self.pods_root / "app"
        if not app.exists():
            app.mkdir(mode=0o755)
            for name in CODE:
                shutil.copytree(REPO_ROOT / name, app / name, ignore=shutil.ignore_patterns("__pycache__"))
                compileall.compile_dir(app / name, quiet=1)
            for folder, _, files in os.walk(app):
                os.chmod(folder, 0o755)  # nosec B103  # root-owned code the step user reads
                for file in files:
                    os.chmod(os.path.join(folder, file), 0o644)
        return app
