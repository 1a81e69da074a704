"""``python -m benchmarks [--quick] [--only NAME]``: run benchmarks and print a table of ratios.

Exits 0 whether targets pass or fail (speed is reported, not enforced); exits 2 for a bad
command line.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time

from benchmarks import BENCHMARKS
from benchmarks.timing import Result, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a fast check")
    parser.add_argument("--only", metavar="NAME", choices=sorted(BENCHMARKS), help="run one benchmark")
    args = parser.parse_args(argv)

    names = [args.only] if args.only else list(BENCHMARKS)
    print(f"python {platform.python_version()} on {platform.machine()}, {'quick' if args.quick else 'full'} sizes")
    started = time.perf_counter()
    results: list[Result] = []
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        print()
        results.extend(module.run(quick=args.quick))
    print()
    print(
        table(
            ["benchmark", "metric", "value", "spread", "target", "result"],
            [[r.benchmark, r.metric, r.value, r.shown_spread, r.shown_target, r.verdict] for r in results],
            title="summary",
        )
    )
    failed = sum(not r.passed for r in results)
    targets = sum(r.target is not None for r in results)
    print(f"\n{targets - failed} of {targets} targets met in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
