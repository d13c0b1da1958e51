"""The flown track: where the aircraft was, when, and where it took photos; its CSV form.

A :class:`Track` is what a flight log says, reduced to what conformance checks and
footage geolocation need: time-ordered :class:`TrackSample` positions (with attitude
and ground speed where the log has them), :class:`CameraEvent` photo positions and the
home position. :func:`read_track` reads one from the bytes of a log file, choosing the
reader by the file's extension:

======= =========================================== ======================
ext     format                                      reader
======= =========================================== ======================
.csv    skyledger's track CSV (below)               :func:`track_from_csv`
.tlog   MAVLink telemetry log (a GCS recording)     :mod:`mission.tlog`
.bin    ArduPilot DataFlash log (on-board)          :mod:`mission.dataflash`
======= =========================================== ======================

The track CSV holds samples, photos and home in one table, one row each, with a header
line. Columns may come in any order; unknown columns are ignored; an empty field is
"not known" (``None``). ``time``, ``lon``, ``lat`` and ``alt_rel_m`` are required.

=============== ========================================================================
column          meaning
=============== ========================================================================
event           ``""`` (or no such column) a sample; ``photo`` a camera event;
                ``home`` the home position (``lon``, ``lat``, ``alt_amsl_m``; no time)
time            ISO 8601 with an offset (``2024-05-01T09:30:00.25Z``), stored as UTC
lon, lat        WGS84 degrees
alt_rel_m       metres above home
alt_amsl_m      metres above mean sea level
roll_deg        degrees, right wing down positive
pitch_deg       degrees, nose up positive
yaw_deg         degrees clockwise from north, 0..360
ground_speed_ms metres per second over the ground
gimbal_pitch_deg the camera gimbal's pitch, degrees: 0 level, -90 straight down
image_index     the camera's photo number (photos only)
=============== ========================================================================

Samples must be in time order, and so must photos; :func:`track_to_csv` writes home
first, then samples and photos merged by time, numbers in their shortest exact form, so
``track_from_csv(track_to_csv(t)) == t``.
"""

from __future__ import annotations

import csv
import io
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from mission.errors import MissionError
from mission.geodesy import check_lonlat

__all__ = ["CSV_COLUMNS", "TRACK_EXTENSIONS", "CameraEvent", "Track", "TrackSample"]
__all__ += ["read_track", "track_from_csv", "track_to_csv"]

TRACK_EXTENSIONS = (".csv", ".tlog", ".bin")
# fmt: off
CSV_COLUMNS = ("event", "time", "lon", "lat", "alt_rel_m", "alt_amsl_m", "roll_deg", "pitch_deg",
               "yaw_deg", "ground_speed_ms", "gimbal_pitch_deg", "image_index")
# fmt: on
_REQUIRED = ("time", "lon", "lat", "alt_rel_m")
_EVENTS = ("", "photo", "home")
_FINITE = ("alt_rel_m", "alt_amsl_m", "roll_deg", "pitch_deg", "yaw_deg", "gimbal_pitch_deg")


# --- the model -------------------------------------------------------------------------


def _utc(time: datetime, what: str) -> datetime:
    if not isinstance(time, datetime) or time.utcoffset() is None:
        raise MissionError(f"{what} time {time!r} must be a datetime with a UTC offset")
    return time.astimezone(UTC)


def _finite(value: float | None, name: str, what: str) -> None:
    if value is not None and not math.isfinite(value):
        raise MissionError(f"{what} {name} {value} is not a finite number")


def _wrap360(deg: float) -> float:
    """``deg`` in 0 <= x < 360 (``-1e-20 % 360`` is 360.0, hence the second step)."""
    deg %= 360.0
    return 0.0 if deg >= 360.0 else deg


