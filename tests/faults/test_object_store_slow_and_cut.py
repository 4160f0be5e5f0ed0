"""Object-store faults that are not error statuses: every chunk answered slowly, and one connection cut in the
middle of a response (the S3 unload part being downloaded, a GCS object being read). A fault-injecting proxy sits
in front of the emulator; the step must finish with exactly the source rows."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from devstack.faultproxy import Fault, FaultProxy
from tests.faults.helpers import (
    expected_summary,
    numbered_table,
    run_step,
    step_environ,
    target_summary,
)
from tests.table_transfer.conftest import transfer  # noqa: F401  (the fixture)

ENDPOINT_VARIABLE = {"s3": "AWS_ENDPOINT_URL_S3", "gcs": "STORAGE_EMULATOR_HOST"}


def _transfer_through_proxy(transfer, service: str, name: str, rows: int, fault: Fault):  # noqa: F811
    source, _ = numbered_table(transfer, name, rows)
    variable = ENDPOINT_VARIABLE[service]
    endpoint = urlparse(transfer.environ[variable])
    with FaultProxy(endpoint.hostname, endpoint.port) as proxy:
        proxy.set_fault(fault)
        host, port = proxy.address
        run = run_step(transfer, "--table", str(source), timeout=90,
                       environ=step_environ(transfer, **{variable: f"http://{host}:{port}"}))
        stats = proxy.stats
    return run, stats, target_summary(transfer, name)


@pytest.mark.parametrize("service", ["s3", "gcs"])
def test_slow_object_store_still_delivers_exactly_the_source_rows(transfer, matrix, service):  # noqa: F811
    outcome = matrix.fault(f"{service.upper()} answers slowly (50 ms per chunk, both ways)", "copy/load",
                           "succeeded with exactly the source rows")
    run, stats, loaded = _transfer_through_proxy(transfer, service, "slow", 2000, Fault.delay(0.05))
    outcome.observed = (f"exit {run.code} after {run.seconds} s, {stats.bytes_to_client} bytes through the proxy, "
                        f"target {loaded}")
    outcome.rows_lost = max(0, 2000 - loaded[1])
    assert not run.timed_out, f"hung: {run.output}"
    assert run.code == 0, run.output
    assert stats.bytes_to_client > 0, "nothing went through the proxy"
    assert loaded == expected_summary(2000)


@pytest.mark.parametrize("service", ["s3", "gcs"])
def test_connection_cut_mid_response_is_retried(transfer, matrix, service):  # noqa: F811
    outcome = matrix.fault(f"{service.upper()} connection cut mid-response (once, after 600 bytes)", "copy/load",
                           "retried; succeeded with exactly the source rows")
    run, stats, loaded = _transfer_through_proxy(transfer, service, "cutonce", 2000,
                                                 Fault.reset_after(600, count=1))
    outcome.observed = f"{stats.injected} cut; exit {run.code} after {run.seconds} s, target {loaded}"
    outcome.rows_lost = max(0, 2000 - loaded[1])
    assert not run.timed_out, f"hung: {run.output}"
    assert stats.injected >= 1, "no response was long enough to cut"
    assert run.code == 0, run.output
    assert loaded == expected_summary(2000)



def test_gcs_connection_cut_mid_upload_is_retried_and_never_leaves_a_partial_object(transfer, matrix):  # noqa: F811
    """The staged part's upload (one PUT, shared/gcs.py) is cut once: the cut upload is never finalized, the part's
    copy is retried as a whole, and the table succeeds with exactly the source rows, replacing what was there."""
    outcome = matrix.fault("GCS connection cut mid-upload (once, after 20,000 bytes sent)", "copy",
                           "retried; succeeded with exactly the source rows")
    source, _ = numbered_table(transfer, "cutupload", 5000)
    transfer.pg_execute(f'INSERT INTO {transfer.schema}."cutupload" VALUES (-1, \'left by an earlier run\')')
    endpoint = urlparse(transfer.environ["STORAGE_EMULATOR_HOST"])
    with FaultProxy(endpoint.hostname, endpoint.port) as proxy:
        proxy.set_fault(Fault.reset_after(20_000, upstream=True, count=1))
        host, port = proxy.address
        run = run_step(transfer, "--table", str(source), timeout=90,
                       environ=step_environ(transfer, STORAGE_EMULATOR_HOST=f"http://{host}:{port}"))
        injected = proxy.stats.injected
    after = target_summary(transfer, "cutupload")
    outcome.observed = f"{injected} cut; exit {run.code} after {run.seconds} s, target then {after}"
    outcome.rows_lost = max(0, 5000 - after[1])
    assert not run.timed_out, f"hung: {run.output}"
    assert injected >= 1, "no upload was long enough to cut"
    assert run.code == 0, run.output
    assert after == expected_summary(5000)
