"""Choosing pg_dump by version: pg_dump refuses servers newer than itself.

The "old" pg_dump here is a stand-in script that only answers --version (no old PostgreSQL need be installed);
the one that must be chosen is the real pg_dump 16 of the pgserver wheel.
"""

import pytest

from shared.errors import ConfigError
from steps.validate_restore.pgdump import find_pg_dump


def fake_pg_dump(folder, version: str):
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "pg_dump"
    script.write_text(f"#!/bin/sh\necho 'pg_dump (PostgreSQL) {version}'\n")
    script.chmod(0o755)
    return script


@pytest.fixture
def old_pg_dump(tmp_path):
    return fake_pg_dump(tmp_path, "15.3")


def test_an_older_pg_dump_on_path_is_passed_over(old_pg_dump):
    found = find_pg_dump(16, {"PATH": str(old_pg_dump.parent)})
    assert found.major == 16 and found.path.endswith("pgserver/pginstall/bin/pg_dump")


def test_explicit_setting_is_the_only_candidate(old_pg_dump):
    with pytest.raises(ConfigError, match="R2A_PG_DUMP is pg_dump 15.3, older than the scratch server"):
        find_pg_dump(16, {"R2A_PG_DUMP": str(old_pg_dump)})
    with pytest.raises(ConfigError, match=r"R2A_PG_DUMP: pg_dump 15.3 is older than 15.18, the first release with"):
        find_pg_dump(15, {"R2A_PG_DUMP": str(old_pg_dump)})
    with pytest.raises(ConfigError, match="is not a runnable pg_dump"):
        find_pg_dump(16, {"R2A_PG_DUMP": "/nonexistent/pg_dump"})


def test_no_pg_dump_new_enough(old_pg_dump):
    with pytest.raises(ConfigError) as caught:
        find_pg_dump(99, {"PATH": str(old_pg_dump.parent)})
    assert "no pg_dump of PostgreSQL 99 or newer found; only " in caught.value.one_line()
    assert "Install postgresql-client-99 or set R2A_PG_DUMP" in caught.value.one_line()


@pytest.mark.parametrize(("version", "allowed"), [("16.9", False), ("16.13", False), ("16.14", True),
                                                  ("17.9", False), ("17.10", True), ("18.4", True), ("19.1", True),
                                                  ("13.99", False), ("16", False)])
def test_security_floor_for_an_explicit_pg_dump(tmp_path, version, allowed):
    script = fake_pg_dump(tmp_path, version)
    if allowed:
        assert find_pg_dump(16, {"R2A_PG_DUMP": str(script)}).version == version
    else:
        with pytest.raises(ConfigError, match="security fixes|known CVEs fixed|older than the scratch server"):
            find_pg_dump(16, {"R2A_PG_DUMP": str(script)})


def test_an_unpatched_pg_dump_on_path_is_passed_over_and_named(tmp_path):
    unpatched = fake_pg_dump(tmp_path / "unpatched", "16.9")
    with pytest.raises(ConfigError) as caught:
        find_pg_dump(17, {"PATH": str(unpatched.parent)})
    assert "pg_dump (16.9: pg_dump 16.9 is older than 16.14" in caught.value.one_line()
    patched = fake_pg_dump(tmp_path / "patched", "16.14")
    assert find_pg_dump(16, {"PATH": str(patched.parent)}).path == str(patched)


def test_the_development_pg_dump_is_taken_below_the_floor_with_a_warning(tmp_path, caplog):
    """pgserver 0.1.4 ships pg_dump 16.2; it is a dev dependency only (tests/images keeps it out of images)."""
    found = find_pg_dump(16, {"PATH": str(fake_pg_dump(tmp_path, "16.9").parent)})
    assert found.path.endswith("pgserver/pginstall/bin/pg_dump")
    assert found.below_floor() is not None
    assert any(record.getMessage() == "pg_dump.below_security_floor" for record in caplog.records)
