"""compat.sql: the schema r2a_compat with PostgreSQL functions for Redshift functions that have no direct
equivalent. Only the functions the rewritten objects use are written (plus what they need)."""

from __future__ import annotations

import re

from shared.sqlblocks import SqlObject
from steps.rewrite_ddl.expressions import COMPAT_SCHEMA

# The date parts as sqlglot normalizes them (Redshift's abbreviations qtr, mon, d, … arrive as these names).
_PARTS = """
    CASE lower(part)
        WHEN 'year' THEN 'year' WHEN 'quarter' THEN 'quarter' WHEN 'month' THEN 'month' WHEN 'week' THEN 'week'
        WHEN 'day' THEN 'day' WHEN 'hour' THEN 'hour' WHEN 'minute' THEN 'minute' WHEN 'second' THEN 'second'
        WHEN 'millisecond' THEN 'millisecond' WHEN 'microsecond' THEN 'microsecond'
        WHEN 'decade' THEN 'decade' WHEN 'century' THEN 'century' WHEN 'millennium' THEN 'millennium'
        ELSE r2a_compat._unknown_part(part) END"""

FUNCTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "_unknown_part": ("""
CREATE FUNCTION r2a_compat._unknown_part(part text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RAISE EXCEPTION 'r2a_compat: unsupported date part %', part;
END $$;""", ()),
    # DATEDIFF counts the part boundaries crossed between start and end (Redshift semantics), not elapsed units.
    "datediff": (f"""
CREATE FUNCTION r2a_compat.datediff(part text, start_ts timestamp, end_ts timestamp) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE {_PARTS.strip()}
        WHEN 'millennium' THEN (extract(millennium FROM end_ts) - extract(millennium FROM start_ts))::bigint
        WHEN 'century' THEN (extract(century FROM end_ts) - extract(century FROM start_ts))::bigint
        WHEN 'decade' THEN (extract(decade FROM end_ts) - extract(decade FROM start_ts))::bigint
        WHEN 'year' THEN (extract(year FROM end_ts) - extract(year FROM start_ts))::bigint
        WHEN 'quarter' THEN ((extract(year FROM end_ts) * 4 + extract(quarter FROM end_ts))
                            - (extract(year FROM start_ts) * 4 + extract(quarter FROM start_ts)))::bigint
        WHEN 'month' THEN ((extract(year FROM end_ts) * 12 + extract(month FROM end_ts))
                          - (extract(year FROM start_ts) * 12 + extract(month FROM start_ts)))::bigint
        WHEN 'week' THEN ((date_trunc('week', end_ts)::date - date_trunc('week', start_ts)::date) / 7)::bigint
        WHEN 'day' THEN (end_ts::date - start_ts::date)::bigint
        WHEN 'hour' THEN (extract(epoch FROM date_trunc('hour', end_ts) - date_trunc('hour', start_ts)) / 3600)::bigint
        WHEN 'minute' THEN (extract(epoch FROM date_trunc('minute', end_ts) - date_trunc('minute', start_ts)) / 60)::bigint
        WHEN 'second' THEN extract(epoch FROM date_trunc('second', end_ts) - date_trunc('second', start_ts))::bigint
        WHEN 'millisecond' THEN (extract(epoch FROM date_trunc('milliseconds', end_ts)
                                 - date_trunc('milliseconds', start_ts)) * 1000)::bigint
        ELSE (extract(epoch FROM end_ts - start_ts) * 1000000)::bigint
    END $$;""", ("_unknown_part",)),  # nosec B608  # the f-string pastes only _PARTS, a constant of this module: fixed DDL, no input
    "dateadd": (f"""
CREATE FUNCTION r2a_compat.dateadd(part text, amount bigint, ts timestamp) RETURNS timestamp
    LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT ts + amount * CASE {_PARTS.strip()}
        WHEN 'millennium' THEN interval '1000 years' WHEN 'century' THEN interval '100 years'
        WHEN 'decade' THEN interval '10 years'
        WHEN 'year' THEN interval '1 year' WHEN 'quarter' THEN interval '3 months'
        WHEN 'month' THEN interval '1 month' WHEN 'week' THEN interval '7 days' WHEN 'day' THEN interval '1 day'
        WHEN 'hour' THEN interval '1 hour' WHEN 'minute' THEN interval '1 minute'
        WHEN 'second' THEN interval '1 second' WHEN 'millisecond' THEN interval '1 millisecond'
        ELSE interval '1 microsecond'
    END $$;""", ("_unknown_part",)),
    # MONTHS_BETWEEN: whole months when both dates share the day of month or are both month ends, else the
    # day difference counts in 31sts of a month (Redshift's rule).
    "months_between": ("""
CREATE FUNCTION r2a_compat.months_between(date1 date, date2 date) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT ((extract(year FROM date1) - extract(year FROM date2)) * 12
            + extract(month FROM date1) - extract(month FROM date2)
            + CASE WHEN extract(day FROM date1) = extract(day FROM date2)
                        OR (date1 = (date_trunc('month', date1) + interval '1 month - 1 day')::date
                            AND date2 = (date_trunc('month', date2) + interval '1 month - 1 day')::date)
                   THEN 0
                   ELSE (extract(day FROM date1) - extract(day FROM date2)) / 31.0 END)::double precision
$$;""", ()),
    # GETDATE(): start of the current statement, UTC, whole seconds, without time zone.
    "getdate": ("""
CREATE FUNCTION r2a_compat.getdate() RETURNS timestamp LANGUAGE sql STABLE AS $$
    SELECT date_trunc('second', statement_timestamp() AT TIME ZONE 'UTC')
$$;""", ()),
    # SYSDATE: start of the current transaction, UTC, without time zone.
    "sysdate": ("""
CREATE FUNCTION r2a_compat.sysdate() RETURNS timestamp LANGUAGE sql STABLE AS $$
    SELECT transaction_timestamp() AT TIME ZONE 'UTC'
$$;""", ()),
    "strtol": ("""
CREATE FUNCTION r2a_compat.strtol(num text, base integer) RETURNS bigint LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    digits text := lower(btrim(num));
    sign bigint := 1;
    result bigint := 0;
    digit integer;
BEGIN
    IF base < 2 OR base > 36 THEN
        RAISE EXCEPTION 'r2a_compat.strtol: base % is out of range 2..36', base;
    END IF;
    IF left(digits, 1) IN ('-', '+') THEN
        sign := CASE WHEN left(digits, 1) = '-' THEN -1 ELSE 1 END;
        digits := substr(digits, 2);
    END IF;
    IF base = 16 AND left(digits, 2) = '0x' THEN
        digits := substr(digits, 3);
    END IF;
    IF digits = '' THEN
        RETURN NULL;
    END IF;
    FOR i IN 1 .. length(digits) LOOP
        digit := strpos('0123456789abcdefghijklmnopqrstuvwxyz', substr(digits, i, 1)) - 1;
        IF digit < 0 OR digit >= base THEN
            RETURN NULL;
        END IF;
        result := result * base + digit;
    END LOOP;
    RETURN sign * result;
END $$;""", ()),
    # TRUNC(timestamp) is a date in Redshift; TRUNC(number) keeps PostgreSQL's meaning.
    "trunc": ("""
CREATE FUNCTION r2a_compat.trunc(ts timestamp) RETURNS date LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT ts::date
$$;
CREATE FUNCTION r2a_compat.trunc(ts timestamptz) RETURNS date LANGUAGE sql STABLE STRICT AS $$
    SELECT (ts AT TIME ZONE 'UTC')::date
$$;
CREATE FUNCTION r2a_compat.trunc(n numeric) RETURNS numeric LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT pg_catalog.trunc(n)
$$;
CREATE FUNCTION r2a_compat.trunc(n double precision) RETURNS double precision LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT pg_catalog.trunc(n)
$$;""", ()),
    # ROUND(x, n) of a DOUBLE PRECISION: Redshift returns the input's type
    # (https://docs.aws.amazon.com/redshift/latest/dg/r_ROUND.html); PostgreSQL has round(numeric, int) only.
    "round": ("""
CREATE FUNCTION r2a_compat.round(n double precision, places integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT pg_catalog.round(n::numeric, places)::double precision
$$;
CREATE FUNCTION r2a_compat.round(n numeric, places integer) RETURNS numeric LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT pg_catalog.round(n, places)
$$;""", ()),
    # MEDIAN as a window function: PostgreSQL's percentile_cont is not a window function, so the window
    # collects the partition's values and this computes their median (DECIMAL for numbers, as Redshift returns).
    "median_of": ("""
CREATE FUNCTION r2a_compat.median_of(vals numeric[]) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n = 0 THEN NULL
                WHEN n % 2 = 1 THEN sorted[(n + 1) / 2]
                ELSE (sorted[n / 2] + sorted[n / 2 + 1]) / 2 END
    FROM (SELECT array_agg(v ORDER BY v) AS sorted, count(v)::int AS n FROM unnest(vals) AS v WHERE v IS NOT NULL) s
$$;""", ()),
    # AVG(x) -> avg_of(avg(x), min(x)): min(x) only carries x's type. An integer's average is a BIGINT truncated
    # toward zero on Redshift (r_AVG: "BIGINT for any integer type argument"; r_WF_AVG's example prints 16 for
    # 50/3); other types keep PostgreSQL's avg.
    "avg_of": ("""
CREATE FUNCTION r2a_compat.avg_of(average numeric, sample smallint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_catalog.trunc(average)::bigint
$$;
CREATE FUNCTION r2a_compat.avg_of(average numeric, sample integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_catalog.trunc(average)::bigint
$$;
CREATE FUNCTION r2a_compat.avg_of(average numeric, sample bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_catalog.trunc(average)::bigint
$$;
CREATE FUNCTION r2a_compat.avg_of(average numeric, sample numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT average
$$;
CREATE FUNCTION r2a_compat.avg_of(average double precision, sample real) RETURNS double precision
    LANGUAGE sql IMMUTABLE AS $$
    SELECT average
$$;
CREATE FUNCTION r2a_compat.avg_of(average double precision, sample double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE AS $$
    SELECT average
$$;""", ()),
    # SHA2(string, bits): hex digest of the UTF-8 text, 0 meaning 256, '' for another bit count
    # (https://docs.aws.amazon.com/redshift/latest/dg/SHA2.html).
    "sha2": ("""
CREATE FUNCTION r2a_compat.sha2(value text, bits integer) RETURNS varchar LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(encode(CASE bits WHEN 224 THEN sha224(convert_to(value, 'UTF8'))
                                     WHEN 384 THEN sha384(convert_to(value, 'UTF8'))
                                     WHEN 512 THEN sha512(convert_to(value, 'UTF8'))
                                     WHEN 0 THEN sha256(convert_to(value, 'UTF8'))
                                     WHEN 256 THEN sha256(convert_to(value, 'UTF8')) END, 'hex'), '')
$$;""", ()),
    # SHA1(string) / FUNC_SHA1 / SHA: the 40 hex digits of the UTF-8 text's SHA-1
    # (https://docs.aws.amazon.com/redshift/latest/dg/SHA1.html). PostgreSQL has sha224…sha512 built in but no
    # SHA-1; pgcrypto's digest() has it, and AlloyDB supports pgcrypto
    # (https://cloud.google.com/alloydb/docs/reference/extensions). r2a creates no extension in the target database
    # (that is its DBA's choice): pgcrypto is used when installed, in whichever schema; otherwise this computes
    # SHA-1 itself (FIPS 180-4, 32-bit words in bigint), slower but the same digits.
    "sha1": ("""
CREATE FUNCTION r2a_compat.sha1(value text) RETURNS varchar LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    home name := (SELECT n.nspname FROM pg_catalog.pg_extension e
                  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto');
    message bytea := convert_to(value, 'UTF8');
    digest bytea;
    bits bigint := length(convert_to(value, 'UTF8'))::bigint * 8;
    mask bigint := 4294967295;
    h bigint[] := ARRAY[1732584193, 4023233417, 2562383102, 271733878, 3285377520];
    w bigint[];
    a bigint; b bigint; c bigint; d bigint; e bigint; f bigint; k bigint; x bigint; t integer; i integer;
BEGIN
    IF home IS NOT NULL THEN
        EXECUTE format('SELECT %I.digest($1, %L)', home, 'sha1') INTO digest USING message;
        RETURN encode(digest, 'hex');
    END IF;
    message := message || '\\x80'::bytea;
    WHILE length(message) % 64 <> 56 LOOP
        message := message || '\\x00'::bytea;
    END LOOP;
    message := message || int8send(bits);
    FOR block IN 0 .. length(message) / 64 - 1 LOOP
        w := array_fill(0::bigint, ARRAY[80], ARRAY[0]);
        FOR t IN 0 .. 15 LOOP
            i := block * 64 + t * 4;
            w[t] := (get_byte(message, i)::bigint << 24) | (get_byte(message, i + 1) << 16)
                    | (get_byte(message, i + 2) << 8) | get_byte(message, i + 3);
        END LOOP;
        FOR t IN 16 .. 79 LOOP
            x := w[t - 3] # w[t - 8] # w[t - 14] # w[t - 16];
            w[t] := ((x << 1) | (x >> 31)) & mask;
        END LOOP;
        a := h[1]; b := h[2]; c := h[3]; d := h[4]; e := h[5];
        FOR t IN 0 .. 79 LOOP
            IF t < 20 THEN f := (b & c) | (~b & d); k := 1518500249;
            ELSIF t < 40 THEN f := b # c # d; k := 1859775393;
            ELSIF t < 60 THEN f := (b & c) | (b & d) | (c & d); k := 2400959708;
            ELSE f := b # c # d; k := 3395469782;
            END IF;
            x := ((((a << 5) | (a >> 27)) & mask) + (f & mask) + e + k + w[t]) & mask;
            e := d; d := c; c := ((b << 30) | (b >> 2)) & mask; b := a; a := x;
        END LOOP;
        h[1] := (h[1] + a) & mask; h[2] := (h[2] + b) & mask; h[3] := (h[3] + c) & mask;
        h[4] := (h[4] + d) & mask; h[5] := (h[5] + e) & mask;
    END LOOP;
    RETURN lpad(to_hex(h[1]), 8, '0') || lpad(to_hex(h[2]), 8, '0') || lpad(to_hex(h[3]), 8, '0')
        || lpad(to_hex(h[4]), 8, '0') || lpad(to_hex(h[5]), 8, '0');
END $$;""", ()),
    # CRC32(string) (https://docs.aws.amazon.com/redshift/latest/dg/crc32-function.html): "based on the CRC-32C
    # polynomial", 8 hex digits; CRC-32C (reflected 0x82F63B78) of the UTF-8 text gives the page's example,
    # CRC32('Amazon Redshift') = f2726906. PostgreSQL before 18 has no CRC function.
    "crc32": ("""
CREATE FUNCTION r2a_compat.crc32(value text) RETURNS varchar LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    message bytea := convert_to(value, 'UTF8');
    crc bigint := 4294967295;
BEGIN
    FOR i IN 0 .. length(message) - 1 LOOP
        crc := crc # get_byte(message, i);
        FOR b IN 1 .. 8 LOOP
            crc := CASE WHEN crc & 1 = 1 THEN (crc >> 1) # 2197175160 ELSE crc >> 1 END;
        END LOOP;
    END LOOP;
    RETURN lpad(to_hex(crc # 4294967295), 8, '0');
END $$;""", ()),
    # Redshift reads JSON from VARCHAR; an invalid document is an error there too.
    "json_extract_path_text": ("""
CREATE FUNCTION r2a_compat.json_extract_path_text(document text, VARIADIC path text[]) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT pg_catalog.json_extract_path_text(document::json, VARIADIC path)
$$;""", ()),
}


