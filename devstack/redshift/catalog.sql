-- Installed in the emulator's backend database at every start (idempotent).
-- r2a_emulator: what Redshift remembers and PostgreSQL does not (encodings, dist/sort keys, identity, constraints
--               that Redshift declares but never enforces, users, groups, names longer than 63 bytes).
-- r2a_catalog:  first on every session's search_path: Redshift's types, functions and catalog views, shadowing
--               pg_catalog's for unqualified names (pg_catalog.x still reaches PostgreSQL's own).

CREATE SCHEMA IF NOT EXISTS r2a_emulator;
CREATE SCHEMA IF NOT EXISTS r2a_catalog;

CREATE TABLE IF NOT EXISTS r2a_emulator.settings (name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS r2a_emulator.long_names (short_name text PRIMARY KEY, long_name text NOT NULL);
CREATE TABLE IF NOT EXISTS r2a_emulator.tables (
    relid oid PRIMARY KEY,
    diststyle text NOT NULL DEFAULT 'AUTO',          -- AUTO | EVEN | KEY | ALL
    sortkey_kind text,                               -- COMPOUND | INTERLEAVED | AUTO | NULL (none)
    backup boolean NOT NULL DEFAULT true,
    ddl text);
CREATE TABLE IF NOT EXISTS r2a_emulator.columns (
    relid oid NOT NULL,
    attnum smallint NOT NULL,
    encoding text,                                   -- as declared; NULL = Redshift's default for the type
    distkey boolean NOT NULL DEFAULT false,
    sortkey smallint NOT NULL DEFAULT 0,             -- position in the sort key, 0 = not in it
    identity_seed bigint,
    identity_step bigint,
    rs_type text,                                    -- declared Redshift type when the backend type differs
    collate_name text,
    PRIMARY KEY (relid, attnum));
CREATE SEQUENCE IF NOT EXISTS r2a_emulator.constraint_oids START 1900000000 MAXVALUE 4000000000;
CREATE TABLE IF NOT EXISTS r2a_emulator.constraints (
    oid oid PRIMARY KEY DEFAULT nextval('r2a_emulator.constraint_oids')::oid,
    relid oid NOT NULL,
    conname text NOT NULL,
    contype "char" NOT NULL,                         -- p | u | f
    columns text[] NOT NULL,
    ref_relid oid,
    ref_columns text[]);
CREATE TABLE IF NOT EXISTS r2a_emulator.views (
    relid oid PRIMARY KEY,
    late_binding boolean NOT NULL DEFAULT false,
    materialized boolean NOT NULL DEFAULT false,
    ddl text NOT NULL);
-- ALTER MATERIALIZED VIEW … AUTO REFRESH (commands.py); NULL = as created
ALTER TABLE r2a_emulator.views ADD COLUMN IF NOT EXISTS auto_refresh boolean;
-- Objects with no storage here (features.py): external schemas and tables, libraries, models, RLS policies and
-- their attachments, datashares and their objects; the system views below read them.
CREATE TABLE IF NOT EXISTS r2a_emulator.features (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    schema_name text,
    name text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    ddl text NOT NULL,
    owner text,
    created timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'));
CREATE TABLE IF NOT EXISTS r2a_emulator.users (
    usename text PRIMARY KEY,
    rolname name NOT NULL UNIQUE,
    usesuper boolean NOT NULL DEFAULT false,
    usecreatedb boolean NOT NULL DEFAULT false,
    password_md5 text,
    valuntil timestamp,
    connection_limit integer);
CREATE TABLE IF NOT EXISTS r2a_emulator.roles (
    rolename text PRIMARY KEY,
    rolname name NOT NULL UNIQUE,
    owner text,
    external_id text);
CREATE TABLE IF NOT EXISTS r2a_emulator.groups (
    groname text PRIMARY KEY,
    rolname name NOT NULL UNIQUE);

-- ------------------------------------------------------------------ names

CREATE OR REPLACE FUNCTION r2a_emulator.rs_name(name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT l.long_name FROM r2a_emulator.long_names l WHERE l.short_name = name), name)
$$;

CREATE OR REPLACE FUNCTION r2a_emulator.hidden_namespace(nsp oid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT nsp IN (SELECT n.oid FROM pg_catalog.pg_namespace n
                   WHERE n.nspname IN ('r2a_emulator', 'r2a_catalog', 'pg_toast')
                      OR n.nspname LIKE 'pg_temp_%' AND n.oid <> pg_catalog.pg_my_temp_schema()
                      OR n.nspname LIKE 'pg_toast_temp_%')
$$;

-- A backend role as Redshift shows it: the emulator's own role is the master user, r2a roles are users or
-- "group <name>"; any other role of the backend cluster is not Redshift's business and shows as is.
CREATE OR REPLACE FUNCTION r2a_emulator.role_display(role text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN role = '' THEN ''
        WHEN role = session_user THEN (SELECT value FROM r2a_emulator.settings WHERE name = 'master_user')
        ELSE coalesce((SELECT u.usename FROM r2a_emulator.users u WHERE u.rolname = role),
                      (SELECT 'group ' || g.groname FROM r2a_emulator.groups g WHERE g.rolname = role),
                      (SELECT x.rolename FROM r2a_emulator.roles x WHERE x.rolname = role),
                      role) END
$$;

CREATE OR REPLACE FUNCTION r2a_emulator.acl_text(acl aclitem[]) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN acl IS NULL THEN NULL ELSE coalesce(array_agg(
        r2a_emulator.role_display(split_part(split_part(item::text, '=', 1), '"', CASE WHEN item::text LIKE '"%'
                                                                                  THEN 2 ELSE 1 END))
        || '=' || split_part(split_part(item::text, '=', 2), '/', 1)
        || '/' || r2a_emulator.role_display(split_part(item::text, '/', 2)) ORDER BY ord), '{}') END
    FROM unnest(acl) WITH ORDINALITY AS a(item, ord)
$$;

-- ------------------------------------------------------------------ types

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('super', 'jsonb'), ('varbyte', 'bytea'), ('geometry', 'bytea'),
                                   ('geography', 'bytea'), ('hllsketch', 'text')) AS v(name, base) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type ty JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace
                       WHERE n.nspname = 'r2a_catalog' AND ty.typname = t.name) THEN
            EXECUTE format('CREATE DOMAIN r2a_catalog.%I AS %s', t.name, t.base);
        END IF;
    END LOOP;
END $$;

-- Redshift's type name for a column: its declared type where the backend stores another one, otherwise the
-- backend's canonical long form (character varying(256), numeric(18,0), timestamp without time zone, ...).
CREATE OR REPLACE FUNCTION r2a_emulator.column_type(rel oid, num smallint, typ oid, typmod integer) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT c.rs_type FROM r2a_emulator.columns c WHERE c.relid = rel AND c.attnum = num),
                    CASE WHEN typ = 'pg_catalog.text'::regtype THEN 'text'
                         ELSE pg_catalog.format_type(typ, typmod) END)
$$;

-- ENCODE AUTO's choice (Redshift docs, "Compression encodings"): sort key columns and BOOLEAN, REAL, DOUBLE
-- PRECISION are raw; SMALLINT, INTEGER, BIGINT, DECIMAL, DATE, TIMESTAMP(TZ) az64; CHAR, VARCHAR lzo.
CREATE OR REPLACE FUNCTION r2a_emulator.default_encoding(typ oid, in_sortkey boolean) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN in_sortkey THEN 'raw'
        WHEN typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype, 'date'::regtype,
                     'timestamp'::regtype, 'timestamptz'::regtype, 'time'::regtype, 'timetz'::regtype) THEN 'az64'
        WHEN typ IN ('bpchar'::regtype, 'varchar'::regtype, 'text'::regtype) THEN 'lzo'
        WHEN typ IN ('r2a_catalog.super'::regtype, 'r2a_catalog.varbyte'::regtype) THEN 'zstd'
        ELSE 'raw' END
$$;

CREATE OR REPLACE FUNCTION r2a_emulator.column_encoding(rel oid, num smallint, typ oid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(c.encoding, r2a_emulator.default_encoding(typ, coalesce(c.sortkey, 0) <> 0))
    FROM (SELECT 1) one LEFT JOIN r2a_emulator.columns c ON c.relid = rel AND c.attnum = num
$$;

-- ------------------------------------------------------------------ functions

CREATE OR REPLACE FUNCTION r2a_catalog.current_database() RETURNS name
LANGUAGE sql STABLE AS $$ SELECT value::name FROM r2a_emulator.settings WHERE name = 'database' $$;

-- The first existing schema of the user's path (the backend's path starts with r2a_catalog).
CREATE OR REPLACE FUNCTION r2a_catalog.current_schema() RETURNS name
LANGUAGE sql STABLE AS $$
    SELECT r2a_emulator.rs_name(s)::name FROM unnest(pg_catalog.current_schemas(false)) WITH ORDINALITY AS p(s, k)
    WHERE s NOT IN ('r2a_catalog', 'pg_catalog') ORDER BY k LIMIT 1
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.version() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT value FROM r2a_emulator.settings WHERE name = 'version' $$;

CREATE OR REPLACE FUNCTION r2a_catalog.getdate() RETURNS timestamp
LANGUAGE sql STABLE AS $$ SELECT pg_catalog.date_trunc('second', statement_timestamp() AT TIME ZONE 'UTC') $$;

CREATE OR REPLACE FUNCTION r2a_catalog.sysdate() RETURNS timestamp
LANGUAGE sql STABLE AS $$ SELECT transaction_timestamp() AT TIME ZONE 'UTC' $$;

