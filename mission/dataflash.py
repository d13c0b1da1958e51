"""ArduPilot DataFlash logs (``.bin``, written on board) to a :class:`~mission.track.Track`.

A log is a run of records, each ``A3 95`` then a type byte and a body. ``FMT`` records
(type 128) define every other type: its record length, name, format characters and
column names. The format characters are ArduPilot's (``AP_Logger/LogStructure.h``):

===== ==================== ===== ==========================================
char  value                char  value
===== ==================== ===== ==========================================
b B   int8, uint8          c C   int16, uint16 × 0.01
h H   int16, uint16        e E   int32, uint32 × 0.01
i I   int32, uint32        L     int32 latitude/longitude × 1e-7 (degrees)
q Q   int64, uint64        M     uint8 flight mode
f d   float32, float64     g     float16
n N Z char[4], [16], [64]  a     int16[32]
===== ==================== ===== ==========================================

What the track takes:

- samples: ``POS`` (``Lat``, ``Lng``, ``Alt`` above sea level, ``RelHomeAlt``), or when
  the log has no POS, first-instance ``GPS`` records with a 3D fix (height above home
  then from the home position, or else from the first fix); with the latest ``ATT``
  (``Roll``, ``Pitch``, ``Yaw``), first-instance ``GPS`` ground speed (``Spd``) and the
  latest first-instance ``MNT`` gimbal pitch (``Pitch``, degrees, ArduPilot 4.3 and later;
  none when the log has no MNT records or they have no ``Pitch`` column);
- home: the last ``ORGN`` record of type 1 (the autopilot's home);
- photos: ``CAM`` records (``Lat``, ``Lng``, ``Alt``, ``RelAlt``, ``Img``), or ``TRIG``
  when there is no CAM.

Record times are ``TimeUS``, microseconds since boot. The first GPS record that knows
the GPS week (``GWk`` > 0) ties that clock to UTC: GPS epoch 1980-01-06 + ``GWk`` weeks
+ ``GMS`` ms, less the GPS−UTC leap seconds (18 since 2017). A log without one cannot
be placed in time and is refused.

The format has no checksums: bytes between records that do not start a known record are
skipped, a truncated last record is dropped, and a record with an impossible position
(outside WGS84 ranges, not finite) is taken for corruption and left out.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mission.errors import MissionError
from mission.track import CameraEvent, Track, TrackSample

__all__ = ["read_dataflash"]

HEADER = b"\xa3\x95"
FMT_TYPE = 128
# (struct code, scale) for each of ArduPilot's format characters.
FORMAT_CHARS: dict[str, tuple[str, float | None]] = {
    "b": ("b", None),
    "B": ("B", None),
    "h": ("h", None),
    "H": ("H", None),
    "i": ("i", None),
    "I": ("I", None),
    "q": ("q", None),
    "Q": ("Q", None),
    "f": ("f", None),
    "d": ("d", None),
    "g": ("e", None),
    "n": ("4s", None),
    "N": ("16s", None),
    "Z": ("64s", None),
    "a": ("64s", None),  # int16[32], kept as bytes: the track needs none
    "c": ("h", 0.01),
    "C": ("H", 0.01),
    "e": ("i", 0.01),
    "E": ("I", 0.01),
    "L": ("i", 1e-7),
    "M": ("B", None),
}
_GPS_EPOCH = datetime(1980, 1, 6, tzinfo=UTC)
# GPS time runs ahead of UTC by the leap seconds since 1980: (from UTC, seconds).
_LEAP_SECONDS = (
    (datetime(2017, 1, 1, tzinfo=UTC), 18),
    (datetime(2015, 7, 1, tzinfo=UTC), 17),
    (datetime(2012, 7, 1, tzinfo=UTC), 16),
    (datetime(2009, 1, 1, tzinfo=UTC), 15),
    (datetime(2006, 1, 1, tzinfo=UTC), 14),
)
_MAX_UPTIME_US = 100 * 86_400 * 1_000_000  # a later TimeUS is corruption
_WEEK_MS = 7 * 86_400_000
# The record types the track uses, and the columns it needs of each.
_NEEDS = {
    "POS": ("TimeUS", "Lat", "Lng", "Alt"),
    "GPS": ("TimeUS", "Status", "GMS", "GWk", "Lat", "Lng", "Alt"),
    "ATT": ("TimeUS", "Roll", "Pitch", "Yaw"),
    "CAM": ("TimeUS", "Lat", "Lng", "Alt"),
    "TRIG": ("TimeUS", "Lat", "Lng", "Alt"),
    "ORGN": ("TimeUS", "Type", "Lat", "Lng", "Alt"),
    "MNT": ("TimeUS",),  # Pitch is used when there is one
}
_WANTED = frozenset(_NEEDS)


@dataclass(frozen=True)
class _Format:
    """One record type as its FMT record defines it."""

    type: int
    length: int  # the whole record, header included
    name: str
    columns: tuple[str, ...]
    unpack: Any  # struct.Struct.unpack_from, or None when the format cannot be decoded
    scales: tuple[float | None, ...]


def _text(raw: bytes) -> str:
    text = raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()
    return "".join(c if c.isprintable() else "?" for c in text)


def _format(type_: int, length: int, name: str, chars: str, columns: str) -> _Format:
    """A record type; ``unpack`` is None when the characters or the length do not add up."""
    cols = tuple(c.strip() for c in columns.split(",")) if columns else ()
    try:
        codes, scales = zip(*(FORMAT_CHARS[c] for c in chars), strict=True) if chars else ((), ())
        layout = struct.Struct("<" + "".join(codes))
    except (KeyError, struct.error):
        return _Format(type_, length, name, cols, None, ())
    ok = layout.size + 3 == length and len(cols) == len(chars)
    return _Format(type_, length, name, cols, layout.unpack_from if ok else None, tuple(scales))


_FMT = _format(FMT_TYPE, 89, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns")


def _records(data: bytes) -> tuple[dict[str, _Format], list[tuple[str, dict[str, Any]]]]:
    """The formats by name and the wanted records ``(name, {column: value})``, in order."""
    formats: dict[int, _Format] = {FMT_TYPE: _FMT}
    names = {"FMT"}
    out: list[tuple[str, dict[str, Any]]] = []
    i, n = 0, len(data)
    while True:
        at = data.find(HEADER, i)
        if at < 0 or at + 3 > n:
            break
        fmt = formats.get(data[at + 2])
        if fmt is None or fmt.length < 3 or at + fmt.length > n:
            i = at + 1  # not a record start (or the truncated last one)
            continue
        if fmt.unpack is None:  # a type this reader cannot decode: step over it
            i = at + fmt.length
            continue
        values = fmt.unpack(data, at + 3)
        if fmt.type == FMT_TYPE:
            type_, length, name, chars, columns = values
            # ArduPilot defines each type once: a second definition of a type or a name
            # is corruption, and the first one stays.
            if type_ not in formats and _text(name) not in names:
                formats[type_] = _format(type_, length, _text(name), _text(chars), _text(columns))
                names.add(_text(name))
        elif fmt.name in _WANTED:
            row = {
                col: (v * scale if scale is not None else v)
                for col, v, scale in zip(fmt.columns, values, fmt.scales, strict=True)
            }
            if 0 <= row.get("TimeUS", 0) <= _MAX_UPTIME_US:  # else corruption
                out.append((fmt.name, row))
        i = at + fmt.length
    return {f.name: f for f in formats.values()}, out


def _utc_from_gps(week: int, ms: float) -> datetime:
    gps = _GPS_EPOCH + timedelta(weeks=week, milliseconds=ms)
    for since, leap in _LEAP_SECONDS:
        if gps - timedelta(seconds=leap) >= since:
            return gps - timedelta(seconds=leap)
    return gps - timedelta(seconds=13)


def _position(row: dict[str, Any], lat: str = "Lat", lon: str = "Lng") -> tuple[float, float]:
    """(lon, lat), or NaNs when the record's position is impossible or 0, 0."""
    x, y = float(row[lon]), float(row[lat])
    if not (math.isfinite(x) and math.isfinite(y) and abs(x) <= 180 and abs(y) <= 90):
        return math.nan, math.nan
    if x == 0 and y == 0:
        return math.nan, math.nan
    return x, y


