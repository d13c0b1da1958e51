"""EUROCAE ED-318 UAS geographical zones: a GeoJSON FeatureCollection, one zone a feature.

A feature's ``properties`` hold the zone (``identifier``, ``type`` — the restriction, with
``USPACE`` besides ED-269's four — ``name``, ``reason``, ``message``,
``limitedApplicability``, ``zoneAuthority``, ...). Texts are lists of ``{text, lang}``.
Its ``geometry`` is "LayeredGeoJSON": each Polygon, MultiPolygon or Point carries a
``layer`` ``{upper, upperReference, lower, lowerReference, uom}`` and a Point a circle
``extent`` ``{subType: "Circle", radius}`` (radius in metres); a GeometryCollection
stacks several layered geometries (one volume each).

Read as the standard and real files write it: a ``restriction`` property is accepted in
place of ``type``; ``USPACE`` (U-space airspace) is read as REQ_AUTHORISATION with a note;
a reason outside ED-269's list (``DAR``) becomes OTHER with a note; WGS84 heights are
taken as AMSL with a note; a missing ``uom`` is metres (the extension's default), noted.
Daily periods may start or end at a sun event (BMCT, SR, SS, EECT), kept by name.
``country``, ``variant``, ``region``, ``otherReasonInfo``, ``regulationExemption``,
``extendedProperties`` and ``dataSource`` are kept in :attr:`Zone.extra`.
"""

from __future__ import annotations

from typing import Any

from compliance.sources import common as c
from compliance.sources.shapes import circle, polygons
from compliance.zones import SUN_EVENTS, Applicability, DailyPeriod, Restriction, Volume, Zone

KEPT = (
    "country",
    "variant",
    "region",
    "otherReasonInfo",
    "regulationExemption",
    "extendedProperties",
    "dataSource",
)
READ = (
    "identifier",
    "name",
    "type",
    "restriction",
    "restrictionConditions",
    "reason",
    "message",
    "limitedApplicability",
    "zoneAuthority",
)


def read(data: dict[str, Any], source: str, notes: list[str]) -> list[Zone]:
    """Every zone of an ED-318 FeatureCollection (already parsed from JSON)."""
    top = c.Where(source, "document", notes)
    zones: list[Zone] = []
    seen: dict[str, str] = {}
    for i, feature in enumerate(c.items(top, data.get("features"), "features")):
        label = f"features[{i}]"
        zone = _zone(c.Where(source, label, notes), feature)
        if zone.identifier in seen:
            raise c.Where(source, label, notes).error(
                "properties.identifier",
                f"{zone.identifier!r} repeats the zone at {seen[zone.identifier]}",
            )
        seen[zone.identifier] = label
        zones.append(zone)
    return zones


def _zone(where: c.Where, feature: Any) -> Zone:
    feature = c.obj(where, feature, "feature")
    props = c.obj(where, feature.get("properties"), "properties")
    ident = c.text(where, props.get("identifier"), "properties.identifier", required=True)
    if not (ident or "").strip():
        raise where.error("properties.identifier", "is empty")
    w = where.for_zone((ident or "").strip())
    unknown = {k: v for k, v in props.items() if k not in KEPT and k not in READ}
    w.unknown(unknown)
    kept = {k: props[k] for k in KEPT if k in props}
    if "restriction" in props and "type" in props:
        kept["type"] = props["type"]
    applicability, offsets = _applicability(w, props.get("limitedApplicability"))
    if feature.get("geometry") is None:
        raise w.error("geometry", "missing")
    return Zone(
        identifier=(ident or "").strip(),
        restriction=_restriction(w, props),
        volumes=tuple(_volumes(w, feature["geometry"], "geometry")),
        applicability=applicability,
        **c.ed_fields(w, props, offsets),
        extra={**kept, **unknown},
    )


def _restriction(w: c.Where, props: dict[str, Any]) -> Restriction:
    key = "restriction" if props.get("restriction") is not None else "type"
    raw = props.get(key)
    if isinstance(raw, str) and raw.strip().upper() == "USPACE":
        w.note(f"{key} USPACE (U-space airspace) read as REQ_AUTHORISATION")
        return "REQ_AUTHORISATION"
    if raw is None:
        raise w.error("type", "missing (the restriction: PROHIBITED, REQ_AUTHORIZATION, ...)")
    return c.restriction(w, raw, key)


