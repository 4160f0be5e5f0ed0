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


# Every documented option given twice, with the exact message and SQLSTATE the parser answers.
@pytest.mark.parametrize("options, message", [
    ("FORMAT CSV FORMAT AS CSV", "conflicting or redundant options: FORMAT given twice"),
    ("CSV PARQUET", "conflicting or redundant options: FORMAT given twice"),
    ("PARTITION BY (a) PARTITION BY (b) INCLUDE", "conflicting or redundant options: PARTITION BY given twice"),
    ("MANIFEST MANIFEST VERBOSE", "conflicting or redundant options: MANIFEST given twice"),
    ("HEADER HEADER", "conflicting or redundant options: HEADER given twice"),
    ("DELIMITER ',' DELIMITER AS ';'", "conflicting or redundant options: DELIMITER given twice"),
    ("DELIMITER ',' DELIMITER", "conflicting or redundant options: DELIMITER given twice"),
    ("FIXEDWIDTH 'a:1' FIXEDWIDTH 'a:2'", "conflicting or redundant options: FIXEDWIDTH given twice"),
    ("ENCRYPTED AUTO ENCRYPTED", "conflicting or redundant options: ENCRYPTED given twice"),
    ("KMS_KEY_ID 'a' KMS_KEY_ID 'b'", "conflicting or redundant options: KMS_KEY_ID given twice"),
    ("MASTER_SYMMETRIC_KEY 'a' MASTER_SYMMETRIC_KEY 'b'",
     "conflicting or redundant options: MASTER_SYMMETRIC_KEY given twice"),
    ("GZIP GZIP", "conflicting or redundant options: GZIP and GZIP"),
    ("ZSTD BZIP2", "conflicting or redundant options: ZSTD and BZIP2"),
    ("ADDQUOTES ADDQUOTES", "conflicting or redundant options: ADDQUOTES given twice"),
    ("NULL AS 'a' NULL 'b'", "conflicting or redundant options: NULL AS given twice"),
    ("ESCAPE ESCAPE", "conflicting or redundant options: ESCAPE given twice"),
    ("ALLOWOVERWRITE ALLOWOVERWRITE", "conflicting or redundant options: ALLOWOVERWRITE given twice"),
    ("CLEANPATH CLEANPATH", "conflicting or redundant options: CLEANPATH given twice"),
    ("PARALLEL OFF PARALLEL", "conflicting or redundant options: PARALLEL given twice"),
    ("MAXFILESIZE 10 MAXFILESIZE 'x'", "conflicting or redundant options: MAXFILESIZE given twice"),
    ("ROWGROUPSIZE 64 MB ROWGROUPSIZE 'x'", "conflicting or redundant options: ROWGROUPSIZE given twice"),
    ("REGION 'eu-west-1' REGION AS 'us-east-1'", "conflicting or redundant options: REGION given twice"),
    ("EXTENSION 'a' EXTENSION 'b'", "conflicting or redundant options: EXTENSION given twice"),
    ("ACCESS_KEY_ID 'a'", "conflicting or redundant options: ACCESS_KEY_ID given twice"),
    ("SECRET_ACCESS_KEY AS 'b'", "conflicting or redundant options: SECRET_ACCESS_KEY given twice"),
    ("SESSION_TOKEN 't' SESSION_TOKEN 't'", "conflicting or redundant options: SESSION_TOKEN given twice"),
    ("CREDENTIALS 'token=t' WITH CREDENTIALS AS 'token=t'", "conflicting or redundant options: CREDENTIALS given twice"),
])
def test_each_option_given_twice(options, message):
    error = error_of(f"{KEYS} {options}")
    assert (error.sqlstate, error.message) == ("42601", message)


def test_iam_role_given_twice():
    error = error_of("IAM_ROLE default IAM_ROLE 'arn:aws:iam::123456789012:role/r'")
    assert (error.sqlstate, error.message) == ("42601", "conflicting or redundant options: IAM_ROLE given twice")


