"""load_schema --section post-data with an unreachable AlloyDB or a wrong password: one line, the exit code
that tells Argo whether a retry helps, no report, and nothing changed in AlloyDB (pre-data's cases are in
test_pre_data_live.py)."""

import socket

from tests.load_schema.conftest import query
from tests.support.steps import one_error_line, run_step

STEP = "steps.load_schema"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post_data_effects(dsn: str) -> list[tuple]:
    """Constraints, indexes and views in the shop schema: all of them come from post-data."""
    return query(dsn, "select (select count(*) from pg_constraint c join pg_namespace n on n.oid = c.connamespace "
                      "        where nspname = 'shop' and contype in ('p', 'u', 'f')),"
                      "       (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                      "        where nspname = 'shop' and relkind in ('i', 'v', 'm'))")


def test_unreachable_alloydb_is_transient_and_writes_no_report(loaded):
    folder, dsn = loaded
    port = closed_port()
    done = run_step(STEP, ["--run-id", folder.run_id, "--section", "post-data"],
                    dict(folder.environ, PGPORT=str(port), PGCONNECT_TIMEOUT="3"))
    assert done.returncode == 1
    assert f"cannot connect to AlloyDB at 127.0.0.1:{port}" in one_error_line(done, "load_schema")
    assert not folder.has(folder.layout.post_data_report_json)
    assert post_data_effects(dsn) == [(0, 0)]


def test_wrong_password_is_config_error_and_changes_nothing(loaded):
    folder, dsn = loaded
    done = run_step(STEP, ["--run-id", folder.run_id, "--section", "post-data"],
                    dict(folder.environ, PGPASSWORD="wrong-post-data-pw"))
    assert done.returncode == 2
    assert "refused the login for user 'postgres': wrong user or password" in one_error_line(done, "load_schema")
    assert "wrong-post-data-pw" not in done.stderr
    assert not folder.has(folder.layout.post_data_report_json)
    assert post_data_effects(dsn) == [(0, 0)]
    assert folder.json(folder.layout.step_result("load_schema_post_data"))["status"] == "failed"


def test_the_same_run_then_succeeds(loaded):
    """The check above is meaningful: with the right settings the same folder does change AlloyDB."""
    folder, dsn = loaded
    done = run_step(STEP, ["--run-id", folder.run_id, "--section", "post-data"], folder.environ)
    assert done.returncode == 0, done.stderr
    constraints, relations = post_data_effects(dsn)[0]
    assert constraints > 0 and relations > 0
