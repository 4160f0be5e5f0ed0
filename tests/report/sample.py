"""A small run folder with every case the report must tell apart, as {relative path: JSON document}.

Plan (largest first): public.sales (succeeded), public.customers (succeeded on attempt 2), public.events (failed),
public.ghost (no result file: not run). Outside the plan: public."Odd Name" (load_schema could not create it,
skipped result), public.geo_shapes (unsupported in rewrite_ddl), public.bad_defaults (failed in validate_restore).
"""

from __future__ import annotations

from typing import Any

from shared.results import Attempt, ErrorInfo, PhaseTiming, StepResult, TableResult, to_dict

RUN_ID = "sales_20260101_100000"
REPORT_TIME = "2026-01-01T10:30:00.000Z"


def ts(seconds: float) -> str:
    """10:00:00 plus `seconds`, as steps write it."""
    minutes, rest = divmod(seconds, 60)
    return f"2026-01-01T10:{int(minutes):02d}:{rest:06.3f}Z"


def phase(name: str, start: float, end: float, status: str = "succeeded") -> PhaseTiming:
    return PhaseTiming(name, ts(start), ts(end), round(end - start, 3), status)


def table_result(table: str, status: str, start: float, end: float, **fields: Any) -> dict[str, Any]:
    return to_dict(TableResult(RUN_ID, table, fields.pop("target", table), status, ts(start), ts(end),
                               round(end - start, 3), **fields))


TRANSIENT = ErrorInfo("TransientError", "connection lost while copying part 2", 1, True)
TOO_LONG = ErrorInfo("TargetError", "value too long for type character varying(10) (22001)", 5, False)
NOT_CREATED = ErrorInfo("TargetError", "not transferred: load_schema could not create the table in AlloyDB: "
                        "failed in pre-data: relation \"odd_name\" already exists as a view", 5, False)


def step(name: str, status: str, start: float, end: float, **fields: Any) -> dict[str, Any]:
    return to_dict(StepResult(RUN_ID, name, status, ts(start), ts(end), round(end - start, 3), **fields))


def documents(run_id: str = RUN_ID) -> dict[str, Any]:
    """The run folder's JSON files; every record names `run_id` (tests in a shared emulator use unique ids)."""
    return {path: dict(document, run_id=run_id) for path, document in _documents().items()}


