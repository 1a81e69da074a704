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
        super().__init__(meter_content(meter, value), markup=False, id=f"meter-{meter_id}", classes="meter")
        self.meter = meter
        self.show_value(value)

    def show_value(self, value: int) -> None:
        self.update(meter_content(self.meter, value))
        for state in ("good", "mid", "bad", "neutral"):
            self.set_class(state == meter_state(self.meter, value), f"-{state}")


class StatusPanel(Vertical):
    """The side panel of the play screen: visible meters, then situation notes."""

    def __init__(self, meters: dict[str, Meter], values: dict[str, int], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._meters = {k: m for k, m in meters.items() if m.show}
        self._values = values

    def compose(self) -> ComposeResult:
        for meter_id, meter in self._meters.items():
            yield MeterBar(meter_id, meter, self._values[meter_id])
        yield Static("", id="notes", markup=False)

    def refresh_values(self, values: dict[str, int], notes: list[str]) -> None:
        for meter_id in self._meters:
            self.query_one(f"#meter-{meter_id}", MeterBar).show_value(values[meter_id])
        text = "\n".join(f"• {note}" for note in notes)
        self.query_one("#notes", Static).update(plain(text) if text else Content(""))
