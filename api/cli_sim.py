"""``skyledger sim render: footage of the synthetic world along a flown track (work in sim.render)``."""

from __future__ import annotations

from typing import Any


def add_commands(sub: Any) -> None:
    """Add this module's commands to the ``skyledger`` sub-command parsers (none yet)."""
