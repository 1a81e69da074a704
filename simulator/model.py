"""The scenario model: immutable pydantic classes, one per block of the YAML format.

The field descriptions double as the editor documentation (they go into the JSON Schema), so
they are written for instructors. Cross-references (``to:`` targets, meter names, conditions)
are checked by ``simulator.loader``, which knows where each value was written.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, StringConstraints
from pydantic_core import PydanticCustomError

from simulator.diagnostics import did_you_mean
from simulator.prose import paragraphs  # noqa: F401  (re-exported: the format's reading of prose)

if TYPE_CHECKING:
    from simulator.expressions import Condition
    from simulator.yamlsource import SourceMap

# Patterns, each with the wording the loader uses when a value does not match.
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
NAME = r"^[a-z][a-z0-9_]*$"
CHOICE_ID = r"^[a-z][a-z0-9_-]*$"
PATTERN_HELP = {
    SLUG: "lowercase letters and digits joined by single hyphens, like 'overpass-railing'",
    NAME: "lowercase letters, digits and '_', starting with a letter, like 'first_words'",
    CHOICE_ID: "lowercase letters, digits, '_' and '-', starting with a letter, like 'ask-directly'",
}

MAX_ID_LENGTH = 80
DEFAULT_MAX_DECISIONS = 1000
"""Decisions one run may take unless the scenario says otherwise (``max_decisions``)."""
MAX_MAX_DECISIONS = 100_000

Slug = Annotated[str, StringConstraints(pattern=SLUG, max_length=MAX_ID_LENGTH)]
Ident = Annotated[str, StringConstraints(pattern=NAME, max_length=MAX_ID_LENGTH)]
ChoiceId = Annotated[str, StringConstraints(pattern=CHOICE_ID, max_length=MAX_ID_LENGTH)]
Text = Annotated[str, StringConstraints(min_length=1)]
Points = Annotated[int, Field(ge=-3, le=3)]
Phrasing = Annotated[str, StringConstraints(min_length=1, max_length=300)]
"""An example phrasing of a choice (``says:``): a sentence, not an essay (the model reads 128 word pieces)."""


def _whole_number_only(value: object) -> object:
    """``Literal[1]`` alone accepts ``true`` and ``1.0`` (both equal 1 in Python)."""
    if isinstance(value, (bool, float)):
        raise PydanticCustomError("literal_error", "Input should be 1", {"expected": "1"})
    return value


FormatVersion = Annotated[Literal[1], BeforeValidator(_whole_number_only)]
"""The ``format:`` of scenario and rubric files: exactly the number 1 (not true, 1.0 or "1")."""

Rating = Literal["good", "acceptable", "poor"]
Difficulty = Literal["introductory", "intermediate", "advanced"]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CastMember(Frozen):
    """A person in the scene who speaks lines."""

    name: Text = Field(description="Name shown before their spoken lines.")
    description: str = Field("", description="What the trainee can see of them.")


class Meter(Frozen):
    """A bounded whole number the scenario tracks, such as agitation or rapport."""

    start: int = Field(description="Value at the start of the scenario.")
    min: int = Field(0, description="Lowest value; effects are clamped to it.")
    max: int = Field(10, description="Highest value; effects are clamped to it.")
    label: Text = Field(description="Name shown to the trainee, e.g. 'Agitation'.")
    show: bool = Field(True, description="Show this meter to the trainee while playing.")
    good: Literal["low", "high"] | None = Field(
        None, description="Which end is good: 'low' or 'high'. Front ends colour the bar by it."
    )


class Flag(Frozen):
    """A true/false fact about the run, false at the start (e.g. 'asked_about_suicide')."""

    label: Text = Field(description="Short situation note shown when the flag is true.")
    show: bool = Field(False, description="Show the note to the trainee when the flag is set.")


class Line(Frozen):
    """One spoken line."""

    who: Ident = Field(description="A cast id, or 'you' for the trainee.")
    says: Text = Field(description="What they say.")
    if_: str | None = Field(None, alias="if", description="Only spoken when this condition holds.")


class Auto(Frozen):
    """A move made on entering the scene, before any choice: the first that holds is taken."""

    if_: str | None = Field(None, alias="if", description="Condition; without it the move always happens.")
    to: Ident = Field(description="Scene to move to.")


class Timeout(Frozen):
    """Time pressure: if the trainee does not choose in time, the scene moves on."""

    seconds: Annotated[int, Field(gt=0, le=3600)] = Field(description="Seconds to decide.")
    to: Ident = Field(description="Scene to move to when time runs out.")
    effects: dict[Ident, int] = Field(default_factory=dict, description="Meter changes when time runs out (clamped).")
    set: dict[Ident, bool] = Field(default_factory=dict, description="Flags to set when time runs out.")
    scores: dict[Ident, Points] = Field(
        default_factory=dict, description="Principle -> points (-3..+3) for letting time run out."
    )
    critical: Ident | None = Field(
        None, description="A critical-error id from the rubric: letting time run out fails the run."
    )
    acceptable: bool = Field(
        False,
        description="true: waiting here is as good as the best option on offer, whatever its points "
        "(graded as the best; the debrief shows 'Also strong:' rather than 'Better:').",
    )
    feedback: str = Field("", description="Why hesitating here matters (shown in the debrief).")


class Choice(Frozen):
    """One option the trainee may pick."""

    id: ChoiceId = Field(description="Unique within the scene; records and tests refer to it.")
    text: Text = Field(description="What the trainee says or does.")
    says: list[Phrasing] = Field(
        default_factory=list,
        description="Other ways a trainee might put this option in their own words, for free-text answers: "
        "typed answers close to any of them are matched to this option (docs/free-text.md). Short and "
        "typical, e.g. ['are you thinking of suicide?'].",
    )
    to: Ident = Field(description="Scene to move to.")
    if_: str | None = Field(None, alias="if", description="Only offered when this condition holds.")
    effects: dict[Ident, int] = Field(
        default_factory=dict, description="Meter changes, e.g. {agitation: -1} (clamped)."
    )
    set: dict[Ident, bool] = Field(default_factory=dict, description="Flags to set or clear.")
    scores: dict[Ident, Points] = Field(default_factory=dict, description="Principle id -> points from -3 to +3.")
    critical: Ident | None = Field(
        None, description="A critical-error id from the rubric: choosing this fails the run."
    )
    acceptable: bool = Field(
        False,
        description="true: sound practice, as good as the best option on offer whatever its points "
        "(graded as the best; the debrief shows 'Also strong:' rather than 'Better:'). Not with critical.",
    )
    feedback: str = Field("", description="Why this choice helps or hurts, shown in the debrief.")


class TextPart(Frozen):
    """One paragraph of an ending's outcome or debrief, shown only when its condition holds, so
    the ending can say what this trainee did on the way (asked about suicide or not, took the
    weapon or asked for it to be stored)."""

    if_: str | None = Field(
        None,
        alias="if",
        description="Condition on the meters, flags and visits when the ending is reached; "
        "without it the part is always shown.",
    )
    text: Text = Field(description="The paragraph.")


def _as_parts(value: object, *, required: bool) -> object:
    """Ending text is written as plain text or as a list of parts; both become a list of parts
    (plain text is one part without a condition), with one plain message for anything else."""
    if isinstance(value, str):
        if value.strip():
            return [{"text": value}]
        if required:
            raise PydanticCustomError("text_parts", "must not be empty: say in one line what happened")
        return []
    if isinstance(value, list):
        if required and not value:
            raise PydanticCustomError("text_parts", "needs at least one part: say in one line what happened")
        return value
    found = "a mapping" if isinstance(value, dict) else str(value).lower() if isinstance(value, bool) else repr(value)
    raise PydanticCustomError(
        "text_parts",
        "must be text, or a list of parts, each with 'text:' and an optional 'if:' condition (found {found})",
        {"found": found},
    )


_PARTS_INPUT = str | list[TextPart]
OutcomeParts = Annotated[
    list[TextPart], BeforeValidator(lambda v: _as_parts(v, required=True), json_schema_input_type=_PARTS_INPUT)
]
DebriefParts = Annotated[
    list[TextPart], BeforeValidator(lambda v: _as_parts(v, required=False), json_schema_input_type=_PARTS_INPUT)
]


class Ending(Frozen):
    """Marks a scene as an ending."""

    rating: Rating = Field(description="good | acceptable | poor.")
    outcome: OutcomeParts = Field(
        description="One line: what happened. Or a list of parts ({if: CONDITION, text: ...}) whose "
        "conditions are checked when the ending is reached; the parts that hold are joined into the line."
    )
    debrief: DebriefParts = Field(
        default_factory=list,
        description="What led here and what to learn from it. Or a list of parts ({if: CONDITION, text: ...}), "
        "each a paragraph shown only when its condition holds, so the debrief matches the path taken.",
    )


class Scene(Frozen):
    """One moment of the call: narration, spoken lines, then choices or an ending."""

    text: str = Field("", description="Narration shown on entering the scene.")
    lines: list[Line] = Field(default_factory=list, description="Spoken lines, in order.")
    auto: list[Auto] = Field(default_factory=list, description="Moves checked on entry, before choices.")
    timeout: Timeout | None = Field(None, description="Optional time pressure.")
    choices: list[Choice] = Field(default_factory=list, description="Options offered.")
    end: Ending | None = Field(None, description="Makes this scene an ending.")


class ScenarioPrinciple(Frozen):
    """A competency the academy grades on, added to the rubric for this scenario only."""

    name: Text = Field(description="Short name shown in the debrief.")
    description: Text = Field(description="One line: what doing it well looks like.")
    dimension: Ident = Field(description="The rubric dimension it counts toward.")


class PassOverride(Frozen):
    """Scenario-specific pass rule settings; anything left out comes from the rubric."""

    score: Annotated[int, Field(ge=0, le=100)] | None = Field(
        None, description="Minimum overall score (0-100) to pass this scenario."
    )


def _step_shape(value: object) -> object:
    """A playthrough step is a choice id or ``{timeout: SCENE}``; anything else gets one plain
    message at the step (a union would report each alternative's error separately)."""
    if isinstance(value, str):
        if re.match(CHOICE_ID, value) and len(value) <= MAX_ID_LENGTH:
            return value
        raise PydanticCustomError(
            "playthrough_step",
            "{value} is not a choice id, which is {help}; to let a timer run out write {timeout: SCENE}",
            {"value": repr(value), "help": PATTERN_HELP[CHOICE_ID]},
        )
    if isinstance(value, dict):
        extra = [str(k) for k in value if k != "timeout"]
        if extra:
            raise PydanticCustomError(
                "playthrough_step",
                "unknown key {key} in a step{hint}; a step that lets a timer run out is {timeout: SCENE}",
                {"key": repr(extra[0]), "hint": did_you_mean(extra[0], ["timeout"])},
            )
        scene = value.get("timeout")
        if not isinstance(scene, str) or not re.match(NAME, scene) or len(scene) > MAX_ID_LENGTH:
            raise PydanticCustomError(
                "playthrough_step", "a timeout step names the scene whose timer runs out, like {timeout: arrival}"
            )
        return value
    if isinstance(value, bool):
        found = str(value).lower()
    else:
        found = "a list" if isinstance(value, list) else "nothing" if value is None else f"the number {value!r}"
    raise PydanticCustomError(
        "playthrough_step", "a step is a choice id or {timeout: SCENE}, not {found}", {"found": found}
    )


def _score_shape(value: object) -> object:
    """An exact score ``72.5`` means ``{min: 72.5, max: 72.5}``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value <= 100:
            raise PydanticCustomError("playthrough_score", "{value} is outside 0-100", {"value": value})
        return {"min": value, "max": value}
    if isinstance(value, dict):
        return value
    raise PydanticCustomError(
        "playthrough_score",
        "must be a number from 0 to 100, or a range like {min: 60, max: 80} (found {found})",
        {"found": str(value).lower() if isinstance(value, bool) else repr(value)},
    )


class TimeoutStep(Frozen):
    """A playthrough step that lets the timer of a scene run out."""

    timeout: Ident = Field(description="The scene whose timer runs out; the run must be waiting in it.")


class ScoreRange(Frozen):
    """An expected overall score, from min to max (both included)."""

    min: Annotated[float, Field(ge=0, le=100)] = Field(0, description="Lowest score expected (0-100).")
    max: Annotated[float, Field(ge=0, le=100)] = Field(100, description="Highest score expected (0-100).")


PlaythroughStep = Annotated[ChoiceId | TimeoutStep, BeforeValidator(_step_shape)]
ExpectedScore = Annotated[
    ScoreRange, BeforeValidator(_score_shape, json_schema_input_type=Annotated[float, Field(ge=0, le=100)] | ScoreRange)
]


class Playthrough(Frozen):
    """A recorded playthrough test: steps to play and what they must lead to (crisis-sim test)."""

    name: Text = Field(description="Name of the test, unique within the scenario, e.g. 'best path'.")
    steps: list[PlaythroughStep] = Field(
        description="Choice ids in the order they are made; {timeout: SCENE} lets that scene's timer run out."
    )
    ending: Ident = Field(description="The ending scene the run must reach.")
    score: ExpectedScore | None = Field(
        None, description="Expected overall score: a number (exactly that) or {min: 60, max: 80}."
    )
    passed: bool | None = Field(None, description="true: the run must pass; false: it must fail.")
    critical: list[Ident] | None = Field(
        None, description="The critical-error ids the run commits, in order; [] means none."
    )


class FromFile(Frozen):
    """A model loaded from a file, which remembers where it came from: the path, the sha256 of
    the exact bytes (records tie every grade to it), and where each key was written (for
    diagnostics found later, such as the rubric checks). Not part of any file format."""

    _source: SourceMap | None = PrivateAttr(default=None)
    _sha256: str = PrivateAttr(default="")
    _path: str = PrivateAttr(default="")

    def set_origin(self, path: str, raw: bytes, source: SourceMap) -> None:
        """Record the file a loader built this model from (private attributes: frozen is kept)."""
        self._path = path
        self._sha256 = hashlib.sha256(raw).hexdigest()
        self._source = source

    @property
    def sha256(self) -> str:
        """Hash of the file's bytes."""
        return self._sha256

    @property
    def path(self) -> str:
        return self._path

    @property
    def source(self) -> SourceMap | None:
        return self._source


class Scenario(FromFile):
    """A training scenario: a state machine of scenes."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, title="crisis-sim scenario")

    format: FormatVersion = Field(description="Format version of this file; currently 1.")
    id: Slug = Field(description="Unique id in a library, e.g. 'overpass-railing'.")
    title: Text = Field(description="Title shown in the library.")
    version: Text = Field(description="The author's version label, as text (quote it).")
    summary: Text = Field(description="One or two sentences for the library preview.")
    difficulty: Difficulty = Field(description="introductory | intermediate | advanced.")
    minutes: Annotated[int, Field(gt=0, le=600)] = Field(description="Expected minutes to play.")
    tags: list[Slug] = Field(default_factory=list, description="Search tags.")
    content_warning: str = Field("", description="What the scenario contains, shown before play.")
    objectives: list[Text] = Field(default_factory=list, description="What the trainee practises.")
    briefing: Text = Field(description="What dispatch tells the trainee before the first scene.")
    resources: list[Text] = Field(
        default_factory=list,
        description="Help resources shown after every ending (e.g. the 988 Lifeline).",
    )
    rubric: Ident = Field("default", description="Which rubric grades the scenario.")
    principles: dict[Ident, ScenarioPrinciple] = Field(
        default_factory=dict, description="Extra principles to grade, beyond the rubric's."
    )
    pass_: PassOverride | None = Field(
        None, alias="pass", description="Override the rubric's pass rule, e.g. {score: 75}."
    )
    max_decisions: Annotated[int, Field(ge=1, le=MAX_MAX_DECISIONS)] = Field(
        DEFAULT_MAX_DECISIONS,
        description="The most decisions (choices and timeouts) one run may take, counted over the whole attempt; "
        "a run that reaches it stops there, so a script or a trainee going round a loop cannot run forever. "
        "Raise it only for a scenario meant to be that long.",
    )
    cast: dict[Ident, CastMember] = Field(default_factory=dict, description="Who speaks.")
    meters: dict[Ident, Meter] = Field(default_factory=dict, description="Tracked numbers.")
    flags: dict[Ident, Flag] = Field(default_factory=dict, description="Tracked true/false facts.")
    start: Ident = Field(description="The first scene.")
    scenes: dict[Ident, Scene] = Field(description="All scenes, by id.")
    tests: list[Playthrough] = Field(
        default_factory=list,
        description="Recorded playthrough tests, run by 'crisis-sim test'; more can live in NAME.tests.yaml.",
    )

    # Set by the loader after validation; not part of the file format.
    _conditions: dict[str, Condition] = PrivateAttr(default_factory=dict)

    def condition(self, text: str) -> Condition:
        """The compiled form of a condition written in this scenario."""
        return self._conditions[text]

    def endings(self) -> dict[str, Ending]:
        return {sid: s.end for sid, s in self.scenes.items() if s.end is not None}
