"""A plain, non-editable install must carry the bundled library and the rubrics."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from scenario_factory import REPO


def test_wheel_ships_scenarios_and_rubrics_and_works_from_another_directory(tmp_path: Path):
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(wheels.glob("crisis_sim-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = {n for n in names if n.startswith("simulator/_scenarios/") and n.endswith(".yaml")}
    shipped = {f"simulator/_scenarios/{p.name}" for p in (REPO / "scenarios").glob("*.yaml")}
    assert shipped and shipped <= bundled  # scenarios and their sidecars (playthrough and phrase tests)
    assert any(n.endswith(".phrases.yaml") for n in bundled)
    source = {p for p in shipped if not p.endswith((".tests.yaml", ".phrases.yaml"))}
    assert "scoring/rubrics/default.yaml" in names
    # free-text: the tokenizer (hash-checked at load) and its licence notice ship in the wheel
    assert {"simulator/freetext/tokenizer.json", "simulator/freetext/NOTICE"} <= names

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import simulator.library as l; print(l.bundled_dir().resolve())"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        check=True,
    )
    assert Path(where.stdout.strip()) == (site / "simulator" / "_scenarios").resolve()
    validate = subprocess.run(
        [sys.executable, "-c", "from simulator.cli import main; main()", "validate"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert f"{len(source)} file(s) checked: 0 error(s), 0 warning(s)" in validate.stdout
