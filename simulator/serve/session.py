"""The app process of one browser tab: ``python -m simulator.serve.session``, started by the
classroom server (``server.ClassroomService``), never by hand.

It runs the trainee app under Textual's web driver (textual-serve's protocol on its stdin and
stdout), signed in as the trainee the server names in ``CRISIS_SIM_SERVE_TRAINEE`` (checked
again here as a trainee id): no sign-in form, the trainee's own resume offer and library. It
ends with its server: when the server's pipe closes (``tui.driver.ServedWebDriver``) and, on
Linux, when the server process dies however it dies (the kernel's parent-death signal), so no
app outlives its tab or its server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys

from simulator.config import is_trainee_id
from simulator.serve import PARENT_ENV, TRAINEE_ENV

PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """Ask the kernel for SIGKILL when the server dies (Linux), then check it had not already:
    every decision is committed as it is made, so a kill loses nothing."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit() and os.getppid() != int(parent):
        os._exit(1)


def _say(text: str) -> None:
    """Show ``text`` in the tab (textual-serve's packets: the start line, data, exit), for a
    failure before the app could start (records server down, a broken config)."""
    out = sys.__stdout__.buffer if sys.__stdout__ is not None else None
    if out is None:
        return
    data = ("\r\n  crisis-sim could not start: " + text.replace("\n", " ") + "\r\n").encode("utf-8", "replace")
    meta = json.dumps({"type": "exit"}).encode()
    with contextlib.suppress(OSError):
        out.write(b"__GANGLION__\n" + b"D" + len(data).to_bytes(4, "big") + data)
        out.write(b"M" + len(meta).to_bytes(4, "big") + meta)
        out.flush()


def main() -> int:
    trainee = os.environ.get(TRAINEE_ENV, "")
    if not is_trainee_id(trainee):
        _say("no trainee was signed in; open crisis-sim through the academy's sign-in page")
        return 2
    _end_with_parent()
    from simulator.cli.base import known_error
    from simulator.diagnostics import DiagnosticError
    from simulator.safetext import one_line

    try:
        from simulator.tui.launch import start_app

        app = start_app(signed_in=trainee)
    except DiagnosticError as exc:
        _say(one_line(exc.diagnostics[0].format()))
        return 1
    except Exception as exc:  # a known failure is one line; anything else too, never a traceback in the tab
        _say(one_line(known_error(exc) or f"internal error: {type(exc).__name__}: {exc}"))
        return 1
    try:
        app.run()
    finally:
        app.store.close()
    if app.records_error is not None:
        print(f"crisis-sim: error: {one_line(app.records_error)}", file=sys.stderr)
        return 1
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
