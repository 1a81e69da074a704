"""crisis-sim: a terminal training simulator for crisis intervention.

The engine, the scenario model and the loader live here; they never import textual
(the TUI in ``simulator.tui`` is the only place that does).
"""

__version__ = "0.1.0"
