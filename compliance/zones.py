"""Geographical zones as ED-269 / ED-318 describe them, in one model every reader produces.

A :class:`Zone` has one or more :class:`Volume` (a polygon or a circle between a lower and
an upper limit), a restriction, reasons, when it applies (:class:`Applicability`), who to
ask (:class:`Authority`) and, for privacy zones, what the camera may do
(:class:`CameraPolicy`). Readers live in :mod:`compliance.sources`; when a zone is
active is worked out in :mod:`compliance.schedule`.

Heights: a :class:`Limit` keeps the value, reference (AGL or AMSL) and unit as the source
gave them; :meth:`Volume.band_amsl_m` converts both limits to metres above mean sea
level, taking the ground as flat at the home elevation (the planner's own assumption).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from compliance.errors import ComplianceError

Restriction = Literal["PROHIBITED", "REQ_AUTHORISATION", "CONDITIONAL", "NO_RESTRICTION"]
RESTRICTIONS: tuple[Restriction, ...] = (
    "PROHIBITED",
    "REQ_AUTHORISATION",
    "CONDITIONAL",
    "NO_RESTRICTION",
)
#: ED-269's reasons (ED-318 adds none we rely on); PRIVACY and SENSITIVE mark privacy zones.
REASONS = (
    "AIR_TRAFFIC",
    "SENSITIVE",
    "PRIVACY",
    "POPULATION",
    "NATURE",
    "NOISE",
    "FOREIGN_TERRITORY",
    "EMERGENCY",
    "OTHER",
)
Reference = Literal["AGL", "AMSL"]
Unit = Literal["m", "ft"]
FEET_M = 0.3048
#: ED-269 writes this as an upper limit for "no upper limit".
UNLIMITED = 99999.0
#: Named sun events ED-318 schedules may start or end at.
SUN_EVENTS = ("BMCT", "SR", "SS", "EECT")
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass(frozen=True)
class Limit:
    """One vertical limit; ``value`` None means unlimited (upper) or the ground (lower)."""

    value: float | None
    reference: Reference = "AGL"
    unit: Unit = "m"

    def __post_init__(self) -> None:
        if self.reference not in ("AGL", "AMSL"):
            raise ComplianceError(f"height reference {self.reference!r} is not AGL or AMSL")
        if self.unit not in ("m", "ft"):
            raise ComplianceError(f"height unit {self.unit!r} is not m or ft")
        if self.value is not None and not math.isfinite(self.value):
            raise ComplianceError(f"height limit {self.value!r} is not a finite number")

    @property
    def unlimited(self) -> bool:
        return self.value is None or self.value >= UNLIMITED

    def amsl_m(self, ground_amsl_m: float, lower: bool) -> float:
        """Metres above mean sea level; an absent lower limit is -inf, an unlimited upper +inf."""
        if self.value is None or self.value >= UNLIMITED:
            return -math.inf if lower else math.inf
        metres = self.value * (FEET_M if self.unit == "ft" else 1.0)
        return metres + (ground_amsl_m if self.reference == "AGL" else 0.0)


GROUND = Limit(None, "AGL", "m")
NO_CEILING = Limit(None, "AGL", "m")


@dataclass(frozen=True)
class Volume:
    """A horizontal shape between two limits.

    ``rings`` is a polygon as (lon, lat) rings, exterior first then holes, each closed or
    not; a circle has no rings and a ``center`` (lon, lat) with ``radius_m``.
    """

    rings: tuple[tuple[tuple[float, float], ...], ...] = ()
    center: tuple[float, float] | None = None
    radius_m: float | None = None
    lower: Limit = GROUND
    upper: Limit = NO_CEILING

    def __post_init__(self) -> None:
        if self.center is None and not self.rings:
            raise ComplianceError("a zone volume needs a polygon or a circle centre")
        if self.center is not None and (
            self.radius_m is None or not math.isfinite(self.radius_m) or self.radius_m <= 0
        ):
            raise ComplianceError(f"circle radius {self.radius_m!r} m must be a number > 0")

    @property
    def is_circle(self) -> bool:
        return self.center is not None

    def band_amsl_m(self, ground_amsl_m: float) -> tuple[float, float]:
        """(lower, upper) in metres AMSL, the ground taken at ``ground_amsl_m``."""
        return (
            self.lower.amsl_m(ground_amsl_m, lower=True),
            self.upper.amsl_m(ground_amsl_m, lower=False),
        )

    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat), a circle's box padded for the Earth's shape."""
        if self.center is not None and self.radius_m is not None:
            lon, lat = self.center
            dlat = self.radius_m / 110_574.0 * 1.01
            dlon = self.radius_m / (111_320.0 * max(math.cos(math.radians(lat)), 1e-6)) * 1.01
            return (lon - dlon, lat - dlat, lon + dlon, lat + dlat)
        lons = [p[0] for p in self.rings[0]]
        lats = [p[1] for p in self.rings[0]]
        return (min(lons), min(lats), max(lons), max(lats))


