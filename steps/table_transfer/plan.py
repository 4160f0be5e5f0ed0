"""What to move: the table entries of tables.json (or of one batch of it) and the transfer options.

A table entry names the Redshift table, the AlloyDB table and, per column, the Redshift expression UNLOAD
selects and the PostgreSQL column it lands in. The select list is always explicit (never `*`), so a column
dropped or renamed by rewrite_ddl stays dropped or renamed here.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from shared.documents._checks import format_version, object_list, ref, text
from shared.documents.batch import Batch
from shared.documents.tables import FORMAT_VERSION as TABLES_FORMAT_VERSION
from shared.documents.tables import PlannedTable
from shared.errors import BadInputError
from shared.identifiers import TableRef, parse_table_ref
from shared.objectstore import ObjectStore, RunLayout
from shared.redshift_types import BARE, UNLOAD_TEMPLATES, unload_select

FORMATS = ("text", "csv")
COMPRESSIONS = ("gzip", "zstd")
VERIFY_MODES = ("count", "checksum")
CLEANUP_TARGETS = ("s3", "gcs")
MIN_FILE_MB = 5
MAX_FILE_MB = 6.2 * 1024
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(MB|GB)\s*$", re.IGNORECASE)
_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_MARKER = re.compile(r"^[A-Za-z0-9_]{16,64}$")

@dataclass(frozen=True)
class ColumnSpec:
    source: str
    target: str
    unload_expression: str
    target_type: str | None = None
    source_type: str | None = None

    def select_expression(self) -> str:
        """What UNLOAD selects: the plan's bare column goes through its type's row of shared/redshift_types."""
        if self.unload_expression != _quoted(self.source):
            return self.unload_expression
        return unload_select(self.source_type, self.target_type).replace(BARE, self.unload_expression)


@dataclass(frozen=True)
class TableSpec:
    source: TableRef
    target: TableRef
    columns: tuple[ColumnSpec, ...]
    estimated_rows: int = 0
    size_mb: float = 0

    @property
    def name(self) -> str:
        return str(self.source)


def new_null_marker() -> str:
    """The `NULL AS` string of one transfer: letters, digits and `_` only, so that neither ESCAPE (backslash,
    delimiter, CR, LF, quotes) nor CSV quoting has anything to change in it, whether or not Redshift applies them
    to the NULL AS string (AWS does not say; a field report says ESCAPE is applied); 128 random bits, drawn per
    run, so no value stored before the run can equal it."""
    return "r2a_null_" + secrets.token_hex(16)


# Small enough that parts reach S3 while the UNLOAD still runs (each slice closes a part at this size), so copy
# and load overlap the unload; large enough that a terabyte (about 250 GB of ZSTD) is under ten thousand parts.
# transfer_bench, 2 GB: 32 MB parts ended 3.8 s after the UNLOAD, 64 MB ones (half as many) 8.6 s after it.
DEFAULT_MAX_FILE_SIZE = "32MB"

# Below it the truncate-insert switch keeps readers waiting about as long as the rename switch's catalog work
# (steps/table_transfer/README.md, "The switch"), and it leaves the table's catalog entries untouched.
DEFAULT_RENAME_SWITCH_MB = 1.0

# The sync window of a table up to this size (svv_table_info's, in the plan) is COPYed and merged in one AlloyDB
# transaction; a larger table's window is loaded part by part into a shadow through the part ledger (resumable) and
# merged in the switch's transaction (steps/table_transfer/sync_load.py). 256 MB is eight parts of the default
# MAXFILESIZE: below it the ledger's shadow, claims and extra transactions cost more than a lost window's reload.
DEFAULT_MERGE_IN_ONE_MB = 256.0


@dataclass(frozen=True)
class TransferOptions:
    format: str = "text"
    compression: str = "zstd"
    parallel_parts: int = 4
    max_file_size: str | None = DEFAULT_MAX_FILE_SIZE
    cleanup: tuple[str, ...] = ()
    verify: str = "count"
    dry_run: bool = False
    load_sessions: int = 1  # COPY sessions, each committing whole parts
    null_marker: str = field(default_factory=new_null_marker)  # written by UNLOAD for NULL, read by COPY as NULL
    rename_switch_mb: float = DEFAULT_RENAME_SWITCH_MB  # a target at least this big is switched by renames
    merge_in_one_mb: float = DEFAULT_MERGE_IN_ONE_MB  # a larger sync window is loaded part by part

    def __post_init__(self) -> None:
        _choice("--format", self.format, FORMATS)
        _choice("--compression", self.compression, COMPRESSIONS)
        _choice("--verify", self.verify, VERIFY_MODES)
        for target in self.cleanup:
            _choice("--cleanup", target, CLEANUP_TARGETS)
        if not 1 <= self.parallel_parts <= 64:
            raise BadInputError(f"--parallel-parts {self.parallel_parts} must be between 1 and 64")
        if self.rename_switch_mb < 0:
            raise BadInputError(f"--rename-switch-mb {self.rename_switch_mb} must not be negative")
        if self.merge_in_one_mb < 0:
            raise BadInputError(f"--merge-in-one-mb {self.merge_in_one_mb} must not be negative")
        if not 1 <= self.load_sessions <= 64:
            raise BadInputError(f"--load-sessions {self.load_sessions} must be between 1 and 64")
        if self.max_file_size is not None:
            max_file_size_clause(self.max_file_size)
        if not _MARKER.match(self.null_marker):
            raise BadInputError("the NULL marker must be 16 to 64 letters, digits or '_'")


@dataclass
class Selection:
    """The tables one invocation moves: one (`--table`) or a batch's (`--batch`)."""

    tables: list[TableSpec]
    batch_id: str | None = None
    missing: list[TableRef] = field(default_factory=list)  # named by the batch but absent from tables.json


