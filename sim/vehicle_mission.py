"""The built-in vehicle's side of the MAVLink mission protocol, and its fence.

:class:`MissionServer` answers ``MISSION_COUNT``/``MISSION_ITEM_INT`` uploads and
``MISSION_REQUEST_LIST``/``MISSION_REQUEST_INT`` downloads for the mission (type 0) and
the fence (type 1). It holds no socket: it is given each decoded message with the wall
clock, and sends through the ``send`` callable it was built with. Items are kept as
:class:`mission.items.MissionItem`; :func:`parse_fence` turns fence items into zones in
the vehicle's local frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mission.errors import MissionError
from mission.items import POSITION_COMMANDS, Cmd, MissionItem

MISSION, FENCE, RALLY = 0, 1, 2

# MAV_MISSION_RESULT
ACCEPTED = 0
ERROR = 1
UNSUPPORTED_FRAME = 2
UNSUPPORTED = 3
NO_SPACE = 4
INVALID = 5
INVALID_PARAM1 = 6  # ..PARAM4 = 9, PARAM5_X = 10, PARAM6_Y = 11, PARAM7 = 12
INVALID_SEQUENCE = 13
OPERATION_CANCELLED = 15

FENCE_RETURN_POINT = 5000
FENCE_POLYGON_INCLUSION = 5001
FENCE_POLYGON_EXCLUSION = 5002
FENCE_CIRCLE_INCLUSION = 5003
FENCE_CIRCLE_EXCLUSION = 5004
DO_JUMP = 177

#: Commands whose x/y are latitude/longitude (×1e7 on the wire); others carry raw param5/6.
LOCATION_COMMANDS = frozenset(
    {int(c) for c in POSITION_COMMANDS}
    | {int(Cmd.DO_SET_ROI_LOCATION), int(Cmd.DO_SET_HOME), 201}
    | set(range(FENCE_RETURN_POINT, FENCE_CIRCLE_EXCLUSION + 1))
)
#: Mission commands the vehicle accepts (others: MAV_MISSION_UNSUPPORTED, as ArduPilot).
MISSION_COMMANDS = frozenset({int(c) for c in Cmd} | {DO_JUMP, 201})
FENCE_COMMANDS = frozenset(range(FENCE_RETURN_POINT, FENCE_CIRCLE_EXCLUSION + 1))
#: Frames a located item may use: GLOBAL, GLOBAL_RELATIVE_ALT and their _INT twins.
GLOBAL_FRAMES = frozenset({0, 3, 5, 6})
#: ArduPilot answers with the plain frame for the deprecated _INT ones.
_FRAME_NORMAL = {5: 0, 6: 3}

#: Wall seconds without the expected item before the request is sent again (ArduPilot ~1 s).
RESEND_S = 1.0
#: Wall seconds without progress before an upload is abandoned (ArduPilot: 8 s).
UPLOAD_TIMEOUT_S = 8.0


def item_from_wire(msg: Any, legacy: bool) -> tuple[MissionItem | None, int]:
    """A received MISSION_ITEM_INT (or legacy MISSION_ITEM) as a stored item, or an error."""
    command, frame = int(msg.command), int(msg.frame)
    located = command in LOCATION_COMMANDS
    params = (msg.param1, msg.param2, msg.param3, msg.param4)
    for i, value in enumerate(params):
        if not math.isfinite(value):
            return None, INVALID_PARAM1 + i
    if not math.isfinite(msg.z):
        return None, INVALID_PARAM1 + 6
    if legacy:
        if not (math.isfinite(msg.x) and math.isfinite(msg.y)):
            return None, INVALID_PARAM1 + 4 if not math.isfinite(msg.x) else INVALID_PARAM1 + 5
        if located:
            lat, lon = round(msg.x * 1e7) / 1e7, round(msg.y * 1e7) / 1e7
        else:
            lat, lon = float(msg.x), float(msg.y)
    else:
        lat, lon = (msg.x / 1e7, msg.y / 1e7) if located else (float(msg.x), float(msg.y))
    if located:
        if frame not in GLOBAL_FRAMES:
            return None, UNSUPPORTED_FRAME
        frame = _FRAME_NORMAL.get(frame, frame)
        if not -90.0 <= lat <= 90.0:
            return None, INVALID_PARAM1 + 4
        if not -180.0 <= lon <= 180.0:
            return None, INVALID_PARAM1 + 5
    try:
        item = MissionItem(
            command,
            frame,
            float(msg.param1),
            float(msg.param2),
            float(msg.param3),
            float(msg.param4),
            lat,
            lon,
            float(msg.z),
            bool(msg.autocontinue),
        )
    except MissionError:
        return None, INVALID_PARAM1 + 6
    return item, ACCEPTED


def wire_xy(item: MissionItem) -> tuple[int, int]:
    """The item's x/y as MISSION_ITEM_INT carries them."""
    if item.command in LOCATION_COMMANDS:
        return round(item.lat_deg * 1e7), round(item.lon_deg * 1e7)
    return int(item.lat_deg), int(item.lon_deg)