def _documents() -> dict[str, Any]:
    plan = [{"table": t, "target": t, "source": {"schema": "public", "name": t.split(".")[1]},
             "target_ref": {"schema": "public", "name": t.split(".")[1]}, "estimated_rows": 10, "size_mb": 1,
             "columns": []} for t in ("public.sales", "public.customers", "public.events", "public.ghost")]
    return {
        "tables.json": {"format_version": 1, "run_id": RUN_ID, "tables": plan},
        "steps/dump_schema.json": step("dump_schema", "succeeded", 0, 5, counts={"tables": 7}),
        "steps/rewrite_ddl.json": step("rewrite_ddl", "succeeded", 5.5, 6.5,
                                       counts={"converted": 6, "unsupported": 2}),
        "steps/validate_restore.json": step("validate_restore", "partial", 7, 9, counts={"applied": 5, "failed": 1}),
        "steps/load_schema_pre_data.json": step("load_schema_pre_data", "succeeded", 10, 12,
                                                phases=[phase("apply", 10, 11.5)]),
        "results/public.sales.json": table_result(
            "public.sales", "succeeded", 13, 23, attempts=[Attempt(1, ts(13), ts(23), "succeeded")],
            phases=[phase("unload", 13, 16), phase("copy", 16, 18), phase("load", 18, 22.5),
                    phase("verify", 22.5, 23)],
            rows_source=1000, rows_unloaded=1000, rows_loaded=1000, bytes_compressed=2048, bytes_raw=9000, parts=4),
        "results/public.customers.json": table_result(
            "public.customers", "succeeded", 13, 17,
            attempts=[Attempt(1, ts(13), ts(14), "failed", TRANSIENT), Attempt(2, ts(14.5), ts(17), "succeeded")],
            phases=[phase("unload", 13, 14, "failed"), phase("unload", 14.5, 15.5), phase("load", 15.5, 17)],
            rows_source=50, rows_unloaded=50, rows_loaded=50, bytes_compressed=512, bytes_raw=700, parts=1),
        "results/public.events.json": table_result(
            "public.events", "failed", 13.5, 15, attempts=[Attempt(1, ts(13.5), ts(15), "failed", TOO_LONG)],
            phases=[phase("unload", 13.5, 14), phase("load", 14, 15, "failed")], rows_source=30,
            error=TOO_LONG),
        "results/public.Odd%20Name.json": table_result(
            'public."Odd Name"', "skipped", 12, 12, target="public.odd_name", error=NOT_CREATED),
        "rewrite_report.json": {"format_version": 1, "run_id": RUN_ID, "step": "rewrite_ddl", "objects": [
            {"kind": "table", "name": "public.sales", "target_name": "public.sales", "status": "converted"},
            {"kind": "table", "name": "public.geo_shapes", "target_name": "public.geo_shapes",
             "status": "unsupported", "reason": "column shape: GEOGRAPHY is not supported"},
            {"kind": "view", "name": "public.v_geo", "target_name": "public.v_geo", "status": "unsupported",
             "reason": "depends on public.geo_shapes"},
        ], "counts": {"converted": 6, "unsupported": 2}},
        "validation_report.json": {"format_version": 1, "run_id": RUN_ID, "step": "validate_restore", "objects": [
            {"kind": "table", "name": "public.bad_defaults", "target_name": "public.bad_defaults",
             "status": "failed", "reason": "function getdate() does not exist"},
            {"kind": "table", "name": "public.sales", "target_name": "public.sales", "status": "applied"},
        ], "counts": {"applied": 5, "failed": 1}},
        "load_report.json": {"format_version": 1, "run_id": RUN_ID, "step": "load_schema", "section": "pre-data",
                             "objects": [{"kind": "table", "name": 'public."Odd Name"',
                                          "target_name": "public.odd_name", "status": "failed",
                                          "reason": "relation \"odd_name\" already exists as a view"}]},
        "post_data_report.json": {"format_version": 1, "run_id": RUN_ID, "step": "load_schema",
                                  "section": "post-data", "objects": [
            {"kind": "constraint", "name": "public.orders_customer_fkey", "target_name": "public.orders_customer_fkey",
             "status": "not_valid", "reason": "3 rows violate it; kept NOT VALID", "violations": 3},
            {"kind": "constraint", "name": "public.sales_pkey", "target_name": "public.sales_pkey",
             "status": "applied", "violations": 0}]},
    }


NO_RESULT = "no result file: the transfer did not run or did not finish"
T = "\t"
EXPECTED_TABLES = [
    T.join(["table", "target", "status", "started_at", "finished_at", "duration_s", "rows_source", "rows_loaded",
            "bytes", "attempts", "error", "change"]),
    T.join(["public.sales", "public.sales", "succeeded", ts(13), ts(23), "10.000", "1000", "1000", "2048", "1",
            "", ""]),
    T.join(["public.customers", "public.customers", "succeeded", ts(13), ts(17), "4.000", "50", "50", "512", "2",
            "", ""]),
    T.join(["public.events", "public.events", "failed", ts(13.5), ts(15), "1.500", "30", "", "", "1",
            "TargetError: value too long for type character varying(10) (22001)", ""]),
    T.join(["public.ghost", "public.ghost", "not_run", "", "", "", "", "", "", "", NO_RESULT, ""]),
    T.join(['public."Odd Name"', "public.odd_name", "skipped", ts(12), ts(12), "0.000", "", "", "", "0",
            NOT_CREATED.message, ""]),
    T.join(["public.bad_defaults", "public.bad_defaults", "skipped", "", "", "", "", "", "", "",
            "failed in validate_restore: function getdate() does not exist", ""]),
    T.join(["public.geo_shapes", "public.geo_shapes", "skipped", "", "", "", "", "", "", "",
            "unsupported in rewrite_ddl: column shape: GEOGRAPHY is not supported", ""]),
]
SYNC_COLUMNS = ["sync_mode", "watermark_from", "watermark_to", "rows_inserted", "rows_updated", "rows_deleted",
                "sync_note"]
