"""``python -m benchmarks [--quick] [--only NAME]``: run benchmarks and print a table of ratios.

Every target is printed with its median, its spread over the rounds, the target and "met" or
"not met". Exits 0 whether targets are met or not (speed is reported, not enforced); exits 2 for
a bad command line.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time

from benchmarks import BENCHMARKS
from benchmarks.timing import RESULT_HEADERS, Result, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a fast check")
    parser.add_argument("--only", metavar="NAME", choices=sorted(BENCHMARKS), help="run one benchmark")
    args = parser.parse_args(argv)

    names = [args.only] if args.only else list(BENCHMARKS)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"{'quick' if args.quick else 'full'} sizes; load average before: {load} (compare figures from quiet runs)"
    )
    started = time.perf_counter()
    results: list[Result] = []
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        print()
        results.extend(module.run(quick=args.quick))
    print()
    print(
        table(
            ["benchmark", *RESULT_HEADERS],
            [[r.benchmark, *r.row()] for r in results],
            title="summary (median of alternating rounds; spread = the lowest and highest round)",
        )
    )
    targets = [r for r in results if r.target is not None]
    met = sum(r.passed for r in targets)
    print(f"\n{met} of {len(targets)} targets met in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
