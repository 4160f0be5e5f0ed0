"""The plan of a run before a byte moves: every table with its rows and size, the bytes S3 and GCS will hold, the
objects that will not migrate, and how long it should take.

Inputs (run folder): name_map.json (rewrite_ddl: each table with svv_table_info's estimated rows and size in MB,
as dump_schema read them), rewrite_report.json and, when there, validation_report.json (objects not migrated),
post_data.sql (how many keys and indexes post-data builds). Redshift is read only for the compression sample:
up to SAMPLE_ROWS rows of each of the SAMPLED_TABLES largest tables, selected column by column, written as
UNLOAD's text rows ('|' between fields, \\N for NULL) and compressed here with the run's codec. A sampled table's
S3 bytes are its rows times its sample's compressed bytes per row; any other table gets the sampled tables'
text bytes per row and compression ratio, both totalled over all samples. S3 → GCS egress is those bytes: every
part crosses once. Nothing is written to AlloyDB.
"""

from __future__ import annotations

import gzip
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import zstandard
from psycopg2 import sql

from shared.documents.name_map import NameMap
from shared.documents.objects import ObjectsReport
from shared.documents.run_plan import RunPlan, SizedTable
from shared.errors import BadInputError, BadStateError
from shared.layout import POST_DATA_SQL
from shared.log import event, one_line
from shared.objectstore import ObjectStore, RunLayout
from shared.results import utc_now
from shared.sqlblocks import parse

SAMPLED_TABLES = 10
SAMPLE_ROWS = 2000
# Measured rates (each with where it was measured); the throttles are the run's parameters.
RATES: dict[str, tuple[float, str]] = {
    "transfer_text_mb_per_s": (64.4, "steps/table_transfer/README.md, transfer_bench: one 2 GB table end to end "
                                     "(UNLOAD → S3 → GCS → COPY, verified), unloaded text MB per second, devstack"),
    "post_data_s_per_object": (0.026, "README.md, postdata_bench: wall seconds per key or index at --index-jobs 1, "
                                      "1,000 tables of 1,000 rows (the slower of two runs), devstack"),
}


TABLE_OVERHEAD_S = 2.0
TABLE_OVERHEAD_SOURCE = ("--table-overhead-s; its default 2.0 is assumed, not measured: a table_transfer process's "
                         "start, connections and result file besides the bytes (fanout_bench measures it)")


@dataclass
class Sample:
    rows: int
    text_bytes: int
    compressed_bytes: int


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) and value > 0 else 0.0


def read_tables(name_map: Any, where: str) -> list[dict[str, Any]]:
    """name_map.json's tables (shared/documents/name_map.py), largest first (size in MB, then rows, then name)."""
    try:
        mapped = NameMap.from_json(name_map, where).carried_tables()
    except BadInputError as exc:
        raise BadInputError(exc.reason, "Run rewrite_ddl for this run again") from None
    tables = [{"table": str(t.source), "schema": t.source.schema, "name": t.source.table, "target": str(t.target),
               "rows": int(_number(t.estimated_rows)), "size_mb": _number(t.size_mb),
               "columns": [c.source for c in t.columns]} for t in mapped]
    return sorted(tables, key=lambda t: (-t["size_mb"], -t["rows"], t["table"]))


def compress(data: bytes, codec: str) -> int:
    if codec == "gzip":
        return len(gzip.compress(data, compresslevel=6))
    return len(zstandard.ZstdCompressor(level=3).compress(data))


def text_rows(rows: Sequence[tuple]) -> bytes:
    return "".join("|".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows).encode()


def sample_tables(conn, tables: list[dict[str, Any]], codec: str) -> tuple[dict[str, Sample], dict[str, str]]:
    """(sample by table, why a table could not be sampled) for the largest tables with rows."""
    samples, problems = {}, {}
    for table in [t for t in tables if t["rows"] > 0 and t["columns"]][:SAMPLED_TABLES]:
        query = sql.SQL("SELECT {} FROM {} LIMIT {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in table["columns"]),
            sql.Identifier(table["schema"], table["name"]), sql.Literal(SAMPLE_ROWS))
        try:
            with conn.cursor() as cur:
                cur.execute(query)
                rows = cur.fetchall()
            conn.rollback()
        except psycopg2.Error as exc:
            if conn.closed:
                raise
            conn.rollback()
            problems[table["table"]] = one_line(exc, 200)
            event("plan.sample_failed", table=table["table"], error=problems[table["table"]])
            continue
        if rows:
            data = text_rows(rows)
            samples[table["table"]] = Sample(len(rows), len(data), compress(data, codec))
    return samples, problems


