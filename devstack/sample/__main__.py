"""python -m devstack.sample [--scale N] [--seed S] [--dir DEVSTACK_DIR]"""

from __future__ import annotations

import argparse
import sys

import psycopg2

from devstack import env as envfile
from devstack.sample.loader import load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.sample",
        description="(Re)load the sample Redshift database into devstack's Redshift emulator: AWS's TICKIT schema "
                    "with generated rows plus the `edge` schema of every type, nasty value and object kind. "
                    "Deterministic for a seed; an earlier load is replaced.")
    parser.add_argument("--scale", type=int, default=1,
                        help="multiplies TICKIT's users/event/listing/sales rows (1: ~43k rows in seconds; "
                             "1500: a ~2 GB sales table) [default: 1]")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data [default: 42]")
    parser.add_argument("--dir", help="devstack state folder (default: $R2A_DEVSTACK_DIR or ./.devstack)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error(f"--scale must be at least 1, not {args.scale}")
    env = envfile.load(envfile.state_dir(args.dir))
    if not env.get("redshift", {}).get("port"):
        print("devstack.sample: the Redshift emulator is not running (python -m devstack up)", file=sys.stderr)
        return 1
    progress = (lambda message: None) if args.quiet else (lambda message: print(message, flush=True))
    try:
        summary = load(env, scale=args.scale, seed=args.seed, progress=progress)
    except psycopg2.Error as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"devstack.sample: the emulator refused the sample: {first_line}", file=sys.stderr)
        return 1
    print("\n".join(summary.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
