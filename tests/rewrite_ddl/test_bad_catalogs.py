"""Catalogs rewrite_ddl must refuse in one line naming what is wrong and where (nothing is written then: see
test_cli.py), and settings it must not need: it reads only the run folder, so an unreachable Redshift or AlloyDB
does not stop it."""

from __future__ import annotations

import copy
import socket

import pytest

from shared.errors import BadInputError
from tests.rewrite_ddl.conftest import rewrite
from tests.rewrite_ddl.sample import sample_catalog
from tests.support.steps import run_step


def broken(change) -> dict:
    data = copy.deepcopy(sample_catalog("bad_catalog_run"))
    change(data)
    return data


def _set(path: list, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _duplicate_column(data):
    data["tables"][0]["columns"].append(copy.deepcopy(data["tables"][0]["columns"][0]))


def _duplicate_table(data):
    data["tables"].append(copy.deepcopy(data["tables"][0]))


@pytest.mark.parametrize("data, message", [
    ([], "catalog.json is not a valid catalog: at (top level): must be object"),
    (None, "catalog.json is not a valid catalog: at (top level): must be object"),
    (broken(_set(["format_version"], 2)), "format_version '2' is not 1, the only one this r2a reads"),
    (broken(lambda d: d.pop("run_id")), "at (top level): must contain ['run_id'] properties"),
    (broken(_set(["views"], "v")), "at .views: must be array"),
    (broken(_set(["tables", 0, "columns"], [])), "at .tables[0].columns: must contain at least 1 items"),
    (broken(_set(["tables", 0, "columns", 0, "type"], 5)), "at .tables[0].columns[0].type: must be string"),
    (broken(_set(["tables", 0, "columns", 0, "identity"], {"seed": 5})),
     "at .tables[0].columns[0].identity: must contain ['step'] properties"),
    (broken(_duplicate_table), "catalog.json lists sales.orders twice (as a table or a view)"),
    (broken(_duplicate_column), "catalog.json lists column id of sales.orders twice"),
])
def test_invalid_catalog_is_one_named_error(data, message):
    with pytest.raises(BadInputError) as caught:
        rewrite(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_rewrite_needs_neither_redshift_nor_alloydb(run_folder):
    run_id, store, layout, environ = run_folder
    store.write_json(layout.catalog_json, sample_catalog(run_id))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = str(probe.getsockname()[1])
    unreachable = dict(environ, REDSHIFT_HOST="127.0.0.1", REDSHIFT_PORT=closed, REDSHIFT_PASSWORD="wrong",
                       PGHOST="127.0.0.1", PGPORT=closed, PGPASSWORD="wrong")
    done = run_step("steps.rewrite_ddl", ["--run-id", run_id], unreachable)
    assert done.returncode == 0, done.stderr
    assert store.read_json(layout.step_result("rewrite_ddl"))["status"] == "succeeded"
