"""skyledger's own zone GeoJSON: read it, and write any zones as it.

A FeatureCollection with ``"schema": "skyledger.zones"`` and ``"version": 1``, one
Feature per volume; features sharing ``properties.id`` are the volumes of one zone. The
geometry is a Polygon, a MultiPolygon (one volume per part) or a Point with a
``radius_m`` property (a circle). The properties map onto :class:`~compliance.zones.Zone`
field by field; docs/zones.md lists them with an example. Zone-wide properties may be
repeated on every feature of a zone (the writer does, so each feature stands alone on a
web map) but must then agree; ``lower``, ``upper`` and ``radius_m`` belong to the volume.

:func:`write` and :func:`read` are inverse: ``read(write(zones))`` gives equal zones.
The KML reader builds the same properties from ``ExtendedData`` and uses :func:`zone`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from compliance.sources import common as c
from compliance.sources.shapes import polygons, position
from compliance.zones import (
    GROUND,
    NO_CEILING,
    WEEKDAYS,
    Applicability,
    Authority,
    CameraPolicy,
    DailyPeriod,
    Limit,
    Volume,
    Zone,
)

SCHEMA = "skyledger.zones"
VERSION = 1
#: Properties that describe the whole zone, in the order the writer puts them.
ZONE_KEYS = (
    "restriction",
    "name",
    "reasons",
    "applicability",
    "time_zone",
    "message",
    "conditions",
    "authorities",
    "camera",
    "extra",
)
#: Properties of one feature (volume).
VOLUME_KEYS = ("id", "lower", "upper", "radius_m")
_CAMERA_MODES = ("no_capture", "no_overflight", "buffer")


@dataclass(frozen=True)
class Part:
    """One feature of a zone as read: where it is, its properties and GeoJSON geometry."""

    label: str
    props: dict[str, Any]
    geometry: Any


# --- reading ---------------------------------------------------------------------------------


def read(data: dict[str, Any], source: str, notes: list[str]) -> list[Zone]:
    """Every zone of a skyledger zones FeatureCollection (already parsed from JSON)."""
    top = c.Where(source, "document", notes)
    if data.get("schema") not in (None, SCHEMA):
        raise top.error("schema", f"{data['schema']!r} is not {SCHEMA!r}")
    if data.get("version") not in (None, VERSION):
        raise top.error("version", f"{data['version']!r} is not supported (expected {VERSION})")
    groups: dict[str, list[Part]] = {}
    for i, feature in enumerate(c.items(top, data.get("features"), "features")):
        label = f"features[{i}]"
        where = c.Where(source, label, notes)
        feature = c.obj(where, feature, "feature")
        props = c.obj(where, feature.get("properties"), "properties")
        ident = (c.text(where, props.get("id"), "properties.id", required=True) or "").strip()
        if not ident:
            raise where.error("properties.id", "is empty")
        groups.setdefault(ident, []).append(Part(label, props, feature.get("geometry")))
    return [zone(source, notes, ident, parts) for ident, parts in groups.items()]


def zone(source: str, notes: list[str], ident: str, parts: list[Part]) -> Zone:
    """The zone ``ident`` from its features: zone-wide properties merged, one volume per
    polygon or circle."""
    w = c.Where(source, f"zone {ident}", notes)
    merged: dict[str, Any] = {}
    first: dict[str, str] = {}
    for part in parts:
        for key, value in part.props.items():
            if key in VOLUME_KEYS:
                continue
            if key in merged and merged[key] != value:
                raise w.error(
                    f"{part.label}.properties.{key}",
                    f"differs from {first[key]}; the features of one zone must agree on it "
                    "or leave it out",
                )
            merged.setdefault(key, value)
            first.setdefault(key, part.label)
    if merged.get("restriction") is None:
        raise w.error(
            "restriction", "missing (PROHIBITED, REQ_AUTHORISATION, CONDITIONAL or NO_RESTRICTION)"
        )
    unknown = {k: v for k, v in merged.items() if k not in ZONE_KEYS}
    extra = dict(c.obj(w, merged.get("extra") or {}, "extra"))
    for key, value in unknown.items():
        if key in extra and extra[key] != value:
            raise w.error(key, "is given both as a property and in extra with different values")
        extra[key] = value
    w.unknown(unknown)
    conditions = c.items(w, merged.get("conditions"), "conditions", single=True)
    return Zone(
        identifier=ident,
        restriction=c.restriction(w, merged["restriction"], "restriction"),
        volumes=tuple(v for part in parts for v in _volumes(w, part)),
        names=c.texts(w, merged.get("name"), "name"),
        reasons=c.reasons(w, merged.get("reasons"), "reasons"),
        applicability=_applicability(w, merged.get("applicability")),
        message=c.texts(w, merged.get("message"), "message"),
        conditions=tuple(
            c.text(w, v, f"conditions[{i}]", required=True) or "" for i, v in enumerate(conditions)
        ),
        authorities=tuple(
            _authority(w, a, f"authorities[{i}]")
            for i, a in enumerate(c.items(w, merged.get("authorities"), "authorities"))
        ),
        camera=_camera(w, merged.get("camera")),
        time_zone=_time_zone(w, merged.get("time_zone")),
        extra=extra,
    )


def _volumes(w: c.Where, part: Part) -> list[Volume]:
    props, f = part.props, f"{part.label}.geometry"
    lower = _limit(w, props.get("lower"), f"{part.label}.lower", GROUND)
    upper = _limit(w, props.get("upper"), f"{part.label}.upper", NO_CEILING)
    c.check_band(w, lower, upper, f"{part.label}.lower")
    if part.geometry is None:
        raise w.error(f, "missing (a Polygon, MultiPolygon or Point with radius_m)")
    g = c.obj(w, part.geometry, f)
    kind = (c.text(w, g.get("type"), f"{f}.type", required=True) or "").strip()
    coords = g.get("coordinates")
    if kind == "Polygon":
        rings = polygons(w, coords, f"{f}.coordinates")
    elif kind == "MultiPolygon":
        rings = [
            r
            for k, p in enumerate(c.items(w, coords, f"{f}.coordinates"))
            for r in polygons(w, p, f"{f}.coordinates[{k}]")
        ]
    elif kind == "Point":
        radius = c.number(w, props.get("radius_m"), f"{part.label}.radius_m")
        if radius is None or radius <= 0:
            raise w.error(
                f"{part.label}.radius_m",
                f"{props.get('radius_m')!r} must be a number > 0 (a Point volume is a circle)",
            )
        center = position(w, coords, f"{f}.coordinates")
        return [Volume(center=center, radius_m=radius, lower=lower, upper=upper)]
    else:
        raise w.error(f"{f}.type", f"{kind!r} is not Polygon, MultiPolygon or Point")
    return [Volume(rings=r, lower=lower, upper=upper) for r in rings]


def _limit(w: c.Where, value: Any, field: str, default: Limit) -> Limit:
    if value is None:
        return default
    if not isinstance(value, dict):  # a bare number: metres above ground
        value = {"value": value}
    return Limit(
        c.number(w, value.get("value"), f"{field}.value"),
        c.reference(w, value.get("reference", "AGL"), f"{field}.reference"),
        c.unit(w, value.get("unit", "m"), f"{field}.unit"),
    )


def _applicability(w: c.Where, value: Any) -> tuple[Applicability, ...]:
    out = []
    for i, a in enumerate(c.items(w, value, "applicability")):
        f = f"applicability[{i}]"
        a = c.obj(w, a, f)
        start = c.instant(w, a.get("start"), f"{f}.start")
        end = c.instant(w, a.get("end"), f"{f}.end")
        if start and end and end <= start:
            raise w.error(f"{f}.end", "is not after start")
        periods = []
        for j, p in enumerate(c.items(w, a.get("periods"), f"{f}.periods")):
            pf = f"{f}.periods[{j}]"
            p = c.obj(w, p, pf)
            begin, o1 = c.clock(w, p.get("start", "00:00"), f"{pf}.start", events=True)
            until, o2 = c.clock(w, p.get("end", "24:00"), f"{pf}.end", events=True)
            if o1 is not None or o2 is not None:
                raise w.error(pf, "has a UTC offset; write HH:MM and name the zone's time_zone")
            periods.append(DailyPeriod(c.days(w, p.get("days", "ANY"), f"{pf}.days"), begin, until))
        out.append(Applicability(start, end, tuple(periods)))
    return tuple(out)


def _authority(w: c.Where, value: Any, field: str) -> Authority:
    a = c.obj(w, value, field)

    def get(key: str) -> str:
        return c.text(w, a.get(key), f"{field}.{key}") or ""

    return Authority(
        name=get("name"),
        purpose=c.purpose(w, a.get("purpose"), f"{field}.purpose"),
        service=get("service"),
        contact=get("contact"),
        email=get("email"),
        phone=get("phone"),
        site_url=get("site_url"),
        interval_before=c.duration(w, a.get("interval_before"), f"{field}.interval_before"),
    )


def _camera(w: c.Where, value: Any) -> CameraPolicy | None:
    if value is None:
        return None
    cam = c.obj(w, value, "camera")
    mode = c.text(w, cam.get("mode"), "camera.mode", required=True)
    if mode not in _CAMERA_MODES:
        raise w.error("camera.mode", f"{mode!r} is not one of {', '.join(_CAMERA_MODES)}")
    buffer = c.number(w, cam.get("buffer_m"), "camera.buffer_m") or 0.0
    if buffer < 0:
        raise w.error("camera.buffer_m", f"{buffer:g} must be ≥ 0")
    return CameraPolicy(mode, buffer)  # type: ignore[arg-type]  # checked above


def _time_zone(w: c.Where, value: Any) -> str | None:
    name = c.text(w, value, "time_zone")
    if name is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise w.error(
            "time_zone", f"{name!r} is not an IANA time zone (e.g. Europe/Brussels)"
        ) from None
    return name


# --- writing ---------------------------------------------------------------------------------


def write(zones: Any) -> dict[str, Any]:
    """The zones as a skyledger zones FeatureCollection (a JSON-ready dict)."""
    features = []
    for z in zones:
        common = _zone_properties(z)
        for v in z.volumes:
            props: dict[str, Any] = {"id": z.identifier, **common}
            if v.lower != GROUND:
                props["lower"] = _limit_json(v.lower)
            if v.upper != NO_CEILING:
                props["upper"] = _limit_json(v.upper)
            if v.center is not None:
                props["radius_m"] = v.radius_m
                geometry: dict[str, Any] = {"type": "Point", "coordinates": list(v.center)}
            else:
                geometry = {"type": "Polygon", "coordinates": [_ring_json(r) for r in v.rings]}
            features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return {"type": "FeatureCollection", "schema": SCHEMA, "version": VERSION, "features": features}


def _zone_properties(z: Zone) -> dict[str, Any]:
    out: dict[str, Any] = {"restriction": z.restriction}
    if z.names:
        out["name"] = _texts_json(z.names)
    if z.reasons:
        out["reasons"] = list(z.reasons)
    if z.applicability:
        out["applicability"] = [
            {
                "start": _instant_json(a.start),
                "end": _instant_json(a.end),
                "periods": [
                    {"days": [WEEKDAYS[d] for d in sorted(p.days)], "start": p.start, "end": p.end}
                    for p in a.periods
                ],
            }
            for a in z.applicability
        ]
    if z.time_zone is not None:
        out["time_zone"] = z.time_zone
    if z.message:
        out["message"] = _texts_json(z.message)
    if z.conditions:
        out["conditions"] = list(z.conditions)
    if z.authorities:
        out["authorities"] = [_authority_json(a) for a in z.authorities]
    if z.camera is not None:
        out["camera"] = {"mode": z.camera.mode, "buffer_m": z.camera.buffer_m}
    if z.extra:
        out["extra"] = dict(z.extra)
    return out


def _authority_json(a: Authority) -> dict[str, Any]:
    out: dict[str, Any] = {"name": a.name, "purpose": a.purpose}
    for key in ("service", "contact", "email", "phone", "site_url"):
        if getattr(a, key):
            out[key] = getattr(a, key)
    if a.interval_before is not None:
        out["interval_before"] = c.format_duration(a.interval_before)
    return out


def _limit_json(lim: Limit) -> dict[str, Any]:
    return {"value": lim.value, "reference": lim.reference, "unit": lim.unit}


def _texts_json(texts: dict[str, str]) -> str | dict[str, str]:
    return texts["en"] if list(texts) == ["en"] else dict(texts)


def _instant_json(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _ring_json(ring: tuple[tuple[float, float], ...]) -> list[list[float]]:
    points = [list(p) for p in ring]
    if points and points[0] != points[-1]:
        points.append(list(points[0]))
    return points
