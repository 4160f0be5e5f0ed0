"""devstack itself: a private stack in a tmp folder, started, reused, restarted and stopped by pid."""

import json
import subprocess
import sys

import asyncssh
import boto3
import botocore.exceptions
import psycopg2
import pytest

from devstack import env as envfile
from devstack import processes, stack
from tests.conftest import admin_connection

pytestmark = pytest.mark.live  # a private devstack


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("own-devstack")
    env = stack.up(directory, with_redshift=False)
    yield directory, env
    stack.down(directory, purge=True)


def _gcs_bucket(env):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="devstack-test", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": env["gcs"]["endpoint_url"]})
    return client.bucket(env["gcs"]["bucket"])


def _cli(directory, *args):
    return subprocess.run([sys.executable, "-m", "devstack", "--dir", str(directory), *args],
                          capture_output=True, text=True, timeout=120, cwd=envfile.REPO_ROOT)


def test_up_is_idempotent_and_writes_env_files(private_stack):
    directory, env = private_stack
    again = _cli(directory, "up", "--json")
    assert again.returncode == 0, again.stderr
    reused = json.loads(again.stdout)
    for name in ("postgres", "s3", "gcs", "ssh"):
        assert reused[name]["pid"] == env[name]["pid"]
        assert reused[name]["port"] == env[name]["port"]
    exported = (directory / "env.sh").read_text()
    assert f"export PGPORT={env['postgres']['port']}\n" in exported
    assert "export PGDATABASE=alloydb\n" in exported
    assert (directory / "env.json").stat().st_mode & 0o077 == 0  # holds passwords


def test_postgres_has_the_three_databases_and_refuses_a_wrong_password(private_stack):
    _, env = private_stack
    conn = admin_connection(env)
    with conn.cursor() as cur:
        cur.execute("select datname from pg_database")
        names = {row[0] for row in cur.fetchall()}
        cur.execute("show server_version_num")
        assert int(cur.fetchone()[0]) // 10000 == 16
    conn.close()
    assert {"alloydb", "scratch", "redshift"} <= names
    pg = env["postgres"]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host=pg["host"], port=pg["port"], user="postgres", password="wrong", dbname="alloydb")


def test_s3_enforces_credentials(private_stack):
    _, env = private_stack
    s3 = env["s3"]
    good = boto3.client("s3", endpoint_url=s3["endpoint_url"], region_name=s3["region"],
                        aws_access_key_id=s3["access_key_id"], aws_secret_access_key=s3["secret_access_key"])
    assert s3["bucket"] in [b["Name"] for b in good.list_buckets()["Buckets"]]
    bad = boto3.client("s3", endpoint_url=s3["endpoint_url"], region_name=s3["region"],
                       aws_access_key_id=s3["access_key_id"], aws_secret_access_key="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError, match="SignatureDoesNotMatch"):
        bad.list_objects_v2(Bucket=s3["bucket"])


async def _bastion_checks(ssh: dict, target_port: int) -> None:
    options = dict(port=ssh["port"], username=ssh["user"], client_keys=[ssh["private_key_file"]],
                   known_hosts=ssh["known_hosts_file"])
    async with asyncssh.connect(ssh["host"], **options) as conn:
        reader, writer = await conn.open_connection("127.0.0.1", target_port)
        writer.close()
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.create_session(asyncssh.SSHClientSession, "id")
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(ssh["host"], **dict(options, username="root"))


def test_bastion_forwards_tcp_but_gives_no_shell(private_stack):
    import asyncio

    _, env = private_stack
    asyncio.run(_bastion_checks(env["ssh"], env["postgres"]["port"]))


def test_restart_keeps_port_and_down_stops_exactly_its_pids(private_stack, tmp_path):
    directory, env = private_stack
    old_pid, port = env["gcs"]["pid"], env["gcs"]["port"]
    _gcs_bucket(env).blob("kept/across-restart.json").upload_from_string(b'{"kept": true}')
    restarted = _cli(directory, "restart", "gcs")
    assert restarted.returncode == 0, restarted.stderr
    env = envfile.load(directory)
    assert env["gcs"]["port"] == port and env["gcs"]["pid"] != old_pid
    assert not processes.alive(old_pid)
    # devstack/gcs_emulator.py writes the emulator's metadata compactly: it must read back after a restart
    assert _gcs_bucket(env).blob("kept/across-restart.json").download_as_bytes() == b'{"kept": true}'
    metadata = (directory / "gcs" / ".cloudstorage" / ".meta").read_text()
    assert "\n" not in metadata and '"kept/across-restart.json"' in metadata
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stopped = _cli(directory, "down")
        assert stopped.returncode == 0
        assert all(not processes.alive(env[name]["pid"]) for name in ("postgres", "s3", "gcs", "ssh"))
        assert bystander.poll() is None
        status = _cli(directory, "status")
        assert status.returncode == 1 and "postgres  down" in status.stdout
        assert _cli(directory, "up").returncode == 0  # data kept: same password still valid
        admin_connection(envfile.load(directory)).close()
    finally:
        bystander.kill()
