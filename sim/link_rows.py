"""Mission items as the MAVLink mission protocol carries them, and the read-back check.

A row is ``(command, frame, p1, p2, p3, p4, x, y, z)`` with ``x``/``y`` in 1e-7 degrees
as ``MISSION_ITEM_INT`` carries them; a mission's row 0 is home. Fences travel as
``MAV_MISSION_TYPE_FENCE`` rows: ``FENCE_POLYGON_VERTEX_INCLUSION``/``EXCLUSION`` (one row
per vertex, ``param1`` the vertex count) and ``FENCE_CIRCLE_INCLUSION``/``EXCLUSION``
(``param1`` the radius in metres).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mission.items import POSITION_COMMANDS, Cmd, Frame, MissionItem
from mission.plan import FenceCircle, FencePolygon, Geofence, Home

__all__ = ["ALT_TOLERANCE_M", "Row", "compare_rows", "deg_e7", "fence_rows", "home_row"]
__all__ += ["item_row"]

Row = tuple[int, int, float, float, float, float, int, int, float]
#: ArduPilot keeps altitudes in whole centimetres (truncated), so a read-back may be up
#: to a centimetre lower than what was sent; params travel as float32.
ALT_TOLERANCE_M = 0.011
_FENCE_COMMANDS = frozenset(range(5001, 5005))


def deg_e7(deg: float) -> int:
    return round(deg * 1e7)


def item_row(item: MissionItem) -> Row:
    """``item`` as a mission-protocol row (``x``/``y`` in 1e-7 degrees)."""
    return (
        int(item.command),
        int(item.frame),
        float(item.param1),
        float(item.param2),
        float(item.param3),
        float(item.param4),
        deg_e7(item.lat_deg),
        deg_e7(item.lon_deg),
        float(item.alt_m),
    )


def home_row(home: Home) -> Row:
    """Home as a mission's row 0: a waypoint above mean sea level."""
    x, y = deg_e7(home.lat_deg), deg_e7(home.lon_deg)
    return (int(Cmd.NAV_WAYPOINT), int(Frame.GLOBAL), 0.0, 0.0, 0.0, 0.0, x, y, home.alt_amsl_m)


def fence_rows(fence: Geofence) -> list[Row]:
    """The fence as ``MAV_MISSION_TYPE_FENCE`` rows: one per polygon vertex, one per circle."""
    rows: list[Row] = []
    for polygon in fence.polygons:
        rows += _polygon_rows(polygon)
    for circle in fence.circles:
        rows.append(_circle_row(circle))
    return rows


def _polygon_rows(polygon: FencePolygon) -> list[Row]:
    command = 5001 if polygon.inclusion else 5002  # MAV_CMD_NAV_FENCE_POLYGON_VERTEX_*
    count = float(len(polygon.vertices))
    return [
        (command, int(Frame.GLOBAL), count, 0.0, 0.0, 0.0, deg_e7(lat), deg_e7(lon), 0.0)
        for lon, lat in polygon.vertices
    ]


def _circle_row(circle: FenceCircle) -> Row:
    command = 5003 if circle.inclusion else 5004  # MAV_CMD_NAV_FENCE_CIRCLE_*
    x, y = deg_e7(circle.lat_deg), deg_e7(circle.lon_deg)
    return (command, int(Frame.GLOBAL), float(circle.radius_m), 0.0, 0.0, 0.0, x, y, 0.0)


def _positioned(row: Row) -> bool:
    return row[0] in POSITION_COMMANDS or row[0] in _FENCE_COMMANDS or row[6:8] != (0, 0)


def compare_rows(sent: Sequence[Row], got: Sequence[Row], first: int = 0) -> str | None:
    """The first difference between what was sent and what was read back, or None.

    Rows before ``first`` are not compared (a mission's row 0 is the vehicle's own home).
    Commands must be equal; frames where the row has a position (ArduPilot reports
    ``DO_`` commands in another frame); params within float32 precision; ``x``/``y``
    within one unit of 1e-7 degrees; ``z`` within :data:`ALT_TOLERANCE_M`.
    """
    if len(sent) != len(got):
        return f"the vehicle holds {len(got)} items, {len(sent)} were sent"
    names = ("command", "frame", "param1", "param2", "param3", "param4", "x", "y", "z")
    for seq in range(first, len(sent)):
        a, b = sent[seq], got[seq]
        for i, name in enumerate(names):
            if i == 1 and not _positioned(a):
                continue
            if i in (0, 1):
                same = int(a[i]) == int(b[i])
            elif i in (6, 7):
                same = abs(int(a[i]) - int(b[i])) <= 1
            elif i == 8:
                same = abs(float(a[i]) - float(b[i])) <= ALT_TOLERANCE_M
            else:
                x, y = float(a[i]), float(b[i])
                same = (math.isnan(x) and math.isnan(y)) or math.isclose(
                    x, y, rel_tol=1e-6, abs_tol=1e-6
                )
            if not same:
                return f"item {seq} (command {a[0]}): {name} sent {a[i]!r}, read back {b[i]!r}"
    return None
