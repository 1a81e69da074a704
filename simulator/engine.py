"""Sessions: one trainee's run through a scenario, on a ``transitions`` state machine.

A Session holds all mutable run state (current scene, meters, flags, visit counts) and emits
events that front ends (TUI, headless runner) show and the records store saves. It knows
nothing about screens, time or storage: the same decisions give the same events, always.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, ClassVar, Self

from transitions import Machine

from simulator import rules
from simulator.model import Auto, Choice, Scenario, Timeout


class SessionError(Exception):
    """A request the session cannot carry out; the session is unchanged."""


class ReplayError(SessionError):
    """A recorded decision no longer fits the scenario (it changed since): ``step`` is its
    1-based number and ``reason`` says why, e.g. "choice 'x' is no longer on offer at step 3"."""

    def __init__(self, step: int, reason: str):
        super().__init__(reason)
        self.step = step
        self.reason = reason


# ---- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **asdict(self)}


@dataclass(frozen=True)
class SpokenLine:
    who: str
    name: str
    says: str


@dataclass(frozen=True)
class SceneEntered(Event):
    kind: ClassVar[str] = "scene_entered"
    scene: str
    text: str
    lines: tuple[SpokenLine, ...]
    visit: int


@dataclass(frozen=True)
class AutoMoved(Event):
    kind: ClassVar[str] = "auto_moved"
    scene: str
    to: str
    condition: str | None


@dataclass(frozen=True)
class OfferedChoice:
    position: int
    id: str
    text: str


@dataclass(frozen=True)
class ChoicesOffered(Event):
    kind: ClassVar[str] = "choices_offered"
    scene: str
    choices: tuple[OfferedChoice, ...]
    timeout_seconds: int | None


@dataclass(frozen=True)
class ChoiceMade(Event):
    kind: ClassVar[str] = "choice_made"
    sequence: int
    scene: str
    choice: str
    text: str
    to: str
    meters_before: dict[str, int]
    meters_after: dict[str, int]
    flags_after: dict[str, bool]
    said: str | None = None
    """In free-text play, what the trainee typed before confirming this choice (personal data;
    never read by grading)."""


@dataclass(frozen=True)
class TimedOut(Event):
    kind: ClassVar[str] = "timed_out"
    sequence: int
    scene: str
    seconds: int
    to: str
    meters_before: dict[str, int]
    meters_after: dict[str, int]
    flags_after: dict[str, bool]


@dataclass(frozen=True)
class EndingReached(Event):
    kind: ClassVar[str] = "ending_reached"
    scene: str
    rating: str
    outcome: str
    debrief: str


@dataclass(frozen=True)
class Stuck(Event):
    """The run cannot go on. ``reason`` is ``no-choice`` (the scene offers no choice, all
    conditions being false, and has no timeout) or ``auto-loop`` (more than
    ``rules.MAX_AUTO_MOVES`` auto moves in a row; ``scene`` is where they were stopped), both
    scenario bugs; or ``decision-limit``: the run made ``limit`` decisions, the scenario's
    ``max_decisions``, and stops before offering another (a script or a trainee going round a
    loop; not necessarily a bug)."""

    kind: ClassVar[str] = "stuck"
    scene: str
    reason: str = "no-choice"
    limit: int | None = None


@dataclass(frozen=True)
class Decision:
    """What the trainee did at one decision point: a choice id, or ``None`` for a timeout.
    ``said`` is the free-text answer typed before confirming the choice, if any: kept for the
    debrief and the records, never read by grading (a grade depends on ``choice`` alone)."""

    sequence: int
    scene: str
    choice: str | None
    said: str | None = None


Listener = Callable[[Event], None]


class _Position:
    """The model object the state machine moves between scenes (its ``state``)."""

    state: str


def _choice_trigger(scene: str, choice: str) -> str:
    return f"choose:{scene}:{choice}"


# ---- the session ----------------------------------------------------------------------------


@dataclass
class Run:
    """A run of ``scenario`` under the pure rules (``simulator.rules``), with no state machine:
    what grading, regrading, exports, analysis and reloads replay decisions through, since a
    ``transitions.Machine`` for a 1,000-scene scenario costs a tenth of a second or more to
    build. ``Session`` is the same run with the Machine moving it, for live play; a property
    test checks that both give the same events, values and grades. Call ``start()``, then
    ``choose()``/``expire()`` until ``finished``. Each call returns the events it produced
    (also sent to listeners)."""

    scenario: Scenario
    listeners: list[Listener] = field(default_factory=list)
    meters: dict[str, int] = field(init=False)
    flags: dict[str, bool] = field(init=False)
    visits: Counter[str] = field(init=False)
    events: list[Event] = field(init=False, default_factory=list)
    decisions: list[Decision] = field(init=False, default_factory=list)
    ending: EndingReached | None = field(init=False, default=None)
    stuck: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.meters = rules.initial_meters(self.scenario)
        self.flags = rules.initial_flags(self.scenario)
        self.visits = Counter()
        self._started = False
        self._at = self.scenario.start

    # -- how the run moves (Session moves through its state machine instead) --

    def _take_choice(self, scene: str, choice: Choice) -> None:
        self._apply(choice.effects, choice.set)
        self._at = choice.to

    def _take_timeout(self, timeout: Timeout) -> None:
        self._apply(timeout.effects, timeout.set)
        self._at = timeout.to

    def _take_auto(self, scene: str, auto: Auto) -> None:
        self._at = auto.to

    # -- state the front ends read --

    @property
    def scene(self) -> str:
        return self._at

    @property
    def finished(self) -> bool:
        return self.ending is not None

    @property
    def at_limit(self) -> bool:
        """True when the run stopped at the scenario's ``max_decisions`` (see ``Stuck``)."""
        last = self.events[-1] if self.stuck and self.events else None
        return isinstance(last, Stuck) and last.reason == "decision-limit"

    @property
    def waiting(self) -> bool:
        """True when the session waits for a choice or a timeout."""
        return self._started and not self.finished and not self.stuck

    def offered(self) -> list[Choice]:
        if not self.waiting:
            return []
        return rules.offered(self.scenario, self.scenario.scenes[self.scene], self)

    def timeout_seconds(self) -> int | None:
        timeout = self.scenario.scenes[self.scene].timeout
        return timeout.seconds if timeout and self.waiting else None

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    # -- actions --

    def start(self) -> list[Event]:
        if self._started:
            raise SessionError("the session has already started")
        self._started = True
        return self._settle([])

    def choose(self, choice_id: str, said: str | None = None) -> list[Event]:
        """Take the choice with this id; refused (and nothing changes) if it is not on offer.
        ``said``: the free-text answer the trainee confirmed as this choice."""
        self._require_waiting()
        available = {c.id: c for c in self.offered()}
        choice = available.get(choice_id)
        if choice is None:
            offered = ", ".join(available) or "none"
            raise SessionError(f"choice '{choice_id}' is not on offer in scene '{self.scene}' (offered: {offered})")
        scene, before = self.scene, dict(self.meters)
        self._take_choice(scene, choice)
        decision = Decision(len(self.decisions) + 1, scene, choice_id, said)
        self.decisions.append(decision)
        made = ChoiceMade(
            decision.sequence,
            scene,
            choice_id,
            choice.text,
            choice.to,
            before,
            dict(self.meters),
            dict(self.flags),
            said,
        )
        return self._settle([made])

    def choose_position(self, position: int, said: str | None = None) -> list[Event]:
        """Take the ``position``-th (1-based) choice on offer."""
        self._require_waiting()
        available = self.offered()
        if not 1 <= position <= len(available):
            raise SessionError(f"there is no choice {position} in scene '{self.scene}' (1..{len(available)} on offer)")
        return self.choose(available[position - 1].id, said)

    def expire(self) -> list[Event]:
        """Let the scene's timer run out."""
        self._require_waiting()
        timeout = self.scenario.scenes[self.scene].timeout
        if timeout is None:
            raise SessionError(f"scene '{self.scene}' has no timeout")
        scene, before = self.scene, dict(self.meters)
        self._take_timeout(timeout)
        decision = Decision(len(self.decisions) + 1, scene, None)
        self.decisions.append(decision)
        timed_out = TimedOut(
            decision.sequence, scene, timeout.seconds, timeout.to, before, dict(self.meters), dict(self.flags)
        )
        return self._settle([timed_out])

    def apply(self, decision: Decision) -> list[Event]:
        """Repeat a recorded decision (used to replay and resume)."""
        if decision.scene != self.scene:
            raise SessionError(
                f"decision {decision.sequence} was made in scene '{decision.scene}', "
                f"but the session is in '{self.scene}'"
            )
        return self.expire() if decision.choice is None else self.choose(decision.choice, decision.said)

    @classmethod
    def replay(cls, scenario: Scenario, decisions: Iterable[Decision], listeners: Iterable[Listener] = ()) -> Self:
        """A session of ``scenario`` that has made ``decisions`` (resume, playtest reloads);
        ReplayError names the first decision that no longer fits."""
        session = cls(scenario, list(listeners))
        session.start()
        for step, decision in enumerate(decisions, 1):
            try:
                session.apply(decision)
            except SessionError:
                raise ReplayError(step, session._why_not(decision, step)) from None
        return session

    def _why_not(self, decision: Decision, step: int) -> str:
        """Why ``decision``, the ``step``-th, cannot be made in this session's state."""
        if self.finished:
            return f"the scenario now ends before step {step}"
        if self.at_limit:
            return f"the run reaches the scenario's max_decisions ({self.scenario.max_decisions:,}) before step {step}"
        if self.stuck:
            return f"scene '{self.scene}' now offers no choice before step {step}"
        if decision.scene != self.scene:
            return (
                f"step {step} was made in scene '{decision.scene}', but the steps before it now lead to "
                f"'{self.scene}'"
            )
        if decision.choice is None:
            return f"scene '{decision.scene}' no longer has a timeout at step {step}"
        return f"choice '{decision.choice}' is no longer on offer at step {step}"

    # -- internals --

    def _require_waiting(self) -> None:
        if not self._started:
            raise SessionError("the session has not started; call start() first")
        if self.finished:
            raise SessionError("the scenario has ended")
        if self.stuck:
            raise SessionError(f"scene '{self.scene}' offers no choice")

    def _holds(self, condition: str | None) -> bool:
        return rules.holds(self.scenario, condition, self)

    def _apply(self, effects: Mapping[str, int], flags: Mapping[str, bool]) -> None:
        self.meters = rules.apply_effects(self.scenario, self.meters, effects)
        self.flags = rules.apply_flags(self.flags, flags)

    def _settle(self, produced: list[Event]) -> list[Event]:
        """Enter the current scene, follow auto moves, then offer choices or end."""
        try:
            for sid, scene, auto in rules.settle(self.scenario, self):
                lines = tuple(
                    SpokenLine(line.who, self._speaker(line.who), line.says)
                    for line in scene.lines
                    if self._holds(line.if_)
                )
                produced.append(SceneEntered(sid, scene.text, lines, self.visits[sid]))
                if scene.end is not None:
                    end = scene.end
                    self.ending = EndingReached(
                        sid,
                        end.rating,
                        rules.ending_text(self.scenario, end.outcome, self, paragraphs=False),
                        rules.ending_text(self.scenario, end.debrief, self),
                    )
                    produced.append(self.ending)
                elif auto is not None:
                    self._take_auto(sid, auto)
                    produced.append(AutoMoved(sid, self.scene, auto.if_))
                elif rules.out_of_decisions(self.scenario, len(self.decisions)):
                    self.stuck = True
                    produced.append(Stuck(sid, "decision-limit", self.scenario.max_decisions))
                else:
                    choices = rules.offered(self.scenario, scene, self)
                    if not choices and scene.timeout is None:
                        self.stuck = True
                        produced.append(Stuck(sid))
                    else:
                        offered = tuple(OfferedChoice(i, c.id, c.text) for i, c in enumerate(choices, 1))
                        timeout = scene.timeout.seconds if scene.timeout else None
                        produced.append(ChoicesOffered(sid, offered, timeout))
        except rules.AutoLoop:
            self.stuck = True
            produced.append(Stuck(self.scene, "auto-loop"))
        self.events.extend(produced)
        for event in produced:
            for listener in self.listeners:
                listener(event)
        return produced

    def _speaker(self, who: str) -> str:
        if who == "you":
            return "You"
        return self.scenario.cast[who].name