# A malformed value is a syntax error at the token where the option's grammar stops; a value read before the
# duplicate check (FORMAT's word, PARTITION BY's list, KMS key, WITH CREDENTIALS) fails first.
@pytest.mark.parametrize("options, message", [
    ("FORMAT AS XML", 'syntax error at or near "XML"'),
    ("FORMAT CSV FORMAT TEXT", 'syntax error at or near "TEXT"'),
    ("PARTITION (a)", 'syntax error at or near "("'),
    ("PARTITION BY a", 'syntax error at or near "A"'),
    ("PARTITION BY (a", "syntax error at or near end of input"),
    ("PARTITION BY (a) PARTITION BY (b", "syntax error at or near end of input"),
    ("MANIFEST VERBOSE VERBOSE", "VERBOSE can only follow MANIFEST"),
    ("ENCRYPTED AUTO AUTO", 'syntax error at or near "AUTO": not an UNLOAD option'),
    ("KMS_KEY_ID AS 'k'", 'KMS_KEY_ID must be a quoted string, got "AS"'),
    ("KMS_KEY_ID 'k' KMS_KEY_ID", "KMS_KEY_ID must be a quoted string, got end of input"),
    ("MASTER_SYMMETRIC_KEY 5", 'MASTER_SYMMETRIC_KEY must be a quoted string, got "5"'),
    ("NULL AS NULL", 'NULL AS must be a quoted string, got "NULL"'),
    ("FIXEDWIDTH AS", "FIXEDWIDTH must be a quoted string, got end of input"),
    ("REGION eu", 'REGION must be a quoted string, got "EU"'),
    ("EXTENSION 5", 'EXTENSION must be a quoted string, got "5"'),
    ("PARALLEL 1", 'syntax error at or near "1"'),
    ("MAXFILESIZE 'big'", "MAXFILESIZE needs a number, got \"'big'\""),
    ("ROWGROUPSIZE AS MB", 'ROWGROUPSIZE needs a number, got "MB"'),
    ("MAXFILESIZE 10 KB", 'syntax error at or near "KB": not an UNLOAD option'),
    ("IAM_ROLE AS 'x'", 'IAM_ROLE must be a quoted string, got "AS"'),
    ("SESSION_TOKEN", "SESSION_TOKEN must be a quoted string, got end of input"),
    ("WITH 'x'", "syntax error at or near \"'x'\""),
    ("WITH CREDENTIALS 'token=t' WITH CREDENTIAL", 'syntax error at or near "CREDENTIAL"'),
    ("CREDENTIALS", "CREDENTIALS must be a quoted string, got end of input"),
    ("'ZSTD'", "syntax error at or near \"'ZSTD'\""),
    ("( GZIP )", 'syntax error at or near "("'),
])
def test_malformed_option_values(options, message):
    error = error_of(f"{KEYS} {options}")
    assert (error.sqlstate, error.message) == ("42601", message)


@pytest.mark.parametrize("options, sqlstate, message", [
    ("DELIMITER AS ''", "22023", "DELIMITER must be a single ASCII character, got ''"),
    ("DELIMITER 'é'", "22023", "DELIMITER must be a single ASCII character, got 'é'"),
    ("REGION 'EU-WEST-1'", "22023", "invalid REGION 'EU-WEST-1': not an AWS region name"),
    ("MAXFILESIZE 6.3 GB", "22023", "MAXFILESIZE must be between 5 MB and 6.2 GB"),
    ("FIXEDWIDTH 'a'", "22023", "invalid FIXEDWIDTH specification 'a': expected 'label:width,label:width,...' "
                                "with positive widths"),
])
def test_invalid_option_values(options, sqlstate, message):
    error = error_of(f"{KEYS} {options}")
    assert (error.sqlstate, error.message) == (sqlstate, message)


def test_client_side_encryption_key_in_credentials_is_unsupported():
    error = error_of("CREDENTIALS 'master_symmetric_key=k'")
    assert (error.sqlstate, error.message) == (
        "0A000", "client-side encryption (master_symmetric_key) is not supported by the Redshift emulator")
