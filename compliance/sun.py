"""Where the sun is, and when it rises, sets and crosses the civil twilight line.

The sun's position follows NOAA's solar calculator (the equations of its spreadsheet, after
Meeus, *Astronomical Algorithms*): good to about 0.01° in elevation for dates between 1800
and 2100, before refraction. :func:`sun_elevation_deg` adds NOAA's atmospheric refraction
by default, as the calculator shows it.

Events (:data:`EVENT_ALTITUDES_DEG`) are the moments the *geometric* elevation of the sun's
centre (no refraction) crosses a fixed altitude, as NOAA and the USNO define them: sunrise
and sunset at -0.833° (34' of standard refraction at the horizon plus the 16' semi-diameter),
civil twilight at -6°. :func:`sun_event` first solves the hour-angle equation, then refines
by bisection on the elevation itself, so a returned time is exact to about a second.

The *day* of an event is the local apparent solar day at that longitude: the 24 hours
centred on the sun's transit (local apparent noon) nearest to 12:00 local mean time
(12:00 UTC - longitude/15 h) on that calendar date. Morning events (BMCT, SR) are looked
for in its first half, evening events (SS, EECT) in its second. Each happens at most once
in its half, and the returned UTC datetime may fall on the previous or next UTC date far
from the Greenwich meridian (sunset in Tokyo on 1 June is 09:50 UTC on 1 June, in Honolulu
05:10 UTC on 2 June). Where the sun stays above or below the altitude for that half day
(polar day or night), the event does not happen and :func:`sun_event` returns None.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from compliance.errors import ComplianceError

#: Geometric altitude (degrees) of the sun's centre at each event ED-318 schedules use.
EVENT_ALTITUDES_DEG: dict[str, float] = {
    "BMCT": -6.0,  # begin morning civil twilight
    "SR": -0.833,  # sunrise
    "SS": -0.833,  # sunset
    "EECT": -6.0,  # end evening civil twilight
}
MORNING_EVENTS = ("BMCT", "SR")
_UNIX_EPOCH_JD = 2440587.5
_J2000_JD = 2451545.0
_HALF_DAY = timedelta(hours=12)
_TOLERANCE = timedelta(seconds=0.5)


def _julian_century(when: datetime) -> float:
    jd = when.timestamp() / 86400.0 + _UNIX_EPOCH_JD
    return (jd - _J2000_JD) / 36525.0


def _declination_and_eot(t: float) -> tuple[float, float]:
    """Sun's declination (radians) and the equation of time (minutes) at Julian century ``t``."""
    l0 = math.radians((280.46646 + t * (36000.76983 + t * 0.0003032)) % 360.0)
    m_deg = 357.52911 + t * (35999.05029 - 0.0001537 * t)
    m = math.radians(m_deg)
    ecc = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    centre = (
        math.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + math.sin(2 * m) * (0.019993 - 0.000101 * t)
        + math.sin(3 * m) * 0.000289
    )
    true_long = math.degrees(l0) + centre
    omega = math.radians(125.04 - 1934.136 * t)
    apparent_long = math.radians(true_long - 0.00569 - 0.00478 * math.sin(omega))
    mean_obliq = (
        23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0
    )
    obliq = math.radians(mean_obliq + 0.00256 * math.cos(omega))
    declination = math.asin(math.sin(obliq) * math.sin(apparent_long))
    y = math.tan(obliq / 2.0) ** 2
    eot_rad = (
        y * math.sin(2 * l0)
        - 2 * ecc * math.sin(m)
        + 4 * ecc * y * math.sin(m) * math.cos(2 * l0)
        - 0.5 * y * y * math.sin(4 * l0)
        - 1.25 * ecc * ecc * math.sin(2 * m)
    )
    return declination, 4.0 * math.degrees(eot_rad)


def _refraction_deg(elevation_deg: float) -> float:
    """NOAA's approximate atmospheric refraction (degrees) at a geometric elevation."""
    if elevation_deg > 85.0:
        return 0.0
    tan_e = math.tan(math.radians(elevation_deg))
    if elevation_deg > 5.0:
        arcsec = 58.1 / tan_e - 0.07 / tan_e**3 + 0.000086 / tan_e**5
    elif elevation_deg > -0.575:
        e = elevation_deg
        arcsec = 1735.0 + e * (-518.2 + e * (103.4 + e * (-12.79 + e * 0.711)))
    else:
        arcsec = -20.772 / tan_e
    return arcsec / 3600.0


def _check_place(lon_deg: float, lat_deg: float) -> None:
    if not (math.isfinite(lon_deg) and -180.0 <= lon_deg <= 180.0):
        raise ComplianceError(f"longitude {lon_deg!r} is not a number in -180..180")
    if not (math.isfinite(lat_deg) and -90.0 <= lat_deg <= 90.0):
        raise ComplianceError(f"latitude {lat_deg!r} is not a number in -90..90")


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ComplianceError(f"time {when.isoformat()} has no UTC offset; give an aware datetime")
    return when


