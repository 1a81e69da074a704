"""Path analysis: explore every reachable state of a scenario and report what can happen.

A state is (scene, meters, flags, visit counts of the scenes that conditions read): exactly
what decides what happens next. Other visit counts cannot change play, so leaving them out
keeps the state space small without losing anything. States are explored breadth-first with
memoisation, within two bounds; hitting either is reported, never a hang:

- ``max_states``: how many states are kept;
- ``max_work``: a budget for the work itself, in *units* of one value handled. Each transition
  costs ``EDGE_WORK`` plus the state's width (its values: scene, meters, flags, tracked visit
  counts), plus the auto moves it follows; each new state ``STATE_WORK`` plus its width; each
  state expanded its width plus its choices' conditions. A state count alone does not bound a
  scenario whose hub offers 30 flag-setting choices (31 transitions from every one of 2^30
  states) or whose states hold 2,000 flags each.
  Everything analysis keeps (states, transitions, path searches, the graded paths) is made by
  work counted here, so the budget bounds memory too: at most ``BYTES_PER_WORK`` bytes a unit
  (measured by ``tests/fuzz/test_fuzz_analyze.py``).

Reports: endings and whether each is reachable; the best path (least *regret*: the value lost
against the best option at each decision, found with Dijkstra, critical errors avoided) and the
worst path (always taking the worst option on offer, critical errors first); their grades;
decisions where every option scores the same; run-time dead ends; point-farming cycles; and
which principles and dimensions the scenario exercises.

``static_checks`` holds the cheap parts (possible dead ends, farming loops in the scene graph)
that ``crisis-sim validate`` runs on every file.
"""

from __future__ import annotations

import gc
import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from scoring.grading import Grade, grade, option_value
from scoring.rubric import Rubric, effective_rubric
from simulator import rules
from simulator.engine import Decision
from simulator.expressions import Values
from simulator.loader import Reporter
from simulator.model import Choice, Scenario, Timeout

DEFAULT_MAX_STATES = 200_000
DEFAULT_MAX_WORK = 30_000_000
"""About 6 s here and at most ``BYTES_PER_WORK`` x 30 M of memory; the bundled scenarios need
at most 1.1 million."""
EDGE_WORK = 32
"""Fixed cost of one transition in work units (an Edge, the copy of a run, the rules' calls)."""
STATE_WORK = 32
"""Fixed cost of keeping one more state (its key, its entry, its share of the path searches)."""
BYTES_PER_WORK = 16
"""Memory analysis may hold per unit of work done (checked by a test, with tracemalloc)."""
RATING_RANK = {"good": 0, "acceptable": 1, "poor": 2}
CRITICAL_COST = 10**9

StateKey = tuple[str, tuple[int, ...], tuple[bool, ...], tuple[int, ...]]


@dataclass
class _Run:
    """A mutable run state for exploring (the rules module reads and updates it)."""

    scene: str
    meters: dict[str, int]
    flags: dict[str, bool]
    visits: dict[str, int]

    def copy(self) -> _Run:
        return _Run(self.scene, dict(self.meters), dict(self.flags), dict(self.visits))


@dataclass(frozen=True, slots=True)
class Edge:
    """One decision from a state: a choice id, or None for letting the timer run out."""

    choice: str | None
    target: StateKey | None  # None: not followed (an auto loop, or a state beyond the bound)
    value: int
    regret: int
    critical: str | None
    loops: bool = False  # the move runs into an auto loop


@dataclass(slots=True)
class StateInfo:
    scene: str
    kind: str  # "decision" | "ending" | "stuck"
    edges: list[Edge] = field(default_factory=list)


@dataclass(frozen=True)
class PathResult:
    choices: list[str]  # runnable with `crisis-sim run --choose` (timeouts listed separately)
    timeouts: list[str]  # scenes where the timer runs out, in order
    decisions: list[Decision]
    ending: str | None
    grade: Grade | None


