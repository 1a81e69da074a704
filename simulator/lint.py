"""Lints that run in ``validate``: wording, and the authoring checks (warnings, never errors).

Wording lint: stigmatising or unsafe language in the scenario's own voice.

Checked: narration, feedback, debriefs, outcomes, briefing, summary, objectives, content warning,
resources, cast descriptions and labels, and the ``says:`` examples of options that lose no
points (a trainee who typed such words would be matched to an option graded as good). Not
checked: what characters say (``lines``) and what the trainee says or does (choice ``text``, and
the examples of options that lose points): realism, and the bad options trainees must learn to
avoid, may need those words. Safe-messaging rules: domain guide section 2; person-first
language: section 4; the term "excited delirium" is not used (ACEP withdrew support in 2023).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from simulator.model import Scenario

Loc = tuple[str | int, ...]
# ``Reporter.warn``: warn(loc, code, message, at_key=False) places a warning at ``loc``.
Warn = Callable[..., None]

# (pattern, what to write instead). Case-insensitive, whole words.
TERMS: list[tuple[str, str]] = [
    (r"commit(?:s|ted|ting)?\s+suicide", "say 'died by suicide' (or 'took their own life')"),
    (r"(?:successful|completed)\s+suicide", "say 'died by suicide'"),
    (r"(?:failed|unsuccessful|successful)\s+(?:suicide\s+)?attempt", "say 'suicide attempt' or 'survived an attempt'"),
    (r"excited\s+delirium", "describe the signs (severe agitation, overheating) and call EMS; the term is not used"),
    (r"psychos?", "describe the behaviour; never label the person"),
    (r"schizos?", "say 'person with schizophrenia', or describe the behaviour"),
    (r"(?:a|an|the)\s+schizophrenic", "say 'a person with schizophrenia'"),
    (r"(?:a|an|the)\s+(?:bipolar|psychotic|manic)", "say 'a person with bipolar disorder' / 'in psychosis'"),
    (r"the\s+mentally\s+ill", "say 'people with mental illness'"),
    (r"mental\s+patients?", "say 'person receiving mental-health care'"),
    (r"lunatics?|nutters?|nut\s*jobs?|loonies?|looney|wackos?|crazies", "describe the behaviour; never label"),
    (r"crazy|insane|deranged|demented", "describe the behaviour (e.g. 'talking to people no one else can see')"),
    (r"E\.?D\.?P\.?s?", "say 'person in crisis'; 'EDP' is a stigmatising label"),
    (r"junkies?|crackheads?|druggies?|addicts?", "say 'person who uses drugs' (or 'with a substance use disorder')"),
    (r"retard(?:ed|s)?", "say 'person with an intellectual disability'"),
    (r"suicide\s+victims?", "say 'person who died by suicide'"),
]
# One pass over each text: every term is a named group of a single pattern.
_ALL = re.compile("|".join(rf"\b(?P<t{i}>{p})\b" for i, (p, _fix) in enumerate(TERMS)), re.IGNORECASE)
# Every match of a term holds one of these, lower-cased. The pattern costs about as much per
# character as the whole YAML parse, so an ASCII text (where lower() and the pattern's
# IGNORECASE agree letter for letter) holding none of them is not searched.
_NEEDLES = (
    "suicide", "attempt", "delirium", "psycho", "schizo", "bipolar", "manic", "mental", "lunatic",
    "nut", "loon", "wacko", "crazies", "crazy", "insane", "deranged", "demented", "dp", "d.p",
    "junkie", "crackhead", "druggie", "addict", "retard",
)


def _may_match(text: str) -> bool:
    if not text.isascii():
        return True
    lowered = text.lower()
    return any(needle in lowered for needle in _NEEDLES)


def _texts(s: Scenario) -> Iterator[tuple[Loc, str, str]]:
    """(location, what, text) for every string written in the scenario's own voice."""
    for key in ("title", "summary", "briefing", "content_warning"):
        yield (key,), key, getattr(s, key)
    for i, text in enumerate(s.objectives):
        yield ("objectives", i), "an objective", text
    for i, text in enumerate(s.resources):
        yield ("resources", i), "a resource", text
    for cid, member in s.cast.items():
        yield ("cast", cid, "description"), f"the description of '{cid}'", member.description
    for mid, meter in s.meters.items():
        yield ("meters", mid, "label"), f"meter label '{mid}'", meter.label
    for fid, flag in s.flags.items():
        yield ("flags", fid, "label"), f"flag label '{fid}'", flag.label
    for sid, scene in s.scenes.items():
        yield ("scenes", sid, "text"), f"the narration of scene '{sid}'", scene.text
        for i, choice in enumerate(scene.choices):
            yield ("scenes", sid, "choices", i, "feedback"), f"the feedback of choice '{choice.id}'", choice.feedback
            if choice.critical is None and all(points >= 0 for points in choice.scores.values()):
                for j, example in enumerate(choice.says):
                    what = f"an example of choice '{choice.id}', which loses no points"
                    yield ("scenes", sid, "choices", i, "says", j), what, example
        if scene.timeout is not None:
            yield ("scenes", sid, "timeout", "feedback"), f"the timeout feedback of '{sid}'", scene.timeout.feedback
        if scene.end is not None:
            for field, parts in (("outcome", scene.end.outcome), ("debrief", scene.end.debrief)):
                for i, part in enumerate(parts):
                    where = f"the {field} of ending '{sid}'" + (f" (part {i + 1})" if len(parts) > 1 else "")
                    yield ("scenes", sid, "end", field, i, "text"), where, part.text