@dataclass(frozen=True)
class TrackSample:
    """One position of the aircraft; attitude and speed are ``None`` when the log lacks them."""

    time: datetime  # UTC
    lon_deg: float
    lat_deg: float
    alt_rel_m: float  # above home
    alt_amsl_m: float | None = None
    roll_deg: float | None = None
    pitch_deg: float | None = None
    yaw_deg: float | None = None  # 0 north, 90 east
    ground_speed_ms: float | None = None
    gimbal_pitch_deg: float | None = None  # the camera's: 0 level, -90 straight down

    def __post_init__(self) -> None:
        object.__setattr__(self, "time", _utc(self.time, "track sample"))
        check_lonlat(self.lon_deg, self.lat_deg, "track sample")
        for name in _FINITE:
            _finite(getattr(self, name), name, "track sample")
        if self.yaw_deg is not None:
            object.__setattr__(self, "yaw_deg", _wrap360(self.yaw_deg))
        speed = self.ground_speed_ms
        if speed is not None and not (math.isfinite(speed) and speed >= 0):
            raise MissionError(f"track sample ground_speed_ms {speed} must be a number >= 0")


@dataclass(frozen=True)
class CameraEvent:
    """Where and when the camera took a photo."""

    time: datetime  # UTC
    lon_deg: float
    lat_deg: float
    alt_rel_m: float
    alt_amsl_m: float | None = None
    image_index: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "time", _utc(self.time, "camera event"))
        check_lonlat(self.lon_deg, self.lat_deg, "camera event")
        _finite(self.alt_rel_m, "alt_rel_m", "camera event")
        _finite(self.alt_amsl_m, "alt_amsl_m", "camera event")
        index = self.image_index
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise MissionError(f"camera event image_index {index!r} must be a whole number")


@dataclass(frozen=True)
class Track:
    """A flown track: time-ordered samples, photos, and home ``(lon, lat, alt_amsl_m)``.

    ``source`` names where it was read from and takes no part in equality.
    """

    samples: tuple[TrackSample, ...]
    photos: tuple[CameraEvent, ...] = ()
    home: tuple[float, float, float] | None = None
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", tuple(self.samples))
        object.__setattr__(self, "photos", tuple(self.photos))
        if not self.samples:
            raise MissionError(f"{self.source or 'track'}: a track needs at least one sample")
        for kind, seq in (("sample", self.samples), ("photo", self.photos)):
            for i in range(1, len(seq)):
                if seq[i].time < seq[i - 1].time:
                    raise MissionError(
                        f"{self.source or 'track'}: {kind} {i} at {seq[i].time.isoformat()} "
                        f"comes before the one at {seq[i - 1].time.isoformat()}; "
                        f"{kind}s must be in time order"
                    )
        if self.home is not None:
            lon, lat, alt = (float(v) for v in self.home)
            check_lonlat(lon, lat, "track home")
            _finite(alt, "alt_amsl_m", "track home")
            object.__setattr__(self, "home", (lon, lat, alt))

    @property
    def start(self) -> datetime:
        """Time of the first sample."""
        return self.samples[0].time

    @property
    def end(self) -> datetime:
        """Time of the last sample."""
        return self.samples[-1].time

    @property
    def duration_s(self) -> float:
        """Seconds from the first sample to the last."""
        return (self.end - self.start).total_seconds()

    @cached_property
    def _times(self) -> list[datetime]:
        return [s.time for s in self.samples]

    def airborne(self, min_alt_rel_m: float = 0.5) -> tuple[TrackSample, ...]:
        """The samples at least ``min_alt_rel_m`` above home, in time order."""
        return tuple(s for s in self.samples if s.alt_rel_m >= min_alt_rel_m)

    def at(self, time: datetime) -> TrackSample:
        """The sample at ``time``, interpolated linearly between its neighbours.

        Times before the first sample or after the last give that sample (with ``time``).
        Angles take the short way round; a value ``None`` on either side stays ``None``.
        """
        time = _utc(time, "interpolation")
        times = self._times
        i = bisect_right(times, time)
        if i == 0 or i == len(times):
            return _sample(time, _values(self.samples[0 if i == 0 else -1]))
        a, b = self.samples[i - 1], self.samples[i]
        span = (b.time - a.time).total_seconds()
        f = (time - a.time).total_seconds() / span if span > 0 else 0.0
        mixed = [
            _mix(x, y, f, angle)
            for x, y, angle in zip(_values(a), _values(b), _ANGLES, strict=True)
        ]
        return _sample(time, mixed, wrap_lon=True)