@dataclass
class Analysis:
    scenario_id: str
    states: int
    transitions: int
    bound_hit: bool
    max_states: int
    max_work: int
    work: int  # units of work done (see the module docstring)
    width: int  # values in one state
    limits: list[str]  # the bounds that stopped it, in the order hit: "states", "work"
    endings: dict[str, bool]  # ending scene -> reachable
    best: PathResult | None
    worst: PathResult | None
    uniform_decisions: list[dict[str, Any]]
    single_option_decisions: list[str]
    dead_ends: list[dict[str, Any]]
    auto_loops: list[dict[str, Any]]
    farming: list[dict[str, Any]]
    principles: list[str]
    dimensions: list[str]
    empty_outcomes: list[str] = field(default_factory=list)  # endings reached with no outcome part holding

    @property
    def problems(self) -> list[str]:
        """Findings that make the scenario unfit for use (errors)."""
        out = []
        if self.bound_hit:
            out.append(f"{self.bound}: results are partial")
        out += [f"ending '{e}' cannot be reached" for e, ok in self.endings.items() if not ok]
        out += [f"dead end at run time in scene '{d['scene']}'" for d in self.dead_ends]
        out += [
            f"auto moves loop forever after choice '{d['choice'] or 'timeout'}' in scene '{d['scene']}'"
            for d in self.auto_loops
        ]
        out += [f"choice '{f['choice']}' in scene '{f['scene']}' can be repeated to farm points" for f in self.farming]
        out += [f"ending '{e}' is reached with an empty outcome (none of its parts holds)" for e in self.empty_outcomes]
        if self.best and self.best.grade and not self.best.grade.passed:
            out.append("the best path does not pass")
        if self.worst and self.worst.grade and self.worst.grade.passed:
            out.append("the worst path passes")
        return out

    @property
    def bound(self) -> str:
        """Which bound stopped the exploration, and how to raise it."""
        states = f"the state bound ({self.max_states:,}) was hit"
        work = f"the work budget ({self.max_work:,}) ran out with states of {self.width:,} values each"
        if self.limits == ["states"]:
            return f"{states} (raise it with --max-states)"
        if self.limits == ["work"]:
            return f"{work} (raise it with --max-work)"
        return f"{states} and {work} (raise them with --max-states and --max-work)"

    def as_dict(self) -> dict[str, Any]:
        def path(p: PathResult | None) -> dict[str, Any] | None:
            if p is None:
                return None
            g = p.grade
            return {
                "choices": p.choices,
                "timeouts": p.timeouts,
                "ending": p.ending,
                "score": g.overall if g else None,
                "passed": g.passed if g else None,
                "reasons": g.reasons if g else [],
                "rating": g.ending.rating if g and g.ending else None,
                "grade": g.as_dict() if g else None,
            }

        data = asdict(self)
        data["best"] = path(self.best)
        data["worst"] = path(self.worst)
        data["problems"] = self.problems
        return data


class _OutOfWork(Exception):
    """The work budget ran out in the middle of a move."""