def wording_findings(scenario: Scenario) -> Iterator[tuple[Loc, str, str, int]]:
    """(location, message, matched term, index in the text) for each term found."""
    for loc, what, text in _texts(scenario):
        if not text or not _may_match(text):
            continue
        seen: set[str] = set()
        for match in _ALL.finditer(text):
            group = match.lastgroup or ""
            if group in seen:
                continue  # report each term once per text, at its first use
            seen.add(group)
            fix = TERMS[int(group[1:])][1]
            yield loc, f"'{match.group(0)}' in {what}: {fix}", match.group(0), match.start()


# ---- authoring lint: what a trainee needs from each scene --------------------------------------

LONG_TEXT = 600
"""Most characters of scene narration before ``long-text`` warns. 600 characters is about 100
words: some 25 seconds of reading, or seven lines as ``crisis-sim run`` wraps text (88
columns). Each scene is one moment of the call, shown together with its spoken lines and the
options, often under a timeout: narration longer than a glance pushes the options off a
terminal screen and eats the time to decide. Characters, not lines, because the file's own
line breaks depend on the editor and ``>-`` folds them away. (The longest bundled narration is
about 420 characters.)"""


def check_feedback(scenario: Scenario, warn: Warn) -> None:
    """``missing-feedback`` (a choice or timeout without feedback) and ``missing-debrief`` (an
    ending without debrief): the debrief is where the trainee learns why."""
    for sid, scene in scenario.scenes.items():
        base: Loc = ("scenes", sid)
        for i, choice in enumerate(scene.choices):
            if not choice.feedback.strip():
                warn(
                    base + ("choices", i),
                    "missing-feedback",
                    f"choice '{choice.id}' in scene '{sid}' has no feedback; add feedback: saying why it "
                    "helps or hurts (the debrief shows it)",
                )
        if scene.timeout is not None and not scene.timeout.feedback.strip():
            warn(
                base + ("timeout",),
                "missing-feedback",
                f"the timeout of scene '{sid}' has no feedback; add feedback: saying why letting time "
                "run out matters here (the debrief shows it)",
                at_key=True,
            )
        if scene.end is not None and not any(p.text.strip() for p in scene.end.debrief):
            warn(
                base + ("end",),
                "missing-debrief",
                f"ending '{sid}' has no debrief; add debrief: with what led here and what to learn from it",
                at_key=True,
            )


def check_decisions(scenario: Scenario, warn: Warn) -> None:
    """``single-option``: a scene whose only way on is one choice (no timeout) is not a
    decision. Endings (which must have no choices) and scenes that always move on
    automatically (``choices-never-offered``) are left to their own checks."""
    for sid, scene in scenario.scenes.items():
        if len(scene.choices) != 1 or scene.timeout is not None or scene.end is not None:
            continue
        if any(a.if_ is None for a in scene.auto):
            continue
        warn(
            ("scenes", sid, "choices"),
            "single-option",
            f"scene '{sid}' offers only one choice ('{scene.choices[0].id}'): a decision needs at least two "
            "options; make it an auto move or add an alternative",
            at_key=True,
        )


def check_length(scenario: Scenario, warn: Warn) -> None:
    """``long-text``: scene narration over ``LONG_TEXT`` characters (see there for why)."""
    for sid, scene in scenario.scenes.items():
        length = len(scene.text.strip())
        if length > LONG_TEXT:
            warn(
                ("scenes", sid, "text"),
                "long-text",
                f"the narration of scene '{sid}' is {length} characters, over the {LONG_TEXT} a trainee "
                "takes in at a glance; cut it down, or split the scene in two",
                at_key=True,
            )


