"""SIGTERM, the way Argo stops a pod (then SIGKILL after the grace period), turned into `Stopped`.

By default the handler raises Stopped in the main thread at once, wherever it is. A step whose main thread runs
library code that must not be cut in the middle (an HTTP connection pool, a COPY being fed) calls
`stop_at_safe_points()`: the handler then only records the request, and the step raises Stopped where it calls
`raise_if_stopped()` (between two reads, while waiting for work), so every lock and connection is left whole.
A second SIGTERM is ignored: it must not interrupt the step while it records what it was doing.
"""

from __future__ import annotations

import signal
import threading

from shared.errors import Stopped

_requested = threading.Event()
_deferred = threading.Event()


def install() -> object | None:
    """Install the handler; returns the previous one to restore (None off the main thread: nothing installed)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    _requested.clear()
    _deferred.clear()
    return signal.signal(signal.SIGTERM, _on_sigterm)


def restore(previous: object | None) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def stop_at_safe_points() -> None:
    _deferred.set()


def raise_if_stopped() -> None:
    if _requested.is_set():
        raise Stopped("SIGTERM")


def _on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _requested.set()
    if not _deferred.is_set():
        raise Stopped("SIGTERM")