_ANGLES = (True, False, False, False, False, False, True, False, False)


def _values(s: TrackSample) -> tuple[float | None, ...]:
    return (
        s.lon_deg,
        s.lat_deg,
        s.alt_rel_m,
        s.alt_amsl_m,
        s.roll_deg,
        s.pitch_deg,
        s.yaw_deg,
        s.ground_speed_ms,
        s.gimbal_pitch_deg,
    )


def _sample(time: datetime, v: Sequence[float | None], wrap_lon: bool = False) -> TrackSample:
    lon, lat, alt_rel = v[0], v[1], v[2]
    assert lon is not None and lat is not None and alt_rel is not None
    if wrap_lon:
        lon = (lon + 180.0) % 360.0 - 180.0
    return TrackSample(time, lon, lat, alt_rel, v[3], v[4], v[5], v[6], v[7], v[8])


def _mix(a: float | None, b: float | None, f: float, angle: bool) -> float | None:
    if a is None or b is None:
        return None
    d = b - a
    if angle:
        d = (d + 180.0) % 360.0 - 180.0
    return a + f * d


# --- reading any track file ------------------------------------------------------------


def read_track(data: bytes, source: str) -> Track:
    """Read a track from the bytes of a log file, the format chosen by ``source``'s extension.

    Parameters
    ----------
    data : bytes
        The whole file.
    source : str
        Its name or path: the extension picks the reader (one of
        :data:`TRACK_EXTENSIONS`, any case) and error messages name it.

    Raises
    ------
    MissionError
        One line naming ``source``, the record or line, the field and what would do.
    """
    dot = source.rfind(".")
    ext = source[dot:].lower() if dot > max(source.rfind("/"), source.rfind("\\")) else ""
    if ext == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MissionError(
                f"{source}: not UTF-8 text (byte {exc.start}); a track CSV is UTF-8"
            ) from None
        return track_from_csv(text, source)
    if ext == ".tlog":
        from mission.tlog import read_tlog

        return read_tlog(data, source)
    if ext == ".bin":
        from mission.dataflash import read_dataflash

        return read_dataflash(data, source)
    raise MissionError(
        f"{source}: unknown track file extension {ext or '(none)'!r}; "
        f"valid: {', '.join(TRACK_EXTENSIONS)}"
    )


# --- the CSV ---------------------------------------------------------------------------


def _time_text(time: datetime) -> str:
    return time.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _cells(**values: object) -> dict[str, str]:
    return {k: "" if v is None else v if isinstance(v, str) else repr(v) for k, v in values.items()}


def track_to_csv(track: Track) -> str:
    """The track as skyledger's track CSV (columns in the module notes), ``\\n`` line ends."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    if track.home is not None:
        lon, lat, alt = track.home
        writer.writerow(_cells(event="home", lon=lon, lat=lat, alt_amsl_m=alt))
    fields = CSV_COLUMNS[2:11]  # lon .. gimbal_pitch_deg, in TrackSample's order
    rows = [
        (s.time, 1, _cells(time=_time_text(s.time), **dict(zip(fields, _values(s), strict=True))))
        for s in track.samples
    ]
    rows += [
        (c.time, 0, _cells(event="photo", time=_time_text(c.time), lon=c.lon_deg, lat=c.lat_deg,
                           alt_rel_m=c.alt_rel_m, alt_amsl_m=c.alt_amsl_m,
                           image_index=c.image_index))
        for c in track.photos
    ]  # fmt: skip
    rows.sort(key=lambda row: row[:2])  # stable: samples and photos each keep their order
    writer.writerows(row for _, _, row in rows)
    return out.getvalue()


class _Row:
    """One CSV row with the header's column positions, for one-line error messages."""

    def __init__(self, cells: list[str], cols: dict[str, int], where: str) -> None:
        self.cells, self.cols, self.where = cells, cols, where

    def raw(self, name: str) -> str:
        i = self.cols.get(name)
        return "" if i is None else self.cells[i].strip()

    def number(self, name: str, required: bool = False) -> float | None:
        text = self.raw(name)
        if not text:
            if required:
                raise MissionError(f"{self.where}: {name} is empty; a number is needed")
            return None
        try:
            value = float(text)
        except ValueError:
            raise MissionError(f"{self.where}: {name} {text!r} is not a number") from None
        if not math.isfinite(value):
            raise MissionError(f"{self.where}: {name} {text!r} is not a finite number")
        return value

    def need(self, name: str) -> float:
        value = self.number(name, required=True)
        assert value is not None
        return value

    def time(self) -> datetime:
        text = self.raw("time")
        if not text:
            raise MissionError(f"{self.where}: time is empty; an ISO 8601 time is needed")
        try:
            time = datetime.fromisoformat(text)
        except ValueError:
            raise MissionError(
                f"{self.where}: time {text!r} is not an ISO 8601 time (e.g. 2024-05-01T09:30:00Z)"
            ) from None
        if time.utcoffset() is None:
            raise MissionError(
                f"{self.where}: time {text!r} has no UTC offset; end it with Z or +hh:mm"
            )
        return time.astimezone(UTC)

    def index(self) -> int | None:
        text = self.raw("image_index")
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            raise MissionError(
                f"{self.where}: image_index {text!r} is not a whole number"
            ) from None


