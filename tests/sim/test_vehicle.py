"""The built-in vehicle, spoken to over TCP with raw pymavlink (v20 dialect, system 255).

The ground station here is a few lines over a socket rather than ``mavutil``, which
writes ``MAVLINK20`` into the process environment when it meets a MAVLink 2 frame.
Flights run at ``speedup=inf`` and wait on messages, not on the wall clock.
"""

from __future__ import annotations

import itertools
import math
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from mission.geodesy import LocalFrame
from sim.errors import SimError
from sim.vehicle import BuiltinVehicle
from sim.vehicle_mission import FenceZones
from sim.vehicle_physics import Airframe, Body, step, trigger_crossing, velocity_to

HOME = (-35.363262, 149.165237, 584.0)
FRAME = LocalFrame(HOME[1], HOME[0])
INF = float("inf")
# MAV_CMD / MAV_FRAME / results
WP, TAKEOFF, RTL_CMD, TRIGG_DIST, CHANGE_SPEED = 16, 22, 20, 206, 178
REL, MISSION_FRAME = 3, 2


def at(east_m: float, north_m: float) -> tuple[int, int]:
    """lat, lon ×1e7 of a point east/north of home."""
    lon, lat = FRAME.point_to_wgs84(east_m, north_m)
    return round(lat * 1e7), round(lon * 1e7)


Row = tuple[int, int, float, float, float, float, int, int, float]  # cmd, frame, p1-4, x, y, z


def home_row() -> Row:
    return (WP, 0, 0, 0, 0, 0, round(HOME[0] * 1e7), round(HOME[1] * 1e7), HOME[2])


def wp(east_m: float, north_m: float, alt: float) -> Row:
    return (WP, REL, 0, 0, 0, 0, *at(east_m, north_m), alt)


def do(cmd: int, p1: float = 0, p2: float = 0, p3: float = 0) -> Row:
    return (cmd, MISSION_FRAME, p1, p2, p3, 0, 0, 0, 0)


TAKEOFF_20: Row = (TAKEOFF, REL, 0, 0, 0, 0, 0, 0, 20.0)
RTL_ROW: Row = (RTL_CMD, MISSION_FRAME, 0, 0, 0, 0, 0, 0, 0)


