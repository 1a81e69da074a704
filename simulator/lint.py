"""Wording lint: stigmatising or unsafe language in the scenario's own voice.

Checked: narration, feedback, debriefs, outcomes, briefing, summary, objectives, content warning,
resources, cast descriptions and labels. Not checked: what characters say (``lines``) and what
the trainee says or does (choice ``text``): realism, and the bad options trainees must learn to
avoid, may need those words. Safe-messaging rules: domain guide section 2; person-first
language: section 4; the term "excited delirium" is not used (ACEP withdrew support in 2023).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from simulator.model import Scenario

Loc = tuple[str | int, ...]

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
        if scene.timeout is not None:
            yield ("scenes", sid, "timeout", "feedback"), f"the timeout feedback of '{sid}'", scene.timeout.feedback
        if scene.end is not None:
            yield ("scenes", sid, "end", "outcome"), f"the outcome of ending '{sid}'", scene.end.outcome
            yield ("scenes", sid, "end", "debrief"), f"the debrief of ending '{sid}'", scene.end.debrief


def wording_findings(scenario: Scenario) -> Iterator[tuple[Loc, str, str, int]]:
    """(location, message, matched term, index in the text) for each term found."""
    for loc, what, text in _texts(scenario):
        if not text:
            continue
        seen: set[str] = set()
        for match in _ALL.finditer(text):
            group = match.lastgroup or ""
            if group in seen:
                continue  # report each term once per text, at its first use
            seen.add(group)
            fix = TERMS[int(group[1:])][1]
            yield loc, f"'{match.group(0)}' in {what}: {fix}", match.group(0), match.start()
