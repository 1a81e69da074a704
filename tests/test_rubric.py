"""The rubric: the default rubric's content, rubric-file diagnostics, finding rubrics, checking
scenarios against their rubric, the effective rubric, load_graded and `crisis-sim rubric`."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.catalog import load_graded
from scoring.rubric import (
    RUBRICS_ENV,
    Rubric,
    builtin_rubrics_dir,
    check_scenario_against_rubric,
    effective_rubric,
    find_rubric,
    format_rubric,
    load_rubric,
    rubric_names,
)
from simulator.diagnostics import DiagnosticError
from simulator.loader import Reporter, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "overpass-railing.yaml"
DEFAULT = builtin_rubrics_dir() / "default.yaml"

PRINCIPLES = {
    "assess_safety_risk": "safety_assessment",
    "slow_down_time_distance_cover": "safety_assessment",
    "rule_out_medical": "safety_assessment",
    "one_voice": "engagement",
    "respectful_approach": "engagement",
    "calm_nonverbal": "engagement",
    "active_listening": "listening_empathy",
    "empathy_validation": "listening_empathy",
    "no_arguing_or_colluding_with_delusions": "listening_empathy",
    "ask_about_suicide": "suicide_risk",
    "means_safety": "suicide_risk",
    "options_not_threats": "respectful_influence",
    "honest_reassurance_information": "respectful_influence",
    "adapt_to_person": "respectful_influence",
    "connect_to_care_least_restrictive": "resolution_care",
    "dignity_and_self_care": "resolution_care",
}
WEIGHTS = {
    "safety_assessment": 20,
    "engagement": 15,
    "listening_empathy": 20,
    "suicide_risk": 15,
    "respectful_influence": 15,
    "resolution_care": 15,
}
CRITICAL = {
    "threat_or_force_without_need",
    "closing_distance_on_armed_person",
    "leaving_person_at_risk_alone",
    "not_asking_about_suicide",
    "mocking_or_stigmatizing",
    "missed_medical_emergency",
    "unsafe_promise_or_lie",
}

SMALL = """\
format: 1
id: small
title: Small rubric
version: "1"
dimensions:
  safety:
    name: Safety
    weight: 60
    description: Staying safe.
  talk:
    name: Talking
    weight: 40
    description: Talking well.
principles:
  listen:
    name: Listen
    description: Listen first.
    framework: ALGEE L
    dimension: talk
  pause:
    name: Pause
    description: Slow down.
    dimension: safety
critical_errors:
  threat:
    name: Threat
    description: Threatening force without need.
