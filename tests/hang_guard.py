"""A watchdog for fuzz tests: "never a hang" as a property that can fail.

``no_hang(seconds)`` raises ``Hang`` in the main thread if the block runs longer than the budget
(SIGALRM via ``setitimer``, POSIX only). The budget is generous (a hang, not a slow run, is what it
catches), so it does not make the tests timing-dependent on a busy machine.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class Hang(AssertionError):
    """The guarded block ran past its budget: treat as a failed property, with the input shown."""


@contextlib.contextmanager
def no_hang(seconds: float = 20.0, what: str = "input") -> Iterator[None]:
    def expired(signum: int, frame: object) -> None:
        raise Hang(f"no result within {seconds:g} s for this {what}")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
