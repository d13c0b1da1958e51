"""``skyledger detect: footage or photos to a located, de-duplicated defect list (work in vision.pipeline)``."""

from __future__ import annotations

from typing import Any


def add_commands(sub: Any) -> None:
    """Add this module's commands to the ``skyledger`` sub-command parsers (none yet)."""
