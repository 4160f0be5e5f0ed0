"""run_unload against devstack's real PostgreSQL (a named cursor, values as text like the core delivers them)
and the S3 emulator over HTTP: file names, bytes, compression, manifests and every error case."""

from __future__ import annotations

import bz2
import gzip
import json
import threading
import time
import uuid

import boto3
import psycopg2
import pytest
import zstandard

from devstack.redshift.faults import CutConnection, FaultPlan
from devstack.redshift.unload import DEFAULT_IAM_ROLE, S3Target, UnloadError, run_unload
from devstack.redshift.unload_backend import named_cursor_opener, use_text_values

NASTY_TABLE = r"""
create table nasty (id int, txt varchar(100), ch char(5), flag boolean, num numeric(10,2), bin bytea, doc jsonb,
                    ts timestamptz);
insert into nasty values
 (1, 'plain', 'ab', true, 1.5, '\x00ff', '{"b": [1, 2], "a": "x y"}', '2024-01-02 03:04:05.678+02'),
 (2, 'pipe|back\slash', 'x|y', false, -0.25, '\x', 'null', '1969-12-31 23:59:59+00'),
 (3, E'new\nline\rcr', null, null, null, null, '"str"', null),
 (4, 'say "hi" it''s', null, null, null, null, null, null),
 (5, '', null, null, null, null, null, null),
 (6, null, null, null, null, null, null, null);
create table wide (id int, payload varchar(2000));
insert into wide select g, repeat(chr(97 + g % 26), 1000) from generate_series(1, 12000) g;
"""
NASTY = "select id, txt, ch, flag, num, bin, doc, ts from nasty order by id"
HEADER = "id|txt|ch|flag|num|bin|doc|ts\n"
TEXT_ROWS = [
    '1|plain|ab   |t|1.50|00ff|{"a":"x y","b":[1,2]}|2024-01-02 01:04:05.678+00\n',
    "2|pipe|back\\slash|x|y  |f|-0.25||null|1969-12-31 23:59:59+00\n",
    '3|new\nline\rcr|||||"str"|\n',
    '4|say "hi" it\'s|||||null|\n',
    "5||||||null|\n",
    "6||||||null|\n",
]


@pytest.fixture(scope="module")
def backend_dsn(devstack):
    """One database for the module (created once, dropped after), with the test tables."""
    admin = psycopg2.connect(_dsn(devstack, "postgres"))
    admin.autocommit = True
    name = f"unload_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    dsn = _dsn(devstack, name)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(NASTY_TABLE)
    yield dsn
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
    admin.close()


def _dsn(devstack, database: str) -> str:
    pg = devstack["postgres"]
    return f"host={pg['host']} port={pg['port']} user={pg['user']} password={pg['password']} dbname={database}"


@pytest.fixture
def open_cursor(backend_dsn):
    """Like the core: every type comes back as PostgreSQL's text output, UTC, ISO dates, named cursor."""
    conn = psycopg2.connect(backend_dsn)
    use_text_values(conn)
    yield named_cursor_opener(conn)
    conn.rollback()
    conn.close()


@pytest.fixture(scope="module")
def s3_env(devstack):
    return devstack["s3"]


@pytest.fixture(scope="module")
def s3(s3_env):
    return boto3.client("s3", endpoint_url=s3_env["endpoint_url"], region_name=s3_env["region"],
                        aws_access_key_id=s3_env["access_key_id"], aws_secret_access_key=s3_env["secret_access_key"])


@pytest.fixture(scope="module")
def target(s3_env) -> S3Target:
    return S3Target(endpoint_url=s3_env["endpoint_url"], region=s3_env["region"],
                    access_key_id=s3_env["access_key_id"], secret_access_key=s3_env["secret_access_key"])


@pytest.fixture(scope="module")
def run_folder(s3, s3_env):
    """This module's folder in the bucket, emptied afterwards (moto keeps objects in memory)."""
    folder = f"unload-tests/{uuid.uuid4().hex[:12]}/"
    yield folder
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=s3_env["bucket"], Prefix=folder):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=s3_env["bucket"], Delete={"Objects": keys, "Quiet": True})


@pytest.fixture
def prefix(s3_env, run_folder) -> str:
    """A fresh 's3://bucket/<run folder>/<test>/' folder per test."""
    return f"s3://{s3_env['bucket']}/{run_folder}{uuid.uuid4().hex[:12]}/"


