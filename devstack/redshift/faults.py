"""Fault injection plan for the Redshift emulator's UNLOAD.

The core (session handling) resolves a FaultPlan per session or per table from the admin commands
`r2a_emulator_fault(...)`; UNLOAD honours it. Defined here so UNLOAD and the core share one type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FaultPlan:
    # Message of the error the UNLOAD fails with (before writing anything); None = no failure.
    fail_unload: str | None = None
    # Seconds the UNLOAD sleeps before writing (interruptible by a cancel request).
    stall_seconds: float = 0.0
    # After this many rows have been fetched, raise CutConnection; None = never.
    cut_connection_after_rows: int | None = None
    # Write the NULL AS string as if it were a value, ESCAPE applied to it too (text) or quoted when CSV would
    # quote the value (CSV). AWS's docs say nothing on this; the one field report says Redshift does it:
    # https://github.com/hellonarrativ/spectrify/issues/6 ("when you use both the NULL AS and ESCAPE options,
    # the ESCAPE gets applied second"). Off by default, so both behaviours can be tested.
    escape_null_as: bool = False

    @property
    def is_empty(self) -> bool:
        return (self.fail_unload is None and self.stall_seconds <= 0 and self.cut_connection_after_rows is None
                and not self.escape_null_as)


class CutConnection(Exception):
    """Raised mid-UNLOAD; the core answers by closing the client's socket without an ErrorResponse."""
