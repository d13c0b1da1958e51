"""EUROCAE ED-269 UAS geographical zones in JSON.

The file is an object holding a list of zones under ``features`` (the standard's schema,
InterUSS, Luxembourg) or ``UASZoneList`` (the Swiss sample), or a bare list. Each zone
has ``identifier``, ``restriction``, ``geometry`` (volumes, each a ``horizontalProjection``
Polygon or Circle between ``lowerLimit`` and ``upperLimit`` in ``uomDimensions``),
``applicability`` and ``zoneAuthority``, plus descriptive fields.

Read as published files write them: limits as numbers, strings or null (a null lower
limit is the ground, a null or 99999 upper limit is unlimited), ``REQ_AUTHORIZATION``
for ``REQ_AUTHORISATION``, ``restrictionConditions`` as one string or a list, daily
periods under ``schedule`` or ``dailyPeriod``, a ``day`` given alone, times as ``HH:MM``
or ``HH:MM:SS.ssZ``. A circle's radius is in ``uomDimensions``. Fields the model has no
place for (``country``, ``type``, ``region``, ``otherReasonInfo``,
``regulationExemption``, ``uSpaceClass``, ``extendedProperties``, ``title``) are kept in
:attr:`Zone.extra` under their own names; unknown ones too, with a note.
"""

from __future__ import annotations

from typing import Any

from compliance.sources import common as c
from compliance.sources.shapes import circle, polygons
from compliance.zones import FEET_M, Applicability, DailyPeriod, Unit, Volume, Zone

#: Fields ED-269 defines that the model has no field for: kept in ``extra`` as given.
KEPT = (
    "country",
    "type",
    "region",
    "otherReasonInfo",
    "regulationExemption",
    "uSpaceClass",
    "extendedProperties",
    "title",
)
READ = (
    "identifier",
    "name",
    "restriction",
    "restrictionConditions",
    "reason",
    "message",
    "applicability",
    "zoneAuthority",
    "geometry",
)


def read(data: Any, source: str, notes: list[str]) -> list[Zone]:
    """Every zone of an ED-269 document (already parsed from JSON)."""
    if isinstance(data, list):
        key, entries = "", data
    else:
        key = "UASZoneList" if "UASZoneList" in data else "features"
        top = c.Where(source, "document", notes)
        entries = c.items(top, data.get(key), key)
    zones: list[Zone] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        label = f"{key}[{i}]" if key else f"[{i}]"
        zone = _zone(c.Where(source, label, notes), entry)
        if zone.identifier in seen:
            raise c.Where(source, label, notes).error(
                "identifier", f"{zone.identifier!r} repeats the zone at {seen[zone.identifier]}"
            )
        seen[zone.identifier] = label
        zones.append(zone)
    return zones


def _zone(where: c.Where, entry: Any) -> Zone:
    entry = c.obj(where, entry, "zone")
    ident = (c.text(where, entry.get("identifier"), "identifier", required=True) or "").strip()
    if not ident:
        raise where.error("identifier", "is empty")
    w = where.for_zone(ident)
    restriction = c.restriction(w, entry.get("restriction"), "restriction")
    applicability, offsets = _applicability(w, entry)
    unknown = {k: v for k, v in entry.items() if k not in KEPT and k not in READ}
    w.unknown(unknown)
    return Zone(
        identifier=ident,
        restriction=restriction,
        volumes=_volumes(w, entry.get("geometry")),
        applicability=applicability,
        **c.ed_fields(w, entry, offsets),
        extra={**{k: entry[k] for k in KEPT if k in entry}, **unknown},
    )


