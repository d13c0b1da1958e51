"""Conformance of a flown track to its plan, its zones and its rule set.

Semantics
---------
- Only airborne samples count: those at least 0.5 m above home (:meth:`Track.airborne`).
  Airborne samples split into *stretches* where the vehicle was on the ground between
  them (a landing between sorties); no run, incursion or polyline spans two stretches.
- Geometry is worked in the plan's home-centred local frame; altitudes are the samples'
  ``alt_rel_m`` taken as metres above the *plan's* home, AMSL = plan home AMSL +
  ``alt_rel_m`` (flat ground, as the planner assumes). When the track's own home lies more
  than :data:`HOME_OFFSET_M` from the plan's, an advisory ``conform.home`` deviation says
  so (it does not fail conformance: the figures are still measured against the plan).
- Cross-track: the horizontal distance from each sample to the nearest planned leg (all legs
  of all sorties; a vertical leg is a point). ``conform.cross_track`` for each run of
  consecutive samples farther than ``rules.cross_track_max_m``.
- Altitude: flown minus planned altitude at the nearest point of the nearest leg (a vertical
  leg offers any altitude it spans). Legs within :data:`TIE_M` of the nearest distance are
  tied, and the one that best explains the flown altitude is used, so a climb over home is
  not compared with the return leg that ends there. ``conform.altitude`` for each run above
  (or below) by more than ``rules.altitude_tolerance_m``; ``conform.ceiling`` for each run
  strictly above ``rules.ceiling_agl_m`` (AGL = above home).
- Zones: a sample is in a zone when it is horizontally on or inside one of its volumes, its
  AMSL altitude strictly inside the band (touching a limit is not entering) and the zone is
  active at the sample's time. Consecutive samples in the same zone are one incursion
  (start, end and duration from the sample times). Every incursion is a ``conform.zone``
  deviation; it is *blocking* (fails conformance) for PROHIBITED zones, REQ_AUTHORISATION
  zones not in ``authorisations`` and no-overflight privacy zones, informational otherwise.
- Photos (the track's camera events, airborne or not) on or inside an active no-capture
  privacy zone, or within a buffer zone's distance, with the photo's altitude in the band:
  one blocking ``conform.privacy_photo`` per zone, photo points as a MultiPoint.
- Window: airborne time (between consecutive airborne samples of a stretch) before the
  window's start or after its end: one blocking ``conform.window`` per side.
- Coverage: the planned camera-on legs (kind ``waypoint``, ``trigger_m`` > 0) sampled every
  metre (mid-points of 1 m pieces); the share within ``rules.cross_track_max_m`` horizontally
  of the flown airborne polyline. With no camera-on legs but planned hover photos, the
  share of planned photos with a flown photo within that distance (or the track, when it has
  no camera events). Below ``rules.min_coverage_flown``: blocking ``conform.coverage``, its
  geometry the missed planned points (thinned to about :data:`MAX_POINTS`).
- Runs are exact: a run is consecutive samples beyond the limit, its duration last sample
  time minus first (0 for a single sample); its geometry the samples as a LineString (a
  Point when it stayed put). There is no hysteresis: a noisy track near a limit gives many
  short runs. ``conforms`` is False when any deviation is blocking; deviations are sorted
  by start time (those without one last).

The track arrays and coverage live in :mod:`compliance.conform_track`, zone incursions and
privacy photos in :mod:`compliance.conform_zones`; rule ids are in :data:`CONFORM_RULES`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from compliance.conform_track import AIRBORNE_M, Flown, clock, coverage
from compliance.errors import ComplianceError
from compliance.geometry import VERTICAL_M, collection
from compliance.index import ZoneIndex
from compliance.legs import Route, Window, check_window
from compliance.rules import RuleSet
from compliance.zones import Zone
from mission.analysis import Analysis
from mission.plan import Plan
from mission.track import Track

if TYPE_CHECKING:
    from mission.geodesy import LocalFrame

__all__ = ["AIRBORNE_M", "CONFORM_RULES", "Conformance", "Deviation", "conform"]

SCHEMA = "skyledger.conformance"
VERSION = 1
#: A track home farther than this from the plan's home gives a ``conform.home`` advisory.
HOME_OFFSET_M = 5.0
#: Legs within this of the nearest leg's distance are tied for the altitude comparison.
TIE_M = 1.0
#: A coverage deviation's geometry shows at most about this many missed points.
MAX_POINTS = 1000

#: rule id → what it means (merged into the docs' rule table).
CONFORM_RULES: dict[str, str] = {
    "conform.cross_track": "the track strays farther sideways from every planned leg than the rule set's cross_track_max_m",
    "conform.altitude": "the flown altitude differs from the planned altitude at the nearest planned point by more than altitude_tolerance_m",
    "conform.ceiling": "the track climbs above the rule set's height ceiling (AGL, flat ground at home)",
    "conform.zone": "the track enters an active zone volume; blocking for PROHIBITED zones, REQ_AUTHORISATION zones without an authorisation and no-overflight privacy zones, information otherwise",
    "conform.privacy_photo": "a photo was taken inside an active no-capture privacy zone or within a buffer zone's distance",
    "conform.window": "the vehicle was airborne before the approved window opened or after it closed",
    "conform.coverage": "the share of planned camera passes flown within cross_track_max_m is below min_coverage_flown",
    "conform.home": "advisory: the track's home is more than 5 m from the plan's home; figures are measured against the plan's home",
}


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _number(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass(frozen=True)
class Deviation:
    """One thing the flight did that departs from its plan or the rules.

    ``blocking`` False marks information that does not fail conformance (a CONDITIONAL or
    authorised zone entered, the track's home away from the plan's).
    """

    rule_id: str
    message: str
    zone_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    duration_s: float | None = None
    value: float | None = None
    geometry: dict[str, Any] | None = None  # GeoJSON, WGS84
    blocking: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "blocking": self.blocking,
            "message": self.message,
            "zone_id": self.zone_id,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "duration_s": _number(self.duration_s),
            "value": _number(self.value),
            "geometry": self.geometry,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deviation:
        """The deviation :meth:`to_dict` wrote."""
        times = {
            k: None if data.get(k) is None else datetime.fromisoformat(data[k])
            for k in ("start", "end")
        }
        return cls(
            data["rule_id"],
            data["message"],
            data.get("zone_id"),
            duration_s=data.get("duration_s"),
            value=data.get("value"),
            geometry=data.get("geometry"),
            blocking=bool(data.get("blocking", True)),
            **times,
        )


_FIGURES = (
    "cross_track_max_m",
    "cross_track_p95_m",
    "altitude_above_max_m",
    "altitude_below_max_m",
    "ceiling_excess_max_m",
    "outside_window_s",
    "coverage_flown",
    "airborne_s",
)


@dataclass(frozen=True)
class Conformance:
    """How a flown track compares with its plan; figures in metres, seconds and shares 0..1.

    ``altitude_above_max_m`` and ``altitude_below_max_m`` are magnitudes (≥ 0) of flown
    minus planned altitude; ``coverage_flown`` is None when the plan takes no photos.
    """

    conforms: bool
    cross_track_max_m: float
    cross_track_p95_m: float
    altitude_above_max_m: float
    altitude_below_max_m: float
    ceiling_excess_max_m: float
    outside_window_s: float
    coverage_flown: float | None
    photos: int
    photos_in_no_capture: int
    airborne_s: float
    deviations: tuple[Deviation, ...]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": SCHEMA, "version": VERSION, "conforms": self.conforms}
        for name in _FIGURES:
            out[name] = _number(getattr(self, name), 5 if name == "coverage_flown" else 3)
        out["photos"] = self.photos
        out["photos_in_no_capture"] = self.photos_in_no_capture
        out["deviations"] = [d.to_dict() for d in self.deviations]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conformance:
        """The conformance :meth:`to_dict` wrote (its figures as rounded there)."""
        if data.get("schema") != SCHEMA or data.get("version") != VERSION:
            raise ComplianceError(
                f"conformance document {data.get('schema')!r} version {data.get('version')!r} "
                f"is not {SCHEMA!r} version {VERSION}"
            )
        names = {f.name for f in fields(cls)} - {"deviations"}
        values = {k: data[k] for k in names}
        return cls(**values, deviations=tuple(Deviation.from_dict(d) for d in data["deviations"]))


def conform(
    plan: Plan,
    track: Track,
    zones: ZoneIndex | Sequence[Zone],
    rules: RuleSet,
    window: Window | None = None,
    authorisations: Collection[str] = (),
    *,
    analysis: Analysis | None = None,
) -> Conformance:
    """Compare a flown ``track`` with ``plan``, ``zones`` and ``rules`` (see the module notes).

    Parameters
    ----------
    plan, track : Plan, Track
        The plan as approved and the track as flown.
    zones : ZoneIndex or sequence of Zone
        Pass a :class:`ZoneIndex` to reuse one across checks.
    rules : RuleSet
        Tolerances (cross-track, altitude, coverage) and the ceiling.
    window : (datetime, datetime), optional
        The approved flight window (aware); None: no window check.
    authorisations : collection of str
        Identifiers of REQ_AUTHORISATION zones an authority authorised.
    analysis : Analysis, optional
        ``analyse(plan)``, when already computed.

    Raises
    ------
    ComplianceError
        A track with no airborne samples, a plan with no legs, a naive or empty window.
    """
    from compliance.conform_zones import photo_deviations, zone_deviations
    from mission.analysis import analyse

    window = check_window(window) if window is not None else None
    index = zones if isinstance(zones, ZoneIndex) else ZoneIndex(zones)
    analysis = analysis if analysis is not None else analyse(plan)
    route = Route.of(plan, analysis)
    if not len(route.a):
        raise ComplianceError(
            f"plan {plan.name or '(unnamed)'} has no legs to compare a track with"
        )
    flown = Flown.of(track, route.frame)
    deviations: list[Deviation] = _home(track, route.frame)
    cross, error = _nearest(route, flown)
    deviations += _cross_track(flown, cross, rules)
    deviations += _altitude(flown, error, rules)
    ceiling_excess = _ceiling(flown, rules, deviations)
    deviations += zone_deviations(flown, route, index, frozenset(authorisations))
    in_no_capture, photo_found = photo_deviations(track, route, index)
    deviations += photo_found
    airborne_s, outside_s = _window(flown, window, deviations)
    coverage_flown, found = _coverage(analysis, route, flown, track, rules)
    deviations += found
    deviations.sort(key=lambda d: (d.start is None, d.start or flown.times[0], d.rule_id))
    return Conformance(
        conforms=not any(d.blocking for d in deviations),
        cross_track_max_m=float(cross.max()),
        cross_track_p95_m=float(np.percentile(cross, 95)),
        altitude_above_max_m=float(max(error.max(), 0.0)),
        altitude_below_max_m=float(max(-error.min(), 0.0)),
        ceiling_excess_max_m=ceiling_excess,
        outside_window_s=outside_s,
        coverage_flown=coverage_flown,
        photos=len(track.photos),
        photos_in_no_capture=in_no_capture,
        airborne_s=airborne_s,
        deviations=tuple(deviations),
    )


def _home(track: Track, frame: LocalFrame) -> list[Deviation]:
    if track.home is None:
        return []
    x, y = frame.point_to_local(track.home[0], track.home[1])
    offset = math.hypot(x, y)
    if offset <= HOME_OFFSET_M:
        return []
    return [
        Deviation(
            "conform.home",
            f"the track's home is {offset:.1f} m from the plan's home; altitudes are taken as "
            "above the plan's home",
            value=offset,
            geometry={"type": "Point", "coordinates": [round(v, 7) for v in track.home[:2]]},
            blocking=False,
        )
    ]


def _nearest(route: Route, flown: Flown) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: horizontal distance to the nearest leg, and flown minus planned altitude."""
    import shapely

    a, b = route.a, route.b
    d = b[:, :2] - a[:, :2]
    length2 = np.einsum("ij,ij->i", d, d)
    vertical = length2 <= VERTICAL_M**2
    geoms = np.where(
        vertical,
        shapely.points(a[:, :2]),
        shapely.linestrings(np.stack([a[:, :2], b[:, :2]], axis=1)),
    )
    tree = shapely.STRtree(geoms)
    points = shapely.points(flown.xy)
    (rows, legs), nearest = tree.query_nearest(points, return_distance=True, all_matches=False)
    cross = np.empty(len(points))
    cross[rows] = nearest
    near_rows, near_legs = tree.query(points, predicate="dwithin", distance=cross + TIE_M)
    s = np.concatenate([rows, near_rows])
    leg = np.concatenate([legs, near_legs])
    p = flown.xy[s]
    safe = np.where(vertical[leg], 1.0, length2[leg])
    t = np.clip(np.einsum("ij,ij->i", p - a[leg, :2], d[leg]) / safe, 0.0, 1.0)
    t = np.where(vertical[leg], 0.0, t)
    gap = np.hypot(*(a[leg, :2] + t[:, None] * d[leg] - p).T)
    za, zb = a[leg, 2], b[leg, 2]
    planned = np.where(
        vertical[leg],
        np.clip(flown.alt_rel_m[s], np.minimum(za, zb), np.maximum(za, zb)),
        za + t * (zb - za),
    )
    error = flown.alt_rel_m[s] - planned
    tied = gap <= cross[s] + TIE_M + 1e-9
    order = np.lexsort((np.abs(error), ~tied, s))
    _, first = np.unique(s[order], return_index=True)
    return cross, error[order][first]


