"""``crisis-sim validate`` and ``crisis-sim list`` on the bundled library, cold and warm, against a
plain parse of the same files.

Baseline, measured in the same run: ``yaml.load(text, Loader=yaml.CSafeLoader)`` of every
scenario file of the library (reading the files included): the least any command that looks
inside them could do. Ours: the command itself, run in-process through click (its output
discarded), with the library cache (``scoring/library_cache.py``)

- **cold**: an empty cache folder each round, so every file is read, parsed, validated with its
  rubric and remembered (what the first run after installing or editing costs);
- **warm**: the cache filled beforehand, so every file is read and hashed and its cache entry
  read, and nothing is parsed or validated (every later run).

Alternating rounds with the collector off on both sides; the median ratio and its spread are
reported. Targets: warm ``validate`` <= 1.0 (cheaper than parsing the YAML at all), warm
``list`` <= 0.5 (``list`` reads only the four fields it shows); the cold figures are printed
for information (their cost is the loader's, held to its own target by ``load_validate``).
Imports are not counted (both sides run in one warmed-up process); start-up is ``startup``'s.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import yaml

from benchmarks.timing import NO_CONFIG, Result, compare, table

NAME = "library"
WARM_VALIDATE_TARGET = 1.0
WARM_LIST_TARGET = 0.5


def _baseline(files: list[Path]) -> int:
    count = 0
    for path in files:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)  # never yaml.Loader/CLoader
        count += isinstance(data, dict)
    return count


def _command(args: list[str], cache_home: Path) -> str:
    """``crisis-sim ARGS`` in this process with its cache under ``cache_home``; its stdout."""
    from simulator.cli import cli

    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache_home)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = cli.main(args, prog_name="crisis-sim", standalone_mode=False)
    finally:
        if previous is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = previous
    if code != 0:
        raise SystemExit(f"{NAME}: 'crisis-sim {' '.join(args)}' exited {code}, so its timing means nothing")
    return out.getvalue()


def run(quick: bool = False) -> list[Result]:
    from simulator.library import library_files

    files = library_files()
    rounds = 7 if quick else 15
    size = sum(p.stat().st_size for p in files)
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="crisis-sim-bench-") as tmp:
        os.environ.setdefault("CRISIS_SIM_CONFIG", NO_CONFIG)
        warm_home = Path(tmp) / "warm"
        fresh = iter(range(10**6))

        def cold_home() -> Path:
            return Path(tmp) / f"cold-{next(fresh)}"

        for command in (["validate"], ["list"]):
            expected = _command(command, warm_home)  # warms the cache (and imports) for the warm rounds
            assert _command(command, warm_home) == expected, "a warm answer differs from the cold one"
            for state in ("cold", "warm"):
                pair = compare(
                    lambda: _baseline(files),
                    (lambda c=command: _command(c, cold_home())) if state == "cold"
                    else (lambda c=command: _command(c, warm_home)),
                    rounds,
                    collector="off",
                )
                assert pair.ours.value == expected and pair.baseline.value == len(files)
                target = None if state == "cold" else (WARM_VALIDATE_TARGET if command == ["validate"]
                                                       else WARM_LIST_TARGET)
                result = Result(NAME, f"{command[0]} {state} / CSafeLoader parse of the library", pair.ratio, target,
                                pair.spread)
                results.append(result)
                rows.append([command[0], state, pair.baseline.median * 1000, pair.ours.median * 1000,
                             *result.row()[1:]])
    print(
        table(
            ["command", "cache", "parse ms", "ours ms", "ours/parse", "spread", "target", "verdict"],
            rows,
            title=f"{NAME}: the bundled library ({len(files)} files, {size / 1000:.0f} KB), {rounds} alternating "
            "rounds, collector off on both sides",
        )
    )
    for result in results:
        print(result.line())
    return results
