"""``crisis-sim new``: a small, valid starting scenario whose comments teach the format.

The template uses every part an instructor needs (two meters, a flag, a cast member, a
conditional choice, an auto move, a timeout, three endings, scores from the default rubric,
one critical error, feedback on every option, help resources) and passes
``crisis-sim validate --strict`` and ``crisis-sim analyze`` as written (a test keeps it so).
The story is deliberately plain (someone upset at a bus stop) so that it can be rewritten
for any topic.
"""

from __future__ import annotations

import re
from pathlib import Path

from simulator.model import MAX_ID_LENGTH, PATTERN_HELP, SLUG

# Where `crisis-sim schema --out` writes when no shipped schema is found: the modeline then
# points next to the new file, and the comment under it says how to create the schema there.
SCHEMA_FILE = "scenario.schema.json"


class ScaffoldError(Exception):
    """A one-line reason why the file was not written."""


def check_id(scenario_id: str) -> str | None:
    """The problem with a scenario id, or None when it is a valid slug."""
    if len(scenario_id) > MAX_ID_LENGTH:
        return f"the id is {len(scenario_id)} characters long; use at most {MAX_ID_LENGTH}"
    if not re.fullmatch(SLUG, scenario_id):
        return f"'{scenario_id}' is not a valid scenario id: use {PATTERN_HELP[SLUG]}"
    return None


def shipped_schema() -> Path | None:
    """The scenario JSON Schema shipped inside the installed package (``simulator/schemas/``,
    owned by ``simulator.schema``), if this installation has one."""
    try:
        from simulator.schema import committed_path
    except ImportError:
        return None
    path = committed_path("scenario")
    return path.resolve() if path.is_file() else None


def schema_reference(schema: Path | None = None) -> str:
    """What follows ``$schema=`` in the modeline: the shipped schema's absolute path (a file
    URI if the path has spaces, which end the modeline's value), else ``scenario.schema.json``
    next to the scenario."""
    schema = schema if schema is not None else shipped_schema()
    if schema is None:
        return SCHEMA_FILE
    text = str(schema)
    return schema.as_uri() if any(c.isspace() for c in text) else text


def template(scenario_id: str, schema: str | None = None) -> str:
    """The text of a new scenario with this id (assumed valid: see ``check_id``)."""
    schema = schema if schema is not None else schema_reference()
    if schema == SCHEMA_FILE:
        schema_note = (
            f"# The line above lets editors with the YAML language server (VS Code's YAML extension,\n"
            f"# Neovim, Helix...) complete keys and show their meaning. Create the schema it names\n"
            f"# next to this file with:  crisis-sim schema --out {SCHEMA_FILE}\n"
            f"# (or change the path after $schema= to wherever your copy is)."
        )
    else:
        schema_note = (
            "# The line above lets editors with the YAML language server (VS Code's YAML extension,\n"
            "# Neovim, Helix...) complete keys and show their meaning. It points at the schema of the\n"
            "# installed crisis-sim; if you move this file to another machine, change the path after\n"
            f"# $schema= (or write a copy with: crisis-sim schema --out {SCHEMA_FILE})."
        )
    return TEMPLATE.format(id=scenario_id, schema=schema, schema_note=schema_note)


def create(scenario_id: str, folder: Path | str = ".") -> Path:
    """Write ``folder/ID.yaml``; never overwrite. Raises ScaffoldError with a one-line reason."""
    problem = check_id(scenario_id)
    if problem is not None:
        raise ScaffoldError(problem)
    folder = Path(folder)
    path = folder / f"{scenario_id}.yaml"
    if path.exists() or path.is_symlink():
        raise ScaffoldError(f"{path} already exists; choose another id or --dir (nothing was written)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8", newline="\n") as out:
            out.write(template(scenario_id))
    except FileExistsError:
        raise ScaffoldError(f"{path} already exists; choose another id or --dir (nothing was written)") from None
    except OSError as exc:
        raise ScaffoldError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


