"""One defect, one record: merging the sightings of the same defect across frames.

A :class:`Sighting` is one detection placed on the ground (local metres, with the 1-sigma
horizontal error ``error_m`` of :mod:`vision.placement`: the "distance RMS", the square root
of the east and north variances added). :func:`merge` groups the sightings that are the same
defect and returns one :class:`Defect` per group.

Which sightings are one defect
------------------------------
Two positions ``p`` and ``q`` with errors ``e_p`` and ``e_q`` are taken as the same point
when ``|p - q|`` is within the gate ``k · sqrt((e_p² + e_q²) / 2)``, ``k² = 9.21`` (the
chi-square bound of two degrees of freedom at 99 %: each axis has variance ``e² / 2``).
The gate is then kept within ``[gate_floor_m, gate_cap_m]``: the floor because a box's bottom
centre moves on the defect between views (the defect has a size), the cap so that two badly
placed sightings far apart are never taken as one. ``gate_m`` replaces all this with one
fixed distance.

Grouping is greedy, best-placed first: per class, sightings sorted by error (then score)
join the nearest group whose fused position is within the gate, or start a new one; then
groups within the gate of each other merge, closest pair first, until none do. A group never
takes two sightings of the same frame: two boxes in one frame are two defects. Classes are
never mixed.

The fused position is the inverse-variance mean; its error ``1 / sqrt(Σ 1/e_i²)`` assumes
independent errors and is inflated by the Birge ratio ``sqrt(χ² / (2(n - 1)))`` when the
sightings scatter more than their errors say. Errors shared by every sighting of a defect
(a wrong altitude reference, a constant heading bias) do not average out and are not
detected by this; they belong in the per-sighting errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from mission.geodesy import LocalFrame
from vision.detector import Box
from vision.errors import VisionError

__all__ = ["GATE_CAP_M", "GATE_FLOOR_M", "Defect", "Sighting", "gate_distance", "merge"]

#: Chi-square bound, 2 degrees of freedom, 99 %.
_CHI2_2DOF_99 = 9.21
GATE_FLOOR_M = 0.75
GATE_CAP_M = 10.0
#: Errors below this are raised to it, so one sighting cannot take all the weight.
MIN_ERROR_M = 0.01


@dataclass(frozen=True)
class Sighting:
    """One detection of a defect in one frame, placed on the ground (local frame, metres)."""

    cls: str
    confidence: float
    x_m: float
    y_m: float
    error_m: float
    time_s: float
    frame_index: int
    box: Box | None = None
    crop: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Defect:
    """A distinct defect: fused position, error, how often it was seen, its best picture.

    ``confidence`` is the best score of its sightings; ``time_s``, ``frame_index``, ``box``
    and ``crop`` are those of the best sighting (the highest score among the sightings that
    have a crop, else overall).
    """

    cls: str
    confidence: float
    lon: float
    lat: float
    x_m: float
    y_m: float
    error_m: float
    sightings: int
    time_s: float
    frame_index: int
    crop: np.ndarray | None = field(default=None, compare=False, repr=False)
    box: Box | None = None


def gate_distance(
    error_a_m: float,
    error_b_m: float,
    *,
    floor_m: float = GATE_FLOOR_M,
    cap_m: float = GATE_CAP_M,
) -> float:
    """Largest ground distance (m) at which two positions with these errors are one point."""
    gate = math.sqrt(_CHI2_2DOF_99 * (error_a_m**2 + error_b_m**2) / 2.0)
    return min(max(gate, floor_m), cap_m)


class _Group:
    __slots__ = ("_error", "frames", "members", "sw", "swx", "swy")

    def __init__(self) -> None:
        self.members: list[Sighting] = []
        self.frames: set[int] = set()
        self.sw = self.swx = self.swy = 0.0
        self._error: float | None = None

    def add(self, s: Sighting) -> None:
        w = 1.0 / max(s.error_m, MIN_ERROR_M) ** 2
        self.members.append(s)
        self.frames.add(s.frame_index)
        self.sw += w
        self.swx += w * s.x_m
        self.swy += w * s.y_m
        self._error = None

    def absorb(self, other: _Group) -> None:
        self.members.extend(other.members)
        self.frames |= other.frames
        self.sw += other.sw
        self.swx += other.swx
        self.swy += other.swy
        self._error = None

    @property
    def x(self) -> float:
        return self.swx / self.sw

    @property
    def y(self) -> float:
        return self.swy / self.sw

    @property
    def error(self) -> float:
        """The fused error, inflated when the members scatter more than their errors say."""
        if self._error is None:
            self._error = self._fused_error()
        return self._error

    def _fused_error(self) -> float:
        formal = 1.0 / math.sqrt(self.sw)
        n = len(self.members)
        if n < 2:
            return formal
        x, y = self.x, self.y
        chi2 = sum(
            2.0 * ((s.x_m - x) ** 2 + (s.y_m - y) ** 2) / max(s.error_m, MIN_ERROR_M) ** 2
            for s in self.members
        )
        return formal * math.sqrt(max(1.0, chi2 / (2.0 * (n - 1))))


def merge(
    sightings: Iterable[Sighting],
    frame: LocalFrame,
    gate_m: float | None = None,
    *,
    gate_floor_m: float = GATE_FLOOR_M,
    gate_cap_m: float = GATE_CAP_M,
    shared_error_m: float = 0.0,
) -> list[Defect]:
    """Distinct defects from sightings (see the module for the rule), ordered by time.

    ``shared_error_m`` is the part of every sighting's error that all of them share (the
    aircraft's position error over one flight): averaging many sightings does not reduce it,
    so a defect's error never falls below it.
    """
    items = list(sightings)
    for i, s in enumerate(items):
        _check(i, s)
    if not (math.isfinite(shared_error_m) and shared_error_m >= 0):
        raise VisionError(f"shared error {shared_error_m!r} m is not usable; give a distance >= 0")
    if gate_m is not None and not (math.isfinite(gate_m) and gate_m > 0):
        raise VisionError(f"gate {gate_m!r} m is not usable; give a distance > 0 or None")
    if not (0 < gate_floor_m <= gate_cap_m):
        raise VisionError(
            f"gate floor {gate_floor_m!r} m and cap {gate_cap_m!r} m are not usable; "
            "give 0 < floor ≤ cap"
        )

    def gate(ea: float, eb: float) -> float:
        if gate_m is not None:
            return gate_m
        return gate_distance(ea, eb, floor_m=gate_floor_m, cap_m=gate_cap_m)

    widest = gate_m if gate_m is not None else gate_cap_m

    groups: list[_Group] = []
    by_class: dict[str, list[Sighting]] = {}
    for s in items:
        by_class.setdefault(s.cls, []).append(s)
    for cls in sorted(by_class):
        groups.extend(_group_class(by_class[cls], gate, widest))
    return sorted(
        (_defect(g, frame, shared_error_m) for g in groups),
        key=lambda d: (d.time_s, d.cls, d.x_m, d.y_m),
    )


def _check(i: int, s: Sighting) -> None:
    where = f"sighting {i} ({s.cls!r}, frame {s.frame_index})"
    if not all(math.isfinite(v) for v in (s.x_m, s.y_m, s.error_m, s.time_s)):
        raise VisionError(f"{where} has a non-finite position, error or time; give finite numbers")
    if s.error_m < 0:
        raise VisionError(f"{where} has error {s.error_m} m; give an error ≥ 0")
    if not 0.0 <= s.confidence <= 1.0:
        raise VisionError(f"{where} has confidence {s.confidence}; give a score in [0, 1]")


def _group_class(
    items: list[Sighting], gate_fn: Callable[[float, float], float], widest: float
) -> list[_Group]:
    groups: list[_Group] = []
    for s in sorted(items, key=lambda s: (s.error_m, -s.confidence, s.frame_index)):
        best: _Group | None = None
        best_score = math.inf
        for g in groups:
            if abs(s.x_m - g.x) > widest or abs(s.y_m - g.y) > widest:
                continue
            if s.frame_index in g.frames:
                continue
            ge = g.error
            d = math.hypot(s.x_m - g.x, s.y_m - g.y)
            if d <= gate_fn(s.error_m, ge):
                score = d * d / (s.error_m**2 + ge**2 + 1e-12)
                if score < best_score:
                    best, best_score = g, score
        if best is None:
            best = _Group()
            groups.append(best)
        best.add(s)
    # Groups that ended up within the gate of each other (their first members were too far
    # apart, the later ones filled the gap) merge, closest pair first.
    while True:
        pair: tuple[int, int] | None = None
        pair_score = math.inf
        for i, a in enumerate(groups):
            for j in range(i + 1, len(groups)):
                b = groups[j]
                if abs(a.x - b.x) > widest or abs(a.y - b.y) > widest or a.frames & b.frames:
                    continue
                ea, eb = a.error, b.error
                d = math.hypot(a.x - b.x, a.y - b.y)
                if d <= gate_fn(ea, eb):
                    score = d * d / (ea**2 + eb**2 + 1e-12)
                    if score < pair_score:
                        pair, pair_score = (i, j), score
        if pair is None:
            return groups
        groups[pair[0]].absorb(groups.pop(pair[1]))


def _error(group: _Group, shared_m: float) -> float:
    """The fused error with ``shared_m`` of every sighting's error counted once, not averaged
    away: sqrt(shared² + the fused error of what is left of each)."""
    if shared_m <= 0.0:
        return group.error
    birge = group.error * math.sqrt(group.sw)  # the scatter's inflation, >= 1
    own = sum(
        1.0 / max(max(s.error_m, MIN_ERROR_M) ** 2 - shared_m**2, MIN_ERROR_M**2)
        for s in group.members
    )
    return math.sqrt(shared_m**2 + birge**2 / own)


def _defect(group: _Group, frame: LocalFrame, shared_m: float = 0.0) -> Defect:
    best = max(group.members, key=lambda s: (s.crop is not None, s.confidence, -s.time_s))
    x, y = group.x, group.y
    lon, lat = frame.point_to_wgs84(x, y)
    return Defect(
        cls=best.cls,
        confidence=max(float(s.confidence) for s in group.members),
        lon=lon,
        lat=lat,
        x_m=x,
        y_m=y,
        error_m=_error(group, shared_m),
        sightings=len(group.members),
        time_s=best.time_s,
        frame_index=best.frame_index,
        crop=best.crop,
        box=best.box,
    )