CREATE OR REPLACE FUNCTION r2a_emulator.unknown_datepart(part text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RAISE EXCEPTION 'Invalid datepart: %', part USING ERRCODE = '22023';
END $$;

-- Redshift's date part names and abbreviations (Dateparts for datetime functions) → PostgreSQL's.
CREATE OR REPLACE FUNCTION r2a_catalog.r2a_datepart(part text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE lower(trim(part))
        WHEN 'millennium' THEN 'millennium' WHEN 'millennia' THEN 'millennium' WHEN 'mil' THEN 'millennium'
        WHEN 'mils' THEN 'millennium'
        WHEN 'century' THEN 'century' WHEN 'centuries' THEN 'century' WHEN 'c' THEN 'century'
        WHEN 'cent' THEN 'century' WHEN 'cents' THEN 'century'
        WHEN 'decade' THEN 'decade' WHEN 'decades' THEN 'decade' WHEN 'dec' THEN 'decade' WHEN 'decs' THEN 'decade'
        WHEN 'epoch' THEN 'epoch'
        WHEN 'year' THEN 'year' WHEN 'years' THEN 'year' WHEN 'y' THEN 'year' WHEN 'yr' THEN 'year'
        WHEN 'yrs' THEN 'year'
        WHEN 'quarter' THEN 'quarter' WHEN 'quarters' THEN 'quarter' WHEN 'qtr' THEN 'quarter'
        WHEN 'qtrs' THEN 'quarter'
        WHEN 'month' THEN 'month' WHEN 'months' THEN 'month' WHEN 'mon' THEN 'month' WHEN 'mons' THEN 'month'
        WHEN 'week' THEN 'week' WHEN 'weeks' THEN 'week' WHEN 'w' THEN 'week'
        WHEN 'dayofweek' THEN 'dow' WHEN 'dow' THEN 'dow' WHEN 'dw' THEN 'dow' WHEN 'weekday' THEN 'dow'
        WHEN 'dayofyear' THEN 'doy' WHEN 'doy' THEN 'doy' WHEN 'dy' THEN 'doy' WHEN 'yearday' THEN 'doy'
        WHEN 'day' THEN 'day' WHEN 'days' THEN 'day' WHEN 'd' THEN 'day'
        WHEN 'hour' THEN 'hour' WHEN 'hours' THEN 'hour' WHEN 'h' THEN 'hour' WHEN 'hr' THEN 'hour'
        WHEN 'hrs' THEN 'hour'
        WHEN 'minute' THEN 'minute' WHEN 'minutes' THEN 'minute' WHEN 'm' THEN 'minute' WHEN 'min' THEN 'minute'
        WHEN 'mins' THEN 'minute'
        WHEN 'second' THEN 'second' WHEN 'seconds' THEN 'second' WHEN 's' THEN 'second' WHEN 'sec' THEN 'second'
        WHEN 'secs' THEN 'second'
        WHEN 'millisecond' THEN 'milliseconds' WHEN 'milliseconds' THEN 'milliseconds' WHEN 'ms' THEN 'milliseconds'
        WHEN 'msec' THEN 'milliseconds' WHEN 'msecs' THEN 'milliseconds' WHEN 'msecond' THEN 'milliseconds'
        WHEN 'mseconds' THEN 'milliseconds' WHEN 'millisec' THEN 'milliseconds' WHEN 'millisecs' THEN 'milliseconds'
        WHEN 'millisecon' THEN 'milliseconds'
        WHEN 'microsecond' THEN 'microseconds' WHEN 'microseconds' THEN 'microseconds' WHEN 'us' THEN 'microseconds'
        WHEN 'microsec' THEN 'microseconds' WHEN 'microsecs' THEN 'microseconds' WHEN 'usec' THEN 'microseconds'
        WHEN 'usecs' THEN 'microseconds' WHEN 'useconds' THEN 'microseconds'
        WHEN 'timezone' THEN 'timezone' WHEN 'timezone_hour' THEN 'timezone_hour'
        WHEN 'timezone_minute' THEN 'timezone_minute'
        ELSE r2a_emulator.unknown_datepart(part) END
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.dateadd(part text, n bigint, ts timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE r2a_catalog.r2a_datepart(part)
        WHEN 'millennium' THEN ts + make_interval(years => (n * 1000)::int)
        WHEN 'century' THEN ts + make_interval(years => (n * 100)::int)
        WHEN 'decade' THEN ts + make_interval(years => (n * 10)::int)
        WHEN 'year' THEN ts + make_interval(years => n::int)
        WHEN 'quarter' THEN ts + make_interval(months => (n * 3)::int)
        WHEN 'month' THEN ts + make_interval(months => n::int)
        WHEN 'week' THEN ts + make_interval(days => (n * 7)::int)
        WHEN 'day' THEN ts + make_interval(days => n::int)
        WHEN 'hour' THEN ts + n * interval '1 hour'
        WHEN 'minute' THEN ts + n * interval '1 minute'
        WHEN 'second' THEN ts + n * interval '1 second'
        WHEN 'milliseconds' THEN ts + n * interval '1 millisecond'
        WHEN 'microseconds' THEN ts + n * interval '1 microsecond'
        ELSE r2a_emulator.unknown_datepart(part)::timestamp END
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.dateadd(part text, n bigint, d date) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT r2a_catalog.dateadd(part, n, d::timestamp) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.dateadd(part text, n bigint, ts timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE STRICT AS $$
    SELECT r2a_catalog.dateadd(part, n, ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.dateadd(part text, n bigint, t time) RETURNS time
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT (r2a_catalog.dateadd(part, n, '2000-01-01'::date + t))::time
$$;

-- A quoted literal is a TIMESTAMP in Redshift (PostgreSQL would prefer TIMESTAMPTZ for an unknown literal).
CREATE OR REPLACE FUNCTION r2a_catalog.dateadd(part text, n bigint, ts text) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT r2a_catalog.dateadd(part, n, ts::timestamp) $$;

-- DATEDIFF counts the boundaries of `part` crossed between a and b (not elapsed whole units).
CREATE OR REPLACE FUNCTION r2a_catalog.datediff(part text, a timestamp, b timestamp) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE r2a_catalog.r2a_datepart(part)
        WHEN 'millennium' THEN floor((extract(year FROM b) - 1) / 1000) - floor((extract(year FROM a) - 1) / 1000)
        WHEN 'century' THEN floor((extract(year FROM b) - 1) / 100) - floor((extract(year FROM a) - 1) / 100)
        WHEN 'decade' THEN floor(extract(year FROM b) / 10) - floor(extract(year FROM a) / 10)
        WHEN 'year' THEN extract(year FROM b) - extract(year FROM a)
        WHEN 'quarter' THEN (extract(year FROM b) * 4 + extract(quarter FROM b))
                          - (extract(year FROM a) * 4 + extract(quarter FROM a))
        WHEN 'month' THEN (extract(year FROM b) * 12 + extract(month FROM b))
                        - (extract(year FROM a) * 12 + extract(month FROM a))
        WHEN 'week' THEN (pg_catalog.date_trunc('week', b)::date - pg_catalog.date_trunc('week', a)::date) / 7
        WHEN 'day' THEN b::date - a::date
        WHEN 'hour' THEN (extract(epoch FROM pg_catalog.date_trunc('hour', b))
                          - extract(epoch FROM pg_catalog.date_trunc('hour', a))) / 3600
        WHEN 'minute' THEN (extract(epoch FROM pg_catalog.date_trunc('minute', b))
                            - extract(epoch FROM pg_catalog.date_trunc('minute', a))) / 60
        WHEN 'second' THEN extract(epoch FROM pg_catalog.date_trunc('second', b))
                         - extract(epoch FROM pg_catalog.date_trunc('second', a))
        WHEN 'milliseconds' THEN (extract(epoch FROM pg_catalog.date_trunc('milliseconds', b))
                                  - extract(epoch FROM pg_catalog.date_trunc('milliseconds', a))) * 1000
        WHEN 'microseconds' THEN (extract(epoch FROM b) - extract(epoch FROM a)) * 1000000
        ELSE r2a_emulator.unknown_datepart(part)::bigint END::bigint
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.datediff(part text, a text, b text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT r2a_catalog.datediff(part, a::timestamp, b::timestamp) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.datediff(part text, a date, b date) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT r2a_catalog.datediff(part, a::timestamp, b::timestamp) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.datediff(part text, a timestamptz, b timestamptz) RETURNS bigint
LANGUAGE sql STABLE STRICT AS $$
    SELECT r2a_catalog.datediff(part, a AT TIME ZONE 'UTC', b AT TIME ZONE 'UTC')
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.datediff(part text, a time, b time) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT r2a_catalog.datediff(part, '2000-01-01'::date + a, '2000-01-01'::date + b)
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.date_part(part text, ts timestamp) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT pg_catalog.date_part(r2a_catalog.r2a_datepart(part), ts) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.date_part(part text, ts timestamptz) RETURNS double precision
LANGUAGE sql STABLE STRICT AS $$ SELECT pg_catalog.date_part(r2a_catalog.r2a_datepart(part), ts) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.date_part(part text, d date) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT pg_catalog.date_part(r2a_catalog.r2a_datepart(part), d::timestamp) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.date_part(part text, t time) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT pg_catalog.date_part(r2a_catalog.r2a_datepart(part), t) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.date_part(part text, i interval) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT pg_catalog.date_part(r2a_catalog.r2a_datepart(part), i) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.date_trunc(part text, ts timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT pg_catalog.date_trunc(r2a_catalog.r2a_datepart(part), ts) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.date_trunc(part text, ts timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE STRICT AS $$ SELECT pg_catalog.date_trunc(r2a_catalog.r2a_datepart(part), ts) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.trunc(ts timestamp) RETURNS date
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ts::date $$;

CREATE OR REPLACE FUNCTION r2a_catalog.trunc(ts timestamptz) RETURNS date
LANGUAGE sql STABLE STRICT AS $$ SELECT (ts AT TIME ZONE 'UTC')::date $$;

CREATE OR REPLACE FUNCTION r2a_catalog.add_months(d timestamp, n bigint) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$
    -- the last day of a month stays the last day of the target month
    SELECT CASE WHEN d::date = (pg_catalog.date_trunc('month', d) + interval '1 month - 1 day')::date
                THEN (pg_catalog.date_trunc('month', d + make_interval(months => n::int)) + interval '1 month - 1 day')
                     + (d - pg_catalog.date_trunc('day', d))
                ELSE d + make_interval(months => n::int) END
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.add_months(d date, n bigint) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT r2a_catalog.add_months(d::timestamp, n) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.add_months(d text, n bigint) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT r2a_catalog.add_months(d::timestamp, n) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.last_day(d timestamp) RETURNS date
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (pg_catalog.date_trunc('month', d) + interval '1 month - 1 day')::date $$;

CREATE OR REPLACE FUNCTION r2a_catalog.months_between(a date, b date) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN extract(day FROM a) = extract(day FROM b)
                  OR (a = r2a_catalog.last_day(a) AND b = r2a_catalog.last_day(b))
                THEN ((extract(year FROM a) - extract(year FROM b)) * 12 + extract(month FROM a) - extract(month FROM b))::double precision
                ELSE ((extract(year FROM a) - extract(year FROM b)) * 12 + extract(month FROM a) - extract(month FROM b))
                     + (extract(day FROM a) - extract(day FROM b)) / 31.0 END
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.convert_timezone(target text, ts timestamp) RETURNS timestamp
LANGUAGE sql STABLE STRICT AS $$ SELECT (ts AT TIME ZONE 'UTC') AT TIME ZONE target $$;

CREATE OR REPLACE FUNCTION r2a_catalog.convert_timezone(target text, ts timestamptz) RETURNS timestamp
LANGUAGE sql STABLE STRICT AS $$ SELECT ts AT TIME ZONE target $$;

CREATE OR REPLACE FUNCTION r2a_catalog.convert_timezone(source text, target text, ts timestamp) RETURNS timestamp
LANGUAGE sql STABLE STRICT AS $$ SELECT (ts AT TIME ZONE source) AT TIME ZONE target $$;

-- SHA2(string, bits): hex digest, bits 0 meaning 256, "an empty string if the number of bits is invalid"
-- (https://docs.aws.amazon.com/redshift/latest/dg/SHA2.html)
CREATE OR REPLACE FUNCTION r2a_catalog.sha2(value text, bits integer) RETURNS varchar
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(encode(CASE bits WHEN 224 THEN sha224(convert_to(value, 'UTF8'))
                                     WHEN 384 THEN sha384(convert_to(value, 'UTF8'))
                                     WHEN 512 THEN sha512(convert_to(value, 'UTF8'))
                                     WHEN 0 THEN sha256(convert_to(value, 'UTF8'))
                                     WHEN 256 THEN sha256(convert_to(value, 'UTF8')) END, 'hex'), '')
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.charindex(needle text, haystack text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT strpos(haystack, needle) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.len(s text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT length(s) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.len(s bytea) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT length(s) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.strtol(s text, base integer) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    digits text := lower(trim(s));
    result bigint := 0;
    negative boolean := false;
    d integer;
BEGIN
    IF digits LIKE '-%' THEN negative := true; digits := substr(digits, 2); END IF;
    IF base = 16 AND digits LIKE '0x%' THEN digits := substr(digits, 3); END IF;
    FOR k IN 1..length(digits) LOOP
        d := strpos('0123456789abcdefghijklmnopqrstuvwxyz', substr(digits, k, 1)) - 1;
        IF d < 0 OR d >= base THEN RETURN NULL; END IF;
        result := result * base + d;
    END LOOP;
    RETURN CASE WHEN negative THEN -result ELSE result END;
END $$;

CREATE OR REPLACE FUNCTION r2a_catalog.json_extract_path_text(json_string text, VARIADIC path text[])
RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT json_string::json #>> path $$;

-- The optional last argument null_if_invalid: NULL instead of an error for a string that is not JSON.
CREATE OR REPLACE FUNCTION r2a_catalog.json_extract_path_text(json_string text, p1 text, null_if_invalid boolean)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN null_if_invalid AND NOT json_string IS JSON THEN NULL ELSE json_string::json #>> ARRAY[p1] END
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.json_extract_path_text(json_string text, p1 text, p2 text,
                                                              null_if_invalid boolean)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN null_if_invalid AND NOT json_string IS JSON THEN NULL
                ELSE json_string::json #>> ARRAY[p1, p2] END
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.json_extract_path_text(json_string text, p1 text, p2 text, p3 text,
                                                              null_if_invalid boolean)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN null_if_invalid AND NOT json_string IS JSON THEN NULL
                ELSE json_string::json #>> ARRAY[p1, p2, p3] END
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.json_extract_array_element_text(json_string text, pos integer)
RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT json_string::json ->> pos $$;

CREATE OR REPLACE FUNCTION r2a_catalog.json_array_length(json_string text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT pg_catalog.json_array_length(json_string::json) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.is_valid_json(json_string text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT json_string IS JSON $$;

CREATE OR REPLACE FUNCTION r2a_catalog.json_parse(json_string text) RETURNS r2a_catalog.super
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT json_string::jsonb::r2a_catalog.super $$;

CREATE OR REPLACE FUNCTION r2a_catalog.json_serialize(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT value::text $$;

CREATE OR REPLACE FUNCTION r2a_catalog.from_varbyte(value bytea, format text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE lower(format) WHEN 'hex' THEN encode(value, 'hex') WHEN 'base64' THEN encode(value, 'base64')
                              ELSE convert_from(value, 'UTF8') END
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.to_varbyte(value text, format text) RETURNS r2a_catalog.varbyte
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT (CASE lower(format) WHEN 'hex' THEN decode(value, 'hex') WHEN 'base64' THEN decode(value, 'base64')
                               ELSE convert_to(value, 'UTF8') END)::r2a_catalog.varbyte
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.from_hex(hex text) RETURNS r2a_catalog.varbyte
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT decode(hex, 'hex')::r2a_catalog.varbyte $$;

CREATE OR REPLACE FUNCTION r2a_catalog.to_hex(value bytea) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT encode(value, 'hex') $$;

-- TO_HEX takes "a number or binary value (VARBYTE)" (https://docs.aws.amazon.com/redshift/latest/dg/r_TO_HEX.html);
-- GEOMETRY and GEOGRAPHY, bytea domains here, would otherwise reach the bytea form above.
CREATE OR REPLACE FUNCTION r2a_catalog.to_hex(value r2a_catalog.geometry) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RAISE EXCEPTION 'function to_hex(geometry) does not exist' USING ERRCODE = '42883'; END $$;

CREATE OR REPLACE FUNCTION r2a_catalog.to_hex(value r2a_catalog.geography) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RAISE EXCEPTION 'function to_hex(geography) does not exist' USING ERRCODE = '42883'; END $$;

-- EWKB "using ASCII hexadecimal characters (0-9, A-F)", VARCHAR, an error past a 64-KB VARCHAR
-- (https://docs.aws.amazon.com/redshift/latest/dg/ST_AsHexEWKB-function.html). The emulator stores the EWKB itself.
CREATE OR REPLACE FUNCTION r2a_emulator.hex_ewkb(value bytea) RETURNS varchar
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    hex text := upper(encode(value, 'hex'));
BEGIN
    IF octet_length(hex) > 65535 THEN
        RAISE EXCEPTION 'ST_AsHexEWKB: the result is larger than a 64-KB VARCHAR';
    END IF;
    RETURN hex;
END $$;

CREATE OR REPLACE FUNCTION r2a_catalog.st_ashexewkb(geo r2a_catalog.geometry) RETURNS varchar
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT r2a_emulator.hex_ewkb(geo) $$;

CREATE OR REPLACE FUNCTION r2a_catalog.st_ashexewkb(geo r2a_catalog.geography) RETURNS varchar
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT r2a_emulator.hex_ewkb(geo) $$;

-- MEDIAN is an aggregate in Redshift (PostgreSQL only has the ordered-set percentile_cont).
CREATE OR REPLACE FUNCTION r2a_emulator.median_final(values_ numeric[]) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN count(*) = 0 THEN NULL
                WHEN count(*) % 2 = 1 THEN (array_agg(v ORDER BY v))[count(*) / 2 + 1]
                ELSE ((array_agg(v ORDER BY v))[count(*) / 2] + (array_agg(v ORDER BY v))[count(*) / 2 + 1]) / 2 END
    FROM unnest(values_) v WHERE v IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION r2a_emulator.median_final(values_ double precision[]) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM unnest(values_) v
$$;

-- Redshift: the median of integers is a DECIMAL with one decimal place (10.0, 17.5)
CREATE OR REPLACE FUNCTION r2a_emulator.median_final_int(values_ bigint[]) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$ SELECT round(r2a_emulator.median_final(values_::numeric[]), 1) $$;

CREATE OR REPLACE FUNCTION r2a_emulator.median_final_scaled(values_ numeric[]) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT round(r2a_emulator.median_final(values_), (SELECT max(scale(v)) FROM unnest(values_) v))
$$;

CREATE OR REPLACE FUNCTION r2a_emulator.median_push(state bigint[], value integer) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$ SELECT array_append(state, value::bigint) $$;

CREATE OR REPLACE FUNCTION r2a_emulator.median_push(state bigint[], value smallint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$ SELECT array_append(state, value::bigint) $$;

CREATE OR REPLACE AGGREGATE r2a_catalog.median(numeric) (SFUNC = array_append, STYPE = numeric[],
    FINALFUNC = r2a_emulator.median_final_scaled);
CREATE OR REPLACE AGGREGATE r2a_catalog.median(double precision) (SFUNC = array_append, STYPE = double precision[],
    FINALFUNC = r2a_emulator.median_final);
CREATE OR REPLACE AGGREGATE r2a_catalog.median(bigint) (SFUNC = array_append, STYPE = bigint[],
    FINALFUNC = r2a_emulator.median_final_int);
CREATE OR REPLACE AGGREGATE r2a_catalog.median(integer) (SFUNC = r2a_emulator.median_push, STYPE = bigint[],
    FINALFUNC = r2a_emulator.median_final_int);
CREATE OR REPLACE AGGREGATE r2a_catalog.median(smallint) (SFUNC = r2a_emulator.median_push, STYPE = bigint[],
    FINALFUNC = r2a_emulator.median_final_int);

-- AVG of an integer is a BIGINT on Redshift ("BIGINT for any integer type argument",
-- https://docs.aws.amazon.com/redshift/latest/dg/r_AVG.html), truncated: the running AVG(qty) of
-- https://docs.aws.amazon.com/redshift/latest/dg/r_WF_AVG.html prints 16 for 50/3 and 22 for 90/4. State: {count, sum}.
CREATE OR REPLACE FUNCTION r2a_emulator.avg_truncated(state bigint[]) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN state[1] = 0 THEN NULL ELSE trunc(state[2]::numeric / state[1])::bigint END
$$;
CREATE OR REPLACE FUNCTION r2a_emulator.avg_truncated(state numeric[]) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN state[1] = 0 THEN NULL ELSE trunc(state[2] / state[1])::bigint END
$$;
CREATE OR REPLACE FUNCTION r2a_emulator.avg_push(state numeric[], value bigint) RETURNS numeric[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN state ELSE ARRAY[state[1] + 1, state[2] + value] END
$$;
CREATE OR REPLACE AGGREGATE r2a_catalog.avg(smallint) (SFUNC = pg_catalog.int2_avg_accum, STYPE = bigint[],
    INITCOND = '{0,0}', FINALFUNC = r2a_emulator.avg_truncated);
CREATE OR REPLACE AGGREGATE r2a_catalog.avg(integer) (SFUNC = pg_catalog.int4_avg_accum, STYPE = bigint[],
    INITCOND = '{0,0}', FINALFUNC = r2a_emulator.avg_truncated);
CREATE OR REPLACE AGGREGATE r2a_catalog.avg(bigint) (SFUNC = r2a_emulator.avg_push, STYPE = numeric[],
    INITCOND = '{0,0}', FINALFUNC = r2a_emulator.avg_truncated);

-- Python UDFs and external (Lambda / SageMaker) functions are stored, never run: their languages are a PL/pgSQL
-- handler without a validator.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_language WHERE lanname = 'plpythonu') THEN
        CREATE LANGUAGE plpythonu HANDLER plpgsql_call_handler;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_language WHERE lanname = 'exfunc') THEN
        CREATE LANGUAGE exfunc HANDLER plpgsql_call_handler;
    END IF;
END $$;

-- ------------------------------------------------------------------ catalog

CREATE OR REPLACE VIEW r2a_catalog.pg_namespace AS
SELECT n.oid, r2a_emulator.rs_name(n.nspname)::text AS nspname, n.nspowner,
       r2a_emulator.acl_text(n.nspacl) AS nspacl
FROM pg_catalog.pg_namespace n
WHERE NOT r2a_emulator.hidden_namespace(n.oid);

CREATE OR REPLACE VIEW r2a_catalog.pg_class AS
SELECT c.oid, r2a_emulator.rs_name(c.relname)::text AS relname, c.relnamespace, c.reltype, c.reloftype, c.relowner,
       c.relam, c.relfilenode, c.reltablespace, c.relpages, c.reltuples, c.relallvisible, c.reltoastrelid,
       c.relhasindex, c.relisshared, c.relpersistence,
       CASE c.relkind WHEN 'm' THEN 'v'::"char" ELSE c.relkind END AS relkind,
       c.relnatts, c.relchecks, c.relhasrules, c.relhastriggers, c.relhassubclass, c.relrowsecurity,
       c.relforcerowsecurity, c.relispopulated, c.relreplident, c.relispartition, c.relrewrite, c.relfrozenxid,
       c.relminmxid, r2a_emulator.acl_text(c.relacl) AS relacl, c.reloptions, c.relpartbound,
       CASE WHEN c.relkind <> 'r' THEN NULL::smallint
            ELSE (CASE coalesce(t.diststyle, 'AUTO') WHEN 'EVEN' THEN 0 WHEN 'KEY' THEN 1 WHEN 'ALL' THEN 8
                                                       ELSE 9 END)::smallint END AS reldiststyle
FROM pg_catalog.pg_class c
LEFT JOIN r2a_emulator.tables t ON t.relid = c.oid
WHERE NOT r2a_emulator.hidden_namespace(c.relnamespace) AND c.relkind <> 'S';

CREATE OR REPLACE VIEW r2a_catalog.pg_tables AS
SELECT r2a_emulator.rs_name(n.nspname)::text AS schemaname, r2a_emulator.rs_name(c.relname)::text AS tablename,
       r2a_emulator.role_display(pg_catalog.pg_get_userbyid(c.relowner)::text) AS tableowner,
       NULL::name AS tablespace, c.relhasindex AS hasindexes, c.relhasrules AS hasrules,
       c.relhastriggers AS hastriggers
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT r2a_emulator.hidden_namespace(n.oid);

-- attencodingtype is an integer code on Redshift, 0 for raw (AWS's "Diagnostic queries for query tuning" tests
-- `decode(max(attencodingtype), 0, 'n', 'y')`; DDL generators call format_encoding(attencodingtype::integer)).
-- AWS does not publish the other codes: these are the emulator's own, format_encoding reads them back.
CREATE OR REPLACE FUNCTION r2a_emulator.encoding_names() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['raw', 'bytedict', 'delta', 'delta32k', 'lzo', 'mostly8', 'mostly16', 'mostly32', 'runlength',
                 'text255', 'text32k', 'zstd', 'az64']
$$;

CREATE OR REPLACE FUNCTION r2a_emulator.encoding_code(encoding text) RETURNS smallint
LANGUAGE sql IMMUTABLE AS $$ SELECT (array_position(r2a_emulator.encoding_names(), encoding) - 1)::smallint $$;

DROP VIEW IF EXISTS r2a_catalog.pg_attribute;  -- attencodingtype was text before
CREATE OR REPLACE VIEW r2a_catalog.pg_attribute AS
SELECT a.attrelid, r2a_emulator.rs_name(a.attname)::text AS attname, a.atttypid, a.attlen, a.attnum,
       a.attcacheoff, a.atttypmod, a.attndims, a.attbyval, a.attalign, a.attstorage, a.attnotnull,
       (a.atthasdef OR a.attidentity <> '') AS atthasdef, a.attidentity, a.attisdropped, a.attislocal,
       a.attinhcount, a.attcollation, a.attacl,
       coalesce(col.distkey, false) AS attisdistkey,
       (CASE WHEN t.sortkey_kind = 'INTERLEAVED' AND coalesce(col.sortkey, 0) % 2 = 1
             THEN -coalesce(col.sortkey, 0) ELSE coalesce(col.sortkey, 0) END)::integer AS attsortkeyord,
       r2a_emulator.encoding_code(r2a_emulator.column_encoding(a.attrelid, a.attnum, a.atttypid)) AS attencodingtype
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
LEFT JOIN r2a_emulator.columns col ON col.relid = a.attrelid AND col.attnum = a.attnum
LEFT JOIN r2a_emulator.tables t ON t.relid = a.attrelid
WHERE NOT r2a_emulator.hidden_namespace(c.relnamespace);

-- Redshift still has adsrc; an identity column's default reads "identity"(<table oid>, <column index>, '<seed>,<step>'::text)
CREATE OR REPLACE VIEW r2a_catalog.pg_attrdef AS
SELECT d.oid, d.adrelid, d.adnum, d.adbin::text AS adbin, pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS adsrc
FROM pg_catalog.pg_attrdef d
JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
WHERE NOT r2a_emulator.hidden_namespace(c.relnamespace)
UNION ALL
SELECT 0::oid, col.relid, col.attnum, NULL::text,
       format('"identity"(%s, %s, ''%s,%s''::text)', col.relid, col.attnum - 1, col.identity_seed,
              col.identity_step)
FROM r2a_emulator.columns col
JOIN pg_catalog.pg_attribute a ON a.attrelid = col.relid AND a.attnum = col.attnum AND NOT a.attisdropped
WHERE col.identity_seed IS NOT NULL;

-- Redshift's format_encoding names a column's compression (raw shows as none, as in pg_table_def). Only code 0
-- is documented; for the others the product reads encodings as text (pg_table_def.encoding, SHOW TABLE), never
-- these numbers.
CREATE OR REPLACE FUNCTION r2a_catalog.format_encoding(encoding integer) RETURNS name
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN encoding = 0 THEN 'none' ELSE (r2a_emulator.encoding_names())[encoding + 1] END::name
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.pg_get_constraintdef(constraint_oid oid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT CASE k.contype
                    WHEN 'p' THEN 'PRIMARY KEY (' || array_to_string(k.columns, ', ') || ')'
                    WHEN 'u' THEN 'UNIQUE (' || array_to_string(k.columns, ', ') || ')'
                    ELSE 'FOREIGN KEY (' || array_to_string(k.columns, ', ') || ') REFERENCES '
                         || r2a_emulator.rs_name(n.nspname) || '.' || r2a_emulator.rs_name(c.relname)
                         || '(' || array_to_string(k.ref_columns, ', ') || ')' END
         FROM r2a_emulator.constraints k
         LEFT JOIN pg_catalog.pg_class c ON c.oid = k.ref_relid
         LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE k.oid = constraint_oid),
        pg_catalog.pg_get_constraintdef(constraint_oid))
$$;

CREATE OR REPLACE FUNCTION r2a_catalog.pg_get_constraintdef(constraint_oid oid, pretty boolean) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT r2a_catalog.pg_get_constraintdef(constraint_oid) $$;

CREATE OR REPLACE VIEW r2a_catalog.pg_constraint AS
SELECT k.oid, k.conname, c.relnamespace AS connamespace, k.contype, false AS condeferrable, false AS condeferred,
       true AS convalidated, k.relid AS conrelid, 0::oid AS contypid, 0::oid AS conindid,
       coalesce(k.ref_relid, 0::oid) AS confrelid, 'a'::"char" AS confupdtype, 'a'::"char" AS confdeltype,
       's'::"char" AS confmatchtype,
       (SELECT array_agg(a.attnum ORDER BY o.ord) FROM unnest(k.columns) WITH ORDINALITY o(name, ord)
        JOIN pg_catalog.pg_attribute a ON a.attrelid = k.relid AND r2a_emulator.rs_name(a.attname) = o.name)
           AS conkey,
       (SELECT array_agg(a.attnum ORDER BY o.ord) FROM unnest(k.ref_columns) WITH ORDINALITY o(name, ord)
        JOIN pg_catalog.pg_attribute a ON a.attrelid = k.ref_relid AND r2a_emulator.rs_name(a.attname) = o.name)
           AS confkey,
       r2a_catalog.pg_get_constraintdef(k.oid) AS consrc
FROM r2a_emulator.constraints k
JOIN pg_catalog.pg_class c ON c.oid = k.relid
UNION ALL
SELECT k.oid, k.conname::text, k.connamespace, k.contype, k.condeferrable, k.condeferred, k.convalidated,
       k.conrelid, k.contypid, k.conindid, k.confrelid, k.confupdtype, k.confdeltype, k.confmatchtype, k.conkey,
       k.confkey, pg_catalog.pg_get_constraintdef(k.oid)
FROM pg_catalog.pg_constraint k
WHERE NOT r2a_emulator.hidden_namespace(k.connamespace);

-- A view's text, or NULL for a view dropped since the reading transaction's snapshot (pg_get_viewdef reads the
-- current catalog and fails on it): on Redshift a DROP is visible to other transactions on commit, so pg_views
-- never fails over it either.
CREATE OR REPLACE FUNCTION r2a_emulator.view_definition(rel oid) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN pg_catalog.pg_get_viewdef(rel);
EXCEPTION WHEN internal_error OR undefined_table THEN
    RETURN NULL;
END $$;

CREATE OR REPLACE VIEW r2a_catalog.pg_views AS
SELECT r2a_emulator.rs_name(n.nspname)::text AS schemaname, r2a_emulator.rs_name(c.relname)::text AS viewname,
       r2a_emulator.role_display(pg_catalog.pg_get_userbyid(c.relowner)::text) AS viewowner,
       CASE WHEN v.late_binding THEN v.ddl ELSE r2a_emulator.view_definition(c.oid) END AS definition
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN r2a_emulator.views v ON v.relid = c.oid
WHERE c.relkind IN ('v', 'm') AND NOT r2a_emulator.hidden_namespace(n.oid);

CREATE OR REPLACE VIEW r2a_catalog.pg_proc AS
SELECT p.oid, r2a_emulator.rs_name(p.proname)::text AS proname, p.pronamespace, p.proowner, p.prolang, p.procost,
       p.prorows, p.provariadic, p.prokind, p.prosecdef, p.proleakproof, p.proisstrict, p.proretset,
       p.provolatile, p.pronargs, p.pronargdefaults, p.prorettype, p.proargtypes, p.proallargtypes,
       p.proargmodes, p.proargnames, p.proargdefaults, p.prosrc, p.probin, p.proconfig,
       r2a_emulator.acl_text(p.proacl) AS proacl
FROM pg_catalog.pg_proc p
WHERE NOT r2a_emulator.hidden_namespace(p.pronamespace);


CREATE OR REPLACE VIEW r2a_catalog.pg_user AS
SELECT s.value AS usename, r.oid::integer AS usesysid, true AS usecreatedb, true AS usesuper, true AS usecatupd,
       '********'::text AS passwd, NULL::timestamp AS valuntil, NULL::text[] AS useconfig
FROM pg_catalog.pg_roles r, r2a_emulator.settings s
WHERE r.rolname = session_user AND s.name = 'master_user'
UNION ALL
SELECT u.usename, r.oid::integer, u.usecreatedb, u.usesuper, u.usesuper, '********'::text, u.valuntil, NULL::text[]
FROM r2a_emulator.users u JOIN pg_catalog.pg_roles r ON r.rolname = u.rolname;

CREATE OR REPLACE VIEW r2a_catalog.pg_group AS
SELECT g.groname, r.oid::integer AS grosysid,
       (SELECT array_agg(m.member::integer ORDER BY m.member) FROM pg_catalog.pg_auth_members m
        WHERE m.roleid = r.oid) AS grolist
FROM r2a_emulator.groups g JOIN pg_catalog.pg_roles r ON r.rolname = g.rolname;

CREATE OR REPLACE VIEW r2a_catalog.pg_database AS
SELECT d.oid, s.value AS datname, d.datdba, d.encoding, d.datistemplate, d.datallowconn, d.datconnlimit,
       d.datacl
FROM pg_catalog.pg_database d, r2a_emulator.settings s
WHERE d.datname = pg_catalog.current_database() AND s.name = 'database';

CREATE OR REPLACE VIEW r2a_catalog.pg_table_def AS
SELECT r2a_emulator.rs_name(n.nspname)::text AS schemaname, r2a_emulator.rs_name(c.relname)::text AS tablename,
       r2a_emulator.rs_name(a.attname)::text AS "column",
       r2a_emulator.column_type(c.oid, a.attnum, a.atttypid, a.atttypmod) AS type,
       (CASE WHEN r2a_emulator.column_encoding(c.oid, a.attnum, a.atttypid) = 'raw' THEN 'none'
             ELSE r2a_emulator.column_encoding(c.oid, a.attnum, a.atttypid) END)::character(32) AS encoding,
       coalesce(col.distkey, false) AS distkey,
       (CASE WHEN t.sortkey_kind = 'INTERLEAVED' AND coalesce(col.sortkey, 0) % 2 = 1
             THEN -coalesce(col.sortkey, 0) ELSE coalesce(col.sortkey, 0) END)::integer AS sortkey,
       a.attnotnull AS notnull
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN r2a_emulator.columns col ON col.relid = c.oid AND col.attnum = a.attnum
LEFT JOIN r2a_emulator.tables t ON t.relid = c.oid
WHERE c.relkind = 'r' AND n.nspname = ANY (current_schemas(false))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT r2a_emulator.hidden_namespace(n.oid)
ORDER BY n.nspname, c.relname, a.attnum;

-- Exact row count for tables up to 256 MB and for any table PostgreSQL has not analyzed yet (reltuples -1: a large
-- table just loaded would otherwise be left out as if empty, where Redshift lists every table that holds rows), the
-- planner's estimate above (Redshift keeps exact counts cheaply).
-- NULL (so the table is left out, like an empty one) for another session's temporary table, which PostgreSQL
-- refuses to read and which Redshift's SVV_TABLE_INFO does not list ("shows only user-defined tables",
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLE_INFO.html; a temporary table belongs to its
-- session's pg_temp_nnn schema, https://docs.aws.amazon.com/redshift/latest/dg/r_search_path.html), and for a
-- table dropped since the reading transaction's snapshot: the planner may call this before any other filter.
CREATE OR REPLACE FUNCTION r2a_emulator.row_count(rel oid) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    result bigint;
    target text;
BEGIN
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) INTO target
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = rel AND (c.relpersistence <> 't' OR c.relnamespace = pg_catalog.pg_my_temp_schema());
    IF target IS NULL THEN
        RETURN NULL;
    END IF;
    IF coalesce(pg_catalog.pg_relation_size(rel), 0) > 256 * 1024 * 1024 THEN
        SELECT c.reltuples::bigint INTO result FROM pg_catalog.pg_class c WHERE c.oid = rel AND c.reltuples >= 0;
        IF result IS NOT NULL THEN
            RETURN result;
        END IF;
    END IF;
    BEGIN
        EXECUTE format('SELECT count(*) FROM %s', target) INTO result;
    EXCEPTION WHEN undefined_table OR object_not_in_prerequisite_state THEN  -- or a materialized view never filled
        RETURN NULL;
    END;
    RETURN result;
END $$;

-- The 1 MB blocks a table takes however little it holds: one per column (user columns and the three hidden ones),
-- per populated slice (an ALL table: per node), per segment (two with a defined sort key)
-- (https://repost.aws/knowledge-center/redshift-cluster-storage-space). The emulator's rows are spread over all its
-- slices (populated: min(slices, rows)); AUTO is AUTO(ALL), as SVV_TABLE_INFO shows it; two slices per node as in
-- stv_slices.
CREATE OR REPLACE FUNCTION r2a_emulator.minimum_blocks(rel oid, rows bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT ((SELECT count(*) FROM pg_catalog.pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0
                                                            AND NOT a.attisdropped) + 3)
           * (CASE WHEN coalesce(t.diststyle, 'AUTO') IN ('ALL', 'AUTO') THEN (s.value::integer + 1) / 2
                   ELSE least(s.value::integer, greatest(rows, 0)) END)
           * (CASE WHEN EXISTS (SELECT 1 FROM r2a_emulator.columns k WHERE k.relid = rel AND k.sortkey > 0)
                   THEN 2 ELSE 1 END)
    FROM r2a_emulator.settings s LEFT JOIN r2a_emulator.tables t ON t.relid = rel
    WHERE s.name = 'slices'
$$;

-- Columns in the order of AWS's SVV_TABLE_INFO page (https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLE_INFO.html).
-- Materialized views are listed under their own name: the page says only "user-defined tables", but dbt-redshift
-- reads a materialized view's diststyle and sortkey1 from SVV_TABLE_INFO by the view's name, in its macro
-- redshift__describe_materialized_view and in its functional tests run against real clusters
-- (https://github.com/dbt-labs/dbt-redshift/blob/main/tests/functional/adapter/materialized_view_tests/utils.py).
-- encoded: 'Y, AUTO(ENCODE)' while no column names an encoding (the table is ENCODE AUTO); sortkey1: AUTO(SORTKEY)
-- for a table created without SORTKEY (CREATE TABLE: "If you don't specify any sort keys options, the default is
-- AUTO"). Statistics Redshift gathers and PostgreSQL has no equivalent for read as a healthy table's.
DROP VIEW IF EXISTS r2a_catalog.svv_table_info;  -- its columns were fewer and in another order before
CREATE OR REPLACE VIEW r2a_catalog.svv_table_info AS
SELECT s.value AS database, r2a_emulator.rs_name(n.nspname)::text AS schema, c.oid AS table_id,
       r2a_emulator.rs_name(c.relname)::text AS "table",
       CASE WHEN NOT EXISTS (SELECT 1 FROM r2a_emulator.columns k WHERE k.relid = c.oid AND k.encoding IS NOT NULL)
            THEN 'Y, AUTO(ENCODE)'
            WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                         AND NOT a.attisdropped
                         AND r2a_emulator.column_encoding(c.oid, a.attnum, a.atttypid) <> 'raw')
            THEN 'Y' ELSE 'N' END AS encoded,
       CASE coalesce(t.diststyle, 'AUTO')
            WHEN 'KEY' THEN 'KEY(' || coalesce((SELECT r2a_emulator.rs_name(a.attname) FROM r2a_emulator.columns k
                                                JOIN pg_catalog.pg_attribute a ON a.attrelid = k.relid
                                                     AND a.attnum = k.attnum
                                                WHERE k.relid = c.oid AND k.distkey LIMIT 1), '') || ')'
            WHEN 'AUTO' THEN 'AUTO(ALL)' ELSE t.diststyle END AS diststyle,
       CASE WHEN t.sortkey_kind = 'INTERLEAVED' THEN 'INTERLEAVED'
            WHEN coalesce(t.sortkey_kind, 'AUTO') = 'AUTO' THEN 'AUTO(SORTKEY)'
            ELSE (SELECT r2a_emulator.rs_name(a.attname) FROM r2a_emulator.columns k
                  JOIN pg_catalog.pg_attribute a ON a.attrelid = k.relid AND a.attnum = k.attnum
                  WHERE k.relid = c.oid AND k.sortkey = 1) END AS sortkey1,
       (SELECT max(a.atttypmod - 4) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
        AND NOT a.attisdropped AND a.atttypid = 'pg_catalog.varchar'::regtype)::integer AS max_varchar,
       (SELECT r2a_emulator.column_encoding(c.oid, a.attnum, a.atttypid) FROM r2a_emulator.columns k
        JOIN pg_catalog.pg_attribute a ON a.attrelid = k.relid AND a.attnum = k.attnum
        WHERE k.relid = c.oid AND k.sortkey = 1)::character(32) AS sortkey1_enc,
       (SELECT count(*) FROM r2a_emulator.columns k WHERE k.relid = c.oid AND k.sortkey > 0)::integer AS sortkey_num,
       (ceil(pg_catalog.pg_total_relation_size(c.oid) / (1024.0 * 1024.0))
        + coalesce(r2a_emulator.minimum_blocks(c.oid, x.rows), 1))::bigint AS size,
       0.0001::numeric(10,4) AS pct_used, 0::bigint AS empty,
       0::numeric(5,2) AS unsorted, 0::numeric(5,2) AS stats_off, x.rows::numeric(38,0) AS tbl_rows,
       NULL::numeric(19,2) AS skew_sortkey1, 0::numeric(19,2) AS skew_rows,
       x.rows::numeric(38,0) AS estimated_visible_rows, NULL::text AS risk_event,
       0::numeric(12,2) AS vacuum_sort_benefit, NULL::timestamp AS create_time
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN r2a_emulator.tables t ON t.relid = c.oid
CROSS JOIN r2a_emulator.settings s
CROSS JOIN LATERAL (SELECT r2a_emulator.row_count(c.oid) AS rows) x
WHERE c.relkind IN ('r', 'm') AND s.name = 'database' AND x.rows > 0
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT r2a_emulator.hidden_namespace(n.oid);

-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_COLUMNS.html: 23 columns in this order (interval_precision
-- is text there).
DO $$ BEGIN  -- interval_precision was an integer before; a view of today's shape (and views over it) stays
    IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'r2a_catalog'
               AND table_name = 'svv_columns' AND column_name = 'interval_precision' AND data_type = 'integer') THEN
        DROP VIEW r2a_catalog.svv_columns;
    END IF;
END $$;
CREATE OR REPLACE VIEW r2a_catalog.svv_columns AS
SELECT s.value AS table_catalog, r2a_emulator.rs_name(n.nspname)::text AS table_schema,
       r2a_emulator.rs_name(c.relname)::text AS table_name, r2a_emulator.rs_name(a.attname)::text AS column_name,
       a.attnum::integer AS ordinal_position,
       coalesce((SELECT d.adsrc FROM r2a_catalog.pg_attrdef d WHERE d.adrelid = c.oid AND d.adnum = a.attnum
                 LIMIT 1), NULL) AS column_default,
       CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable,
       regexp_replace(r2a_emulator.column_type(c.oid, a.attnum, a.atttypid, a.atttypmod), '\(.*\)', '')
           AS data_type,
       information_schema._pg_char_max_length(a.atttypid, a.atttypmod) AS character_maximum_length,
       information_schema._pg_numeric_precision(a.atttypid, a.atttypmod) AS numeric_precision,
       information_schema._pg_numeric_precision_radix(a.atttypid, a.atttypmod) AS numeric_precision_radix,
       information_schema._pg_numeric_scale(a.atttypid, a.atttypmod) AS numeric_scale,
       information_schema._pg_datetime_precision(a.atttypid, a.atttypmod) AS datetime_precision,
       NULL::text AS interval_type, NULL::text AS interval_precision,
       NULL::text AS character_set_catalog, NULL::text AS character_set_schema, NULL::text AS character_set_name,
       NULL::text AS collation_catalog, NULL::text AS collation_schema, NULL::text AS collation_name,
       NULL::text AS domain_name, pg_catalog.col_description(c.oid, a.attnum) AS remarks
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
CROSS JOIN r2a_emulator.settings s
WHERE c.relkind IN ('r', 'v', 'm') AND s.name = 'database'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT r2a_emulator.hidden_namespace(n.oid);

-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLES.html: table_catalog, table_schema, table_name,
-- table_type, remarks (all text).
CREATE OR REPLACE VIEW r2a_catalog.svv_tables AS
SELECT s.value AS table_catalog, r2a_emulator.rs_name(n.nspname)::text AS table_schema,
       r2a_emulator.rs_name(c.relname)::text AS table_name,
       CASE c.relkind WHEN 'r' THEN 'BASE TABLE' ELSE 'VIEW' END AS table_type,
       pg_catalog.obj_description(c.oid, 'pg_class') AS remarks
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN r2a_emulator.settings s
WHERE c.relkind IN ('r', 'v', 'm') AND s.name = 'database'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT r2a_emulator.hidden_namespace(n.oid);

-- Locks held or awaited by the emulator's sessions, as Redshift's SVV_TRANSACTIONS shows them
-- (https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TRANSACTIONS.html): pid is the session's own pid (the one
-- in BackendKeyData and CANCEL, kept in its backend connection's application_name), relation a table's oid,
-- granted false while the lock is awaited (behind another session's LOCK,
-- https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html).
CREATE OR REPLACE VIEW r2a_catalog.svv_transactions AS
SELECT r2a_emulator.role_display(a.usename::text) AS txn_owner, s.value AS txn_db,
       a.backend_xid::text::bigint AS xid,
       substring(a.application_name FROM ' pid=([0-9]+)$')::integer AS pid,
       a.xact_start::timestamp AS txn_start, l.mode AS lock_mode, l.locktype AS lockable_object_type,
       l.relation::integer AS relation, l.granted
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
CROSS JOIN r2a_emulator.settings s
WHERE s.name = 'database' AND a.application_name LIKE 'r2a-redshift-emulator pid=%'
  AND (l.locktype = 'transactionid'
       OR l.locktype = 'relation' AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                                                    WHERE d.datname = pg_catalog.current_database())
          AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = l.relation AND c.relkind = 'r'
                      AND c.oid >= 16384 AND NOT r2a_emulator.hidden_namespace(c.relnamespace)));

-- Columns of late-binding views: select * from pg_get_late_binding_view_cols()
--   cols(view_schema name, view_name name, col_name name, col_type varchar, col_num int)
CREATE OR REPLACE FUNCTION r2a_catalog.pg_get_late_binding_view_cols() RETURNS SETOF record
LANGUAGE sql STABLE AS $$
    SELECT r2a_emulator.rs_name(n.nspname)::name, r2a_emulator.rs_name(c.relname)::name,
           r2a_emulator.rs_name(a.attname)::name,
           pg_catalog.format_type(a.atttypid, a.atttypmod)::varchar, a.attnum::integer
    FROM r2a_emulator.views v
    JOIN pg_catalog.pg_class c ON c.oid = v.relid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE v.late_binding
    ORDER BY 1, 2, 5
$$;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_STV_SLICES.html: node, slice, localslice, type character(1)
-- (localslice and type "for internal use only"; the emulator has two slices per node).
DO $$ BEGIN  -- slice came first and localslice was missing before
    IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'r2a_catalog'
               AND table_name = 'stv_slices' AND column_name = 'slice' AND ordinal_position = 1) THEN
        DROP VIEW r2a_catalog.stv_slices;
    END IF;
END $$;
CREATE OR REPLACE VIEW r2a_catalog.stv_slices AS
SELECT (g.slice - 1) / 2 AS node, g.slice - 1 AS slice, (g.slice - 1) % 2 AS localslice, 'D'::character(1) AS type
FROM r2a_emulator.settings s, generate_series(1, s.value::integer) AS g(slice)
WHERE s.name = 'slices';

-- ------------------------------------------------------------------ objects without storage (features.py)
-- Each view has the columns of its AWS page (https://docs.aws.amazon.com/redshift/latest/dg/r_<NAME>.html).

CREATE OR REPLACE VIEW r2a_catalog.svv_external_schemas AS
SELECT (3000000000 + f.id)::oid AS esoid,
       (CASE f.detail->>'source' WHEN 'data catalog' THEN 1 WHEN 'hive metastore' THEN 2 WHEN 'postgres' THEN 3
            WHEN 'redshift' THEN 5 WHEN 'mysql' THEN 8 WHEN 'kinesis' THEN 9 ELSE 10 END)::smallint AS eskind,
       f.name::name AS schemaname, 100 AS esowner, coalesce(f.detail->>'database', '') AS databasename,
       json_build_object('IAM_ROLE', f.detail->>'iam_role')::text AS esoptions
FROM r2a_emulator.features f WHERE f.kind = 'external_schema';

CREATE OR REPLACE VIEW r2a_catalog.svv_external_tables AS
SELECT s.value AS redshift_database_name, f.schema_name AS schemaname, f.name AS tablename,
       'EXTERNAL_TABLE'::text AS tabletype, f.detail->>'location' AS location, NULL::text AS input_format,
       NULL::text AS output_format, NULL::text AS serialization_lib, NULL::text AS serde_parameters,
       0 AS compressed, NULL::text AS parameters
FROM r2a_emulator.features f CROSS JOIN r2a_emulator.settings s
WHERE f.kind = 'external_table' AND s.name = 'database';

-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_EXTERNAL_PARTITIONS.html
CREATE OR REPLACE VIEW r2a_catalog.svv_external_partitions AS
SELECT f.schema_name AS schemaname, f.detail->>'table' AS tablename, (f.detail->'values')::text AS "values",
       f.detail->>'location' AS location, NULL::text AS input_format, NULL::text AS output_format,
       NULL::text AS serialization_lib, NULL::text AS serde_parameters, 0 AS compressed, NULL::text AS parameters
FROM r2a_emulator.features f WHERE f.kind = 'external_partition';

CREATE OR REPLACE VIEW r2a_catalog.pg_library AS
SELECT f.name::name AS name, (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'plpythonu') AS language_oid,
       f.id::integer AS file_store_id, 100 AS owner
FROM r2a_emulator.features f WHERE f.kind = 'library';

CREATE OR REPLACE VIEW r2a_catalog.svv_ml_model_info AS
SELECT s.value::char(128) AS database_name, f.schema_name::char(128) AS schema_name, f.owner::char(128) AS user_name,
       f.name::char(128) AS model_name, 'ACTIVE'::char(20) AS life_cycle, 0 AS is_refreshable,
       'Model is Ready'::char(128) AS model_state
FROM r2a_emulator.features f CROSS JOIN r2a_emulator.settings s
WHERE f.kind = 'model' AND s.name = 'database';

CREATE OR REPLACE VIEW r2a_catalog.svv_rls_policy AS
SELECT s.value AS poldb, f.name AS polname, f.detail->>'alias' AS polalias,
       (SELECT json_agg(json_build_object('colname', a->>'name', 'type', a->>'type'))
        FROM jsonb_array_elements(f.detail->'attributes') a)::text AS polatts,
       f.detail->>'using' AS polqual, true AS polenabled, f.owner AS polmodifiedby, f.created AS polmodifiedtime
FROM r2a_emulator.features f CROSS JOIN r2a_emulator.settings s
WHERE f.kind = 'rls_policy' AND s.name = 'database';

CREATE OR REPLACE VIEW r2a_catalog.svv_rls_attached_policy AS
SELECT f.detail->>'schema' AS relschema, f.detail->>'table' AS relname, 'table'::text AS relkind,
       f.detail->>'policy' AS polname, f.owner AS grantor, f.detail->>'grantee' AS grantee,
       f.detail->>'grantee_kind' AS granteekind, true AS is_pol_on,
       coalesce((r.detail->>'on')::boolean, false) AS is_rls_on,
       coalesce(r.detail->>'conjunction', 'and')::character(3) AS rls_conjunction_type
FROM r2a_emulator.features f
LEFT JOIN r2a_emulator.features r ON r.kind = 'rls_relation' AND r.schema_name = f.detail->>'schema'
     AND r.name = f.detail->>'table'
WHERE f.kind = 'rls_attachment';

CREATE OR REPLACE VIEW r2a_catalog.svv_rls_relation AS
SELECT s.value AS datname, f.schema_name AS relschema, f.name AS relname, 'table'::text AS relkind,
       (f.detail->>'on')::boolean AS is_rls_on, (f.detail->>'for_datashares')::boolean AS is_rls_datashare_on,
       (f.detail->>'conjunction')::character(3) AS rls_conjunction_type,
       'and'::character(3) AS rls_datashare_conjunction_type
FROM r2a_emulator.features f CROSS JOIN r2a_emulator.settings s
WHERE f.kind = 'rls_relation' AND s.name = 'database';

CREATE OR REPLACE VIEW r2a_catalog.svv_datashares AS
SELECT f.name::varchar(128) AS share_name, f.id::integer AS share_id, f.owner::varchar(128) AS share_owner,
       s.value::varchar(128) AS source_database, NULL::varchar(128) AS consumer_database,
       'OUTBOUND'::varchar(8) AS share_type, f.created AS createdate,
       (f.detail->>'publicly_accessible')::boolean AS is_publicaccessible, NULL::varchar(256) AS share_acl,
       NULL::varchar(16) AS producer_account, NULL::varchar(64) AS producer_namespace,
       NULL::varchar(64) AS managed_by
FROM r2a_emulator.features f CROSS JOIN r2a_emulator.settings s
WHERE f.kind = 'datashare' AND s.name = 'database';

CREATE OR REPLACE VIEW r2a_catalog.svv_datashare_objects AS
SELECT 'OUTBOUND'::varchar(8) AS share_type, f.schema_name::varchar(128) AS share_name,
       (f.detail->>'object_type')::varchar(64) AS object_type, (f.detail->>'object_name')::varchar(512) AS object_name,
       NULL::varchar(16) AS producer_account, NULL::varchar(64) AS producer_namespace, false AS include_new
FROM r2a_emulator.features f WHERE f.kind = 'datashare_object';

-- ------------------------------------------------------------------ system tables admin views read
-- Empty (or, for stv_tbl_perm, one row per table on slice 0), with the columns of their AWS pages, so that
-- admin views selecting from them can be created and queried. Each follows the column table (names, order, types)
-- of https://docs.aws.amazon.com/redshift/latest/dg/r_<NAME>.html: r_STV_TBL_PERM, r_STL_QUERY, r_SVL_QLOG,
-- r_STL_LOAD_ERRORS, r_STV_TBL_TRANS, r_STV_BLOCKLIST, r_SVV_DISKUSAGE, r_STL_DDLTEXT, r_STL_QUERYTEXT,
-- r_SVL_STATEMENTTEXT.

CREATE OR REPLACE VIEW r2a_catalog.stv_tbl_perm AS
SELECT 0 AS slice, c.oid::integer AS id, r2a_emulator.rs_name(c.relname)::character(72) AS name,
       greatest(c.reltuples, 0)::bigint AS rows, greatest(c.reltuples, 0)::bigint AS sorted_rows,
       (c.relpersistence = 't')::integer AS temp, 1 AS db_id, 0 AS insert_pristine, 0 AS delete_pristine,
       coalesce(t.backup, true)::integer AS backup,
       (CASE coalesce(t.diststyle, 'AUTO') WHEN 'EVEN' THEN 0 WHEN 'KEY' THEN 1 WHEN 'ALL' THEN 8 ELSE 9 END)
           AS dist_style,
       greatest(1, ceil(pg_catalog.pg_relation_size(c.oid) / (1024.0 * 1024.0)))::integer AS block_count
FROM pg_catalog.pg_class c
LEFT JOIN r2a_emulator.tables t ON t.relid = c.oid
WHERE c.relkind = 'r' AND NOT r2a_emulator.hidden_namespace(c.relnamespace)
  AND c.relnamespace NOT IN (SELECT oid FROM pg_catalog.pg_namespace
                             WHERE nspname IN ('pg_catalog', 'information_schema'));

CREATE OR REPLACE VIEW r2a_catalog.stl_query AS
SELECT NULL::integer AS userid, NULL::integer AS query, NULL::character(320) AS label, NULL::bigint AS xid,
       NULL::integer AS pid, NULL::character(32) AS database, NULL::character(4000) AS querytxt,
       NULL::timestamp AS starttime, NULL::timestamp AS endtime, NULL::integer AS aborted,
       NULL::integer AS insert_pristine, NULL::integer AS concurrency_scaling_status
WHERE false;

CREATE OR REPLACE VIEW r2a_catalog.svl_qlog AS
SELECT NULL::integer AS userid, NULL::integer AS query, NULL::bigint AS xid, NULL::integer AS pid,
       NULL::timestamp AS starttime, NULL::timestamp AS endtime, NULL::bigint AS elapsed, NULL::integer AS aborted,
       NULL::character(320) AS label, NULL::character(60) AS substring, NULL::integer AS source_query,
       NULL::text AS concurrency_scaling_status_txt, NULL::integer AS from_sp_call
WHERE false;

CREATE OR REPLACE VIEW r2a_catalog.stl_load_errors AS
SELECT NULL::integer AS userid, NULL::integer AS slice, NULL::integer AS tbl, NULL::timestamp AS starttime,
       NULL::integer AS session, NULL::integer AS query, NULL::character(256) AS filename,
       NULL::bigint AS line_number, NULL::character(127) AS colname, NULL::character(10) AS type,
       NULL::character(10) AS col_length, NULL::integer AS position, NULL::character(1024) AS raw_line,
       NULL::character(1024) AS raw_field_value, NULL::integer AS err_code, NULL::character(100) AS err_reason
WHERE false;

CREATE OR REPLACE VIEW r2a_catalog.stv_tbl_trans AS
SELECT NULL::integer AS slice, NULL::integer AS id, NULL::bigint AS rows, NULL::bigint AS size,
       NULL::bigint AS query_id, NULL::integer AS ref_cnt, NULL::integer AS from_suspended,
       NULL::integer AS prep_swap
WHERE false;

-- ------------------------------------------------------------------ roles (roles.py)
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_ROLES.html, r_SVV_USER_GRANTS.html, r_SVV_ROLE_GRANTS.html

CREATE OR REPLACE VIEW r2a_catalog.svv_roles AS
SELECT r.oid::integer AS role_id, x.rolename::varchar(128) AS role_name, x.owner::varchar(128) AS role_owner,
       x.external_id::varchar(128) AS external_id
FROM r2a_emulator.roles x JOIN pg_catalog.pg_roles r ON r.rolname = x.rolname;

CREATE OR REPLACE VIEW r2a_catalog.svv_user_grants AS
SELECT m.member::integer AS user_id, u.usename::varchar(128) AS user_name, m.roleid::integer AS role_id,
       x.rolename::varchar(128) AS role_name, m.admin_option
FROM pg_catalog.pg_auth_members m
JOIN pg_catalog.pg_roles r ON r.oid = m.roleid JOIN r2a_emulator.roles x ON x.rolname = r.rolname
JOIN pg_catalog.pg_roles ur ON ur.oid = m.member JOIN r2a_emulator.users u ON u.rolname = ur.rolname;

CREATE OR REPLACE VIEW r2a_catalog.svv_role_grants AS
SELECT m.member::integer AS role_id, xm.rolename::varchar(128) AS role_name, m.roleid::integer AS granted_role_id,
       x.rolename::varchar(128) AS granted_role_name
FROM pg_catalog.pg_auth_members m
JOIN pg_catalog.pg_roles r ON r.oid = m.roleid JOIN r2a_emulator.roles x ON x.rolname = r.rolname
JOIN pg_catalog.pg_roles rm ON rm.oid = m.member JOIN r2a_emulator.roles xm ON xm.rolname = rm.rolname;

CREATE OR REPLACE VIEW r2a_catalog.stv_blocklist AS
SELECT NULL::integer AS slice, NULL::integer AS col, NULL::integer AS tbl, NULL::integer AS blocknum,
       NULL::integer AS num_values, NULL::integer AS extended_limits, NULL::bigint AS minvalue,
       NULL::bigint AS maxvalue, NULL::integer AS sb_pos, NULL::integer AS pinned, NULL::integer AS on_disk,
       NULL::integer AS modified, NULL::integer AS hdr_modified, NULL::integer AS unsorted,
       NULL::integer AS tombstone, NULL::integer AS preferred_diskno, NULL::integer AS temporary,
       NULL::integer AS newblock, NULL::integer AS num_readers, NULL::integer AS flags
WHERE false;

CREATE OR REPLACE VIEW r2a_catalog.svv_diskusage AS
SELECT NULL::integer AS db_id, NULL::character(72) AS name, NULL::integer AS slice, NULL::integer AS col,
       NULL::integer AS tbl, NULL::integer AS blocknum, NULL::integer AS num_values, NULL::bigint AS minvalue,
       NULL::bigint AS maxvalue, NULL::integer AS sb_pos, NULL::integer AS pinned, NULL::integer AS on_disk,
       NULL::integer AS modified, NULL::integer AS hdr_modified, NULL::integer AS unsorted,
       NULL::integer AS tombstone, NULL::integer AS preferred_diskno, NULL::integer AS temporary,
       NULL::integer AS newblock
WHERE false;

CREATE OR REPLACE VIEW r2a_catalog.stl_ddltext AS
SELECT NULL::integer AS userid, NULL::bigint AS xid, NULL::integer AS pid, NULL::character(320) AS label,
       NULL::timestamp AS starttime, NULL::timestamp AS endtime, NULL::integer AS sequence,
       NULL::character(200) AS text
WHERE false;

CREATE OR REPLACE VIEW r2a_catalog.stl_querytext AS
SELECT NULL::integer AS userid, NULL::bigint AS xid, NULL::integer AS pid, NULL::integer AS query,
       NULL::integer AS sequence, NULL::character(200) AS text
WHERE false;

CREATE OR REPLACE VIEW r2a_catalog.svl_statementtext AS
SELECT NULL::integer AS userid, NULL::bigint AS xid, NULL::integer AS pid, NULL::character(320) AS label,
       NULL::timestamp AS starttime, NULL::timestamp AS endtime, NULL::integer AS sequence,
       NULL::varchar(10) AS type, NULL::character(200) AS text
WHERE false;

-- ------------------------------------------------------------------ privileges PostgreSQL has no place for
-- commands.py remembers them in r2a_emulator.features; each view has the columns of its AWS page:
-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_IAM_PRIVILEGES.html (GRANT ASSUMEROLE),
-- r_SVV_SYSTEM_PRIVILEGES.html (system permissions granted to roles), r_SVV_RELATION_PRIVILEGES.html (table
-- privileges: the ACL's and the remembered ALTER / DROP), r_SVV_LANUGAGE_PRIVILEGES.html (sic: AWS's page name;
-- USAGE ON LANGUAGE). A grantee is remembered as `name` (user), `group g`, `role r` or `public`.

CREATE OR REPLACE FUNCTION r2a_emulator.grantee_identity(grantee text, OUT identity_id integer,
                                                         OUT identity_name text, OUT identity_type text)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN grantee = 'public' THEN 0
                WHEN grantee LIKE 'group %' THEN (SELECT r.oid::integer FROM r2a_emulator.groups g
                     JOIN pg_catalog.pg_roles r ON r.rolname = g.rolname WHERE g.groname = substr(grantee, 7))
                WHEN grantee LIKE 'role %' THEN (SELECT r.oid::integer FROM r2a_emulator.roles x
                     JOIN pg_catalog.pg_roles r ON r.rolname = x.rolname WHERE x.rolename = substr(grantee, 6))
                ELSE coalesce((SELECT r.oid::integer FROM r2a_emulator.users u
                               JOIN pg_catalog.pg_roles r ON r.rolname = u.rolname WHERE u.usename = grantee),
                              (SELECT r.oid::integer FROM pg_catalog.pg_roles r, r2a_emulator.settings s
                               WHERE r.rolname = session_user AND s.name = 'master_user' AND s.value = grantee))
           END,
           CASE WHEN grantee LIKE 'group %' THEN substr(grantee, 7) WHEN grantee LIKE 'role %' THEN substr(grantee, 6)
                ELSE grantee END,
           CASE WHEN grantee = 'public' THEN 'public' WHEN grantee LIKE 'group %' THEN 'group'
                WHEN grantee LIKE 'role %' THEN 'role' ELSE 'user' END
$$;

-- One row per ARN and command (AWS's example lists COPY, UNLOAD, CREATE MODEL and EXFUNC apart; FOR ALL is all four).
CREATE OR REPLACE VIEW r2a_catalog.svv_iam_privileges AS
SELECT f.name AS iam_arn, c.command AS command_type, i.identity_id, i.identity_name, i.identity_type
FROM r2a_emulator.features f
CROSS JOIN LATERAL r2a_emulator.grantee_identity(f.detail->>'grantee') i
CROSS JOIN LATERAL (SELECT DISTINCT CASE trim(s) WHEN 'EXTERNAL FUNCTION' THEN 'EXFUNC' ELSE trim(s) END AS command
                    FROM unnest(CASE WHEN f.detail->>'for' ~ '(^|, )ALL(,|$)'
                                     THEN ARRAY['COPY', 'UNLOAD', 'CREATE MODEL', 'EXFUNC']
                                     ELSE string_to_array(f.detail->>'for', ',') END) s) c
WHERE f.kind = 'assumerole';

CREATE OR REPLACE VIEW r2a_catalog.svv_system_privileges AS
SELECT f.name AS system_privilege, i.identity_id, i.identity_name, i.identity_type
FROM r2a_emulator.features f CROSS JOIN LATERAL r2a_emulator.grantee_identity(f.detail->>'grantee') i
WHERE f.kind = 'system_privilege';

CREATE OR REPLACE VIEW r2a_catalog.svv_relation_privileges AS
SELECT r2a_emulator.rs_name(n.nspname) AS namespace_name, r2a_emulator.rs_name(c.relname) AS relation_name,
       a.privilege_type, i.identity_id, i.identity_name, i.identity_type,
       (a.is_grantable AND i.identity_type = 'user') AS admin_option
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) a
LEFT JOIN LATERAL (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = a.grantee) g ON true
CROSS JOIN LATERAL r2a_emulator.grantee_identity(CASE
    WHEN a.grantee = 0 THEN 'public'
    WHEN EXISTS (SELECT 1 FROM r2a_emulator.roles x WHERE x.rolname = g.rolname)
        THEN 'role ' || (SELECT x.rolename FROM r2a_emulator.roles x WHERE x.rolname = g.rolname)
    ELSE r2a_emulator.role_display(g.rolname) END) i
WHERE c.relkind IN ('r', 'v', 'm', 'p') AND a.grantee <> c.relowner AND NOT r2a_emulator.hidden_namespace(c.relnamespace)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_temp_%'
UNION ALL
SELECT coalesce(f.schema_name, 'public'), f.name, f.detail->>'privilege', i.identity_id, i.identity_name,
       i.identity_type, false
FROM r2a_emulator.features f CROSS JOIN LATERAL r2a_emulator.grantee_identity(f.detail->>'grantee') i
WHERE f.kind = 'table_privilege' AND EXISTS (   -- a dropped table's grants went with it
    SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE r2a_emulator.rs_name(c.relname) = f.name AND r2a_emulator.rs_name(n.nspname) = coalesce(f.schema_name, 'public'));

CREATE OR REPLACE VIEW r2a_catalog.svv_language_privileges AS
SELECT f.name AS language_name, 'USAGE'::text AS privilege_type, i.identity_id, i.identity_name, i.identity_type,
       false AS admin_option
FROM r2a_emulator.features f CROSS JOIN LATERAL r2a_emulator.grantee_identity(f.detail->>'grantee') i
WHERE f.kind = 'language_privilege';

-- https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_MV_INFO.html: autorefresh and autorewrite are char(1),
-- 't' or 'f' as the column table says (the page's example prints 1 and 0). AUTO REFRESH is NO unless the CREATE or
-- an ALTER MATERIALIZED VIEW said YES (r_CREATE_MATERIALIZED_VIEW.html).
CREATE OR REPLACE VIEW r2a_catalog.svv_mv_info AS
SELECT s.value::char(128) AS database_name, r2a_emulator.rs_name(n.nspname)::char(128) AS schema_name,
       r2a_emulator.role_display(pg_catalog.pg_get_userbyid(c.relowner))::char(128) AS user_name,
       r2a_emulator.rs_name(c.relname)::char(128) AS name,
       (CASE WHEN c.relispopulated THEN 'f' ELSE 't' END)::char(1) AS is_stale, 1 AS state,
       'f'::char(1) AS autorewrite,
       (CASE WHEN coalesce(v.auto_refresh, false) THEN 't' ELSE 'f' END)::char(1) AS autorefresh
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN r2a_emulator.views v ON v.relid = c.oid
CROSS JOIN r2a_emulator.settings s
WHERE c.relkind = 'm' AND s.name = 'database' AND NOT r2a_emulator.hidden_namespace(c.relnamespace);
