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


# The run folder's names, relative to its root (fixed by DESIGN.md). RunLayout builds every URL from them; another
# module imports a name only to show it (a message, a report's key for a document), never to build a URL of its own.
SCHEMA_REDSHIFT_SQL = "schema_redshift.sql"
CATALOG_JSON = "catalog.json"
PRE_DATA_SQL = "pre_data.sql"
POST_DATA_SQL = "post_data.sql"
VIEWS_SQL = "views.sql"
COMPAT_SQL = "compat.sql"
NAME_MAP_JSON = "name_map.json"
REWRITE_REPORT_JSON = "rewrite_report.json"
SCHEMA_ALLOYDB_SQL = "schema_alloydb.sql"
VALIDATION_REPORT_JSON = "validation_report.json"
LOAD_REPORT_JSON = "load_report.json"
TABLES_JSON = "tables.json"
FANOUT_JSON = "fanout.json"
POST_DATA_REPORT_JSON = "post_data_report.json"
PLAN_JSON = "plan.json"  # steps/plan: sizes and estimates, before a byte moves
RUN_LOCK = "run.lock"
PRE_DATA_PROGRESS_JSON = "load_schema_pre_data_progress.json"
RESULTS_DIR = "results/"
BATCHES_DIR = "batches/"
STEPS_DIR = "steps/"
CLAIMS_DIR = "claims/"
STAGING_DIR = "staging/"
REPORT_DIR = "report/"
# The report's own files in report/ (beside its copies of the schema dumps and its <run_id>.log and .tables).
SUMMARY_JSON = "summary.json"
READINESS_JSON = "readiness.json"
REPORT_HTML = "report.html"
SECTIONS = ("pre-data", "post-data")


def validated_sql_name(section: str) -> str:
    """validate_restore's output for one load_schema section ("pre-data", "post-data")."""
    return f"validated_{_section(section)}.sql"


def result_name(table: TableRef) -> str:
    """Where table_transfer records `table`'s result, relative to the run root."""
    return f"{RESULTS_DIR}{table.file_stem()}.json"


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

    def _artifact(self, name: str) -> str:
        return self.root + name

    def relative(self, url: str) -> str:
        """`url`'s path inside the run folder ("results/public.sales.json"); a URL outside it, unchanged."""
        return url.removeprefix(self.root)

    # Schema phase artifacts.
    schema_redshift_sql = property(lambda self: self._artifact(SCHEMA_REDSHIFT_SQL))
    catalog_json = property(lambda self: self._artifact(CATALOG_JSON))
    pre_data_sql = property(lambda self: self._artifact(PRE_DATA_SQL))
    post_data_sql = property(lambda self: self._artifact(POST_DATA_SQL))
    views_sql = property(lambda self: self._artifact(VIEWS_SQL))
    compat_sql = property(lambda self: self._artifact(COMPAT_SQL))
    name_map_json = property(lambda self: self._artifact(NAME_MAP_JSON))
    rewrite_report_json = property(lambda self: self._artifact(REWRITE_REPORT_JSON))
    schema_alloydb_sql = property(lambda self: self._artifact(SCHEMA_ALLOYDB_SQL))
    validation_report_json = property(lambda self: self._artifact(VALIDATION_REPORT_JSON))
    load_report_json = property(lambda self: self._artifact(LOAD_REPORT_JSON))
    tables_json = property(lambda self: self._artifact(TABLES_JSON))
    fanout_json = property(lambda self: self._artifact(FANOUT_JSON))
    post_data_report_json = property(lambda self: self._artifact(POST_DATA_REPORT_JSON))
    plan_json = property(lambda self: self._artifact(PLAN_JSON))
    lock = property(lambda self: self._artifact(RUN_LOCK))
    pre_data_progress_json = property(lambda self: self._artifact(PRE_DATA_PROGRESS_JSON))

    # validate_restore's outputs per load_schema section ("pre-data", "post-data"; None: the whole schema dump).
    def validated_sql(self, section: str) -> str:
        return self._artifact(validated_sql_name(section))

    def schema_alloydb_section_sql(self, section: str | None) -> str:
        return self.schema_alloydb_sql if section is None else self._artifact(f"schema_alloydb_{_section(section)}.sql")

    @property
    def results_prefix(self) -> str:
        return self._artifact(RESULTS_DIR)

    def result(self, table: TableRef) -> str:
        return self._artifact(result_name(table))

    @property
    def batches_prefix(self) -> str:
        return self._artifact(BATCHES_DIR)

    def batch(self, batch_id: str) -> str:
        return f"{self.batches_prefix}{batch_id}.json"

    @property
    def steps_prefix(self) -> str:
        return self._artifact(STEPS_DIR)

    def step_result(self, step: str) -> str:
        return f"{self.steps_prefix}{step}.json"

    @property
    def claims_root(self) -> str:
        """Every table's claims (shared/documents/claim.py), a folder per table."""
        return self._artifact(CLAIMS_DIR)

    def claims_prefix(self, table: TableRef) -> str:
        """Where the attempts of `table`'s transfer claim the files they load."""
        return f"{self.claims_root}{table.file_stem()}/"

    def claim(self, table: TableRef, attempt: int) -> str:
        return f"{self.claims_prefix(table)}attempt-{attempt:03d}"

    @property
    def report_prefix(self) -> str:
        return self._artifact(REPORT_DIR)

    def report(self, name: str) -> str:
        """A file of the report's, in report/ (the report step names its own files)."""
        return self.report_prefix + name

    summary_json = property(lambda self: self.report(SUMMARY_JSON))
    readiness_json = property(lambda self: self.report(READINESS_JSON))

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
        return self._artifact(f"{STAGING_DIR}{table.file_stem()}/")


def _section(section: str) -> str:
    if section not in SECTIONS:
        raise ValueError(f"section {section!r} is not one of {', '.join(SECTIONS)}")
    return section.replace("-", "_")