class Explorer:
    """Builds the reachable state graph of one scenario."""

    def __init__(
        self,
        scenario: Scenario,
        rubric: Rubric,
        max_states: int = DEFAULT_MAX_STATES,
        max_work: int = DEFAULT_MAX_WORK,
    ):
        self.scenario = scenario
        self.rubric = effective_rubric(rubric, scenario)
        self.max_states = max_states
        self.max_work = max_work
        read: set[str] = set()
        for text in scenario._conditions:
            read |= scenario.condition(text).scenes
        self.tracked = tuple(sorted(read))
        self.meter_names = tuple(scenario.meters)
        self.flag_names = tuple(scenario.flags)
        self.width = 1 + len(self.meter_names) + len(self.flag_names) + len(self.tracked)
        self.states: dict[StateKey, StateInfo] = {}
        self.bound_hit = False
        self.limits: list[str] = []  # the bounds hit, in order
        self.work = 0
        self.start: StateKey | None = None
        self._values: dict[int, int] = {}
        self._scene_work: dict[str, tuple[int, int]] = {}
        self.start_loops = False  # the auto moves of the start scene loop before any decision

    def key(self, run: _Run) -> StateKey:
        return (
            run.scene,
            tuple(run.meters[m] for m in self.meter_names),
            tuple(run.flags[f] for f in self.flag_names),
            tuple(run.visits.get(s, 0) for s in self.tracked),
        )

    def run_of(self, key: StateKey) -> _Run:
        """The run state a key stands for: queued states are kept as keys only (a run holds
        three dicts, many times the size of its key when states hold many flags)."""
        scene, meters, flags, visits = key
        return _Run(
            scene,
            dict(zip(self.meter_names, meters, strict=True)),
            dict(zip(self.flag_names, flags, strict=True)),
            {s: v for s, v in zip(self.tracked, visits, strict=True) if v},
        )

    def scene_work(self, sid: str) -> tuple[int, int]:
        """(work to enter the scene and check its auto moves, work to offer its choices):
        conditions cost one unit per 8 characters, as their evaluation grows with them."""
        cached = self._scene_work.get(sid)
        if cached is None:
            scene = self.scenario.scenes[sid]
            cost = lambda cond: 1 + len(cond or "") // 8  # noqa: E731
            cached = self._scene_work[sid] = (
                1 + sum(cost(a.if_) for a in scene.auto),
                sum(cost(c.if_) for c in scene.choices),
            )
        return cached

    def settle(self, run: _Run) -> bool:
        """Follow the scene's auto moves (counting their work); False when they loop.
        Afterwards only the visit counts that conditions read are kept: the rest cannot change
        play, and copying a whole path's history at every step would make exploration quadratic."""
        try:
            for sid, _scene, auto in rules.settle(self.scenario, run):
                self.work += self.scene_work(sid)[0]
                if self.work > self.max_work:
                    raise _OutOfWork  # a long chain of auto moves is work too
                if auto is not None:
                    run.scene = auto.to
        except rules.AutoLoop:
            return False
        if len(run.visits) > len(self.tracked):
            run.visits = {s: run.visits[s] for s in self.tracked if s in run.visits}
        return True

    def value(self, option: Choice | Timeout) -> int:
        """The option's weighted value, computed once per option (options are immutable)."""
        key = id(option)
        cached = self._values.get(key)
        if cached is None:
            cached = self._values[key] = option_value(option.scores, self.rubric)
        return cached

    def explore(self) -> None:
        # The state graph is built of tuples, dicts and dataclasses with no reference cycles,
        # but the cyclic collector would walk all of it again and again as it grows (measured:
        # 1.4x slower per transition at 10,000 scenes). Pause it while building; restore after.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._explore()
        finally:
            if was_enabled:
                gc.enable()

    def _stop(self, bound: str) -> None:
        self.bound_hit = True
        if bound not in self.limits:
            self.limits.append(bound)

    def _explore(self) -> None:
        try:
            self._breadth_first()
        except _OutOfWork:
            self._stop("work")

    def _breadth_first(self) -> None:
        s = self.scenario
        width = self.width
        first = _Run(s.start, rules.initial_meters(s), rules.initial_flags(s), {})
        self.work += width
        if not self.settle(first):
            self.start_loops = True
            return
        self.start = self.key(first)
        queue: deque[StateKey] = deque([self.start])
        seen: dict[StateKey, StateKey] = {self.start: self.start}  # each key once: edges share it
        while queue:
            if self.work >= self.max_work:
                self._stop("work")  # the states still queued stay unexpanded
                return
            key = queue.popleft()
            run = self.run_of(key)
            scene = s.scenes[run.scene]
            if scene.end is not None:
                self.states[key] = StateInfo(run.scene, "ending")
                continue
            self.work += width + self.scene_work(run.scene)[1]
            offered = rules.offered(s, scene, run)
            info = StateInfo(run.scene, "decision" if offered or scene.timeout else "stuck")
            self.states[key] = info
            candidates = [o for o in offered if not o.critical]
            best_value = max((self.value(o) for o in candidates), default=0)
            options: list[tuple[str | None, Choice | Timeout]] = [(c.id, c) for c in offered]
            if scene.timeout is not None:
                options.append((None, scene.timeout))
            for choice_id, option in options:
                if self.work >= self.max_work:
                    self._stop("work")  # this state's other options are not followed
                    break
                self.work += EDGE_WORK + width
                nxt = run.copy()
                nxt.meters = rules.apply_effects(s, nxt.meters, option.effects)
                nxt.flags = rules.apply_flags(nxt.flags, option.set)
                nxt.scene = option.to
                value = self.value(option)
                regret = CRITICAL_COST if option.critical else max(0, best_value - value)
                if not self.settle(nxt):
                    info.edges.append(Edge(choice_id, None, value, regret, option.critical, loops=True))
                    continue
                target = self.key(nxt)
                known = seen.get(target)
                if known is None:
                    if len(seen) >= self.max_states:
                        self._stop("states")
                        target = None  # not kept: only explored states are worth remembering
                    else:
                        self.work += STATE_WORK + width
                        seen[target] = target
                        queue.append(target)
                else:
                    target = known
                info.edges.append(Edge(choice_id, target, value, regret, option.critical))

    # -- paths --

    def _decisions(self, steps: list[tuple[StateKey, Edge]]) -> PathResult:
        decisions = [Decision(i, self.states[k].scene, e.choice) for i, (k, e) in enumerate(steps, 1)]
        choices = [e.choice for _, e in steps if e.choice is not None]
        timeouts = [self.states[k].scene for k, e in steps if e.choice is None]
        last = steps[-1][1].target if steps else self.start
        ending = self.states[last].scene if last in self.states and self.states[last].kind == "ending" else None
        g = grade(self.scenario, self.rubric, decisions) if ending else None
        return PathResult(choices, timeouts, decisions, ending, g)

    def best_path(self) -> PathResult | None:
        """Least total regret to any ending; ties broken by rating, then length."""
        if self.start is None:
            return None
        dist: dict[StateKey, tuple[int, int]] = {self.start: (0, 0)}
        parent: dict[StateKey, tuple[StateKey, Edge]] = {}
        heap: list[tuple[int, int, int, StateKey]] = [(0, 0, 0, self.start)]
        counter = 0
        best_end: tuple[int, int, int, StateKey] | None = None
        while heap:
            cost, length, _, key = heapq.heappop(heap)
            if dist.get(key, (None, None)) != (cost, length):
                continue
            info = self.states.get(key)
            if info is None:
                continue
            if info.kind == "ending":
                rank = RATING_RANK[self.scenario.scenes[info.scene].end.rating]  # type: ignore[union-attr]
                candidate = (cost, rank, length, key)
                if best_end is None or candidate[:3] < best_end[:3]:
                    best_end = candidate
                continue
            for edge in info.edges:
                if edge.target is None:
                    continue
                new = (cost + edge.regret, length + 1)
                if edge.target not in dist or new < dist[edge.target]:
                    dist[edge.target] = new
                    parent[edge.target] = (key, edge)
                    counter += 1
                    heapq.heappush(heap, (new[0], new[1], counter, edge.target))
        if best_end is None:
            return None
        steps: list[tuple[StateKey, Edge]] = []
        key = best_end[3]
        while key in parent:
            prev, edge = parent[key]
            steps.append((prev, edge))
            key = prev
        return self._decisions(list(reversed(steps)))

    def worst_path(self) -> PathResult | None:
        """Always the worst option on offer (critical errors first, then lowest value), avoiding
        states already seen on the path so that it ends (when every option leads back onto the
        path, the worst is taken anyway). The walk is bounded twice: at most one step per
        state, and at most the exploration's own work in scene sizes, since grading the path
        replays each step against every choice of its scene (a hub of 20,000 choices entered
        again and again would otherwise cost far more to grade than it cost to explore)."""
        if self.start is None:
            return None
        key, steps, on_path = self.start, [], {self.start}
        ranked_at: dict[StateKey, list[Edge]] = {}
        fresh_from: dict[StateKey, int] = {}  # on_path only grows: a skipped edge stays skipped
        budget = self.work
        for _ in range(len(self.states) + 1):
            info = self.states.get(key)
            if info is None or info.kind != "decision":
                break
            budget -= self.width + len(self.scenario.scenes[info.scene].choices)
            if budget < 0:
                break
            ranked = ranked_at.get(key)
            if ranked is None:
                ranked = ranked_at[key] = sorted(
                    (e for e in info.edges if e.target is not None),
                    key=lambda e: (e.critical is None, e.value),
                )
            if not ranked:
                break
            i = fresh_from.get(key, 0)
            while i < len(ranked) and ranked[i].target in on_path:
                i += 1
            fresh_from[key] = i
            edge = ranked[i] if i < len(ranked) else ranked[0]
            steps.append((key, edge))
            key = edge.target  # type: ignore[assignment]
            on_path.add(key)
        return self._decisions(steps)

    # -- findings --

    def iter_decisions(self) -> Iterator[tuple[StateKey, StateInfo]]:
        for key, info in self.states.items():
            if info.kind == "decision":
                yield key, info

    def farming(self) -> list[dict[str, Any]]:
        """Positive-value choices inside a cycle of the state graph (repeatable forever)."""
        component = _strongly_connected(
            {k: [e.target for e in i.edges if e.target is not None] for k, i in self.states.items()}
        )
        found: dict[tuple[str, str | None], dict[str, Any]] = {}
        for key, info in self.iter_decisions():
            for edge in info.edges:
                if edge.target is None or edge.value <= 0:
                    continue
                comp = component.get(key)
                if comp is not None and component.get(edge.target) == comp:
                    found.setdefault((info.scene, edge.choice), {"scene": info.scene, "choice": edge.choice})
        return list(found.values())


