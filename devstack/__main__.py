"""python -m devstack up [--json] | status | down [--purge] | restart SERVICE | env"""

from __future__ import annotations

import argparse
import json
import sys

from devstack import env as envfile
from devstack import processes, stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Local stand-ins for everything r2a talks to: PostgreSQL (AlloyDB and scratch), S3 (moto), "
                    "GCS (gcp-storage-emulator), an SSH bastion and the Redshift emulator.")
    parser.add_argument("--dir", help="state folder (default: $R2A_DEVSTACK_DIR or ./.devstack)")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start every service that is not running (idempotent)")
    start.add_argument("--json", action="store_true", help="print env.json instead of a summary")
    start.add_argument("--no-redshift", action="store_true", help="do not start the Redshift emulator")
    commands.add_parser("status", help="show each service as up or down")
    stop = commands.add_parser("down", help="stop exactly the processes devstack started")
    stop.add_argument("--purge", action="store_true", help="also delete PostgreSQL's data")
    again = commands.add_parser("restart", help="stop and start one service on the same port")
    again.add_argument("service", choices=stack.SERVICES)
    commands.add_parser("env", help="print the shell exports of env.sh")
    args = parser.parse_args(argv)
    directory = envfile.state_dir(args.dir)
    try:
        if args.command == "up":
            env = stack.up(directory, with_redshift=not args.no_redshift)
            if args.json:
                print(json.dumps(env, indent=2, sort_keys=True))
            else:
                _print_summary(env)
        elif args.command == "status":
            states = stack.status(directory)
            if not states:
                print(f"devstack: nothing started in {directory}")
                return 1
            for name, up in states.items():
                print(f"{name:9} {'up' if up else 'down'}")
            return 0 if all(states.values()) else 1
        elif args.command == "down":
            stopped = stack.down(directory, purge=args.purge)
            print(f"devstack: stopped {', '.join(stopped) if stopped else 'nothing (no process was running)'}")
        elif args.command == "restart":
            env = envfile.load(directory)
            stack.restart(env, args.service)
            print(f"devstack: restarted {args.service} on port {env[args.service]['port']}")
        elif args.command == "env":
            print((directory / "env.sh").read_text(), end="")
    except processes.StartError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


def _print_summary(env: dict) -> None:
    for name in stack.SERVICES:
        service = env.get(name)
        if service:
            where = service.get("endpoint_url") or f"{service['host']}:{service['port']}"
            print(f"{name:9} {where}  (pid {service['pid']})")
    print(f"settings: source {env['state_dir']}/env.sh")


if __name__ == "__main__":
    sys.exit(main())
