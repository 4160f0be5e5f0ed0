"""dump_schema run as Argo runs it: a process with only the product's settings in its environment."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def run_id() -> str:
    return f"dump_{uuid.uuid4().hex[:12]}"