_SUICIDE = re.compile(r"suicid", re.IGNORECASE)


def _suicide_evidence(s: Scenario) -> tuple[Loc, bool, str] | None:
    """The first sign that the scenario is about suicide: a tag containing 'suicide', a score
    for ``ask_about_suicide``, or the word in a scene's narration. (location, at_key, what)."""
    for i, tag in enumerate(s.tags):
        if "suicide" in tag:
            return ("tags", i), False, f"tag '{tag}'"
    for sid, scene in s.scenes.items():  # in the order a scene is usually written
        if _SUICIDE.search(scene.text):
            return ("scenes", sid, "text"), True, f"the narration of scene '{sid}' mentions suicide"
        if scene.timeout is not None and "ask_about_suicide" in scene.timeout.scores:
            loc: Loc = ("scenes", sid, "timeout", "scores", "ask_about_suicide")
            return loc, True, f"the timeout of scene '{sid}' scores ask_about_suicide"
        for i, choice in enumerate(scene.choices):
            if "ask_about_suicide" in choice.scores:
                loc = ("scenes", sid, "choices", i, "scores", "ask_about_suicide")
                return loc, True, f"choice '{choice.id}' scores ask_about_suicide"
    return None


def check_safe_messaging(scenario: Scenario, warn: Warn) -> None:
    """A scenario about suicide must warn before play (``suicide-no-warning``: no
    ``content_warning``) and must point to help after every ending (``suicide-no-resources``:
    no ``resources``, or none with the 988 Lifeline). Safe-messaging rules: domain guide
    section 2."""
    evidence = _suicide_evidence(scenario)
    if evidence is None:
        return
    loc, at_key, what = evidence
    if not scenario.content_warning.strip():
        warn(
            loc,
            "suicide-no-warning",
            f"this scenario is about suicide ({what}) but has no content_warning; add one at the top level, "
            "e.g. content_warning: Suicide and thoughts of suicide.",
            at_key=at_key,
        )
    if not scenario.resources:
        warn(
            loc,
            "suicide-no-resources",
            f"this scenario is about suicide ({what}) but lists no resources to show after the endings; add "
            'resources: with the 988 Lifeline, e.g. - "988 Suicide & Crisis Lifeline (US): call or text 988."',
            at_key=at_key,
        )
    elif not any("988" in text for text in scenario.resources):
        warn(
            ("resources",),
            "suicide-no-resources",
            f"this scenario is about suicide ({what}) but its resources do not list the 988 Suicide & Crisis "
            'Lifeline; add e.g. "988 Suicide & Crisis Lifeline (US): call or text 988."',
            at_key=True,
        )


def _normal(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def check_examples(scenario: Scenario, warn: Warn) -> None:
    """``ambiguous-example``: a ``says:`` example that is also another option's text or example
    in the same scene (the same words cannot be matched to two options; free-text matching
    would always answer "not understood" for them), or repeated within its option."""
    for sid, scene in scenario.scenes.items():
        owner: dict[str, str] = {}
        for choice in scene.choices:
            for text in (choice.text, *choice.says):
                owner.setdefault(_normal(text), choice.id)
        for i, choice in enumerate(scene.choices):
            seen: set[str] = set()
            for j, example in enumerate(choice.says):
                key = _normal(example)
                other = owner.get(key)
                if other is not None and other != choice.id:
                    warn(
                        ("scenes", sid, "choices", i, "says", j),
                        "ambiguous-example",
                        f"this example of choice '{choice.id}' is also the text or an example of '{other}' in scene "
                        f"'{sid}'; an answer cannot be matched to both: reword it or remove it",
                    )
                elif key in seen or key == _normal(choice.text):
                    warn(
                        ("scenes", sid, "choices", i, "says", j),
                        "ambiguous-example",
                        f"this example of choice '{choice.id}' repeats its text or another of its examples; remove it",
                    )
                seen.add(key)


def authoring_lint(scenario: Scenario, warn: Warn) -> None:
    """Every authoring check, each reporting through ``warn`` (the loader's ``Reporter.warn``)."""
    check_feedback(scenario, warn)
    check_examples(scenario, warn)
    check_decisions(scenario, warn)
    check_length(scenario, warn)
    check_safe_messaging(scenario, warn)
