"""How a defect list compares with the truth: recall, precision and placement error.

Reported defects are matched one to one to true ones of the same class within a radius,
nearest pairs first (a greedy assignment: with defects metres apart and errors under a
metre, it is the optimal one). Used wherever the truth is known: rendered footage of the
synthetic world (``skyledger sim render --truth``), the benchmark and the demo.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mission.geodesy import LocalFrame

__all__ = ["MATCH_RADIUS_M", "Score", "TrueDefect", "points_from_geojson", "score"]

#: A reported defect farther than this from a true one of its class does not find it.
MATCH_RADIUS_M = 2.0


@dataclass(frozen=True)
class TrueDefect:
    """A defect known to be there: its id, class and position (WGS84)."""

    id: str
    cls: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Score:
    """The matches (true id -> placement error in metres, and -> index of the reported
    defect that found it) and the counts around them."""

    matched: dict[str, float]
    truth: int
    reported: int
    found_by: dict[str, int]

    @property
    def recall(self) -> float:
        """Share of the true defects found (NaN with no truth)."""
        return len(self.matched) / self.truth if self.truth else math.nan

    @property
    def precision(self) -> float:
        """Share of the reported defects that are true ones (NaN with none reported)."""
        return len(self.matched) / self.reported if self.reported else math.nan

    @property
    def median_error_m(self) -> float:
        """Median distance of the matched defects from the truth (NaN with no match)."""
        return statistics.median(self.matched.values()) if self.matched else math.nan


def score(
    reported: Iterable[Any],
    truth: Sequence[TrueDefect],
    frame: LocalFrame,
    radius_m: float = MATCH_RADIUS_M,
) -> Score:
    """Match ``reported`` (anything with ``cls``, ``lon`` and ``lat``) to ``truth``."""
    found = list(reported)
    places = [frame.point_to_local(t.lon, t.lat) for t in truth]
    pairs = []
    for k, d in enumerate(found):
        x, y = frame.point_to_local(d.lon, d.lat)
        for t, (tx, ty) in zip(truth, places, strict=True):
            gap = math.hypot(x - tx, y - ty)
            if d.cls == t.cls and gap <= radius_m:
                pairs.append((gap, t.id, k))
    matched: dict[str, float] = {}
    found_by: dict[str, int] = {}
    for gap, ident, k in sorted(pairs):
        if ident not in matched and k not in found_by.values():
            matched[ident], found_by[ident] = gap, k
    return Score(matched, len(truth), len(found), found_by)


def points_from_geojson(doc: Any) -> list[TrueDefect]:
    """The defects of a GeoJSON of Points with ``class`` and ``id`` properties: a truth file
    (``skyledger sim render --truth``) or a defect list (``skyledger detect -o``)."""
    out = []
    for n, f in enumerate(doc.get("features", []) if isinstance(doc, dict) else []):
        props = f.get("properties") or {}
        lon, lat = f["geometry"]["coordinates"][:2]
        out.append(TrueDefect(str(props.get("id", n)), str(props["class"]), float(lon), float(lat)))
    return out
