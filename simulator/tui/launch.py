"""Starting the trainee app in a process that runs it and then ends: ``crisis-sim``'s app and
``play``, and each classroom tab (``simulator.serve.session``). Tests build apps with
``simulator.tui.app.build_app`` directly, many in one process, and never come through here.

Importing textual, pydantic and the app's modules and reading the library make tens of
thousands of objects that live as long as the process. With the collector running, every time
allocations pile up it walks all of them again (about a fifth of the time to the library, and a
full walk again when the process exits). So the start runs with the collector paused, and what
it built is then frozen (``gc.freeze``: left out of every later collection, the one at exit
too); everything made while the app runs is collected as usual. Reference counting frees
everything as always; only reference cycles made during the start stay until the process ends.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from simulator.collector import gc_paused

if TYPE_CHECKING:
    from simulator.tui.app import CrisisSimApp


def start_app(**options: Any) -> CrisisSimApp:
    """``build_app(**options)`` (the import of the app included) with the collector paused,
    then what it built frozen. Errors are ``build_app``'s."""
    with gc_paused():
        from simulator.tui.app import build_app

        app = build_app(**options)
        gc.freeze()
    return app
