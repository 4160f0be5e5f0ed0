"""Pure logic: plan entries, statements, verification, the part feed, exit codes (no services)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading

import pytest

from shared.config import AlloyDBSettings, GCSSettings, S3Settings
from shared.connections import alloydb_connection
from shared.errors import BadInputError, SourceError
from shared.identifiers import TableRef
from shared.partledger import LoadKey
from shared.results import ErrorInfo, TableResult
from shared.retry import RetryPolicy
from steps.table_transfer import pipeline
from steps.table_transfer.__main__ import exit_code
from steps.table_transfer.copy import CopiedPart
from steps.table_transfer.load import PartFeed, UpstreamFailed, copy_statement
from steps.table_transfer.loaders import PublishingFeed
from steps.table_transfer.pipeline import CopyStage
from steps.table_transfer.plan import (
    ColumnSpec,
    TransferOptions,
    max_file_size_clause,
    parse_cleanup,
    table_spec,
)
from steps.table_transfer.unload import SERIAL_UNLOAD_MAX_ROWS, Part, redshift_literal, serial_unload
from steps.table_transfer.verify import (
    VerificationError,
    check_checksums,
    check_counts,
    checksum_aggregates,
    source_aggregates,
)

ENTRY = {"table": "s.t", "target": "s.t", "source": {"schema": "s", "name": "t"},
         "target_ref": {"schema": "s", "name": "t"},
         "columns": [{"source": "id", "target": "id", "unload_expression": '"id"', "target_type": "integer"},
                     {"source": "j", "target": "j", "unload_expression": '"j"', "target_type": "jsonb"},
                     {"source": "b", "target": "b", "unload_expression": '"b"', "target_type": "bytea"},
                     {"source": "v", "target": "v", "unload_expression": 'JSON_SERIALIZE("v")',
                      "target_type": "varchar(10)"}]}


def test_table_spec_reads_the_entry_and_wraps_super_and_varbyte():
    spec = table_spec(ENTRY, "tables.json: tables[0]")
    assert spec.source == TableRef("s", "t") and spec.target == TableRef("s", "t")
    assert [c.select_expression() for c in spec.columns] == \
        ['"id"', 'JSON_SERIALIZE("j")', "'\\\\x' || TO_HEX(\"b\")", 'JSON_SERIALIZE("v")']


def test_spatial_columns_kept_as_bytea_are_selected_through_st_ashexewkb():
    """TO_HEX takes only numbers and VARBYTE (https://docs.aws.amazon.com/redshift/latest/dg/r_TO_HEX.html);
    ST_AsHexEWKB takes GEOMETRY and GEOGRAPHY
    (https://docs.aws.amazon.com/redshift/latest/dg/ST_AsHexEWKB-function.html). Into PostGIS they go bare."""
    columns = [{"source": name, "target": name, "unload_expression": f'"{name}"', "target_type": target,
                "source_type": source}
               for name, target, source in [("g", "bytea", "GEOMETRY"), ("gg", "BYTEA", "geography"),
                                            ("p", "geometry", "geometry"), ("b", "bytea", "varbyte(8)"),
                                            ("u", "bytea", "not a type"), ("n", "bytea", None)]]
    spec = table_spec({**ENTRY, "columns": columns}, "tables.json: tables[0]")
    assert [c.select_expression() for c in spec.columns] == [
        "'\\\\x' || ST_AsHexEWKB(\"g\")", "'\\\\x' || ST_AsHexEWKB(\"gg\")", '"p"',
        "'\\\\x' || TO_HEX(\"b\")", "'\\\\x' || TO_HEX(\"u\")", "'\\\\x' || TO_HEX(\"n\")"]


@pytest.mark.parametrize("broken, message", [
    ({**ENTRY, "columns": []}, "columns must be a non-empty list"),
    ({**ENTRY, "source": "s.t"}, "source must be an object"),
    ({**ENTRY, "columns": [{"source": "id", "target": "id"}]}, "unload_expression must be a non-empty string"),
    # tables.json is a file in the run folder: an expression r2a does not write never reaches UNLOAD
    ({**ENTRY, "columns": [{"source": "id", "target": "id", "unload_expression": '(SELECT pwd FROM pg_user)'}]},
     r"unload_expression '\(SELECT pwd FROM pg_user\)' is not an expression r2a writes for column 'id'"),
    ({**ENTRY, "columns": [{"source": "id", "target": "id", "unload_expression": 'LOWER("id")'}]},
     "is not an expression r2a writes"),
    ({**ENTRY, "columns": [{"source": "id", "target": "id", "unload_expression": '"other"'}]},
     "is not an expression r2a writes for column 'id'"),
    ({**ENTRY, "columns": [{"source": 'a"b', "target": "id", "unload_expression": '"a"b"'}]},
     "is not an expression r2a writes"),
])
def test_broken_entries_name_the_place(broken, message):
    with pytest.raises(BadInputError, match=message) as caught:
        table_spec(broken, "tables.json: tables[3]")
    assert "tables.json: tables[3]" in caught.value.reason


def test_every_form_rewrite_ddl_writes_is_accepted():
    columns = [{"source": 'we"ird', "target": "w", "unload_expression": '"we""ird"'},
               {"source": "j", "target": "j", "unload_expression": 'JSON_SERIALIZE("j")'},
               {"source": "b", "target": "b", "unload_expression": "'\\\\x' || TO_HEX(\"b\")"}]
    spec = table_spec({**ENTRY, "columns": columns}, "x")
    assert [c.unload_expression for c in spec.columns] == [c["unload_expression"] for c in columns]


def test_redshift_literal_doubles_quotes_and_backslashes():
    assert redshift_literal("it's a \\ path").string == "'it''s a \\\\ path'"


def test_options_are_checked():
    assert parse_cleanup("S3, gcs") == ("s3", "gcs")
    assert parse_cleanup("") == ()  # the workflow parameter left empty: keep the parts
    assert max_file_size_clause("6.2GB") == ("6.2", "GB") and max_file_size_clause("256 mb") == ("256", "MB")
    for bad in ({"format": "parquet"}, {"verify": "all"}, {"parallel_parts": 0}, {"cleanup": ("disk",)},
                {"max_file_size": "7GB"}):
        with pytest.raises(BadInputError):
            TransferOptions(**bad)


def test_copy_statement_text_and_csv():
    spec = table_spec(ENTRY, "x")
    options = TransferOptions()
    text = copy_statement(spec, options, freeze=True)
    csv = copy_statement(spec, TransferOptions(format="csv", null_marker=options.null_marker))
    assert "FREEZE" in repr(text) and "'|'" in repr(text) and repr(options.null_marker) in repr(text)
    assert "csv" in repr(csv) and "DELIMITER" not in repr(csv) and "FORCE_NULL" in repr(csv)
    assert repr(options.null_marker) in repr(csv)


def test_the_null_marker_has_nothing_escape_or_csv_would_change_and_is_new_every_run():
    markers = {TransferOptions().null_marker for _ in range(50)}
    assert len(markers) == 50
    for marker in markers:
        assert re.fullmatch(r"r2a_null_[0-9a-f]{32}", marker)
    for bad in ("\\N", "short", "r2a_null_0123456789|abcdef", "r2a_null_0123456789\nabcdef"):
        with pytest.raises(BadInputError, match="NULL marker"):
            TransferOptions(null_marker=bad)


def test_checksum_aggregates_by_type_and_transform():
    spec = table_spec(ENTRY, "x")
    kinds = [(a.column.target, a.kind) for a in checksum_aggregates(spec)]
    assert kinds == [("id", "nonnull"), ("id", "min"), ("id", "max"), ("id", "sum"), ("j", "nonnull"),
                     ("b", "nonnull"), ("v", "nonnull")]
    query, names = source_aggregates(spec, checksum_aggregates(spec))
    assert names[0] == "id:nonnull" and len(names) == 7


def test_verification_failures_say_what_differs():
    check_counts("s.t", 3, 3, 3)
    with pytest.raises(VerificationError, match="source 3, unloaded 3, loaded 2"):
        check_counts("s.t", 3, 3, 2)
    check_checksums("s.t", {"a:min": 1, "a:max": None}, {"a:min": 1, "a:max": None})
    with pytest.raises(VerificationError, match="a:max"):
        check_checksums("s.t", {"a:min": 1, "a:max": 5}, {"a:min": 1, "a:max": 6})


def test_part_feed_iterates_from_the_start_and_hands_out_each_part_once():
    feed = PartFeed()
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(p for p in feed.iterate()))
    reader.start()
    for name in ("a", "b", "c"):
        feed.add(name)
    feed.finish()
    reader.join(5)
    assert seen == ["a", "b", "c"] and list(feed.iterate()) == ["a", "b", "c"]
    assert [feed.claim(), feed.claim(), feed.claim(), feed.claim()] == ["a", "b", "c", None]


def test_part_feed_passes_the_copy_error_to_loaders():
    feed = PartFeed()
    feed.finish(SourceError("S3 said no"))
    with pytest.raises(UpstreamFailed) as caught:
        list(feed.iterate())
    assert isinstance(caught.value.error, SourceError)


def _result(status: str, error: ErrorInfo | None = None) -> TableResult:
    return TableResult("r", "s.t", "s.t", status, "2026-01-01T00:00:00Z", error=error)


def test_exit_code_retries_only_when_every_failure_is_transient():
    transient = ErrorInfo("TransientError", "blip", 1, True)
    permanent = ErrorInfo("TargetError", "bad type", 5, False)
    assert exit_code([_result("succeeded")]) == 0
    assert exit_code([_result("succeeded"), _result("failed", transient)]) == 1
    assert exit_code([_result("failed", transient), _result("failed", permanent)]) == 5


def test_column_spec_leaves_non_bare_expressions_alone():
    column = ColumnSpec("j", "j", 'JSON_SERIALIZE("j")', "jsonb")
    assert column.select_expression() == 'JSON_SERIALIZE("j")'




@pytest.mark.parametrize(("estimated_rows", "load_sessions", "serial"), [
    (0, 1, True), (50, 1, True), (SERIAL_UNLOAD_MAX_ROWS, 1, True), (SERIAL_UNLOAD_MAX_ROWS + 1, 1, False),
    (50, 3, False)])
def test_small_tables_are_unloaded_serially_unless_loaded_by_several_sessions(estimated_rows, load_sessions, serial):
    spec = table_spec({**ENTRY, "estimated_rows": estimated_rows}, "x")
    assert serial_unload(spec, TransferOptions(load_sessions=load_sessions)) is serial


def test_a_pod_starts_without_the_post_data_parsers():
    """sqlglot and pglast are most of the step's own import time (fanout_bench, "start-up of a step process"); a
    pod needs them only for a table loaded after post-data ran (shared/finishing.py imports them there)."""
    probe = ("import sys, steps.table_transfer.__main__; "
             "print(sorted(m for m in ('sqlglot', 'pglast', 'shared.postdata', 'shared.constraints') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_part_whose_publishing_cannot_reconnect_still_reaches_loader_one():
    """AlloyDB restarting: the real connection factory refuses with r2a's own error (not psycopg2's); publishing is
    best effort, so the part must still go to loader 1's feed."""
    settings = AlloyDBSettings(host="127.0.0.1", port=_closed_port(), database="d", user="u", sslmode="disable",
                               connect_timeout=2)
    feed = PublishingFeed(lambda: alloydb_connection(settings, "table_transfer"), LoadKey("r", "s.t", 1))
    part = CopiedPart(Part("s3://b/p/0000_part_00.gz", 10, None), "gs://b/p/0000_part_00.gz", 10)
    feed.add(part)
    feed.finish()
    assert list(feed.iterate()) == [part]


class _RefusingFeed(PartFeed):
    def add(self, part) -> None:
        raise RuntimeError("the feed refused the part")


def test_a_failure_while_handing_over_a_copied_part_ends_the_feed_instead_of_hanging_it(monkeypatch):
    """concurrent.futures only logs what a done-callback raises; the loaders must see it. The S3 → GCS copy itself
    is replaced (what is checked is the thread pool's hand-over, not the copy)."""
    monkeypatch.setattr(pipeline, "copy_part", lambda s3, gcs, part, url, policy: CopiedPart(part, url, part.size))
    feed = _RefusingFeed()
    copies = CopyStage(S3Settings(), GCSSettings(), "gs://b/stage/", feed, workers=2, policy=RetryPolicy())
    copies.submit(Part("s3://b/p/0000_part_00.gz", 10, None))
    copies.expect(1)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: outcome.extend(_upstream_error(feed)))
    reader.start()
    reader.join(10)
    copies.close(cancel=True)
    assert not reader.is_alive(), "the loaders were left waiting for a part that never came"
    assert [str(error) for error in outcome] == ["the feed refused the part"]
    assert copies.timing.status == "failed"


def _upstream_error(feed: PartFeed) -> list[BaseException]:
    try:
        list(feed.iterate())
    except UpstreamFailed as failed:
        return [failed.error]
    return []
