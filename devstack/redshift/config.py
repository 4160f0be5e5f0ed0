"""The emulator's command-line settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from devstack.redshift.unload import DEFAULT_IAM_ROLE


@dataclass(frozen=True)
class Config:
    host: str
    port: int
    backend_dsn: str
    master_user: str
    master_password: str
    database: str
    s3_endpoint_url: str
    s3_region: str
    slices: int
    state_dir: Path
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    iam_roles: tuple[str, ...] = field(default=(DEFAULT_IAM_ROLE,))
    # Redshift 1.0.NNNNN: the build number in version()
    build: str = "1.0.77467"

    @property
    def version_string(self) -> str:
        return ("PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 "
                f"(Red Hat 3.4.2-6.fc3), Redshift {self.build}")
