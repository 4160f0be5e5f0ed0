"""Each step's name, declared once: its package under steps/, its `r2a <step>:` error lines, its steps/<step>.json
record, its log field and the connections' application_name all use these (tests/shared/test_stepnames.py)."""

DUMP_SCHEMA = "dump_schema"
REWRITE_DDL = "rewrite_ddl"
VALIDATE_RESTORE = "validate_restore"
LOAD_SCHEMA = "load_schema"
PLAN = "plan"  # dry-run only: sizes and estimates before a byte moves
TABLE_TRANSFER = "table_transfer"
REPORT = "report"

STEPS = (DUMP_SCHEMA, REWRITE_DDL, VALIDATE_RESTORE, PLAN, LOAD_SCHEMA, TABLE_TRANSFER, REPORT)  # in pipeline order
