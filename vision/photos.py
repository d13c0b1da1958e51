"""Folders of photos: where and when each was taken, and which way the camera looked.

:func:`read_photos` reads the JPEGs (``.jpg``, ``.jpeg``, any case; not sub-folders, and
not the ``._*`` files macOS leaves on cards) of a folder with Pillow:

- position: EXIF ``GPSLatitude``/``GPSLongitude`` with their N/S, E/W references, and
  ``GPSAltitude`` (above sea level, or below with ``GPSAltitudeRef`` 1). A photo without
  one cannot be placed and is refused;
- time: ``DateTimeOriginal`` (with ``SubSecTimeOriginal``) in the zone of
  ``OffsetTimeOriginal``; without an offset, the GPS date and time stamps (UTC by
  definition); without those, ``DateTimeOriginal`` **taken as UTC** (``time_assumed_utc``
  says so): cameras often keep local time without saying which zone, so such times may be
  off by whole hours, which matters only for reports (photos are placed by their own tags,
  not by a track). A photo with no time at all is refused;
- the DJI XMP packet, found in the JPEG's bytes and parsed without DTDs or entities
  (:func:`mission.kmlxml.parse_xml`): ``RelativeAltitude`` (above the take-off point),
  ``GimbalPitchDegree``/``GimbalYawDegree``/``GimbalRollDegree`` (the camera's attitude
  relative to the horizon and north) and ``FlightYawDegree``/``FlightPitchDegree``/
  ``FlightRollDegree`` (the aircraft's), as attributes or elements, in any namespace.

The camera's heading is the gimbal's yaw, else the aircraft's, else EXIF
``GPSImgDirection``. Pixels are taken as stored, ignoring the EXIF orientation tag, so
that they match the sensor's geometry.

:func:`photo_frames` turns photos into :class:`~vision.footage.Frame` records, so the
pipeline treats a folder as it treats a video: each frame's ``sample`` is a
:class:`~mission.track.TrackSample` built from the photo's tags (height above the ground
plane from ``RelativeAltitude``, or from ``GPSAltitude`` less a given ground elevation).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mission.errors import MissionError
from mission.geodesy import LocalFrame, check_lonlat
from mission.track import TrackSample
from vision.errors import VisionError
from vision.footage import Frame

__all__ = ["PHOTO_EXTENSIONS", "Photo", "photo_frames", "read_photos"]

PHOTO_EXTENSIONS = (".jpg", ".jpeg")
_XMP_TAGS = {
    "RelativeAltitude": "alt_rel_m",
    "GimbalPitchDegree": "gimbal_pitch_deg",
    "GimbalYawDegree": "gimbal_yaw_deg",
    "GimbalRollDegree": "gimbal_roll_deg",
    "FlightYawDegree": "flight_yaw_deg",
    "FlightPitchDegree": "flight_pitch_deg",
    "FlightRollDegree": "flight_roll_deg",
}
# EXIF tag numbers (Pillow's ExifTags has them by name; numbers keep this module light)
_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769
_LAT_REF, _LAT, _LON_REF, _LON, _ALT_REF, _ALT = 1, 2, 3, 4, 5, 6
_GPS_TIME, _GPS_DIRECTION, _GPS_DATE = 7, 17, 29
_ORIGINAL, _SUBSEC, _OFFSET = 36867, 37521, 36881
_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True)
class Photo:
    """One photo's tags (``None`` where it has none)."""

    path: str
    time: datetime  # UTC
    lon: float
    lat: float
    alt_amsl_m: float | None
    alt_rel_m: float | None  # above the take-off point (DJI XMP)
    width_px: int
    height_px: int
    gimbal_pitch_deg: float | None = None  # -90 straight down
    gimbal_yaw_deg: float | None = None  # 0 north, 90 east
    gimbal_roll_deg: float | None = None
    flight_yaw_deg: float | None = None
    flight_pitch_deg: float | None = None
    flight_roll_deg: float | None = None
    image_direction_deg: float | None = None  # EXIF GPSImgDirection
    time_assumed_utc: bool = False

    @property
    def yaw_deg(self) -> float | None:
        """The camera's heading: the gimbal's, else the aircraft's, else the EXIF one."""
        for value in (self.gimbal_yaw_deg, self.flight_yaw_deg, self.image_direction_deg):
            if value is not None:
                return value
        return None

    def sample(self, ground_amsl_m: float | None = None) -> TrackSample:
        """The photo as a track sample (see the module notes).

        Raises
        ------
        VisionError
            Naming the photo, when it has no heading, or no height above the ground: no
            ``RelativeAltitude`` and no ``ground_amsl_m`` to take from its GPS altitude.
        """
        yaw = self.yaw_deg
        if yaw is None:
            raise VisionError(
                f"{self.path}: no camera heading (DJI XMP GimbalYawDegree or FlightYawDegree, "
                "or EXIF GPSImgDirection); placing its pixels needs one"
            )
        alt_rel = self.alt_rel_m
        if alt_rel is None:
            if ground_amsl_m is None or self.alt_amsl_m is None:
                raise VisionError(
                    f"{self.path}: no height above the ground (DJI XMP RelativeAltitude); "
                    "give the ground's elevation above sea level to use its GPS altitude"
                )
            alt_rel = self.alt_amsl_m - ground_amsl_m
        return TrackSample(
            self.time,
            self.lon,
            self.lat,
            alt_rel,
            self.alt_amsl_m,
            self.flight_roll_deg,
            self.flight_pitch_deg,
            yaw,
            None,
            self.gimbal_pitch_deg,
        )


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _degrees(value: Any) -> float | None:
    """Degrees of an EXIF (degrees, minutes, seconds) rational triple, or a lone number."""
    parts = value if isinstance(value, tuple | list) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    numbers = [_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    return sum(n / 60**k for k, n in enumerate(numbers) if n is not None)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.split(b"\0", 1)[0].decode("ascii", "replace")
    return str(value).strip("\0 ").strip()


def _position(gps: dict[int, Any], where: str) -> tuple[float, float, float | None]:
    lat, lon = _degrees(gps.get(_LAT)), _degrees(gps.get(_LON))
    if lat is None or lon is None or (lat == 0 and lon == 0):
        raise VisionError(
            f"{where}: no GPS position in its EXIF (GPSLatitude, GPSLongitude); "
            "a photo needs one to be placed on the map"
        )
    if _text(gps.get(_LAT_REF, "N")).upper().startswith("S"):
        lat = -lat
    if _text(gps.get(_LON_REF, "E")).upper().startswith("W"):
        lon = -lon
    try:
        check_lonlat(lon, lat, f"{where}: GPS position")
    except MissionError as exc:
        raise VisionError(str(exc)) from None
    alt = _number(gps.get(_ALT))
    ref = gps.get(_ALT_REF, 0)
    below = ref in (1, b"\x01") or (isinstance(ref, bytes) and ref[:1] == b"\x01")
    return lon, lat, None if alt is None else (-alt if below else alt)


def _time(exif_ifd: dict[int, Any], gps: dict[int, Any], where: str) -> tuple[datetime, bool]:
    """UTC time of the photo, and whether a zone-less local time was taken as UTC."""
    original = _text(exif_ifd.get(_ORIGINAL, ""))
    local = None
    if original:
        try:
            local = datetime.strptime(original[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            raise VisionError(
                f"{where}: DateTimeOriginal {original!r} is not 'YYYY:MM:DD HH:MM:SS'"
            ) from None
        subsec = _text(exif_ifd.get(_SUBSEC, ""))
        if subsec.isdigit():
            local += timedelta(seconds=int(subsec) / 10 ** len(subsec))
    offset = _OFFSET_RE.match(_text(exif_ifd.get(_OFFSET, "")))
    if local is not None and offset is not None:
        sign = -1 if offset.group(1) == "-" else 1
        zone = timezone(sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))))
        return local.replace(tzinfo=zone).astimezone(UTC), False
    stamp = _gps_time(gps)
    if stamp is not None:
        return stamp, False
    if local is not None:
        return local.replace(tzinfo=UTC), True
    raise VisionError(
        f"{where}: no time in its EXIF (DateTimeOriginal, or GPSDateStamp and GPSTimeStamp)"
    )


