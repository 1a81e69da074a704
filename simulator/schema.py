"""JSON Schemas of the scenario and rubric file formats, for editors.

Generated from the pydantic models (``Scenario``, ``Rubric``) with ``model_json_schema()``, so
the field descriptions written for instructors become the editor's hover help and every key
the loader accepts becomes a completion. The generated schema is then adjusted in two ways
only: the 2020-12 ``$schema``, an ``$id`` and the title go first, and maps keyed by ids
(``scenes:``, ``meters:``, ...) say ``additionalProperties: false`` next to the id pattern, so
an editor flags a key such as ``Scene-1`` as the loader would.

The schema describes the structure only. ``crisis-sim validate`` checks far more (every
``to:`` target, meter and flag names, conditions, the scene graph, the rubric) and remains the
authority; the schema gives completion and early, inline errors while typing.

Committed copies live in ``simulator/schemas/`` (shipped in the wheel);
``tests/test_schema.py`` fails when they drift from the models. Regenerate them with
``crisis-sim schema --out simulator/schemas/scenario.schema.json`` and
``crisis-sim schema --rubric --out simulator/schemas/rubric.schema.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

DIALECT = "https://json-schema.org/draft/2020-12/schema"

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
"""The committed schemas inside the package."""

# A URN, not an https address: nothing is published there, and yaml-language-server has had
# releases that mis-resolve '#/$defs/...' when a local schema's https $id ends in its file name.
SCENARIO_ID = "urn:crisis-sim:schema:scenario:format-1"
RUBRIC_ID = "urn:crisis-sim:schema:rubric:format-1"

KINDS = ("scenario", "rubric")


def _from_model(model: type[BaseModel], schema_id: str) -> dict[str, Any]:
    generated = model.model_json_schema(by_alias=True)
    _close_id_maps(generated)
    title = generated.pop("title")
    return {"$schema": DIALECT, "$id": schema_id, "title": title, **generated}


def _close_id_maps(node: Any) -> None:
    """``dict[Ident, X]`` becomes ``patternProperties`` alone, which lets any other key
    through; the model rejects such keys, so the schema says so too."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_id_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_id_maps(value)


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file."""
    from simulator.model import Scenario

    return _from_model(Scenario, SCENARIO_ID)


def rubric_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a rubric file."""
    from scoring.rubric import Rubric

    return _from_model(Rubric, RUBRIC_ID)


def schema_for(kind: str) -> dict[str, Any]:
    """``kind`` is 'scenario' or 'rubric'."""
    if kind == "scenario":
        return scenario_schema()
    if kind == "rubric":
        return rubric_schema()
    raise ValueError(f"unknown schema kind {kind!r}; expected one of {', '.join(KINDS)}")


def committed_path(kind: str) -> Path:
    """Where the committed copy of a schema lives: ``simulator/schemas/<kind>.schema.json``."""
    if kind not in KINDS:
        raise ValueError(f"unknown schema kind {kind!r}; expected one of {', '.join(KINDS)}")
    return SCHEMAS_DIR / f"{kind}.schema.json"


def dumps(schema: dict[str, Any]) -> str:
    """The schema as the committed files write it: 2-space indented UTF-8 JSON, one final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write(path: str | Path, kind: str = "scenario") -> Path:
    """Write the schema of ``kind`` ('scenario' or 'rubric') to ``path``; returns the path.
    Raises OSError when the file cannot be written."""
    path = Path(path)
    path.write_text(dumps(schema_for(kind)), encoding="utf-8", newline="\n")
    return path
