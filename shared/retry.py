"""One backoff policy for transient failures, shared by every step.

What counts as transient lives here too: a lost connection, a 5xx or a timeout is worth retrying; a wrong
password, a missing table or a permission error is not, and fails at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from shared.errors import R2AError
from shared.log import one_line

T = TypeVar("T")

# SQLSTATE classes/codes that a retry can cure: connection exceptions, serialization failures, deadlocks,
# resource exhaustion, operator intervention (admin shutdown, crash recovery, cannot connect now).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P")
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}
_PERMANENT_SQLSTATES = {"57014"}  # query_canceled: a statement timeout, rerunning will hit it again
_TRANSIENT_HTTP = {408, 429, 500, 502, 503, 504}
_TRANSIENT_AWS_CODES = {"SlowDown", "RequestTimeout", "RequestTimeoutException", "InternalError",
                        "ServiceUnavailable", "Throttling", "ThrottlingException", "503", "500"}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_s: float = 0.5
    max_s: float = 20.0
    multiplier: float = 2.0
    # Told of every retry (attempt number, error) by each retry_call using this policy: how a step counts them.
    on_retry: Callable[[int, BaseException], None] | None = field(default=None, compare=False)


DEFAULT_POLICY = RetryPolicy()


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, R2AError):
        return exc.transient
    sqlstate = getattr(exc, "pgcode", None)
    if sqlstate:
        if sqlstate in _PERMANENT_SQLSTATES:
            return False
        return sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
    module = type(exc).__module__
    name = type(exc).__name__
    if module.startswith("google") and name == "InvalidResponse":  # a media request's unexpected status
        return getattr(getattr(exc, "response", None), "status_code", None) in _TRANSIENT_HTTP
    if module.startswith("psycopg2"):
        # No SQLSTATE: the connection itself broke (server closed it, network down) unless login was refused.
        text = str(exc).lower()
        if "authentication failed" in text or "does not exist" in text:
            return False
        return name in ("OperationalError", "InterfaceError") or _connection_lost(exc, text)
    if module.startswith("botocore"):
        response = getattr(exc, "response", None)
        if response:
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return code in _TRANSIENT_AWS_CODES or status in _TRANSIENT_HTTP
        return name in ("EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError",
                        "ConnectTimeoutError", "IncompleteReadError", "ResponseStreamingError")
    if module.startswith("google.api_core"):
        if name == "RetryError":  # google's own retries ran out: as transient as what they were retrying
            cause = getattr(exc, "cause", None)
            return isinstance(cause, BaseException) and is_transient(cause)
        return getattr(exc, "code", None) in _TRANSIENT_HTTP
    if module.startswith(("requests", "urllib3", "google.resumable_media", "google.cloud.storage",
                          "google.auth.exceptions")):
        return name in ("ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout", "ChunkedEncodingError",
                        "ProtocolError", "ReadTimeoutError", "DataCorruption", "TransportError")
    return isinstance(exc, (ConnectionError, TimeoutError))


def _connection_lost(exc: BaseException, text: str) -> bool:
    """A plain DatabaseError without SQLSTATE whose connection is gone: what psycopg2 raises when the server dies
    in the middle of a COPY FROM STDIN (libpq reports the loss before psycopg2 marks the connection broken)."""
    connection = getattr(getattr(exc, "cursor", None), "connection", None)
    return bool(getattr(connection, "closed", 0)) or "server closed the connection unexpectedly" in text


def retry_call(fn: Callable[..., T], *args, policy: RetryPolicy = DEFAULT_POLICY, what: str = "",
               on_retry: Callable[[int, BaseException], None] | None = None, **kwargs) -> T:
    """Call `fn`, retrying transient failures with exponential backoff; the last error propagates unchanged."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logging.getLogger("r2a").warning("retrying", extra={"fields": {
            "what": what or getattr(fn, "__name__", "call"), "attempt": state.attempt_number,
            "error": one_line(f"{type(error).__name__}: {error}", 300)}})
        for callback in (on_retry, policy.on_retry):
            if callback and error is not None:
                callback(state.attempt_number, error)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=tenacity.wait_exponential(multiplier=policy.initial_s, max=policy.max_s, exp_base=policy.multiplier),
        retry=tenacity.retry_if_exception(is_transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn, *args, **kwargs)