def not_migrated(store: ObjectStore, layout: RunLayout) -> list[dict[str, Any]]:
    """Objects rewrite_ddl (or validate_restore, when it ran) will not carry over, each once, earliest reason."""
    found, seen = [], set()
    for stage, url in (("rewrite_ddl", layout.rewrite_report_json), ("validate_restore",
                                                                     layout.validation_report_json)):
        if not store.exists(url):
            continue
        for entry in ObjectsReport.read(store, url).objects:
            if entry.not_migrated and (entry.kind, entry.name) not in seen:
                seen.add((entry.kind, entry.name))
                found.append({"kind": entry.kind, "name": entry.name, "stage": stage, "status": entry.status,
                              "reason": one_line(entry.reason or "", 300)})
    return found


def post_data_objects(store: ObjectStore, layout: RunLayout) -> int:
    if not store.exists(layout.post_data_sql):
        return 0
    return sum(1 for o in parse(store.read_text(layout.post_data_sql), POST_DATA_SQL)
               if o.kind in ("constraint", "index"))


def build_plan(run_id: str, tables: list[dict[str, Any]], samples: dict[str, Sample], problems: dict[str, str],
               dropped: list[dict[str, Any]], keys_and_indexes: int, codec: str, concurrency: int,
               index_jobs: int, table_overhead_s: float) -> RunPlan:
    sampled_rows = sum(s.rows for s in samples.values())
    text_per_row = sum(s.text_bytes for s in samples.values()) / sampled_rows if sampled_rows else 0.0
    ratio = (sum(s.compressed_bytes for s in samples.values()) / sum(s.text_bytes for s in samples.values())
             if samples else None)
    rate = RATES["transfer_text_mb_per_s"][0]
    listed, seconds = [], []
    for table in tables:
        own = samples.get(table["table"])
        text = table["rows"] * (own.text_bytes / own.rows if own else text_per_row)
        s3 = table["rows"] * own.compressed_bytes / own.rows if own else text * (ratio or 0.0)
        seconds.append(table_overhead_s + text / 1e6 / rate)
        listed.append(SizedTable(table["table"], table["target"], table["rows"], table["size_mb"], int(text), int(s3),
                                 own is not None, problems.get(table["table"])))
    transfers = max(max(seconds, default=0.0), sum(seconds) / max(1, concurrency))
    post_data = keys_and_indexes * RATES["post_data_s_per_object"][0] / max(1, index_jobs)
    s3_total = sum(t.s3_bytes for t in listed)
    return RunPlan(
        run_id, utc_now(), tuple(listed),
        totals={"tables": len(listed), "rows": sum(t.rows for t in listed),
                "size_mb": round(sum(t.size_mb for t in listed), 1),
                "text_bytes": sum(t.text_bytes for t in listed), "s3_bytes": s3_total,
                "s3_to_gcs_egress_bytes": s3_total},
        compression={"codec": codec, "ratio": None if ratio is None else round(ratio, 4),
                     "sampled_tables": len(samples), "sample_rows": sampled_rows,
                     "text_bytes_per_row": round(text_per_row, 1),
                     "method": f"up to {SAMPLE_ROWS} rows of each of the {SAMPLED_TABLES} largest tables, "
                               f"as UNLOAD text rows, compressed with {codec} by the plan step"},
        not_migrated=tuple(dropped),
        not_migrated_by_kind=dict(sorted(Counter(d["kind"] for d in dropped).items())),
        estimate={
            "transfers_s": round(transfers, 1), "post_data_s": round(post_data, 1),
            "total_s": round(transfers + post_data, 1),
            "throttles": {"concurrent_transfers": concurrency, "index_jobs": index_jobs},
            "rates": {name: {"value": value, "source": source} for name, (value, source) in RATES.items()}
                     | {"table_overhead_s": {"value": table_overhead_s, "source": TABLE_OVERHEAD_SOURCE}},
            "method": "each table: overhead + text MB / transfer rate; transfers: the longest table or the sum "
                      "over the concurrent transfers, whichever is longer; post-data: keys and indexes × seconds "
                      "per object / index-jobs (at best: the server's CPU bounds it)",
            "keys_and_indexes": keys_and_indexes,
        },
    )


def check_inputs(store: ObjectStore, layout: RunLayout) -> None:
    if not store.exists(layout.name_map_json):
        raise BadStateError(f"{layout.name_map_json} does not exist", "Run rewrite_ddl for this run first")
