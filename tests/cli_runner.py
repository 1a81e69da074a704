"""``crisis-sim ARGS`` run in-process, the way the installed command ends: through
``simulator.cli:main`` (which turns every failure into one line and an exit code) inside click's
isolation, with stdin at end of file and a hang guard. One copy for every test file."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass

import click
from click.testing import CliRunner
from hang_guard import no_hang

from simulator.cli import main


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str
    output: str
    """stdout and stderr interleaved as a terminal would show them."""

    def __iter__(self):  # ``code, stdout, stderr = run_cli(...)``
        return iter((self.code, self.stdout, self.stderr))


def run_cli(argv: list[str], *, seconds: float = 60.0, what: str = "command line") -> CliResult:
    with CliRunner().isolation(input="") as (out, err, mixed):
        # Like a real process under a UTF-8 locale: an argv byte that is not UTF-8 arrives as a
        # surrogate escape and is written back as that byte.
        with contextlib.suppress(AttributeError, ValueError):
            click.get_text_stream("stdout").reconfigure(errors="surrogateescape")  # type: ignore[attr-defined]
        with no_hang(seconds, what):
            try:
                main(list(argv))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            else:
                raise AssertionError(f"main() returned instead of exiting for {argv!r}")
        sys.stdout.flush()
        sys.stderr.flush()
        decode = lambda stream: stream.getvalue().decode("utf-8", "surrogateescape")  # noqa: E731
        return CliResult(code, decode(out), decode(err), decode(mixed))