TEMPLATE = """\
# yaml-language-server: $schema={schema}
{schema_note}
#
# A new crisis-sim scenario, made by 'crisis-sim new {id}'. It is complete and valid as it
# stands: play it, then rewrite the story for your own call. Every key is explained in
# docs/scenario-format.md (the reference); the comments here say just enough to edit it.
#
#   crisis-sim validate --strict {id}.yaml   # check it: file:line:col for every problem
#   crisis-sim run {id}.yaml                 # play it in plain text
#   crisis-sim analyze {id}.yaml             # every reachable state, best and worst paths
#   crisis-sim graph {id}.yaml               # the scene graph (Mermaid; --format dot too)
#
# YAML tips: indent with spaces, never tabs. Put text that starts with a quote, or contains
# ': ' or ' #', in quotes; inside '...' write a single quote twice ('I''m').

format: 1                 # the version of the file format; always 1
id: {id}   # unique in a library: lowercase letters and digits joined by hyphens
title: Someone upset at a bus stop   # title and summary are shown in the library
version: "0.1"            # your own version label; quoted, because it is text
summary: >-
  A person has been crying at a bus stop for an hour. A passer-by asked for a welfare
  check. Replace this story with your own.
difficulty: introductory  # introductory | intermediate | advanced
minutes: 4                # about how long a play takes
tags: [template, welfare-check]   # search tags: lowercase words joined by hyphens
content_warning: Emotional distress. No violence is shown.
objectives:               # what the trainee practises (shown in the briefing)
  - Introduce yourself and keep a calm distance
  - Listen, and offer choices rather than orders
briefing: |               # what dispatch tells the trainee before the first scene
  Dispatch: a passer-by reports a person crying at the Oak Street bus stop for about an
  hour. No weapons seen, no earlier calls. You arrive alone.

# resources: help shown after every ending. Keep a crisis line and peer support whatever
# the topic; adapt the lines to your country.
resources:
  - "988 Suicide & Crisis Lifeline (US): call or text 988. Outside the US: your local crisis line."
  - "If this scenario stirred something up for you, talk to your instructor or peer support."

rubric: default   # the rubric that grades it ('crisis-sim rubric default' lists its principles)

# cast: who speaks. The key (alex) is what a line's 'who:' uses; 'who: you' is the trainee.
cast:
  alex: {{name: Alex, description: "Thirties, rain jacket, a backpack at their feet"}}

# meters: whole numbers between min and max (default 0..10). Choices change them with
# 'effects'; conditions read them. 'good' says which end is good (the bar's colour).
meters:
  agitation: {{start: 5, label: Agitation, good: low}}
  rapport: {{start: 1, label: Rapport, good: high}}

# flags: true/false facts, all false at the start. Choices change them with 'set'.
flags:
  knows_name: {{label: Alex told you their name, show: true}}

start: arrival   # the first scene

# scenes: the state machine. Each scene shows its 'text' and 'lines', then either moves on
# by itself ('auto'), offers 'choices' (with an optional 'timeout'), or ends ('end').
scenes:
  arrival:
    text: |
      Alex sits hunched on the bench, crying quietly. They look up as you walk over.
    lines:
      # 'if' makes a line conditional. visits(arrival) counts entries into this scene.
      - {{who: alex, says: "I'm fine. Just leave me alone.", if: "visits(arrival) == 1"}}
      - {{who: alex, says: "Are you going to say something or just stand there?", if: "visits(arrival) > 1"}}
    # If the trainee does not choose within 'seconds', the timeout moves on; letting it run
    # out is graded like a choice (scores, feedback).
    timeout:
      seconds: 30
      to: silence
      effects: {{agitation: 1}}
      scores: {{slow_down_time_distance_cover: 1, assess_safety_risk: -1}}
      feedback: >-
        A pause costs little, but silence from a uniform standing nearby feels like
        a threat. A short, calm introduction is better.
    choices:
      # Each choice: an id (records and 'run --choose' use it), the text the trainee sees,
      # the scene it moves 'to', meter 'effects', 'scores' (principle: points from -3 to +3)
      # and 'feedback' for the debrief.
      - id: introduce
        text: Stop a few steps away, sit at the other end of the bench and give your first name.
        to: talking
        effects: {{agitation: -1, rapport: 1}}
        scores: {{respectful_approach: 2, calm_nonverbal: 1}}
        feedback: >-
          Distance, a seat at their level and your name make you a person, not a threat.
      - id: move-along
        text: '"You can''t stay here like this. Move along or I''ll take you in."'
        to: poor_end
        effects: {{agitation: 3, rapport: -1}}
        scores: {{options_not_threats: -3, calm_nonverbal: -2}}
        # 'critical' names a critical error of the rubric: choosing this fails the run.
        critical: threat_or_force_without_need
        feedback: >-
          Threatening arrest when nobody is in danger turns a welfare check into a
          confrontation, and Alex loses any reason to trust you.

  silence:
    text: Alex glances at you, then looks away and wipes their face.
    # Auto moves are checked on entering the scene, in order; the first whose 'if' holds
    # is taken. The last one has no 'if', so it always applies when the first does not.
    auto:
      - {{if: "agitation >= 7", to: poor_end}}
      - {{to: arrival}}

  talking:
    lines:
      - {{who: alex, says: "It's been a really bad week. I don't know why I'm telling you.", if: "not knows_name"}}
      - {{who: alex, says: "I'm Alex, by the way.", if: knows_name}}
    choices:
      # This choice is offered only while its condition holds: once Alex has said their
      # name, 'knows_name' is true and the choice disappears (so it cannot be repeated).
      - id: ask-name
        text: '"I''m glad you''re telling me. What should I call you?"'
        to: talking
        if: "not knows_name"
        set: {{knows_name: true}}
        effects: {{rapport: 1}}
        scores: {{respectful_approach: 1}}
        # 'acceptable: true': as good as the best option here (offer-choices) though it
        # scores less, so taking this step first costs nothing (see docs/scoring.md).
        acceptable: true
        feedback: Asking their name and using it shows respect and gives them some control.
      - id: offer-choices
        text: '"Thanks for telling me. Would it help to call someone you trust tonight? It''s your call."'
        to: good_end
        effects: {{agitation: -1, rapport: 1}}
        scores: {{empathy_validation: 2, connect_to_care_least_restrictive: 2, options_not_threats: 1}}
        feedback: >-
          You thanked them, offered real options and left the decision with them: support
          they choose is support they use.
      - id: quick-referral
        text: Hand Alex a leaflet with a helpline number and say you have to get going.
        to: acceptable_end
        scores: {{connect_to_care_least_restrictive: 1, active_listening: -1}}
        feedback: >-
          A number is better than nothing, but leaving as soon as they open up tells them
          their story does not matter.

  # Endings ('end:'): 'rating' is good, acceptable or poor; 'outcome' is one line; 'debrief'
  # says what led here and what to learn. The scenario's resources are shown after every ending.
  good_end:
    text: Alex calls their sister, who says she will come and pick them up.
    end:
      rating: good
      outcome: Alex chose to call their sister and is waiting with you for her.
      debrief: |
        You introduced yourself calmly, listened, and let Alex choose the next step. That
        is how a welfare check becomes a connection to support.

  acceptable_end:
    text: Alex takes the leaflet without looking at it.
    end:
      rating: acceptable
      outcome: Alex has a helpline number, but nobody knows how they are tonight.
      debrief: |
        The call ended safely, but quickly. A few more minutes of listening, and an offer
        of choices, would have made it more likely that Alex reaches out.

  poor_end:
    text: Alex grabs their backpack and walks off down the street.
    end:
      rating: poor
      outcome: Alex left upset, and nobody knows where they went.
      debrief: |
        Silence or a threat made you one more thing to get away from. Start with your name,
        keep a calm distance, and offer choices instead of orders.
"""
