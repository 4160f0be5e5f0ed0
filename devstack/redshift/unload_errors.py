"""The error UNLOAD reports to the client, with the SQLSTATE Redshift would send."""

from __future__ import annotations

# Redshift reports S3, credential and most UNLOAD-time failures as internal errors (XX000).
INTERNAL = "XX000"
SYNTAX_ERROR = "42601"
INVALID = "22023"        # invalid_parameter_value: a bad option value or a forbidden combination
UNSUPPORTED = "0A000"    # feature_not_supported: documented options the emulator does not implement
CANCELED = "57014"       # query_canceled


class UnloadError(Exception):
    """The core sends an ErrorResponse with this SQLSTATE and message (never with secrets in it)."""

    def __init__(self, sqlstate: str, message: str):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message

    def __repr__(self) -> str:
        return f"UnloadError({self.sqlstate!r}, {self.message!r})"
