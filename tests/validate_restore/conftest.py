"""Run folders in the devstack GCS emulator; SQL blocks as rewrite_ddl writes them."""

from __future__ import annotations

import uuid

import pytest

from shared.sqlblocks import SqlObject, render
from tests.support.runfolder import RunFolder


def block(kind: str, name: str, sql: str, target_name: str | None = None, depends_on=(), **extra) -> str:
    """One block as rewrite_ddl writes it (its marker carries the body's line count and hash)."""
    obj = SqlObject(kind, name, sql, target_name or name, tuple(depends_on), tuple(extra.items()))
    return render([obj]) + "\n"


@pytest.fixture
def run_folder(devstack_environ) -> RunFolder:
    return RunFolder.create(f"validate_{uuid.uuid4().hex[:12]}", devstack_environ)


def assert_result_record(record: dict) -> None:
    """Step and table result files follow shared/schemas/result.schema.json."""
    import jsonschema

    from shared.results import load_schema

    jsonschema.Draft202012Validator(load_schema()).validate(record)