def _opt(row: dict[str, Any], col: str) -> float | None:
    value = row.get(col)
    return float(value) if value is not None and math.isfinite(value) else None


def read_dataflash(data: bytes, source: str = "<bin>") -> Track:
    """Read a :class:`~mission.track.Track` from the bytes of an ArduPilot DataFlash ``.bin``.

    Parameters
    ----------
    data : bytes
        The whole file.
    source : str
        What to call it in error messages.

    Raises
    ------
    MissionError
        When the file is empty, is not a DataFlash log, has no positions or no GPS time.
    """
    if not data:
        raise MissionError(f"{source}: empty file; a .bin DataFlash log starts with FMT records")
    formats, records = _records(data)
    if len(formats) == 1:
        raise MissionError(
            f"{source}: no DataFlash FMT records (bytes A3 95 80): not an ArduPilot .bin log?"
        )
    has_pos = any(name == "POS" for name, _ in records)
    has_gps = any(name == "GPS" for name, _ in records)
    if not (has_pos or has_gps):
        raise MissionError(f"{source}: no POS or GPS records: not a flight log?")
    for name in {name for name, _ in records}:
        missing = [col for col in _NEEDS[name] if col not in formats[name].columns]
        if missing:
            raise MissionError(
                f"{source}: {name} records have no column {missing[0]!r} "
                f"(columns are: {', '.join(formats[name].columns)})"
            )
    clock = next(
        (
            r
            for name, r in records
            if name == "GPS" and 0 < r["GWk"] < 5000 and 0 <= r["GMS"] < _WEEK_MS and not r.get("I")
        ),
        None,
    )
    if clock is None:
        raise MissionError(
            f"{source}: no GPS record with a GPS week (GWk > 0): the log has no GPS time "
            "to put its records on UTC"
        )
    boot = _utc_from_gps(clock["GWk"], clock["GMS"]) - timedelta(microseconds=clock["TimeUS"])
    home = next(
        (
            (lon, lat, float(r["Alt"]))
            for name, r in reversed(records)
            if name == "ORGN" and r.get("Type") == 1
            for lon, lat in [_position(r)]
            if math.isfinite(lon)
        ),
        None,
    )
    rel = None
    if has_pos:
        rel = next((c for c in ("RelHomeAlt", "RelAlt") if c in formats["POS"].columns), None)

    samples: list[TrackSample] = []
    att: dict[str, Any] | None = None
    speed: float | None = None
    gimbal: float | None = None
    base_alt = home[2] if home is not None else None
    for name, r in records:
        if name == "ATT":
            att = r
            continue
        if name == "MNT":
            if r.get("I", 0) == 0:
                value = _opt(r, "Pitch")
                gimbal = value if value is not None and abs(value) <= 180.0 else None
            continue
        first_gps = name == "GPS" and r.get("I", 0) == 0
        if first_gps:
            speed = _opt(r, "Spd")
            speed = speed if speed is not None and speed >= 0 else None
        if not (name == "POS" or (first_gps and not has_pos and r["Status"] >= 3)):
            continue
        lon, lat = _position(r)
        alt = _opt(r, "Alt")
        if not math.isfinite(lon) or alt is None:
            continue
        if name == "POS" and rel is not None:
            alt_rel = _opt(r, rel)
        else:
            base_alt = alt if base_alt is None else base_alt
            alt_rel = alt - base_alt
        time = boot + timedelta(microseconds=r["TimeUS"])
        if alt_rel is None or (samples and time < samples[-1].time):
            continue
        roll, pitch, yaw = (None, None, None) if att is None else _attitude(att)
        samples.append(TrackSample(time, lon, lat, alt_rel, alt, roll, pitch, yaw, speed, gimbal))
    if not samples:
        raise MissionError(f"{source}: no POS or GPS record with a position: no GPS fix?")
    track = Track(tuple(samples), (), home, source)
    return Track(track.samples, _photos(track, records, boot), home, source)


def _attitude(r: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    return _opt(r, "Roll"), _opt(r, "Pitch"), _opt(r, "Yaw")


def _photos(
    track: Track, records: list[tuple[str, dict[str, Any]]], boot: datetime
) -> tuple[CameraEvent, ...]:
    kind = "CAM" if any(name == "CAM" for name, _ in records) else "TRIG"
    photos: list[CameraEvent] = []
    for name, r in records:
        if name != kind:
            continue
        lon, lat = _position(r)
        time = boot + timedelta(microseconds=r["TimeUS"])
        if not math.isfinite(lon) or (photos and time < photos[-1].time):
            continue
        alt_rel = _opt(r, "RelAlt")
        if alt_rel is None:
            alt_rel = track.at(time).alt_rel_m
        index = r.get("Img")
        photos.append(
            CameraEvent(time, lon, lat, alt_rel, _opt(r, "Alt"), None if index is None else index)
        )
    return tuple(photos)
