"""dump_schema run as Argo runs it: a process with only the product's settings in its environment."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest


def run_step(args: list[str], environ: dict[str, str], timeout: int = 120):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(environ, R2A_LOG_FORMAT="json")
    return subprocess.run([sys.executable, "-m", "steps.dump_schema", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def one_error_line(done) -> str:
    errors = [line for line in done.stderr.strip().splitlines() if line.startswith("r2a dump_schema: error:")]
    assert len(errors) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return errors[0]


@pytest.fixture
def run_id() -> str:
    return f"dump_{uuid.uuid4().hex[:12]}"
