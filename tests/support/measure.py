"""What a process used, measured by the kernel or by the process itself rather than sampled from outside, so a peak
shorter than any polling interval still counts.

- Peak memory: the `ru_maxrss` that `wait4` returns for the reaped process (the kernel's high-water mark, the
  VmHWM of /proc/<pid>/status, kept up to the exit; it covers descendants the process waited for). Linux starts a
  process's figure at the high-water mark of the memory it replaced at exec (exec_mmap's setmax_mm_hiwater_rss):
  for a child that pytest spawns (vfork + exec) that is pytest's own peak, hundreds of MB late in a run. So the
  command is forked by a small wrapper interpreter (_REAPER) whose few MB are the floor, and it reports the child's
  figure.
- Files written: a `sys.addaudithook` installed in the child by tests/support/audit/sitecustomize.py records every
  `open` event with write intent (Python-level opens: builtins.open, os.open, tempfile, io).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
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


# argv: [report file, command...]. Forks, execs the command, waits, writes its ru_maxrss (KB), exits as it did.
_REAPER = """
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(command: list[str], environ: dict[str, str], timeout: float = 300,
                 audit_log: Path | None = None) -> Measured:
    """Run `command` to its end; its exit code, output (stdout and stderr), peak RSS and (with `audit_log`) the
    files it opened for writing."""
    env = audited_environ(environ, audit_log) if audit_log else environ
    report = tempfile.NamedTemporaryFile(prefix="r2a-maxrss-", delete=False)  # noqa: SIM115 (removed below)
    report.close()
    process = subprocess.Popen([sys.executable, "-S", "-c", _REAPER, report.name, *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    timer = threading.Timer(timeout, os.killpg, (process.pid, signal.SIGKILL))
    timer.start()
    try:
        output = process.stdout.read().decode(errors="replace")
        _, status, _ = os.wait4(process.pid, 0)
        reported = Path(report.name).read_text()
    finally:
        timer.cancel()
        process.stdout.close()
        os.unlink(report.name)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    written = None  # not audited, or the hook never loaded in the child (its log file is created at start)
    if audit_log is not None and audit_log.exists():
        written = [json.loads(line)["path"] for line in audit_log.read_text().splitlines()]
    peak_kb = int(reported) if reported else 0  # empty: the wrapper was killed before the command ended
    return Measured(None if killed else process.returncode, output, peak_kb / 1024, written)
