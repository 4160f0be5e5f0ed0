"""devstack's GCS: gcp-storage-emulator, with its metadata file written compactly.

The emulator rewrites its whole metadata file (every object's resource) after each write, as indented JSON. A test
session writes thousands of objects, so each write got slower as the session went on (2,656 objects: 96 ms per
rewrite indented, 31 ms compact). The emulator's storage module uses `json` for that file only (dumps to write it,
loads to read it back); it gets a `json` whose dumps ignores `indent`. Compact JSON reads back the same.
Run as `python -m devstack.gcs_emulator <gcp-storage-emulator's arguments>`.
"""

from __future__ import annotations

import json
import sys
import types

from gcp_storage_emulator import __main__ as emulator
from gcp_storage_emulator import storage


def _compact_dumps(value, **options) -> str:
    options.pop("indent", None)
    return json.dumps(value, separators=(",", ":"), **options)


if __name__ == "__main__":
    storage.json = types.SimpleNamespace(dumps=_compact_dumps, loads=json.loads)
    emulator.main(sys.argv[1:])
