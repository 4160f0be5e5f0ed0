"""The measurements tests rely on catch what sampling would miss: a memory peak of a millisecond, a file open for
writing for a moment."""

from __future__ import annotations

import os
import sys

from tests.support.measure import run_measured

SPIKE = "b = bytearray(300 * 2**20); del b; import time; time.sleep(0.2)"  # 300 MB for about a millisecond


def test_a_short_memory_peak_is_measured():
    run = run_measured([sys.executable, "-c", SPIKE], dict(os.environ), timeout=60)
    assert run.code == 0, run.output
    assert run.peak_rss_mb >= 300


def test_a_file_opened_for_writing_for_a_moment_is_recorded(tmp_path):
    probe = tmp_path / "probe"
    script = f"open({str(probe)!r}, 'w').close(); open({str(probe)!r}).read()"
    run = run_measured([sys.executable, "-c", script], dict(os.environ), timeout=60,
                       audit_log=tmp_path / "audit.jsonl")
    assert run.code == 0, run.output
    assert run.written == [str(probe)]


def test_a_small_child_of_a_large_test_process_is_measured_small():
    """Linux starts an exec'd process's high-water mark at that of the memory it replaced: spawned straight from a
    pytest process of 300 MB, a 10 MB child would read 300 MB. The wrapper in run_measured keeps that floor small."""
    ballast = bytearray(300 * 2**20)
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])  # touch every page: resident, not just reserved
    run = run_measured([sys.executable, "-c", "pass"], dict(os.environ), timeout=60)
    assert run.code == 0, run.output
    assert 0 < run.peak_rss_mb < 100, run.peak_rss_mb
    del ballast
