"""Helpers for compliance tests: zones and plans drawn in metres around ArduPilot SITL's home."""

from datetime import UTC, datetime, timedelta

from compliance.zones import (
    Applicability,
    CameraPolicy,
    DailyPeriod,
    Limit,
    Volume,
    Zone,
)
from mission import items as it
from mission.geodesy import LocalFrame
from mission.plan import Home, Plan

SITL_HOME = (149.165230, -35.363261)  # lon, lat
FRAME = LocalFrame(*SITL_HOME)
HOME = Home(lat_deg=SITL_HOME[1], lon_deg=SITL_HOME[0], alt_amsl_m=584.0)
#: Tuesday 1 December 2026, 10:00 to 12:00 UTC.
TUESDAY = (datetime(2026, 12, 1, 10, tzinfo=UTC), datetime(2026, 12, 1, 12, tzinfo=UTC))
SATURDAY = (TUESDAY[0] + timedelta(days=4), TUESDAY[1] + timedelta(days=4))


def lonlat(x: float, y: float) -> tuple[float, float]:
    return FRAME.point_to_wgs84(x, y)


def rect(x0, y0, x1, y1, lower=None, upper=None) -> Volume:
    ring = tuple(lonlat(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))
    return Volume(rings=(ring,), lower=lower or Limit(None), upper=upper or Limit(None))


def circle(x, y, radius_m, lower=None, upper=None) -> Volume:
    return Volume(
        center=lonlat(x, y),
        radius_m=radius_m,
        lower=lower or Limit(None),
        upper=upper or Limit(None),
    )


def zone(identifier, restriction, *volumes, **kwargs) -> Zone:
    return Zone(identifier, restriction, tuple(volumes), **kwargs)


def weekends() -> tuple[Applicability, ...]:
    return (Applicability(periods=(DailyPeriod(days=frozenset({5, 6})),)),)


def no_capture(buffer_m: float = 0.0) -> CameraPolicy:
    return CameraPolicy("buffer", buffer_m) if buffer_m else CameraPolicy("no_capture")


def wp(x, y, alt):
    lon, lat = lonlat(x, y)
    return it.waypoint(lat, lon, alt)


def route_plan(*points, alt=30.0, trigger_m=0.0) -> Plan:
    """Take off, fly through ``points`` (x, y) at ``alt`` (camera on at ``trigger_m``), RTL."""
    items = [it.takeoff(alt)]
    for n, (x, y) in enumerate(points):
        items.append(wp(x, y, alt))
        if n == 0 and trigger_m:
            items.append(it.trigger_distance(trigger_m))
    if trigger_m:
        items.append(it.trigger_distance(0))
    items.append(it.return_to_launch())
    return Plan(home=HOME, sorties=(tuple(items),))
