"""The flown track: the model, its CSV, and the MAVLink .tlog and DataFlash .bin readers.

Logs are built here: tlogs with pymavlink's MAVLink encoder, DataFlash logs record by
record with struct; the .bin reader is checked against pymavlink's own DFReader.
"""

import math
import random
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mission.errors import MissionError
from mission.track import (
    CameraEvent,
    Track,
    TrackSample,
    read_track,
    track_to_csv,
)

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
LON, LAT, AMSL = 149.165230, -35.363261, 584.09  # ArduPilot SITL home


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def one_line_error(data: bytes, source: str) -> str:
    with pytest.raises(MissionError) as info:
        read_track(data, source)
    message = str(info.value)
    assert "\n" not in message and message.startswith(source)
    return message


# --- the model -------------------------------------------------------------------------


def test_track_model_helpers():
    samples = tuple(
        TrackSample(at(i), LON + i * 1e-5, LAT, alt, yaw_deg=yaw)
        for i, (alt, yaw) in enumerate([(0.0, 350.0), (5.0, 10.0), (20.0, 20.0), (0.2, 30.0)])
    )
    track = Track(samples, home=(LON, LAT, AMSL), source="a")
    assert track.duration_s == 3.0 and track.start == T0 and track.end == at(3)
    assert track.airborne() == samples[1:3]
    mid = track.at(at(0.5))
    assert mid.lon_deg == pytest.approx(LON + 0.5e-5) and mid.alt_rel_m == 2.5
    assert mid.yaw_deg == pytest.approx(0.0, abs=1e-9) or mid.yaw_deg == pytest.approx(360.0)
    assert mid.roll_deg is None and mid.alt_amsl_m is None
    assert track.at(at(-5)).lon_deg == LON and track.at(at(9)).alt_rel_m == 0.2
    assert track == Track(samples, home=(LON, LAT, AMSL), source="other name")


def test_gimbal_pitch_is_optional_and_interpolated():
    plain = TrackSample(at(0), LON, LAT, 10.0, yaw_deg=10.0)
    tilted = TrackSample(at(2), LON, LAT, 10.0, yaw_deg=20.0, gimbal_pitch_deg=-45.0)
    assert plain.gimbal_pitch_deg is None
    down = TrackSample(at(4), LON, LAT, 10.0, yaw_deg=30.0, gimbal_pitch_deg=-90.0)
    track = Track((plain, tilted, down))
    assert track.at(at(1)).gimbal_pitch_deg is None  # unknown on one side
    assert track.at(at(3)).gimbal_pitch_deg == pytest.approx(-67.5)
    assert track.at(at(9)).gimbal_pitch_deg == -90.0
    with pytest.raises(MissionError, match="gimbal_pitch_deg"):
        TrackSample(at(0), LON, LAT, 1.0, gimbal_pitch_deg=math.nan)


def test_csv_gimbal_pitch_column():
    text = (
        "time,lon,lat,alt_rel_m,gimbal_pitch_deg\n"
        f"2024-05-01T09:30:00Z,{LON},{LAT},40,-60.5\n"
        f"2024-05-01T09:30:01Z,{LON},{LAT},40,\n"
    )
    track = read_track(text.encode(), "f.csv")
    assert [s.gimbal_pitch_deg for s in track.samples] == [-60.5, None]
    written = track_to_csv(track)
    assert written.splitlines()[0].endswith(",ground_speed_ms,gimbal_pitch_deg,image_index")
    assert read_track(written.encode(), "g.csv") == track
    bad = text.replace("-60.5", "down")
    assert "line 2: gimbal_pitch_deg 'down' is not a number" in one_line_error(
        bad.encode(), "f.csv"
    )


