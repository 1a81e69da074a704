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

Reports: endings and whether each is reachable; the best path (least *regret*: what is lost
against the best option at each decision, as ``scoring.grading.judge`` measures it, found with
Dijkstra; a critical error is never taken) and the worst path (always taking the worst option on
offer, critical errors first); their grades; paths without a critical error whose grade
disagrees with their ending (a `good` ending that fails, a `poor` ending that passes);
decisions where every option scores the same; run-time dead ends; point-farming cycles; and
which principles and dimensions the scenario exercises.

``static_checks`` holds the cheap parts (possible dead ends, farming loops in the scene graph)
that ``crisis-sim validate`` runs on every file.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from scoring.difficulty import Structure, measure
from scoring.grading import Grade, grade, judge, option_value, stake_weights
from scoring.rubric import Rubric, effective_rubric
from simulator import rules
from simulator.collector import gc_paused
from simulator.engine import Decision
from simulator.expressions import Values
from simulator.loader import Loc, Reporter
from simulator.model import Choice, Scenario, Scene, Timeout

DEFAULT_MAX_STATES = 500_000
DEFAULT_MAX_WORK = 40_000_000
"""At most ``BYTES_PER_WORK`` x 40 M of memory; covers the 37.3 million units of the benchmarks'
10,000-scene chain (issue 16); the bundled scenarios need at most 1.1 million."""
EDGE_WORK = 32
"""Fixed cost of one transition in work units (an Edge, the copy of a run, the rules' calls)."""
STATE_WORK = 32
"""Fixed cost of keeping one more state (its key, its entry, its share of the path searches)."""
BYTES_PER_WORK = 16
"""Memory analysis may hold per unit of work done (checked by a test, with tracemalloc)."""
RATING_RANK = {"good": 0, "acceptable": 1, "poor": 2}
CRITICAL_COST = 10**9
NEAR_ZERO = 1e-9
"""A pass margin below this may fail (floats; the path is then graded exactly)."""
MAX_GRADED_PATHS = 10
"""Paths the check of grades against endings grades for real; fewer in very large scenarios
(each grade replays a Session, which costs seconds on a 50,000-scene file): see graded_paths."""

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
    credited: int = 0  # the value it counts as at this decision (see scoring.grading.judge)


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
    over_limit: bool = False  # longer than the scenario's max_decisions: a run stops before its ending


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
    critical_errors: list[str] = field(default_factory=list)  # critical error ids on offer in a reachable state
    empty_outcomes: list[str] = field(default_factory=list)  # endings reached with no outcome part holding
    grade_mismatches: list[dict[str, Any]] = field(default_factory=list)
    grade_check_partial: str = ""  # why the check of grades against endings is not complete, if it is not
    structure: Structure | None = None  # what makes it hard (scoring.difficulty); None when nothing was explored
    label: str = ""  # the scenario's own difficulty label

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
        for m in self.grade_mismatches:
            verdict = "fails" if m["rating"] == "good" else "passes"
            out.append(
                f"a path without a critical error reaches ending '{m['ending']}' (rated {m['rating']}) and {verdict} "
                f"with a score of {m['score']:g}" + (f": {m['reasons'][0]}" if m["reasons"] else "")
            )
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
                "decisions": len(p.decisions),
                "over_limit": p.over_limit,
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
        self._choices: dict[str, dict[str, Choice]] = {}  # scene -> its choices by id (grade check)
        self._margin_cache: dict[tuple[str, tuple[str | None, ...]], dict[str | None, tuple[float, ...]]] = {}
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
        with gc_paused():
            self._explore()

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
            options: list[tuple[str | None, Choice | Timeout]] = [(c.id, c) for c in offered]
            if scene.timeout is not None:
                options.append((None, scene.timeout))
            judged = judge([o for _, o in options], [self.value(o) for _, o in options])
            for index, (choice_id, option) in enumerate(options):
                if self.work >= self.max_work:
                    self._stop("work")  # this state's other options are not followed
                    break
                self.work += EDGE_WORK + width
                nxt = run.copy()
                nxt.meters = rules.apply_effects(s, nxt.meters, option.effects)
                nxt.flags = rules.apply_flags(nxt.flags, option.set)
                nxt.scene = option.to
                value = self.value(option)
                credited = judged.credited[index]
                regret = CRITICAL_COST if option.critical else judged.stakes - judged.scored(index)
                if not self.settle(nxt):
                    info.edges.append(
                        Edge(choice_id, None, value, regret, option.critical, loops=True, credited=credited)
                    )
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
                info.edges.append(Edge(choice_id, target, value, regret, option.critical, credited=credited))

    # -- paths --

    def _decisions(self, steps: list[tuple[StateKey, Edge]]) -> PathResult:
        decisions = [Decision(i, self.states[k].scene, e.choice) for i, (k, e) in enumerate(steps, 1)]
        choices = [e.choice for _, e in steps if e.choice is not None]
        timeouts = [self.states[k].scene for k, e in steps if e.choice is None]
        last = steps[-1][1].target if steps else self.start
        ending = self.states[last].scene if last in self.states and self.states[last].kind == "ending" else None
        # The state graph does not count decisions (that would multiply the states); a run stops
        # at max_decisions, so a longer path cannot be played, nor graded, to its ending.
        over = len(decisions) > self.scenario.max_decisions
        g = grade(self.scenario, self.rubric, decisions) if ending and not over else None
        return PathResult(choices, timeouts, decisions, ending, g, over)

    def best_path(self) -> PathResult | None:
        """Least total regret to any ending; ties broken by rating, then length. A critical error
        is never taken: when no path without one reaches an ending among the states explored
        (e.g. the state bound stopped the search early), there is no best path."""
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
                if edge.target is None or edge.critical:
                    continue
                new = (cost + edge.regret, length + 1)
                if edge.target not in dist or new < dist[edge.target]:
                    dist[edge.target] = new
                    parent[edge.target] = (key, edge)
                    counter += 1
                    heapq.heappush(heap, (new[0], new[1], counter, edge.target))
        if best_end is None:
            return None
        return self._decisions(self._steps(parent, best_end[3]))

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
                    key=lambda e: (e.critical is None, e.credited),
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

    # -- grades against endings --

    def _order(self) -> tuple[list[StateKey], dict[StateKey, list[Edge]], bool]:
        """The states reachable from the start without a critical error, in topological order,
        with their forward edges; edges that close a loop of states are left out (third value:
        whether any was), so every path followed is one a trainee can really play."""
        assert self.start is not None
        forward: dict[StateKey, list[Edge]] = {}
        state: dict[StateKey, int] = {self.start: 1}  # 1: on the DFS stack, 2: done
        postorder: list[StateKey] = []
        looped = False
        stack = [(self.start, iter(self._safe_edges(self.start)))]
        forward[self.start] = []
        while stack:
            key, edges = stack[-1]
            for edge in edges:
                target = edge.target
                assert target is not None
                mark = state.get(target)
                if mark == 1:
                    looped = True
                    continue
                forward[key].append(edge)
                if mark is None:
                    state[target] = 1
                    forward[target] = []
                    stack.append((target, iter(self._safe_edges(target))))
                    break
            else:
                stack.pop()
                state[key] = 2
                postorder.append(key)
        return postorder[::-1], forward, looped

    def _safe_edges(self, key: StateKey) -> list[Edge]:
        info = self.states.get(key)
        if info is None or info.kind != "decision":
            return []
        return [e for e in info.edges if e.target is not None and not e.critical and e.target in self.states]

    def _margins(self, key: StateKey, dims: list[str]) -> dict[str | None, tuple[float, ...]]:
        """Per edge of a decision state (by choice id): how far it moves each pass condition:
        the score above the pass mark, what is at stake, and each dimension above the minimum.
        They depend only on the options on offer, so states that offer the same ones share them.
        Floats are enough here: every path found is then graded exactly."""
        info = self.states[key]
        offer = (info.scene, tuple(e.choice for e in info.edges))
        cached = self._margin_cache.get(offer)
        if cached is not None:
            return cached
        scene = self.scenario.scenes[info.scene]
        by_id = self._choices.get(info.scene)
        if by_id is None:  # per scene, not per edge: a hub may offer thousands of choices
            by_id = self._choices[info.scene] = {c.id: c for c in scene.choices}
        options: list[Choice | Timeout] = [
            by_id[e.choice] if e.choice is not None else scene.timeout  # type: ignore[misc]
            for e in info.edges
        ]
        judged = judge(options, [self.value(o) for o in options])
        weights = stake_weights(options, {d: self.rubric.dimension_principles(d) for d in dims})
        rule = self.rubric.pass_
        out: dict[str | None, tuple[float, ...]] = {}
        stakes = judged.stakes
        for index, edge in enumerate(info.edges):
            scored = judged.scored(index)
            row = [(100 * scored - rule.score * stakes) / 100, float(stakes)]
            for d in dims:
                w = weights[d] if stakes else 0
                row.append(w * (100 * scored - rule.dimension_min * stakes) / (100 * stakes) if w else 0.0)
            out[edge.choice] = tuple(row)
        self._margin_cache[offer] = out
        return out

    def grade_mismatches(self) -> tuple[list[dict[str, Any]], str]:
        """Paths without a critical error whose grade disagrees with their ending: an ending
        rated `good` reached with a failing grade, or one rated `poor` with a passing grade.

        Passing is a set of sums over the path's decisions, each of which must stay at or above
        zero: (score - pass mark) x stakes, the stakes themselves, and (dimension score -
        minimum) x its weight. So the lowest of each sum to every ending is a shortest-path
        problem on the state graph (exact, one pass in topological order); the path found for
        each is then graded for real. For `poor` endings (when the pass rule lets them pass) the
        highest score and the highest of each dimension are tried. Returns the disagreements (one
        per ending scene) and, when the check could not be complete, why."""
        if self.start is None:
            return [], ""
        rule = self.rubric.pass_
        dims = list(self.rubric.dimensions)
        order, forward, looped = self._order()
        margins = {k: self._margins(k, dims) for k in order if forward.get(k)}
        # the score, the stakes, and the dimensions ever at stake (the others cannot fail a run)
        rows = [row for m in self._margin_cache.values() for row in m.values()]
        live = {0, 1} | {2 + i for i in range(len(dims)) if any(row[2 + i] for row in rows)}
        endings: dict[str, list[StateKey]] = {}
        for key in order:
            info = self.states[key]
            if info.kind == "ending":
                endings.setdefault(info.scene, []).append(key)
        wanted = {"good": -1, **({"poor": 1} if "poor" in rule.ratings else {})}  # -1: lowest sums, 1: highest
        found: dict[str, dict[str, Any]] = {}
        graded = skipped = over_limit = 0
        budget = graded_paths(self.scenario)
        for rating, sign in wanted.items():
            scenes = [sid for sid in endings if self.scenario.scenes[sid].end.rating == rating]  # type: ignore[union-attr]
            if not scenes:
                continue
            criteria = [c for c in range(2 + len(dims)) if c in live and not (sign > 0 and c == 1)]
            runs = [(c, *self._extreme(order, forward, margins, c, sign)) for c in criteria]
            for sid in scenes:
                for criterion, dist, parent in runs:
                    reached = [k for k in endings[sid] if k in dist]
                    if not reached:
                        break
                    key = min(reached, key=lambda k, d=dist: -sign * d[k])  # the lowest, or the highest
                    fails = dist[key] == 0 if criterion == 1 else dist[key] < NEAR_ZERO
                    if sign < 0 and not fails:
                        continue
                    if sign > 0 and criterion == 0 and dist[key] < -NEAR_ZERO:
                        break  # even the best score on the way to this ending is below the pass mark
                    if graded >= budget:
                        skipped += 1
                        break
                    graded += 1
                    path = self._decisions(self._steps(parent, key))
                    g = path.grade
                    over_limit += path.over_limit
                    if g is None or g.passed == (rating == "good"):
                        continue
                    found[sid] = {
                        "ending": sid,
                        "rating": rating,
                        "score": g.overall,
                        "performance": g.performance,
                        "passed": g.passed,
                        "reasons": g.reasons,
                        "choices": path.choices,
                        "timeouts": path.timeouts,
                    }
                    break
        partial = []
        if self.bound_hit:
            partial.append("the state bound was hit, so some paths were never explored")
        if looped:
            partial.append("paths that go round a loop of states were not checked")
        if over_limit:
            partial.append(
                f"{over_limit} path(s) take more than the scenario's max_decisions "
                f"({self.scenario.max_decisions:,}) and were not graded"
            )
        if skipped:
            partial.append(
                f"{skipped} more ending(s) were not checked: {budget} path(s) at most are graded in a scenario "
                f"of {len(self.scenario.scenes):,} scenes; fix the disagreements shown and run it again"
            )
        return list(found.values()), "; ".join(partial)

    @staticmethod
    def _extreme(
        order: list[StateKey],
        forward: dict[StateKey, list[Edge]],
        margins: dict[StateKey, dict[str | None, tuple[float, ...]]],
        criterion: int,
        sign: int,
    ) -> tuple[dict[StateKey, float], dict[StateKey, tuple[StateKey, Edge]]]:
        """The lowest (sign -1) or highest (sign 1) sum of one margin from the start to every
        state, over the acyclic forward edges, with the last step of each such path."""
        dist: dict[StateKey, float] = {order[0]: 0.0}
        parent: dict[StateKey, tuple[StateKey, Edge]] = {}
        for key in order:
            here = dist.get(key)
            if here is None:
                continue
            for edge in forward.get(key, ()):
                target = edge.target
                assert target is not None
                total = here + margins[key][edge.choice][criterion]
                old = dist.get(target)
                if old is None or (total > old if sign > 0 else total < old):
                    dist[target] = total
                    parent[target] = (key, edge)
        return dist, parent

    def _steps(self, parent: dict[StateKey, tuple[StateKey, Edge]], key: StateKey) -> list[tuple[StateKey, Edge]]:
        steps: list[tuple[StateKey, Edge]] = []
        while key in parent:
            prev, edge = parent[key]
            steps.append((prev, edge))
            key = prev
        return steps[::-1]

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


