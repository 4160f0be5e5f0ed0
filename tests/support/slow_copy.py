"""Slow every COPY into tables created later in one schema: an event trigger puts a statement-level AFTER INSERT
trigger that sleeps on each table CREATE TABLE makes there (an event trigger on ddl_command_end sees the command
through pg_event_trigger_ddl_commands(), https://www.postgresql.org/docs/16/event-trigger-definition.html; COPY FROM
fires statement-level INSERT triggers, https://www.postgresql.org/docs/16/sql-copy.html). For tables r2a creates
itself (pre-data's targets, a load's shadow in r2a_staging), so a test's loaders each get parts."""

from __future__ import annotations

import psycopg2
from psycopg2 import sql


def slow_new_tables(dsn: str, schema: str, seconds: float) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE FUNCTION public.slow_part() RETURNS trigger LANGUAGE plpgsql "
                                "AS $$BEGIN PERFORM pg_sleep({}); RETURN NULL; END$$").format(sql.Literal(seconds)))
            cur.execute(sql.SQL(
                "CREATE FUNCTION public.slow_new_tables() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
                "DECLARE r record; BEGIN "
                "FOR r IN SELECT object_identity FROM pg_event_trigger_ddl_commands() "
                "WHERE command_tag = 'CREATE TABLE' AND schema_name = {} LOOP "
                "EXECUTE format('CREATE TRIGGER slow_part AFTER INSERT ON %s FOR EACH STATEMENT "
                "EXECUTE FUNCTION public.slow_part()', r.object_identity); END LOOP; END $$").format(
                    sql.Literal(schema)))
            cur.execute("CREATE EVENT TRIGGER slow_new_tables ON ddl_command_end WHEN TAG IN ('CREATE TABLE') "
                        "EXECUTE FUNCTION public.slow_new_tables()")
    finally:
        conn.close()
