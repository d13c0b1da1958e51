"""MAVLink telemetry logs (``.tlog``, as QGroundControl, Mission Planner and MAVProxy record them).

A tlog is a sequence of records, each an 8-byte big-endian count of microseconds since
the Unix epoch (the ground station's clock when the packet arrived) followed by one
MAVLink v1 or v2 packet. Packets are decoded with pymavlink's ``ardupilotmega`` dialect,
one record at a time: the record gives each packet's length, so a corrupt packet cannot
spoil the next one. A record that does not decode (bad checksum, garbage) is skipped by
searching byte by byte for the next record whose timestamp is plausible and whose packet
decodes; a truncated last record is dropped.

What the track takes, from the vehicle that sent the first ``GLOBAL_POSITION_INT`` only:

- samples: ``GLOBAL_POSITION_INT`` (lat/lon 1e-7°, ``relative_alt`` and ``alt`` mm,
  ``vx``/``vy`` cm/s give the ground speed) with the latest ``ATTITUDE`` (rad, yaw as
  0..360°) and the latest gimbal pitch; positions at exactly 0, 0 (no fix yet) are left out;
- gimbal pitch: ``GIMBAL_DEVICE_ATTITUDE_STATUS`` (the pitch of its quaternion, which
  MAVLink gives relative to the horizon) or ``MOUNT_STATUS`` (``pointing_a``, cdeg), from
  the first gimbal that sends one; none when the log has neither;
- home: the last ``HOME_POSITION``;
- photos: ``CAMERA_FEEDBACK`` (video frames left out), or when there is none,
  ``CAMERA_TRIGGER`` placed on the track by interpolation at its time.

Every time is the record's timestamp. A sample or photo whose timestamp runs back
before the previous one (the ground station's clock stepped back) is left out.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from mission.errors import MissionError
from mission.geodesy import check_lonlat
from mission.track import CameraEvent, Track, TrackSample

__all__ = ["read_tlog"]

_STAMP = struct.Struct(">Q")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_US = 946_684_800_000_000  # 2000-01-01: older stamps are not a tlog's
_LAST_US = 4_102_444_800_000_000  # 2100-01-01
_MAX_JUMP_US = 3 * 86_400_000_000  # as pymavlink's mavlogfile: a bigger jump is corruption
_MIN_PACKET = 8  # a MAVLink v1 packet with no payload
# ATTITUDE, GLOBAL_POSITION_INT, CAMERA_TRIGGER, MOUNT_STATUS, CAMERA_FEEDBACK, HOME_POSITION,
# GIMBAL_DEVICE_ATTITUDE_STATUS
_WANTED = frozenset({30, 33, 112, 158, 180, 242, 285})
_GIMBAL = ("MOUNT_STATUS", "GIMBAL_DEVICE_ATTITUDE_STATUS")
_SKIPPED = object()


def _packet_header(data: bytes, at: int) -> tuple[int, int] | None:
    """``(length, message id)`` of the MAVLink packet starting at ``at``, or None."""
    if at + 10 > len(data):
        return None
    magic = data[at]
    if magic == 0xFE:
        return 8 + data[at + 1], data[at + 5]
    if magic == 0xFD:
        length = 12 + data[at + 1] + (13 if data[at + 2] & 0x01 else 0)
        return length, int.from_bytes(data[at + 7 : at + 10], "little")
    return None


def _records(data: bytes, mav: Any, unknown: type) -> tuple[int, list[tuple[int, int, Any]]]:
    """How many records there are, and ``(number, µs since the epoch, message)`` of those
    the track uses, in file order.

    Other packets are stepped over by their length without being decoded (a tlog holds
    dozens of kinds); while searching through garbage, only a packet that decodes with
    a good checksum counts as the next record.
    """
    out: list[tuple[int, int, Any]] = []
    i, n, last, count = 0, len(data), None, 0
    resyncing = False
    while i + 8 + _MIN_PACKET <= n:
        (stamp,) = _STAMP.unpack_from(data, i)
        header = _packet_header(data, i + 8)
        msg = None
        if (
            header is not None
            and i + 8 + header[0] <= n
            and _FIRST_US <= stamp < _LAST_US
            and (last is None or abs(stamp - last) <= _MAX_JUMP_US)
        ):
            if header[1] in _WANTED or resyncing:
                try:
                    msg = mav.decode(bytearray(data[i + 8 : i + 8 + header[0]]))
                except Exception:  # pymavlink raises several kinds on malformed bytes
                    msg = None
            else:
                msg = _SKIPPED
        if msg is None or (resyncing and isinstance(msg, unknown)):
            i += 1
            resyncing = True
            continue
        assert header is not None
        resyncing = False
        last = stamp
        count += 1
        if msg is not _SKIPPED and header[1] in _WANTED:
            out.append((count, stamp, msg))
        i += 8 + header[0]
    return count, out


def _time(stamp_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=stamp_us)


def read_tlog(data: bytes, source: str = "<tlog>") -> Track:
    """Read a :class:`~mission.track.Track` from the bytes of a MAVLink ``.tlog``.

    Parameters
    ----------
    data : bytes
        The whole file.
    source : str
        What to call it in error messages.

    Raises
    ------
    MissionError
        When the file is empty, holds no MAVLink packets or no positions.
    """
    if not data:
        raise MissionError(f"{source}: empty file; a .tlog holds timestamped MAVLink packets")
    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    mav = mavlink2.MAVLink(None)
    mav.robust_parsing = True
    count, records = _records(data, mav, mavlink2.MAVLink_unknown)
    if not count:
        raise MissionError(
            f"{source}: no MAVLink packets found (a .tlog is records of an 8-byte "
            "timestamp and a MAVLink packet): not a telemetry log?"
        )
    vehicle = next(
        (m.get_srcSystem() for _, _, m in records if m.get_type() == "GLOBAL_POSITION_INT"),
        None,
    )
    if vehicle is None:
        raise MissionError(f"{source}: no GLOBAL_POSITION_INT messages: not a flight log?")

    samples: list[TrackSample] = []
    feedback: list[CameraEvent] = []
    triggers: list[tuple[datetime, int]] = []
    home: tuple[float, float, float] | None = None
    attitude: Any = None
    gimbal_pitch: float | None = None
    gimbals: dict[str, tuple[int, int]] = {}  # message kind -> the first gimbal that sent it
    for number, stamp, msg in records:
        if msg.get_srcSystem() != vehicle:
            continue
        kind = msg.get_type()
        where = f"{source} record {number} ({kind})"
        time = _time(stamp)
        if kind == "ATTITUDE":
            attitude = msg
        elif kind in _GIMBAL:
            who = (msg.get_srcComponent(), getattr(msg, "gimbal_device_id", 0))
            if gimbals.setdefault(kind, who) == who:
                gimbal_pitch = _gimbal_pitch(msg, gimbal_pitch)
        elif kind == "GLOBAL_POSITION_INT":
            if msg.lat == 0 and msg.lon == 0:
                continue
            lon, lat = msg.lon * 1e-7, msg.lat * 1e-7
            check_lonlat(lon, lat, f"{where}: position")
            if samples and time < samples[-1].time:
                continue
            samples.append(
                TrackSample(
                    time,
                    lon,
                    lat,
                    msg.relative_alt / 1000.0,
                    msg.alt / 1000.0,
                    *_attitude(attitude),
                    math.hypot(msg.vx, msg.vy) / 100.0,
                    gimbal_pitch,
                )
            )
        elif kind == "HOME_POSITION":
            lon, lat = msg.longitude * 1e-7, msg.latitude * 1e-7
            check_lonlat(lon, lat, f"{where}: home")
            home = (lon, lat, msg.altitude / 1000.0)
        elif kind == "CAMERA_FEEDBACK":
            if msg.flags == 1 or (msg.lat == 0 and msg.lng == 0):  # video, or no position
                continue
            lon, lat = msg.lng * 1e-7, msg.lat * 1e-7
            check_lonlat(lon, lat, f"{where}: photo position")
            if feedback and time < feedback[-1].time:
                continue
            feedback.append(
                CameraEvent(
                    time,
                    lon,
                    lat,
                    _finite_or(msg.alt_rel, f"{where}: alt_rel"),
                    msg.alt_msl if math.isfinite(msg.alt_msl) else None,
                    msg.img_idx,
                )
            )
        elif kind == "CAMERA_TRIGGER" and (not triggers or time >= triggers[-1][0]):
            triggers.append((time, msg.seq))
    if not samples:
        raise MissionError(
            f"{source}: every GLOBAL_POSITION_INT is at 0, 0: the vehicle never had a position"
        )
    track = Track(tuple(samples), (), home, source)
    photos = tuple(feedback) or tuple(_placed(track, time, seq) for time, seq in triggers)
    return Track(track.samples, photos, home, source)


def _attitude(msg: Any) -> tuple[float | None, float | None, float | None]:
    if msg is None:
        return None, None, None
    roll, pitch, yaw = (float(v) for v in (msg.roll, msg.pitch, msg.yaw))
    if not all(math.isfinite(v) for v in (roll, pitch, yaw)):
        return None, None, None
    return math.degrees(roll), math.degrees(pitch), math.degrees(yaw) % 360.0


def _gimbal_pitch(msg: Any, last: float | None) -> float | None:
    """The gimbal's pitch (degrees, -90 down) in ``msg``, or ``last`` when it has none."""
    if msg.get_type() == "MOUNT_STATUS":
        return msg.pointing_a / 100.0
    w, x, y, z = (float(v) for v in msg.q)
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    if not math.isfinite(norm) or norm < 1e-6:  # NaN when the gimbal does not know
        return last
    sin_pitch = 2.0 * (w * y - z * x) / (norm * norm)
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_pitch))))


def _finite_or(value: float, where: str) -> float:
    if not math.isfinite(value):
        raise MissionError(f"{where} {value} is not a finite number")
    return float(value)


def _placed(track: Track, time: datetime, seq: int) -> CameraEvent:
    at = track.at(time)
    return CameraEvent(time, at.lon_deg, at.lat_deg, at.alt_rel_m, at.alt_amsl_m, seq)