def _cross_track(flown: Flown, cross: np.ndarray, rules: RuleSet) -> list[Deviation]:
    limit = rules.cross_track_max_m
    out = []
    for first, last in flown.runs(cross > limit):
        worst = float(cross[first : last + 1].max())
        span = flown.span(first, last)
        out.append(
            Deviation(
                "conform.cross_track",
                f"{worst:.1f} m off the planned route (limit {limit:g} m) for "
                f"{span['duration_s']:.1f} s from {clock(span['start'])}",
                value=worst,
                **span,
            )
        )
    return out


def _altitude(flown: Flown, error: np.ndarray, rules: RuleSet) -> list[Deviation]:
    limit = rules.altitude_tolerance_m
    out = []
    for sign, word in ((1.0, "above"), (-1.0, "below")):
        for first, last in flown.runs(sign * error > limit):
            worst = float(sign * (sign * error[first : last + 1]).max())
            span = flown.span(first, last)
            out.append(
                Deviation(
                    "conform.altitude",
                    f"{abs(worst):.1f} m {word} the planned altitude (tolerance {limit:g} m) for "
                    f"{span['duration_s']:.1f} s from {clock(span['start'])}",
                    value=worst,
                    **span,
                )
            )
    return out


def _ceiling(flown: Flown, rules: RuleSet, out: list[Deviation]) -> float:
    ceiling = rules.ceiling_agl_m
    if ceiling is None:
        return 0.0
    excess = flown.alt_rel_m - ceiling
    for first, last in flown.runs(excess > 0):
        worst = float(excess[first : last + 1].max())
        span = flown.span(first, last)
        out.append(
            Deviation(
                "conform.ceiling",
                f"{worst:.1f} m above the {ceiling:g} m ceiling of {rules.name} for "
                f"{span['duration_s']:.1f} s from {clock(span['start'])}",
                value=worst,
                **span,
            )
        )
    return float(max(excess.max(), 0.0))


