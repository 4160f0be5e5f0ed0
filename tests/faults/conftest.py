"""The fault matrix: each test in tests/faults records what it injected and what it observed; the session ends
with the table `make faults` prints (fault, phase, expected, observed, pass/fail, rows lost) and its totals,
also written as JSON to $R2A_ARTIFACTS_DIR (default test-artifacts/)/fault-matrix.json."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

KINDS = ("fault", "bad_input", "secrets")


@dataclass
class Outcome:
    kind: str
    name: str
    phase: str
    expected: str
    observed: str = "(test did not record an observation)"
    rows_lost: int = 0
    leaked: int = 0
    passed: bool = False
    nodeid: str = ""


@dataclass
class Matrix:
    outcomes: list[Outcome] = field(default_factory=list)

    def totals(self) -> dict:
        def count(kind, passed=None):
            return sum(1 for o in self.outcomes if o.kind == kind and (passed is None or o.passed == passed))

        return {"faults_survived": count("fault", True), "faults_injected": count("fault"),
                "bad_inputs_handled": count("bad_input", True), "bad_inputs_tried": count("bad_input"),
                "rows_lost": sum(o.rows_lost for o in self.outcomes),
                "secrets_leaked": sum(o.leaked for o in self.outcomes)}


MATRIX = Matrix()


class Recorder:
    def __init__(self, nodeid: str):
        self._nodeid = nodeid
        self.outcomes: list[Outcome] = []

    def _add(self, kind: str, name: str, phase: str, expected: str) -> Outcome:
        outcome = Outcome(kind, name, phase, expected, nodeid=self._nodeid)
        self.outcomes.append(outcome)
        MATRIX.outcomes.append(outcome)
        return outcome

    def fault(self, name: str, phase: str, expected: str) -> Outcome:
        return self._add("fault", name, phase, expected)

    def bad_input(self, name: str, step: str, expected: str) -> Outcome:
        return self._add("bad_input", name, step, expected)

    def secrets(self, name: str, where: str) -> Outcome:
        return self._add("secrets", name, where, "no secret value anywhere")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.when == "call" or (report.when == "setup" and report.failed):
        for outcome in getattr(item, "_fault_outcomes", []):
            outcome.passed = report.passed


@pytest.fixture
def matrix(request) -> Recorder:
    """Record each injected fault / bad input; its pass/fail is the test's result."""
    recorder = Recorder(request.node.nodeid)
    request.node._fault_outcomes = recorder.outcomes
    return recorder


def pytest_terminal_summary(terminalreporter):
    if not MATRIX.outcomes:
        return
    rows = [("kind", "fault / input", "phase", "expected", "observed", "result", "rows lost")]
    for o in MATRIX.outcomes:
        rows.append((o.kind, o.name, o.phase, o.expected, o.observed[:70], "pass" if o.passed else "FAIL",
                     str(o.rows_lost)))
    widths = [min(max(len(r[i]) for r in rows), 70) for i in range(len(rows[0]))]
    write = terminalreporter.write_line
    terminalreporter.section("r2a fault matrix")
    for row in rows:
        write("  ".join(cell[:w].ljust(w) for cell, w in zip(row, widths, strict=True)))
    totals = MATRIX.totals()
    write(f"faults survived {totals['faults_survived']}/{totals['faults_injected']}, "
          f"bad inputs handled {totals['bad_inputs_handled']}/{totals['bad_inputs_tried']}, "
          f"rows lost {totals['rows_lost']}, secrets leaked {totals['secrets_leaked']}")
    out_dir = Path(os.environ.get("R2A_ARTIFACTS_DIR", "test-artifacts"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "fault-matrix.json").write_text(json.dumps(
        {"totals": totals, "outcomes": [asdict(o) for o in MATRIX.outcomes]}, indent=2) + "\n")
