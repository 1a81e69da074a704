"""Merging an attempt recorded elsewhere (another site's export) into a store.

A pure decision, kept apart from SQL so it can be tested over every case: given what the store
holds of an attempt (if anything) and what arrives, say what to do. Records are facts, so
nothing already stored is ever overwritten:

- the attempt is new: add it, with its decisions;
- it is there and the same: nothing to do (importing twice changes nothing);
- one is a continuation of the other (the same decisions so far, then more, and the end if it
  ended), the store's being the shorter, still in progress: add the new decisions and the end;
- the store's is the further along of the two: nothing to do;
- anything else (another trainee or scenario file under the same id, a decision that differs, a
  different end or grade): a conflict, reported and never written.

Identity is (attempt id, decision sequence). A void travels with the attempt: one that arrives
voided voids the stored copy (a void is a fact added, not a change to a decision); a stored
void is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from simulator.records.rows import Attempt, DecisionRow

FACTS = ("trainee_id", "scenario_id", "scenario_version", "scenario_sha256", "scenario_path", "rubric_id",
         "rubric_sha256", "mode", "seed", "cohort", "started_at", "front_end", "time_pressure", "scenario_title")
"""What an attempt is from its start: two records of one attempt id must agree on all of it."""
END = ("status", "ended_at", "overall", "passed", "ending_scene", "ending_rating", "grade_json", "grade_method")
"""How it ended (the grade as stored, and the columns copied from it)."""
VOID = ("voided_at", "voided_by", "void_reason")

ADD, EXTEND, SAME, CONFLICT = "added", "updated", "already there", "conflicting"
"""The outcomes, as ``crisis-sim import`` counts them."""


@dataclass(frozen=True)
class Plan:
    """What to do with one arriving attempt."""

    outcome: str
    """``ADD``, ``EXTEND`` (new decisions and/or its end, or a void), ``SAME`` or ``CONFLICT``."""
    new_decisions: tuple[DecisionRow, ...] = ()
    end: bool = False
    """Store the arriving attempt's end (status, times, grade)."""
    void: bool = False
    """Store the arriving attempt's void."""
    why: str = ""
    """For a conflict: what differs, one short clause."""


def _shown(value: object) -> str:
    text = "empty" if value is None else repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _differ(what: str, here: object, there: object) -> Plan:
    return Plan(CONFLICT, why=f"{what}: {_shown(there)} in the file, {_shown(here)} in the store")


def plan(stored: Attempt | None, stored_log: list[DecisionRow], incoming: Attempt, log: list[DecisionRow]) -> Plan:
    """What merging ``incoming`` (with its decisions ``log``) into a store holding ``stored``
    (None: not there) with ``stored_log`` means. Both logs are numbered 1, 2, ... in order."""
    if stored is None:
        return Plan(ADD, tuple(log), end=incoming.status != "in_progress", void=incoming.void)
    for name in FACTS:
        if getattr(stored, name) != getattr(incoming, name):
            return _differ(name.replace("_", " "), getattr(stored, name), getattr(incoming, name))
    for here, there in zip(stored_log, log, strict=False):
        if here != there:
            field = next(f.name for f in fields(DecisionRow) if getattr(here, f.name) != getattr(there, f.name))
            return _differ(f"decision {here.sequence} ({field.replace('_', ' ')})", getattr(here, field),
                           getattr(there, field))
    stored_ended, incoming_ended = stored.status != "in_progress", incoming.status != "in_progress"
    void = incoming.void and not stored.void
    if stored_ended and incoming_ended:
        if len(stored_log) != len(log):
            return _differ("the number of decisions", len(stored_log), len(log))
        for name in END:
            if getattr(stored, name) != getattr(incoming, name):
                return _differ(name.replace("_", " "), getattr(stored, name), getattr(incoming, name))
        return Plan(EXTEND, void=True) if void else Plan(SAME)
    if len(log) < len(stored_log) or (len(log) == len(stored_log) and not incoming_ended):
        # the file holds an earlier moment of the attempt (or the same one): the store is further along
        if incoming_ended:
            return _differ("the end", f"in progress after {len(stored_log)} decisions",
                           f"{incoming.status} after {len(log)} decisions")
        return Plan(EXTEND, void=True) if void else Plan(SAME)
    if stored_ended:  # the store's ended, and the file's went on or is still going
        return _differ("the end", f"{stored.status} after {len(stored_log)} decisions",
                       f"{incoming.status} after {len(log)} decisions")
    return Plan(EXTEND, tuple(log[len(stored_log):]), end=incoming_ended, void=void)
