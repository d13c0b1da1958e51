"""The mission protocol, ground-station side: upload, download and read-back of missions
and fences (``MISSION_COUNT``, ``MISSION_REQUEST``/``_INT``, ``MISSION_ITEM_INT``,
``MISSION_ACK``), mixed into :class:`sim.link.Link`, whose pump and state it uses.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from mission.items import MissionItem
from mission.plan import Geofence, Home, Plan
from sim.errors import SimError
from sim.link_rows import Row, compare_rows, deg_e7, fence_rows, home_row, item_row

MISSION, FENCE = 0, 1  # MAV_MISSION_TYPE


#: A vehicle that says it holds 0 items has just booted (ArduPilot sizes its mission
#: storage a moment after its first heartbeat): uploads retry for this many seconds.
BOOT_GRACE_S = 30.0


def _mission_result_name(value: int) -> str:
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    entry = mavlink.enums["MAV_MISSION_RESULT"].get(value)
    return entry.name if entry is not None else f"MAV_MISSION_RESULT {value}"


class MissionProtocol:
    """Upload and download over a :class:`sim.link.Link`'s pump (a mixin: the attributes
    below are the link's)."""

    url: str
    target_system: int
    target_component: int
    statustexts: deque[str]
    retry_s: float
    _mav: Any
    _pump: Callable[..., Iterator[Any]]
    messages: Callable[..., Iterator[Any]]
    _for_me: Callable[..., bool]
    _last_text: Callable[[int], str]

    def _send_row(self, seq: int, row: Row, mission_type: int) -> None:
        command, frame, p1, p2, p3, p4, x, y, z = row
        self._mav.mission_item_int_send(
            self.target_system, self.target_component, seq, frame, command,
            0, 1, p1, p2, p3, p4, x, y, z, mission_type,
        )  # fmt: skip

    def upload_rows(
        self,
        rows: Sequence[Row],
        mission_type: int = MISSION,
        *,
        timeout_s: float = 60.0,
        retries: int = 10,
    ) -> None:
        """Upload ``rows`` (row 0 is home for a mission) with the MAVLink mission protocol.

        ``MISSION_COUNT`` is sent again while no request comes; each request
        (``MISSION_REQUEST_INT`` or ``MISSION_REQUEST``, duplicates and any order) is
        answered with ``MISSION_ITEM_INT``; a stalled transfer gets its last item again,
        then a fresh ``MISSION_COUNT``.

        Raises
        ------
        SimError
            When the vehicle's ``MISSION_ACK`` is not ``MAV_MISSION_ACCEPTED`` (its name
            and the vehicle's STATUSTEXT quoted), or after ``retries`` silent spells in a
            row or ``timeout_s`` seconds.
        """
        texts = len(self.statustexts)
        n = len(rows)
        booting_until = time.monotonic() + min(timeout_s, BOOT_GRACE_S)
        self._mav.mission_count_send(self.target_system, self.target_component, n, mission_type)
        served: set[int] = set()
        last_served = -1
        stalls = consecutive = 0
        last_activity = time.monotonic()
        for msg in self._pump(timeout_s):
            now = time.monotonic()
            if msg is not None and self._for_me(
                msg, ("MISSION_REQUEST_INT", "MISSION_REQUEST"), mission_type
            ):
                seq = int(msg.seq)
                if 0 <= seq < n:
                    self._send_row(seq, rows[seq], mission_type)
                    served.add(seq)
                    last_served = seq
                    last_activity, consecutive = now, 0
                continue
            if msg is not None and self._for_me(msg, "MISSION_ACK", mission_type):
                result = int(msg.type)
                if result == 0 and (n == 0 or len(served) == n):
                    return
                if result in (0, 13):  # stale ACCEPTED, or a duplicate item (INVALID_SEQUENCE)
                    continue
                text = self._last_text(texts)
                if result == 4 and "Only 0 items" in text and now < booting_until:
                    # ArduPilot has not sized its mission storage yet (just booted): ask again
                    texts = len(self.statustexts)
                    time.sleep(self.retry_s)
                    served.clear()
                    last_served, last_activity = -1, time.monotonic()
                    self._mav.mission_count_send(
                        self.target_system, self.target_component, n, mission_type
                    )
                    continue
                raise SimError(
                    f"vehicle rejected the mission: {_mission_result_name(result)}"
                    + (f" ({text})" if text else "")
                )
            if now - last_activity < self.retry_s:
                continue
            stalls += 1
            consecutive += 1
            if consecutive > retries:
                break
            last_activity = now
            if 0 <= last_served < n - 1 and consecutive == 1:
                self._send_row(last_served, rows[last_served], mission_type)
            else:  # start again; an ACK still on its way from before no longer counts
                served.clear()
                last_served = -1
                self._mav.mission_count_send(
                    self.target_system, self.target_component, n, mission_type
                )
        raise SimError(
            f"{self.url}: mission upload of {n} items (type {mission_type}) unfinished: "
            f"{consecutive} silent spells in a row of {self.retry_s:g} s ({stalls} in all), "
            f"{len(served)} items requested since the last start, no MISSION_ACK accepted"
        )

    def upload(
        self,
        items: Sequence[MissionItem],
        home: Home | None = None,
        mission_type: int = MISSION,
        *,
        timeout_s: float = 60.0,
        retries: int = 10,
    ) -> None:
        """Upload ``items``; a mission (type 0) gets ``home`` as item 0 and its items from 1."""
        rows = [item_row(item) for item in items]
        if mission_type == MISSION:
            if home is None:
                raise SimError("a mission upload needs home (it is the mission's item 0)")
            rows.insert(0, home_row(home))
        self.upload_rows(rows, mission_type, timeout_s=timeout_s, retries=retries)

    def download(
        self, mission_type: int = MISSION, *, timeout_s: float = 60.0, retries: int = 10
    ) -> list[Row]:
        """What the vehicle holds: ``MISSION_REQUEST_LIST``, then each item by
        ``MISSION_REQUEST_INT``, then ``MISSION_ACK``. A mission's row 0 is home.

        Raises
        ------
        SimError
            On a refusal (``MISSION_ACK`` other than accepted) or when answers stop coming.
        """
        deadline = time.monotonic() + timeout_s
        count = self._ask(
            lambda: self._mav.mission_request_list_send(
                self.target_system, self.target_component, mission_type
            ),
            lambda m: int(m.count) if self._for_me(m, "MISSION_COUNT", mission_type) else None,
            deadline,
            retries,
            f"MISSION_COUNT (type {mission_type})",
            mission_type,
        )
        rows: list[Row] = []
        for seq in range(count):
            rows.append(
                self._ask(
                    lambda seq=seq: self._mav.mission_request_int_send(
                        self.target_system, self.target_component, seq, mission_type
                    ),
                    lambda m, seq=seq: self._item_row(m, seq, mission_type),
                    deadline,
                    retries,
                    f"mission item {seq} of {count} (type {mission_type})",
                    mission_type,
                )
            )
        self._mav.mission_ack_send(self.target_system, self.target_component, 0, mission_type)
        return rows

    def _item_row(self, msg: Any, seq: int, mission_type: int) -> Row | None:
        if not self._for_me(msg, ("MISSION_ITEM_INT", "MISSION_ITEM"), mission_type):
            return None
        if int(msg.seq) != seq:
            return None
        x, y = msg.x, msg.y
        if msg.get_type() == "MISSION_ITEM":
            x, y = deg_e7(x), deg_e7(y)
        ps = (float(msg.param1), float(msg.param2), float(msg.param3), float(msg.param4))
        return (int(msg.command), int(msg.frame), *ps, int(x), int(y), float(msg.z))

    def _ask(
        self, send: Any, answer: Any, deadline: float, retries: int, what: str, mtype: int
    ) -> Any:
        """``send()`` until ``answer(msg)`` gives a value; a mission refusal raises."""
        texts = len(self.statustexts)
        for _attempt in range(retries + 1):
            send()
            for msg in self.messages(min(self.retry_s, max(0.0, deadline - time.monotonic()))):
                value = answer(msg)
                if value is not None:
                    return value
                if self._for_me(msg, "MISSION_ACK", mtype) and int(msg.type) != 0:
                    raise SimError(
                        f"vehicle refused to send {what}: {_mission_result_name(int(msg.type))}"
                        + (f" ({text})" if (text := self._last_text(texts)) else "")
                    )
            if time.monotonic() >= deadline:
                break
        raise SimError(f"{self.url}: no {what} from the vehicle after {retries + 1} requests")

    def _verify(self, sent: Sequence[Row], mission_type: int, first: int, what: str) -> None:
        got = self.download(mission_type)
        difference = compare_rows(sent, got, first)
        if difference is not None:
            raise SimError(f"{what} read back differs from what was sent: {difference}")

    def upload_plan_sortie(self, plan: Plan, sortie: int) -> None:
        """Upload sortie ``sortie`` (0-based, as ``plan.sorties``) with ``plan.home`` as item 0,
        then read it back and compare (home excepted: the autopilot reports its own).

        Raises
        ------
        SimError
            When the upload fails or the read-back differs (the first difference named).
        """
        if not 0 <= sortie < len(plan.sorties):
            raise SimError(f"sortie {sortie} is outside 0..{len(plan.sorties) - 1}")
        rows = [home_row(plan.home)] + [item_row(i) for i in plan.sorties[sortie]]
        self.upload_rows(rows, MISSION)
        self._verify(rows, MISSION, 1, f"sortie {sortie + 1} mission")

    def upload_fence(self, fence: Geofence) -> int:
        """Upload ``fence`` (``MAV_MISSION_TYPE_FENCE``) and read it back; the item count.

        An empty fence clears the vehicle's (``MISSION_CLEAR_ALL`` of type 1).
        """
        rows = fence_rows(fence)
        if not rows:
            self.clear(FENCE)
            return 0
        self.upload_rows(rows, FENCE)
        self._verify(rows, FENCE, 0, "geofence")
        return len(rows)

    def clear(self, mission_type: int = MISSION, timeout_s: float = 10.0) -> None:
        """``MISSION_CLEAR_ALL`` of ``mission_type``, waiting for the vehicle's ``MISSION_ACK``."""
        self._ask(
            lambda: self._mav.mission_clear_all_send(
                self.target_system, self.target_component, mission_type
            ),
            lambda m: (
                True if self._for_me(m, "MISSION_ACK", mission_type) and int(m.type) == 0 else None
            ),
            time.monotonic() + timeout_s,
            max(1, int(timeout_s / self.retry_s)),
            f"MISSION_ACK to MISSION_CLEAR_ALL (type {mission_type})",
            mission_type,
        )

    # -- commands --