def _volumes(w: c.Where, value: Any) -> tuple[Volume, ...]:
    if value is None:
        raise w.error("geometry", "missing (a list of volumes with horizontalProjection)")
    out: list[Volume] = []
    for i, g in enumerate(c.items(w, value, "geometry", single=True)):
        f = f"geometry[{i}]"
        g = c.obj(w, g, f)
        uom = _unit(w, g, f)
        lower = c.limit(
            w,
            g.get("lowerLimit"),
            g.get("lowerVerticalReference"),
            uom or "m",
            f"{f}.lowerLimit",
            f"{f}.lowerVerticalReference",
            upper=False,
        )
        upper = c.limit(
            w,
            g.get("upperLimit"),
            g.get("upperVerticalReference"),
            uom or "m",
            f"{f}.upperLimit",
            f"{f}.upperVerticalReference",
            upper=True,
        )
        if uom is None and (lower.value is not None or upper.value is not None):
            raise w.error(f"{f}.uomDimensions", "missing (M or FT)")
        c.check_band(w, lower, upper, f"{f}.lowerLimit")
        hf = f"{f}.horizontalProjection"
        if g.get("horizontalProjection") is None:
            raise w.error(hf, "missing")
        hp = c.obj(w, g["horizontalProjection"], hf)
        kind = (c.text(w, hp.get("type"), f"{hf}.type", required=True) or "").strip()
        if kind.lower() == "polygon":
            for rings in polygons(w, hp.get("coordinates"), f"{hf}.coordinates"):
                out.append(Volume(rings=rings, lower=lower, upper=upper))
        elif kind.lower() == "circle":
            if uom is None:
                raise w.error(f"{f}.uomDimensions", "missing (M or FT; the radius is in it)")
            center, radius = circle(w, hp.get("center"), hp.get("radius"), hf)
            scale = FEET_M if uom == "ft" else 1.0
            out.append(Volume(center=center, radius_m=radius * scale, lower=lower, upper=upper))
        else:
            raise w.error(f"{hf}.type", f"{kind!r} is not Polygon or Circle")
    if not out:
        raise w.error("geometry", "is empty; a zone needs at least one volume")
    return tuple(out)


def _unit(w: c.Where, g: dict[str, Any], f: str) -> Unit | None:
    raw = g.get("uomDimensions")
    return None if raw is None else c.unit(w, raw, f"{f}.uomDimensions")


def _applicability(
    w: c.Where, entry: dict[str, Any]
) -> tuple[tuple[Applicability, ...], set[int | None]]:
    """The applicability windows and the UTC offsets their clock times carry; a window
    without dates or daily periods (``permanent: YES``) makes the zone permanent."""
    if entry.get("applicability") is None:
        w.note("no applicability: taken as permanent")
        return (), set()
    out: list[Applicability] = []
    offsets: set[int | None] = set()
    permanent = False
    for i, a in enumerate(c.items(w, entry["applicability"], "applicability", single=True)):
        f = f"applicability[{i}]"
        a = c.obj(w, a, f)
        flag = (c.text(w, a.get("permanent"), f"{f}.permanent") or "NO").strip().upper()
        if flag not in ("YES", "NO"):
            raise w.error(f"{f}.permanent", f"{flag!r} is not YES or NO")
        start = c.instant(w, a.get("startDateTime"), f"{f}.startDateTime")
        end = c.instant(w, a.get("endDateTime"), f"{f}.endDateTime")
        if start and end and end <= start:
            raise w.error(f"{f}.endDateTime", "is not after startDateTime")
        key = "schedule" if a.get("schedule") is not None else "dailyPeriod"
        periods = []
        for j, p in enumerate(c.items(w, a.get(key), f"{f}.{key}", single=True)):
            pf = f"{f}.{key}[{j}]"
            p = c.obj(w, p, pf)
            begin, o1 = c.clock(w, p.get("startTime"), f"{pf}.startTime")
            until, o2 = c.clock(w, p.get("endTime"), f"{pf}.endTime")
            offsets |= {o1, o2}
            periods.append(DailyPeriod(c.days(w, p.get("day"), f"{pf}.day"), begin, until))
        window = Applicability(start, end, tuple(periods))
        permanent = permanent or window == Applicability()
        out.append(window)
    return (() if permanent else tuple(out)), offsets