def _strongly_connected(graph: dict[StateKey, list[StateKey]]) -> dict[StateKey, int]:
    """Iterative Tarjan: map each node that lies on a cycle to its component id."""
    index: dict[StateKey, int] = {}
    low: dict[StateKey, int] = {}
    on_stack: set[StateKey] = set()
    stack: list[StateKey] = []
    result: dict[StateKey, int] = {}
    counter = 0
    comp_id = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                cyclic = len(members) > 1 or node in graph.get(node, ())
                if cyclic:
                    for member in members:
                        result[member] = comp_id
                comp_id += 1
    return result


def analyze(
    scenario: Scenario,
    rubric: Rubric,
    max_states: int = DEFAULT_MAX_STATES,
    max_work: int = DEFAULT_MAX_WORK,
) -> Analysis:
    """Explore ``scenario`` and report (see the module docstring)."""
    ex = Explorer(scenario, rubric, max_states, max_work)
    ex.explore()
    points_of: dict[str, dict[str | None, tuple[tuple[str, int], ...]]] = {}  # per scene, not per edge
    reached_endings = {i.scene for i in ex.states.values() if i.kind == "ending"}
    endings = {sid: sid in reached_endings for sid in scenario.endings()}
    uniform: dict[str, dict[str, Any]] = {}
    single: set[str] = set()
    dead: dict[str, dict[str, Any]] = {}
    principles: set[str] = set()
    loops: dict[tuple[str, str | None], dict[str, Any]] = {}
    if ex.start_loops:
        loops[(scenario.start, "(start)")] = {"scene": scenario.start, "choice": "(start)"}
    for _key, info in ex.states.items():
        for edge in info.edges:
            if edge.loops:
                loops.setdefault((info.scene, edge.choice), {"scene": info.scene, "choice": edge.choice})
        if info.kind == "stuck":
            dead.setdefault(info.scene, {"scene": info.scene})
            continue
        if info.kind != "decision":
            continue
        scene = scenario.scenes[info.scene]
        choice_edges = [e for e in info.edges if e.choice is not None]
        for c in scene.choices:
            principles.update(p for p, v in c.scores.items() if v)
        if scene.timeout:
            principles.update(p for p, v in scene.timeout.scores.items() if v)
        if len(choice_edges) == 1:
            single.add(info.scene)
        elif len(choice_edges) > 1:
            if info.scene not in points_of:
                points_of[info.scene] = {c.id: tuple(sorted(c.scores.items())) for c in scene.choices}
            points = {points_of[info.scene][e.choice] for e in choice_edges}
            if len(points) == 1:
                uniform.setdefault(info.scene, {"scene": info.scene, "choices": [e.choice for e in choice_edges]})
    rub = ex.rubric
    dims = sorted({rub.principles[p].dimension for p in principles if p in rub.principles})
    return Analysis(
        scenario_id=scenario.id,
        states=len(ex.states),
        transitions=sum(len(i.edges) for i in ex.states.values()),
        bound_hit=ex.bound_hit,
        max_states=max_states,
        max_work=max_work,
        work=ex.work,
        width=ex.width,
        limits=ex.limits,
        endings=endings,
        best=ex.best_path(),
        worst=ex.worst_path(),
        uniform_decisions=list(uniform.values()),
        single_option_decisions=sorted(single),
        dead_ends=list(dead.values()),
        auto_loops=list(loops.values()),
        farming=ex.farming(),
        principles=sorted(principles),
        dimensions=dims,
        empty_outcomes=empty_outcomes(ex),
    )


