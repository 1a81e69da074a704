"""The hostile-file corpus (``tests/data/hostile``): every case through the real CLI.

Each case must end in exactly its expected diagnostic lines, the right exit code, no traceback
and no "internal error", within a hang guard. Most run in-process (``simulator.cli.main`` inside
click's ``CliRunner`` isolation); a handful run as a real subprocess of the installed
``crisis-sim`` so a real stderr is checked too. Beyond the lines: text made safe really is safe
(no control or bidi character reaches the model or the runner's output), markup in scenario text
shows literally in the runner and the app, hostile trainee ids are refused, and "did you mean"
stays bounded on huge id sets.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_runner import run_cli
from hang_guard import no_hang

from simulator.diagnostics import SMALL_SET, Suggester, did_you_mean
from simulator.loader import load_scenario
from simulator.records import Store

HOSTILE = Path(__file__).resolve().parent / "data" / "hostile"
CRISIS_SIM = Path(sys.executable).with_name("crisis-sim")
_spec = importlib.util.spec_from_file_location("hostile_generate", HOSTILE / "generate.py")
assert _spec is not None and _spec.loader is not None
generate = importlib.util.module_from_spec(_spec)
sys.modules["hostile_generate"] = generate  # dataclasses look their module up while building the class
_spec.loader.exec_module(generate)

# A line the CLI prints for a diagnostic (file:line:col: severity: message [code]) or a CLI error.
DIAGNOSTIC = re.compile(r"^(?:.*?: (?:error|warning): .*\[[a-z0-9-]+\]|crisis-sim: error: .*)$")
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Case:
    name: str
    args: list[str]  # crisis-sim arguments with {path} / {dir}
    expected: list[str]  # exact diagnostic lines with {path} / {dir}
    path: Path | None
    exit_code: int

    def fill(self, text: str) -> str:
        return text.replace("{path}", str(self.path)).replace("{dir}", str(HOSTILE))


def _exit_code(expected: list[str]) -> int:
    return 1 if any(": error: " in line for line in expected) else 0


def committed_cases() -> list[Case]:
    cases = []
    for expected_file in sorted(HOSTILE.glob("*.expected")):
        name = expected_file.stem
        lines = [line for line in expected_file.read_text(encoding="utf-8").splitlines() if line]
        args = ["validate", "{path}"]
        if lines and lines[0].startswith("$ crisis-sim "):
            args = lines.pop(0).split()[2:]
        inputs = [p for p in HOSTILE.glob(f"{name}.*") if p.suffix != ".expected" and ".tests." not in p.name]
        assert len(inputs) <= 1, inputs
        cases.append(Case(name, args, lines, inputs[0] if inputs else None, _exit_code(lines)))
    return cases


COMMITTED = committed_cases()





def check(case: Case, code: int, stdout: str, stderr: str) -> None:
    output = stdout + stderr
    assert "Traceback" not in output and "internal error" not in output, output[-2000:]
    got = [line for line in output.splitlines() if DIAGNOSTIC.match(line)]
    assert got == [case.fill(line) for line in case.expected]
    assert code == case.exit_code, output[-2000:]


def test_the_corpus_is_complete_and_small() -> None:
    names = {c.name for c in COMMITTED}
    for needed in ("alias-bomb", "tag-python-object-apply", "nul-byte", "utf16-le-no-bom", "latin1", "empty",
                   "binary-png", "multi-document", "markup-injection", "condition-dunder-class", "dup-test-names"):
        assert needed in names
    orphans = [p.name for p in HOSTILE.glob("*.yaml") if not any(p.name.startswith(n + ".") for n in names)]
    assert set(orphans) == {"dup-scenario-id-a.yaml", "dup-scenario-id-b.yaml"}, orphans  # inputs of one case
    committed = sum(p.stat().st_size for p in HOSTILE.iterdir() if p.is_file())
    assert committed < 100_000, committed  # big cases belong in generate.py


@pytest.mark.parametrize("case", COMMITTED, ids=[c.name for c in COMMITTED])
def test_committed_case(case: Case) -> None:
    check(case, *run_cli([case.fill(a) for a in case.args], seconds=30, what=f"hostile case {case.name}"))


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory):
    """Each generated case written once per session (the 50 MB ones take a moment)."""
    folder = tmp_path_factory.mktemp("hostile")
    made: dict[str, Case] = {}

    def get(name: str) -> Case:
        if name not in made:
            g = generate.CASES[name](folder)
            code = g.exit_code if g.exit_code is not None else _exit_code(g.expected)
            made[name] = Case(name, g.args, g.expected, g.path, code)
        return made[name]

    return get


@pytest.mark.parametrize("name", list(generate.CASES))
def test_generated_case(generated, name: str) -> None:
    case = generated(name)
    code, stdout, stderr = run_cli([case.fill(a) for a in case.args], seconds=120, what=f"hostile case {name}")
    check(case, code, stdout, stderr)
    if name == "graph-50000-analyze":
        lines = stdout.splitlines()
        assert lines[0] == "Analysis of 'graph-50000-analyze': 1,000 reachable states and 1,001 transitions explored"
        assert lines[1] == (
            "  ! the state bound (1,000) was hit: the figures below are partial (raise it with --max-states)"
        )


def test_block_nesting_is_refused_by_depth_when_the_size_cap_is_lifted(generated) -> None:
    case = generated("nest-block-indented-10000")
    assert case.path is not None
    with no_hang(60, "10,000 indented levels"):
        result = load_scenario(case.path, max_bytes=case.path.stat().st_size + 1)
    [d] = result.diagnostics
    assert (d.line, d.col, d.code) == (65, 65, "yaml-too-deep")


SUBPROCESS_CASES = ["alias-bomb", "tag-python-object-apply", "utf16-le-no-bom", "binary-png", "nul-byte",
                    "condition-dunder-class", "text-ansi-clear-screen", "markup-injection", "dup-test-names"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_real_subprocess_has_the_line_and_no_traceback(name: str, tmp_path: Path) -> None:
    case = next(c for c in COMMITTED if c.name == name)
    proc = subprocess.run(
        [str(CRISIS_SIM), *(case.fill(a) for a in case.args)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    check(case, proc.returncode, proc.stdout, proc.stderr)
    assert not (tmp_path / "crisis-sim-pwned").exists()  # the !!python/object/apply payload never ran
    assert "\x1b" not in proc.stdout + proc.stderr


TEXT_CASES = sorted(c.name for c in COMMITTED if c.name.startswith("text-"))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [*_strings(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("name", TEXT_CASES)
def test_escapes_and_bidi_never_reach_the_model_or_the_runner(name: str) -> None:
    path = HOSTILE / f"{name}.yaml"
    result = load_scenario(path)
    assert result.scenario is not None
    texts = _strings(result.scenario.model_dump())
    assert texts and not [t for t in texts if UNSAFE.search(t)]
    for choice in ("greet", "shout"):  # both endings, so every option, outcome and debrief is shown
        code, stdout, stderr = run_cli(["run", str(path), "--no-record", "--choose", choice])
        assert code == 0, stderr
        assert not UNSAFE.search(stdout.replace("\n", "").replace("\t", "")), stdout
    assert "paces by the bus stop." in run_cli(["run", str(path), "--no-record", "--choose", "greet"]).stdout


MARKUP = {
    "title": "[bold red]Hostile[/] base",
    "narration": "[blink]Sam[/blink] paces by the [link=https://evil.example]bus stop[/link].",
    "line": "[@click=app.quit]Leave me alone![/]",
    "option": "[b]Introduce[/b] yourself [$accent]from a distance[/].",
    "debrief": "[reverse]You slowed[/reverse] things down. [@click=app.bell]x[/]",
}


def test_markup_in_scenario_text_is_printed_literally_by_the_runner() -> None:
    code, stdout, stderr = run_cli(["run", str(HOSTILE / "markup-injection.yaml"), "--no-record", "--choose", "greet"])
    assert code == 0, stderr
    for where, text in MARKUP.items():
        assert text in stdout, where


async def test_markup_in_scenario_text_is_shown_literally_by_the_app(tmp_path: Path) -> None:
    from textual.widgets import OptionList, Static

    from simulator.tui.app import build_app
    from simulator.tui.screens.debrief import DebriefScreen
    from simulator.tui.screens.play import PlayScreen

    library = tmp_path / "library"
    library.mkdir()
    path = library / "markup-injection.yaml"
    path.write_bytes((HOSTILE / "markup-injection.yaml").read_bytes())
    app = build_app(scenario_ref=str(path), trainee="t-markup", library=library, db=str(tmp_path / "r.sqlite3"))

    def shown(screen) -> str:
        return "\n".join(str(w.content) for w in screen.query(Static))

    def unstyled(screen, text: str) -> bool:
        """The widget showing ``text`` has no style or action the markup asked for."""
        [content] = [w.content for w in screen.query(Static) if text in str(w.content)]
        styles = " ".join(str(span.style) for span in content.spans)
        return not any(word in styles for word in ("blink", "link", "click", "reverse", "accent", "red"))

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert MARKUP["title"] in shown(app.screen)  # the briefing
        await pilot.press("s")
        await pilot.pause()
        play = app.screen
        assert isinstance(play, PlayScreen)
        text = shown(play)
        assert MARKUP["narration"] in text and MARKUP["line"] in text
        assert unstyled(play, MARKUP["narration"]) and unstyled(play, MARKUP["line"])
        options = play.query_one("#choices", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert f"1. {MARKUP['option']}" in labels
        await pilot.press("1")
        await pilot.pause(0.2)
        assert isinstance(app.screen, PlayScreen)  # the ending, read on the play screen first
        await pilot.press("enter")
        for _ in range(30):
            if isinstance(app.screen, DebriefScreen):
                break
            await pilot.pause(0.1)
        assert isinstance(app.screen, DebriefScreen)
        assert MARKUP["debrief"] in shown(app.screen) and unstyled(app.screen, MARKUP["debrief"])
        assert app.is_running  # [@click=app.quit] did nothing


@pytest.mark.parametrize(
    "trainee",
    ["[red]x", "[@click=app.quit]q[/]", "\x1b[2Jevil", "evil\u202e", "a b", "x" * 65, "t1\n", "\nt1"],
    ids=repr,
)
def test_hostile_trainee_ids_are_refused_with_one_line_and_nothing_is_recorded(trainee: str, tmp_path: Path) -> None:
    db = tmp_path / "records.sqlite3"
    code, stdout, stderr = run_cli(
        ["run", str(HOSTILE / "base.yaml"), "--trainee", trainee, "--choose", "greet", "--db", str(db)]
    )
    assert code == 2 and stdout == ""
    [line] = stderr.splitlines()
    assert line.startswith("crisis-sim: error: Invalid value for --trainee: ")
    assert "is not a trainee id: use 1-64 letters, digits, '.', '_' or '-'" in line
    assert not UNSAFE.search(line)  # the refused id is shown escaped, never raw
    assert not db.exists()
    code, _, stderr = run_cli(["play", str(HOSTILE / "base.yaml"), "--trainee", trainee])
    assert code == 2 and "is not a trainee id" in stderr


def test_a_hostile_trainee_id_in_the_config_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[trainee]\nid = "\\u001b]52;c;eA==\\u0007"\n', encoding="utf-8")
    monkeypatch.setenv("CRISIS_SIM_CONFIG", str(config))
    # Checked when the config is read, so no path (run, the app, play) can use it unchecked.
    code, _, stderr = run_cli(["run", str(HOSTILE / "base.yaml"), "--choose", "greet"])
    assert code == 1
    [line] = stderr.splitlines()
    assert line.startswith(f"crisis-sim: error: {config}: error: setting 'trainee.id': '\\x1b]52;c;eA==\\x07' is not")


def test_a_plain_trainee_id_is_recorded_and_listed_as_given(tmp_path: Path) -> None:
    db = tmp_path / "records.sqlite3"
    scenario = str(HOSTILE / "markup-injection.yaml")
    code, _, stderr = run_cli(["run", scenario, "--trainee", "Recruit_042.b", "--choose", "greet", "--db", str(db)])
    assert code == 0, stderr
    with Store.open(db) as store:
        [attempt] = list(store.attempts())
        assert attempt.trainee_id == "Recruit_042.b"
    code, stdout, _ = run_cli(["results", "--db", str(db), "--include-scripted"])
    assert code == 0 and "Recruit_042.b" in stdout


# ---- "did you mean" in bounded time --------------------------------------------------------------


def test_suggestions_for_small_sets_are_difflibs() -> None:
    assert did_you_mean("arival", ["arrival", "calm", "worse"]) == " (did you mean 'arrival'?)"
    assert did_you_mean("zzz", ["arrival", "calm"]) == ""


def test_suggestions_for_huge_sets_find_one_edit_and_stay_bounded() -> None:
    names = [f"scene_{i}" for i in range(50_000)]
    hints = Suggester(names)
    assert len(names) > SMALL_SET
    assert hints.hint("scene_1234x") == " (did you mean 'scene_1234'?)"  # one letter too many
    assert hints.hint("scene_21345") != ""  # a changed digit is another real scene: a hint either way
    assert hints.hint("secne_777") == " (did you mean 'scene_777'?)"  # two letters swapped
    assert hints.hint("nowhere") == ""
    with no_hang(60, "50,000 broken references against 50,000 ids"):
        answered = sum(bool(hints.hint(f"scene_{i}x")) for i in range(20_000))
    assert 0 < answered < 20_000  # the first ones get a hint; once the budget is spent, the rest do not
    assert hints.hint("scene_1x") == ""
