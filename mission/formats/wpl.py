"""``QGC WPL 110`` waypoint files (``.waypoints``) as Mission Planner writes them.

The first line is ``QGC WPL 110``; then one tab-separated line per item::

    seq  current  frame  command  p1  p2  p3  p4  lat  lon  alt  autocontinue

Line 0 is home (current 1, frame 0 = above sea level, command 16); the sortie's items
follow from seq 1. Numbers are written with all the digits they need to read back
exactly. Only home and the items survive: a plan read from one is ``"imported"``.
"""

from __future__ import annotations

import math

from mission.errors import MissionError
from mission.formats.plan_json import number_text
from mission.items import Cmd, Frame, MissionItem
from mission.plan import Home, Plan

HEADER = "QGC WPL 110"
COLUMNS = "seq current frame command p1 p2 p3 p4 lat lon alt autocontinue"
# QGC WPL 100 (QGroundControl before 2011) ordered its 13 columns differently and
# numbered its commands itself: seq frame action p3 p4 p1 p2 current lon lat alt - autocontinue.
_V100_ACTIONS = {
    2: Cmd.NAV_TAKEOFF,
    3: Cmd.NAV_RETURN_TO_LAUNCH,
    4: Cmd.NAV_LAND,
    24: Cmd.NAV_TAKEOFF,
    25: Cmd.NAV_WAYPOINT,
    26: Cmd.NAV_LAND,
    27: Cmd.NAV_LOITER_UNLIM,
}
_Row = tuple[int, int, int, float, float, float, float, float, float, float, bool]


def _line(fields: list[object]) -> str:
    return "\t".join(number_text(f) if isinstance(f, float) else str(f) for f in fields)


def render_sortie(plan: Plan, index: int) -> str:
    """The ``.waypoints`` text of sortie ``index`` (0-based) of ``plan``."""
    h = plan.home
    lines = [HEADER, _line([0, 1, int(Frame.GLOBAL), int(Cmd.NAV_WAYPOINT), 0, 0, 0, 0])]
    lines[1] += "\t" + _line([float(h.lat_deg), float(h.lon_deg), float(h.alt_amsl_m), 1])
    for seq, item in enumerate(plan.sorties[index], start=1):
        numbers = [float(p) for p in item.params]
        lines.append(
            _line([seq, 0, int(item.frame), int(item.command), *numbers, int(item.autocontinue)])
        )
    return "\n".join(lines) + "\n"


def render(plan: Plan) -> list[str]:
    """One ``.waypoints`` text per sortie."""
    return [render_sortie(plan, i) for i in range(len(plan.sorties))]


_LIMITS = {"frame": 255, "command": 65535}  # MAVLink uint8 and uint16


def _int(text: str, column: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise MissionError(f"{where}: {column} {text!r} is not an integer") from None
    if column in _LIMITS and not 0 <= value <= _LIMITS[column]:
        raise MissionError(f"{where}: {column} {value} is outside 0..{_LIMITS[column]}")
    return value


def _float(text: str, column: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise MissionError(f"{where}: {column} {text!r} is not a finite number")
    return value


def _row_v110(fields: list[str], where: str) -> _Row:
    if len(fields) != 12:
        raise MissionError(f"{where}: {len(fields)} fields, expected 12 ({COLUMNS})")
    names = COLUMNS.split()
    seq, _current, frame, command = (
        _int(f, n, where) for f, n in zip(fields[:4], names[:4], strict=True)
    )
    numbers = [_float(f, n, where) for f, n in zip(fields[4:11], names[4:11], strict=True)]
    p1, p2, p3, p4, lat, lon, alt = numbers
    auto = _int(fields[11], "autocontinue", where) != 0
    return seq, frame, command, p1, p2, p3, p4, lat, lon, alt, auto


def _row_v100(fields: list[str], where: str) -> _Row:
    if len(fields) != 13:
        raise MissionError(f"{where}: {len(fields)} fields, expected 13 (QGC WPL 100)")
    seq = _int(fields[0], "seq", where)
    frame = _int(fields[1], "frame", where)
    action = _int(fields[2], "action", where)
    if seq > 0 and action not in _V100_ACTIONS:
        known = ", ".join(str(a) for a in sorted(_V100_ACTIONS))
        raise MissionError(f"{where}: QGC WPL 100 action {action} is not one of {known}")
    command = int(_V100_ACTIONS.get(action, Cmd.NAV_WAYPOINT))
    p3, p4, p1, p2 = (_float(fields[i], f"column {i + 1}", where) for i in (3, 4, 5, 6))
    lon, lat, alt = (_float(fields[i], f"column {i + 1}", where) for i in (8, 9, 10))
    auto = _int(fields[12], "autocontinue", where) != 0
    return seq, frame, command, p1, p2, p3, p4, lat, lon, alt, auto


def parse(text: str, source: str) -> Plan:
    """Read a ``QGC WPL 110`` (or 100) file: home from its first line, then the items.

    Fields may be separated by tabs or spaces; blank lines and ``#`` comments are skipped.
    """
    lines = text.lstrip("\ufeff").splitlines()
    header = " ".join(lines[0].split()) if lines else ""
    if header == HEADER:
        read_row = _row_v110
    elif header == "QGC WPL 100":
        read_row = _row_v100
    else:
        raise MissionError(
            f"{source}: line 1: {header[:40]!r} is not a waypoint file header; "
            f"expected {HEADER!r} (or 'QGC WPL 100')"
        )
    home: Home | None = None
    items: list[MissionItem] = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        where = f"{source}: line {number}"
        _seq, frame, command, p1, p2, p3, p4, lat, lon, alt, auto = read_row(fields, where)
        try:
            if home is None:
                home = Home(lat, lon, alt)
            else:
                items.append(MissionItem(command, frame, p1, p2, p3, p4, lat, lon, alt, auto))
        except MissionError as exc:
            raise MissionError(f"{where}: {exc}") from None
    if home is None or not items:
        raise MissionError(
            f"{source}: no mission items; a waypoint file needs a home line and at least one item"
        )
    return Plan(home=home, sorties=(tuple(items),))