def graded_paths(scenario: Scenario) -> int:
    """How many paths the grade check grades: MAX_GRADED_PATHS, down to 1 for scenarios of
    thousands of scenes, so a huge file costs at most about one more grade than the best and
    worst paths do."""
    return max(1, min(MAX_GRADED_PATHS, 5_000 // max(1, len(scenario.scenes))))


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
    """Explore ``scenario`` and report (see the module docstring). The cyclic garbage collector
    is paused throughout: the state graph is built of tuples, dicts and dataclasses with no
    reference cycles, but the collector would walk all of it again and again as it grows, and
    again while paths are searched and graded (issue 16: 30.9 s with it on, 16.9 s paused, on
    the 10,000-scene chain)."""
    with gc_paused():
        return _analyze(scenario, rubric, max_states, max_work)


def _analyze(scenario: Scenario, rubric: Rubric, max_states: int, max_work: int) -> Analysis:
    ex = Explorer(scenario, rubric, max_states, max_work)
    ex.explore()
    points_of: dict[str, dict[str | None, tuple[tuple[str, int], ...]]] = {}  # per scene, not per edge
    reached_endings = {i.scene for i in ex.states.values() if i.kind == "ending"}
    endings = {sid: sid in reached_endings for sid in scenario.endings()}
    uniform: dict[str, dict[str, Any]] = {}
    single: set[str] = set()
    dead: dict[str, dict[str, Any]] = {}
    principles: set[str] = set()
    criticals: set[str] = set()
    loops: dict[tuple[str, str | None], dict[str, Any]] = {}
    if ex.start_loops:
        loops[(scenario.start, "(start)")] = {"scene": scenario.start, "choice": "(start)"}
    for _key, info in ex.states.items():
        for edge in info.edges:
            if edge.critical:
                criticals.add(edge.critical)
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
    mismatches, partial = ex.grade_mismatches()
    best = ex.best_path()
    structure = measure(ex, len(best.decisions) if best else 0) if ex.start is not None else None
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
        best=best,
        worst=ex.worst_path(),
        uniform_decisions=list(uniform.values()),
        single_option_decisions=sorted(single),
        dead_ends=list(dead.values()),
        auto_loops=list(loops.values()),
        farming=ex.farming(),
        principles=sorted(principles),
        dimensions=dims,
        critical_errors=sorted(criticals),
        empty_outcomes=empty_outcomes(ex),
        grade_mismatches=mismatches,
        grade_check_partial=partial,
        structure=structure,
        label=scenario.difficulty,
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
    for sid, scene in scenario.scenes.items():
        _acceptable_order(sid, scene, rub, report)
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


def _acceptable_order(sid: str, scene: Scene, rubric: Rubric, report: Reporter) -> None:
    """Warn when an option marked ``acceptable: true`` is worth less than an option that is not
    marked and not the best: the weaker one would then count as the best while the stronger one
    is marked down. Mark the stronger one too, or check the points."""
    options: list[tuple[Loc, Choice | Timeout]] = [
        (("scenes", sid, "choices", i), c) for i, c in enumerate(scene.choices)
    ]
    if scene.timeout is not None:
        options.append((("scenes", sid, "timeout"), scene.timeout))
    if not all(p in rubric.principles for _, o in options for p in o.scores):
        return  # reported as unknown principles already
    values = [option_value(o.scores, rubric) for _, o in options]
    safe = [v for (_, o), v in zip(options, values, strict=True) if not o.critical]
    if not safe:
        return
    best = max(safe)
    for (loc, option), value in zip(options, values, strict=True):
        if not option.acceptable or option.critical:
            continue
        stronger = [
            (o, v)
            for (_, o), v in zip(options, values, strict=True)
            if not o.acceptable and not o.critical and value < v < best
        ]
        if stronger:
            other, worth = max(stronger, key=lambda ov: ov[1])
            this = f"choice '{option.id}'" if isinstance(option, Choice) else "the timeout"
            that = f"choice '{other.id}'" if isinstance(other, Choice) else "the timeout"
            report.warn(
                (*loc, "acceptable"),
                "acceptable-worth-less",
                f"{this} in scene '{sid}' is marked acceptable, so it counts as the best ({best}), but it is worth "
                f"{value}, less than {that} (worth {worth}), which is not marked and counts as {worth}; "
                "mark that one acceptable too, or check the points",
            )
