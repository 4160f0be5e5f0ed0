"""Every step's usage errors are one stderr line with exit BAD_CONFIG; --help lists every option with its help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.errors import ExitCode

STEPS = sorted(p.parent.name for p in Path(__file__).resolve().parents[2].glob("steps/*/__main__.py"))


def _run(step: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", f"steps.{step}", *args], capture_output=True, text=True,
                          timeout=60, env=env, check=False)


@pytest.mark.parametrize("step", STEPS)
def test_unknown_flag_is_one_line_and_exit_bad_config(step: str) -> None:
    done = _run(step, "--no-such-flag")
    assert done.returncode == ExitCode.BAD_CONFIG
    assert done.stderr.splitlines() == [f"r2a {step}: error: No such option: --no-such-flag"]


def test_missing_required_option_and_bad_value_are_one_line() -> None:
    missing = _run("report")
    assert missing.returncode == ExitCode.BAD_CONFIG
    assert missing.stderr.splitlines() == ["r2a report: error: Missing option '--run-id'."]
    bad_value = _run("load_schema", "--section", "bogus", "--run-id", "r_1")
    assert bad_value.returncode == ExitCode.BAD_CONFIG
    lines = bad_value.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("r2a load_schema: error: Invalid value for '--section'")


def _bad_values() -> list[tuple[str, str, str]]:
    """(step, flag, bad value) for every flag of every step whose values are limited: a choice, a number (each
    taken from the step's own command), and the flags each step checks with shared.cli.checked."""
    import enum
    import inspect
    import typing

    cases = [("dump_schema", "--tables", "(["), ("table_transfer", "--max-file-size", "1KB"),
             ("table_transfer", "--cleanup", "s3,ftp"), ("table_transfer", "--parallel-parts", "0")]
    for step in STEPS:
        main = __import__(f"steps.{step}.__main__", fromlist=["main"]).main
        hints = typing.get_type_hints(main)
        for name, parameter in inspect.signature(main).parameters.items():
            flag = next(d for d in parameter.default.param_decls if d.startswith("--"))
            kind = hints[name]
            if isinstance(kind, type) and issubclass(kind, enum.Enum):
                cases.append((step, flag, "bogus"))
            elif kind is int:
                cases.append((step, flag, "many"))
    return cases


BAD_VALUES = _bad_values()


def test_every_step_has_a_limited_flag_checked_here() -> None:
    assert {step for step, _, _ in BAD_VALUES} >= {"dump_schema", "load_schema", "table_transfer"}


@pytest.mark.parametrize(("step", "flag", "value"), BAD_VALUES, ids=[f"{s} {f} {v}" for s, f, v in BAD_VALUES])
def test_a_bad_flag_value_is_a_usage_error_in_every_step(step: str, flag: str, value: str) -> None:
    done = _run(step, "--run-id", "db_20250101_000000", flag, value)
    assert done.returncode == ExitCode.BAD_CONFIG, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"r2a {step}: error: Invalid value for '{flag}'"), done.stderr


@pytest.mark.parametrize("step", STEPS)
def test_a_bad_run_id_gives_the_same_exit_code_in_every_step(step: str) -> None:
    args = {"load_schema": ["--section", "pre-data"], "table_transfer": ["--table", "a.b"]}.get(step, [])
    done = _run(step, "--run-id", "../other-run", *args)
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    assert done.stderr.splitlines()[-1].startswith(f"r2a {step}: error: run id '../other-run' is not valid")


@pytest.mark.parametrize("step", STEPS)
def test_help_describes_the_step_and_every_option(step: str) -> None:
    from typer.main import get_command

    module = __import__(f"steps.{step}.__main__", fromlist=["app"])
    command = get_command(module.app)
    done = _run(step, "--help")
    assert done.returncode == 0
    before_options = done.stdout.split("Options")[0].splitlines()
    description = [line for line in before_options if line.strip() and "Usage:" not in line and "╭" not in line]
    assert description, f"{step} --help has no description"
    for param in command.params:
        for name in param.opts:
            if name.startswith("--"):
                assert name in done.stdout, f"{step} --help does not list {name}"
        assert getattr(param, "help", None), f"{step}: option {param.opts} has no help text"


def test_sigterm_stops_any_step_in_one_line_with_a_retryable_exit(tmp_path) -> None:
    """What Argo sends at activeDeadlineSeconds or `argo stop`: the step's body is interrupted where it is (here a
    sleep), it says so in one line and exits 1; a second SIGTERM while it is leaving changes nothing."""
    script = tmp_path / "step.py"
    script.write_text(
        "import os, signal, sys, time, typer\n"
        "from shared.cli import step_boundary\n"
        "app = typer.Typer()\n"
        "@app.command()\n"
        "def main(run_id: str = 'db_20250101_000000'):\n"
        "    with step_boundary('demo_step', run_id) as step:\n"
        "        try:\n"
        "            print('working', flush=True)\n"
        "            time.sleep(60)\n"
        "        finally:\n"
        "            os.kill(os.getpid(), signal.SIGTERM)  # the second one, while leaving\n"
        "            print('cleaned up', flush=True)\n"
        "app()\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path.cwd()), "R2A_LOG_FORMAT": "text"}
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    assert process.stdout.readline().strip() == "working"
    process.send_signal(15)
    out, err = process.communicate(timeout=20)
    assert process.returncode == int(ExitCode.FAILED)
    assert "cleaned up" in out
    human = [line for line in err.strip().splitlines() if line.startswith("r2a demo_step")]
    assert human == ["r2a demo_step: error: stopped by SIGTERM before it finished (the pod was stopped or ran out "
                     "of time)"], err
    assert "Traceback" not in err
