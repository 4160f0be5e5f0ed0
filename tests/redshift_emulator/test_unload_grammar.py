"""UNLOAD statement parsing and option rules (pure; no services)."""

from __future__ import annotations

import pytest

from devstack.redshift.unload import UnloadError
from devstack.redshift.unload_grammar import MB, has_outer_limit, parse_unload

KEYS = "ACCESS_KEY_ID 'AKIAEXAMPLE' SECRET_ACCESS_KEY 'secret'"


def parse(options: str, query: str = "select 1", to: str = "s3://bucket/dir/t_"):
    return parse_unload(f"UNLOAD ('{query}') TO '{to}' {options}")


def test_minimal_statement_defaults():
    command = parse(KEYS)
    assert (command.query, command.bucket, command.prefix) == ("select 1", "bucket", "dir/t_")
    assert command.format == "TEXT" and command.field_delimiter == "|"
    assert command.parallel and not command.header and command.null_as is None
    assert command.credentials.access_key_id == "AKIAEXAMPLE"
    assert command.credentials.secret_access_key == "secret"
    assert command.file_suffix == ""


def test_query_literal_quotes_and_backslash_escapes():
    statement = ("/* lead */ -- comment\n unload ('select * from venue where venuestate=''NV'' and x=\\'a\\'') "
                 "to 's3://b/p' iam_role 'arn:aws:iam::123456789012:role/r' delimiter as '\\t';")
    command = parse_unload(statement)
    assert command.query == "select * from venue where venuestate='NV' and x='a'"
    assert command.delimiter == "\t"
    assert command.credentials.iam_role == "arn:aws:iam::123456789012:role/r"


def test_every_supported_option_is_read():
    command = parse(KEYS + " SESSION_TOKEN 'tok' FORMAT AS CSV DELIMITER AS ';' HEADER MANIFEST VERBOSE GZIP "
                    "NULL AS '\\\\N' ALLOWOVERWRITE PARALLEL OFF MAXFILESIZE AS 5.5 mb REGION AS 'eu-west-1' "
                    "EXTENSION 'csv.gz'")
    assert command.format == "CSV" and command.delimiter == ";" and command.header
    assert command.manifest and command.manifest_verbose and command.compression == "GZIP"
    assert command.null_as == "\\N" and command.allowoverwrite and not command.parallel
    assert command.max_file_size == int(5.5 * MB) and command.region == "eu-west-1"
    assert command.file_suffix == ".csv.gz" and command.credentials.session_token == "tok"


@pytest.mark.parametrize("options, expected", [
    ("PARALLEL", True), ("PARALLEL ON", True), ("PARALLEL TRUE", True),
    ("PARALLEL OFF", False), ("PARALLEL FALSE", False),
])
def test_parallel_forms(options, expected):
    assert parse(f"{KEYS} {options}").parallel is expected


@pytest.mark.parametrize("options, suffix", [("GZIP", ".gz"), ("BZIP2", ".bz2"), ("ZSTD", ".zst"),
                                             ("GZIP EXTENSION '.txt.gz'", ".txt.gz"), ("EXTENSION 'txt'", ".txt")])
def test_file_suffixes(options, suffix):
    assert parse(f"{KEYS} {options}").file_suffix == suffix


def test_maxfilesize_units():
    assert parse(f"{KEYS} MAXFILESIZE 1 GB").max_file_size == 1024 * MB
    assert parse(f"{KEYS} MAXFILESIZE 6.2 gb").max_file_size == int(6.2 * 1024 * MB)


def test_fixedwidth_widths_in_column_order():
    assert parse(f"{KEYS} FIXEDWIDTH AS 'venueid:3,venuename:39, venuecity:16'").fixedwidth == (3, 39, 16)


def test_credentials_string_and_with_credentials():
    command = parse("WITH CREDENTIALS AS 'aws_access_key_id=AK;aws_secret_access_key=SK;token=TK'")
    assert (command.credentials.access_key_id, command.credentials.secret_access_key,
            command.credentials.session_token) == ("AK", "SK", "TK")
    assert parse("CREDENTIALS 'aws_iam_role=arn:aws:iam::123456789012:role/x'").credentials.iam_role \
        == "arn:aws:iam::123456789012:role/x"
    assert parse("IAM_ROLE default").credentials.iam_role == "default"


def error_of(options: str, query: str = "select 1", to: str = "s3://bucket/p") -> UnloadError:
    with pytest.raises(UnloadError) as caught:
        parse(options, query=query, to=to)
    return caught.value


