"""`make bench`: every benchmark of the repository in one run, printed as one table and saved as JSON.

Each module benchmarks/<name>.py exposes `run(smoke: bool) -> list[dict]`; a row holds `benchmark`, `measure`,
`value`, `unit`, and optionally `goal` (text) and `ok` (bool: the goal is met). Ratios measured side by side in
the same run are rows like any other. `--smoke` runs tiny sizes (what CI can afford); `--only NAME` one module.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import benchmarks

OUTPUT_DIR = Path("bench-output")


def discover(only: list[str] | None) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if not m.name.startswith("_"))
    return [n for n in names if not only or n in only]


def format_table(rows: list[dict]) -> str:
    header = ("benchmark", "measure", "value", "unit", "goal", "ok")
    cells = [header] + [(r["benchmark"], r["measure"], _number(r["value"]), r.get("unit", ""), r.get("goal", ""),
                         {True: "yes", False: "NO", None: ""}[r.get("ok")]) for r in rows]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells)


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--only", action="append", help="run only this benchmark module (repeatable)")
    args = parser.parse_args(argv)
    rows: list[dict] = []
    failures = 0
    for name in discover(args.only):
        module = importlib.import_module(f"benchmarks.{name}")
        if not hasattr(module, "run"):
            continue
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            produced = module.run(smoke=args.smoke)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failures += 1
            produced = [{"benchmark": name, "measure": "error", "value": f"{type(exc).__name__}: {exc}"[:120],
                         "unit": "", "ok": False}]
        rows.extend(produced)
        print(f"bench: {name} done in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
    print(format_table(rows))
    OUTPUT_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = OUTPUT_DIR / f"bench-{stamp}.json"
    path.write_text(json.dumps({"smoke": args.smoke, "rows": rows}, indent=2, default=str) + "\n")
    print(f"saved {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