class Run:
    def __init__(self, open_cursor, target, s3, bucket):
        self.open_cursor, self.target, self.s3, self.bucket = open_cursor, target, s3, bucket
        self.notices: list[str] = []

    def __call__(self, query: str, to: str, options: str = "", slices: int = 4, faults=None, cancel=None,
                 auth: str | None = None):
        escaped = query.replace("'", "''")
        if auth is None:
            auth = f"ACCESS_KEY_ID '{self.target.access_key_id}' SECRET_ACCESS_KEY '{self.target.secret_access_key}'"
        statement = f"UNLOAD ('{escaped}') TO '{to}' {auth} {options}"
        return run_unload(statement, self.open_cursor, self.target, slices, self.notices.append, faults,
                          cancel=cancel)

    def keys(self, url_prefix: str) -> list[str]:
        key_prefix = url_prefix.split("/", 3)[3]
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key_prefix)
        return sorted(item["Key"][len(key_prefix):] for page in pages for item in page.get("Contents", []))

    def body(self, url_prefix: str, name: str) -> bytes:
        key = url_prefix.split("/", 3)[3] + name
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture
def unload(open_cursor, target, s3, s3_env):
    return Run(open_cursor, target, s3, s3_env["bucket"])


def error_of(call) -> UnloadError:
    with pytest.raises(UnloadError) as caught:
        call()
    return caught.value


# ---------------------------------------------------------------- text forms, byte for byte

def test_default_text_serial_file_and_notice(unload, prefix):
    outcome = unload(NASTY, prefix, "PARALLEL OFF")
    assert unload.keys(prefix) == ["000"]
    assert unload.body(prefix, "000") == "".join(TEXT_ROWS).encode()
    assert outcome.rows == 6 and outcome.files == [prefix + "000"]
    assert unload.notices == ["UNLOAD completed, 6 record(s) unloaded successfully."]


def test_null_as_replaces_nulls_but_not_empty_strings_and_super_nulls_stay_json_null(unload, prefix):
    unload(NASTY, prefix, "PARALLEL OFF NULL AS 'NUL'")
    assert unload.body(prefix, "000").decode() == "".join([
        TEXT_ROWS[0], TEXT_ROWS[1],
        '3|new\nline\rcr|NUL|NUL|NUL|NUL|"str"|NUL\n',
        "4|say \"hi\" it's|NUL|NUL|NUL|NUL|null|NUL\n",
        "5||NUL|NUL|NUL|NUL|null|NUL\n",
        "6|NUL|NUL|NUL|NUL|NUL|null|NUL\n"])


def test_escape_marks_delimiter_backslash_newline_cr_in_character_columns(unload, prefix):
    unload(NASTY, prefix, "PARALLEL OFF ESCAPE")
    assert unload.body(prefix, "000").decode() == "".join([
        TEXT_ROWS[0],
        "2|pipe\\|back\\\\slash|x\\|y  |f|-0.25||null|1969-12-31 23:59:59+00\n",
        '3|new\\\nline\\\rcr|||||"str"|\n',
        TEXT_ROWS[3], TEXT_ROWS[4], TEXT_ROWS[5]])


def test_escape_with_addquotes_also_escapes_quotes(unload, prefix):
    unload("select id, txt from nasty where id in (2, 4, 6) order by id", prefix,
           "PARALLEL OFF ESCAPE ADDQUOTES DELIMITER ','")
    assert unload.body(prefix, "000").decode() == (
        '"2","pipe|back\\\\slash"\n'
        '"4","say \\"hi\\" it\\\'s"\n'
        '"6",""\n')


def test_addquotes_without_escape_wraps_fields_as_is(unload, prefix):
    unload("select id, txt from nasty where id in (1, 4) order by id", prefix, "PARALLEL OFF ADDQUOTES DELIMITER ','")
    assert unload.body(prefix, "000") == b'"1","plain"\n"4","say "hi" it\'s"\n'


def test_header_and_tab_delimiter(unload, prefix):
    unload("select id, txt from nasty where id < 3 order by id", prefix, "PARALLEL OFF HEADER DELIMITER AS '\\t'")
    assert unload.body(prefix, "000") == b"id\ttxt\n1\tplain\n2\tpipe|back\\slash\n"