def _window(flown: Flown, window: Window | None, out: list[Deviation]) -> tuple[float, float]:
    """Airborne seconds, and those outside ``window``; a deviation for each side."""
    t = flown.t_s
    pair = np.flatnonzero(np.diff(flown.stretch) == 0)  # interval pair..pair+1 airborne
    t0, t1 = t[pair], t[pair + 1]
    airborne = float((t1 - t0).sum())
    if window is None:
        return airborne, 0.0
    opens = (window[0] - flown.times[0]).total_seconds()
    closes = (window[1] - flown.times[0]).total_seconds()
    before = float(np.clip(np.minimum(t1, opens) - t0, 0.0, None).sum())
    after = float(np.clip(t1 - np.maximum(t0, closes), 0.0, None).sum())
    for seconds, mask, what in (
        (before, t < opens, f"before the window opened at {window[0].isoformat()}"),
        (after, t > closes, f"after the window closed at {window[1].isoformat()}"),
    ):
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        out.append(
            Deviation(
                "conform.window",
                f"airborne for {seconds:.1f} s {what}",
                start=flown.times[idx[0]],
                end=flown.times[idx[-1]],
                duration_s=seconds,
                value=seconds,
                geometry=flown.geometry(flown.runs(mask)),
            )
        )
    return airborne, before + after


def _coverage(
    analysis: Analysis, route: Route, flown: Flown, track: Track, rules: RuleSet
) -> tuple[float | None, list[Deviation]]:
    limit = rules.cross_track_max_m
    share, what, missed = coverage(analysis, route, flown, track, limit)
    if share is None or share >= rules.min_coverage_flown:
        return share, []
    lon, lat = route.frame.to_wgs84(missed[:, 0], missed[:, 1])
    points = [[round(float(x), 7), round(float(y), 7)] for x, y in zip(lon, lat, strict=True)]
    message = (
        f"flew {share:.1%} {what} within {limit:g} m; {rules.name} needs "
        f"{rules.min_coverage_flown:.0%}"
    )
    where = collection([], points[:: max(1, len(points) // MAX_POINTS)])
    return share, [Deviation("conform.coverage", message, value=share, geometry=where)]
