"""Run folders in the devstack GCS emulator, and the step run as a real process (its exit code and stderr)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass

import pytest

from shared.config import load_settings
from shared.objectstore import ObjectStore, RunLayout
from shared.sqlblocks import SqlObject, render


def block(kind: str, name: str, sql: str, target_name: str | None = None, depends_on=(), **extra) -> str:
    """One block as rewrite_ddl writes it (its marker carries the body's line count and hash)."""
    obj = SqlObject(kind, name, sql, target_name or name, tuple(depends_on), tuple(extra.items()))
    return render([obj]) + "\n"


@dataclass
class RunFolder:
    run_id: str
    store: ObjectStore
    layout: RunLayout
    environ: dict[str, str]

    def put(self, filename: str, text: str) -> None:
        self.store.write_text(self.layout.artifact(filename), text)

    def get(self, filename: str) -> str:
        return self.store.read_text(self.layout.artifact(filename))

    def json(self, filename: str):
        return json.loads(self.get(filename))

    def has(self, filename: str) -> bool:
        return self.store.exists(self.layout.artifact(filename))


@pytest.fixture
def run_folder(devstack_environ) -> RunFolder:
    run_id = f"validate_{uuid.uuid4().hex[:12]}"
    settings = load_settings(devstack_environ)
    return RunFolder(run_id, ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs),
                     dict(devstack_environ))


def run_step(module: str, args: list[str], environ: dict[str, str], timeout: int = 120):
    """The step as Argo runs it: a process with only the product's settings in its environment."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(environ, R2A_LOG_FORMAT="json")
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def assert_result_record(record: dict) -> None:
    """Step and table result files follow shared/schemas/result.schema.json."""
    import jsonschema

    from shared.results import load_schema

    jsonschema.Draft202012Validator(load_schema()).validate(record)
