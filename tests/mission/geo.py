"""Helpers for tests: shapes drawn in metres around ArduPilot SITL's home, as lon/lat GeoJSON,
and an independent paper flight that the planners' tests check their plans with."""

import json
import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from mission.analysis import Photo
from mission.geodesy import LocalFrame
from mission.items import Cmd

SITL_HOME = (149.165230, -35.363261)  # lon, lat
FRAME = LocalFrame(*SITL_HOME)
SITE = FRAME


def to_geojson(geom_m: BaseGeometry, frame: LocalFrame = FRAME) -> dict:
    return json.loads(shapely.to_geojson(frame.geom_to_wgs84(geom_m)))


def flown_photos(plan):
    """Photos the items take, flown as ArduPilot AUTO would, in a frame centred on home.

    DO/CONDITION items run once the NAV item before them is reached; a new waypoint
    resets a fixed yaw (the CONDITION_YAW after it sets it again); distance triggering
    fires each time the horizontal distance from the last photo reaches the trigger
    distance; with an ROI the camera looks at it.
    """
    frame = LocalFrame(plan.home.lon_deg, plan.home.lat_deg)
    photos = []
    for number, sortie in enumerate(plan.sorties):
        camera = _Camera(number)
        here = (0.0, 0.0, 0.0)
        for item in sortie:
            if item.command == Cmd.NAV_TAKEOFF:
                here = (here[0], here[1], item.alt_m)
            elif item.command == Cmd.NAV_WAYPOINT:
                to = (*frame.point_to_local(item.lon_deg, item.lat_deg), item.alt_m)
                camera.fly(here, to)
                here, camera.yaw = to, None
            elif item.command == Cmd.CONDITION_YAW:
                camera.yaw = item.param1
            elif item.command == Cmd.DO_SET_CAM_TRIGG_DIST:
                camera.trigger = item.param1
                if camera.trigger > 0 and item.param3 == 1:
                    camera.shoot(here)
            elif item.command == Cmd.IMAGE_START_CAPTURE:
                camera.shoot(here)
            elif item.command == Cmd.DO_MOUNT_CONTROL:
                camera.pitch = item.param1
            elif item.command == Cmd.DO_SET_ROI_LOCATION:
                camera.roi = (*frame.point_to_local(item.lon_deg, item.lat_deg), item.alt_m)
            elif item.command == Cmd.DO_SET_ROI_NONE:
                camera.roi = None
        photos += camera.photos
    return frame, photos


class _Camera:
    def __init__(self, sortie):
        self.sortie, self.photos = sortie, []
        self.trigger, self.roi, self.pitch, self.yaw, self.course = 0.0, None, -90.0, None, 0.0
        self.last = None

    def shoot(self, at):
        yaw, pitch = self.yaw if self.yaw is not None else self.course, self.pitch
        if self.roi is not None:
            dx, dy = self.roi[0] - at[0], self.roi[1] - at[1]
            yaw = math.degrees(math.atan2(dx, dy)) % 360.0
            pitch = math.degrees(math.atan2(self.roi[2] - at[2], math.hypot(dx, dy)))
        self.photos.append(Photo(*at, yaw, pitch, 0.0, 0.0, self.sortie))
        self.last = at

    def fly(self, a, b):
        leg = math.hypot(b[0] - a[0], b[1] - a[1])
        if leg < 1e-9:
            return
        ux, uy = (b[0] - a[0]) / leg, (b[1] - a[1]) / leg
        self.course = math.degrees(math.atan2(ux, uy)) % 360.0
        s = 0.0
        while self.trigger > 0:
            # the next point of the leg at the trigger distance (horizontally) from the last photo
            wx, wy = a[0] - self.last[0], a[1] - self.last[1]
            half_b = wx * ux + wy * uy
            disc = half_b**2 - (wx * wx + wy * wy - self.trigger**2)
            if disc < 0:
                return
            s = max(-half_b + math.sqrt(disc), s)
            if s > leg + 1e-9:
                return
            self.shoot(tuple(p + s / leg * (q - p) for p, q in zip(a, b, strict=True)))


def scan_waypoints(plan):
    """Local (x, y, alt) of the waypoints that scan: without each sortie's transit in and out.

    Structure and facade sorties cross over at a clearance height: their first waypoint
    is above the first scan point and the one before RTL climbs back to that height.
    """
    frame = LocalFrame(plan.home.lon_deg, plan.home.lat_deg)
    kept = []
    for sortie in plan.sorties:
        wps = [i for i in sortie if i.command == Cmd.NAV_WAYPOINT]
        kept += wps[1:-1] if plan.pattern in ("structure", "facade") else wps
    x, y = frame.to_local([i.lon_deg for i in kept], [i.lat_deg for i in kept])
    return np.column_stack([x, y, [i.alt_m for i in kept]])


def local_items(plan, command):
    frame = LocalFrame(plan.home.lon_deg, plan.home.lat_deg)
    items = [i for i in plan.items if i.command == command]
    x, y = frame.to_local([i.lon_deg for i in items], [i.lat_deg for i in items])
    return np.column_stack([x, y, [i.alt_m for i in items]])


def site_xy(plan, points):
    """Local points of a plan's frame in the SITL-centred frame of the test shapes."""
    frame = LocalFrame(plan.home.lon_deg, plan.home.lat_deg)
    lon, lat = frame.to_wgs84(points[:, 0], points[:, 1])
    return np.column_stack(SITE.to_local(lon, lat))
