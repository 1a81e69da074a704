"""Help: the keys, what the meters mean, what the modes do."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from simulator.tui.text import plain

HELP_TEXT = """\
crisis-sim: practise crisis intervention; mistakes cost nothing.

KEYS
  1-9       choose an option by its number (while playing)
  ↑ ↓ Enter move through the options and choose one (or click)
  Enter     at the ending: go on to the debrief
  t         read the transcript with ↑ ↓ PgUp PgDn Home End;
            t again goes back to the options
  p         pause (the timer stops)
  d         debug panel (playtests started with play --watch)
  ?  F1     this help
  Ctrl+P    command palette: open a scenario, switch mode,
            time pressure or free text, sign out, quit
  q  Ctrl+Q quit (asks first; progress is saved, and an
            unfinished scenario can be resumed)
  /         filter the library by words, or tag:NAME
  a         My attempts (library): reopen a debrief, resume or
            discard an unfinished attempt, your trend
  o         sign out (library)
  Escape    back

METERS
  The bars on the right show how the person in crisis is doing,
  as the scenario tracks it: for example Agitation (lower is
  better) and Rapport (higher is better). Each bar shows its
  number and which end is good; the colour only repeats that.
  The notes under the bars are facts about the situation (e.g.
  "You asked directly about suicide").

TIMED SCENES
  Some moments have a countdown: if you do not act in time, the
  scene moves on. You can turn time pressure off on the briefing
  (accessibility); the scenario then waits for you. A resumed
  attempt keeps its mode and time pressure; a resumed timed scene
  starts its countdown again from the full time.

MODES
  Assessment  no feedback until the debrief at the end (default;
              how academies test).
  Coach       after each choice: its points, why, and the
              better option if there was one.

FREE TEXT (f on the briefing)
  Type what you would say or do, then Enter. The closest option
  is shown with its text: Enter confirms it, its number picks
  another, a types again. Not understood: every option is
  listed; pick one by its number. The countdown keeps running
  while you type. What you typed is kept with your records and
  shown in the debrief.

THE DEBRIEF
  The ending and its rating, your score and whether you passed
  (with every reason if not), a bar per dimension, any critical
  errors, and each decision with the better option and why.
  Scores follow MHFA (ALGEE) and CIT/ICAT principles.

Press Escape, q or ? to close this help.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Static(plain(HELP_TEXT), markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