def empty_outcomes(ex: Explorer) -> list[str]:
    """Endings reached in a state where no part of a conditional outcome holds."""
    s = ex.scenario
    found: set[str] = set()
    for key, info in ex.states.items():
        end = s.scenes[info.scene].end
        if info.kind != "ending" or end is None or info.scene in found:
            continue
        if all(part.if_ is None for part in end.outcome):
            continue
        _scene, meters, flags, visits = key
        ctx = Values(
            dict(zip(ex.meter_names, meters, strict=True)),
            dict(zip(ex.flag_names, flags, strict=True)),
            dict(zip(ex.tracked, visits, strict=True)),
        )
        if not rules.ending_text(s, end.outcome, ctx, paragraphs=False):
            found.add(info.scene)
    return sorted(found)


# ---- cheap checks for `crisis-sim validate` ------------------------------------------------


def static_checks(scenario: Scenario, rubric: Rubric, report: Reporter) -> None:
    """Possible dead ends and point-farming loops, found in the scene graph without exploring
    states (so they run on every validate)."""
    rub = effective_rubric(rubric, scenario)
    for sid, scene in scenario.scenes.items():
        if scene.end is not None or scene.timeout is not None or not scene.choices:
            continue
        if any(a.if_ is None for a in scene.auto):
            continue
        if all(c.if_ is not None for c in scene.choices):
            report.warn(
                ("scenes", sid, "choices"),
                "possible-dead-end",
                f"every choice in scene '{sid}' has an 'if'; when none holds the trainee is stuck. "
                "Add an unconditional choice or a timeout (crisis-sim analyze checks it exactly)",
                at_key=True,
            )
    # Farming: a loop of unguarded moves (choices without 'if', auto moves without 'if')
    # that contains a choice worth points and none that costs any.
    graph: dict[StateKey, list[StateKey]] = {}
    nodes: dict[str, StateKey] = {sid: (sid, (), (), ()) for sid in scenario.scenes}
    positive: list[tuple[str, int, Choice]] = []
    for sid, scene in scenario.scenes.items():
        targets = graph.setdefault(nodes[sid], [])
        for i, choice in enumerate(scene.choices):
            if choice.if_ is not None:
                continue
            value = option_value(choice.scores, rub) if all(p in rub.principles for p in choice.scores) else 0
            if value < 0:
                continue
            targets.append(nodes[choice.to])
            if value > 0:
                positive.append((sid, i, choice))
        targets.extend(nodes[a.to] for a in scene.auto if a.if_ is None)
    component = _strongly_connected(graph)
    for sid, i, choice in positive:
        here, there = component.get(nodes[sid]), component.get(nodes[choice.to])
        if here is not None and here == there:
            report.add(
                ("scenes", sid, "choices", i, "id"),
                "point-farming",
                f"choice '{choice.id}' scores points and sits in a loop with no 'if' to stop it, "
                f'so a trainee could repeat it to farm points; guard it, e.g. if: "visits({sid}) < 2"',
            )
