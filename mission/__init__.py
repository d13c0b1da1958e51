"""Flight planning: geodesy, cameras, plans, the inspection planners and mission file formats.

This package imports nothing else of skyledger's and does no network, database or
subprocess I/O; the readers and writers in :mod:`mission.formats` take and return text.
"""

from mission.errors import MissionError

__all__ = ["MissionError"]
