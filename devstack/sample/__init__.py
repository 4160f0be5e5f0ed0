"""The sample Redshift database: TICKIT with generated data plus the edge-case schema, loaded through the emulator.

    python -m devstack.sample [--scale N] [--seed S]

`load(env, scale, seed)` is the API tests use; `expected` holds the edge-case schema as data.
"""

from __future__ import annotations

from devstack.sample.loader import SampleSummary, load

__all__ = ["SampleSummary", "load"]
