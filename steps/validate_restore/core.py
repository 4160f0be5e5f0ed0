"""validate_restore: keep only what PostgreSQL accepts, and take the second backup with the real pg_dump.

Reads compat.sql, pre_data.sql, views.sql and post_data.sql from the run folder, applies them in that order to
a fresh database of the scratch server (in dependency order, with retries and skips: shared/applyengine.py), then
writes:
- validation_report.json: every object with applied / failed (PostgreSQL's error) / skipped (the cause);
- schema_alloydb.sql (whole schema) and schema_alloydb_pre_data.sql / schema_alloydb_post_data.sql
  (pg_dump --section), the backups the report copies;
- validated_pre_data.sql (compat + pre-data) and validated_post_data.sql (views + post-data): only the blocks
  that succeeded, in the order they succeeded, with their markers, for load_schema.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from shared.applyengine import AppliedInOrder
from shared.connections import dsn_connection
from shared.ddlsession import pin_ddl_session
from shared.documents.objects import ObjectOutcome, ObjectsReport
from shared.errors import BadStateError
from shared.identifiers import one_part
from shared.log import event
from shared.objects_report import ObjectReport
from shared.objectstore import ObjectStore, RunLayout
from shared.results import PhaseClock, PhaseTiming
from shared.sqlapply import SavepointApplier, StatementError
from shared.sqlblocks import SqlObject, parse, render
from shared.sqlcheck import refusal
from steps.validate_restore import pgdump
from steps.validate_restore.apply import apply_objects
from steps.validate_restore.scratch import STEP, scratch_database

ROLE_KINDS = ("user", "group")
SECTIONS = ("pre-data", "post-data")  # validated_<section>.sql: what each load_schema section applies
DUMP_SECTIONS = (None, *SECTIONS)  # schema_alloydb[_<section>].sql: the whole dump and each section's


@dataclass
class ValidationSummary:
    counts: dict[str, int]
    passes: int
    outputs: list[str]
    server_version_num: int
    pg_dump_version: str
    phases: list[PhaseTiming] = field(default_factory=list)

    @property
    def all_applied(self) -> bool:
        return self.counts.get("failed", 0) == 0 and self.counts.get("skipped", 0) == 0


@dataclass
class Input:
    obj: SqlObject
    source_file: str
    group: str  # the load_schema section that replays it


def input_files(layout: RunLayout) -> tuple[tuple[str, str], ...]:
    """(URL, group) of rewrite_ddl's files, in the order they are applied; the group says which load_schema
    section replays the object."""
    return ((layout.compat_sql, "pre-data"), (layout.pre_data_sql, "pre-data"), (layout.views_sql, "post-data"),
            (layout.post_data_sql, "post-data"))


def read_inputs(store: ObjectStore, layout: RunLayout) -> list[Input]:
    """Every object of the four files in application order; BadInput/BadState before any work."""
    objects: list[Input] = []
    for url, group in input_files(layout):
        filename = url.rsplit("/", 1)[-1]
        if not store.exists(url):
            if url == layout.compat_sql:  # rewrite_ddl may have no compat function to write
                continue
            raise BadStateError(f"{url} does not exist", "Run rewrite_ddl for this run first")
        objects.extend(Input(obj, filename, group) for obj in parse(store.read_text(url), filename))
    return objects


def report_entry(report: ObjectReport, attempts: int, item: Input) -> ObjectOutcome:
    return ObjectOutcome(report.kind, report.name, report.target_name, report.status, report.reason or None,
                         tuple(item.obj.depends_on), tuple(dict(item.obj.extra).get("changes", ())),
                         {"source_file": item.source_file, "attempts": attempts})


def build_report(run_id: str, inputs: list[Input], result: AppliedInOrder, server_version_num: int,
                 pg_dump_version: str) -> ObjectsReport:
    return ObjectsReport.of(run_id, STEP, (report_entry(r, n, i)
                                           for r, n, i in zip(result.reports, result.attempts, inputs, strict=True)),
                            always_counted=("applied", "failed", "skipped"), passes=result.passes,
                            scratch_server_version_num=server_version_num, pg_dump_version=pg_dump_version)


def created_roles(objects: list[SqlObject]) -> set[str]:
    """The role names rewrite_ddl's user and group objects create (their names are canonical: one part)."""
    return {one_part(obj.target_name or obj.name) for obj in objects if obj.kind in ROLE_KINDS}


def _refused(obj: SqlObject) -> StatementError | None:
    """A block that is not exactly one statement of its kind never reaches the server; it is reported failed."""
    reason = refusal(obj)
    return StatementError(f"not applied: {reason}", None) if reason else None


def validated_sql(result: AppliedInOrder, groups: dict[int, str], group: str, run_id: str) -> str:
    chosen = [obj for obj in result.applied_order if groups[id(obj)] == group]
    return (f"-- r2a {group} objects of run {run_id} that PostgreSQL accepted, in the order they were applied\n\n"
            + render(chosen))


def validate(run_id: str, scratch_dsn: str, store: ObjectStore, layout: RunLayout) -> ValidationSummary:
    phases: list[PhaseTiming] = []
    clock = PhaseClock(phases)
    with clock.phase("read"):
        inputs = read_inputs(store, layout)
    objects = [item.obj for item in inputs]
    groups = {id(item.obj): item.group for item in inputs}
    with scratch_database(scratch_dsn, run_id, created_roles(objects)) as scratch:
        dumper = pgdump.find_pg_dump(scratch.server_major)
        with clock.phase("apply"):
            conn = dsn_connection(scratch.dsn, STEP, system="scratch PostgreSQL")
            try:
                pin_ddl_session(conn)
                applier = SavepointApplier(conn, system="scratch PostgreSQL")
                with conn.cursor() as cur:
                    cur.execute("set synchronous_commit = off")  # a throw-away database needs no durability
                applier.commit()
                result = apply_objects(objects, lambda obj: _refused(obj) or applier.run(obj.sql))
                applier.commit()
            finally:
                conn.close()
        for report in result.reports:
            if report.status == "failed":
                event("object.failed", level=logging.WARNING, kind=report.kind, object=report.name,
                      reason=report.reason)
        with clock.phase("pg_dump"):
            dumps = {section: pgdump.dump_schema(dumper, scratch.dsn, section) for section in DUMP_SECTIONS}
    with clock.phase("write"):
        outputs = []
        for section in DUMP_SECTIONS:
            outputs.append(layout.schema_alloydb_section_sql(section))
            store.write_text(outputs[-1], dumps[section], "application/sql")
        for group in SECTIONS:
            outputs.append(layout.validated_sql(group))
            store.write_text(outputs[-1], validated_sql(result, groups, group, run_id), "application/sql")
        report = build_report(run_id, inputs, result, scratch.server_version_num, dumper.version)
        outputs.append(layout.validation_report_json)
        store.write_json(outputs[-1], report.to_json())
    return ValidationSummary(report.counts, result.passes, outputs, scratch.server_version_num,
                             dumper.version, phases)
