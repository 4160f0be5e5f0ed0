"""The documents of the run folder, each defined once: a frozen dataclass, its JSON Schema
(shared/schemas/<document>.schema.json), `from_json` / `to_json()` / `read(store, url)` and a FORMAT_VERSION.

| document | module | writer → readers |
|---|---|---|
| catalog.json | shared/documents/catalog.py | dump_schema → rewrite_ddl |
| name_map.json | shared/documents/name_map.py | rewrite_ddl → load_schema pre-data, plan |
| tables.json | shared/documents/tables.py | load_schema pre-data → table_transfer, load_schema post-data, report, r2a status |
| fanout.json | shared/documents/fanout.py | load_schema pre-data (the items it prints for Argo's loop) → tests |
| load_schema_pre_data_progress.json | shared/documents/progress.py | load_schema pre-data → its own retried attempt |
| plan.json | shared/documents/run_plan.py | plan (dry run) → r2a plan, report |
| batches/<batch_id>.json | shared/documents/batch.py | load_schema pre-data → table_transfer --batch, report |
| rewrite_report.json, validation_report.json, load_report.json, post_data_report.json | shared/documents/objects.py (one ObjectOutcome per object, one status vocabulary) | rewrite_ddl, validate_restore, load_schema (table_transfer's finishing rewrites post-data's) → report, plan, load_schema |
| report/readiness.json | shared/documents/readiness.py | report --readiness, r2a readiness, r2a cutover (shared/readiness.py judges) → r2a cutover |
| results/*.json, steps/*.json | shared/results.py (shared/schemas/result.schema.json) | every step → report, r2a status |
| claims/<table>/attempt-<NNN> | shared/documents/claim.py | table_transfer, before its UNLOAD → table_transfer (the next attempt's number, from the names) |
| report/summary.json | shared/documents/summary.py | report → r2a readiness (and the report step's --readiness), make demo |

Writers build the dataclass and write `to_json()`; readers call `read` (or `from_json` on a document they hold),
which raises one BadInputError line naming the file and the JSON path of the first problem. A document whose
format_version is not the one its module reads is refused by that version before any field is read; a document
without one (written by hand, as tests do) reads as the current version.
"""
