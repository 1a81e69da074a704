"""The app's commands in the command palette (Ctrl+P): open a scenario by its title, and the app's
own actions (see ``CrisisSimApp.get_system_commands``).

Scenario titles and summaries come from many hands, and the palette reads a plain string as
markup: every hit here is built from literal ``Content`` (``simulator.tui.text``), never a str."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from simulator.prose import paragraphs
from simulator.tui.text import plain

PREFIX = "Open scenario: "


def _hit_texts(entry: Any) -> tuple[str, Content, Content]:
    s = entry.info  # from the library cache: the palette loads no scenario
    summary = paragraphs(s.summary)
    help_text = f"{s.difficulty} · about {s.minutes} min · {summary[0] if summary else ''}".rstrip(" ·")
    return f"{PREFIX}{s.title}", plain(f"{PREFIX}{s.title}"), plain(help_text)


class ScenarioCommands(Provider):
    """One command per scenario in the library; offered only where opening one makes sense (after
    sign-in, not in the middle of play: leave the scenario first)."""

    def _entries(self) -> Iterator[Any]:
        app = self.app
        if not getattr(app, "can_open_scenarios", lambda: False)():
            return
        yield from getattr(app, "entries", [])

    async def discover(self) -> Hits:
        for entry in self._entries():
            name, display, help_text = _hit_texts(entry)
            yield DiscoveryHit(display, self._opener(entry), text=name, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in self._entries():
            name, display, help_text = _hit_texts(entry)
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, display, self._opener(entry), text=name, help=help_text)  # type: ignore[arg-type]

    def _opener(self, entry: Any) -> Any:
        def open_it() -> None:
            self.app.open_scenario(entry)  # type: ignore[attr-defined]

        return open_it