def track_from_csv(text: str, source: str = "<text>") -> Track:
    """Read skyledger's track CSV (see the module notes).

    Raises
    ------
    MissionError
        Naming ``source``, the line, the column and what would do.
    """
    lines = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    try:
        header = next((row for row in lines if row), None)
        if header is None:
            raise MissionError(
                f"{source}: empty file; a track CSV starts with a header line "
                f"({','.join(CSV_COLUMNS)})"
            )
        cols = {name.strip(): i for i, name in enumerate(header)}
        missing = [name for name in _REQUIRED if name not in cols]
        if missing:
            raise MissionError(
                f"{source}: column {missing[0]!r} missing "
                f"(columns are: {', '.join(name.strip() for name in header)}; "
                f"needed: {', '.join(_REQUIRED)})"
            )
        samples: list[TrackSample] = []
        photos: list[CameraEvent] = []
        home: tuple[float, float, float] | None = None
        for cells in lines:
            if not cells or not any(c.strip() for c in cells):
                continue
            where = f"{source} line {lines.line_num}"
            if len(cells) != len(header):
                raise MissionError(
                    f"{where}: {len(cells)} fields, but the header has {len(header)}"
                )
            row = _Row(cells, cols, where)
            event = row.raw("event")
            if event not in _EVENTS:
                raise MissionError(f"{where}: event {event!r} is not one of: '', 'photo', 'home'")
            lon, lat = row.need("lon"), row.need("lat")
            check_lonlat(lon, lat, f"{where}: position")
            if event == "home":
                if home is not None:
                    raise MissionError(f"{where}: a second home row; a track has one home")
                home = (lon, lat, row.need("alt_amsl_m"))
                continue
            time, alt_rel = row.time(), row.need("alt_rel_m")
            kept: list[Any] = photos if event == "photo" else samples
            try:
                if event == "photo":
                    kept.append(
                        CameraEvent(time, lon, lat, alt_rel, row.number("alt_amsl_m"), row.index())
                    )
                else:
                    optional = (row.number(name) for name in CSV_COLUMNS[5:11])
                    kept.append(TrackSample(time, lon, lat, alt_rel, *optional))
            except MissionError as exc:  # the model's own checks, e.g. a negative speed
                raise MissionError(f"{where}: {exc}") from None
            if len(kept) > 1 and time < kept[-2].time:
                raise MissionError(
                    f"{where}: time {_time_text(time)} is before the previous {event or 'sample'}"
                    f"'s {_time_text(kept[-2].time)}; rows must be in time order"
                )
    except csv.Error as exc:
        raise MissionError(f"{source} line {lines.line_num}: not valid CSV ({exc})") from None
    if not samples:
        raise MissionError(f"{source}: no sample rows; a track needs at least one position")
    return Track(tuple(samples), tuple(photos), home, source)