def test_csv_quotes_only_when_needed(unload, prefix):
    unload(NASTY, prefix, "PARALLEL OFF FORMAT AS CSV HEADER")
    assert unload.body(prefix, "000").decode() == (
        "id,txt,ch,flag,num,bin,doc,ts\n"
        '1,plain,ab   ,t,1.50,00ff,"{""a"":""x y"",""b"":[1,2]}",2024-01-02 01:04:05.678+00\n'
        "2,pipe|back\\slash,x|y  ,f,-0.25,,null,1969-12-31 23:59:59+00\n"
        '3,"new\nline\rcr",,,,,"""str""",\n'
        '4,"say ""hi"" it\'s",,,,,null,\n'
        "5,,,,,,null,\n"
        "6,,,,,,null,\n")


def test_csv_with_pipe_delimiter_and_null_as(unload, prefix):
    unload("select id, txt, ch from nasty where id in (2, 5, 6) order by id", prefix,
           "CSV DELIMITER '|' NULL AS '\\\\N' PARALLEL OFF")
    assert unload.body(prefix, "000") == b'2|"pipe|back\\slash"|"x|y  "\n5||\\N\n6|\\N|\\N\n'


def test_fixedwidth_pads_and_never_truncates(unload, prefix):
    query = "select id, txt, num from nasty where id in (1, 5, 6) order by id"
    unload(query, prefix + "a_", "PARALLEL OFF FIXEDWIDTH 'id:3,txt:8,num:5'")
    assert unload.body(prefix, "a_000") == b"1  plain   1.50 \n" + b"5" + b" " * 15 + b"\n" + b"6" + b" " * 15 + b"\n"
    unload(query, prefix + "b_", "PARALLEL OFF FIXEDWIDTH AS 'id:3,txt:8,num:5' NULL AS 'NUL'")
    assert unload.body(prefix, "b_000") == b"1  plain   1.50 \n5          NUL  \n6  NUL     NUL  \n"
    # a NULL AS wider than a non-character column gives blanks there
    unload(query, prefix + "c_", "PARALLEL OFF FIXEDWIDTH 'id:3,txt:8,num:5' NULL AS 'NULLNULL'")
    assert unload.body(prefix, "c_000").splitlines()[2] == b"6  NULLNULL     "


@pytest.mark.parametrize("spec, options, words", [
    ("id:3,txt:3,num:5", "", 'value of column "txt" is 5 characters, longer than its FIXEDWIDTH width 3'),
    ("id:3,txt:2,num:5", "NULL AS 'NUL'", 'longer than the FIXEDWIDTH width 2 of character column "txt"'),
    ("id:3", "", "FIXEDWIDTH specification has 1 column(s) but the query returns 3"),
])
def test_fixedwidth_errors(unload, prefix, spec, options, words):
    query = "select id, txt, num from nasty where id in (1, 5, 6) order by id"
    error = error_of(lambda: unload(query, prefix, f"PARALLEL OFF FIXEDWIDTH '{spec}' {options}"))
    assert error.sqlstate == "XX000" and words in error.message
    assert unload.keys(prefix) == []


@pytest.mark.parametrize("option, suffix, decompress", [
    ("GZIP", ".gz", gzip.decompress),
    ("BZIP2", ".bz2", bz2.decompress),
    ("ZSTD", ".zst", lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data)),
])
def test_compressed_files(unload, prefix, option, suffix, decompress):
    unload(NASTY, prefix, f"PARALLEL OFF {option}")
    assert unload.keys(prefix) == ["000" + suffix]
    assert decompress(unload.body(prefix, "000" + suffix)) == "".join(TEXT_ROWS).encode()


def test_extension_replaces_the_compression_suffix(unload, prefix):
    unload(NASTY, prefix + "venue_", "PARALLEL OFF GZIP EXTENSION 'txt.gz'")
    assert unload.keys(prefix) == ["venue_000.txt.gz"]
    assert gzip.decompress(unload.body(prefix, "venue_000.txt.gz")) == "".join(TEXT_ROWS).encode()


# ---------------------------------------------------------------- slices, parts, manifests

def test_parallel_rows_round_robin_over_slices(unload, prefix):
    outcome = unload("select g from generate_series(1, 10) g order by g", prefix + "t_", "GZIP", slices=4)
    names = ["t_0000_part_00.gz", "t_0001_part_00.gz", "t_0002_part_00.gz", "t_0003_part_00.gz"]
    assert unload.keys(prefix) == names
    bodies = [gzip.decompress(unload.body(prefix, name)).decode() for name in names]
    assert bodies == ["1\n5\n9\n", "2\n6\n10\n", "3\n7\n", "4\n8\n"]
    assert outcome.files == [prefix + name for name in names] and outcome.rows == 10


