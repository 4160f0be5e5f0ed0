"""Every setting declared once: environment variable, type, default, doc, whether it is a secret.

Precedence: flag (passed in as an override keyed by the environment variable's name) > environment > default.
Names follow each ecosystem's conventions: libpq `PG*` for AlloyDB, `REDSHIFT_*` for the source, AWS's standard
chain (boto3 reads `AWS_*` itself; we only check what must exist), Google ADC, `SSH_BASTION_*` for the bastion.
A missing or invalid value raises `ConfigError` naming the variable, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
LOG_FORMATS = ("auto", "json", "text")


def setting(env: str, default: Any = None, *, kind: type = str, doc: str = "", secret: bool = False,
            file_env: str | None = None, choices: tuple[str, ...] | None = None, path: bool = False) -> Any:
    """Declare one setting. `file_env` names a variable holding a path whose content is the value (k8s secret files)."""
    meta = {"env": env, "kind": kind, "doc": doc, "secret": secret, "file_env": file_env, "choices": choices,
            "path": path}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RedshiftSettings:
    host: str | None = setting("REDSHIFT_HOST", doc="Redshift endpoint host, as seen from the bastion when one is used")
    port: int = setting("REDSHIFT_PORT", 5439, kind=int, doc="Redshift port")
    database: str | None = setting("REDSHIFT_DATABASE", doc="Redshift database to migrate")
    user: str | None = setting("REDSHIFT_USER", doc="Redshift user")
    password: str | None = setting("REDSHIFT_PASSWORD", secret=True, file_env="REDSHIFT_PASSWORD_FILE",
                                   doc="Redshift password (or a file named by REDSHIFT_PASSWORD_FILE)")
    sslmode: str = setting("REDSHIFT_SSLMODE", "verify-full", choices=SSL_MODES,
                           doc="libpq sslmode towards Redshift; verify-full checks the endpoint's name also through "
                               "the bastion")
    sslrootcert: str | None = setting("REDSHIFT_SSLROOTCERT", path=True,
                                      doc="CA bundle for verify-ca/verify-full: AWS's amazon-trust-ca-bundle.crt")
    require_auth: str = setting("REDSHIFT_REQUIRE_AUTH", "!password",
                                doc="libpq require_auth: login methods accepted (default: anything but a cleartext password; "
                                    "`any`: no check)")
    connect_timeout: int = setting("REDSHIFT_CONNECT_TIMEOUT", 20, kind=int, doc="seconds to wait for a connection")
    unload_timeout: int = setting("REDSHIFT_UNLOAD_TIMEOUT", 6 * 3600, kind=int,
                                  doc="seconds a table's count + UNLOAD may run before r2a cancels it (0: no limit)")


@dataclass(frozen=True)
class AlloyDBSettings:
    host: str | None = setting("PGHOST", doc="AlloyDB host (private IP, or 127.0.0.1 with the Auth Proxy)")
    port: int = setting("PGPORT", 5432, kind=int, doc="AlloyDB port")
    database: str | None = setting("PGDATABASE", doc="AlloyDB database")
    user: str | None = setting("PGUSER", doc="AlloyDB user")
    password: str | None = setting("PGPASSWORD", secret=True, file_env="PGPASSWORD_FILE",
                                   doc="AlloyDB password (libpq's PGPASSFILE also works)")
    sslmode: str = setting("PGSSLMODE", "verify-full", choices=SSL_MODES,
                           doc="libpq sslmode (disable only behind the AlloyDB Auth Proxy on 127.0.0.1)")
    sslrootcert: str | None = setting("PGSSLROOTCERT", path=True, doc="CA certificate for verify-ca/verify-full")
    require_auth: str = setting("PGREQUIREAUTH", "!password",
                                doc="libpq require_auth: login methods accepted (default: anything but a cleartext password; "
                                    "`any`: no check)")
    connect_timeout: int = setting("PGCONNECT_TIMEOUT", 20, kind=int, doc="seconds to wait for a connection")


@dataclass(frozen=True)
class S3Settings:
    bucket: str | None = setting("R2A_S3_BUCKET", doc="S3 bucket UNLOAD writes to")
    prefix: str = setting("R2A_S3_PREFIX", "r2a", doc="key prefix inside the S3 bucket")
    region: str | None = setting("AWS_DEFAULT_REGION", doc="AWS region of the bucket (AWS_REGION also read)")
    endpoint_url: str | None = setting("AWS_ENDPOINT_URL_S3", doc="S3 endpoint override (emulators)")
    profile: str | None = setting("AWS_PROFILE", doc="profile in the AWS credentials file")
    credentials_file: str | None = setting("AWS_SHARED_CREDENTIALS_FILE", path=True,
                                           doc="AWS credentials file (the acceso-aws secret)")
    access_key_id: str | None = setting("AWS_ACCESS_KEY_ID", doc="AWS access key (else the profile/credentials file)")
    secret_access_key: str | None = setting("AWS_SECRET_ACCESS_KEY", secret=True, doc="AWS secret access key")
    session_token: str | None = setting("AWS_SESSION_TOKEN", secret=True, doc="AWS session token (temporary keys)")
    unload_iam_role: str | None = setting("R2A_UNLOAD_IAM_ROLE",
                                          doc="IAM role Redshift assumes for UNLOAD (`default`: the cluster's "
                                              "default role; the workflow's default). Unset: the resolved keys go "
                                              "into the UNLOAD text, which Redshift keeps in its query history")


@dataclass(frozen=True)
class GCSSettings:
    bucket: str | None = setting("R2A_GCS_BUCKET", doc="GCS bucket holding run folders")
    prefix: str = setting("R2A_GCS_PREFIX", "r2a", doc="object prefix inside the GCS bucket")
    project: str | None = setting("GOOGLE_CLOUD_PROJECT", doc="GCP project")
    emulator_host: str | None = setting("STORAGE_EMULATOR_HOST", doc="GCS emulator endpoint (tests, devstack)")
    credentials_file: str | None = setting("GOOGLE_APPLICATION_CREDENTIALS", path=True,
                                           doc="service account key file; Workload Identity needs none")


@dataclass(frozen=True)
class BastionSettings:
    host: str | None = setting("SSH_BASTION_HOST", doc="SSH bastion in front of Redshift; unset = connect directly")
    port: int = setting("SSH_BASTION_PORT", 22, kind=int, doc="SSH bastion port")
    user: str | None = setting("SSH_BASTION_USER", doc="SSH user on the bastion")
    key_file: str | None = setting("SSH_BASTION_KEY_FILE", path=True,
                                   doc="private key (item `key` of Secret acceso-vpn, or `id_ed25519`)")
    host_key: str | None = setting("SSH_BASTION_HOST_KEY",
                                   doc="the bastion's public host key line (`ssh-keyscan -t ed25519 <bastion>`) or "
                                       "its SHA256 fingerprint (`ssh-keygen -lf`); pins it before the next two")
    host_key_file: str | None = setting("SSH_BASTION_HOST_KEY_FILE",
                                        doc="file holding the same (ConfigMap r2a-bastion); absent = not given")
    known_hosts: str | None = setting("SSH_BASTION_KNOWN_HOSTS",
                                      doc="known_hosts with the bastion's key (item of acceso-vpn); absent = not given")
    strict_host_key: bool = setting("SSH_BASTION_STRICT_HOST_KEY", True, kind=bool,
                                    doc="refuse a bastion whose host key is not pinned (never trust on first use)")


@dataclass(frozen=True)
class Settings:
    redshift: RedshiftSettings
    alloydb: AlloyDBSettings
    s3: S3Settings
    gcs: GCSSettings
    bastion: BastionSettings
    scratch_dsn: str | None = None
    log_format: str = "auto"
    debug: bool = False
    pg_dump: str | None = None

    def secret_values(self) -> list[str]:
        values = [self.scratch_dsn] if self.scratch_dsn else []
        for section in (self.redshift, self.alloydb, self.s3, self.gcs, self.bastion):
            for f in fields(section):
                value = getattr(section, f.name)
                if f.metadata["secret"] and value:
                    values.append(str(value))
        return values


_GENERAL = {
    "scratch_dsn": setting("R2A_SCRATCH_DSN", secret=True, doc="libpq DSN of the scratch PostgreSQL"),
    "log_format": setting("R2A_LOG_FORMAT", "auto", choices=LOG_FORMATS, doc="auto (json unless a TTY), json, text"),
    "debug": setting("R2A_DEBUG", False, kind=bool,
                     doc="print the traceback of an internal error (exit 70) before its one line"),
    "pg_dump": setting("R2A_PG_DUMP", doc="validate_restore: the pg_dump to use (and only it); unset: pg_dump on PATH"),
}
SECTIONS = (RedshiftSettings, AlloyDBSettings, S3Settings, GCSSettings, BastionSettings)


def _convert(raw: str, meta: Mapping[str, Any]) -> Any:
    env, kind = meta["env"], meta["kind"]
    if kind is int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{env}={raw!r} is not a whole number") from None
        if env.endswith("PORT") and not 0 < value < 65536:
            raise ConfigError(f"{env}={raw!r} is not a port number (1-65535)")
        if value < 0:
            raise ConfigError(f"{env}={raw!r} must not be negative")
        return value
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{env}={raw!r} is not a boolean (true/false)")
    if meta["choices"] and raw not in meta["choices"]:
        raise ConfigError(f"{env}={raw!r} is not one of {', '.join(meta['choices'])}")
    if meta["path"]:
        _check_readable(raw, env)
    return raw


def _check_readable(raw: str, env: str) -> None:
    """A mounted secret file can exist yet be unreadable by the step's user (mode and group set by the kubelet)."""
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigError(f"{env} names {raw!r}, which is not a readable file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ConfigError(f"cannot read {raw} (named by {env}): {exc.strerror or exc}") from None


def _read(meta: Mapping[str, Any], default: Any, environ: Mapping[str, str]) -> Any:
    env = meta["env"]
    raw = environ.get(env)
    if raw is None and env == "AWS_DEFAULT_REGION":
        raw = environ.get("AWS_REGION")
    if raw is None and meta["file_env"] and environ.get(meta["file_env"]):
        secret_path = Path(environ[meta["file_env"]]).expanduser()
        try:
            raw = secret_path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {secret_path} (named by {meta['file_env']}): {exc.strerror or exc}"
                              ) from None
    if raw is None or raw == "":
        return default
    return _convert(raw, meta)


