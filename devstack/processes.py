"""Start, watch and stop devstack's background processes, by pid, with their output in a log file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class StartError(RuntimeError):
    """A service did not come up; the message names it and quotes the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is dead for our purposes
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_closed(host: str, port: int, timeout: float) -> bool:
    """Wait for a stopped service's port to be released (children may hold it a moment longer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not port_open(host, port, timeout=0.2):
            return True
        time.sleep(0.1)
    return False


def spawn(name: str, argv: Sequence[str], logs: Path, *, env: dict | None = None, cwd: Path | None = None,
          preexec: Callable[[], None] | None = None) -> subprocess.Popen:
    """Start a detached process (own session, so Ctrl-C in the caller's terminal does not reach it)."""
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        return subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, preexec_fn=preexec, start_new_session=True)


def log_tail(logs: Path, name: str, lines: int = 15) -> str:
    try:
        return "\n".join((logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(name: str, ready: Callable[[], bool], process: subprocess.Popen | None, logs: Path,
               timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and process.poll() is not None:
            raise StartError(f"devstack: {name} exited with code {process.returncode} while starting; "
                             f"end of {logs / (name + '.log')}:\n{log_tail(logs, name)}")
        time.sleep(0.1)
    raise StartError(f"devstack: {name} was not ready after {timeout:.0f}s; end of its log:\n{log_tail(logs, name)}")


def stop(pid: int | None, *, sig: int = signal.SIGTERM, timeout: float = 15.0) -> bool:
    """Stop one process we started (and its process group); True when it was running."""
    if not alive(pid):
        return False
    try:
        os.killpg(pid, sig)  # spawn() made each service a process-group leader: stop its children too
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