def test_fewer_rows_than_slices_writes_only_slices_with_rows(unload, prefix):
    unload("select 1 as one", prefix, "", slices=4)
    assert unload.keys(prefix) == ["0000_part_00"]


def test_empty_result_writes_one_header_only_file(unload, prefix):
    outcome = unload("select id, txt from nasty where false", prefix, "HEADER MANIFEST VERBOSE")
    assert unload.keys(prefix) == ["0000_part_00", "manifest"]
    assert unload.body(prefix, "0000_part_00") == b"id|txt\n"
    assert outcome.rows == 0 and unload.notices == ["UNLOAD completed, 0 record(s) unloaded successfully."]
    manifest = json.loads(unload.body(prefix, "manifest"))
    assert manifest["meta"] == {"content_length": 7, "record_count": 1}


def test_manifest_lists_files_with_sizes(unload, prefix, s3):
    outcome = unload("select g from generate_series(1, 6) g", prefix + "m_", "MANIFEST", slices=2)
    assert unload.keys(prefix) == ["m_0000_part_00", "m_0001_part_00", "m_manifest"]
    manifest = json.loads(unload.body(prefix, "m_manifest"))
    assert manifest == {"entries": [
        {"url": prefix + "m_0000_part_00", "meta": {"content_length": len(b"1\n3\n5\n")}},
        {"url": prefix + "m_0001_part_00", "meta": {"content_length": len(b"2\n4\n6\n")}},
    ]}
    assert outcome.files[-1] == prefix + "m_manifest"


def test_manifest_verbose_has_counts_schema_author(unload, prefix):
    unload("select id, txt, ch, num, flag, ts from nasty order by id", prefix, "MANIFEST VERBOSE HEADER GZIP",
           slices=2)
    manifest = json.loads(unload.body(prefix, "manifest"))
    entries = manifest["entries"]
    assert [entry["url"] for entry in entries] == [prefix + "0000_part_00.gz", prefix + "0001_part_00.gz"]
    for entry in entries:
        body = unload.body(prefix, entry["url"].rsplit("/", 1)[1])
        assert entry["meta"]["content_length"] == len(body)
        assert entry["meta"]["record_count"] == 4          # 3 rows + the header line, as documented
    assert manifest["meta"] == {"content_length": sum(e["meta"]["content_length"] for e in entries),
                                "record_count": 8}
    assert manifest["schema"]["elements"] == [
        {"name": "id", "type": {"base": "integer"}},
        {"name": "txt", "type": {"base": "character varying", "length": 100}},
        {"name": "ch", "type": {"base": "character", "length": 5}},
        {"name": "num", "type": {"base": "numeric", "precision": 10, "scale": 2}},
        {"name": "flag", "type": {"base": "boolean"}},
        {"name": "ts", "type": {"base": "timestamp with time zone"}},
    ]
    assert manifest["author"] == {"name": "Amazon Redshift", "version": "1.0.0"}


def test_maxfilesize_splits_serial_files(unload, prefix):
    query = "select id, payload from wide order by id"
    outcome = unload(query, prefix, "PARALLEL OFF MAXFILESIZE 5 MB HEADER")
    assert unload.keys(prefix) == ["000", "001", "002"]
    bodies = [unload.body(prefix, name) for name in ("000", "001", "002")]
    assert all(len(body) <= 5 * 1024 * 1024 for body in bodies)
    expected_rows = b"".join(f"{g}|{chr(97 + g % 26) * 1000}\n".encode() for g in range(1, 12001))
    assert all(body.startswith(b"id|payload\n") for body in bodies)
    assert b"".join(body[len(b"id|payload\n"):] for body in bodies) == expected_rows
    assert outcome.rows == 12000


def test_large_file_is_sent_as_multipart_and_parallel_parts_roll_over(unload, prefix, s3, s3_env):
    unload("select id, payload from wide order by id", prefix + "one_", "PARALLEL OFF")
    key = prefix.split("/", 3)[3] + "one_000"
    head = s3.head_object(Bucket=s3_env["bucket"], Key=key)
    assert head["ContentLength"] == sum(len(str(g)) + 1002 for g in range(1, 12001))
    assert "-" in head["ETag"]      # a multipart upload's ETag ends in -<parts>
    unload("select id, payload from wide order by id", prefix + "par_", "MAXFILESIZE 5 MB", slices=2)
    assert unload.keys(prefix + "par_") == ["0000_part_00", "0000_part_01", "0001_part_00", "0001_part_01"]


