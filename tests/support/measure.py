"""What a process used, measured by the kernel or by the process itself rather than sampled from outside, so a peak
shorter than any polling interval still counts.

- Peak memory: the `ru_maxrss` that `wait4` returns for the reaped process (the kernel's high-water mark, the
  VmHWM of /proc/<pid>/status, kept up to the exit; it covers descendants the process waited for).
- Files written: a `sys.addaudithook` installed in the child by tests/support/audit/sitecustomize.py records every
  `open` event with write intent (Python-level opens: builtins.open, os.open, tempfile, io).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

AUDIT_DIR = Path(__file__).resolve().parent / "audit"
AUDIT_LOG_ENV = "R2A_TEST_WRITE_AUDIT_LOG"


@dataclass
class Measured:
    code: int | None  # None: killed at the time limit
    output: str
    peak_rss_mb: float
    written: list[str] | None = None  # files opened for writing; None: not audited


def audited_environ(environ: dict[str, str], log: Path) -> dict[str, str]:
    """`environ` plus the audit hook: every file the process opens for writing is appended to `log`."""
    path = os.pathsep.join(p for p in (str(AUDIT_DIR), environ.get("PYTHONPATH", "")) if p)
    return {**environ, "PYTHONPATH": path, AUDIT_LOG_ENV: str(log), "PYTHONDONTWRITEBYTECODE": "1"}


def run_measured(command: list[str], environ: dict[str, str], timeout: float = 300,
                 audit_log: Path | None = None) -> Measured:
    """Run `command` to its end; its exit code, output (stdout and stderr), peak RSS and (with `audit_log`) the
    files it opened for writing."""
    env = audited_environ(environ, audit_log) if audit_log else environ
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    timer = threading.Timer(timeout, os.killpg, (process.pid, signal.SIGKILL))
    timer.start()
    try:
        output = process.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
        process.stdout.close()
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    written = None  # not audited, or the hook never loaded in the child (its log file is created at start)
    if audit_log is not None and audit_log.exists():
        written = [json.loads(line)["path"] for line in audit_log.read_text().splitlines()]
    return Measured(None if killed else process.returncode, output, usage.ru_maxrss / 1024, written)
