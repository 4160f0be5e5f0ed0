"""One error type for the whole product, and the exit codes that tell Argo whether a retry can help.

Every expected failure is raised as an `R2AError` (or a subclass) carrying a one-line reason and, where useful,
what to do about it. The error boundary (`shared.cli.step_boundary`) turns it into one line on stderr, a record in
the step's result file and an exit code. Anything else is an internal error (exit 70), still reported in one line.
"""

from __future__ import annotations

from enum import IntEnum

from shared.log import one_line


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # transient: a retry may help (Argo's retryStrategy retries only this code)
    BAD_CONFIG = 2
    BAD_INPUT = 3
    SOURCE = 4  # Redshift side, permanent
    TARGET = 5  # AlloyDB side, permanent
    BAD_STATE = 6  # e.g. a concurrent run holds the lock, or a previous phase is missing
    TABLES_FAILED = 7  # report: at least one table did not succeed
    INTERNAL = 70


class R2AError(Exception):
    """An expected failure: `reason` says what and where, `hint` what to do."""

    exit_code: ExitCode = ExitCode.FAILED
    transient: bool = False

    def __init__(self, reason: str, hint: str | None = None, *, transient: bool | None = None):
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        if transient is not None:
            self.transient = transient

    @property
    def error_class(self) -> str:
        return type(self).__name__

    def one_line(self) -> str:
        text = self.reason.rstrip(".")
        if self.hint:
            text = f"{text}. {self.hint.rstrip('.')}"
        return one_line(text)


class ConfigError(R2AError):
    exit_code = ExitCode.BAD_CONFIG


class BadInputError(R2AError):
    exit_code = ExitCode.BAD_INPUT


class SourceError(R2AError):
    exit_code = ExitCode.SOURCE


class TargetError(R2AError):
    exit_code = ExitCode.TARGET


class ObjectStoreError(R2AError):
    exit_code = ExitCode.FAILED


class BadStateError(R2AError):
    exit_code = ExitCode.BAD_STATE


class Stopped(KeyboardInterrupt):
    """The process was told to stop (SIGTERM: Argo stopped the pod, or its deadline passed). Not a fault of the
    work, so a retry may complete it; a KeyboardInterrupt so that no `except Exception` swallows it."""

    transient = True

    def __init__(self, signal_name: str = "SIGTERM"):
        super().__init__(f"stopped by {signal_name} before it finished (the pod was stopped or ran out of time)")


class TransientError(R2AError):
    """A failure worth retrying (network blip, 5xx, connection lost): exit code 1."""

    exit_code = ExitCode.FAILED
    transient = True


def exit_code_for(error: R2AError) -> ExitCode:
    return ExitCode.FAILED if error.transient else error.exit_code
