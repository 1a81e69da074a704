"""The JSON Schemas for editors: the committed copies match the models, every key is described,
they accept every bundled file and reject what the loader rejects by structure."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from scenario_factory import REPO

from simulator.loader import scenario_files
from simulator.schema import DIALECT, committed_path, rubric_schema, scenario_schema, schema_for
from simulator.yamlsource import load_file

SCENARIOS = scenario_files([REPO / "scenarios"])  # the bundled scenarios (not the *.tests.yaml files)
DEFAULT_RUBRIC = REPO / "scoring" / "rubrics" / "default.yaml"
REGENERATE = {
    "scenario": "crisis-sim schema --out simulator/schemas/scenario.schema.json",
    "rubric": "crisis-sim schema --rubric --out simulator/schemas/rubric.schema.json",
}
MODELINE = {
    "scenario": "# yaml-language-server: $schema=../simulator/schemas/scenario.schema.json",
    "rubric": "# yaml-language-server: $schema=../../simulator/schemas/rubric.schema.json",
}


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from simulator.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )


def described(schema: dict[str, Any]) -> list[str]:
    """Every property (at any depth, $defs included) without a description, as paths."""
    missing: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, prop in node.get("properties", {}).items():
                if not (isinstance(prop, dict) and str(prop.get("description", "")).strip()):
                    missing.append(f"{where}/properties/{key}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(schema, "#")
    return missing


def errors(schema: dict[str, Any], data: Any) -> list[str]:
    return [e.message for e in Draft202012Validator(schema).iter_errors(data)]


@pytest.fixture(scope="module")
def scenario() -> dict[str, Any]:
    return scenario_schema()


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    return load_file(REPO / "scenarios" / "overpass-railing.yaml").data


# ---- the committed copies -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["scenario", "rubric"])
def test_committed_schema_matches_the_models(kind: str) -> None:
    path = committed_path(kind)
    assert path.is_file(), f"{path.relative_to(REPO)} is missing; create it with `{REGENERATE[kind]}`"
    committed = json.loads(path.read_text(encoding="utf-8"))
    generated = schema_for(kind)
    if committed != generated:
        old_defs, new_defs = committed.get("$defs", {}), generated["$defs"]
        changed = sorted(
            k for k in set(committed) | set(generated) if k != "$defs" and committed.get(k) != generated.get(k)
        )
        changed += sorted(f"$defs/{k}" for k in set(old_defs) | set(new_defs) if old_defs.get(k) != new_defs.get(k))
        pytest.fail(
            f"{path.relative_to(REPO)} is out of date with the {kind} model (differs in: {', '.join(changed)}). "
            f"Regenerate it from the repository root with `{REGENERATE[kind]}` and commit it.",
            pytrace=False,
        )


@pytest.mark.parametrize("kind", ["scenario", "rubric"])
def test_schema_header(kind: str) -> None:
    schema = schema_for(kind)
    assert list(schema)[:3] == ["$schema", "$id", "title"]
    assert schema["$schema"] == DIALECT == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:crisis-sim:schema:")
    assert schema["title"] == f"crisis-sim {kind}"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("kind", ["scenario", "rubric"])
def test_every_property_has_a_description(kind: str) -> None:
    schema = schema_for(kind)
    assert not described(schema), (
        f"keys without a description (add description= to the pydantic Field, then regenerate): {described(schema)}"
    )
    for name, definition in schema["$defs"].items():
        assert definition.get("description"), f"$defs/{name}: give the model class a docstring"


def test_the_description_check_can_fail() -> None:
    schema = copy.deepcopy(scenario_schema())
    del schema["$defs"]["Choice"]["properties"]["feedback"]["description"]
    assert described(schema) == ["#/$defs/Choice/properties/feedback"]


def test_aliases_are_used(scenario: dict[str, Any]) -> None:
    assert "pass" in scenario["properties"] and "pass_" not in scenario["properties"]
    for model in ("Choice", "Line", "Auto"):
        assert "if" in scenario["$defs"][model]["properties"]
    assert "pass" in rubric_schema()["properties"]


# ---- what it accepts and rejects ------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_bundled_scenario_is_valid(path: Path, scenario: dict[str, Any]) -> None:
    assert len(SCENARIOS) >= 10
    assert errors(scenario, load_file(path).data) == []


def test_the_default_rubric_is_valid() -> None:
    assert errors(rubric_schema(), load_file(DEFAULT_RUBRIC).data) == []


def test_a_misspelt_key_is_rejected(scenario: dict[str, Any], sample: dict[str, Any]) -> None:
    data = dict(sample)
    data["titel"] = data.pop("title")
    found = errors(scenario, data)
    assert any("'titel' was unexpected" in e for e in found), found
    assert any("'title' is a required property" in e for e in found), found


def test_a_misspelt_nested_key_is_rejected(scenario: dict[str, Any], sample: dict[str, Any]) -> None:
    data = copy.deepcopy(sample)
    choice = data["scenes"][data["start"]]["choices"][0]
    choice["feedbak"] = choice.pop("feedback", "")
    assert any("'feedbak' was unexpected" in e for e in errors(scenario, data))


@pytest.mark.parametrize(
    ("key", "value"),
    [("minutes", "ten"), ("minutes", 12.5), ("version", 1.0), ("tags", "crisis"), ("format", 2), ("format", True)],
)
def test_a_wrong_type_is_rejected(scenario: dict[str, Any], sample: dict[str, Any], key: str, value: Any) -> None:
    assert errors(scenario, {**sample, key: value})


def test_ids_must_match_their_pattern(scenario: dict[str, Any], sample: dict[str, Any]) -> None:
    """Maps keyed by ids reject other keys, as the loader does."""
    data = copy.deepcopy(sample)
    data["scenes"]["Second-Scene"] = data["scenes"][data["start"]]
    assert any("Second-Scene" in e for e in errors(scenario, data))


def test_points_are_bounded(scenario: dict[str, Any], sample: dict[str, Any]) -> None:
    data = copy.deepcopy(sample)
    data["scenes"][data["start"]]["choices"][0]["scores"] = {"active_listening": 5}
    assert any("5 is greater than the maximum of 3" in e for e in errors(scenario, data))


def test_rubric_rejects_a_misspelt_key() -> None:
    data = dict(load_file(DEFAULT_RUBRIC).data)
    data["dimension"] = data.pop("dimensions")
    assert any("'dimension' was unexpected" in e for e in errors(rubric_schema(), data))


# ---- the modelines and the command ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [*((p, "scenario") for p in SCENARIOS), (DEFAULT_RUBRIC, "rubric")],
    ids=lambda x: x.name if isinstance(x, Path) else x,
)
def test_bundled_files_name_their_schema(path: Path, kind: str) -> None:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first == MODELINE[kind]
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == committed_path(kind).resolve()


def test_schema_command_prints_and_writes(tmp_path: Path) -> None:
    printed = cli("schema")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == scenario_schema()

    out = tmp_path / "my-schema.json"
    written = cli("schema", "--rubric", "--out", str(out), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == f"wrote the rubric schema to {out}"
    assert json.loads(out.read_text(encoding="utf-8")) == rubric_schema()


def test_schema_command_cannot_write_is_one_line(tmp_path: Path) -> None:
    failed = cli("schema", "--out", str(tmp_path / "no-such-folder" / "s.json"))
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.count("\n") == 1 and failed.stderr.startswith("crisis-sim: error: cannot write ")
