"""A plan's route as arrays: every leg and photo in the plan's home-centred local frame."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import numpy as np

from compliance.errors import ComplianceError
from compliance.index import pad_degrees
from mission.analysis import Analysis
from mission.geodesy import LocalFrame
from mission.plan import Plan

Window = tuple[datetime, datetime]


def check_window(window: Window) -> Window:
    """The window as aware UTC datetimes, start before end; else a ComplianceError."""
    start, end = window
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ComplianceError(
                f"window {name} {value.isoformat()} has no time zone: give an offset, e.g. Z or +02:00"
            )
    if end <= start:
        raise ComplianceError(
            f"window end {end.isoformat()} is not after its start {start.isoformat()}"
        )
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass
class Route:
    """A plan's legs and photos as arrays in its home-centred local frame."""

    frame: LocalFrame
    home_amsl_m: float
    a: np.ndarray  # (n, 3) leg starts: x, y, alt_rel_m
    b: np.ndarray  # (n, 3) leg ends
    sortie: np.ndarray  # (n,) from 0
    seq: np.ndarray  # (n,) item numbers from 1
    photos: np.ndarray  # (m, 3)
    photo_sortie: np.ndarray
    photo_seq: np.ndarray

    @classmethod
    def of(cls, plan: Plan, analysis: Analysis) -> Route:
        legs = analysis.legs
        a = np.asarray([leg.start for leg in legs], float).reshape(-1, 3)
        b = np.asarray([leg.end for leg in legs], float).reshape(-1, 3)
        photos = np.asarray([(p.x_m, p.y_m, p.alt_rel_m) for p in analysis.photos], float)
        return cls(
            frame=LocalFrame(plan.home.lon_deg, plan.home.lat_deg),
            home_amsl_m=plan.home.alt_amsl_m,
            a=a,
            b=b,
            sortie=np.asarray([leg.sortie for leg in legs], int),
            seq=np.asarray([leg.seq for leg in legs], int),
            photos=photos.reshape(-1, 3),
            photo_sortie=np.asarray([p.sortie for p in analysis.photos], int),
            photo_seq=np.asarray([p.seq for p in analysis.photos], int),
        )

    @cached_property
    def photo_wgs84(self) -> tuple[np.ndarray, np.ndarray]:
        """Every photo's (lon, lat), worked out once."""
        lon, lat = self.frame.to_wgs84(self.photos[:, 0], self.photos[:, 1])
        return np.asarray(lon).reshape(-1), np.asarray(lat).reshape(-1)

    def photo_boxes(self, pad_m: float) -> np.ndarray:
        """WGS84 boxes (m, 4) around each photo, padded by ``pad_m``."""
        lon, lat = self.photo_wgs84
        dlon, dlat = pad_degrees(pad_m, float(np.abs(lat).max()) if lat.size else 0.0)
        return np.column_stack([lon - dlon, lat - dlat, lon + dlon, lat + dlat])

    def boxes(self, pad_m: float, points: np.ndarray | None = None) -> np.ndarray:
        """WGS84 boxes (n, 4) around each leg (or each point), padded by ``pad_m``."""
        if points is None:
            xs = np.stack([self.a[:, 0], self.b[:, 0]], axis=1)
            ys = np.stack([self.a[:, 1], self.b[:, 1]], axis=1)
        else:
            xs, ys = points[:, :1], points[:, 1:2]
        lon, lat = self.frame.to_wgs84(xs, ys)
        lon, lat = np.asarray(lon).reshape(len(xs), -1), np.asarray(lat).reshape(len(xs), -1)
        dlon, dlat = pad_degrees(pad_m, float(np.abs(lat).max()) if lat.size else 0.0)
        return np.column_stack(
            [lon.min(1) - dlon, lat.min(1) - dlat, lon.max(1) + dlon, lat.max(1) + dlat]
        )