def test_track_model_validates():
    ok = TrackSample(at(0), LON, LAT, 1.0)
    assert TrackSample(at(0), LON, LAT, 1.0, yaw_deg=-90.0).yaw_deg == 270.0
    when = datetime(2024, 5, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    assert TrackSample(when, LON, LAT, 1.0).time.utcoffset() == timedelta(0)
    with pytest.raises(MissionError, match="UTC offset"):
        TrackSample(datetime(2024, 5, 1), LON, LAT, 1.0)
    with pytest.raises(MissionError, match="swapped"):
        TrackSample(at(0), LAT, LON + 100, 1.0)
    with pytest.raises(MissionError, match="ground_speed_ms"):
        TrackSample(at(0), LON, LAT, 1.0, ground_speed_ms=-1.0)
    with pytest.raises(MissionError, match="at least one sample"):
        Track(())
    with pytest.raises(MissionError, match="time order"):
        Track((TrackSample(at(1), LON, LAT, 1.0), ok))
    with pytest.raises(MissionError, match="image_index"):
        CameraEvent(at(0), LON, LAT, 1.0, image_index=1.5)  # type: ignore[arg-type]


# --- CSV -------------------------------------------------------------------------------

finite = st.floats(-1e4, 1e4, allow_nan=False)
maybe = st.none() | finite
offsets = st.builds(timezone, st.integers(-12 * 60, 14 * 60).map(lambda m: timedelta(minutes=m)))
times = st.datetimes(datetime(2000, 1, 1), datetime(2099, 1, 1), timezones=offsets)
lons, lats = st.floats(-180, 180), st.floats(-90, 90)
samples_st = st.builds(
    TrackSample,
    times,
    lons,
    lats,
    finite,
    maybe,
    maybe,
    maybe,
    st.none() | st.floats(0, 360, exclude_max=True),
    st.none() | st.floats(0, 100),
    st.none() | st.floats(-180, 180),
)
photos_st = st.builds(CameraEvent, times, lons, lats, finite, maybe, st.none() | st.integers(0))
tracks = st.builds(
    lambda s, p, h: Track(
        tuple(sorted(s, key=lambda x: x.time)), tuple(sorted(p, key=lambda x: x.time)), h
    ),
    st.lists(samples_st, min_size=1, max_size=8),
    st.lists(photos_st, max_size=4),
    st.none() | st.tuples(lons, lats, finite),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tracks)
def test_csv_round_trip(track):
    text = track_to_csv(track)
    back = read_track(text.encode(), "x.csv")
    assert back == track and back.source == "x.csv"
    assert [s.time for s in back.samples] == [s.time for s in track.samples]


def test_csv_others_write():
    text = (
        "\ufefflat,lon,time,alt_rel_m,note,yaw_deg\n"
        f"{LAT},{LON},2024-05-01T11:30:00+02:00,0,start,\n"
        "\n"
        f'{LAT},{LON},2024-05-01T09:30:01.5Z,12.5,"a, b",-90\n'
    )
    track = read_track(text.encode(), "flight.CSV")
    assert [s.time for s in track.samples] == [T0, at(1.5)]
    assert track.samples[0].yaw_deg is None and track.samples[1].yaw_deg == 270.0
    assert track.samples[1].alt_amsl_m is None and track.photos == () and track.home is None


CSV_HEAD = "event,time,lon,lat,alt_rel_m,alt_amsl_m,image_index\n"
ROW = f",2024-05-01T09:30:00Z,{LON},{LAT},10,,\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "flight.csv: empty file"),
        ("time,lon,alt_rel_m\n", "flight.csv: column 'lat' missing (columns are: time, lon, "),
        (CSV_HEAD, "flight.csv: no sample rows"),
        (CSV_HEAD + ROW.replace(f"{LAT}", "abc"), "flight.csv line 2: lat 'abc' is not a number"),
        (CSV_HEAD + ROW.replace(f"{LAT}", "nan"), "line 2: lat 'nan' is not a finite number"),
        (CSV_HEAD + ROW.replace(f"{LAT}", "149.2"), "line 2: position latitude 149.2 is outside"),
        (CSV_HEAD + ROW.replace(",10,", ",,"), "line 2: alt_rel_m is empty; a number is needed"),
        (CSV_HEAD + ROW.replace("Z", ""), "line 2: time '2024-05-01T09:30:00' has no UTC offset"),
        (CSV_HEAD + ROW.replace("2024-05-01T", "yesterday "), "is not an ISO 8601 time"),
        (CSV_HEAD + ROW + ROW.replace(":00Z", ":00+01:00"), "line 3: time 2024-05-01T08:30:00Z"),
        (CSV_HEAD + "landing" + ROW, "line 2: event 'landing' is not one of"),
        (CSV_HEAD + ROW.replace(",\n", "\n"), "line 2: 6 fields, but the header has 7"),
        (CSV_HEAD + "photo" + ROW[:-1] + "x\n", "line 2: image_index 'x' is not a whole number"),
        (CSV_HEAD + ROW + f"home,,{LON},{LAT},,,\n", "line 3: alt_amsl_m is empty"),
        (CSV_HEAD + f"home,,{LON},{LAT},,1,\n" * 2, "line 3: a second home row"),
        (
            f"time,lon,lat,alt_rel_m,ground_speed_ms\n{T0.isoformat()},{LON},{LAT},1,-1\n",
            "line 2: track sample ground_speed_ms -1.0 must be a number >= 0",
        ),
    ],
)
def test_csv_errors(text: str, message: str):
    assert message in one_line_error(text.encode(), "flight.csv")


