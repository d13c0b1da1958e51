"""Helpers for tests: shapes drawn in metres around ArduPilot SITL's home, as lon/lat GeoJSON."""

import json

import shapely
from shapely.geometry.base import BaseGeometry

from mission.geodesy import LocalFrame

SITL_HOME = (149.165230, -35.363261)  # lon, lat
FRAME = LocalFrame(*SITL_HOME)


def to_geojson(geom_m: BaseGeometry, frame: LocalFrame = FRAME) -> dict:
    return json.loads(shapely.to_geojson(frame.geom_to_wgs84(geom_m)))
