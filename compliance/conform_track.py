"""The flown track as arrays for :mod:`compliance.conform`: airborne stretches, runs and coverage.

A :class:`Flown` keeps only the airborne samples (at least :data:`AIRBORNE_M` above home),
in the plan's local frame, numbered into *stretches* that break wherever the vehicle was on
the ground between two airborne samples, so that no run, polyline piece or airborne
interval spans a landing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from compliance.errors import ComplianceError
from compliance.geometry import VERTICAL_M, collection
from compliance.legs import Route
from mission.analysis import Analysis
from mission.geodesy import LocalFrame
from mission.track import Track

#: Samples at least this high above home are airborne.
AIRBORNE_M = 0.5
#: Planned camera passes are sampled this often for the coverage figure.
COVERAGE_STEP_M = 1.0


@dataclass(frozen=True)
class Flown:
    """The airborne samples as arrays in the plan's local frame."""

    times: tuple[datetime, ...]
    t_s: np.ndarray  # seconds since the first airborne sample
    xy: np.ndarray  # (n, 2) local metres
    alt_rel_m: np.ndarray
    lonlat: np.ndarray  # (n, 2) as logged
    stretch: np.ndarray  # (n,) stretch number: changes where the vehicle was on the ground

    @classmethod
    def of(cls, track: Track, frame: LocalFrame) -> Flown:
        alts = np.asarray([s.alt_rel_m for s in track.samples], float)
        where = np.flatnonzero(alts >= AIRBORNE_M)
        if not len(where):
            name = f"track {track.source}" if track.source else "the track"
            raise ComplianceError(
                f"{name} has no airborne samples (none at or above {AIRBORNE_M:g} m above home)"
            )
        samples = [track.samples[i] for i in where]
        lonlat = np.asarray([(s.lon_deg, s.lat_deg) for s in samples], float)
        x, y = frame.to_local(lonlat[:, 0], lonlat[:, 1])
        t0 = samples[0].time
        return cls(
            times=tuple(s.time for s in samples),
            t_s=np.asarray([(s.time - t0).total_seconds() for s in samples], float),
            xy=np.column_stack([x, y]).reshape(-1, 2),
            alt_rel_m=alts[where],
            lonlat=lonlat,
            stretch=np.concatenate([[0], np.cumsum(np.diff(where) > 1)]),
        )

    def runs(self, mask: np.ndarray) -> list[tuple[int, int]]:
        """(first, last) sample of each run of consecutive ``mask`` samples in one stretch."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return []
        cut = np.flatnonzero((np.diff(idx) != 1) | (np.diff(self.stretch[idx]) != 0))
        starts = np.concatenate([[idx[0]], idx[cut + 1]])
        ends = np.concatenate([idx[cut], [idx[-1]]])
        return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]

    def geometry(self, runs: Sequence[tuple[int, int]]) -> dict[str, Any] | None:
        """GeoJSON of some runs: a line for each, a point where it stayed in one place."""
        lines: list[list[list[float]]] = []
        points: list[list[float]] = []
        for first, last in runs:
            coords = [[round(float(v), 7) for v in p] for p in self.lonlat[first : last + 1]]
            kept = [c for n, c in enumerate(coords) if n == 0 or c != coords[n - 1]]
            if len(kept) > 1:
                lines.append(kept)
            elif kept[0] not in points:
                points.append(kept[0])
        if len(lines) == 1 and not points:
            return {"type": "LineString", "coordinates": lines[0]}
        if len(points) == 1 and not lines:
            return {"type": "Point", "coordinates": points[0]}
        return collection(lines, points)

    def span(self, first: int, last: int) -> dict[str, Any]:
        """Deviation fields for one run: start, end, duration and where."""
        return {
            "start": self.times[first],
            "end": self.times[last],
            "duration_s": float(self.t_s[last] - self.t_s[first]),
            "geometry": self.geometry([(first, last)]),
        }


def clock(when: datetime) -> str:
    """``10:03:05.5Z``: a time of day for messages (the full time is in the deviation's fields)."""
    return f"{when:%H:%M:%S}.{when.microsecond // 100_000}Z"


def track_tree(flown: Flown) -> Any:
    """An STRtree of the flown polyline's pieces (points where a stretch has one sample)."""
    import shapely

    pair = np.flatnonzero(np.diff(flown.stretch) == 0)
    lines = shapely.linestrings(np.stack([flown.xy[pair], flown.xy[pair + 1]], axis=1))
    alone = np.setdiff1d(np.arange(len(flown.xy)), np.concatenate([pair, pair + 1]))
    return shapely.STRtree(np.concatenate([lines, shapely.points(flown.xy[alone])]))


def coverage(
    analysis: Analysis, route: Route, flown: Flown, track: Track, within_m: float
) -> tuple[float | None, str, np.ndarray]:
    """The share of the plan's camera work flown within ``within_m``, what it measured, and
    the planned points (local, (k, 2)) it missed; share None when the plan takes no photos.

    The camera-on legs (kind ``waypoint``, ``trigger_m`` > 0) are cut into pieces of at most
    :data:`COVERAGE_STEP_M` and their mid-points tested against the flown polyline. A plan
    with only hover photos has its photo positions tested against the flown photos (the
    track, when it has none).
    """
    import shapely

    on = [k for k, leg in enumerate(analysis.legs) if leg.kind == "waypoint" and leg.trigger_m > 0]
    a, b = route.a[on, :2], route.b[on, :2]
    lengths = np.hypot(*(b - a).T) if on else np.zeros(0)
    keep = lengths > VERTICAL_M
    if keep.any():
        a, b = a[keep], b[keep]
        counts = np.ceil(lengths[keep] / COVERAGE_STEP_M).astype(int)
        leg = np.repeat(np.arange(len(counts)), counts)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        f = (np.arange(int(counts.sum())) - starts[leg] + 0.5) / counts[leg]
        planned = a[leg] + f[:, None] * (b[leg] - a[leg])
        what, tree = "of the planned camera passes", track_tree(flown)
    elif len(route.photos):
        planned = route.photos[:, :2]
        what = "of the planned photo positions"
        if track.photos:
            lon = [p.lon_deg for p in track.photos]
            lat = [p.lat_deg for p in track.photos]
            tree = shapely.STRtree(shapely.points(np.column_stack(route.frame.to_local(lon, lat))))
            what += " with a photo"
        else:
            tree = track_tree(flown)
    else:
        return None, "", np.zeros((0, 2))
    rows, _ = tree.query(shapely.points(planned), predicate="dwithin", distance=within_m)
    missed = np.ones(len(planned), bool)
    missed[rows] = False
    return 1.0 - missed.sum() / len(planned), what, planned[missed]