def _gps_time(gps: dict[int, Any]) -> datetime | None:
    date, clock = _text(gps.get(_GPS_DATE, "")), gps.get(_GPS_TIME)
    if not date or not isinstance(clock, tuple | list) or len(clock) != 3:
        return None
    parts = [_number(p) for p in clock]
    try:
        day = datetime.strptime(date, "%Y:%m:%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    if any(p is None for p in parts):
        return None
    h, m, s = (p or 0.0 for p in parts)
    return day + timedelta(hours=h, minutes=m, seconds=s)


def _xmp(data: bytes, where: str) -> dict[str, float]:
    """The DJI tags of the XMP packet in a JPEG's bytes (empty when it has none)."""
    from mission.kmlxml import local_name, parse_xml

    start = data.find(b"<x:xmpmeta")
    end = data.find(b"</x:xmpmeta>", start)
    if start < 0 or end < 0:
        return {}
    # from the packet's header on, so that a declaration placed before the root is refused
    header = data.rfind(b"<?xpacket begin", max(0, start - 65536), start)
    start = header if header >= 0 else start
    text = data[start : end + len(b"</x:xmpmeta>")].decode("utf-8", "replace")
    try:
        root = parse_xml(text, where, what="photo's XMP packet")
    except MissionError as exc:
        raise VisionError(str(exc)) from None
    found: dict[str, float] = {}
    for element in root.iter():
        pairs = [(local_name(k), v) for k, v in element.attrib.items()]
        if element.text and element.text.strip():
            pairs.append((local_name(element.tag), element.text))
        for name, raw in pairs:
            value = _number(str(raw).strip())
            if name in _XMP_TAGS and value is not None:
                found.setdefault(_XMP_TAGS[name], value)
    return found


def read_photo(path: str | Path) -> Photo:
    """The tags of one JPEG (see the module notes).

    Raises
    ------
    VisionError
        Naming the file: unreadable, not an image, no GPS position, no time, a bad XMP.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    where = str(p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise VisionError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    if not data.startswith(b"\xff\xd8\xff"):
        # checked before Pillow: once Ultralytics is imported, its patched Image.open answers
        # an unknown format by looking for a HEIF plug-in, which is not installed
        raise VisionError(f"{where}: not a JPEG photo (it does not start as a JPEG file does)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            exif = image.getexif()
            gps = dict(exif.get_ifd(_GPS_IFD))
            exif_ifd = dict(exif.get_ifd(_EXIF_IFD))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise VisionError(f"{where}: not an image Pillow can read ({exc})") from None
    lon, lat, alt = _position(gps, where)
    time, assumed = _time(exif_ifd, gps, where)
    tags = _xmp(data, where)
    direction = _number(gps.get(_GPS_DIRECTION))
    return Photo(
        where,
        time,
        lon,
        lat,
        alt,
        tags.get("alt_rel_m"),
        int(width),
        int(height),
        tags.get("gimbal_pitch_deg"),
        tags.get("gimbal_yaw_deg"),
        tags.get("gimbal_roll_deg"),
        tags.get("flight_yaw_deg"),
        tags.get("flight_pitch_deg"),
        tags.get("flight_roll_deg"),
        direction,
        assumed,
    )


def read_photos(folder: str | Path) -> list[Photo]:
    """The JPEG photos of ``folder``, in time order (then by name).

    Raises
    ------
    VisionError
        When the folder does not exist or holds no JPEG, or for a photo :func:`read_photo`
        refuses (the first one, by name).
    """
    p = Path(folder)
    if not p.is_dir():
        raise VisionError(f"{p}: no such folder of photos")
    files = sorted(
        f
        for f in p.iterdir()
        if f.suffix.lower() in PHOTO_EXTENSIONS and not f.name.startswith("._") and f.is_file()
    )
    if not files:
        raise VisionError(
            f"{p}: no photos in the folder (files ending {', '.join(PHOTO_EXTENSIONS)})"
        )
    photos = [read_photo(f) for f in files]
    return sorted(photos, key=lambda photo: (photo.time, photo.path))


def photo_frames(
    photos: Iterable[Photo], frame: LocalFrame, *, ground_amsl_m: float | None = None
) -> Iterator[Frame]:
    """Each photo as a :class:`~vision.footage.Frame`, its image decoded as it is reached.

    ``frame``, the local frame the pipeline places in, is not needed here (each sample keeps
    its photo's WGS84 position; the locator projects it) but keeps the call the same shape
    as the footage's. ``time_s`` counts from the first photo given.

    Raises
    ------
    VisionError
        Naming the photo: no heading, no height above the ground (see
        :meth:`Photo.sample`), or its image does not decode.
    """
    import cv2
    import numpy as np

    first: datetime | None = None
    for index, photo in enumerate(photos):
        sample = photo.sample(ground_amsl_m)
        first = photo.time if first is None else first
        try:
            data = np.fromfile(photo.path, dtype=np.uint8)
        except OSError as exc:
            raise VisionError(f"{photo.path}: cannot be read ({exc.strerror or exc})") from None
        image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if image is None:
            raise VisionError(f"{photo.path}: its image does not decode (a damaged JPEG?)")
        yield Frame(index, (photo.time - first).total_seconds(), photo.time, image, sample)
