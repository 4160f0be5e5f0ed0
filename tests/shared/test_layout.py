import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import shared.layout
from shared.config import load_settings
from shared.errors import BadInputError, ConfigError
from shared.identifiers import TableRef
from shared.layout import SECTIONS, result_name, validated_sql_name
from shared.objectstore import RunLayout, new_run_id, split_url


def test_run_id_format():
    assert new_run_id("dev", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)) == "dev_20250304_050607"
    assert new_run_id("my db/x", datetime(2025, 3, 4, tzinfo=UTC)) == "my_db_x_20250304_000000"


def test_layout_paths():
    layout = RunLayout("dev_20250304_050607", gcs_bucket="art", gcs_prefix="r2a", s3_bucket="unl", s3_prefix="p")
    ref = TableRef("public", "Sales Q1")
    assert layout.catalog_json == "gs://art/r2a/dev_20250304_050607/catalog.json"
    assert layout.result(ref) == "gs://art/r2a/dev_20250304_050607/results/public.Sales%20Q1.json"
    assert layout.unload_prefix(ref, 2) == "s3://unl/p/dev_20250304_050607/public.Sales%20Q1/attempt-002/"
    assert layout.report("dev_20250304_050607.tables").endswith("/report/dev_20250304_050607.tables")


@pytest.mark.parametrize("run_id", ["", "../etc", "a/b", "x" * 101])
def test_bad_run_ids_are_refused(run_id):
    with pytest.raises(BadInputError):
        RunLayout(run_id, gcs_bucket="b")


def test_layout_from_settings_requires_a_bucket():
    with pytest.raises(ConfigError, match="R2A_GCS_BUCKET"):
        RunLayout.from_settings("dev_20250101_000000", load_settings({}).gcs)


def test_split_url():
    assert split_url("gs://b/k/x.json") == ("gs", "b", "k/x.json")
    with pytest.raises(BadInputError):
        split_url("/local/path")


def test_section_accessors():
    layout = RunLayout("dev_20250304_050607", gcs_bucket="art")
    assert layout.validated_sql("pre-data") == layout.root + "validated_pre_data.sql"
    assert layout.schema_alloydb_section_sql("post-data") == layout.root + "schema_alloydb_post_data.sql"
    assert layout.schema_alloydb_section_sql(None) == layout.schema_alloydb_sql
    assert layout.claims_prefix(TableRef("s", "t")) == layout.root + "claims/s.t/"
    assert layout.claim(TableRef("s", "t"), 3) == layout.root + "claims/s.t/attempt-003"
    assert layout.pre_data_progress_json == layout.root + "load_schema_pre_data_progress.json"
    assert layout.summary_json == layout.root + "report/summary.json"
    assert layout.relative(layout.result(TableRef("s", "t b"))) == result_name(TableRef("s", "t b")) == "results/s.t%20b.json"
    assert layout.relative("gs://other/x.json") == "gs://other/x.json"
    with pytest.raises(ValueError, match="section"):
        layout.validated_sql("all")


ROOT = Path(__file__).resolve().parents[2]
PRODUCT_FOLDERS = ("shared", "steps", "workflows", "benchmarks")  # what ships or measures; tests name files freely
ARTIFACT_CALL = re.compile(r"\._?artifact\(")


def _sources(*folders: str) -> dict[str, str]:
    """Every Python file under `folders`, by path relative to the repository, except shared/layout.py."""
    files = {str(path.relative_to(ROOT)): path.read_text() for folder in folders for path in (ROOT / folder).rglob("*.py")}
    files.pop("shared/layout.py")
    return files


def _named_urls(layout: RunLayout) -> tuple[list[str], list[str]]:
    """The URLs RunLayout names outright (its properties), and some it builds from an argument (a table, a step)."""
    ref = TableRef("s", "t")
    named = [getattr(layout, name) for name, value in vars(RunLayout).items() if isinstance(value, property)]
    built = [layout.result(ref), layout.batch("batch-0001"), layout.step_result("plan"), layout.claims_prefix(ref),
             layout.staging_table_prefix(ref), layout.report("x.log")]
    built += [layout.validated_sql(s) for s in SECTIONS] + [layout.schema_alloydb_section_sql(s) for s in SECTIONS]
    return named, built