@pytest.mark.parametrize("options, sqlstate, words", [
    # authorization
    ("", "22023", "needs authorization"),
    ("ACCESS_KEY_ID 'a'", "22023", "must be given together"),
    ("SESSION_TOKEN 't' IAM_ROLE 'arn:aws:iam::123456789012:role/r'", "22023", "cannot be combined"),
    (f"{KEYS} IAM_ROLE 'arn:aws:iam::123456789012:role/r'", "22023", "cannot be combined"),
    (f"{KEYS} CREDENTIALS 'aws_access_key_id=a;aws_secret_access_key=b'", "22023", "cannot be combined"),
    ("IAM_ROLE 'not-an-arn'", "22023", "invalid IAM_ROLE"),
    ("CREDENTIALS 'user=x'", "22023", "invalid credentials string"),
    # forbidden combinations from the docs
    (f"{KEYS} CSV ADDQUOTES", "22023", "ADDQUOTES is not supported for UNLOAD to CSV"),
    (f"{KEYS} FORMAT CSV ESCAPE", "22023", "ESCAPE cannot be used with FORMAT CSV"),
    (f"{KEYS} CSV FIXEDWIDTH 'a:1'", "22023", "FIXEDWIDTH cannot be used with FORMAT CSV"),
    (f"{KEYS} FIXEDWIDTH 'a:1' DELIMITER ','", "22023", "FIXEDWIDTH cannot be used with DELIMITER"),
    (f"{KEYS} FIXEDWIDTH 'a:1' HEADER", "22023", "FIXEDWIDTH cannot be used with HEADER"),
    (f"{KEYS} ALLOWOVERWRITE CLEANPATH", "22023", "ALLOWOVERWRITE cannot be used with CLEANPATH"),
    (f"{KEYS} PARQUET GZIP", "22023", "GZIP cannot be used with FORMAT PARQUET"),
    (f"{KEYS} PARQUET HEADER", "22023", "HEADER cannot be used with FORMAT PARQUET"),
    (f"{KEYS} JSON NULL AS 'x'", "22023", "NULL AS cannot be used with FORMAT JSON"),
    (f"{KEYS} ROWGROUPSIZE 64 MB", "22023", "ROWGROUPSIZE can only be used with FORMAT PARQUET"),
    (f"{KEYS} KMS_KEY_ID 'k'", "22023", "KMS_KEY_ID requires ENCRYPTED"),
    # option values
    (f"{KEYS} MAXFILESIZE 4 MB", "22023", "between 5 MB and 6.2 GB"),
    (f"{KEYS} MAXFILESIZE 7 GB", "22023", "between 5 MB and 6.2 GB"),
    (f"{KEYS} DELIMITER '||'", "22023", "single ASCII character"),
    (f"{KEYS} REGION 'mars'", "22023", "invalid REGION"),
    # syntax
    (f"{KEYS} GZIP BZIP2", "42601", "conflicting or redundant options"),
    (f"{KEYS} HEADER HEADER", "42601", "conflicting or redundant options"),
    (f"{KEYS} VERBOSE", "42601", "VERBOSE can only follow MANIFEST"),
    (f"{KEYS} COMPRESS", "42601", "not an UNLOAD option"),
    (f"{KEYS} DELIMITER", "42601", "must be a quoted string"),
    # documented but not emulated
    (f"{KEYS} PARQUET", "0A000", "FORMAT PARQUET is not supported"),
    (f"{KEYS} FORMAT JSON", "0A000", "FORMAT JSON is not supported"),
    (f"{KEYS} FIXEDWIDTH 'a:1' ADDQUOTES", "0A000", "with FIXEDWIDTH are not supported"),
    (f"{KEYS} FIXEDWIDTH 'a:1,b'", "22023", "invalid FIXEDWIDTH specification"),
    (f"{KEYS} FIXEDWIDTH 'a:0'", "22023", "invalid FIXEDWIDTH specification"),
    (f"{KEYS} ENCRYPTED", "0A000", "ENCRYPTED is not supported"),
    (f"{KEYS} PARTITION BY (a, b) INCLUDE", "0A000", "PARTITION BY is not supported"),
])
def test_rejected_statements(options, sqlstate, words):
    error = error_of(options)
    assert error.sqlstate == sqlstate
    assert words in error.message


def test_bad_destination_and_unterminated_literal():
    assert "invalid S3 destination" in error_of(KEYS, to="https://bucket/p").message
    with pytest.raises(UnloadError, match="unterminated quoted string"):
        parse_unload("UNLOAD ('select 1) TO s3://b/p")
    with pytest.raises(UnloadError, match="syntax error"):
        parse_unload("UNLOAD 'select 1' TO 's3://b/p'")


def test_outer_limit_is_rejected_nested_limit_is_not():
    assert error_of(KEYS, query="select * from venue order by 1 limit 10").sqlstate == "0A000"
    assert not has_outer_limit("select * from v where id in (select id from v order by id desc limit 10)")
    assert not has_outer_limit("select 'limit' as limited, \"limit\" from t")
    assert has_outer_limit("select a from t LIMIT 5")


def test_secret_never_in_error_messages():
    error = error_of("SECRET_ACCESS_KEY 'very-secret-value'")
    assert "very-secret-value" not in error.message
