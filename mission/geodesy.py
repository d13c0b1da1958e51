"""WGS84 longitude/latitude to and from a local metric frame.

Every metric computation happens in an azimuthal equidistant projection centred on
the job's own origin, where distances within a few tens of kilometres are true to
better than a centimetre per kilometre.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from mission.errors import MissionError


def check_lonlat(lon: float, lat: float, what: str = "coordinate") -> None:
    """Raise :class:`MissionError` unless ``lon, lat`` is a finite WGS84 position.

    >>> check_lonlat(149.16, -35.36)
    >>> check_lonlat(-35.36, 149.16)
    Traceback (most recent call last):
    ...
    mission.errors.MissionError: coordinate latitude 149.16 is outside -90..90 (are longitude and latitude swapped? GeoJSON order is lon, lat)
    """
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise MissionError(f"{what} ({lon}, {lat}) is not a finite number pair")
    if not -90.0 <= lat <= 90.0:
        raise MissionError(
            f"{what} latitude {lat} is outside -90..90 "
            "(are longitude and latitude swapped? GeoJSON order is lon, lat)"
        )
    if not -180.0 <= lon <= 180.0:
        raise MissionError(f"{what} longitude {lon} is outside -180..180")


@functools.lru_cache(maxsize=64)
def _transformers(lon0: float, lat0: float) -> tuple[Any, Any]:
    """pyproj transformers to and from the frame at (lon0, lat0): slow to build, so kept."""
    from pyproj import Transformer

    proj = f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m"
    return (
        Transformer.from_crs("EPSG:4326", proj, always_xy=True),
        Transformer.from_crs(proj, "EPSG:4326", always_xy=True),
    )


@dataclass(frozen=True)
class LocalFrame:
    """A local east/north metric frame (metres) centred on ``(lon0, lat0)``."""

    lon0: float
    lat0: float
    _fwd: Any = field(init=False, repr=False, compare=False)
    _inv: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_lonlat(self.lon0, self.lat0, "frame origin")
        fwd, inv = _transformers(self.lon0, self.lat0)
        object.__setattr__(self, "_fwd", fwd)
        object.__setattr__(self, "_inv", inv)

    @classmethod
    def around(cls, geom: BaseGeometry) -> LocalFrame:
        """A frame centred on the centre of a WGS84 geometry's bounding box."""
        minx, miny, maxx, maxy = geom.bounds
        return cls((minx + maxx) / 2.0, (miny + maxy) / 2.0)

    def to_local(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._fwd.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x), np.asarray(y)

    def to_wgs84(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self._inv.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)

    def point_to_local(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self.to_local(lon, lat)
        return float(x), float(y)

    def point_to_wgs84(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self.to_wgs84(x, y)
        return float(lon), float(lat)

    def geom_to_local(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda c: np.column_stack(self.to_local(c[:, 0], c[:, 1])))

    def geom_to_wgs84(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda c: np.column_stack(self.to_wgs84(c[:, 0], c[:, 1])))
