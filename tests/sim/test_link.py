"""sim.link, sim.recorder and sim.flight: the ground side against a small in-test fake and,
when it is there, the built-in vehicle (sim.vehicle)."""

from __future__ import annotations

import random
import re
import socket
import struct
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mission.items import (
    MissionItem,
    change_speed,
    return_to_launch,
    takeoff,
    trigger_distance,
    waypoint,
)
from mission.plan import FenceCircle, FencePolygon, Geofence, Home, Plan
from mission.tlog import read_tlog
from sim.errors import SimError
from sim.flight import fly_plan
from sim.link import Link, compare_rows, fence_rows, home_row, item_row
from sim.link_transport import LinkLost
from sim.recorder import Recorder

HOME = Home(52.0, 5.0, 10.0)


def _items(n: int = 4) -> list[MissionItem]:
    out = [takeoff(20.0), change_speed(5.0)]
    out += [waypoint(52.0 + 0.0001 * i, 5.0 + 0.0001 * i, 20.0 + i * 0.5) for i in range(n)]
    return [*out, return_to_launch()]


# --- a small fake autopilot: heartbeat, mission protocol, arming refusal -----------------


class FakeAutopilot:
    """Just enough of an ArduCopter for the mission protocol, on a TCP port of its own."""

    def __init__(self, drop_rate: float = 0.0, max_items: int = 700, prearm: str = "") -> None:
        from pymavlink.dialects.v20 import ardupilotmega as mavlink

        self.mavlink = mavlink
        self.drop_rate, self.max_items, self.prearm = drop_rate, max_items, prearm
        self.random = random.Random(1)
        self.stored: dict[int, list[Any]] = {0: [], 1: []}
        self.corrupt: Any = None  # called on each stored item
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp:127.0.0.1:{self.server.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def __enter__(self) -> FakeAutopilot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.server.close()

    def _run(self) -> None:
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        fake = self

        class Out:
            def write(self, data: bytes) -> None:
                if fake.random.random() >= fake.drop_rate:
                    conn.sendall(data)

        mav = self.mavlink.MAVLink(Out(), srcSystem=1, srcComponent=1)
        conn.settimeout(0.05)
        receiving: dict[str, Any] = {}
        last_hb = last_req = 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            if now - last_hb > 0.2:
                mav.heartbeat_send(2, 3, 1, 4, 3)
                mav.sys_status_send(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
                last_hb = now
            if receiving and now - last_req > 0.3:
                mav.mission_request_send(255, 190, receiving["next"], receiving["type"])
                last_req = now
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            for msg in mav.parse_buffer(data) or ():
                if self.random.random() < self.drop_rate:
                    continue
                kind = msg.get_type()
                mtype = getattr(msg, "mission_type", 0)
                if kind == "MISSION_COUNT":
                    if msg.count > self.max_items:
                        mav.statustext_send(
                            4, f"Only {self.max_items} items are supported".encode()
                        )
                        mav.mission_ack_send(255, 190, 4, mtype)  # NO_SPACE
                        continue
                    receiving = {"count": msg.count, "next": 0, "type": mtype, "items": []}
                    mav.mission_request_send(255, 190, 0, mtype)
                    last_req = time.monotonic()
                elif kind == "MISSION_ITEM_INT" and receiving:
                    if msg.seq != receiving["next"]:
                        mav.mission_ack_send(255, 190, 13, mtype)  # INVALID_SEQUENCE
                        continue
                    item = msg if self.corrupt is None else self.corrupt(msg)
                    receiving["items"].append(item)
                    receiving["next"] += 1
                    if receiving["next"] == receiving["count"]:
                        self.stored[receiving["type"]] = receiving["items"]
                        mav.mission_ack_send(255, 190, 0, mtype)
                        receiving = {}
                    else:
                        mav.mission_request_send(255, 190, receiving["next"], mtype)
                        last_req = time.monotonic()
                elif kind == "MISSION_REQUEST_LIST":
                    mav.mission_count_send(255, 190, len(self.stored[mtype]), mtype)
                elif kind == "MISSION_REQUEST_INT":
                    m = self.stored[mtype][msg.seq]
                    mav.mission_item_int_send(
                        255, 190, m.seq, m.frame, m.command, 0, 1, m.param1, m.param2,
                        m.param3, m.param4, m.x, m.y, m.z, mtype,
                    )  # fmt: skip
                elif kind == "MISSION_CLEAR_ALL":
                    self.stored[mtype] = []
                    mav.mission_ack_send(255, 190, 0, mtype)
                elif kind == "COMMAND_LONG" and msg.command == 400:
                    mav.statustext_send(3, f"PreArm: {self.prearm}".encode())
                    mav.command_ack_send(400, 4)  # FAILED


# --- rows and comparison (no vehicle) ----------------------------------------------------


def test_item_rows_and_fence_rows() -> None:
    row = item_row(waypoint(52.1234567, 5.7654321, 30.25, hold_s=2))
    assert row == (16, 3, 2.0, 0.0, 0.0, 0.0, 521234567, 57654321, 30.25)
    assert home_row(HOME) == (16, 0, 0.0, 0.0, 0.0, 0.0, 520000000, 50000000, 10.0)
    fence = Geofence(
        polygons=(FencePolygon(((5.0, 52.0), (5.1, 52.0), (5.1, 52.1)), inclusion=False),),
        circles=(FenceCircle(5.0, 52.0, 500.0),),
    )
    rows = fence_rows(fence)
    assert [r[0] for r in rows] == [5002, 5002, 5002, 5003]
    assert [r[2] for r in rows] == [3.0, 3.0, 3.0, 500.0]
    assert rows[1][6:8] == (520000000, 51000000)


def test_compare_rows_tolerances_and_first_difference() -> None:
    sent = [home_row(HOME)] + [item_row(i) for i in _items()]
    assert compare_rows(sent, sent) is None
    got = list(sent)
    got[0] = (16, 0, 0.0, 0.0, 0.0, 0.0, 1, 2, 3.0)  # the vehicle's own home
    assert compare_rows(sent, got, first=1) is None
    a = got[3]
    got[3] = (a[0], a[1], a[2], a[3], a[4], a[5], a[6] + 1, a[7] - 1, a[8] - 0.009)
    assert compare_rows(sent, got, first=1) is None  # 1e-7 deg, ArduPilot's centimetres
    got[2] = (178, 0, *sent[2][2:])  # DO_CHANGE_SPEED comes back in frame 0 from ArduPilot
    assert compare_rows(sent, got, first=1) is None
    got[4] = (*sent[4][:8], sent[4][8] + 0.5)
    assert compare_rows(sent, got, first=1) == "item 4 (command 16): z sent 20.5, read back 21.0"
    assert "holds 3 items, 8 were sent" in str(compare_rows(sent, got[:3]))


def test_recorder_times_from_system_time_and_tlog_round_trip() -> None:
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
    rec = Recorder()
    unix0 = 1_714_555_800_000_000  # 2024-05-01T09:30:00Z
    msgs = [
        mav.global_position_int_encode(900, 520000000, 50000000, 10000, 0, 300, 400, 0, 0),
        mav.system_time_encode(unix0 + 1_000_000, 1000),
        mav.attitude_encode(1500, 0.1, 0.0, 1.0, 0, 0, 0),
        mav.global_position_int_encode(2000, 520000100, 50000100, 30000, 20000, 0, 0, 0, 0),
        mav.camera_feedback_encode(0, 1, 0, 3, 520000100, 50000100, 30.0, 20.0, 0, 0, 0, 0, 0),
    ]
    for i, m in enumerate(msgs):
        m.pack(mav)  # gives it its bytes, as a received message has
        rec.feed(m, wall_us=1_800_000_000_000_000 + i)
    track = rec.track("test")
    assert [s.time.timestamp() for s in track.samples] == [1714555800.9, 1714555802.0]
    assert track.samples[0].ground_speed_ms == 5.0
    assert round(track.samples[1].roll_deg or 0, 6) == round(0.1 * 180 / 3.141592653589793, 6)
    assert [p.image_index for p in track.photos] == [3]
    assert track.photos[0].time == track.samples[1].time  # stamped at the last boot time
    assert read_tlog(rec.tlog(), "x.tlog") == track
    stamps = [struct.unpack(">Q", rec.tlog()[:8])[0]]
    assert stamps == [unix0 + 900_000]


def test_recorder_without_system_time_uses_arrival_time() -> None:
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
    rec = Recorder()
    m = mav.global_position_int_encode(900, 520000000, 50000000, 10000, 0, 0, 0, 0, 0)
    m.pack(mav)
    rec.feed(m, wall_us=1_714_555_800_000_000)
    assert rec.track().samples[0].time.timestamp() == 1714555800.0
    with pytest.raises(SimError, match="no telemetry"):
        Recorder().track()


# --- connecting --------------------------------------------------------------------------


def test_connect_errors_name_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SimError, match=f"tcp:127.0.0.1:{port}: cannot connect"):
        Link.connect(f"tcp:127.0.0.1:{port}", timeout_s=1)
    with pytest.raises(SimError, match="tcp:nowhere: expected HOST:PORT"):
        Link.connect("tcp:nowhere", timeout_s=1)
    with pytest.raises(SimError, match="scheme 'tcpin' is not supported"):
        Link.connect("tcpin:0.0.0.0:5760", timeout_s=1)


def test_connect_to_a_silent_port_times_out_naming_it() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"tcp:127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(SimError, match=f"{url}: no HEARTBEAT from an autopilot within 0.5 s"):
            Link.connect(url, timeout_s=0.5)


# --- the mission protocol against the fake -----------------------------------------------


def test_upload_download_and_read_back_with_the_fake() -> None:
    plan = Plan(HOME, (tuple(_items()),))
    with FakeAutopilot() as fake, Link.connect(fake.url, timeout_s=5) as link:
        link.upload_plan_sortie(plan, 0)
        rows = link.download()
        assert rows[1:] == [item_row(i) for i in plan.sorties[0]]
        assert rows[0] == home_row(HOME)


def test_read_back_difference_is_named() -> None:
    plan = Plan(HOME, (tuple(_items()),))

    def corrupt(msg: Any) -> Any:
        if msg.seq == 3:
            msg.z += 1.0
        return msg

    with FakeAutopilot() as fake, Link.connect(fake.url, timeout_s=5) as link:
        fake.corrupt = corrupt
        with pytest.raises(SimError, match=r"read back differs.*item 3 \(command 16\): z sent 20"):
            link.upload_plan_sortie(plan, 0)


def test_upload_with_drops_still_arrives() -> None:
    plan = Plan(HOME, (tuple(_items(12)),))
    with FakeAutopilot(drop_rate=0.2) as fake, Link.connect(fake.url, timeout_s=5) as link:
        link.retry_s = 0.2
        link.upload_plan_sortie(plan, 0)
        assert len(fake.stored[0]) == 1 + len(plan.sorties[0])


def test_too_many_items_gives_the_vehicles_reason() -> None:
    with (
        FakeAutopilot(max_items=5) as fake,
        Link.connect(fake.url, timeout_s=5) as link,
        pytest.raises(SimError) as err,
    ):
        link.upload(_items(10), HOME)
    assert str(err.value) == (
        "vehicle rejected the mission: MAV_MISSION_NO_SPACE (Only 5 items are supported)"
    )


def test_fence_upload_read_back_and_clear() -> None:
    fence = Geofence(
        polygons=(FencePolygon(((5.0, 52.0), (5.01, 52.0), (5.01, 52.01), (5.0, 52.01))),),
        circles=(FenceCircle(5.005, 52.005, 50.0, inclusion=False),),
    )
    with FakeAutopilot() as fake, Link.connect(fake.url, timeout_s=5) as link:
        assert link.upload_fence(fence) == 5
        assert link.download(1) == fence_rows(fence)
        assert link.upload_fence(Geofence()) == 0
        assert fake.stored[1] == []


def test_arm_refused_quotes_prearm() -> None:
    refused = r"refused to arm within 1.5 s: PreArm: GPS 1: Bad fix"
    with (
        FakeAutopilot(prearm="GPS 1: Bad fix") as fake,
        Link.connect(fake.url) as link,
        pytest.raises(SimError, match=refused),
    ):
        link.arm(timeout_s=1.5)


def test_closed_connection_is_link_lost() -> None:
    with FakeAutopilot() as fake:
        link = Link.connect(fake.url, timeout_s=5)
        fake.stop.set()
        fake.thread.join(5)
        # a close with unread data in the vehicle's socket arrives as a reset, not an EOF
        with pytest.raises(LinkLost, match=r"closed by the vehicle|connection lost"):
            for _ in link.messages(5):
                pass
        link.close()


# --- against the built-in vehicle --------------------------------------------------------

START = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def _builtin(**kw: Any) -> Any:
    from sim.vehicle import BuiltinVehicle

    home = (HOME.lat_deg, HOME.lon_deg, HOME.alt_amsl_m)
    return BuiltinVehicle(home, speedup=float("inf"), start_time=START, seed=0, **kw)


def _survey_plan(lanes: int = 4) -> Plan:
    items = [takeoff(20.0), change_speed(8.0), trigger_distance(20.0)]
    items += [
        waypoint(52.0 + 0.0009 * i, 5.0 + 0.0005 * (i % 2), 20.0) for i in range(1, lanes + 1)
    ]
    items += [trigger_distance(0.0), return_to_launch()]
    return Plan(HOME, (tuple(items),), name="survey")


def test_builtin_upload_read_back_download_and_fence() -> None:
    plan = _survey_plan()
    fence = Geofence(
        polygons=(FencePolygon(((4.99, 51.99), (5.01, 51.99), (5.01, 52.01), (4.99, 52.01))),),
        circles=(FenceCircle(5.005, 52.005, 30.0, inclusion=False),),
    )
    with _builtin() as vehicle, Link.connect(vehicle.url, timeout_s=10) as link:
        link.upload_plan_sortie(plan, 0)
        assert link.download()[1:] == [item_row(i) for i in plan.sorties[0]]
        assert vehicle.mission[1:] == list(plan.sorties[0])
        assert link.upload_fence(fence) == 5
        assert link.download(1) == fence_rows(fence)


def test_builtin_flies_a_plan_to_the_end() -> None:
    plan = _survey_plan()
    lines: list[str] = []
    with _builtin() as vehicle:
        result = fly_plan(plan, vehicle.url, on_progress=lines.append)
        photos = vehicle.photos
    assert result.completed and result.reason == ""
    assert result.sorties_flown == 1
    nav = {seq for seq, item in enumerate(plan.sorties[0], 1) if item.is_nav}
    assert nav <= {seq for sortie, seq in result.items_reached if sortie == 1}
    assert "sortie 1/1: landed and disarmed" in lines
    track = result.track
    assert track is not None and track.source == "survey"
    assert track.samples[-1].alt_rel_m < 0.5  # landed
    assert max(s.alt_rel_m for s in track.samples) == pytest.approx(20.0, abs=0.5)
    assert track.start >= START and track.end == track.start + timedelta(
        seconds=result.sim_duration_s
    )
    airborne = track.airborne()
    flying_s = (airborne[-1].time - airborne[0].time).total_seconds()
    assert 60 < flying_s < 400  # simulated time, though it took a second or two
    assert result.photos == len(track.photos) == photos > 5
    assert track.home == (HOME.lon_deg, HOME.lat_deg, HOME.alt_amsl_m)
    assert read_tlog(result.tlog, "flight.tlog") == track


def test_builtin_drops_a_fifth_of_all_messages_and_still_uploads() -> None:
    plan = _survey_plan(5)
    with _builtin(drop_rate=0.2) as vehicle, Link.connect(vehicle.url, timeout_s=10) as link:
        link.retry_s = 0.3
        start = time.monotonic()
        link.upload_plan_sortie(plan, 0)
        assert vehicle.mission[1:] == list(plan.sorties[0])
        assert time.monotonic() - start < 30


def test_builtin_killed_mid_flight_keeps_the_points_so_far() -> None:
    plan = _survey_plan()
    with _builtin() as vehicle:

        def progress(line: str) -> None:
            if line.endswith("reached item 5 of 9"):
                vehicle.kill()

        result = fly_plan(plan, vehicle.url, on_progress=progress)
    assert not result.completed
    lost = re.fullmatch(
        r"connection lost at \d\d:\d\d:\d\d UTC after item (\d) \(vehicle killed\?\)", result.reason
    )
    assert lost is not None, result.reason
    # what was already on the wire when it died still arrives: item 5 or a little later
    assert 5 <= int(lost[1]) == max(seq for _, seq in result.items_reached) < 9
    assert result.track is not None and len(result.track.samples) > 10
    assert result.track.samples[-1].alt_rel_m > 10  # still in the air when it died
    assert read_tlog(result.tlog, "killed.tlog") == result.track


def test_builtin_mission_too_long_gives_the_vehicles_reason() -> None:
    with _builtin(max_items=5) as vehicle:
        result = fly_plan(_survey_plan(), vehicle.url)
    assert not result.completed and result.sorties_flown == 0
    assert result.reason == (
        "vehicle rejected the mission: MAV_MISSION_NO_SPACE (Only 5 items are supported)"
    )


def test_builtin_arm_refused_names_the_prearm_failure() -> None:
    with _builtin(prearm_delay_s=1e9) as vehicle:
        result = fly_plan(_survey_plan(), vehicle.url, prearm_timeout_s=1.0)
        with Link.connect(vehicle.url) as link, pytest.raises(SimError, match="PreArm: "):
            link.arm(timeout_s=1.0)
    assert not result.completed
    assert result.reason.startswith("pre-arm checks still failing after 1 s: PreArm: ")


def test_builtin_flies_two_sorties_with_a_fence() -> None:
    first = (takeoff(15.0), waypoint(52.0005, 5.0, 15.0), return_to_launch())
    second = (takeoff(15.0), waypoint(52.0, 5.0008, 15.0), return_to_launch())
    fence = Geofence(circles=(FenceCircle(5.0, 52.0, 500.0),))
    plan = Plan(HOME, (first, second), name="two")
    with _builtin() as vehicle:
        result = fly_plan(plan, vehicle.url, fence=fence)
        assert len(vehicle.fence) == 1
    assert result.completed, result.reason
    assert result.sorties_flown == 2
    assert {(1, 1), (1, 2), (2, 1), (2, 2)} <= set(result.items_reached)


def test_builtin_flight_times_out_in_simulated_time() -> None:
    with _builtin() as vehicle:
        result = fly_plan(_survey_plan(), vehicle.url, timeout_s=40)
    assert not result.completed
    assert re.fullmatch(
        r"timed out after 40 simulated s in sortie 1, at item \d of 9", result.reason
    )
    assert result.track is not None


def test_abort_to_rtl_on_request_comes_home_before_the_last_waypoints() -> None:
    from sim.vehicle import BuiltinVehicle

    plan = _survey_plan(6)
    home = (HOME.lat_deg, HOME.lon_deg, HOME.alt_amsl_m)
    with BuiltinVehicle(home, speedup=100.0, start_time=START) as vehicle:
        with Link.connect(vehicle.url, timeout_s=10) as link:
            link.upload_plan_sortie(plan, 0)
            link.wait_prearm(60)
            link.set_mode("GUIDED")
            link.arm(30)
            link.set_mode("AUTO")
            link.start_mission()
            for _ in link.messages(60):
                if link.mission_current_max >= 5:  # on the way to the second waypoint
                    break
            link.rtl()
            assert link.custom_mode == 6  # RTL
            for _ in link.messages(120):
                if not link.armed:
                    break
            reached = list(link.reached)
        lat, lon, alt = vehicle.position
    assert not vehicle.armed and alt < 0.5
    assert abs(lat - HOME.lat_deg) < 2e-5 and abs(lon - HOME.lon_deg) < 2e-5  # home
    assert max(reached) < len(plan.sorties[0]) - 2  # the last waypoints were never reached
