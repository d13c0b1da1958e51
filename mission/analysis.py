"""What a plan does when flown: path, time, photos, GSD and coverage, computed from its items.

Everything here is derived from the mission items alone (plus the plan's camera and
target where known), so a plan read from any file gets the same numbers as one just
planned: the coverage figure is a union of the photo footprints the items would
produce, not a promise of the planner.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Photo:
    """One photo the mission takes, in the plan's home-centred local frame.

    ``yaw_deg`` is the camera heading (0 north, 90 east); ``pitch_deg`` is -90 looking
    straight down and 0 looking level.
    """

    x_m: float
    y_m: float
    alt_rel_m: float
    yaw_deg: float
    pitch_deg: float
    lon_deg: float
    lat_deg: float
    sortie: int
