"""Where everything of a run lives: the run id and `RunLayout`, which builds every object key a step reads or
writes (`gs://<bucket>/<prefix>/<run_id>/…` and the S3 staging of UNLOAD). shared.objectstore re-exports both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.config import GCSSettings, S3Settings
from shared.errors import BadInputError, ConfigError
from shared.identifiers import TableRef

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def new_run_id(database: str, now: datetime | None = None) -> str:
    """`<database>_<YYYYMMDD_HHMMSS>` in UTC, as the old system named its files."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d_%H%M%S")
    safe_db = re.sub(r"[^A-Za-z0-9_.-]", "_", database) or "db"
    return f"{safe_db}_{stamp}"


def check_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.match(run_id or ""):
        raise BadInputError(f"run id {run_id!r} is not valid (letters, digits, '_', '.', '-'; at most 100)",
                            "Use the form <database>_<YYYYMMDD_HHMMSS>")
    return run_id



@dataclass(frozen=True)
class RunLayout:
    """Where every artifact of one run lives: `gs://<bucket>/<prefix>/<run_id>/…` and S3 staging."""

    run_id: str
    gcs_bucket: str
    gcs_prefix: str = "r2a"
    s3_bucket: str | None = None
    s3_prefix: str = "r2a"

    def __post_init__(self) -> None:
        check_run_id(self.run_id)

    @classmethod
    def from_settings(cls, run_id: str, gcs: GCSSettings, s3: S3Settings | None = None) -> RunLayout:
        if not gcs.bucket:
            raise ConfigError("missing setting: R2A_GCS_BUCKET", "Name the GCS bucket that holds run folders")
        return cls(run_id=run_id, gcs_bucket=gcs.bucket, gcs_prefix=gcs.prefix.strip("/"),
                   s3_bucket=s3.bucket if s3 else None, s3_prefix=(s3.prefix if s3 else "r2a").strip("/"))

    @property
    def root(self) -> str:
        prefix = f"{self.gcs_prefix}/" if self.gcs_prefix else ""
        return f"gs://{self.gcs_bucket}/{prefix}{self.run_id}/"

    def artifact(self, name: str) -> str:
        return self.root + name

    # Schema phase artifacts (names fixed by DESIGN.md).
    schema_redshift_sql = property(lambda self: self.artifact("schema_redshift.sql"))
    catalog_json = property(lambda self: self.artifact("catalog.json"))
    pre_data_sql = property(lambda self: self.artifact("pre_data.sql"))
    post_data_sql = property(lambda self: self.artifact("post_data.sql"))
    views_sql = property(lambda self: self.artifact("views.sql"))
    compat_sql = property(lambda self: self.artifact("compat.sql"))
    name_map_json = property(lambda self: self.artifact("name_map.json"))
    rewrite_report_json = property(lambda self: self.artifact("rewrite_report.json"))
    schema_alloydb_sql = property(lambda self: self.artifact("schema_alloydb.sql"))
    validation_report_json = property(lambda self: self.artifact("validation_report.json"))
    load_report_json = property(lambda self: self.artifact("load_report.json"))
    tables_json = property(lambda self: self.artifact("tables.json"))
    fanout_json = property(lambda self: self.artifact("fanout.json"))
    post_data_report_json = property(lambda self: self.artifact("post_data_report.json"))
    plan_json = property(lambda self: self.artifact("plan.json"))  # steps/plan: sizes and estimates, before a byte
    lock = property(lambda self: self.artifact("run.lock"))
    pre_data_progress_json = property(lambda self: self.artifact("load_schema_pre_data_progress.json"))

    # validate_restore's outputs per load_schema section ("pre-data", "post-data"; None: the whole schema dump).
    def validated_sql(self, section: str) -> str:
        return self.artifact(f"validated_{_section(section)}.sql")

    def schema_alloydb_section_sql(self, section: str | None) -> str:
        return self.schema_alloydb_sql if section is None else self.artifact(f"schema_alloydb_{_section(section)}.sql")

    @property
    def results_prefix(self) -> str:
        return self.artifact("results/")

    def result(self, table: TableRef) -> str:
        return f"{self.results_prefix}{table.file_stem()}.json"

    @property
    def batches_prefix(self) -> str:
        return self.artifact("batches/")

    def batch(self, batch_id: str) -> str:
        return f"{self.batches_prefix}{batch_id}.json"

    @property
    def steps_prefix(self) -> str:
        return self.artifact("steps/")

    def step_result(self, step: str) -> str:
        return f"{self.steps_prefix}{step}.json"

    def claims_prefix(self, table: TableRef) -> str:
        """Where the attempts of `table`'s transfer claim the files they load."""
        return self.artifact(f"claims/{table.file_stem()}/")

    @property
    def report_prefix(self) -> str:
        return self.artifact("report/")

    def report(self, name: str) -> str:
        return self.report_prefix + name

    def unload_prefix(self, table: TableRef, attempt: int) -> str:
        """S3 prefix UNLOAD writes one attempt's files to; a new attempt never sees an older one's files."""
        return f"{self.unload_table_prefix(table)}attempt-{attempt:03d}/"

    def key_set_prefix(self, table: TableRef, attempt: int) -> str:
        """S3 prefix of one attempt's key-set UNLOAD (an incremental sync's mirror_deletes), beside its rows'."""
        return f"{self.unload_table_prefix(table)}keys-{attempt:03d}/"

    def key_set_staging_prefix(self, table: TableRef, attempt: int) -> str:
        return f"{self.staging_table_prefix(table)}keys-{attempt:03d}/"

    def unload_table_prefix(self, table: TableRef) -> str:
        """Every attempt's UNLOAD files of `table` in this run."""
        if not self.s3_bucket:
            raise ConfigError("missing setting: R2A_S3_BUCKET", "Name the S3 bucket UNLOAD writes to")
        prefix = f"{self.s3_prefix}/" if self.s3_prefix else ""
        return f"s3://{self.s3_bucket}/{prefix}{self.run_id}/{table.file_stem()}/"

    def staging_prefix(self, table: TableRef, attempt: int) -> str:
        return f"{self.staging_table_prefix(table)}attempt-{attempt:03d}/"

    def staging_table_prefix(self, table: TableRef) -> str:
        """Every attempt's staged copies of `table` in this run's folder."""
        return self.artifact(f"staging/{table.file_stem()}/")


SECTIONS = ("pre-data", "post-data")


def _section(section: str) -> str:
    if section not in SECTIONS:
        raise ValueError(f"section {section!r} is not one of {', '.join(SECTIONS)}")
    return section.replace("-", "_")
