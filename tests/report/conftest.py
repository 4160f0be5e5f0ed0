"""A run folder in the devstack GCS emulator and the report step run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from shared.config import load_settings
from shared.objectstore import ObjectStore, RunLayout


@dataclass
class RunFolder:
    run_id: str
    store: ObjectStore
    layout: RunLayout
    environ: dict[str, str]

    def put_json(self, name: str, document: Any) -> None:
        self.store.write_json(self.layout.artifact(name), document)

    def put_text(self, name: str, text: str) -> None:
        self.store.write_text(self.layout.artifact(name), text)

    def report_text(self, name: str) -> str:
        return self.store.read_text(self.layout.report(name))

    def json(self, name: str) -> Any:
        return json.loads(self.store.read_text(self.layout.artifact(name)))

    def remove(self) -> None:
        self.store.delete_prefix(self.layout.root)


def run_folder_for(environ: dict[str, str], run_id: str) -> RunFolder:
    settings = load_settings(environ)
    return RunFolder(run_id, ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs),
                     dict(environ))


@pytest.fixture
def new_run_id() -> str:
    return f"sales_{uuid.uuid4().hex[:10]}"


def run_report(run_id: str, environ: dict[str, str], *extra: str, timeout: int = 120):
    """The step as Argo runs it: a process with only the product's settings in its environment."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(environ, R2A_LOG_FORMAT="json")
    return subprocess.run([sys.executable, "-m", "steps.report", "--run-id", run_id, *extra], capture_output=True,
                          text=True, env=env, timeout=timeout)