def _run_folder_names() -> tuple[set[str], set[str], set[str]]:
    """(file names, folder names, first parts of names built from a section) of the run folder, from layout's
    constants and from the URLs RunLayout gives out, so that a name added to layout is looked for at once."""
    layout = RunLayout("dev_20250304_050607", gcs_bucket="art", s3_bucket="unl")
    constants = {value for name, value in vars(shared.layout).items() if name.isupper() and isinstance(value, str)}
    named, built = _named_urls(layout)
    fixed = {layout.relative(url) for url in named if url.startswith(layout.root) and url != layout.root}
    folders = {path.split("/")[0] + "/" for path in fixed | {layout.relative(url) for url in built} if "/" in path}
    files = {path.split("/")[-1] for path in fixed} - {""}  # report/summary.json: summary.json
    folders |= {name for name in constants if name.endswith("/")}
    files |= {name for name in constants if "." in name and not name.endswith("/")}
    sectioned = {validated_sql_name(s).split(s.replace("-", "_"))[0] for s in SECTIONS}
    sectioned |= {layout.relative(layout.schema_alloydb_section_sql(s)).split(s.replace("-", "_"))[0] for s in SECTIONS}
    files |= {validated_sql_name(s) for s in SECTIONS}
    return files, folders, sectioned


def _literals(text: str) -> list[tuple[int, str, bool]]:
    """(line, text, is an f-string's head) of every string literal but docstrings; of an f-string, the text before
    its first replacement field."""
    tree = ast.parse(text)
    skip = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))  # a docstring
        if isinstance(node, ast.JoinedStr):
            skip.update(id(value) for value in node.values)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            found.append((node.lineno, node.value, False))
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            found.append((node.lineno, node.values[0].value, True))
    return found


def _spells_a_name(files: set[str], folders: set[str], sectioned: set[str], literal: str, head: bool) -> bool:
    """A run-folder file's name, a folder's name or a name in one ("results/x.json"; "steps/plan/README.md" is a
    path of the repository), or an f-string building a section's file ("validated_{…}")."""
    in_folder = any(literal.startswith(f) and "/" not in literal[len(f):] for f in folders)
    return in_folder or (literal in sectioned if head else literal in files)


def _spelt_names(sources: dict[str, str]) -> list[str]:
    files, folders, sectioned = _run_folder_names()
    assert {"tables.json", "catalog.json", "validated_pre_data.sql", "load_schema_pre_data_progress.json",
            "rewrite_report.json", "summary.json"} <= files
    assert {"results/", "claims/", "batches/", "steps/", "report/"} <= folders
    assert sectioned == {"validated_", "schema_alloydb_"}
    return [f"{name}:{line}: {literal!r}" for name, text in sorted(sources.items())
            for line, literal, head in _literals(text) if _spells_a_name(files, folders, sectioned, literal, head)]


def _artifact_calls(sources: dict[str, str]) -> list[str]:
    return [f"{name}:{number}: {line.strip()}" for name, text in sorted(sources.items())
            for number, line in enumerate(text.splitlines(), 1) if ARTIFACT_CALL.search(line)]


def test_only_run_layout_builds_run_folder_urls():
    """`RunLayout._artifact` (any name under the run root) is layout's own: everyone else, tests too, uses the
    accessor of the file they mean, so that a file's place is decided in one module."""
    sources = _sources(*PRODUCT_FOLDERS, "tests", "devstack")
    sources.pop(str(Path(__file__).relative_to(ROOT)))  # its examples of what the check sees
    assert _artifact_calls(sources) == []


def test_only_run_layout_spells_run_folder_names():
    """A run-folder name written out as a literal outside shared/layout.py is a path built elsewhere; a module that
    shows a name (a message, a report key) imports it from shared.layout."""
    assert _spelt_names(_sources(*PRODUCT_FOLDERS)) == []


@pytest.mark.parametrize("line", ['url = layout.root + "claims/"', "store.read_json(f'batches/{batch}.json')",
                                  'def f(where: str = "catalog.json"): pass', 'name = f"validated_{section}.sql"',
                                  'SUMMARY = "summary.json"', 'done = layout._artifact("x")',
                                  'url = f"claims/{stem}/"', 'KEY = "results/public.sales.json"'])
def test_the_checks_see_a_violation(line):
    assert _spelt_names({"steps/x.py": line}) or _artifact_calls({"steps/x.py": line})


@pytest.mark.parametrize("line", ['"""steps/ of the run folder"""', 'REPORT_STEP = "report"',
                                  "url = layout.tables_json", 'name = "catalog.json.bak"',
                                  'DOC = "steps/table_transfer/README.md"', 'x = f"{run_id}.log"'])
def test_the_checks_pass_a_clean_line(line):
    assert not _spelt_names({"steps/x.py": line}) and not _artifact_calls({"steps/x.py": line})
