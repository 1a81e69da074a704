"""xAPI 1.0.3 statements for the records store, streamed.

One attempt becomes, in this order:

=========  ==================================================================  ====================
verb       what it says                                                        statement id from
=========  ==================================================================  ====================
attempted  the trainee started the scenario (``started_at``)                  sequence 0
answered   one per decision: the chosen option id in ``result.response``       the decision's sequence
           (``""`` and the ``timed-out`` extension when the timer ran out)     (1, 2, ...)
completed  the scenario ended (``ended_at``), with the score and duration      ``COMPLETED_SEQUENCE``
passed /   the verdict, with the same result; one id for both verbs, so an     ``VERDICT_SEQUENCE``
failed     LRS can never hold a "passed" and a "failed" for one attempt
=========  ==================================================================  ====================

``completed`` and ``passed``/``failed`` are only made for completed attempts; an attempt in
progress or abandoned gives ``attempted`` and its ``answered`` statements (and only when asked:
``include_incomplete``).

Ids are deterministic: ``uuid5(STATEMENT_NAMESPACE, f"{attempt_id}:{sequence}")``, so exporting
or sending twice gives the same ids and an LRS stores nothing twice. Statements are a pure
function of what the records store holds: nothing in them comes from the clock, the scenario
file or the version of crisis-sim, and the ``attempted``/``answered`` statements use only facts
that never change once recorded (so sending an attempt while it is in progress and again once it
has ended never conflicts). The trainee is an ``account`` (academy homePage + trainee id), never
an e-mail, and the display name is left out (it is personal data and may change).

docs/records-and-exports.md documents every field; change the shape only together with it.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any, TextIO
from urllib.parse import quote

from simulator.export.tabular import BATCH, _batches, snapshot
from simulator.records import Attempt, DecisionRow, RecordsStore, parse_time

XAPI_VERSION = "1.0.3"

STATEMENT_NAMESPACE = uuid.UUID("3f0b6c1e-5a54-4d0f-9a57-6b1f2c9e8d41")
"""The uuid5 namespace of every statement id. Never change it: ids already in an LRS would no
longer match, and re-sending would store every statement twice."""

ATTEMPTED_SEQUENCE = 0
"""The ``attempted`` statement's sequence (decisions are numbered from 1)."""
COMPLETED_SEQUENCE = 1_000_000
"""The ``completed`` statement's sequence: above any decision sequence."""
VERDICT_SEQUENCE = 1_000_001
"""The ``passed`` or ``failed`` statement's sequence (one id for either verb)."""

VERB_BASE = "http://adlnet.gov/expapi/verbs/"
VERBS = ("attempted", "answered", "completed", "passed", "failed")
SIMULATION_TYPE = "http://adlnet.gov/expapi/activities/simulation"
INTERACTION_TYPE = "http://adlnet.gov/expapi/activities/cmi.interaction"
PLATFORM = "crisis-sim"
LANGUAGE = "en-US"


