"""A spatial index over zone volumes, built once and queried by every check.

The index holds each volume's WGS84 bounding box (a circle's box padded for the Earth's
shape, a privacy buffer added) in a shapely STRtree. A query returns candidate
(query geometry, volume) pairs; the exact tests happen in the checker's local frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from compliance.zones import Volume, Zone

#: Metres per degree of latitude, taken low so padded boxes are never too small.
_M_PER_DEG = 110_000.0


def pad_degrees(metres: float, lat_deg: float) -> tuple[float, float]:
    """(dlon, dlat) that cover at least ``metres`` around latitude ``lat_deg``."""
    dlat = metres / _M_PER_DEG
    dlon = metres / (_M_PER_DEG * max(math.cos(math.radians(min(abs(lat_deg) + dlat, 89.9))), 1e-6))
    return dlon, dlat


@dataclass(frozen=True, slots=True)
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
        refs = [VolumeRef(n, v) for n, zone in enumerate(self.zones) for v in zone.volumes]
        self.volumes: tuple[VolumeRef, ...] = tuple(refs)
        #: Each volume's zone number, and whether its zone forbids photos in or near it.
        self.zone_of = np.asarray([ref.zone for ref in refs], np.intp).reshape(-1)
        photo_rule = [
            z.camera is not None and z.camera.mode in ("no_capture", "buffer") for z in self.zones
        ]
        self.photo_rule = np.asarray(photo_rule, bool).reshape(-1)[self.zone_of]
        array = _bounds([ref.volume for ref in refs])
        for k, ref in enumerate(refs):
            camera = self.zones[ref.zone].camera
            if camera is not None and camera.buffer_m > 0:
                minx, miny, maxx, maxy = array[k].tolist()
                dlon, dlat = pad_degrees(camera.buffer_m, max(abs(miny), abs(maxy)))
                array[k] = (minx - dlon, miny - dlat, maxx + dlon, maxy + dlat)
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


def _bounds(volumes: Sequence[Volume]) -> np.ndarray:
    """:meth:`Volume.bounds` of every volume as an (n, 4) array; polygons' boxes are the
    minimum and maximum of their exteriors' points, taken in one pass over all of them."""
    out = np.zeros((len(volumes), 4))
    polygons: list[int] = []
    for k, volume in enumerate(volumes):
        if volume.center is None:
            polygons.append(k)
        else:
            out[k] = volume.bounds()
    if not polygons:
        return out
    exteriors = [volumes[k].rings[0] for k in polygons]
    counts = np.asarray([len(ring) for ring in exteriors])
    flat = np.fromiter(chain.from_iterable(chain.from_iterable(exteriors)), float)
    if flat.size != 2 * counts.sum() or not counts.all():  # odd points: one at a time
        for k in polygons:
            out[k] = volumes[k].bounds()
        return out
    points = flat.reshape(-1, 2)
    starts = np.cumsum(counts) - counts
    out[polygons, :2] = np.minimum.reduceat(points, starts)
    out[polygons, 2:] = np.maximum.reduceat(points, starts)
    return out
