"""`python -m benchmarks [--case NAME] [--json]`: run the measurements and print one table."""

from __future__ import annotations

import argparse
import json
import platform
import sys

from . import explorer

CASES = {"explorer": explorer.run}


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--case", choices=sorted(CASES), action="append")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = p.parse_args(argv)
    results = {name: CASES[name](quick=args.quick) for name in args.case or CASES}
    if args.json:
        print(json.dumps({"machine": machine(), **results}, indent=2))
        return 0
    print(f"machine: {machine()}")
    for name, rows in results.items():
        print(f"\n{name}")
        for label, row in rows.items():
            extra = f"{row['nodes']:>7,} nodes" if "nodes" in row else ""
            print(f"  {label:<32} {row['seconds'] * 1e3:>10.3f} ms  {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