def _elevation(lon_deg: float, lat_deg: float, when: datetime) -> float:
    """Geometric elevation of the sun's centre in degrees (no refraction, no checks)."""
    declination, eot_min = _declination_and_eot(_julian_century(when))
    utc = when.astimezone(UTC)
    minutes = utc.hour * 60.0 + utc.minute + (utc.second + utc.microsecond / 1e6) / 60.0
    true_solar_min = (minutes + eot_min + 4.0 * lon_deg) % 1440.0
    hour_angle = math.radians(true_solar_min / 4.0 - 180.0)
    lat = math.radians(lat_deg)
    cos_zenith = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(
        declination
    ) * math.cos(hour_angle)
    return 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def sun_elevation_deg(
    lon_deg: float, lat_deg: float, when: datetime, refraction: bool = True
) -> float:
    """Elevation of the sun's centre above the horizon, in degrees.

    Parameters
    ----------
    lon_deg, lat_deg : float
        WGS84 longitude and latitude of the observer.
    when : datetime
        An aware datetime (any offset).
    refraction : bool
        Add NOAA's atmospheric refraction (about +0.5° at the horizon, 0.05° at -6°),
        as NOAA's calculator shows. False gives the geometric elevation events use.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> noon = datetime(2024, 6, 21, 12, tzinfo=UTC)
    >>> round(sun_elevation_deg(0.0, 51.4769, noon), 1)  # Greenwich, summer solstice
    62.0
    """
    _check_place(lon_deg, lat_deg)
    geometric = _elevation(lon_deg, lat_deg, _aware(when))
    return geometric + _refraction_deg(geometric) if refraction else geometric


def solar_noon(lon_deg: float, day: date) -> datetime:
    """The sun's transit (local apparent noon) at a longitude on ``day``, as aware UTC.

    The middle of the solar day :func:`sun_event` looks in.

    Examples
    --------
    >>> solar_noon(0.0, date(2024, 11, 3)).strftime("%H:%M")
    '11:43'
    """
    _check_place(lon_deg, 0.0)
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC) - timedelta(minutes=4 * lon_deg)
    transit = noon
    for _ in range(3):  # the equation of time changes by at most ~30 s a day
        _, eot_min = _declination_and_eot(_julian_century(transit))
        transit = noon - timedelta(minutes=eot_min)
    return transit


def _bisect(
    lon_deg: float, lat_deg: float, altitude: float, low: datetime, high: datetime
) -> datetime:
    """The crossing of ``altitude`` between ``low`` and ``high`` (opposite sides of it)."""
    rising_low = _elevation(lon_deg, lat_deg, low) < altitude
    while high - low > _TOLERANCE:
        mid = low + (high - low) / 2
        if (_elevation(lon_deg, lat_deg, mid) < altitude) == rising_low:
            low = mid
        else:
            high = mid
    return low + (high - low) / 2


def _first_guess(
    lon_deg: float, lat_deg: float, altitude: float, transit: datetime, morning: bool
) -> datetime | None:
    """The hour-angle solution with the declination at the transit; None if it has none."""
    declination, _ = _declination_and_eot(_julian_century(transit))
    lat = math.radians(lat_deg)
    denominator = math.cos(lat) * math.cos(declination)
    if abs(denominator) < 1e-12:
        return None
    cos_h = (math.sin(math.radians(altitude)) - math.sin(lat) * math.sin(declination)) / denominator
    if abs(cos_h) > 1.0:
        return None
    offset = timedelta(minutes=4.0 * math.degrees(math.acos(cos_h)))
    return transit - offset if morning else transit + offset


def sun_event(lon_deg: float, lat_deg: float, day: date, event: str) -> datetime | None:
    """When ``event`` happens on the local solar ``day`` at a place, as aware UTC.

    Parameters
    ----------
    lon_deg, lat_deg : float
        WGS84 longitude and latitude.
    day : date
        The calendar date whose local apparent solar day is meant (see the module notes).
    event : str
        "BMCT" (begin morning civil twilight, -6°), "SR" (sunrise, -0.833°), "SS" (sunset)
        or "EECT" (end evening civil twilight).

    Returns
    -------
    datetime or None
        The moment the sun's geometric elevation crosses the event's altitude (rising in the
        morning, setting in the evening), to about a second; None when it does not cross it
        in that half of the solar day (polar day or night).

    Examples
    --------
    >>> sun_event(0.0, 51.4769, date(2024, 6, 21), "SR").strftime("%H:%M:%S")  # Greenwich
    '03:42:50'
    >>> sun_event(15.6, 78.2, date(2024, 6, 21), "SS") is None  # Svalbard, midnight sun
    True
    """
    _check_place(lon_deg, lat_deg)
    if event not in EVENT_ALTITUDES_DEG:
        raise ComplianceError(
            f"sun event {event!r} is not one of " + ", ".join(EVENT_ALTITUDES_DEG)
        )
    altitude = EVENT_ALTITUDES_DEG[event]
    morning = event in MORNING_EVENTS
    transit = solar_noon(lon_deg, day)
    low, high = (transit - _HALF_DAY, transit) if morning else (transit, transit + _HALF_DAY)
    below_low = _elevation(lon_deg, lat_deg, low) < altitude
    below_high = _elevation(lon_deg, lat_deg, high) < altitude
    if below_low == below_high or below_low != morning:
        # No rising (morning) or setting (evening) crossing between the half day's ends.
        return None
    guess = _first_guess(lon_deg, lat_deg, altitude, transit, morning)
    if guess is not None and low < guess < high:
        step = timedelta(minutes=5)
        near_low, near_high = max(low, guess - step), min(high, guess + step)
        if (_elevation(lon_deg, lat_deg, near_low) < altitude) == below_low and (
            _elevation(lon_deg, lat_deg, near_high) < altitude
        ) == below_high:
            low, high = near_low, near_high
    return _bisect(lon_deg, lat_deg, altitude, low, high)
