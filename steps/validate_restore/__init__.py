"""validate_restore: apply rewrite_ddl's SQL to a scratch PostgreSQL, keep what it accepts, pg_dump the result."""