@dataclass(frozen=True)
class DailyPeriod:
    """Days of the week and a time of day range; a bound is "HH:MM" (UTC unless the zone has a
    time zone) or a sun event from :data:`SUN_EVENTS`. An end before the start runs past midnight.
    """

    days: frozenset[int] = frozenset(range(7))  # 0 Monday .. 6 Sunday
    start: str = "00:00"
    end: str = "24:00"


@dataclass(frozen=True)
class Applicability:
    """A date range (either end open) and the daily periods within it (none: all day)."""

    start: datetime | None = None
    end: datetime | None = None
    periods: tuple[DailyPeriod, ...] = ()


@dataclass(frozen=True)
class Authority:
    """Who to contact about a zone, for what, and how long before the flight."""

    name: str
    purpose: str = "AUTHORISATION"  # AUTHORISATION, NOTIFICATION or INFORMATION
    service: str = ""
    contact: str = ""
    email: str = ""
    phone: str = ""
    site_url: str = ""
    interval_before: timedelta | None = None


CameraMode = Literal["no_capture", "no_overflight", "buffer"]


@dataclass(frozen=True)
class CameraPolicy:
    """What a privacy zone allows the camera: no photo inside (``no_capture``), no flight over
    it (``no_overflight``), or no photo within ``buffer_m`` of it (``buffer``)."""

    mode: CameraMode
    buffer_m: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in ("no_capture", "no_overflight", "buffer"):
            raise ComplianceError(
                f"camera policy {self.mode!r} is not no_capture, no_overflight or buffer"
            )
        if not math.isfinite(self.buffer_m) or self.buffer_m < 0:
            raise ComplianceError(f"camera buffer {self.buffer_m!r} m must be a number ≥ 0")


@dataclass(frozen=True)
class Zone:
    """One geographical zone. ``names`` and ``message`` map a language code to text."""

    identifier: str
    restriction: Restriction
    volumes: tuple[Volume, ...]
    names: dict[str, str] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    applicability: tuple[Applicability, ...] = ()  # empty: permanent
    message: dict[str, str] = field(default_factory=dict)
    conditions: tuple[str, ...] = ()
    authorities: tuple[Authority, ...] = ()
    camera: CameraPolicy | None = None
    time_zone: str | None = None  # IANA name the daily periods are given in; None: UTC
    extra: dict[str, Any] = field(default_factory=dict)  # fields the source had that we ignore

    def __post_init__(self) -> None:
        if not self.identifier:
            raise ComplianceError("a zone needs an identifier")
        if self.restriction not in RESTRICTIONS:
            raise ComplianceError(
                f"zone {self.identifier}: restriction {self.restriction!r} is not one of "
                + ", ".join(RESTRICTIONS)
            )
        if not self.volumes:
            raise ComplianceError(f"zone {self.identifier}: no volume")

    @property
    def name(self) -> str:
        """The English name, else any name, else the identifier."""
        return self.names.get("en") or next(iter(self.names.values()), self.identifier)

    @property
    def is_privacy(self) -> bool:
        return self.camera is not None

    def text(self, lang: str = "en") -> str:
        """The message in ``lang``, else English, else any."""
        return (
            self.message.get(lang)
            or self.message.get("en")
            or next(iter(self.message.values()), "")
        )
