"""Public disclosure records: what a citizen may know about one flight.

A :class:`DisclosureRecord` (schema 1) says who flew, why, over what, when, where (the route,
generalised near private places), how high (a band, not a figure), what was collected and for
how long it is kept (and, once footage and track are deleted at the end of that time, when),
whether the plan was approved and the flight kept to it, and what defects were found on
public assets. It never names a person: the pilot is a role of a unit.

:func:`build_disclosure` makes one from plain values (no database rows), and
:func:`generalise_route` does the route: simplified to ``tolerance_m``, and every vertex
within ``near_m`` of a private area (a privacy zone's outline) moved to the nearest node of a
fixed ``grid_m`` grid, so a route past a home or a school shows the neighbourhood, not the
house. The grid is anchored to a frame centred on the route's position rounded to 0.1°, so
two flights past the same place snap to the same nodes and cannot be averaged back.

:func:`record_sha256` is the SHA-256 of the record's canonical JSON (RFC 8785), the hash the
transparency log keeps for each published version.

>>> altitude_band(42.0)
(30, 60, '30–60 m above take-off')
>>> altitude_band(130.0)
(120, None, 'above 120 m above take-off')
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from compliance.errors import ComplianceError

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from compliance.zones import Zone

__all__ = [
    "ALTITUDE_BANDS_M",
    "SCHEMA",
    "AssetRef",
    "ConformanceSummary",
    "DataCollected",
    "DisclosureRecord",
    "GeneralisedRoute",
    "RouteGeneralisation",
    "altitude_band",
    "build_disclosure",
    "conformance_summary",
    "deletion_date",
    "generalise_route",
    "privacy_areas",
    "record_sha256",
]

SCHEMA: Literal[1] = 1
#: The upper bounds of the altitude bands (metres above take-off); above the last is open.
ALTITUDE_BANDS_M = (30, 60, 90, 120)
#: Decimal places of published coordinates (about 1 cm).
COORD_DECIMALS = 7
#: The grid's frame origin is the route's centre rounded to this many degrees.
GRID_ORIGIN_DEG = 0.1


class AssetRef(BaseModel):
    """The public asset a flight inspected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    name: str
    kind: str


class RouteGeneralisation(BaseModel):
    """How the published route was made from the flown track."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tolerance_m: float = Field(description="simplified to this many metres")
    near_m: float = Field(description="vertices this close to a private area were moved")
    grid_m: float = Field(description="... to the nearest node of a grid this wide")
    points_flown: int = Field(description="positions in the flown track")
    points_published: int = Field(description="vertices in the published route")
    snapped: int = Field(description="vertices moved to the grid")


class DataCollected(BaseModel):
    """What the flight recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    video: bool
    photos: int = Field(ge=0)
    track: bool


class ConformanceSummary(BaseModel):
    """Whether the flight kept to its approved plan (None: not compared, e.g. no plan)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conforms: bool | None
    deviations: int = Field(ge=0)
    rule_ids: list[str] = Field(default_factory=list)
    summary: str


class DisclosureRecord(BaseModel):
    """One flight's public record (see the module notes). Times are ISO 8601 UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal[1] = Field(SCHEMA, alias="schema")
    flight_id: int
    agency: str
    unit: str
    purpose: str
    asset: AssetRef | None
    source: str = Field(description="builtin or sitl (simulated), upload (a real log)")
    state: str = Field(description="flown or failed")
    date: str = Field(description="UTC date of take-off, YYYY-MM-DD")
    start: str | None
    end: str | None
    duration_s: float | None
    distance_m: float | None
    route: dict[str, Any] | None = Field(description="GeoJSON LineString, generalised")
    route_generalised: bool = Field(description="whether vertices were moved near private areas")
    route_generalisation: RouteGeneralisation | None
    altitude_band: str | None
    altitude_band_m: list[int | None] | None = Field(description="[lower, upper or null]")
    data_collected: DataCollected
    retention_days: int
    deletion_date: str | None = Field(description="footage and track deleted on, YYYY-MM-DD")
    data_deleted_at: str | None = Field(
        None, description="when footage and track were deleted (ISO UTC); null until then"
    )
    verdict: str | None = Field(description="the approving check's verdict; null: not checked")
    authorisations: list[str]
    conformance: ConformanceSummary
    defects: dict[str, int] = Field(description="distinct defects by class, public assets only")
    contact: str
    pilot: str

    def to_json(self) -> dict[str, Any]:
        """The record as JSON values (``schema`` first-level key, nothing left out)."""
        return self.model_dump(mode="json", by_alias=True)