# the sync columns come after `change`; no table of the sample is synced incrementally
EXPECTED_TABLES = [EXPECTED_TABLES[0] + T + T.join(SYNC_COLUMNS)] + [line + T * len(SYNC_COLUMNS)
                                                                    for line in EXPECTED_TABLES[1:]]


def expected_log(report_time: str = REPORT_TIME) -> list[str]:
    def line(at: str, step: str, table: str = "-", phase: str = "-", event: str = "", duration: str = "-",
             detail: str = "-") -> str:
        return T.join([at, step, table, phase, event, duration, detail])

    return [
        T.join(["timestamp", "step", "table", "phase", "event", "duration_s", "detail"]),
        line(ts(0), "dump_schema", event="started"),
        line(ts(5), "dump_schema", event="finished", duration="5.000", detail="tables=7"),
        line(ts(5.5), "rewrite_ddl", event="started"),
        line(ts(6.5), "rewrite_ddl", event="finished", duration="1.000", detail="converted=6 unsupported=2"),
        line(ts(7), "validate_restore", event="started"),
        line(ts(9), "validate_restore", event="finished", duration="2.000", detail="partial: applied=5 failed=1"),
        line(ts(10), "load_schema_pre_data", event="started"),
        line(ts(11.5), "load_schema_pre_data", phase="apply", event="finished", duration="1.500"),
        line(ts(12), "load_schema_pre_data", event="finished", duration="2.000"),
        line(ts(12), "table_transfer", 'public."Odd Name"', event="started"),
        line(ts(12), "table_transfer", 'public."Odd Name"', event="skipped", duration="0.000",
             detail=NOT_CREATED.message),
        line(ts(13), "table_transfer", "public.customers", event="started"),
        line(ts(13), "table_transfer", "public.sales", event="started"),
        line(ts(13.5), "table_transfer", "public.events", event="started"),
        line(ts(14), "table_transfer", "public.customers", "unload", "failed", "1.000"),
        line(ts(14), "table_transfer", "public.events", "unload", "finished", "0.500"),
        line(ts(14.5), "table_transfer", "public.customers", event="retried",
             detail="attempt 2 after TransientError: connection lost while copying part 2"),
        line(ts(15), "table_transfer", "public.events", "load", "failed", "1.000"),
        line(ts(15), "table_transfer", "public.events", event="failed", duration="1.500",
             detail="TargetError: value too long for type character varying(10) (22001)"),
        line(ts(15.5), "table_transfer", "public.customers", "unload", "finished", "1.000"),
        line(ts(16), "table_transfer", "public.sales", "unload", "finished", "3.000"),
        line(ts(17), "table_transfer", "public.customers", "load", "finished", "1.500"),
        line(ts(17), "table_transfer", "public.customers", event="finished", duration="4.000", detail="rows=50"),
        line(ts(18), "table_transfer", "public.sales", "copy", "finished", "2.000"),
        line(ts(22.5), "table_transfer", "public.sales", "load", "finished", "4.500"),
        line(ts(23), "table_transfer", "public.sales", "verify", "finished", "0.500"),
        line(ts(23), "table_transfer", "public.sales", event="finished", duration="10.000", detail="rows=1000"),
        line(report_time, "report", "public.ghost", event="not_run", detail=NO_RESULT),
        line(report_time, "report", event="failed",
             detail="planned=4 succeeded=2 failed=1 skipped=0 not_run=1"),
    ]
