"""A step run as Argo runs it (a process with only the product's settings in its environment), and the one error
line every failed step prints."""

from __future__ import annotations

import os
import subprocess
import sys

PASSED_THROUGH = ("PATH", "HOME", "LANG", "TMPDIR")


def step_environ(environ: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in PASSED_THROUGH}
    env.update(environ, R2A_LOG_FORMAT="json")
    return env


def run_step(module: str, args: list[str], environ: dict[str, str], timeout: int = 120,
             ) -> subprocess.CompletedProcess[str]:
    """`python -m <module> <args>` with `environ` as its settings; a hang is a failed test (`timeout`)."""
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          env=step_environ(environ), timeout=timeout)


def one_error_line(done: subprocess.CompletedProcess[str] | str, step: str) -> str:
    """The one `r2a <step>: error: ...` line of a failed step's stderr (or of `done` as text), and no traceback."""
    text = done if isinstance(done, str) else done.stderr
    errors = [line for line in text.splitlines() if line.startswith(f"r2a {step}: error:")]
    assert len(errors) == 1, text
    assert "Traceback" not in text, text
    return errors[0]
