"""Choosing pg_dump by version: pg_dump refuses servers newer than itself.

The "old" pg_dump here is a stand-in script that only answers --version (no old PostgreSQL need be installed);
the one that must be chosen is the real pg_dump 16 of the pgserver wheel.
"""

import pytest

from shared.errors import ConfigError
from steps.validate_restore.pgdump import find_pg_dump


@pytest.fixture
def old_pg_dump(tmp_path):
    script = tmp_path / "pg_dump"
    script.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 15.3'\n")
    script.chmod(0o755)
    return script


def test_an_older_pg_dump_on_path_is_passed_over(old_pg_dump):
    found = find_pg_dump(16, {"PATH": str(old_pg_dump.parent)})
    assert found.major == 16 and found.path.endswith("pgserver/pginstall/bin/pg_dump")


def test_explicit_setting_is_the_only_candidate(old_pg_dump):
    with pytest.raises(ConfigError, match="R2A_PG_DUMP is pg_dump 15.3, older than the scratch server"):
        find_pg_dump(16, {"R2A_PG_DUMP": str(old_pg_dump)})
    assert find_pg_dump(15, {"R2A_PG_DUMP": str(old_pg_dump)}).version == "15.3"
    with pytest.raises(ConfigError, match="is not a runnable pg_dump"):
        find_pg_dump(16, {"R2A_PG_DUMP": "/nonexistent/pg_dump"})


def test_no_pg_dump_new_enough(old_pg_dump):
    with pytest.raises(ConfigError) as caught:
        find_pg_dump(99, {"PATH": str(old_pg_dump.parent)})
    assert "no pg_dump of PostgreSQL 99 or newer found; only " in caught.value.one_line()
    assert "Install postgresql-client-99 or set R2A_PG_DUMP" in caught.value.one_line()
