"""Copy and load overlap the UNLOAD: parts are picked up from S3 as Redshift closes them (at MAXFILESIZE), and the
manifest still decides what the table is made of."""

from __future__ import annotations

import re

import pytest

from shared.errors import SourceError
from steps.table_transfer.pipeline import remaining_parts
from steps.table_transfer.unload import Manifest, Part
from tests.table_transfer.conftest import quoted
from tests.table_transfer.test_memory_live import COLUMNS, PAYLOAD_ROWS_SQL


def test_parts_are_copied_and_loaded_while_the_unload_still_runs(transfer):
    rows = 1_500_000  # the UNLOAD must outlast a few of the 1 s listings of its folder
    table = f"{quoted(transfer.schema)}.{quoted('overlapped')}"
    source, target = transfer.table("overlapped", COLUMNS, rows_sql=PAYLOAD_ROWS_SQL.format(table=table, rows=rows))
    # the load transaction waits for parts the UNLOAD has not written yet: a server-wide idle limit must not kill it
    transfer.pg_execute("DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout = "
                        "%L', current_database(), '50ms'); END$$")
    code, output = transfer.run("--table", str(source), "--max-file-size", "5MB")
    assert code == 0, output
    result = transfer.result(source)
    phases = {phase["name"]: phase for phase in result["phases"]}
    assert result["status"] == "succeeded" and result["rows_loaded"] == rows and result["parts"] >= 8, output
    assert result["attempts"][-1]["retries"] == 0, result["attempts"]
    assert phases["copy"]["started_at"] < phases["unload"]["finished_at"], phases
    assert phases["load"]["started_at"] < phases["unload"]["finished_at"], phases
    picked_early = re.search(r'picked_early"?[=:] ?(\d+)', output)
    assert picked_early and int(picked_early.group(1)) > 0, output
    (count, distinct, total), = transfer.pg_rows(f"SELECT count(*), count(DISTINCT id), sum(id) FROM "
                                                 f"{quoted(target.schema)}.{quoted(target.table)}")
    assert (count, distinct, total) == (rows, rows, rows * (rows + 1) // 2)


def _manifest(*parts: Part) -> Manifest:
    return Manifest("s3://b/run/t/attempt-001/manifest", list(parts), 30)


def test_the_manifest_decides_which_files_make_the_table():
    first, second = Part("s3://b/p/0000_part_00.gz", 100, 10), Part("s3://b/p/0001_part_00.gz", 90, 20)
    picked = {first.url: Part(first.url, 100, None)}
    assert remaining_parts(_manifest(first, second), picked, "s3://b/p/") == [second]
    with pytest.raises(SourceError, match="manifest does not list it"):
        remaining_parts(_manifest(second), picked, "s3://b/p/")
    with pytest.raises(SourceError, match="had 100 bytes when it was picked up"):
        remaining_parts(_manifest(Part(first.url, 120, 10), second), picked, "s3://b/p/")