def _volumes(w: c.Where, value: Any, field: str) -> list[Volume]:
    g = c.obj(w, value, field)
    kind = (c.text(w, g.get("type"), f"{field}.type", required=True) or "").strip()
    if kind == "GeometryCollection":
        out = []
        for j, sub in enumerate(c.items(w, g.get("geometries"), f"{field}.geometries")):
            out += _volumes(w, sub, f"{field}.geometries[{j}]")
        if not out:
            raise w.error(f"{field}.geometries", "is empty; a zone needs at least one volume")
        return out
    if kind not in ("Polygon", "MultiPolygon", "Point"):
        raise w.error(
            f"{field}.type",
            f"{kind!r} is not Polygon, MultiPolygon, Point (circle) or GeometryCollection",
        )
    if g.get("layer") is None:
        raise w.error(f"{field}.layer", "missing (upper, upperReference, lower, lowerReference)")
    layer = c.obj(w, g["layer"], f"{field}.layer")
    lf = f"{field}.layer"
    if layer.get("uom") is None:
        w.note(f"{lf}.uom missing: metres assumed")
    uom = c.unit(w, layer.get("uom") or "m", f"{lf}.uom")
    lower = c.limit(
        w,
        layer.get("lower"),
        layer.get("lowerReference"),
        uom,
        f"{lf}.lower",
        f"{lf}.lowerReference",
        upper=False,
    )
    upper = c.limit(
        w,
        layer.get("upper"),
        layer.get("upperReference"),
        uom,
        f"{lf}.upper",
        f"{lf}.upperReference",
        upper=True,
    )
    c.check_band(w, lower, upper, f"{lf}.lower")
    coords = g.get("coordinates")
    if kind == "Polygon":
        return [
            Volume(rings=r, lower=lower, upper=upper)
            for r in polygons(w, coords, f"{field}.coordinates")
        ]
    if kind == "MultiPolygon":
        return [
            Volume(rings=r, lower=lower, upper=upper)
            for k, part in enumerate(c.items(w, coords, f"{field}.coordinates"))
            for r in polygons(w, part, f"{field}.coordinates[{k}]")
        ]
    extent = g.get("extent")
    if not isinstance(extent, dict) or str(extent.get("subType", "")).lower() != "circle":
        raise w.error(f"{field}.extent", 'missing; a Point needs {"subType": "Circle", "radius"}')
    center, radius = circle(w, coords, extent.get("radius"), f"{field}.extent")
    return [Volume(center=center, radius_m=radius, lower=lower, upper=upper)]


def _applicability(w: c.Where, value: Any) -> tuple[tuple[Applicability, ...], set[int | None]]:
    out: list[Applicability] = []
    offsets: set[int | None] = set()
    for i, a in enumerate(c.items(w, value, "limitedApplicability", single=True)):
        f = f"limitedApplicability[{i}]"
        a = c.obj(w, a, f)
        start = c.instant(w, a.get("startDateTime"), f"{f}.startDateTime")
        end = c.instant(w, a.get("endDateTime"), f"{f}.endDateTime")
        if start and end and end <= start:
            raise w.error(f"{f}.endDateTime", "is not after startDateTime")
        periods = []
        for j, p in enumerate(c.items(w, a.get("schedule"), f"{f}.schedule", single=True)):
            pf = f"{f}.schedule[{j}]"
            p = c.obj(w, p, pf)
            begin, o1 = _bound(w, p, "start", pf)
            until, o2 = _bound(w, p, "end", pf)
            offsets |= {o1, o2}
            periods.append(DailyPeriod(c.days(w, p.get("day"), f"{pf}.day"), begin, until))
        out.append(Applicability(start, end, tuple(periods)))
    if any(a == Applicability() for a in out):
        return (), offsets
    return tuple(out), offsets


def _bound(w: c.Where, period: dict[str, Any], side: str, field: str) -> tuple[str, int | None]:
    """A period's start or end: its sun event if it has one, else its time of day."""
    event, clock = period.get(f"{side}Event"), period.get(f"{side}Time")
    if event is not None:
        name = (c.text(w, event, f"{field}.{side}Event") or "").strip().upper()
        if name not in SUN_EVENTS:
            raise w.error(
                f"{field}.{side}Event", f"{event!r} is not one of {', '.join(SUN_EVENTS)}"
            )
        if clock is not None:
            w.note(f"{field}.{side}Time ignored: {side}Event {name} given")
        return name, None
    if clock is None:
        return ("00:00" if side == "start" else "24:00"), None
    return c.clock(w, clock, f"{field}.{side}Time")
