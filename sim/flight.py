"""Fly a whole plan, sortie by sortie, over a :class:`~sim.link.Link`, and say what happened.

For each sortie: upload the mission (home at 0) and read it back, upload the geofence
(the plan's, plus any given) and read it back before the first, then wait for the
pre-arm checks, GUIDED, arm, AUTO and ``MAV_CMD_MISSION_START`` (ArduCopter takes off from
the ground in AUTO only on MISSION_START). The sortie is followed through
``MISSION_CURRENT`` and ``MISSION_ITEM_REACHED`` until the vehicle has landed and
disarmed; it was flown when by then the vehicle had got to its last item.

Time limits are in *simulated* seconds where the vehicle sends ``SYSTEM_TIME`` (a
simulator may run many times faster than real time), with a wall-clock guard for a
vehicle whose clock stops. Nothing raises once connected: a lost connection, a refusal
or a timeout ends the flight with ``completed=False``, the reason, and the track and
``.tlog`` recorded so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mission.plan import Geofence, Plan
from mission.track import Track
from sim.errors import SimError
from sim.link import Link
from sim.link_transport import LinkLost

__all__ = ["FlightResult", "fly_plan"]


@dataclass(frozen=True)
class FlightResult:
    """What a flight produced and how it ended.

    ``reason`` is ``""`` when every sortie was flown, else one line saying why not;
    ``items_reached`` are ``(sortie from 1, mission item seq)`` in the order reached: those
    the vehicle reported (``MISSION_ITEM_REACHED``), and those ``MISSION_CURRENT`` moved past
    (AUTO moves on only when an item is done; ArduPilot reports only the latest item reached
    when several complete between two messages).
    """

    track: Track | None
    tlog: bytes
    completed: bool
    reason: str
    items_reached: tuple[tuple[int, int], ...] = ()
    sim_duration_s: float = 0.0
    photos: int = 0
    sorties_flown: int = 0


class _Clock:
    """Simulated seconds since the start (``SYSTEM_TIME``), or wall seconds without it."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.wall0 = time.monotonic()
        self.sim0 = link.sim_time_us

    def elapsed_s(self) -> float:
        now = self.link.sim_time_us
        if now is not None and self.sim0 is None:
            self.sim0 = now
        if now is None or self.sim0 is None:
            return time.monotonic() - self.wall0
        return (now - self.sim0) / 1e6

    def wall_s(self) -> float:
        return time.monotonic() - self.wall0

    def stamp(self) -> str:
        """The vehicle's time now as ``HH:MM:SS UTC`` (the wall clock without SYSTEM_TIME)."""
        now_us = self.link.sim_time_us
        when = datetime.now(UTC) if now_us is None else datetime.fromtimestamp(now_us / 1e6, UTC)
        return when.strftime("%H:%M:%S UTC")


class _Flight:
    def __init__(
        self,
        link: Link,
        plan: Plan,
        timeout_s: float,
        wall_timeout_s: float,
        prearm_timeout_s: float,
        progress: Callable[[str], None],
    ) -> None:
        self.link, self.plan, self.progress = link, plan, progress
        self.timeout_s, self.wall_timeout_s = timeout_s, wall_timeout_s
        self.prearm_timeout_s = prearm_timeout_s
        self.clock = _Clock(link)
        self.reached: list[tuple[int, int]] = []
        self.sortie = 0  # from 1, the one being flown
        self.flown = 0

    def last_reached(self) -> int:
        """The highest item of the current sortie the vehicle said it reached (0: none)."""
        return max([0, *(seq for s, seq in self.reached if s == self.sortie)])

    def last_item(self) -> int:
        """The highest item of the current sortie reached or current (0: none yet)."""
        mine = [seq for s, seq in self.reached if s == self.sortie]
        return max([0, *mine, self.link.mission_current_max])

    def fly_sortie(self, index: int) -> None:
        link, n = self.link, len(self.plan.sorties[index])
        self.sortie = index + 1
        total = len(self.plan.sorties)
        self.progress(f"sortie {self.sortie}/{total}: uploading {n} items with read-back")
        link.upload_plan_sortie(self.plan, index)
        self.progress(f"sortie {self.sortie}/{total}: waiting for pre-arm checks")
        started = time.monotonic()
        link.wait_prearm(self.prearm_timeout_s)
        link.set_mode("GUIDED")  # after pre-arm: ArduCopter refuses GUIDED without a position
        link.arm(max(5.0, self.prearm_timeout_s - (time.monotonic() - started)))
        link.mission_current = link.mission_current_max = -1
        seen = len(link.reached)  # from here: a vehicle may start the mission on AUTO alone
        link.set_mode("AUTO")
        link.start_mission()
        link.request_home()
        self.progress(f"sortie {self.sortie}/{total}: armed, mission started")
        passed = 0  # items before MISSION_CURRENT's highest are done: AUTO only moves on then
        for _ in link.messages(max(0.0, self.wall_timeout_s - self.clock.wall_s())):
            done = list(link.reached[seen:])
            done += range(max(passed, 1), link.mission_current_max)
            passed = max(passed, link.mission_current_max)
            for seq in sorted(set(done)):  # ArduPilot keeps only the latest ITEM_REACHED when busy
                if (self.sortie, seq) not in self.reached:
                    self.reached.append((self.sortie, seq))
                    self.progress(f"sortie {self.sortie}/{total}: reached item {seq} of {n}")
            seen = len(link.reached)
            if not link.armed:
                break
            if self.clock.elapsed_s() > self.timeout_s:
                raise SimError(
                    f"timed out after {self.timeout_s:g} simulated s in sortie {self.sortie}, "
                    f"at item {self.last_item()} of {n}"
                )
        else:
            raise SimError(
                f"wall-clock guard of {self.wall_timeout_s:g} s ran out in sortie "
                f"{self.sortie}, at item {self.last_item()} of {n}"
            )
        last = self.last_item()
        if last < n:
            texts = "; ".join(list(link.statustexts)[-2:])
            raise SimError(
                f"the vehicle disarmed in sortie {self.sortie} after item {last} of {n}"
                + (f" ({texts})" if texts else "")
            )
        if (self.sortie, n) not in self.reached:  # landed and disarmed after the last item
            self.reached.append((self.sortie, n))
        # reports and MISSION_CURRENT arrive interleaved: a mission runs forwards, so sort
        self.reached.sort()
        self.flown += 1
        self.progress(f"sortie {self.sortie}/{total}: landed and disarmed")

    def result(self, reason: str) -> FlightResult:
        recorder = self.link.recorder
        try:
            track: Track | None = recorder.track(self.plan.name or "flight")
        except SimError:
            track = None
        sim_s = track.duration_s if track is not None else self.clock.elapsed_s()
        return FlightResult(
            track=track,
            tlog=recorder.tlog(),
            completed=not reason,
            reason=reason,
            items_reached=tuple(self.reached),
            sim_duration_s=sim_s,
            photos=len(track.photos) if track is not None else 0,
            sorties_flown=self.flown,
        )


