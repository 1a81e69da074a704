"""Meters as labelled bars with their numbers (never colour alone) and flags as notes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from simulator.model import Meter
from simulator.tui.text import parts, plain

BAR_WIDTH = 10


def meter_state(meter: Meter, value: int) -> str:
    """'good', 'mid' or 'bad' by where the value sits between min and max and which end is good."""
    if meter.good is None:
        return "neutral"
    span = max(1, meter.max - meter.min)
    position = (value - meter.min) / span
    goodness = 1 - position if meter.good == "low" else position
    return "good" if goodness >= 0.6 else "mid" if goodness >= 0.35 else "bad"


def meter_content(meter: Meter, value: int) -> Content:
    span = max(1, meter.max - meter.min)
    filled = round((value - meter.min) / span * BAR_WIDTH)
    hint = {"low": " (lower is better)", "high": " (higher is better)"}.get(meter.good or "", "")
    bar = "█" * filled + "░" * (BAR_WIDTH - filled)
    return parts((meter.label, "bold"), "\n", (bar, ""), f" {value}/{meter.max}", ("\n" + hint.strip() if hint else ""))


class MeterBar(Static):
    """One meter: label, bar, number and which end is good; the class says good/mid/bad."""

    def __init__(self, meter_id: str, meter: Meter, value: int) -> None:
        super().__init__(meter_content(meter, value), markup=False, classes="meter")
        self.meter_id = meter_id
        self.meter = meter
        self._shown: int | None = None
        self.show_value(value)

    def show_value(self, value: int) -> None:
        if value == self._shown:
            return  # the panel is refreshed after every event of a choice; most change no meter
        self._shown = value
        self.update(meter_content(self.meter, value))
        for state in ("good", "mid", "bad", "neutral"):
            self.set_class(state == meter_state(self.meter, value), f"-{state}")


class StatusPanel(Vertical):
    """The side panel of the play screen: visible meters, then situation notes."""

    def __init__(self, meters: dict[str, Meter], values: dict[str, int], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._bars = self._make_bars(meters, values)
        self._notes: str | None = None

    @staticmethod
    def _make_bars(meters: dict[str, Meter], values: dict[str, int]) -> dict[str, MeterBar]:
        return {k: MeterBar(k, m, values[k]) for k, m in meters.items() if m.show}

    def compose(self) -> ComposeResult:
        yield from self._bars.values()
        yield Static("", id="notes", markup=False)

    def rebuild(self, meters: dict[str, Meter], values: dict[str, int]) -> None:
        """Show another set of meters (a playtest reloaded a scenario whose meters changed)."""
        for bar in self._bars.values():
            bar.remove()
        self._bars = self._make_bars(meters, values)
        if self._bars:
            self.mount_all(list(self._bars.values()), before=self.query_one("#notes"))

    def refresh_values(self, values: dict[str, int], notes: list[str]) -> None:
        for meter_id, bar in self._bars.items():
            bar.show_value(values[meter_id])
        text = "\n".join(f"• {note}" for note in notes)
        if text != self._notes:
            self._notes = text
            self.query_one("#notes", Static).update(plain(text) if text else Content(""))