@dataclass
class Session(Run):
    """A live run of ``scenario`` (the trainee app, ``run``, ``play``, resume): a ``Run`` whose
    moves are transitions of a ``transitions.Machine`` built for it, with each choice's condition
    and effects as the transition's condition and ``before`` callback."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._pos = _Position()
        self._machine = Machine(
            model=self._pos,
            states=list(self.scenario.scenes),
            initial=self.scenario.start,
            auto_transitions=False,
            send_event=False,
        )
        add = self._machine.add_transition
        for sid, scene in self.scenario.scenes.items():
            for choice in scene.choices:
                add(
                    _choice_trigger(sid, choice.id),
                    sid,
                    choice.to,
                    conditions=[partial(self._holds, choice.if_)],
                    before=[partial(self._apply, choice.effects, choice.set)],
                )
            for auto in scene.auto:
                add(f"auto:{sid}", sid, auto.to, conditions=[partial(self._holds, auto.if_)])
            if scene.timeout is not None:
                timeout = scene.timeout
                add("expire", sid, timeout.to, before=[partial(self._apply, timeout.effects, timeout.set)])

    @property
    def scene(self) -> str:
        return self._pos.state

    def _take_choice(self, scene: str, choice: Choice) -> None:
        if not self._pos.trigger(_choice_trigger(scene, choice.id)):  # type: ignore[attr-defined]
            raise SessionError(f"choice '{choice.id}' was refused by the state machine")

    def _take_timeout(self, timeout: Timeout) -> None:
        self._pos.trigger("expire")  # type: ignore[attr-defined]

    def _take_auto(self, scene: str, auto: Auto) -> None:
        self._pos.trigger(f"auto:{scene}")  # type: ignore[attr-defined]