"""


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth occurrence of ``needle``."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    return text.count("\n", 0, index) + 1


def col_of(text: str, needle: str) -> int:
    index = text.index(needle)
    return index - (text.rfind("\n", 0, index) + 1) + 1


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def codes(diagnostics) -> list[str]:
    return [d.code for d in diagnostics]


@pytest.fixture(scope="module")
def default() -> Rubric:
    result = load_rubric(DEFAULT)
    assert result.diagnostics == []
    assert result.rubric is not None
    return result.rubric


# ---- the default rubric ---------------------------------------------------------------------


def test_default_rubric_loads_clean(default: Rubric) -> None:
    assert default.id == "default"
    assert default.format == 1
    assert default.sha256 == hashlib.sha256(DEFAULT.read_bytes()).hexdigest()
    assert Path(default.path) == DEFAULT


def test_default_rubric_principles_and_dimensions(default: Rubric) -> None:
    assert len(default.principles) == 16
    assert {pid: p.dimension for pid, p in default.principles.items()} == PRINCIPLES
    assert all(p.framework and p.name and p.description for p in default.principles.values())
    assert all("\n" not in p.description for p in default.principles.values())
    assert {did: d.weight for did, d in default.dimensions.items()} == WEIGHTS
    assert sum(d.weight for d in default.dimensions.values()) == 100


def test_default_rubric_critical_errors_and_pass_rule(default: Rubric) -> None:
    assert set(default.critical_errors) == CRITICAL
    rule = default.pass_
    assert (rule.score, rule.dimension_min, rule.ratings, rule.no_critical) == (70, 50, ["good", "acceptable"], True)


def test_default_rubric_follows_safe_messaging() -> None:
    text = DEFAULT.read_text(encoding="utf-8").lower()
    for banned in ("excited delirium", "committed suicide", "successful attempt", "psycho", "edp"):
        assert banned not in text


def test_every_rubric_key_has_a_description() -> None:
    schema = Rubric.model_json_schema(by_alias=True)
    defs = [schema, *schema.get("$defs", {}).values()]
    for definition in defs:
        for key, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"{definition.get('title')}.{key} has no description"


# ---- rubric file diagnostics ----------------------------------------------------------------


def load_text(tmp_path: Path, text: str, name: str = "small.yaml"):
    return load_rubric(write(tmp_path, name, text))


def test_small_rubric_loads(tmp_path: Path) -> None:
    result = load_text(tmp_path, SMALL)
    assert result.ok, [d.format() for d in result.diagnostics]
    assert result.rubric is not None
    assert result.rubric.pass_.score == 70  # every pass key has a default
    assert result.rubric.principles["pause"].framework == ""


def test_unknown_dimension_with_did_you_mean(tmp_path: Path) -> None:
    text = SMALL.replace("dimension: safety", "dimension: safty")
    result = load_text(tmp_path, text)
    assert result.rubric is None
    [d] = result.diagnostics
    assert d.code == "unknown-dimension"
    assert d.line == line_of(text, "dimension: safty")
    assert d.col == col_of(text, "safty")
    assert "did you mean 'safety'?" in d.message
    assert d.path == str(tmp_path / "small.yaml")


def test_unknown_key_with_did_you_mean(tmp_path: Path) -> None:
    text = SMALL.replace("    weight: 40", "    wieght: 40")
    result = load_text(tmp_path, text)
    assert result.rubric is None
    unknown = [d for d in result.diagnostics if d.code == "unknown-key"]
    assert len(unknown) == 1
    assert unknown[0].line == line_of(text, "wieght")
    assert "did you mean 'weight'?" in unknown[0].message
    assert "missing-key" in codes(result.diagnostics)  # and 'weight' is now missing


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = SMALL + "passing: {score: 80}\n"
    result = load_text(tmp_path, text)
    [d] = result.diagnostics
    assert (d.code, d.line) == ("unknown-key", line_of(text, "passing:"))


def test_duplicate_key(tmp_path: Path) -> None:
    text = SMALL.replace("    weight: 60\n", "    weight: 60\n    weight: 50\n")
    result = load_text(tmp_path, text)
    assert result.rubric is None
    [d] = result.diagnostics
    assert d.code == "duplicate-key"
    assert d.line == line_of(text, "weight: 50")
    assert f"first written at line {line_of(text, 'weight: 60')}" in d.message


@pytest.mark.parametrize("weight", ["0", "-5"])
def test_weight_must_be_positive(tmp_path: Path, weight: str) -> None:
    text = SMALL.replace("weight: 40", f"weight: {weight}")
    result = load_text(tmp_path, text)
    assert result.rubric is None
    [d] = result.diagnostics
    assert (d.code, d.line) == ("out-of-range", line_of(text, f"weight: {weight}"))
    assert "more than 0" in d.message


def test_weight_must_be_a_whole_number(tmp_path: Path) -> None:
    text = SMALL.replace("weight: 40", "weight: forty")
    [d] = load_text(tmp_path, text).diagnostics
    assert (d.code, d.line) == ("wrong-type", line_of(text, "weight: forty"))


def test_needs_a_dimension(tmp_path: Path) -> None:
    head, _, rest = SMALL.partition("dimensions:\n")
    text = head + "dimensions: {}\n" + rest[rest.index("principles:") :]
    text = text.replace("dimension: talk", "dimension: safety")
    result = load_text(tmp_path, text)
    assert "no-dimensions" in codes(result.diagnostics)
    d = next(d for d in result.diagnostics if d.code == "no-dimensions")
    assert d.line == line_of(text, "dimensions: {}")


def test_pass_rule_values(tmp_path: Path) -> None:
    text = SMALL + "pass:\n  score: 120\n  ratings: [good, great]\n"
    result = load_text(tmp_path, text)
    by_code = {d.code: d for d in result.diagnostics}
    assert by_code["out-of-range"].line == line_of(text, "score: 120")
    assert by_code["bad-value"].line == line_of(text, "ratings:")
    empty = load_text(tmp_path, SMALL + "pass: {ratings: []}\n")
    assert codes(empty.diagnostics) == ["no-pass-ratings"]


def test_version_must_be_text(tmp_path: Path) -> None:
    text = SMALL.replace('version: "1"', "version: 1.0")
    [d] = load_text(tmp_path, text).diagnostics
    assert (d.code, d.line) == ("wrong-type", line_of(text, "version: 1.0"))
    assert "quotes" in d.message


def test_warnings_do_not_block_loading(tmp_path: Path) -> None:
    text = SMALL.replace("    description: Slow down.", "    description: |\n      Slow down.\n      Really.")
    result = load_text(tmp_path, text, "other.yaml")
    assert result.rubric is not None, [d.format() for d in result.diagnostics]
    assert sorted(codes(result.diagnostics)) == ["id-not-file-name", "multiline-description"]
    assert all(d.severity == "warning" for d in result.diagnostics)


def test_empty_dimension_warning(tmp_path: Path) -> None:
    text = SMALL.replace("dimension: talk", "dimension: safety")
    result = load_text(tmp_path, text)
    assert result.rubric is not None
    [d] = result.diagnostics
    assert (d.code, d.severity, d.line) == ("empty-dimension", "warning", line_of(text, "  talk:"))


def test_unreadable_files_become_diagnostics(tmp_path: Path) -> None:
    assert codes(load_rubric(tmp_path / "missing.yaml").diagnostics) == ["file-missing"]
    assert codes(load_text(tmp_path, "- a\n- b\n").diagnostics) == ["not-a-mapping"]
    assert codes(load_text(tmp_path, "a: &x 1\nb: *x\n").diagnostics) == ["yaml-anchor"]


# ---- finding rubrics ------------------------------------------------------------------------


def test_find_by_name_and_path(tmp_path: Path) -> None:
    assert find_rubric("default") == DEFAULT
    path = write(tmp_path, "small.yaml", SMALL)
    assert find_rubric(str(path)) == path
    with pytest.raises(DiagnosticError) as exc:
        find_rubric(str(tmp_path / "absent.yaml"))
    assert exc.value.diagnostics[0].code == "file-missing"


def test_find_in_env_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    write(second, "small.yaml", SMALL)
    monkeypatch.setenv(RUBRICS_ENV, os.pathsep.join([str(first), str(tmp_path / "nowhere"), str(second)]))
    assert find_rubric("small") == second / "small.yaml"
    assert rubric_names() == ["default", "small"]
    # A folder given explicitly comes first, and may shadow a built-in rubric.
    shadow = write(first, "default.yaml", SMALL.replace("id: small", "id: default"))
    assert find_rubric("default", [first]) == shadow
    assert find_rubric("default") == shadow  # env folders also come before the built-in ones


def test_unknown_name_lists_available_with_did_you_mean() -> None:
    with pytest.raises(DiagnosticError) as exc:
        find_rubric("defualt")
    [d] = exc.value.diagnostics
    assert d.code == "unknown-rubric"
    assert "did you mean 'default'?" in d.message
    assert "available: default" in d.message
    assert "\n" not in d.format()


# ---- scenarios against the rubric -----------------------------------------------------------


def scenario_check(tmp_path: Path, text: str, rubric: Rubric):
    path = write(tmp_path, "scenario.yaml", text)
    loaded = load_scenario(path)
    assert loaded.scenario is not None, [d.format() for d in loaded.diagnostics]
    assert loaded.scenario.source is not None
    report = Reporter(loaded.scenario.source)
    check_scenario_against_rubric(loaded.scenario, rubric, report)
    return loaded.scenario, report.items


def edit(text: str, pattern: str, replacement: str) -> str:
    """Change the first match in a copy of the bundled scenario; fail loudly if it is gone."""
    new, count = re.subn(pattern, replacement, text, count=1)
    assert count == 1, f"the bundled scenario no longer matches {pattern!r}; update this test"
    return new


def with_principles(text: str, block: str) -> str:
    return edit(text, r"(?m)^rubric: default\n", "rubric: default\nprinciples:\n" + block)


def scoring_traffic_control(text: str) -> str:
    """Make the first choice with scores also score the scenario principle 'traffic_control'."""
    return edit(text, r"(?m)^(        scores: \{)", r"\1traffic_control: 1, ")


@pytest.fixture(scope="module")
def bundled_text() -> str:
    return SCENARIO.read_text(encoding="utf-8")


def test_bundled_scenario_fits_default_rubric(default: Rubric) -> None:
    scenario = load_scenario(SCENARIO).scenario
    assert scenario is not None and scenario.source is not None
    report = Reporter(scenario.source)
    check_scenario_against_rubric(scenario, default, report)
    assert report.items == []


def test_unknown_score_key(tmp_path: Path, default: Rubric, bundled_text: str) -> None:
    text = edit(bundled_text, r"(scores: \{[^}\n]*)\bactive_listening:", r"\1actve_listening:")
    _, items = scenario_check(tmp_path, text, default)
    [d] = items
    assert d.code == "unknown-principle"
    assert (d.line, d.col) == (line_of(text, "actve_listening"), col_of(text, "actve_listening"))
    assert "did you mean 'active_listening'?" in d.message
    assert "reflect-feeling" in d.message


def test_unknown_score_key_in_timeout(tmp_path: Path, default: Rubric, bundled_text: str) -> None:
    # The timeout's scores are indented 6 spaces (a choice's 8).
    text = edit(bundled_text, r"(?m)^(      scores: \{[^}\n]*)\bassess_safety_risk:", r"\1assess_safety:")
    _, items = scenario_check(tmp_path, text, default)
    [d] = items
    assert (d.code, d.line) == ("unknown-principle", line_of(text, "assess_safety: -1"))
    assert "timeout of scene 'arrival'" in d.message
    assert "did you mean 'assess_safety_risk'?" in d.message


def test_unknown_critical_id(tmp_path: Path, default: Rubric, bundled_text: str) -> None:
    text = edit(bundled_text, r"critical: mocking_or_stigmatizing\b", "critical: mocking_or_stigmatising")
    _, items = scenario_check(tmp_path, text, default)
    [d] = items
    assert d.code == "unknown-critical-error"
    assert (d.line, d.col) == (line_of(text, "critical: mocking_or"), col_of(text, "mocking_or_stigmatising"))
    assert "did you mean 'mocking_or_stigmatizing'?" in d.message


def test_scenario_principle_clash(tmp_path: Path, default: Rubric, bundled_text: str) -> None:
    block = "  active_listening: {name: Mine, description: My own., dimension: listening_empathy}\n"
    text = with_principles(bundled_text, block)
    _, items = scenario_check(tmp_path, text, default)
    [d] = items
    assert d.code == "principle-clash"
    assert (d.line, d.col) == (line_of(text, "  active_listening: {name"), 3)


def test_scenario_principle_unknown_dimension(tmp_path: Path, default: Rubric, bundled_text: str) -> None:
    block = "  traffic_control: {name: Traffic, description: Close the lanes., dimension: safety_asessment}\n"
    text = scoring_traffic_control(with_principles(bundled_text, block))
    _, items = scenario_check(tmp_path, text, default)
    [d] = items
    assert d.code == "unknown-dimension"
    assert (d.line, d.col) == (line_of(text, "traffic_control: {name"), col_of(text, "safety_asessment"))
    assert "did you mean 'safety_assessment'?" in d.message


def test_unused_scenario_principle_warns(tmp_path: Path, default: Rubric, bundled_text: str) -> None:
    block = "  traffic_control: {name: Traffic, description: Close the lanes., dimension: safety_assessment}\n"
    _, items = scenario_check(tmp_path, with_principles(bundled_text, block), default)
    assert [(d.code, d.severity) for d in items] == [("unused-principle", "warning")]


# ---- the effective rubric -------------------------------------------------------------------


def test_effective_rubric_applies_pass_and_adds_principles(tmp_path: Path, default: Rubric, bundled_text: str) -> None:
    block = "  traffic_control: {name: Traffic, description: Close the lanes., dimension: safety_assessment}\n"
    text = scoring_traffic_control(with_principles(bundled_text, block))
    text = edit(text, r"(?m)^rubric: default\n", "rubric: default\npass: {score: 75}\n")
    scenario, items = scenario_check(tmp_path, text, default)
    assert items == []
    merged = effective_rubric(default, scenario)
    assert merged.pass_.score == 75
    assert merged.pass_.dimension_min == 50
    assert set(merged.principles) == set(PRINCIPLES) | {"traffic_control"}
    assert merged.principles["traffic_control"].dimension == "safety_assessment"
    assert "traffic_control" in merged.dimension_principles("safety_assessment")
    assert merged.sha256 == default.sha256 and merged.path == default.path
    assert default.pass_.score == 70 and "traffic_control" not in default.principles  # the original is unchanged
    assert effective_rubric(merged, scenario) is merged  # idempotent: grading may apply it again


def test_effective_rubric_without_overrides_is_the_rubric(default: Rubric) -> None:
    scenario = load_scenario(SCENARIO).scenario
    assert scenario is not None
    assert effective_rubric(default, scenario) is default


def test_effective_rubric_refuses_a_clash(tmp_path: Path, default: Rubric, bundled_text: str) -> None:
    block = "  active_listening: {name: Mine, description: My own., dimension: listening_empathy}\n"
    scenario = load_scenario(write(tmp_path, "s.yaml", with_principles(bundled_text, block))).scenario
    assert scenario is not None
    with pytest.raises(ValueError):
        effective_rubric(default, scenario)


# ---- load_graded ----------------------------------------------------------------------------


def test_load_graded_bundled() -> None:
    graded = load_graded(str(SCENARIO))
    assert graded.ok and graded.diagnostics == []
    assert graded.scenario is not None and graded.scenario.id == "overpass-railing"
    assert graded.rubric is not None and graded.rubric.id == "default"
    assert graded.rubric_path == DEFAULT
    assert load_graded("overpass-railing").ok  # by library id


def test_load_graded_unknown_rubric_from_scenario(tmp_path: Path, bundled_text: str) -> None:
    text = edit(bundled_text, r"(?m)^rubric: default$", "rubric: defualt")
    graded = load_graded(write(tmp_path, "s.yaml", text))
    assert not graded.ok and graded.scenario is not None and graded.rubric is None
    [d] = graded.diagnostics
    assert d.code == "unknown-rubric"
    assert (d.path, d.line) == (str(tmp_path / "s.yaml"), line_of(text, "rubric: defualt"))
    assert "did you mean 'default'?" in d.message


def test_load_graded_unknown_rubric_ref() -> None:
    graded = load_graded(str(SCENARIO), "nope")
    assert not graded.ok and graded.rubric is None
    assert codes(graded.diagnostics) == ["unknown-rubric"]
    assert load_graded("no-such-scenario").diagnostics[0].code == "unknown-scenario"


def test_load_graded_broken_rubric(tmp_path: Path, bundled_text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "rubrics"
    folder.mkdir()
    bad = SMALL.replace("id: small", "id: academy").replace("dimension: safety", "dimension: safty")
    write(folder, "academy.yaml", bad)
    monkeypatch.setenv(RUBRICS_ENV, str(folder))
    scenario = write(tmp_path, "s.yaml", edit(bundled_text, r"(?m)^rubric: default$", "rubric: academy"))
    graded = load_graded(scenario)
    assert not graded.ok and graded.rubric is None
    assert [(d.path, d.code) for d in graded.diagnostics] == [
        (str(scenario), "broken-rubric"),
        (str(folder / "academy.yaml"), "unknown-dimension"),
    ]
    # The same rubric given on the command line: its own errors only.
    assert codes(load_graded(str(SCENARIO), "academy").diagnostics) == ["unknown-dimension"]


def test_load_graded_checks_scores(tmp_path: Path, bundled_text: str) -> None:
    text = edit(bundled_text, r"critical: unsafe_promise_or_lie\b", "critical: unsafe_promise")
    graded = load_graded(write(tmp_path, "s.yaml", text), str(DEFAULT))
    assert not graded.ok and graded.scenario is not None and graded.rubric is None
    assert codes(graded.diagnostics) == ["unknown-critical-error"]


def test_load_graded_broken_scenario(tmp_path: Path, bundled_text: str) -> None:
    graded = load_graded(write(tmp_path, "s.yaml", edit(bundled_text, r"(?m)^format: 1$", "format: 2")))
    assert graded.scenario is None and graded.rubric is None and not graded.ok
    assert codes(graded.diagnostics) == ["bad-value"]


# ---- rendering and the command --------------------------------------------------------------


def test_format_rubric(default: Rubric) -> None:
    text = format_rubric(default)
    assert text.startswith(default.title)
    assert "version 1.0" in text and "at least 70/100" in text
    for pid in [*PRINCIPLES, *WEIGHTS, *CRITICAL]:
        assert f"[{pid}]" in text
    assert "weight 20" in text and "ALGEE L" in text


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (RUBRICS_ENV, "CRISIS_SIM_DEBUG")}
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def test_cli_rubric_default() -> None:
    proc = run_cli("rubric")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Crisis intervention" in proc.stdout
    assert all(f"[{pid}]" in proc.stdout for pid in PRINCIPLES)


def test_cli_rubric_unknown() -> None:
    proc = run_cli("rubric", "nope")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no rubric named 'nope'" in lines[0] and "available: default" in lines[0]


def test_scoring_never_imports_textual() -> None:
    code = "import sys, scoring.rubric, scoring.catalog; print('textual' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


def test_every_rubric_diagnostic_code_is_documented() -> None:
    docs = (ROOT / "docs" / "scoring.md").read_text(encoding="utf-8")
    source = (ROOT / "scoring" / "rubric.py").read_text(encoding="utf-8")
    source += (ROOT / "scoring" / "catalog.py").read_text(encoding="utf-8")
    source += (ROOT / "scoring" / "rubric_files.py").read_text(encoding="utf-8")
    emitted = set(re.findall(r'^\s+"([a-z]+(?:-[a-z]+)+)",$', source, re.MULTILINE))
    assert {"unknown-dimension", "unknown-principle", "unknown-rubric", "broken-rubric"} <= emitted
    for code in emitted:
        assert f"`{code}`" in docs, f"diagnostic code {code} is not in docs/scoring.md"
    assert "## How a grade is computed" in docs


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdefgimnoprstw_:-{}[], \n\"'#&*!0123456789.")), max_size=200))
def test_load_rubric_never_raises(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(SMALL if not text.strip() else text, encoding="utf-8")
        result = load_rubric(path)
    assert result.rubric is not None or any(d.severity == "error" for d in result.diagnostics)
