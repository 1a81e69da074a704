"""The playtest debug panel: for the current scene each choice and auto move with its condition
and whether it holds right now, then every meter (hidden ones too), every flag and the visit counts.

Whether a condition holds is asked of ``simulator.rules.holds``, the same function the engine
uses, so the panel cannot disagree with play. Holding is shown as a symbol and a word (✓ holds,
✗ fails), never by colour alone. All scenario text goes through ``plain``/``parts``.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from simulator import rules
from simulator.engine import Session
from simulator.tui.text import parts


def mark(holds: bool) -> str:
    return "✓ holds" if holds else "✗ fails"


def debug_content(session: Session) -> Content:
    """What the panel shows for ``session`` now (a pure function of the session)."""
    s = session.scenario
    out: list[str | tuple[str, str]] = []

    def heading(text: str) -> None:
        out.append((f"{text}\n", "bold"))

    if session.finished:
        state = "ended"
    elif session.stuck:
        state = "stuck"
    else:
        state = "waiting" if session.waiting else "not started"
    out.append(("Scene: ", "bold"))
    out.append(f"{session.scene} (visit {session.visits.get(session.scene, 0)}, {state})\n\n")

    scene = s.scenes[session.scene]
    heading(f"Choices in {session.scene}")
    for choice in scene.choices:
        if choice.if_ is None:
            out.append(f"  ✓ always  {choice.id} → {choice.to}\n")
        else:
            holds = rules.holds(s, choice.if_, session)
            out.append(f"  {mark(holds)}  {choice.id} → {choice.to}\n      if {choice.if_}\n")
    if not scene.choices:
        out.append("  (none)\n")

    if scene.auto:
        heading(f"\nAuto moves in {session.scene}")
        for auto in scene.auto:
            if auto.if_ is None:
                out.append(f"  ✓ always  → {auto.to}\n")
            else:
                holds = rules.holds(s, auto.if_, session)
                out.append(f"  {mark(holds)}  → {auto.to}\n      if {auto.if_}\n")
    if scene.timeout is not None:
        heading("\nTimeout")
        out.append(f"  after {scene.timeout.seconds} s → {scene.timeout.to}\n")
    heading("\nMeters")
    for name, meter in s.meters.items():
        hidden = "" if meter.show else "  (hidden)"
        out.append(f"  {name} = {session.meters[name]}  [{meter.min}..{meter.max}]{hidden}\n")
    if not s.meters:
        out.append("  (none)\n")

    heading("\nFlags")
    for name, flag in s.flags.items():
        value = "true" if session.flags[name] else "false"
        hidden = "" if flag.show else "  (hidden)"
        out.append(f"  {name} = {value}{hidden}\n")
    if not s.flags:
        out.append("  (none)\n")

    heading("\nVisits")
    visited = [(sid, n) for sid, n in session.visits.items() if n]
    out.extend(f"  {sid} × {n}\n" for sid, n in visited)
    if not visited:
        out.append("  (none yet)\n")

    return parts(*out)


class DebugPanel(VerticalScroll):
    """Hidden until toggled; ``show_session`` redraws it from the session's current state."""

    can_focus = True

    def compose(self) -> ComposeResult:
        yield Static("", id="debug-text", markup=False)

    def show_session(self, session: Session) -> None:
        self.query_one("#debug-text", Static).update(debug_content(session))
