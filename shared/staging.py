"""r2a's tables in schema r2a_staging: the shadow tables a load fills while the target keeps its rows, in one place.

table_transfer creates one shadow table per load (shared/partledger.py), commented with its target's name, when the
target holds rows that readers must keep seeing until the switch. A load is abandoned (its shadow dropped, or, when
it went into an empty target, the target emptied again) when a new UNLOAD of the table starts or when it fails
permanently; a load that can be resumed (its UNLOAD finished) is kept for the table's next attempt. post-data, which
runs once every transfer of the run has ended, drops what no attempt can resume: shadows without a resumable load
and the ledger rows of loads whose UNLOAD never finished. Shadows are r2a's, never a user's table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from psycopg2 import sql

from shared.identifiers import TableRef, parse_table_ref, short_name

STAGING_SCHEMA = "r2a_staging"

_OF_TARGETS = ("SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c "
               "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
               "WHERE n.nspname = %s AND c.relkind = 'r' AND obj_description(c.oid, 'pg_class') = ANY(%s) "
               "ORDER BY 2, 1")

EmptyTarget = Callable[[object, TableRef], None]  # (cursor, target): takes an abandoned load's rows out again


def shadow_name(target: TableRef, run_id: str, unload_attempt: int) -> str:
    return short_name(f"{target.file_stem()}.{run_id}.attempt-{unload_attempt:03d}")


def comment_staging_table(cur, staging: sql.Identifier, target: str) -> None:
    cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(staging, sql.Literal(target)))


# A shadow is written once and then switched in: autovacuum has nothing to reclaim in it, and a worker on it holds
# off the switch's lock. "If a process attempts to acquire a lock that conflicts with the SHARE UPDATE EXCLUSIVE lock
# held by autovacuum, lock acquisition will interrupt the autovacuum"
# (https://www.postgresql.org/docs/16/routine-vacuuming.html#AUTOVACUUM), but only once the waiter's deadlock check
# runs, after deadlock_timeout (1 s by default; src/backend/storage/lmgr/proc.c, ProcSleep). The rename switch
# resets these, so the table it makes the target vacuums as any other.
SHADOW_OPTIONS = ("autovacuum_enabled", "toast.autovacuum_enabled")


def create_shadow(cur, target: TableRef, name: str, whole: bool = False) -> sql.Identifier:
    """A table with the target's columns, NOT NULLs and CHECKs (a row the target refuses fails its part at once);
    `whole`: everything LIKE copies (defaults, identity, indexes, comments, statistics), for the rename switch.
    Autovacuum is off for it (SHADOW_OPTIONS)."""
    shadow = sql.Identifier(STAGING_SCHEMA, name)
    including = sql.SQL("INCLUDING ALL" if whole else "INCLUDING CONSTRAINTS")
    options = sql.SQL(", ").join(sql.SQL(f"{option} = false") for option in SHADOW_OPTIONS)
    cur.execute(sql.SQL("CREATE TABLE {} (LIKE {} {}) WITH ({})").format(shadow, target.sql(), including, options))
    comment_staging_table(cur, shadow, str(target))
    return shadow


def reset_shadow_options(cur, shadow: sql.Composable) -> None:
    """Autovacuum as the database's settings say, for a shadow about to become the target."""
    options = sql.SQL(", ").join(sql.SQL(option) for option in SHADOW_OPTIONS)
    cur.execute(sql.SQL("ALTER TABLE {} RESET ({})").format(shadow, options))


def truncate(cur, target: TableRef) -> None:
    cur.execute(sql.SQL("TRUNCATE {}").format(target.sql()))


def abandon_load(cur, record, empty_target: EmptyTarget = truncate) -> str:
    """Take an abandoned load's parts out: drop its shadow, or empty the target it went into (it was empty when
    the load began); then forget its ledger rows. Returns what was done, for the log."""
    # imported here: partledger imports ddlsession, which imports this module
    from shared.partledger import forget_load

    if record.shadow:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGING_SCHEMA, record.shadow)))
        done = f"dropped {STAGING_SCHEMA}.{record.shadow}"
    else:
        empty_target(cur, parse_table_ref(record.target))
        done = f"emptied {record.target}"
    forget_load(cur, record.key)
    return done


def drop_staging_tables(cur, targets: Sequence[str], keep: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Drop every staging table whose comment names one of `targets`, except those named in `keep`; returns
    (staging table, target) dropped."""
    cur.execute(_OF_TARGETS, (STAGING_SCHEMA, list(targets)))
    found = [(name, target) for name, target in cur.fetchall() if name not in keep]
    for name, _ in found:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGING_SCHEMA, name)))
    return found


def drop_leftovers(cur, targets: Sequence[str]) -> list[tuple[str, str]]:
    """post-data's cleanup, once every transfer of the run has ended: loads of `targets` that no attempt can
    resume are abandoned, and every shadow of them that no resumable load owns is dropped; returns
    (the shadow dropped, or the target emptied, qualified; target) for each."""
    from shared.partledger import UNLOADED, ledger_exists, loads_of

    cleaned: list[tuple[str, str]] = []
    keep: list[str] = []
    if ledger_exists(cur):
        for target in targets:
            for record in loads_of(cur, None, target=target):
                if record.state == UNLOADED:
                    keep.extend([record.shadow] if record.shadow else [])
                    continue
                abandon_load(cur, record)
                cleaned.append((f"{STAGING_SCHEMA}.{record.shadow}" if record.shadow else record.target,
                                record.target))
    cleaned += [(f"{STAGING_SCHEMA}.{name}", target) for name, target in drop_staging_tables(cur, targets, keep)]
    return cleaned
