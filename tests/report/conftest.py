"""A run folder in the devstack GCS emulator and the report step run as a real process."""

from __future__ import annotations

import uuid

import pytest

from tests.support.steps import run_step


@pytest.fixture
def new_run_id() -> str:
    return f"sales_{uuid.uuid4().hex[:10]}"


def run_report(run_id: str, environ: dict[str, str], *extra: str, timeout: int = 120):
    return run_step("steps.report", ["--run-id", run_id, *extra], environ, timeout)
