"""Benchmarks for crisis-sim: each prints ratios against a baseline measured in the same run.

Run them all with ``python -m benchmarks`` (``--quick`` for smaller sizes, ``--only NAME`` for
one). Speed is measured here and never asserted in tests; see ``benchmarks/README.md``.
"""

# Benchmark modules, by the name ``--only`` takes. Each module has
# ``run(quick: bool) -> list[benchmarks.timing.Result]`` and prints its own detail table.
BENCHMARKS: dict[str, str] = {
    "load_validate": "benchmarks.load_validate",
    "library": "benchmarks.library",
    "analyze": "benchmarks.analyze",
    "export": "benchmarks.export",
    "grading": "benchmarks.grading",
    "startup": "benchmarks.startup",
    "classroom": "benchmarks.classroom",
    "records": "benchmarks.records",
    "console": "benchmarks.console",
    "freetext": "benchmarks.freetext",
}
