"""Loaded by a test's child Python through PYTHONPATH (tests/support/measure.py): appends one JSON line per file the
process opens with write intent to the file named by R2A_TEST_WRITE_AUDIT_LOG."""

import json
import os
import sys

_LOG = os.environ.get("R2A_TEST_WRITE_AUDIT_LOG")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _writes(mode, flags) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


if _LOG:
    _fd = os.open(_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # before the hook: not recorded

    def _hook(event, args):
        if event == "open" and len(args) >= 3 and _writes(args[1], args[2]):
            path = args[0]
            if isinstance(path, int) or path is None:
                return
            os.write(_fd, (json.dumps({"path": os.fsdecode(path)}) + "\n").encode())

    sys.addaudithook(_hook)