class Gcs:
    """A minimal ground station: a socket, an encoder and a decoder."""

    def __init__(self, url: str) -> None:
        from pymavlink.dialects.v20 import ardupilotmega as mavlink

        _, host, port = url.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5.0)
        self.mav = mavlink.MAVLink(self, srcSystem=255, srcComponent=190)
        self.parser = mavlink.MAVLink(None)
        self.parser.robust_parsing = True
        self.pending: deque[Any] = deque()
        self.closed = False
        self.texts: list[str] = []

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()

    def recv(self, timeout: float) -> Any:
        """The next message, or None after ``timeout`` wall seconds or on end of stream."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return None
            for msg in self.parser.parse_buffer(data) or []:
                if msg.get_type() == "STATUSTEXT":
                    self.texts.append(msg.text)
                self.pending.append(msg)
        return self.pending.popleft()

    def match(
        self, kind: str | tuple[str, ...], cond: Callable[[Any], bool] | None = None, timeout=10.0
    ) -> Any:
        """The next ``kind`` message meeting ``cond``; fails the test after ``timeout`` s."""
        kinds = (kind,) if isinstance(kind, str) else kind
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(deadline - time.monotonic())
            if msg is not None and msg.get_type() in kinds and (cond is None or cond(msg)):
                return msg
        raise AssertionError(f"no {kinds} within {timeout} s")

    def command(self, cmd: int, *params: float) -> int:
        p = [*params, *[0.0] * (7 - len(params))]
        self.mav.command_long_send(1, 1, cmd, 0, *p)
        return int(self.match("COMMAND_ACK", lambda m: m.command == cmd).result)

    def set_mode(self, custom: int) -> int:
        return self.command(176, 1, custom)

    def arm_when_ready(self) -> None:
        for _ in range(50):
            if self.command(400, 1) == 0:
                return
            time.sleep(0.02)
        raise AssertionError("vehicle never armed")

    def upload(self, rows: list[Row], mission_type: int = 0, retry_s: float = 0.0) -> int:
        """The mission protocol's ground side; with ``retry_s`` it resends when the protocol
        falls silent (telemetry keeps coming meanwhile)."""
        self.mav.mission_count_send(1, 1, len(rows), mission_type)
        last, sent = time.monotonic(), -1
        while True:
            if retry_s and time.monotonic() - last > retry_s:
                if sent < 0:  # our count or the first request was lost
                    self.mav.mission_count_send(1, 1, len(rows), mission_type)
                else:  # our item, the next request or the ACK was lost
                    self.send_item(rows, sent, mission_type)
                last = time.monotonic()
            msg = self.recv(0.05)
            if msg is None or getattr(msg, "mission_type", -1) != mission_type:
                continue
            if msg.get_type() == "MISSION_ACK":
                return int(msg.type)
            if msg.get_type() == "MISSION_REQUEST":  # ArduPilot asks with the legacy message
                self.send_item(rows, msg.seq, mission_type)
                sent, last = msg.seq, time.monotonic()

    def send_item(self, rows: list[Row], seq: int, mission_type: int = 0) -> None:
        c, f, p1, p2, p3, p4, x, y, z = rows[seq]
        self.mav.mission_item_int_send(1, 1, seq, f, c, 0, 1, p1, p2, p3, p4, x, y, z, mission_type)

    def download(self, mission_type: int = 0, retries: int = 0) -> list[Row]:
        count: int | None = None
        for _ in range(retries + 1):
            self.mav.mission_request_list_send(1, 1, mission_type)
            try:
                count = int(self.match("MISSION_COUNT", timeout=0.15).count)
                break
            except AssertionError:
                continue
        assert count is not None
        rows: list[Row] = []
        for seq in range(count):
            for _ in range(retries + 1):
                self.mav.mission_request_int_send(1, 1, seq, mission_type)
                try:
                    m = self.match("MISSION_ITEM_INT", lambda m, s=seq: m.seq == s, timeout=0.15)
                except AssertionError:
                    continue
                p = (m.param1, m.param2, m.param3, m.param4)
                rows.append((m.command, m.frame, *p, m.x, m.y, m.z))
                break
            else:
                raise AssertionError(f"item {seq} never came")
        self.mav.mission_ack_send(1, 1, 0, mission_type)
        return rows


@contextmanager
def flying(**kwargs: Any) -> Iterator[tuple[BuiltinVehicle, Gcs]]:
    kwargs.setdefault("speedup", INF)
    vehicle = BuiltinVehicle(HOME, **kwargs)
    vehicle.start()
    gcs = Gcs(vehicle.url)
    try:
        yield vehicle, gcs
    finally:
        gcs.close()
        vehicle.stop()
    assert vehicle.errors == []


def fly(gcs: Gcs, rows: list[Row]) -> None:
    assert gcs.upload(rows) == 0
    assert gcs.set_mode(4) == 0
    gcs.arm_when_ready()
    assert gcs.command(300) == 0


def until_disarmed(gcs: Gcs, timeout: float = 30.0) -> list[Any]:
    """Every message up to the first disarmed HEARTBEAT after the vehicle armed."""
    seen: list[Any] = []
    armed = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = gcs.recv(deadline - time.monotonic())
        if msg is None:
            break
        seen.append(msg)
        if msg.get_type() == "HEARTBEAT":
            if msg.base_mode & 128:
                armed = True
            elif armed:
                return seen
    raise AssertionError("the vehicle did not land and disarm")


def of(messages: list[Any], kind: str) -> list[Any]:
    return [m for m in messages if m.get_type() == kind]


def local(msg: Any) -> tuple[float, float]:
    lat = msg.lat
    lon = msg.lon if hasattr(msg, "lon") else msg.lng  # CAMERA_FEEDBACK says lng
    return FRAME.point_to_local(lon / 1e7, lat / 1e7)


# -- tests -------------------------------------------------------------------------------


def test_heartbeat_identity_and_modes() -> None:
    with flying() as (vehicle, gcs):
        hb = gcs.match("HEARTBEAT")
        assert (hb.get_srcSystem(), hb.get_srcComponent()) == (1, 1)
        assert (hb.type, hb.autopilot, hb.custom_mode) == (2, 3, 0)  # QUADROTOR, ARDUPILOTMEGA
        assert hb.get_msgbuf()[0] == 0xFD  # MAVLink 2
        assert gcs.set_mode(4) == 0
        gcs.match("HEARTBEAT", lambda m: m.custom_mode == 4)
        assert vehicle.mode == "GUIDED"
        assert gcs.set_mode(99) == 4  # FAILED: no such mode
        assert gcs.command(31999) == 3  # UNSUPPORTED
        assert gcs.command(512, 242) == 0  # REQUEST_MESSAGE HOME_POSITION
        home = gcs.match("HOME_POSITION")
        assert (home.latitude, home.longitude) == (round(HOME[0] * 1e7), round(HOME[1] * 1e7))
        t = gcs.match("SYSTEM_TIME")
        assert t.time_unix_usec > 1_600_000_000 * 1_000_000


def test_upload_with_duplicate_and_out_of_order_items_reads_back_identical() -> None:
    rows = [home_row(), TAKEOFF_20, do(CHANGE_SPEED, 1, 6, -1), wp(50, 0, 20), wp(50, 50, 25)]
    rows.append(RTL_ROW)
    with flying() as (vehicle, gcs):
        gcs.mav.mission_count_send(1, 1, len(rows), 0)
        requested = []

        def request() -> int:
            seq = int(gcs.match("MISSION_REQUEST").seq)
            requested.append(seq)
            return seq

        for seq in range(2):
            assert request() == seq
            gcs.send_item(rows, seq)
        assert request() == 2
        gcs.send_item(rows, 1)  # a duplicate: the vehicle asks for 2 again
        assert request() == 2
        gcs.send_item(rows, 3)  # out of order: 2 again
        assert request() == 2
        for seq in range(2, len(rows)):
            if seq > 2:
                assert request() == seq
            gcs.send_item(rows, seq)
        assert gcs.match("MISSION_ACK").type == 0
        back = gcs.download()
        assert back[1:] == rows[1:]
        assert back[0][6:8] == rows[0][6:8]  # home as the vehicle holds it
        assert [it.command for it in vehicle.mission] == [r[0] for r in rows]


@pytest.mark.parametrize(
    ("rows", "result"),
    [
        ([home_row(), (WP, 10, 0, 0, 0, 0, *at(10, 0), 5.0)], 2),  # terrain frame: unsupported
        ([home_row(), (WP, REL, math.nan, 0, 0, 0, *at(10, 0), 5.0)], 6),  # INVALID_PARAM1
        ([home_row(), (WP, REL, 0, 0, 0, 0, *at(10, 0), math.inf)], 12),  # INVALID_PARAM7
        ([home_row(), (31000, REL, 0, 0, 0, 0, 0, 0, 0)], 3),  # unknown command: UNSUPPORTED
        ([home_row()] + [wp(1, 1, 5)] * 8, 4),  # more than max_items: NO_SPACE
    ],
)
def test_upload_errors(rows: list[Row], result: int) -> None:
    with flying(max_items=5) as (vehicle, gcs):
        assert gcs.upload(rows) == result
        assert len(vehicle.mission) == 1  # home only: nothing was stored
    with flying() as (_, gcs):
        assert gcs.upload([wp(1, 1, 5)], mission_type=2) == 3  # rally: MAV_MISSION_UNSUPPORTED


def test_fence_upload_reads_back_and_clears() -> None:
    square = [(5001, 0, 4, 0, 0, 0, *at(e, n), 0.0) for e, n in ((-60, -60), (60, -60), (60, 60), (-60, 60))]  # fmt: skip
    circle = (5004, 0, 10.0, 0, 0, 0, *at(30, 30), 0.0)
    rows: list[Row] = [*square, circle]
    with flying() as (vehicle, gcs):
        assert gcs.upload(rows, mission_type=1) == 0
        assert gcs.download(mission_type=1) == rows
        assert len(vehicle.fence) == 5
        broken = rows[:2]  # a polygon of 4 with two vertices
        assert gcs.upload(broken, mission_type=1) == 5  # MAV_MISSION_INVALID
        assert len(vehicle.fence) == 5
        gcs.mav.mission_clear_all_send(1, 1, 1)
        assert gcs.match("MISSION_ACK").type == 0
        assert vehicle.fence == []


def test_arming_is_refused_before_the_prearm_delay() -> None:
    with flying(speedup=1.0, prearm_delay_s=1000.0) as (vehicle, gcs):
        status = gcs.match("SYS_STATUS")
        assert status.onboard_control_sensors_present & 0x10000000
        assert not status.onboard_control_sensors_health & 0x10000000
        assert gcs.set_mode(4) == 0
        assert gcs.command(400, 1) == 4  # MAV_RESULT_FAILED
        assert any(t.startswith("PreArm: ") for t in gcs.texts)  # sent before the ACK
        assert not vehicle.armed
        assert gcs.command(400, 1, 21196) == 0  # forced, as ArduPilot allows
        assert vehicle.armed


def test_auto_flight_reaches_every_item_lands_home_and_disarms() -> None:
    rows = [home_row(), TAKEOFF_20, wp(100, 0, 20), wp(100, 100, 30), wp(0, 100, 20), RTL_ROW]
    with flying() as (vehicle, gcs):
        fly(gcs, rows)
        wall = time.monotonic()
        seen = until_disarmed(gcs)
        wall = time.monotonic() - wall
        reached = [m.seq for m in of(seen, "MISSION_ITEM_REACHED")]
        assert reached == [1, 2, 3, 4, 5]
        assert "Mission: 2 WP" in gcs.texts
        current = [m.seq for m in of(seen, "MISSION_CURRENT")]
        assert sorted(set(current)) == [1, 2, 3, 4, 5]
        last = of(seen, "GLOBAL_POSITION_INT")[-1]
        assert abs(last.relative_alt) < 100  # mm: on the ground
        assert math.hypot(*local(last)) < 2.0  # at home
        tops = max(m.relative_alt for m in of(seen, "GLOBAL_POSITION_INT")) / 1000
        assert 29.0 < tops < 31.5
        assert not vehicle.armed and vehicle.mode == "AUTO"
        assert vehicle.sim_time_s / max(wall, 1e-3) > 50  # far faster than real time


def test_photos_come_at_the_trigger_distance() -> None:
    # The waypoint is reached 2 m short (WPNAV_RADIUS), so the leg runs past the last photo.
    rows = [home_row(), TAKEOFF_20, do(TRIGG_DIST, 25, 0, 1), wp(210, 0, 20)]
    rows += [do(TRIGG_DIST, 0), RTL_ROW]
    with flying(wind_ms=(0.0, 3.0)) as (vehicle, gcs):
        fly(gcs, rows)
        seen = until_disarmed(gcs)
        photos = of(seen, "CAMERA_FEEDBACK")
        assert [p.img_idx for p in photos] == list(range(1, 10))  # 0, 25, ..., 200 m
        spots = [FRAME.point_to_local(p.lng / 1e7, p.lat / 1e7) for p in photos]
        gaps = [math.dist(a, b) for a, b in itertools.pairwise(spots)]
        assert all(abs(g - 25.0) < 0.05 for g in gaps), gaps
        assert all(abs(p.alt_rel - 20.0) < 1.0 for p in photos)
        assert all(abs(y) < 3.0 for _, y in spots)  # the wind blew; the track held
        assert vehicle.photos == 9


def test_fence_breach_switches_to_rtl_once() -> None:
    fence: list[Row] = [(5003, 0, 60.0, 0, 0, 0, *at(0, 0), 0.0)]  # inclusion circle, 60 m
    rows = [home_row(), TAKEOFF_20, wp(150, 0, 20), wp(150, 150, 20), RTL_ROW]
    with flying() as (_, gcs):
        assert gcs.upload(fence, mission_type=1) == 0
        fly(gcs, rows)
        seen = until_disarmed(gcs)
        assert gcs.texts.count("Fence breach") == 1
        modes = [m.custom_mode for m in of(seen, "HEARTBEAT")]
        assert 6 in modes  # RTL
        far = max(math.hypot(*local(m)) for m in of(seen, "GLOBAL_POSITION_INT"))
        assert 60.0 < far < 90.0  # turned back soon after crossing
        assert [m.seq for m in of(seen, "MISSION_ITEM_REACHED")] == [1]
        assert math.hypot(*local(of(seen, "GLOBAL_POSITION_INT")[-1])) < 2.0


def test_a_careful_upload_survives_a_lossy_link() -> None:
    rows = [home_row(), TAKEOFF_20] + [wp(10 * i, 5 * i, 20) for i in range(1, 9)] + [RTL_ROW]
    with flying(drop_rate=0.2, seed=3) as (vehicle, gcs):
        assert gcs.upload(rows, retry_s=0.2) == 0
        assert gcs.download(retries=20)[1:] == rows[1:]
        assert vehicle.messages_dropped > 0


def test_kill_mid_flight_closes_the_connection() -> None:
    rows = [home_row(), TAKEOFF_20, wp(300, 0, 20), wp(300, 300, 20), RTL_ROW]
    with flying() as (vehicle, gcs):
        fly(gcs, rows)
        gcs.match("MISSION_ITEM_REACHED", lambda m: m.seq == 1)
        vehicle.kill()
        frozen = vehicle.sim_time_s
        deadline = time.monotonic() + 5.0
        while not gcs.closed and time.monotonic() < deadline:
            gcs.recv(0.5)
        assert gcs.closed
        assert vehicle.armed and vehicle.position[2] > 5.0  # it died in the air
        time.sleep(0.05)
        assert vehicle.sim_time_s == frozen
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", int(vehicle.url.rsplit(":", 1)[1])), 1.0)


def test_guided_takeoff_then_rtl_command() -> None:
    with flying() as (vehicle, gcs):
        assert gcs.set_mode(4) == 0
        gcs.arm_when_ready()
        assert gcs.command(22, 0, 0, 0, 0, 0, 0, 12.0) == 0
        gcs.match("GLOBAL_POSITION_INT", lambda m: m.relative_alt > 11_500)
        assert gcs.command(20) == 0
        seen = until_disarmed(gcs)
        top = max(m.relative_alt for m in of(seen, "GLOBAL_POSITION_INT"))
        assert 14_000 < top < 15_500  # RTL climbs to RTL_ALT first
        assert vehicle.mode == "RTL"


def test_auto_on_the_ground_needs_a_takeoff_item() -> None:
    with flying() as (_, gcs):
        assert gcs.upload([home_row(), wp(10, 0, 10), RTL_ROW]) == 0
        assert gcs.set_mode(4) == 0
        gcs.arm_when_ready()
        assert gcs.set_mode(3) == 4
        assert "Auto: Missing Takeoff Cmd" in gcs.texts


def test_bad_arguments_are_named() -> None:
    with pytest.raises(SimError, match="speedup"):
        BuiltinVehicle(HOME, speedup=0)
    with pytest.raises(SimError, match="drop_rate"):
        BuiltinVehicle(HOME, drop_rate=1.0)
    with pytest.raises(SimError, match="latitude"):
        BuiltinVehicle((149.0, -35.0, 0.0))
    with pytest.raises(SimError, match="not started"):
        _ = BuiltinVehicle(HOME).url


# -- the pure parts ----------------------------------------------------------------------


def test_wind_drift_is_compensated() -> None:
    af = Airframe()
    body = Body()
    body.z = 20.0
    dest = (200.0, 0.0, 20.0)
    worst = 0.0
    for _ in range(2000):
        v = velocity_to(body, dest, 10.0, 2.5, 1.5, af.accel_ms2, origin=(0.0, 0.0, 20.0))
        step(body, v, None, af, (0.0, 5.0))
        worst = max(worst, abs(body.y))
    assert math.dist(body.pos, dest) < 0.5
    assert 0.2 < worst < 10.0  # pushed off the line, then brought back


def test_trigger_crossing_and_fence_zones() -> None:
    assert trigger_crossing((0.0, 0.0), (1.0, 0.0), (0.0, 0.0), 5.0) is None
    f = trigger_crossing((4.0, 0.0), (6.0, 0.0), (0.0, 0.0), 5.0)
    assert f == pytest.approx(0.5)
    zones = FenceZones(
        inclusion_polygons=(((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)),),
        exclusion_circles=((5.0, 5.0, 1.0),),
    )
    assert not zones.breached(2.0, 2.0)
    assert zones.breached(5.0, 5.5)  # in the exclusion
    assert zones.breached(11.0, 5.0)  # outside the inclusion
