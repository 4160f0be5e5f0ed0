"""A real PostgreSQL 16 from the pgserver wheel's binaries: the AlloyDB stand-in, the scratch database and the
Redshift emulator's backend. PostgreSQL refuses to run as root, so as root the server runs as a system user."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg2

from devstack import processes

SERVICE_USER = "r2a-devstack"
DATABASES = {"alloydb": "alloydb", "scratch": "scratch", "redshift": "redshift"}
# Durability is worthless for a throw-away test server and costs most of the write time.
SERVER_SETTINGS = {"listen_addresses": "127.0.0.1", "unix_socket_directories": "", "fsync": "off",
                   "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "300",
                   "shared_buffers": "128MB", "max_wal_size": "2GB", "log_min_messages": "warning",
                   "log_min_error_statement": "panic", "TimeZone": "UTC"}


def bin_dir() -> Path:
    override = os.environ.get("R2A_PG_BIN_DIR")
    if override:
        return Path(override)
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _service_account() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(SERVICE_USER)


def _link(source: str, target: str, *, follow_symlinks: bool = True) -> None:
    try:
        os.link(source, target, follow_symlinks=follow_symlinks)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=follow_symlinks)


def _service_bin_dir(account: pwd.struct_passwd | None) -> Path:
    """The binaries as the service user can run them. A clone under a folder only root enters (`mktemp -d`, /root)
    hides the venv's pgserver from that user: then its install tree is linked (no copy) into a root-owned folder
    under the temp dir that others may read; nothing in the user's folders is opened up."""
    source = bin_dir()
    if account is None:
        return source
    try:
        if subprocess.run([str(source / "postgres"), "--version"], capture_output=True,
                          preexec_fn=_demote(account)).returncode == 0:
            return source
    except OSError:  # the service user may not even execute it: linked below
        pass
    # pgserver's binaries find their libraries at $ORIGIN/../../../pgserver.libs (the wheel's RPATH): keep that layout.
    install, libraries = source.parent, source.parent.parent.parent / "pgserver.libs"
    digest = hashlib.sha256(f"{install}\0{install.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    target = Path(tempfile.gettempdir()) / f"r2a-devstack-pgserver-{digest}"
    found = target / "pgserver" / "pginstall" / "bin"
    if target.exists():
        info = target.lstat()
        if info.st_uid != 0 or target.is_symlink() or info.st_mode & 0o022 or not (target / ".complete").is_file():
            raise processes.StartError(f"devstack: {target} exists but was not built by root; remove it and retry")
        return found
    building = Path(tempfile.mkdtemp(prefix=".r2a-devstack-pgserver-"))
    tree = building / "tree"
    shutil.copytree(install, tree / "pgserver" / "pginstall", symlinks=True, copy_function=_link)
    if libraries.is_dir():
        shutil.copytree(libraries, tree / "pgserver.libs", symlinks=True, copy_function=_link)
    for folder, _, _ in os.walk(tree):
        os.chmod(folder, os.stat(folder).st_mode | 0o555)
    (tree / ".complete").write_text("ok\n")
    try:
        os.rename(tree, target)
    except OSError:
        pass  # built by another start meanwhile
    shutil.rmtree(building, ignore_errors=True)
    return found


def _demote(account: pwd.struct_passwd | None):
    if account is None:
        return None

    def preexec() -> None:
        os.setgid(account.pw_gid)
        os.setgroups([])
        os.setuid(account.pw_uid)

    return preexec


def data_dir_for(state_dir: Path) -> Path:
    """As root the data lives where the service user can reach it (a pytest tmp dir is 0700 root)."""
    if os.geteuid() != 0:
        return state_dir / "postgres"
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"r2a-devstack-pg-{digest}"


def initialise(data_dir: Path, password: str, logs: Path) -> None:
    account = _service_account()
    if (data_dir / "PG_VERSION").exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if account:
        os.chown(data_dir, account.pw_uid, account.pw_gid)
    pwfile = data_dir.parent / f".{data_dir.name}.pw"
    pwfile.write_text(password + "\n")
    if account:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    try:
        result = subprocess.run([str(_service_bin_dir(account) / "initdb"), "-D", str(data_dir), "-U", "postgres",
                                 "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C",
                                 "--no-sync"], capture_output=True, text=True, preexec_fn=_demote(account))
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise processes.StartError(f"devstack: initdb failed in {data_dir}: {result.stderr.strip()[-500:]}")
    with open(data_dir / "pg_hba.conf", "w") as hba:
        hba.write("host all all 127.0.0.1/32 scram-sha-256\n")


def start(data_dir: Path, port: int, password: str, logs: Path) -> int:
    initialise(data_dir, password, logs)
    argv = [str(_service_bin_dir(_service_account()) / "postgres"), "-D", str(data_dir), "-p", str(port)]
    for key, value in SERVER_SETTINGS.items():
        argv += ["-c", f"{key}={value}"]
    process = processes.spawn("postgres", argv, logs, preexec=_demote(_service_account()))

    def ready() -> bool:
        try:
            psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password=password, dbname="postgres",
                             connect_timeout=2).close()
            return True
        except psycopg2.OperationalError as exc:
            if "password authentication failed" in str(exc):
                raise processes.StartError(f"devstack: PostgreSQL in {data_dir} has another password than the one "
                                           "recorded in env.json; run `python -m devstack down --purge`") from None
            return False

    try:
        processes.wait_until("postgres", ready, process, logs, timeout=90)
        _create_databases(port, password)
    except BaseException:
        stop(process.pid)
        raise
    return process.pid


def _create_databases(port: int, password: str) -> None:
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password=password, dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select datname from pg_database")
            existing = {row[0] for row in cur.fetchall()}
            for name in DATABASES.values():
                if name not in existing:
                    cur.execute(f'create database "{name}"')
    finally:
        conn.close()


def stop(pid: int | None) -> bool:
    # SIGINT is PostgreSQL's "fast" shutdown: abort sessions, checkpoint, exit.
    return processes.stop(pid, sig=signal.SIGINT, timeout=30)


def purge(data_dir: Path) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)
