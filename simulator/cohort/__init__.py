"""The instructor's view of a class: cohort analytics read from a records store, as tables
(text, CSV) and as one self-contained HTML report with SVG charts.

``scoring.analytics`` computes the numbers (pure); this package reads the rows
(``load``), lays the numbers out as tables (``tables``, one definition for the terminal, CSV,
HTML and the console) and draws the HTML report (``html``). No textual here: ``crisis-sim
report`` runs headless.
"""

from __future__ import annotations

from collections.abc import Iterable

from scoring.analytics import CohortReport, analyse
from simulator.records import Attempt, DecisionRow, RecordsStore

BATCH = 500
"""Attempts whose decisions are fetched in one query."""


def decisions_of(store: RecordsStore, attempts: Iterable[Attempt]) -> dict[str, list[DecisionRow]]:
    """The decisions of the completed attempts among ``attempts`` (what analytics reads), in batches."""
    out: dict[str, list[DecisionRow]] = {}
    ids = [a.id for a in attempts if a.status == "completed"]
    for start in range(0, len(ids), BATCH):
        out.update(store.decisions_for(ids[start:start + BATCH]))
    return out


def load(store: RecordsStore, attempts: Iterable[Attempt]) -> CohortReport:
    """The cohort report of ``attempts`` (already filtered), read in one consistent snapshot by
    the caller (``store.snapshot()``)."""
    rows = list(attempts)
    return analyse(rows, decisions_of(store, rows))