@dataclass
class _Upload:
    mission_type: int
    count: int
    partner: tuple[int, int]
    items: list[MissionItem] = field(default_factory=list)
    last_request: float = 0.0
    last_progress: float = 0.0


class MissionServer:
    """The vehicle side of the mission protocol for missions and fences.

    ``accept(mission_type, items)`` is called when an upload completes (for a mission,
    home at 0 is already removed) and returns a MAV_MISSION_RESULT and a reason; ``home``
    gives the item served as a mission's seq 0; ``text`` sends a STATUSTEXT.
    """

    def __init__(
        self,
        mav: Any,
        send: Callable[[Any], None],
        accept: Callable[[int, list[MissionItem]], tuple[int, str]],
        home: Callable[[], MissionItem],
        text: Callable[[int, str], None],
        max_items: int,
    ) -> None:
        self.mav, self.send, self.accept, self.home, self.text = mav, send, accept, home, text
        self.max_items = max_items
        self.stored: dict[int, list[MissionItem]] = {MISSION: [], FENCE: []}
        self.upload: _Upload | None = None
        self.finished: tuple[int, int] | None = None  # (type, count) of the last accepted upload
        self.uploads = 0  # completed uploads, for tests and logs

    # -- dispatch --

    def handle(self, msg: Any, now: float) -> bool:
        """Answer ``msg`` if it belongs to the mission protocol; False if it does not."""
        kind = msg.get_type()
        handler = {
            "MISSION_COUNT": self._count,
            "MISSION_ITEM_INT": self._item,
            "MISSION_ITEM": self._item,
            "MISSION_REQUEST_LIST": self._request_list,
            "MISSION_REQUEST_INT": self._request,
            "MISSION_REQUEST": self._request,
            "MISSION_CLEAR_ALL": self._clear,
            "MISSION_ACK": lambda m, t: None,
        }.get(kind)
        if handler is None:
            return False
        if getattr(msg, "target_system", 1) not in (0, 1):
            return True  # for another vehicle
        handler(msg, now)
        return True

    def tick(self, now: float) -> None:
        """Request the expected item again after a silence; give up after a long one."""
        up = self.upload
        if up is None:
            return
        if now - up.last_progress > UPLOAD_TIMEOUT_S:
            self.upload = None
            self.text(4, "Mission upload timeout")
            self._ack(up.partner, OPERATION_CANCELLED, up.mission_type)
        elif now - up.last_request > RESEND_S:
            self._request_next(up, now)

    # -- upload --

    def _count(self, msg: Any, now: float) -> None:
        partner = (msg.get_srcSystem(), msg.get_srcComponent())
        mtype, count = int(getattr(msg, "mission_type", 0)), int(msg.count)
        self.upload = None
        if mtype not in (MISSION, FENCE):
            self._ack(partner, ACCEPTED if mtype == RALLY and count == 0 else UNSUPPORTED, mtype)
            return
        if count > self.max_items:
            self.text(4, f"Only {self.max_items} items are supported")
            self._ack(partner, NO_SPACE, mtype)
            return
        if count == 0:
            result, _ = self.accept(mtype, [])
            if result == ACCEPTED:
                self.stored[mtype] = []
            self._ack(partner, result, mtype)
            return
        up = _Upload(mtype, count, partner, last_progress=now)
        self.upload = up
        self._request_next(up, now)

    def _item(self, msg: Any, now: float) -> None:
        partner = (msg.get_srcSystem(), msg.get_srcComponent())
        mtype, seq = int(getattr(msg, "mission_type", 0)), int(msg.seq)
        up = self.upload
        if up is None or up.mission_type != mtype:
            if self.finished is not None and self.finished == (mtype, seq + 1):
                self._ack(partner, ACCEPTED, mtype)  # our ACK was lost: the last item again
            elif up is None:
                self._ack(partner, INVALID_SEQUENCE, mtype)
            return
        if seq >= up.count:
            self.upload = None
            self._ack(partner, INVALID_SEQUENCE, mtype)
            return
        if seq != len(up.items):
            self._request_next(up, now)  # a duplicate or one out of order: ask for ours
            return
        item, result = item_from_wire(msg, msg.get_type() == "MISSION_ITEM")
        if result == ACCEPTED and item is not None:
            allowed = FENCE_COMMANDS if mtype == FENCE else MISSION_COMMANDS
            if item.command not in allowed and not (mtype == MISSION and seq == 0):
                result = UNSUPPORTED
        if result != ACCEPTED or item is None:
            self.upload = None
            self.text(4, f"Mission item {seq} rejected (command {int(msg.command)})")
            self._ack(partner, result, mtype)
            return
        up.items.append(item)
        up.last_progress = now
        if len(up.items) < up.count:
            self._request_next(up, now)
            return
        self.upload = None
        items = up.items[1:] if mtype == MISSION else up.items
        result, why = self.accept(mtype, items)
        if result == ACCEPTED:
            self.stored[mtype] = items
            self.finished = (mtype, up.count)
            self.uploads += 1
        elif why:
            self.text(4, why)
        self._ack(partner, result, mtype)

    def _request_next(self, up: _Upload, now: float) -> None:
        # ArduPilot asks with the legacy MISSION_REQUEST and takes MISSION_ITEM or _INT back
        up.last_request = now
        self.send(
            self.mav.mission_request_encode(
                up.partner[0], up.partner[1], len(up.items), up.mission_type
            )
        )

    # -- download --

    def _request_list(self, msg: Any, now: float) -> None:
        mtype = int(getattr(msg, "mission_type", 0))
        partner = (msg.get_srcSystem(), msg.get_srcComponent())
        count = len(self._served(mtype)) if mtype in (MISSION, FENCE, RALLY) else None
        if count is None:
            self._ack(partner, UNSUPPORTED, mtype)
            return
        self.send(self.mav.mission_count_encode(partner[0], partner[1], count, mtype))

    def _served(self, mtype: int) -> Sequence[MissionItem]:
        if mtype == MISSION:
            return [self.home(), *self.stored[MISSION]]
        return self.stored.get(mtype, [])

    def _request(self, msg: Any, now: float) -> None:
        mtype, seq = int(getattr(msg, "mission_type", 0)), int(msg.seq)
        partner = (msg.get_srcSystem(), msg.get_srcComponent())
        items = self._served(mtype) if mtype in (MISSION, FENCE, RALLY) else []
        if not 0 <= seq < len(items):
            self._ack(partner, INVALID_SEQUENCE, mtype)
            return
        it = items[seq]
        x: float
        y: float
        x, y = wire_xy(it)
        encode = self.mav.mission_item_int_encode
        if msg.get_type() == "MISSION_REQUEST":  # legacy: ArduPilot answers with MISSION_ITEM
            encode = self.mav.mission_item_encode
            if it.command in LOCATION_COMMANDS:
                x, y = it.lat_deg, it.lon_deg
        out = encode(
            partner[0], partner[1], seq, it.frame, it.command, 0, int(it.autocontinue),
            it.param1, it.param2, it.param3, it.param4, x, y, it.alt_m, mtype,
        )  # fmt: skip
        self.send(out)

    def _clear(self, msg: Any, now: float) -> None:
        mtype = int(getattr(msg, "mission_type", 0))
        partner = (msg.get_srcSystem(), msg.get_srcComponent())
        types = [MISSION, FENCE] if mtype == 255 else [mtype]
        for t in types:
            if t in self.stored:
                result, _ = self.accept(t, [])
                if result != ACCEPTED:
                    self._ack(partner, result, mtype)
                    return
                self.stored[t] = []
        self.upload = None
        self._ack(partner, ACCEPTED, mtype)

    def _ack(self, partner: tuple[int, int], result: int, mtype: int) -> None:
        self.send(self.mav.mission_ack_encode(partner[0], partner[1], result, mtype))


