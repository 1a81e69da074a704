"""Looping policies: every run ends, within ``max_decisions``, and loses no decision it made.

A valid scenario may loop on purpose (ask again, wait and see). ``crisis-sim run --policy
first`` always takes the first choice, so on a scenario whose first choice loops back it never
reached an ending: 33,000 decisions committed in 30 s and the records file growing (issue 12).
Generated here: small scene graphs where choices loop back (the first one or any), timers that
loop, endings reachable only off the first choice, and limits from 1 to 60; played with
``--policy first`` and ``--policy random --seed N`` through the command line, recorded. The
property: the command returns within the hang guard; the run made at most ``max_decisions``
decisions; it either reached an ending (exit 0) or stopped at the limit with exactly one line
on stderr and exit 1; the records hold exactly the decisions made, in order, and an attempt
stopped at the limit is marked abandoned, so nobody is offered to resume it.
"""

from __future__ import annotations

import json

from cli_runner import run_cli
from hypothesis import event, given
from hypothesis import strategies as st
from test_run_cli import cli

from simulator.records import Store

HEADER = """\
format: 1
id: loops
title: Loops
version: "1"
summary: Generated loops.
difficulty: introductory
minutes: 1
briefing: Generated.
"""


@st.composite
def looping_scenarios(draw) -> tuple[str, int]:
    """(YAML text, max_decisions): a chain of ``n`` scenes whose first choice always loops
    back (to itself or an earlier scene), then a choice forward (the last one to the ending),
    then maybe one more to anywhere; some scenes have a timer that loops back too."""
    n = draw(st.integers(1, 5))
    limit = draw(st.integers(1, 60))
    lines = [HEADER, f"max_decisions: {limit}\n", "start: s0\nscenes:\n"]
    for i in range(n):
        lines.append(f"  s{i}:\n    text: Scene {i}.\n")
        if draw(st.booleans()):
            lines.append(f"    timeout: {{seconds: 30, to: s{draw(st.integers(0, i))}}}\n")
        forward = f"s{i + 1}" if i + 1 < n else "done"
        lines.append("    choices:\n")
        lines.append(f"      - {{id: loop{i}, text: Again, to: s{draw(st.integers(0, i))}}}\n")
        lines.append(f"      - {{id: on{i}, text: On, to: {forward}}}\n")
        if draw(st.booleans()):
            lines.append(f"      - {{id: any{i}, text: Any, to: s{draw(st.integers(0, n - 1))}}}\n")
    lines.append("  done:\n    end: {rating: good, outcome: Done.}\n")
    return "".join(lines), limit


def check_run(tmp_path, text: str, limit: int, policy: list[str]) -> None:
    path = tmp_path / "loops.yaml"
    path.write_text(text, encoding="utf-8")
    db = tmp_path / "records.sqlite3"
    db.unlink(missing_ok=True)
    code, out, err = run_cli(
        ["run", str(path), *policy, "--json", "--db", str(db)], seconds=60, what="looping policy"
    )
    transcript = json.loads(out)
    made = [(d["scene"], d["choice"]) for d in transcript["decisions"]]
    assert len(made) <= limit
    with Store.open(db, create=False) as store:
        [attempt] = list(store.attempts())
        stored = [(d.scene, d.choice) for d in store.decisions(attempt.id)]
    assert stored == made  # every decision made is kept, nothing more
    if transcript["finished"]:
        event("reached the ending")
        assert code == 0 and err == "" and attempt.status == "completed"
    else:
        event("stopped at the limit")
        assert len(made) == limit and code == 1
        assert err.count("\n") == 1 and err.startswith(
            f"crisis-sim: error: the run reached {limit:,} decisions, the most this scenario allows"
        )
        assert f"saved in attempt {attempt.id[:8]}, marked abandoned" in err
        assert attempt.status == "abandoned"


@given(scenario=looping_scenarios(), seed=st.integers(0, 2**16), first=st.booleans())
def test_every_policy_run_ends_within_max_decisions(tmp_path_factory, scenario, seed, first):
    text, limit = scenario
    policy = ["--policy", "first"] if first else ["--policy", "random", "--seed", str(seed)]
    check_run(tmp_path_factory.mktemp("run"), text, limit, policy)


LOOP = HEADER + """\
start: hub
scenes:
  hub:
    text: Sam paces.
    choices:
      - {id: again, text: Ask again, to: hub}
      - {id: leave, text: Leave, to: done}
  done:
    end: {rating: good, outcome: Done.}
"""


def test_issue_policy_first_on_a_first_choice_that_loops_stops_at_the_default(tmp_path):
    """The scenario from the issue, with no max_decisions: the default (1,000) stops it."""
    path = tmp_path / "loop.yaml"
    path.write_text(LOOP, encoding="utf-8")
    db = tmp_path / "records.sqlite3"
    code, out, err = run_cli(["run", str(path), "--policy", "first", "--db", str(db)], seconds=120,
                             what="the issue's loop")
    assert code == 1
    with Store.open(db, create=False) as store:
        [attempt] = list(store.attempts())
        assert len(store.decisions(attempt.id)) == 1000 and attempt.status == "abandoned"
    assert err == (
        "crisis-sim: error: the run reached 1,000 decisions, the most this scenario allows (its max_decisions), "
        f"and stopped in scene 'hub'; its decisions are saved in attempt {attempt.id[:8]}, marked abandoned; "
        "--policy first takes the same loop every time: try --choose or --policy random\n"
    )
    assert out.count("> Decision ") == 1000
    assert out.rstrip().endswith(
        "!! The run reached 1,000 decisions, the most this scenario allows (its max_decisions), and stopped in "
        "scene 'hub'."
    )
    again = run_cli(["resume", attempt.id[:8], "--policy", "first", "--db", str(db)])
    assert again.code == 1 and again.stderr == (
        f"crisis-sim: error: attempt {attempt.id[:8]} is abandoned; only attempts in progress can be resumed\n"
    )


def test_interactive_run_stops_at_the_limit_too(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text(LOOP.replace("start: hub", "max_decisions: 3\nstart: hub"), encoding="utf-8")
    result = cli("run", str(path), "--no-record", stdin="1\n1\n1\n1\n1\n")
    assert result.returncode == 1
    assert result.stdout.count("> Decision ") == 3
    assert result.stderr == (
        "crisis-sim: error: the run reached 3 decisions, the most this scenario allows (its max_decisions), "
        "and stopped in scene 'hub'\n"
    )