def record_sha256(record: DisclosureRecord | Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the record's canonical JSON (RFC 8785)."""
    from compliance.ledger import canonical_json

    doc = record.to_json() if isinstance(record, DisclosureRecord) else dict(record)
    return hashlib.sha256(canonical_json(doc)).hexdigest()


def deletion_date(
    started_at: datetime | None, ended_at: datetime | None, retention_days: int
) -> date | None:
    """The UTC date a flight's footage and track are deleted: its end (else its start) plus
    ``retention_days``; None for a flight with neither time.

    >>> deletion_date(None, datetime(2026, 12, 7, 23, 30, tzinfo=UTC), 90)
    datetime.date(2027, 3, 7)
    """
    if isinstance(retention_days, bool) or not isinstance(retention_days, int):
        raise ComplianceError(f"retention_days {retention_days!r} must be a whole number of days")
    if retention_days < 0:
        raise ComplianceError(f"retention_days {retention_days} must be 0 or more")
    end = ended_at or started_at
    if end is None:
        return None
    if end.tzinfo is None or end.utcoffset() is None:
        raise ComplianceError(f"time {end.isoformat()} has no UTC offset")
    return (end.astimezone(UTC) + timedelta(days=retention_days)).date()


def altitude_band(max_alt_rel_m: float) -> tuple[int, int | None, str]:
    """The band a flight's highest point falls in: (lower, upper or None, English text)."""
    if not math.isfinite(max_alt_rel_m):
        raise ComplianceError(f"max_alt_rel_m {max_alt_rel_m!r} must be a finite number")
    lower = 0
    for upper in ALTITUDE_BANDS_M:
        if max_alt_rel_m < upper:
            return lower, upper, f"{lower}–{upper} m above take-off"
        lower = upper
    return lower, None, f"above {lower} m above take-off"


def conformance_summary(doc: Mapping[str, Any] | None) -> ConformanceSummary:
    """The public summary of a conformance report (:meth:`compliance.conform.Conformance.to_dict`)."""
    if not doc:
        return ConformanceSummary(conforms=None, deviations=0, summary="not compared with a plan")
    conforms = doc.get("conforms")
    deviations = [d for d in doc.get("deviations") or [] if isinstance(d, Mapping)]
    rule_ids = sorted({str(d.get("rule_id", "")) for d in deviations} - {""})
    if conforms is True:
        line = "kept to the approved plan"
        if deviations:
            line += f" ({len(deviations)} minor deviation{'s' * (len(deviations) != 1)})"
    elif conforms is False:
        line = f"did not keep to the approved plan: {len(deviations)} deviation" + (
            "s" * (len(deviations) != 1)
        )
        if rule_ids:
            line += f" ({', '.join(rule_ids)})"
    else:
        line = "not compared with a plan"
    return ConformanceSummary(
        conforms=conforms if isinstance(conforms, bool) else None,
        deviations=len(deviations),
        rule_ids=rule_ids,
        summary=line,
    )


# --- privacy areas and the route ---------------------------------------------------------------


def privacy_areas(zones: Iterable[Zone]) -> list[BaseGeometry]:
    """The outlines (shapely, lon/lat) of every privacy zone's volumes; circles as polygons."""
    from shapely.geometry import Point, Polygon

    from mission.geodesy import LocalFrame

    areas: list[BaseGeometry] = []
    for zone in zones:
        if not zone.is_privacy:
            continue
        for volume in zone.volumes:
            if volume.center is not None and volume.radius_m is not None:
                frame = LocalFrame(*volume.center)
                areas.append(frame.geom_to_wgs84(Point(0.0, 0.0).buffer(volume.radius_m, 32)))
            elif volume.rings:
                areas.append(Polygon(volume.rings[0], volume.rings[1:]))
    return areas


@dataclass(frozen=True)
class GeneralisedRoute:
    """A route as published: (lon, lat) vertices, and how many were moved to the grid."""

    coordinates: tuple[tuple[float, float], ...]
    snapped: int
    points_flown: int
    grid_origin: tuple[float, float]

    def geojson(self) -> dict[str, Any] | None:
        """A GeoJSON LineString (None for fewer than two vertices)."""
        if len(self.coordinates) < 2:
            return None
        return {"type": "LineString", "coordinates": [list(c) for c in self.coordinates]}


def _positive(value: float, name: str) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ComplianceError(f"{name} {value!r} must be a number > 0")
    return float(value)


def grid_frame_origin(lonlats: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The origin of the snapping grid's frame: the route's centre rounded to 0.1°."""
    lons = [p[0] for p in lonlats]
    lats = [p[1] for p in lonlats]
    step = GRID_ORIGIN_DEG

    def rounded(v: float) -> float:
        return round(round(v / step) * step, 6)

    return rounded((min(lons) + max(lons)) / 2), rounded((min(lats) + max(lats)) / 2)


def generalise_route(
    lonlats: Sequence[tuple[float, float]],
    private_areas: Sequence[BaseGeometry] = (),
    *,
    tolerance_m: float = 5.0,
    near_m: float = 50.0,
    grid_m: float = 100.0,
) -> GeneralisedRoute:
    """Simplify a flown route and move its vertices near private areas to a grid.

    Parameters
    ----------
    lonlats : sequence of (lon, lat)
        The flown positions in time order.
    private_areas : sequence of shapely geometries in lon/lat
        Homes, schools and other privacy zones (:func:`privacy_areas`).
    tolerance_m, near_m, grid_m : float
        Douglas-Peucker tolerance; the distance within which a vertex is moved; the grid.

    Returns
    -------
    GeneralisedRoute
        Vertices rounded to 1e-7°; repeated vertices dropped.
    """
    from shapely.geometry import LineString
    from shapely.ops import unary_union

    from mission.geodesy import LocalFrame, check_lonlat

    tolerance_m = _positive(tolerance_m, "tolerance_m")
    near_m = _positive(near_m, "near_m")
    grid_m = _positive(grid_m, "grid_m")
    points = [(float(lon), float(lat)) for lon, lat in lonlats]
    for i, (lon, lat) in enumerate(points):
        check_lonlat(lon, lat, f"route vertex {i}")
    if not points:
        return GeneralisedRoute((), 0, 0, (0.0, 0.0))
    origin = grid_frame_origin(points)
    frame = LocalFrame(*origin)
    xs, ys = frame.to_local([p[0] for p in points], [p[1] for p in points])
    local = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    if len(local) > 1:
        kept = list(LineString(local).simplify(tolerance_m, preserve_topology=False).coords)
    else:
        kept = local
    areas = [frame.geom_to_local(a) for a in private_areas if not a.is_empty]
    if areas and kept:
        import shapely

        distances = shapely.distance(unary_union(areas), shapely.points(kept))
        near = [bool(d <= near_m) for d in distances]
    else:
        near = [False] * len(kept)
    moved: list[tuple[float, float]] = []
    snapped = 0
    for (x, y), is_near in zip(kept, near, strict=True):
        if is_near:
            x, y = round(x / grid_m) * grid_m, round(y / grid_m) * grid_m
            snapped += 1
        moved.append((x, y))
    lon_out, lat_out = frame.to_wgs84([p[0] for p in moved], [p[1] for p in moved])
    out: list[tuple[float, float]] = []
    for lon, lat in zip(lon_out, lat_out, strict=True):
        vertex = (round(float(lon), COORD_DECIMALS), round(float(lat), COORD_DECIMALS))
        if not out or out[-1] != vertex:
            out.append(vertex)
    return GeneralisedRoute(tuple(out), snapped, len(points), origin)


# --- the record --------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ComplianceError(f"time {value.isoformat()} has no UTC offset")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_disclosure(
    *,
    flight_id: int,
    agency: str,
    unit: str,
    contact: str,
    purpose: str,
    source: str,
    state: str,
    started_at: datetime | None,
    ended_at: datetime | None,
    route_lonlats: Sequence[tuple[float, float]] = (),
    private_areas: Sequence[BaseGeometry] = (),
    max_alt_rel_m: float | None = None,
    distance_m: float | None = None,
    video: bool = False,
    photos: int = 0,
    track: bool = False,
    retention_days: int = 90,
    asset: AssetRef | Mapping[str, Any] | None = None,
    verdict: str | None = None,
    authorisations: Iterable[str] = (),
    conformance: Mapping[str, Any] | None = None,
    defects: Mapping[str, int] | None = None,
    tolerance_m: float = 5.0,
    near_m: float = 50.0,
    grid_m: float = 100.0,
    data_deleted_at: datetime | None = None,
) -> DisclosureRecord:
    """The public record of one flight, from plain values (see the module notes).

    ``defects`` are counted only when ``asset`` is given (a public asset): the caller passes
    None for the asset of a non-public one. ``retention_days`` counts from the flight's end
    (:func:`deletion_date`); ``data_deleted_at`` is when footage and track were deleted.
    """
    if retention_days < 0:
        raise ComplianceError(f"retention_days {retention_days} must be 0 or more")
    start_text, end_text = _iso(started_at), _iso(ended_at)
    when = started_at or ended_at
    if when is None:
        raise ComplianceError(f"flight {flight_id}: a disclosure needs a start or an end time")
    route = None
    how = None
    generalised = False
    if route_lonlats:
        result = generalise_route(
            route_lonlats, private_areas, tolerance_m=tolerance_m, near_m=near_m, grid_m=grid_m
        )
        route = result.geojson()
        generalised = result.snapped > 0
        how = RouteGeneralisation(
            tolerance_m=tolerance_m,
            near_m=near_m,
            grid_m=grid_m,
            points_flown=result.points_flown,
            points_published=len(result.coordinates),
            snapped=result.snapped,
        )
    band: tuple[int, int | None, str] | None = None
    if max_alt_rel_m is not None:
        band = altitude_band(max_alt_rel_m)
    duration = None
    if started_at is not None and ended_at is not None:
        duration = round((ended_at - started_at).total_seconds(), 1)
    deletion = deletion_date(started_at, ended_at, retention_days)
    assert deletion is not None
    asset_ref = (
        None
        if asset is None
        else asset
        if isinstance(asset, AssetRef)
        else AssetRef.model_validate(dict(asset))
    )
    counted = (
        {str(k): int(v) for k, v in sorted((defects or {}).items()) if int(v) > 0}
        if asset_ref is not None
        else {}
    )
    return DisclosureRecord(
        schema=SCHEMA,
        flight_id=flight_id,
        agency=agency,
        unit=unit,
        purpose=purpose,
        asset=asset_ref,
        source=source,
        state=state,
        date=when.astimezone(UTC).date().isoformat(),
        start=start_text,
        end=end_text,
        duration_s=duration,
        distance_m=None if distance_m is None else round(float(distance_m), 1),
        route=route,
        route_generalised=generalised,
        route_generalisation=how,
        altitude_band=None if band is None else band[2],
        altitude_band_m=None if band is None else [band[0], band[1]],
        data_collected=DataCollected(video=video, photos=photos, track=track),
        retention_days=retention_days,
        deletion_date=deletion.isoformat(),
        data_deleted_at=_iso(
            None if data_deleted_at is None else data_deleted_at.replace(microsecond=0)
        ),
        verdict=verdict,
        authorisations=[str(a) for a in authorisations],
        conformance=conformance_summary(conformance),
        defects=counted,
        contact=contact,
        pilot=f"remote pilot, {unit}",
    )
