"""The app's drivers: Textual's own, with two fixes.

``LenientInputDriver`` (the terminal): input bytes that are not UTF-8 are replaced.

Textual 8's ``LinuxDriver.run_input_thread`` reads stdin and decodes it with a *strict*
incremental UTF-8 decoder (``getincrementaldecoder("utf-8")()``). One byte that is not UTF-8
(a Latin-1 terminal sending ``é`` as 0xE9, a paste from a program with another encoding, line
noise) raises ``UnicodeDecodeError`` in the input thread: Textual prints a traceback and the app
ends (with exit status 0). Upstream issue Textualize/textual#6456, open as of Textual 8.2.8.

The fix belongs exactly there, so this driver runs Textual's own input loop (the same code
object, not a copy) with one name rebound: its decoder factory gives a decoder with
``errors="replace"``. A bad byte becomes U+FFFD, which the fields show as "�" and the trainee can
delete; split multi-byte characters still join across reads. ``tests/tui/test_terminal_input.py``
checks the name is still looked up there (so a Textual upgrade that moves it fails loudly) and
types the byte into a real pseudo-terminal.

``ServedWebDriver`` (a browser tab through ``crisis-sim serve`` or textual-serve): when the
server's pipe closes (the server stopped or died), Textual's web input thread just returns, and
the app would run on unseen for ever, holding its records connection. This one ends the app.
"""

from __future__ import annotations

import codecs
import functools
import types
from typing import Any

from textual import messages
from textual.drivers.linux_driver import LinuxDriver
from textual.drivers.web_driver import WebDriver

DECODER_NAME = "getincrementaldecoder"
"""The global the input loop calls to make its decoder (``from codecs import ...`` in the driver)."""


def _lenient_decoder_factory(encoding: str) -> Any:
    return functools.partial(codecs.getincrementaldecoder(encoding), errors="replace")


def _with_lenient_decoding(function: types.FunctionType) -> types.FunctionType:
    """``function`` with ``DECODER_NAME`` bound to a factory of replacing decoders: the same
    code, run with its module's globals as they are at import, that one name changed."""
    scope = dict(function.__globals__)
    scope[DECODER_NAME] = _lenient_decoder_factory
    lenient = types.FunctionType(
        function.__code__, scope, function.__name__, function.__defaults__, function.__closure__
    )
    lenient.__kwdefaults__ = function.__kwdefaults__
    lenient.__qualname__ = function.__qualname__
    lenient.__doc__ = function.__doc__
    return lenient


class LenientInputDriver(LinuxDriver):
    """``LinuxDriver`` whose input thread replaces bytes that are not UTF-8 instead of dying."""

    run_input_thread = _with_lenient_decoding(LinuxDriver.run_input_thread)  # type: ignore[arg-type]


class ServedWebDriver(WebDriver):
    """``WebDriver`` whose app ends when its input ends (the server is gone)."""

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        finally:
            if not self.exit_event.is_set():  # not ended by the app: the server's pipe closed
                self._app.post_message(messages.ExitApp())