# -- fence --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FenceZones:
    """Fence zones in the vehicle's local frame (metres east/north of home)."""

    inclusion_polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    exclusion_polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    inclusion_circles: tuple[tuple[float, float, float], ...] = ()  # x, y, radius
    exclusion_circles: tuple[tuple[float, float, float], ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.inclusion_polygons
            or self.exclusion_polygons
            or self.inclusion_circles
            or self.exclusion_circles
        )

    def breached(self, x: float, y: float) -> bool:
        """Outside every inclusion zone (when there is one), or inside an exclusion zone."""
        from sim.vehicle_physics import in_polygon

        if self.inclusion_polygons or self.inclusion_circles:
            inside = any(in_polygon(x, y, p) for p in self.inclusion_polygons) or any(
                math.hypot(x - cx, y - cy) <= r for cx, cy, r in self.inclusion_circles
            )
            if not inside:
                return True
        return any(in_polygon(x, y, p) for p in self.exclusion_polygons) or any(
            math.hypot(x - cx, y - cy) < r for cx, cy, r in self.exclusion_circles
        )


def parse_fence(
    items: Sequence[MissionItem], to_local: Callable[[float, float], tuple[float, float]]
) -> tuple[FenceZones | None, str]:
    """Fence items as zones, or None and why they do not form a valid fence.

    ``to_local(lon, lat)`` gives metres east/north of home. Polygon vertices come in runs
    whose param1 is the run's length (MAV_CMD_NAV_FENCE_POLYGON_VERTEX_*).
    """
    inc_p: list[tuple[tuple[float, float], ...]] = []
    exc_p: list[tuple[tuple[float, float], ...]] = []
    inc_c: list[tuple[float, float, float]] = []
    exc_c: list[tuple[float, float, float]] = []
    i = 0
    while i < len(items):
        it = items[i]
        if it.command in (FENCE_POLYGON_INCLUSION, FENCE_POLYGON_EXCLUSION):
            n = int(it.param1)
            run = items[i : i + n]
            if (
                n < 3
                or len(run) < n
                or any(v.command != it.command or int(v.param1) != n for v in run)
            ):
                return None, f"Fence: polygon at item {i} is not {n} matching vertices (min 3)"
            ring = tuple(to_local(v.lon_deg, v.lat_deg) for v in run)
            (inc_p if it.command == FENCE_POLYGON_INCLUSION else exc_p).append(ring)
            i += n
            continue
        if it.command in (FENCE_CIRCLE_INCLUSION, FENCE_CIRCLE_EXCLUSION):
            if it.param1 <= 0:
                return None, f"Fence: circle at item {i} has radius {it.param1:g} m (must be > 0)"
            x, y = to_local(it.lon_deg, it.lat_deg)
            circle = (x, y, it.param1)
            (inc_c if it.command == FENCE_CIRCLE_INCLUSION else exc_c).append(circle)
        i += 1
    return FenceZones(tuple(inc_p), tuple(exc_p), tuple(inc_c), tuple(exc_c)), ""
