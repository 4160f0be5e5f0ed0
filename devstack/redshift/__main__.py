"""python -m devstack.redshift: the Redshift emulator (see README.md in this folder)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

import psycopg2

from devstack.redshift.config import Config
from devstack.redshift.server import EmulatorServer
from devstack.redshift.state import ServerState
from devstack.redshift.unload import DEFAULT_IAM_ROLE


def parse_args(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(prog="python -m devstack.redshift",
                                     description="Redshift emulator: PostgreSQL wire protocol, proxied to PostgreSQL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend-dsn", required=True, help="libpq DSN of the backend PostgreSQL database")
    parser.add_argument("--master-user", default="awsuser")
    parser.add_argument("--master-password", required=True)
    parser.add_argument("--database", default="dev")
    parser.add_argument("--s3-endpoint-url", required=True)
    parser.add_argument("--s3-region", default="us-east-1")
    parser.add_argument("--s3-access-key-id")
    parser.add_argument("--s3-secret-access-key")
    parser.add_argument("--iam-roles", default=DEFAULT_IAM_ROLE,
                        help="comma-separated IAM role ARNs UNLOAD may assume")
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.slices < 1:
        parser.error("--slices must be at least 1")
    roles = tuple(r.strip() for r in args.iam_roles.split(",") if r.strip())
    return Config(host=args.host, port=args.port, backend_dsn=args.backend_dsn, master_user=args.master_user,
                  master_password=args.master_password, database=args.database,
                  s3_endpoint_url=args.s3_endpoint_url, s3_region=args.s3_region, slices=args.slices,
                  state_dir=args.state_dir, s3_access_key_id=args.s3_access_key_id,
                  s3_secret_access_key=args.s3_secret_access_key, iam_roles=roles or (DEFAULT_IAM_ROLE,))


def _stop(*_args) -> None:
    raise KeyboardInterrupt()


def main(argv: list[str] | None = None) -> int:
    config = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config.state_dir.mkdir(parents=True, exist_ok=True)
    state = ServerState(config)
    try:
        state.bootstrap()
    except psycopg2.Error as exc:
        message = " ".join(str(exc).split())
        print(f"redshift emulator: cannot prepare the backend database ({message})", file=sys.stderr)
        return 2
    try:
        server = EmulatorServer(config, state)
    except OSError as exc:
        print(f"redshift emulator: cannot listen on {config.host}:{config.port} ({exc.strerror})", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop)
    logging.getLogger("devstack.redshift").info("listening on %s:%s", config.host, config.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
