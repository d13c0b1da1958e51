"""``skyledger vision train|eval: train and evaluate detection models (work in vision.training)``."""

from __future__ import annotations

from typing import Any


def add_commands(sub: Any) -> None:
    """Add this module's commands to the ``skyledger`` sub-command parsers (none yet)."""