def _section(cls: type, environ: Mapping[str, str]) -> Any:
    values = {}
    for f in fields(cls):
        default = None if f.default is MISSING else f.default
        values[f.name] = _read(f.metadata, default, environ)
    return cls(**values)


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read every setting. `overrides` maps environment-variable names to flag values (None = not given)."""
    merged = dict(os.environ if environ is None else environ)
    for name, value in (overrides or {}).items():
        if value is not None:
            merged[name] = str(value)
    # The CA file matters only when the server certificate is verified: an optional secret that is not mounted
    # must not stop a run that does not verify (sslmode disable/require, e.g. behind the AlloyDB Auth Proxy).
    for cert_env, mode_env in (("PGSSLROOTCERT", "PGSSLMODE"), ("REDSHIFT_SSLROOTCERT", "REDSHIFT_SSLMODE")):
        root_cert = merged.get(cert_env)
        if root_cert and merged.get(mode_env) in ("disable", "allow", "prefer", "require") \
                and not Path(root_cert).expanduser().is_file():
            del merged[cert_env]
    general = {name: _read(f.metadata, f.default, merged) for name, f in _GENERAL.items()}
    return Settings(*(_section(cls, merged) for cls in SECTIONS), **general)


def general_setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One general setting alone (e.g. where the others may be what failed to load)."""
    meta = _GENERAL[name]
    return _read(meta.metadata, meta.default, os.environ if environ is None else environ)


def setting_env(name: str) -> str:
    """The environment variable of a general setting, for messages."""
    return _GENERAL[name].metadata["env"]


def require(section: Any, *names: str) -> None:
    """Fail with one line listing every missing variable of `section` among `names`."""
    by_name = {f.name: f for f in fields(section)}
    missing = [by_name[n].metadata["env"] for n in names if getattr(section, n) in (None, "")]
    if missing:
        raise ConfigError(f"missing setting{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
                          "Set the environment variable or pass the flag")


def documented_settings() -> list[dict[str, Any]]:
    """All settings with env var, default and doc: the README table and `--help` texts come from here."""
    rows = []
    for cls in SECTIONS:
        for f in fields(cls):
            rows.append({"section": cls.__name__.removesuffix("Settings"), "env": f.metadata["env"],
                         "default": f.default, "secret": f.metadata["secret"], "doc": f.metadata["doc"]})
    for f in _GENERAL.values():
        rows.append({"section": "General", "env": f.metadata["env"], "default": f.default,
                     "secret": f.metadata["secret"], "doc": f.metadata["doc"]})
    return rows