# ---------------------------------------------------------------- existing files

def test_existing_files_fail_unless_allowoverwrite_or_cleanpath(unload, prefix):
    unload("select g from generate_series(1, 8) g", prefix, "", slices=4)
    error = error_of(lambda: unload("select 1", prefix, ""))
    assert error.sqlstate == "XX000" and "Specified unload destination on S3 is not empty" in error.message
    unload("select 42", prefix, "ALLOWOVERWRITE", slices=4)
    assert unload.keys(prefix) == ["0000_part_00", "0001_part_00", "0002_part_00", "0003_part_00"]
    assert unload.body(prefix, "0000_part_00") == b"42\n"
    unload("select 7", prefix, "CLEANPATH", slices=4)
    assert unload.keys(prefix) == ["0000_part_00"]
    assert unload.body(prefix, "0000_part_00") == b"7\n"


# ---------------------------------------------------------------- authorization and S3 failures

def test_iam_role_allowed_default_and_credentials_string(unload, prefix, target):
    unload("select 1", prefix + "a_", "", auth=f"IAM_ROLE '{DEFAULT_IAM_ROLE}'")
    unload("select 2", prefix + "b_", "", auth="IAM_ROLE default")
    unload("select 3", prefix + "c_", "", auth=f"CREDENTIALS 'aws_access_key_id={target.access_key_id};"
                                              f"aws_secret_access_key={target.secret_access_key}'")
    assert unload.keys(prefix) == ["a_0000_part_00", "b_0000_part_00", "c_0000_part_00"]


def test_iam_role_not_in_allow_list_is_refused(unload, prefix):
    role = "arn:aws:iam::999999999999:role/someone-else"
    error = error_of(lambda: unload("select 1", prefix, "", auth=f"IAM_ROLE '{role}'"))
    assert error.sqlstate == "XX000"
    assert f"is not authorized to assume IAM Role {role}" in error.message
    assert unload.keys(prefix) == []


@pytest.mark.parametrize("auth, s3_code", [
    ("ACCESS_KEY_ID '{key}' SECRET_ACCESS_KEY 'wrong-secret-0123456789'", "Error SignatureDoesNotMatch"),
    ("ACCESS_KEY_ID 'AKIANOSUCHKEY0000000' SECRET_ACCESS_KEY '{secret}'", "Error InvalidAccessKeyId"),
    # moto accepts no session token for these keys (it does not honour STS ones for S3 either), so a token
    # fails; this shows SESSION_TOKEN reaches S3.
    ("ACCESS_KEY_ID '{key}' SECRET_ACCESS_KEY '{secret}' SESSION_TOKEN 'not-a-token'", "Error InvalidToken"),
])
def test_bad_credentials_fail_with_s3_error(unload, prefix, target, auth, s3_code):
    auth = auth.format(key=target.access_key_id, secret=target.secret_access_key)
    error = error_of(lambda: unload("select 1", prefix, "", auth=auth))
    assert error.sqlstate == "XX000" and error.message.startswith("S3ServiceException:") and s3_code in error.message
    assert target.secret_access_key not in error.message and "wrong-secret" not in error.message


def test_missing_bucket(unload):
    error = error_of(lambda: unload("select 1", "s3://no-such-bucket-r2a/x_", ""))
    assert error.sqlstate == "XX000"
    assert "The specified bucket does not exist" in error.message and "Status 404" in error.message


def test_bucket_in_another_region_needs_region(unload, s3, s3_env):
    bucket = "r2a-unload-eu-west-1"
    try:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    run = uuid.uuid4().hex[:8]
    error = error_of(lambda: unload("select 1", f"s3://{bucket}/{run}/", ""))
    assert "PermanentRedirect" in error.message and "REGION 'eu-west-1'" in error.message
    unload("select 1", f"s3://{bucket}/{run}/", "REGION AS 'eu-west-1'")
    written = s3.list_objects_v2(Bucket=bucket, Prefix=f"{run}/").get("Contents", [])
    assert [item["Key"] for item in written] == [f"{run}/0000_part_00"]
    s3.delete_object(Bucket=bucket, Key=f"{run}/0000_part_00")
    wrong = error_of(lambda: unload("select 1", f"s3://{s3_env['bucket']}/{run}/", "REGION 'eu-west-1'"))
    assert "PermanentRedirect" in wrong.message


