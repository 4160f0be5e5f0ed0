"""The one error boundary every step's `__main__` uses.

`with step_boundary("dump_schema", run_id) as step:` configures logging (secrets redacted), loads settings,
and turns any failure into one line on stderr and an exit code that tells Argo whether a retry can help:
an `R2AError` prints its reason and hint; anything else is an internal error (exit 70) printed in one line,
with the traceback only when R2A_DEBUG=1. `error_line` prints every step's last line, and `StepApp` makes a bad
flag (unknown, missing, or a value its `checked` callback refuses) a usage error: exit BAD_CONFIG in every step.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import typer

from shared import log, stopping
from shared.config import Settings, general_setting, load_settings
from shared.errors import ExitCode, R2AError, Stopped, exit_code_for
from shared.objectstore import check_run_id


@dataclass
class StepContext:
    name: str
    run_id: str
    settings: Settings
    started: float = field(default_factory=time.monotonic)
    on_failure: list[Callable[[BaseException], None]] = field(default_factory=list)


# typer may bundle its own click: its usage errors are reached through a public class (BadParameter's base)
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def error_line(step: str, message: str) -> None:
    """A step's last line on stderr when it fails: `r2a <step>: error: <message>`, redacted, on one line."""
    print(f"r2a {step}: error: {log.one_line(message)}", file=sys.stderr, flush=True)


def checked(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A typer callback: `check(value)` refusing a flag's value with an R2AError is a usage error, like a bad
    choice or number, so the same mistake gives the same exit code in every step."""

    def callback(value: Any) -> Any:
        if value is not None:
            try:
                check(value)
            except R2AError as exc:
                raise typer.BadParameter(exc.one_line()) from None
        return value

    return callback


def _early_setting(name: str, environ: Mapping[str, str] | None, fallback: Any) -> Any:
    """A setting needed before (or after) all settings load: an invalid value is load_settings' error to report."""
    try:
        return general_setting(name, environ)
    except R2AError:
        return fallback


@contextmanager
def step_boundary(step: str, run_id: str | None, overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Iterator[StepContext]:
    """Run a step's body; on failure call the registered `on_failure` hooks (to write result files) and exit."""
    log.configure(step, run_id, fmt=_early_setting("log_format", environ, "auto"))
    context: StepContext | None = None
    previous_handler = stopping.install()
    try:
        settings = load_settings(environ, overrides)
        log.configure(step, run_id, fmt=settings.log_format, secrets=settings.secret_values())
        if run_id is not None:
            check_run_id(run_id)
        context = StepContext(step, run_id or "", settings)
        yield context
    except typer.Exit:
        raise
    except R2AError as exc:
        _run_hooks(context, exc)
        log.event("step.failed", level=logging.ERROR, error_class=exc.error_class, error=exc.one_line())
        error_line(step, exc.one_line())
        raise typer.Exit(int(exit_code_for(exc))) from None
    except KeyboardInterrupt as stopped:
        message = str(stopped) if isinstance(stopped, Stopped) else "interrupted"
        log.event("step.stopped", level=logging.ERROR, error=message)
        error_line(step, message)
        raise typer.Exit(int(ExitCode.FAILED)) from None
    except Exception as exc:  # the boundary: an unexpected error still ends in one line and a typed exit
        _run_hooks(context, exc)
        message = f"internal error: {type(exc).__name__}: {log.one_line(exc, 300)}"
        log.event("step.failed", level=logging.ERROR, error_class=type(exc).__name__, error=message)
        if _early_setting("debug", environ, False):
            print(log.redact(traceback.format_exc()), file=sys.stderr, end="", flush=True)
        error_line(step, message)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None
    finally:
        stopping.restore(previous_handler)


def _run_hooks(context: StepContext | None, exc: BaseException) -> None:
    for hook in (context.on_failure if context else []):
        try:
            hook(exc)
        except Exception as hook_error:  # a failing hook must not hide the original error, nor add a line to it
            log.event("step.failure_not_recorded", level=logging.WARNING, error_class=type(hook_error).__name__,
                      error=log.one_line(hook_error, 300))


class StepApp(typer.Typer):
    """A step's typer app whose usage errors (unknown flag, bad value, missing option) are one stderr line and
    exit BAD_CONFIG, instead of click's multi-line rich box that Argo logs would show as noise."""

    def __init__(self, step: str, help: str | None) -> None:  # noqa: A002 - typer's own name for it
        super().__init__(add_completion=False, help=help)
        self.step = step

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = typer.main.get_command(self).main(*args, standalone_mode=False, **kwargs)
        except UsageError as exc:
            error_line(self.step, exc.format_message())
            sys.exit(int(ExitCode.BAD_CONFIG))
        except typer.Abort:
            error_line(self.step, "interrupted")
            sys.exit(int(ExitCode.FAILED))
        sys.exit(result if isinstance(result, int) else 0)