def _closure(names: set[str]) -> list[str]:
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in wanted:
            continue
        wanted.add(name)
        stack.extend(FUNCTIONS[name][1])
    return sorted(wanted)


def compat_objects(used: set[str]) -> list[SqlObject]:
    """The r2a_compat schema and the functions in `used` (with their helpers); nothing when none is used."""
    if not used:
        return []
    schema = SqlObject("schema", COMPAT_SCHEMA, f'CREATE SCHEMA IF NOT EXISTS "{COMPAT_SCHEMA}";',
                       target_name=COMPAT_SCHEMA)
    objects = [schema]
    for name in _closure(used):
        body, needs = FUNCTIONS[name]
        depends = (COMPAT_SCHEMA, *(f"{COMPAT_SCHEMA}.{n}" for n in needs))
        first, *others = _statements(body)
        qualified = f"{COMPAT_SCHEMA}.{name}"
        objects.append(SqlObject("function", qualified, first, target_name=qualified, depends_on=depends))
        # A block holds one CREATE FUNCTION (shared.sqlcheck): each further overload is a block of its own,
        # named by its signature, after the first.
        for statement in others:
            signature = f"{qualified}({', '.join(_OVERLOAD_ARGUMENT.findall(statement.split(')')[0]))})"
            objects.append(SqlObject("function", signature, statement, target_name=signature,
                                     depends_on=(*depends, qualified)))
    return objects


_OVERLOAD_ARGUMENT = re.compile(r"(?:\(|,)\s*\w+\s+([a-z][a-z ]*[a-z])")


def _statements(body: str) -> list[str]:
    """The CREATE FUNCTION statements of a FUNCTIONS body (each starts a line with CREATE FUNCTION)."""
    parts = re.split(r"\n(?=CREATE FUNCTION )", body.strip())
    return [part.strip() for part in parts]
