"""Bytes from a real terminal: one byte that is not UTF-8 must not end the app.

Pilot drives the app through Textual's headless driver, which never reads a terminal, so the
crash (Textual's input thread decoding stdin as strict UTF-8, issue 12 item 13) is out of its
reach: these tests run ``crisis-sim`` on a pseudo-terminal, as a trainee's terminal would, type
a Latin-1 ``é`` (the byte 0xE9) and paste Latin-1 text, and check the app goes on (the byte shown
as U+FFFD, more typing accepted) and quits normally.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import pytest
from hang_guard import no_hang
from textual.drivers.linux_driver import LinuxDriver

from simulator.tui.driver import DECODER_NAME, LenientInputDriver

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")

ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)")


def test_textual_still_makes_its_decoder_by_the_name_we_rebind():
    """If a Textual upgrade stops calling ``getincrementaldecoder`` in the input loop, the
    lenient driver silently stops being lenient: fail here instead (and look again at
    textual/drivers/linux_driver.py, or drop our driver if upstream fixed #6456)."""
    assert DECODER_NAME in LinuxDriver.run_input_thread.__code__.co_names
    assert LenientInputDriver.run_input_thread.__code__ is LinuxDriver.run_input_thread.__code__
    decoder = LenientInputDriver.run_input_thread.__globals__[DECODER_NAME]("utf-8")()
    assert decoder.decode(b"Jos\xe9x") == "Jos\ufffdx"
    assert decoder.decode(b"\xc3") == "" and decoder.decode(b"\xa9") == "\u00e9"  # split characters still join


class Terminal:
    """``crisis-sim`` on a pseudo-terminal of a fixed size; ``screen`` is everything it wrote,
    escape sequences removed."""

    def __init__(self, cols: int = 80, rows: int = 24, prelude: str = ""):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows), "NO_COLOR": "1"}
        env.pop("TEXTUAL_DRIVER", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", f"{prelude}from simulator.cli import main; main()"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.raw = b""

    @property
    def screen(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def read(self, seconds: float = 0.2) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                return
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the process ended and closed the terminal
                return
            if not chunk:
                return
            self.raw += chunk

    def wait_for(self, text: str, polls: int = 150) -> bool:
        """Read until ``text`` is on screen (a bounded number of short reads, no timing claims)."""
        for _ in range(polls):
            if text in self.screen:
                return True
            self.read()
        return text in self.screen

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)


@pytest.fixture
def terminal():
    term = Terminal()
    yield term
    term.close()


def test_a_latin1_byte_typed_or_pasted_is_replaced_and_the_app_goes_on(terminal):
    with no_hang(90, "the app on a pseudo-terminal"):
        assert terminal.wait_for("Sign in"), terminal.screen[-2000:]
        terminal.type(b"Jos\xe9x")  # typed on a Latin-1 terminal: "José" is 4 bytes, the 4th not UTF-8
        assert terminal.wait_for("Jos\ufffdx"), terminal.screen[-2000:]
        terminal.type(b"\t\x1b[200~Ren\xe9e \xc9lise\x1b[201~")  # a bracketed paste of Latin-1 text
        assert terminal.wait_for("Ren\ufffde \ufffdlise"), terminal.screen[-2000:]
        assert terminal.proc.poll() is None, "the app ended"
        terminal.type(b"\x11")  # ctrl+q: the quit question
        assert terminal.wait_for("Quit crisis-sim?")
        terminal.type(b"y")
        for _ in range(150):
            if terminal.proc.poll() is not None:
                break
            terminal.read()
    assert terminal.proc.wait() == 0
    assert "Traceback" not in terminal.screen and "UnicodeDecodeError" not in terminal.screen


def test_an_app_whose_input_thread_dies_does_not_exit_0():
    """Textual's answer to any other failure of the input thread is a panic: a traceback and an
    app that never called exit(). That is a failure, so crisis-sim exits 1, not 0."""
    crash = (
        "import simulator.tui.driver as d\n"
        "def broken(self): raise RuntimeError('input thread died')\n"
        "d.LenientInputDriver.run_input_thread = broken\n"
    )
    terminal = Terminal(prelude=crash)
    try:
        with no_hang(90, "a panicking app"):
            for _ in range(300):
                if terminal.proc.poll() is not None:
                    break
                terminal.read()
        assert terminal.proc.wait() == 1
        assert "input thread died" in terminal.screen
    finally:
        terminal.close()