def _merged(plan: Plan, fence: Geofence | None) -> Geofence:
    if fence is None:
        return plan.geofence
    return Geofence(plan.geofence.polygons + fence.polygons, plan.geofence.circles + fence.circles)


def fly_plan(
    plan: Plan,
    url: str,
    *,
    fence: Geofence | None = None,
    timeout_s: float = 4 * 3600.0,
    prearm_timeout_s: float = 120.0,
    wall_timeout_s: float | None = None,
    connect_timeout_s: float = 30.0,
    on_progress: Callable[[str], None] | None = None,
) -> FlightResult:
    """Fly every sortie of ``plan`` on the vehicle at ``url`` (see the module notes).

    Parameters
    ----------
    plan : Plan
        What to fly; each sortie is uploaded in turn.
    url : str
        The vehicle's link URL (:mod:`sim.link_transport`), e.g. ``tcp:127.0.0.1:5760``.
    fence : Geofence, optional
        Fence areas added to the plan's own geofence.
    timeout_s : float
        Simulated seconds the whole flight may take.
    prearm_timeout_s : float
        Wall-clock seconds each sortie may wait for pre-arm checks and arming.
    wall_timeout_s : float, optional
        Wall-clock guard for the whole flight; by default ``timeout_s`` plus ten minutes.
    connect_timeout_s : float
        How long to wait for the vehicle's first heartbeat.
    on_progress : callable, optional
        Called with one line at each step (upload, arming, each item reached, landing).

    Returns
    -------
    FlightResult
        ``completed`` False with the reason when the flight did not finish; the track
        and ``.tlog`` hold what was received until then.
    """
    progress = on_progress or (lambda _line: None)
    wall = timeout_s + 600.0 if wall_timeout_s is None else wall_timeout_s
    try:
        link = Link.connect(url, timeout_s=connect_timeout_s)
    except SimError as exc:
        return FlightResult(None, b"", False, str(exc))
    with link:
        flight = _Flight(link, plan, timeout_s, wall, prearm_timeout_s, progress)
        reason = ""
        try:
            merged = _merged(plan, fence)
            if merged.polygons or merged.circles:
                progress(f"uploading the geofence ({link.upload_fence(merged)} items, read back)")
                link.set_parameter("FENCE_ENABLE", 1.0)  # ArduPilot enforces it from now on
            for index in range(len(plan.sorties)):
                flight.fly_sortie(index)
        except LinkLost:
            where = f"after item {flight.last_reached()}" if flight.sortie else "before take-off"
            if len(plan.sorties) > 1 and flight.sortie:
                where += f" of sortie {flight.sortie}"
            reason = f"connection lost at {flight.clock.stamp()} {where} (vehicle killed?)"
        except SimError as exc:
            reason = str(exc)
        if reason:
            progress(f"flight incomplete: {reason}")
        return flight.result(reason)