def statement_id(attempt_id: str, sequence: int) -> str:
    """The statement id for one attempt and sequence: 0 = ``attempted``, a decision's sequence
    (1, 2, ...) = its ``answered``, ``COMPLETED_SEQUENCE`` = ``completed``,
    ``VERDICT_SEQUENCE`` = ``passed``/``failed``. A version 5 UUID, the same on every run."""
    return str(uuid.uuid5(STATEMENT_NAMESPACE, f"{attempt_id}:{sequence}"))


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration to 0.01 s (the precision xAPI compares), e.g. ``PT5M12.3S``;
    negative values (a clock set back) become ``PT0S``."""
    hundredths = max(0, round(seconds * 1000) // 10)
    hours, rest = divmod(hundredths, 360_000)
    minutes, rest = divmod(rest, 6_000)
    whole, frac = divmod(rest, 100)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if rest or text == "PT":
        text += (f"{whole}.{frac:02d}".rstrip("0").rstrip(".") if frac else str(whole)) + "S"
    return text


@functools.lru_cache(maxsize=4096)
def _segment(text: str) -> str:
    """An id as one IRI path segment (percent-encoded where needed). Cached: every decision
    statement names its scenario and scene, and a large export repeats the same few ids."""
    return quote(str(text), safe="-._~")


class Iris:
    """The IRIs of one academy (``[academy] base_iri``)."""

    def __init__(self, base_iri: str):
        self.base = base_iri.rstrip("/")

    def scenario(self, scenario_id: str) -> str:
        return f"{self.base}/scenarios/{_segment(scenario_id)}"

    def scene(self, scenario_id: str, scene: str) -> str:
        return f"{self.scenario(scenario_id)}/scenes/{_segment(scene)}"

    def extension(self, name: str) -> str:
        return f"{self.base}/extensions/{name}"

    def dimension(self, dimension_id: str) -> str:
        return self.extension(f"dimension/{_segment(dimension_id)}")


def _verb(name: str) -> dict[str, Any]:
    return {"id": VERB_BASE + name, "display": {LANGUAGE: name}}


def _actor(attempt: Attempt, academy: Any) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": academy.homepage, "name": attempt.trainee_id}}


def _scenario_activity(attempt: Attempt, iris: Iris) -> dict[str, Any]:
    return {
        "objectType": "Activity",
        "id": iris.scenario(attempt.scenario_id),
        "definition": {"name": {LANGUAGE: attempt.title}, "type": SIMULATION_TYPE},
    }


def _context(attempt: Attempt, iris: Iris, *, parent: bool = False) -> dict[str, Any]:
    extensions: dict[str, Any] = {
        iris.extension("scenario-sha256"): attempt.scenario_sha256,
        iris.extension("rubric-id"): attempt.rubric_id,
        iris.extension("rubric-sha256"): attempt.rubric_sha256,
        iris.extension("mode"): attempt.mode,
        iris.extension("front-end"): attempt.front_end,
    }
    if attempt.time_pressure is not None:
        extensions[iris.extension("time-pressure")] = attempt.time_pressure
    if attempt.cohort:
        extensions[iris.extension("cohort")] = attempt.cohort
    context: dict[str, Any] = {
        "registration": attempt.id,
        "revision": attempt.scenario_version,
        "platform": PLATFORM,
    }
    if parent:
        context["contextActivities"] = {
            "parent": [{"objectType": "Activity", "id": iris.scenario(attempt.scenario_id)}]
        }
    context["extensions"] = extensions
    return context


def _final_result(attempt: Attempt, iris: Iris) -> dict[str, Any]:
    grade = attempt.grade or {}
    overall = grade.get("overall", attempt.overall)
    passed = grade.get("passed", attempt.passed)
    result: dict[str, Any] = {}
    if overall is not None:
        result["score"] = {"scaled": round(overall / 100, 4), "raw": overall, "min": 0, "max": 100}
    if passed is not None:
        result["success"] = bool(passed)
    result["completion"] = True
    if attempt.ended_at:
        seconds = (parse_time(attempt.ended_at) - parse_time(attempt.started_at)) / timedelta(seconds=1)
        result["duration"] = iso_duration(seconds)
    extensions: dict[str, Any] = {}
    for dim in grade.get("dimensions", []):
        score = dim.get("score")
        extensions[iris.dimension(str(dim["id"]))] = None if score is None else round(score / 100, 4)
    if grade:
        extensions[iris.extension("critical-errors")] = [str(c["id"]) for c in grade.get("critical_errors", [])]
        ending = grade.get("ending") or {}
        extensions[iris.extension("ending")] = {"scene": ending.get("scene"), "rating": ending.get("rating")}
    if attempt.grade_method is not None:
        extensions[iris.extension("grade-method")] = attempt.grade_method
    if grade.get("performance") is not None:  # the uncapped score (method 2 on); result.score is the reported one
        extensions[iris.extension("performance")] = round(grade["performance"] / 100, 4)
    if extensions:
        result["extensions"] = extensions
    return result


def statements(
    attempt: Attempt, decisions: Iterable[DecisionRow], academy: Any, *, typed_text: bool = False
) -> list[dict[str, Any]]:
    """The xAPI statements of one attempt, in order (see the module docstring). Statements share
    their actor, object and context dicts: treat them as read-only (copy before changing one).
    What the trainee typed in free-text play is personal data: it goes in (the ``said``
    extension) only with ``typed_text`` (``[freetext] send_typed_text``).

    ``academy`` is an ``AcademySettings`` (``homepage`` and ``base_iri`` are used). Completed
    attempts get ``completed`` and ``passed``/``failed``; others only ``attempted`` and
    ``answered``."""
    iris = Iris(academy.base_iri)
    actor = _actor(attempt, academy)
    scenario = _scenario_activity(attempt, iris)
    context = _context(attempt, iris)
    in_scenario = _context(attempt, iris, parent=True)
    timed_out = iris.extension("timed-out")
    said = iris.extension("said")
    out: list[dict[str, Any]] = [
        {
            "id": statement_id(attempt.id, ATTEMPTED_SEQUENCE),
            "actor": actor,
            "verb": _verb("attempted"),
            "object": scenario,
            "context": context,
            "timestamp": attempt.started_at,
        }
    ]
    for d in decisions:
        if not 0 < d.sequence < COMPLETED_SEQUENCE:
            raise ValueError(f"attempt {attempt.id}: decision sequence {d.sequence} is out of range")
        result: dict[str, Any] = {"response": d.choice or ""}
        if d.response_ms is not None:
            result["duration"] = iso_duration(d.response_ms / 1000)
        if d.choice is None:
            result["extensions"] = {timed_out: True}
        elif typed_text and d.said:
            result["extensions"] = {said: d.said}
        out.append(
            {
                "id": statement_id(attempt.id, d.sequence),
                "actor": actor,
                "verb": _verb("answered"),
                "object": {
                    "objectType": "Activity",
                    "id": iris.scene(attempt.scenario_id, d.scene),
                    "definition": {
                        "name": {LANGUAGE: f"{attempt.title}: {d.scene}"},
                        "type": INTERACTION_TYPE,
                        "interactionType": "choice",
                    },
                },
                "result": result,
                "context": in_scenario,
                "timestamp": d.made_at,
            }
        )
    if attempt.status == "completed":
        final = _final_result(attempt, iris)
        end = attempt.ended_at or attempt.started_at
        out.append(
            {
                "id": statement_id(attempt.id, COMPLETED_SEQUENCE),
                "actor": actor,
                "verb": _verb("completed"),
                "object": scenario,
                "result": final,
                "context": context,
                "timestamp": end,
            }
        )
        if final.get("success") is not None:
            out.append(
                {
                    "id": statement_id(attempt.id, VERDICT_SEQUENCE),
                    "actor": actor,
                    "verb": _verb("passed" if final["success"] else "failed"),
                    "object": scenario,
                    "result": final,
                    "context": context,
                    "timestamp": end,
                }
            )
    return out


def _filter_values(filters: Any, include_incomplete: bool) -> dict[str, Any] | None:
    """Store.attempts arguments for ``filters``; None when nothing can match (a status other
    than completed asked for without ``include_incomplete``)."""
    names = ("trainee", "scenario", "cohort", "since", "until", "mode", "front_end")
    values: dict[str, Any] = {name: getattr(filters, name, None) for name in names}
    values["include_scripted"] = bool(getattr(filters, "include_scripted", False))
    status = getattr(filters, "status", None)
    if not include_incomplete:
        if status not in (None, "completed"):
            return None
        status = "completed"
    values["status"] = status
    values["include_void"] = bool(getattr(filters, "include_void", False))
    return values


def attempts_with_decisions(
    store: RecordsStore, filters: Any, *, include_incomplete: bool = False, batch: int = BATCH
) -> Iterator[tuple[Attempt, list[DecisionRow]]]:
    """The matching attempts (only completed ones unless ``include_incomplete``), each with its
    decisions, streamed: attempts from a cursor, decisions ``batch`` attempts at a time."""
    values = _filter_values(filters, include_incomplete)
    if values is None:
        return iter(())
    return _batches(store.attempts(**values), store, batch)


def iter_statements(
    store: RecordsStore, filters: Any, academy: Any, *, include_incomplete: bool = False, typed_text: bool = False
) -> Iterator[tuple[Attempt, dict[str, Any]]]:
    """Every statement of the matching attempts, with its attempt, streamed."""
    for attempt, decisions in attempts_with_decisions(store, filters, include_incomplete=include_incomplete):
        for statement in statements(attempt, decisions, academy, typed_text=typed_text):
            yield attempt, statement


def write_statements(
    store: RecordsStore,
    out: TextIO,
    filters: Any,
    academy: Any,
    *,
    include_incomplete: bool = False,
    typed_text: bool = False,
) -> int:
    """Write the statements of the matching attempts to ``out`` as one JSON array, one
    statement per line, streamed (``[``, the statements one at a time, ``]``); returns how many.

    ``filters`` is an ``ExportFilter`` (or anything with its attributes). Only completed
    attempts unless ``include_incomplete``. The whole export reads one snapshot of the store."""
    count = 0
    out.write("[")
    with snapshot(store):
        for _attempt, statement in iter_statements(
            store, filters, academy, include_incomplete=include_incomplete, typed_text=typed_text
        ):
            out.write(",\n" if count else "\n")
            out.write(json.dumps(statement, ensure_ascii=False, separators=(",", ":")))
            count += 1
    out.write("\n]\n" if count else "]\n")
    return count


__all__ = [
    "ATTEMPTED_SEQUENCE",
    "COMPLETED_SEQUENCE",
    "STATEMENT_NAMESPACE",
    "VERDICT_SEQUENCE",
    "XAPI_VERSION",
    "iso_duration",
    "iter_statements",
    "statement_id",
    "statements",
    "write_statements",
]