def test_bytes_that_are_not_a_track():
    assert "not UTF-8" in one_line_error(b"\xff\xfe\x00time", "f.csv")
    assert "not valid CSV" in one_line_error(b'time,lon,lat,alt_rel_m\n"a"b,1,2,3\n', "f.csv")
    message = one_line_error(b"", "flight.gpx")
    assert "unknown track file extension '.gpx'; valid: .csv, .tlog, .bin" in message
    assert "'(none)'" in one_line_error(b"", "flight")


def test_importing_the_readers_loads_no_pymavlink():
    code = (
        "import sys, mission.track, mission.tlog, mission.dataflash; "
        "print(sorted(m for m in sys.modules if m.startswith('pymavlink')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- MAVLink .tlog ----------------------------------------------------------------------


def mavlink(sysid: int = 1, v1: bool = False):
    from pymavlink.dialects.v10 import ardupilotmega as mavlink1
    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    mav = (mavlink1 if v1 else mavlink2).MAVLink(None, srcSystem=sysid, srcComponent=1)
    return mav


def record(seconds: float, msg, mav) -> bytes:
    stamp = round(at(seconds).timestamp() * 1e6)
    return struct.pack(">Q", stamp) + msg.pack(mav)


def flight_tlog(photos: str = "feedback", noise: bool = True) -> tuple[bytes, list[tuple]]:
    """A 4 s flight at 5 Hz, with noise around it; returns the log and the expected samples."""
    uav, old, gcs, other = mavlink(1), mavlink(1, v1=True), mavlink(255), mavlink(2)
    out = [record(0, gcs.heartbeat_encode(6, 8, 0, 0, 0), gcs)]
    out.append(record(0.01, uav.global_position_int_encode(10, 0, 0, 0, 0, 0, 0, 0, 0), uav))
    out.append(
        record(
            0.02,
            uav.home_position_encode(
                -353632610, 1491652300, 584090, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0
            ),
            uav,
        )
    )
    expected = []
    for i in range(20):
        t = 0.1 + i * 0.2
        roll, pitch, yaw = 0.01 * i, -0.02 * i, -math.pi + 0.3 * i
        lat, lon = -353632610 + 10 * i, 1491652300 + 25 * i
        mav = old if i % 3 == 0 else uav
        out.append(record(t - 0.05, mav.attitude_encode(i, roll, pitch, yaw, 0, 0, 0), mav))
        out.append(record(t - 0.04, mav.sys_status_encode(*[0] * 13), mav))
        vx, vy = 300 + i, -400
        msg = mav.global_position_int_encode(i, lat, lon, 584090 + 500 * i, 500 * i, vx, vy, 0, 0)
        out.append(record(t, msg, mav))
        out.append(
            record(t + 0.01, other.global_position_int_encode(i, 1, 1, 0, 0, 0, 0, 0, 0), other)
        )
        if i in (5, 10, 15):
            if photos == "feedback":
                msg = uav.camera_feedback_encode(
                    0, 1, 0, i // 5, lat, lon, 590.0, 6.0 + i, 0, 0, 0, 0, 0
                )
            else:
                msg = uav.camera_trigger_encode(0, i // 5)
            out.append(record(t + 0.1, msg, uav))
        if i == 7 and noise:
            out.append(b"\x00\xfe\xfd garbage \xa3\x95\x80" * 3)
        if i == 12 and noise:  # a packet whose checksum is wrong: dropped, the next one is kept
            bad = bytearray(record(t + 0.05, uav.attitude_encode(i, 3, 3, 3, 0, 0, 0), uav))
            bad[-1] ^= 0xFF
            out.append(bytes(bad))
        expected.append(
            (
                at(t),
                lon * 1e-7,
                lat * 1e-7,
                0.5 * i,
                584.09 + 0.5 * i,
                math.degrees(roll),
                math.degrees(pitch),
                math.degrees(yaw) % 360,
                math.hypot(vx, vy) / 100,
            )
        )
    last = record(4.5, uav.global_position_int_encode(99, 1, 1, 1, 1, 0, 0, 0, 0), uav)
    return b"".join(out) + last[:-5], expected  # the power went off mid-record


def test_tlog_flight():
    data, expected = flight_tlog()
    track = read_track(data, "flight.tlog")
    got = [
        (
            s.time,
            s.lon_deg,
            s.lat_deg,
            s.alt_rel_m,
            s.alt_amsl_m,
            s.roll_deg,
            s.pitch_deg,
            s.yaw_deg,
            s.ground_speed_ms,
        )
        for s in track.samples
    ]
    assert len(got) == len(expected)
    for row, want in zip(got, expected, strict=True):
        assert row[0] == want[0]
        assert row[1:5] == pytest.approx(want[1:5], abs=1e-7)
        assert row[5:] == pytest.approx(want[5:], abs=1e-4)  # attitude is float32
    assert track.home == pytest.approx((149.16523, -35.363261, 584.09))
    assert [(p.image_index, p.alt_rel_m, p.alt_amsl_m) for p in track.photos] == [
        (1, 11.0, 590.0),
        (2, 16.0, 590.0),
        (3, 21.0, 590.0),
    ]
    assert track.photos[0].time == at(0.1 + 5 * 0.2 + 0.1)
    assert track.photos[0].lon_deg == pytest.approx(expected[5][1])


def pymavlink_positions(data: bytes, path) -> list[tuple]:
    from pymavlink import mavutil

    path.write_bytes(data)
    log = mavutil.mavlink_connection(str(path))
    theirs = []
    while (m := log.recv_match(type="GLOBAL_POSITION_INT")) is not None:
        if m.get_srcSystem() == 1 and m.lat != 0:
            theirs.append((m._timestamp, m.lat * 1e-7, m.lon * 1e-7, m.relative_alt / 1000))
    log.close()
    return theirs


@pytest.mark.parametrize("noise", [False, True])
def test_tlog_against_pymavlink(tmp_path, noise: bool):
    data, _ = flight_tlog(noise=noise)
    theirs = pymavlink_positions(data, tmp_path / "flight.tlog")
    ours = [
        (s.time.timestamp(), s.lat_deg, s.lon_deg, s.alt_rel_m)
        for s in read_track(data, "flight.tlog").samples
    ]
    assert len(ours) == 20
    if noise:  # mavlogfile loses a few records after the garbage; we keep every one
        ours = [row for row in ours if any(abs(row[0] - t[0]) < 1e-3 for t in theirs)]
    assert len(ours) == len(theirs) >= 17
    for mine, other in zip(ours, theirs, strict=True):
        assert mine == pytest.approx(other, abs=1e-6)


def test_tlog_camera_triggers_are_placed_on_the_track():
    data, expected = flight_tlog(photos="trigger")
    track = read_track(data, "flight.tlog")
    assert [p.image_index for p in track.photos] == [1, 2, 3]
    first = track.photos[0]  # halfway between samples 5 and 6
    assert first.lon_deg == pytest.approx((expected[5][1] + expected[6][1]) / 2)
    assert first.alt_rel_m == pytest.approx(2.75) and first.alt_amsl_m == pytest.approx(586.84)


def test_tlog_gimbal_pitch():
    """MOUNT_STATUS (cdeg) and GIMBAL_DEVICE_ATTITUDE_STATUS (a quaternion) give the pitch."""
    uav, gimbal, other = mavlink(1), mavlink(1), mavlink(1)
    gimbal.srcComponent, other.srcComponent = 154, 155

    def position(t: float):
        return record(
            t, uav.global_position_int_encode(0, -353632610, 1491652300, 0, 40_000, 0, 0, 0, 0), uav
        )

    def quaternion(pitch_deg: float) -> list[float]:
        half = math.radians(pitch_deg) / 2
        return [math.cos(half), 0.0, math.sin(half), 0.0]

    def device(t: float, q, mav=gimbal):
        msg = mav.gimbal_device_attitude_status_encode(0, 0, 0, 12, q, 0, 0, 0, 0)
        return record(t, msg, mav)

    data = b"".join(
        [
            position(0.0),
            record(0.1, uav.mount_status_encode(0, 0, -3000, 0, 0), uav),
            position(0.2),
            device(0.3, quaternion(-72.0)),
            device(0.35, quaternion(10.0), other),  # a second gimbal: not the camera's
            position(0.4),
            device(0.5, [math.nan] * 4),  # attitude not known: the last pitch stays
            position(0.6),
            device(0.7, quaternion(-90.0)),
            position(0.8),
        ]
    )
    pitches = [s.gimbal_pitch_deg for s in read_track(data, "g.tlog").samples]
    assert pitches == pytest.approx([None, -30.0, -72.0, -72.0, -90.0], abs=1e-4)
    plain, _ = flight_tlog(noise=False)
    assert {s.gimbal_pitch_deg for s in read_track(plain, "f.tlog").samples} == {None}


def test_tlog_errors():
    gcs = mavlink(255)
    heartbeats = b"".join(record(i, gcs.heartbeat_encode(6, 8, 0, 0, 0), gcs) for i in range(5))
    assert "empty file" in one_line_error(b"", "log.tlog")
    assert one_line_error(heartbeats, "log.tlog") == (
        "log.tlog: no GLOBAL_POSITION_INT messages: not a flight log?"
    )
    garbage = random.Random(1).randbytes(20_000)
    assert "no MAVLink packets found" in one_line_error(garbage, "log.tlog")
    assert "no MAVLink packets found" in one_line_error(heartbeats[:20], "log.tlog")
    uav = mavlink(1)
    nowhere = record(1, uav.global_position_int_encode(0, 0, 0, 0, 0, 0, 0, 0, 0), uav)
    assert "every GLOBAL_POSITION_INT is at 0, 0" in one_line_error(nowhere, "log.tlog")


# --- ArduPilot DataFlash .bin -------------------------------------------------------------

CODES = {
    "a": "64s",
    "n": "4s",
    "N": "16s",
    "Z": "64s",
    "c": "h",
    "C": "H",
    "e": "i",
    "E": "I",
    "L": "i",
    "M": "B",
    "g": "e",
}
# (type, name, format, columns) as ArduPilot 4.5 writes them
TYPES = {
    "GPS": (
        130,
        "QBBIHBcLLeffffB",
        "TimeUS,I,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,Yaw,U",
    ),
    "POS": (131, "QLLfff", "TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt"),
    "ATT": (132, "QccccCCCCB", "TimeUS,DesRoll,Roll,DesPitch,Pitch,DesYaw,Yaw,ErrRP,ErrYaw,AEKF"),
    "CAM": (133, "QBHIHLLeeeccC", "TimeUS,I,Img,GPSTime,GPSWeek,Lat,Lng,Alt,RelAlt,GPSAlt,R,P,Y"),
    "ORGN": (134, "QBLLe", "TimeUS,Type,Lat,Lng,Alt"),
    "MODE": (135, "QMBB", "TimeUS,Mode,ModeNum,Rsn"),
    "ISBD": (136, "QHHaaa", "TimeUS,N,seqno,x,y,z"),
    "MSG": (137, "QZ", "TimeUS,Message"),
    "MNT": (138, "QBffffffff", "TimeUS,I,DesRoll,Roll,DesPitch,Pitch,DesYawB,YawB,DesYawE,YawE"),
}


def layout(chars: str) -> struct.Struct:
    return struct.Struct("<" + "".join(CODES.get(c, c) for c in chars))


def fmt(name: str) -> bytes:
    type_, chars, columns = TYPES[name]
    body = struct.pack(
        "<BB4s16s64s",
        type_,
        layout(chars).size + 3,
        name.encode(),
        chars.encode(),
        columns.encode(),
    )
    return b"\xa3\x95\x80" + body


def rec(name: str, *values) -> bytes:
    type_, chars, _ = TYPES[name]
    return b"\xa3\x95" + bytes([type_]) + layout(chars).pack(*values)


WEEK, WEEK_MS = 2312, 300_600_000  # 2024-05-01 11:30:00 GPS time, 11:29:42 UTC
BOOT_US = 60_000_000


def gps(t_us: int, status: int = 6, week: int = WEEK, i: int = 0, lat=0, lon=0, alt_cm=0):
    ms = WEEK_MS + (t_us - BOOT_US) // 1000 if week else 0
    return rec("GPS", t_us, i, status, ms, week, 12, 70, lat, lon, alt_cm, 4.5, 90.0, 0.0, 0.0, 1)


def flight_bin(pos: bool = True) -> bytes:
    out = [fmt(name) for name in TYPES]
    out += [rec("MSG", 1000, b"ArduCopter V4.5.0"), rec("MODE", 1500, 3, 3, 1)]
    out.append(gps(BOOT_US - 1_000_000, status=1, week=0))
    out.append(rec("ORGN", BOOT_US, 1, -353632610, 1491652300, 58409))
    for k in range(40):
        t = BOOT_US + 100_000 * k
        lat, lon = -353632610 + 7 * k, 1491652300 + 11 * k
        out.append(
            rec("ATT", t - 5000, 0, 150 - k, 0, -300 + k, 0, (35000 + 97 * k) % 36000, 0, 0, 1)
        )
        if k % 2 == 0:
            out.append(gps(t - 2000, lat=lat, lon=lon, alt_cm=58409 + 10 * k))
            out.append(gps(t - 1000, i=1, lat=lat, lon=lon, alt_cm=1))
        if pos:
            out.append(rec("POS", t, lat, lon, 584.09 + 0.1 * k, 0.1 * k, 0.1 * k))
        out.append(rec("ISBD", t + 10, 1, k, bytes(64), bytes(64), bytes(64)))
        if k in (10, 20, 30):
            out.append(
                rec("CAM", t + 50_000, 0, k // 10, 0, 0, lat, lon, 58500, 100 * k, 0, 0, 0, 0)
            )
        if k == 25:
            out.append(b"\x00\x01 no header here \x95\xa3" * 5)
    return b"".join(out) + rec("POS", BOOT_US + 9_000_000, 1, 1, 1.0, 1.0, 1.0)[:-3]


def test_dataflash_against_pymavlink(tmp_path):
    from pymavlink import DFReader

    data = flight_bin()
    track = read_track(data, "flight.BIN")
    path = tmp_path / "flight.bin"
    path.write_bytes(data)
    log = DFReader.DFReader_binary(str(path), zero_time_base=False)
    samples, att, photos = [], None, []
    while (m := log.recv_match(type=["POS", "ATT", "CAM"])) is not None:
        if m.get_type() == "ATT":
            att = (m.Roll, m.Pitch, m.Yaw)
        elif m.get_type() == "POS":
            samples.append((m._timestamp, m.Lng, m.Lat, m.RelHomeAlt, m.Alt, *att))
        else:
            photos.append((m._timestamp, m.Lng, m.Lat, m.RelAlt, m.Alt, m.Img))
    log.close()
    ours = [
        (
            s.time.timestamp(),
            s.lon_deg,
            s.lat_deg,
            s.alt_rel_m,
            s.alt_amsl_m,
            s.roll_deg,
            s.pitch_deg,
            s.yaw_deg,
        )
        for s in track.samples
    ]
    assert len(ours) == len(samples) == 40
    for mine, theirs in zip(ours, samples, strict=True):
        assert mine == pytest.approx(theirs, abs=1e-6)
    mine = [
        (p.time.timestamp(), p.lon_deg, p.lat_deg, p.alt_rel_m, p.alt_amsl_m, p.image_index)
        for p in track.photos
    ]
    assert len(mine) == len(photos) == 3
    for ours_, theirs in zip(mine, photos, strict=True):
        assert ours_ == pytest.approx(theirs, abs=1e-6)
    assert track.samples[0].time == datetime(2024, 5, 1, 11, 29, 42, tzinfo=UTC)
    assert track.samples[0].ground_speed_ms == 4.5
    assert track.home == pytest.approx((149.16523, -35.363261, 584.09))


def test_dataflash_without_pos_uses_gps():
    track = read_track(flight_bin(pos=False), "flight.bin")
    assert len(track.samples) == 20  # first-instance GPS with a 3D fix, every other 0.1 s
    last = track.samples[-1]
    assert last.alt_amsl_m == pytest.approx(584.09 + 3.8)
    assert last.alt_rel_m == pytest.approx(3.8)  # above the ORGN home
    assert last.lat_deg == pytest.approx((-353632610 + 7 * 38) * 1e-7)


def test_dataflash_gimbal_pitch():
    data = flight_bin()
    assert {s.gimbal_pitch_deg for s in read_track(data, "f.bin").samples} == {None}
    at = data.index(
        rec("POS", BOOT_US + 1_000_000, -353632610 + 70, 1491652300 + 110, 585.09, 1.0, 1.0)
    )
    mount = rec("MNT", BOOT_US + 999_000, 0, 0, 0, -45.0, -44.5, 0, 0, 0, 0)
    second = rec("MNT", BOOT_US + 999_500, 1, 0, 0, 0.0, 0.0, 0, 0, 0, 0)  # another mount
    track = read_track(data[:at] + mount + second + data[at:], "f.bin")
    pitches = [s.gimbal_pitch_deg for s in track.samples]
    assert pitches[:10] == [None] * 10 and set(pitches[10:]) == {-44.5}
    # an older MNT without an actual Pitch column gives none, and is not an error
    old = struct.pack(
        "<BB4s16s64s", 139, 3 + 8 + 12, b"MNT", b"Qfff", b"TimeUS,DesRoll,DesPitch,DesYaw"
    )
    renamed = data.replace(fmt("MNT"), b"\xa3\x95\x80" + old)
    body = b"\xa3\x95\x8b" + struct.pack("<Qfff", BOOT_US + 999_000, 0, -45.0, 0)
    track = read_track(renamed[:at] + body + renamed[at:], "f.bin")
    assert {s.gimbal_pitch_deg for s in track.samples} == {None}


def test_dataflash_steps_over_types_it_cannot_decode():
    pos = rec("POS", BOOT_US + 1, -353632610, 1491652300, 584.0, 0.0, 0.0)
    weird = struct.pack("<BB4s16s64s", 140, 3 + len(pos), b"WRD", b"QX", b"TimeUS,V")
    # its body is a whole POS record: read byte by byte, it would add a sample
    record = b"\xa3\x95\x8c" + pos
    data = flight_bin()
    at = data.index(rec("ISBD", BOOT_US + 10, 1, 0, bytes(64), bytes(64), bytes(64)))
    data = data[:at] + b"\xa3\x95\x80" + weird + record * 3 + data[at:]
    assert len(read_track(data, "flight.bin").samples) == 40


def test_dataflash_errors():
    heads = b"".join(fmt(name) for name in TYPES)
    no_time = (
        heads
        + gps(BOOT_US, status=1, week=0)
        + rec("POS", BOOT_US, -353632610, 1491652300, 1, 1, 1)
    )
    assert "empty file" in one_line_error(b"", "log.bin")
    garbage = random.Random(2).randbytes(20_000)
    assert "no DataFlash FMT records" in one_line_error(garbage, "log.bin")
    assert "no POS or GPS records" in one_line_error(heads, "log.bin")
    assert "no GPS time" in one_line_error(no_time, "log.bin")
    no_fix = heads + gps(BOOT_US, status=1) + rec("ATT", BOOT_US, *[0] * 9)
    assert "no POS or GPS record with a position" in one_line_error(no_fix, "log.bin")
    assert "no DataFlash" in one_line_error(flight_bin()[:60], "log.bin")
    # a log cut anywhere after its first fix still reads, losing only the cut record
    cut = flight_bin()[: len(flight_bin()) // 2 + 7]
    assert 5 < len(read_track(cut, "log.bin").samples) < 40


@pytest.mark.parametrize("name", ["flight.tlog", "flight.bin"])
def test_damaged_logs_give_a_track_or_a_clean_error(name: str):
    """Cut short or with bytes overwritten anywhere, a log never raises anything else."""
    data = flight_tlog()[0] if name.endswith(".tlog") else flight_bin()
    rng = random.Random(7)
    for k in range(150):
        damaged = bytearray(data[: rng.randrange(len(data))] if k % 3 == 0 else data)
        for _ in range(0 if k % 3 == 0 else rng.randrange(1, 40)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            track = read_track(bytes(damaged), name)
        except MissionError as exc:
            assert "\n" not in str(exc)
        else:
            assert track.samples
