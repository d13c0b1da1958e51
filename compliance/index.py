"""A spatial index over zone volumes, built once and queried by every check.

The index holds each volume's WGS84 bounding box (a circle's box padded for the Earth's
shape, a privacy buffer added) in a shapely STRtree. A query returns candidate
(query geometry, volume) pairs; the exact tests happen in the checker's local frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from compliance.zones import Volume, Zone

#: Metres per degree of latitude, taken low so padded boxes are never too small.
_M_PER_DEG = 110_000.0


def pad_degrees(metres: float, lat_deg: float) -> tuple[float, float]:
    """(dlon, dlat) that cover at least ``metres`` around latitude ``lat_deg``."""
    dlat = metres / _M_PER_DEG
    dlon = metres / (_M_PER_DEG * max(math.cos(math.radians(min(abs(lat_deg) + dlat, 89.9))), 1e-6))
    return dlon, dlat


@dataclass(frozen=True)
class VolumeRef:
    """One volume of one zone: ``zone`` indexes :attr:`ZoneIndex.zones`."""

    zone: int
    volume: Volume


class ZoneIndex:
    """Every volume of ``zones`` in an STRtree of padded WGS84 boxes.

    >>> from compliance.zones import Zone, Volume
    >>> z = Zone("A", "PROHIBITED", (Volume(center=(149.0, -35.0), radius_m=100.0),))
    >>> index = ZoneIndex([z])
    >>> len(index), index.query_box(148.99, -35.01, 149.01, -34.99)
    (1, [0])
    """

    def __init__(self, zones: Sequence[Zone]):
        import shapely

        self.zones: tuple[Zone, ...] = tuple(zones)
        refs: list[VolumeRef] = []
        boxes: list[tuple[float, float, float, float]] = []
        for number, zone in enumerate(self.zones):
            buffer_m = zone.camera.buffer_m if zone.camera is not None else 0.0
            for volume in zone.volumes:
                minx, miny, maxx, maxy = volume.bounds()
                if buffer_m > 0:
                    dlon, dlat = pad_degrees(buffer_m, max(abs(miny), abs(maxy)))
                    minx, miny, maxx, maxy = minx - dlon, miny - dlat, maxx + dlon, maxy + dlat
                refs.append(VolumeRef(number, volume))
                boxes.append((minx, miny, maxx, maxy))
        self.volumes: tuple[VolumeRef, ...] = tuple(refs)
        #: Each volume's zone number, and whether its zone forbids photos in or near it.
        self.zone_of = np.asarray([ref.zone for ref in refs], np.intp)
        self.photo_rule = (
            np.asarray(
                [
                    z.camera is not None and z.camera.mode in ("no_capture", "buffer")
                    for z in self.zones
                ],
                bool,
            )[self.zone_of]
            if refs
            else np.zeros(0, bool)
        )
        array = np.asarray(boxes, float).reshape(-1, 4)
        self._tree = shapely.STRtree(
            shapely.box(array[:, 0], array[:, 1], array[:, 2], array[:, 3])
        )

    def __len__(self) -> int:
        return len(self.volumes)

    def query(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (query row, volume number) whose boxes meet; ``boxes`` is (n, 4) lon/lat."""
        import shapely

        boxes = np.asarray(boxes, float).reshape(-1, 4)
        if not len(boxes) or not len(self.volumes):
            empty = np.zeros(0, dtype=np.intp)
            return empty, empty
        geoms = shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3])
        # boxes are their own envelopes: the tree's envelope test is the exact answer
        rows, volumes = self._tree.query(geoms)
        return np.asarray(rows, np.intp), np.asarray(volumes, np.intp)

    def query_box(self, minx: float, miny: float, maxx: float, maxy: float) -> list[int]:
        """Volume numbers whose boxes meet one lon/lat box, sorted."""
        return sorted(int(v) for v in self.query(np.array([[minx, miny, maxx, maxy]]))[1])
