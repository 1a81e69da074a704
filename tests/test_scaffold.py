"""`crisis-sim new`: the starting scenario is valid, clean, complete and never overwrites."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_run_cli import cli

from scoring.catalog import load_graded
from simulator.scaffold import SCHEMA_FILE, ScaffoldError, check_id, create, schema_reference, shipped_schema, template


def test_new_writes_a_scenario_that_validates_strictly_and_analyzes_clean(tmp_path: Path):
    out = cli("new", "bus-stop", cwd=tmp_path)  # default folder: the current directory
    assert out.returncode == 0, out.stderr
    path = tmp_path / "bus-stop.yaml"
    assert path.is_file() and "wrote bus-stop.yaml" in out.stdout

    graded = load_graded(path)
    assert graded.ok
    assert [d.format() for d in graded.diagnostics] == []  # no errors, no warnings, no notes

    checked = cli("validate", "--strict", str(path))
    assert checked.returncode == 0, checked.stderr
    assert "1 file(s) checked: 0 error(s), 0 warning(s)" in checked.stderr + checked.stdout

    analysis = cli("analyze", str(path))
    assert analysis.returncode == 0, analysis.stdout
    assert "Problems: none" in analysis.stdout
    assert "Best path: score 100, passes, ending 'good_end'" in analysis.stdout
    assert "Worst path: score 0, fails" in analysis.stdout


def test_the_template_uses_every_part_the_brief_promises(tmp_path: Path):
    graded = load_graded(create("my-call", tmp_path))
    s = graded.scenario
    assert s is not None and s.id == "my-call"
    assert 4 <= len(s.scenes) <= 6
    assert len(s.meters) == 2 and len(s.flags) == 1 and len(s.cast) == 1
    assert s.resources and s.content_warning and s.objectives
    assert sorted(e.rating for e in s.endings().values()) == ["acceptable", "good", "poor"]
    choices = [c for scene in s.scenes.values() for c in scene.choices]
    timeouts = [scene.timeout for scene in s.scenes.values() if scene.timeout is not None]
    assert any(c.if_ for c in choices), "a conditional choice"
    assert any(scene.auto for scene in s.scenes.values()), "an auto move"
    assert len(timeouts) == 1
    assert [c.critical for c in choices if c.critical] == ["threat_or_force_without_need"]
    assert all(option.feedback for option in [*choices, *timeouts]), "feedback on every option"
    assert all(option.scores for option in [*choices, *timeouts])
    assert graded.rubric is not None
    assert {p for option in [*choices, *timeouts] for p in option.scores} <= set(graded.rubric.principles)


def test_the_file_teaches_the_format_and_starts_with_the_schema_modeline(tmp_path: Path):
    text = create("my-call", tmp_path).read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first == f"# yaml-language-server: $schema={schema_reference()}"
    assert "docs/scenario-format.md" in text
    assert "crisis-sim validate --strict my-call.yaml" in text
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) >= 30
    for key in ("timeout", "auto", "critical", "scores", "effects", "meters", "flags", "cast", "resources"):
        assert any(key in line.lower() for line in comments), f"no comment explains '{key}'"


def test_the_modeline_points_at_the_shipped_schema_or_says_how_to_make_one(tmp_path: Path):
    schema = shipped_schema()
    if schema is not None:
        assert schema.is_file() and schema_reference() == str(schema)
    spaced = tmp_path / "my schemas" / "scenario.schema.json"
    assert schema_reference(spaced) == spaced.as_uri()  # a space would end the modeline's value
    fallback = template("x", schema=SCHEMA_FILE)
    assert fallback.startswith(f"# yaml-language-server: $schema={SCHEMA_FILE}\n")
    assert f"crisis-sim schema --out {SCHEMA_FILE}" in fallback.split("\n\n", 1)[0]


def test_the_template_matches_the_json_schema(tmp_path: Path):
    jsonschema = pytest.importorskip("jsonschema")
    schema_module = pytest.importorskip("simulator.schema")
    data = yaml.safe_load(create("my-call", tmp_path).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema_module.schema_for("scenario")).validate(data)


def test_new_creates_the_folder_and_refuses_to_overwrite(tmp_path: Path):
    folder = tmp_path / "a" / "b"
    out = cli("new", "my-call", "--dir", str(folder))
    assert out.returncode == 0, out.stderr
    path = folder / "my-call.yaml"
    path.write_text("# my work\n", encoding="utf-8")

    again = cli("new", "my-call", "--dir", str(folder))
    assert again.returncode == 1 and again.stdout == ""
    assert (
        again.stderr == f"crisis-sim: error: {path} already exists; choose another id or --dir (nothing was written)\n"
    )
    assert path.read_text(encoding="utf-8") == "# my work\n"
    with pytest.raises(ScaffoldError, match="already exists"):
        create("my-call", folder)


@pytest.mark.parametrize("bad", ["Bus_Stop", "bus--stop", "-bus", "bus stop", "bus/stop", "../up", "a" * 81, ""])
def test_new_rejects_a_bad_id_in_one_line(tmp_path: Path, bad: str):
    out = cli("new", "--", bad, cwd=tmp_path)  # '--': an id such as '-bus' is not read as an option
    assert out.returncode == 2
    assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith("crisis-sim: error: ")
    assert "is not a valid scenario id: use lowercase letters" in out.stderr or "use at most 80" in out.stderr
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ScaffoldError):
        create(bad, tmp_path)


def test_check_id_messages():
    assert check_id("bus-stop") is None
    assert (
        check_id("Bus") == "'Bus' is not a valid scenario id: use lowercase letters and digits joined by "
        "single hyphens, like 'overpass-railing'"
    )
    assert "at most 80" in (check_id("a" * 81) or "")
