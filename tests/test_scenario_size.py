"""The scenario size cap as a setting: ``--max-bytes`` on every command that reads a scenario
(validate, analyze, run, play, test, graph) and ``[scenarios] max_bytes`` in the config, so a
generated 10,000-scene scenario (about 10 MB, over the 5 MiB default) can be validated and
analyzed, and a machine can also lower the cap."""

from __future__ import annotations

import pytest
from cli_runner import run_cli
from scenario_factory import REPO

from benchmarks.load_validate import scenario_text
from simulator.diagnostics import DiagnosticError

# A bundled scenario that analyze finds no problem in (analyze exits 1 on a problem), with its sidecar.
SAMPLE = REPO / "scenarios" / "opioid-overdose.yaml"
SAMPLE_SIZE = SAMPLE.stat().st_size
TOO_LARGE = "[file-too-large]"


@pytest.fixture
def config(tmp_path, monkeypatch):
    def write(text: str):
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("CRISIS_SIM_CONFIG", str(path))
        return path

    return write


# Each command that reads a scenario, with the arguments that make it read the sample.
COMMANDS = {
    "validate": ["validate", str(SAMPLE)],
    "analyze": ["analyze", str(SAMPLE)],
    "run": ["run", str(SAMPLE), "--policy", "first", "--no-record"],
    "graph": ["graph", str(SAMPLE)],
    "test": ["test", str(SAMPLE)],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_scenario_command_takes_max_bytes(command):
    small = run_cli([*COMMANDS[command], "--max-bytes", "1000"])
    assert small.code == 1, small.output
    assert TOO_LARGE in small.output and "over the 1,000-byte limit" in small.output
    assert "--max-bytes" in small.output  # the line says how to raise it
    enough = run_cli([*COMMANDS[command], "--max-bytes", str(SAMPLE_SIZE)])
    assert TOO_LARGE not in enough.output and enough.code == 0, enough.output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_config_sets_the_cap_and_the_flag_overrides_it(command, config):
    config("[scenarios]\nmax_bytes = 1_000\n")
    lowered = run_cli(COMMANDS[command])
    assert lowered.code == 1 and TOO_LARGE in lowered.output and "1,000-byte" in lowered.output, lowered.output
    flag = run_cli([*COMMANDS[command], "--max-bytes", str(SAMPLE_SIZE)])
    assert flag.code == 0 and TOO_LARGE not in flag.output, flag.output


def test_the_app_reads_the_cap_from_the_config_and_its_argument(tmp_path, config):
    from simulator.tui.app import build_app

    config("[scenarios]\nmax_bytes = 1000\n")
    with pytest.raises(DiagnosticError) as info:
        build_app(db=str(tmp_path / "r.sqlite3"), trainee="t1", scenario_ref=str(SAMPLE))
    assert [d.code for d in info.value.diagnostics] == ["file-too-large"]
    app = build_app(db=str(tmp_path / "r2.sqlite3"), trainee="t1", scenario_ref=str(SAMPLE), max_bytes=SAMPLE_SIZE)
    try:
        assert app.max_bytes == SAMPLE_SIZE  # what a --watch reload reads the file with
        assert app.start_with is not None and app.start_with.ok
    finally:
        app.store.close()


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
def test_a_bad_max_bytes_is_a_usage_error(value):
    result = run_cli(["validate", str(SAMPLE), "--max-bytes", value])
    assert result.code == 2 and "--max-bytes" in result.stderr and "Traceback" not in result.output


def test_a_bad_config_value_is_one_line(config):
    path = config("[scenarios]\nmax_bytes = 0\n")
    result = run_cli(["validate", str(SAMPLE)])
    assert result.code == 1 and str(path) in result.stderr and "scenarios.max_bytes" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_shows_the_setting(config):
    config("[scenarios]\nmax_bytes = 50_000_000\n")
    result = run_cli(["config"])
    assert result.code == 0 and "[scenarios]" in result.stdout and "max_bytes = 50000000" in result.stdout


def test_a_10000_scene_scenario_can_be_validated_and_analyzed(tmp_path):
    path = tmp_path / "generated-10000.yaml"
    path.write_text(scenario_text(10_000), encoding="utf-8")
    size = path.stat().st_size
    assert size > 5 * 1024 * 1024  # over the default cap: refused without the option
    refused = run_cli(["validate", str(path)])
    assert refused.code == 1 and TOO_LARGE in refused.output
    validated = run_cli(["validate", "--max-bytes", str(size), str(path)], seconds=300)
    assert validated.code == 0, validated.output[-2000:]
    assert "1 file(s) checked: 0 error(s), 0 warning(s)" in validated.stdout
    analyzed = run_cli(["analyze", "--max-bytes", str(size), "--max-states", "2000", str(path)], seconds=300)
    assert TOO_LARGE not in analyzed.output and "Traceback" not in analyzed.output
    assert "state bound" in analyzed.stdout or "endings" in analyzed.stdout.lower(), analyzed.stdout[-2000:]