def _choice(flag: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BadInputError(f"{flag} {value!r} is not one of {', '.join(allowed)}")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def parse_cleanup(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(part.strip().lower() for part in text.split(",") if part.strip())


def max_file_size_clause(text: str) -> tuple[str, str]:
    """`6.2GB` → ("6.2", "GB"); UNLOAD accepts 5 MB to 6.2 GB."""
    match = _SIZE.match(text)
    if not match:
        raise BadInputError(f"--max-file-size {text!r} is not a size like 256MB or 6.2GB")
    number, unit = match.group(1), match.group(2).upper()
    megabytes = float(number) * (1024 if unit == "GB" else 1)
    if not MIN_FILE_MB <= megabytes <= MAX_FILE_MB:
        raise BadInputError(f"--max-file-size {text!r} is outside UNLOAD's range 5MB..6.2GB")
    return number, unit


# ------------------------------------------------------------------------------------------ plan entries

def _unload_expression(value: Any, column: str, where: str) -> str:
    """One of the forms rewrite_ddl writes for `column`, never free text: the expression runs inside UNLOAD on
    Redshift, and tables.json is a file in the run folder, not code."""
    expression = text(value, where)
    if expression not in {template.replace("{column}", _quoted(column)) for template in UNLOAD_TEMPLATES}:
        raise BadInputError(f"{where} {expression[:200]!r} is not an expression r2a writes for column "
                            f"{column[:200]!r}", "Run rewrite_ddl and load_schema again for this run")
    return expression


def table_spec(entry: Any, where: str) -> TableSpec:
    """One tables.json entry (shared/documents/tables.py), checked: it must have columns, and each column's
    unload_expression one of the forms rewrite_ddl writes."""
    planned = PlannedTable.from_json(entry, where)
    if not planned.columns:
        raise BadInputError(f"{where}.columns must be a non-empty list")
    columns = tuple(ColumnSpec(source=c.source, target=c.target,
                               unload_expression=_unload_expression(c.unload_expression, c.source,
                                                                    f"{where}.columns[{number}].unload_expression"),
                               target_type=c.target_type, source_type=c.source_type)
                    for number, c in enumerate(planned.columns))
    return TableSpec(planned.source, planned.target, columns, int(planned.estimated_rows), float(planned.size_mb))


def _index(document: Any, url: str) -> dict[TableRef, tuple[Any, str]]:
    """Each tables.json entry by its Redshift table; only the entries a transfer selects are read in full."""
    format_version(document, url, TABLES_FORMAT_VERSION)
    index: dict[TableRef, tuple[Any, str]] = {}
    for position, entry in enumerate(object_list(document, "tables", url)):
        where = f"{url}: tables[{position}]"
        if not isinstance(entry, dict):
            raise BadInputError(f"{where} must be an object")
        index[ref(entry.get("source"), f"{where}.source")] = (entry, where)
    return index


def select_tables(store: ObjectStore, layout: RunLayout, *, table: str | None, batch: str | None,
                  plan_url: str | None) -> Selection:
    """The plan entries for `--table schema.table` or `--batch ID` (exactly one of them)."""
    if (table is None) == (batch is None):
        raise BadInputError("give exactly one of --table schema.table or --batch ID")
    url = plan_url or layout.tables_json
    if table is not None:
        wanted, batch_id = [parse_table_ref(table)], None
    else:
        if not _BATCH_ID.match(batch or ""):
            raise BadInputError(f"--batch {batch!r} is not a batch id like batch-0007")
        batch_url = layout.batch(batch)
        names = Batch.read(store, batch_url).tables
        wanted, batch_id = [parse_table_ref(n) for n in names], batch
    index = _index(store.read_json(url), url)
    selection = Selection([], batch_id)
    for wanted_table in wanted:
        if wanted_table in index:
            entry, where = index[wanted_table]
            selection.tables.append(table_spec(entry, where))
        else:
            selection.missing.append(wanted_table)
    return selection