def test_bad_query_reports_the_backend_error(unload, prefix):
    missing = error_of(lambda: unload("select * from no_such_table", prefix, ""))
    assert missing.sqlstate == "42P01" and 'relation "no_such_table" does not exist' in missing.message


def test_error_while_fetching_leaves_no_partial_files(unload, prefix):
    error = error_of(lambda: unload("select 1 / (g - 5000) from generate_series(1, 6000) g", prefix, "PARALLEL OFF"))
    assert error.sqlstate == "22012"
    assert unload.keys(prefix) == []


# ---------------------------------------------------------------- faults

def test_fault_fail_unload(unload, prefix):
    error = error_of(lambda: unload("select 1", prefix, "", faults=FaultPlan(fail_unload="injected failure")))
    assert (error.sqlstate, error.message) == ("XX000", "injected failure")
    assert unload.keys(prefix) == []


def test_fault_stall_then_completes(unload, prefix):
    started = time.monotonic()
    unload("select 1", prefix, "", faults=FaultPlan(stall_seconds=0.5))
    assert time.monotonic() - started >= 0.5
    assert unload.keys(prefix) == ["0000_part_00"]


def test_fault_stall_is_interrupted_by_cancel(unload, prefix):
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    error = error_of(lambda: unload("select 1", prefix, "", faults=FaultPlan(stall_seconds=60), cancel=cancel))
    assert error.sqlstate == "57014" and time.monotonic() - started < 10
    assert unload.keys(prefix) == []


def test_fault_cut_connection_mid_unload(unload, prefix):
    with pytest.raises(CutConnection):
        unload("select id, payload from wide order by id", prefix, "PARALLEL OFF",
               faults=FaultPlan(cut_connection_after_rows=9000))
    assert unload.keys(prefix) == []      # the unfinished multipart upload was aborted
    assert unload.notices == []


def test_concurrent_unloads_in_threads(backend_dsn, target, prefix, s3, s3_env):
    """The core runs one UNLOAD per session thread; they must not share state."""
    errors: list[BaseException] = []

    def one(n: int) -> None:
        conn = psycopg2.connect(backend_dsn)
        try:
            def open_named(query: str):
                cursor = conn.cursor(name=f"c{n}")
                cursor.execute(query)
                return cursor
            statement = (f"UNLOAD ('select g from generate_series(1, 20000) g') TO '{prefix}{n}/' "
                         f"ACCESS_KEY_ID '{target.access_key_id}' SECRET_ACCESS_KEY '{target.secret_access_key}' "
                         "PARALLEL OFF GZIP")
            run_unload(statement, open_named, target, 4, lambda _: None)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = "".join(f"{g}\n" for g in range(1, 20001)).encode()
    for n in range(4):
        key = prefix.split("/", 3)[3] + f"{n}/000.gz"
        assert gzip.decompress(s3.get_object(Bucket=s3_env["bucket"], Key=key)["Body"].read()) == expected


def test_maxfilesize_applies_to_compressed_bytes(unload, prefix):
    query = "select g, md5(g::text) || md5((g * 31)::text) from generate_series(1, 300000) g order by g"
    unload(query, prefix, "PARALLEL OFF GZIP MAXFILESIZE 5 MB MANIFEST VERBOSE")
    names = unload.keys(prefix)
    data_names = [name for name in names if name != "manifest"]
    assert len(data_names) >= 2 and data_names == [f"{n:03d}.gz" for n in range(len(data_names))]
    bodies = [unload.body(prefix, name) for name in data_names]
    assert all(4.5 * 1024 * 1024 < len(body) <= 5 * 1024 * 1024 for body in bodies[:-1]), [len(b) for b in bodies]
    text = b"".join(gzip.decompress(body) for body in bodies)
    assert text.count(b"\n") == 300000 and text.startswith(b"1|c4ca4238a0b923820dcc509a6f75849b")
    manifest = json.loads(unload.body(prefix, "manifest"))
    assert [entry["meta"]["content_length"] for entry in manifest["entries"]] == [len(body) for body in bodies]
    assert manifest["meta"]["record_count"] == 300000


def test_timetz_from_the_backend_in_utc(unload, prefix):
    unload("select timetz '13:24:55 PST', timetz '04:05:06.5+05:30'", prefix, "PARALLEL OFF")
    assert unload.body(prefix, "000") == b"21:24:55+00|22:35:06.5+00\n"
