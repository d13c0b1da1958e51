"""Zone incursions and privacy photos of a flown track (the zone half of :mod:`compliance.conform`).

Candidates come from the :class:`~compliance.index.ZoneIndex` queried with a small box around
each airborne sample (or photo), so the exact tests (shape, band, time) run only on volumes
near the track. When a zone applies is taken from
:func:`~compliance.schedule.active_intervals` over the track's time span, worked out once
per zone and looked up per sample; it agrees with :func:`~compliance.schedule.is_active` at
every sample time (half-open intervals, as ``is_active`` reads them).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np

from compliance.conform import Deviation
from compliance.conform_track import Flown, clock
from compliance.geometry import LocalShape, collection
from compliance.index import ZoneIndex
from compliance.legs import Route
from compliance.zones import Zone
from mission.track import Track

#: Query boxes are padded by this much, so a point's box has an area.
PAD_M = 1.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _micros(times: list[datetime] | tuple[datetime, ...]) -> np.ndarray:
    """Exact integer microseconds since 1970 of aware datetimes."""
    return np.asarray([(t - _EPOCH) // _US for t in times], np.int64)


class _Active:
    """Whether each zone applies at given times, from its intervals over the track's span."""

    def __init__(self, index: ZoneIndex, first: datetime, last: datetime):
        self.index, self.first, self.last = index, first, last + _US
        self._spans: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def at(self, zone_number: int, micros: np.ndarray) -> np.ndarray:
        from compliance.schedule import active_intervals

        if zone_number not in self._spans:
            spans = active_intervals(self.index.zones[zone_number], self.first, self.last)
            self._spans[zone_number] = (
                _micros([a for a, _ in spans]),
                _micros([b for _, b in spans]),
            )
        starts, ends = self._spans[zone_number]
        if not len(starts):
            return np.zeros(len(micros), bool)
        k = np.searchsorted(starts, micros, side="right") - 1
        return (k >= 0) & (micros < ends[np.maximum(k, 0)])


def _by_volume(rows: np.ndarray, volumes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The query pairs grouped: (volume number, sorted rows)."""
    order = np.lexsort((rows, volumes))
    rows, volumes = rows[order], volumes[order]
    keys, starts = np.unique(volumes, return_index=True)
    return [
        (int(v), part)
        for v, part in zip(keys, np.split(rows, starts[1:]), strict=True)
        if len(part)
    ]


def _in_band(z: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """Altitudes strictly inside the band: touching a limit is not entering."""
    return np.asarray((z > band[0]) & (z < band[1]))


def zone_deviations(
    flown: Flown, route: Route, index: ZoneIndex, authorisations: frozenset[str]
) -> list[Deviation]:
    """One ``conform.zone`` deviation per incursion: a run of samples inside an active zone."""
    if not len(index):
        return []
    rows, volumes = index.query(route.boxes(PAD_M, points=flown.xy))
    active = _Active(index, flown.times[0], flown.times[-1])
    micros = _micros(flown.times)
    amsl = flown.alt_rel_m + route.home_amsl_m
    inside: dict[int, np.ndarray] = {}
    for volume_number, here in _by_volume(rows, volumes):
        ref = index.volumes[volume_number]
        band = ref.volume.band_amsl_m(route.home_amsl_m)
        here = here[_in_band(amsl[here], band)]
        if not len(here):
            continue
        here = here[LocalShape.of(ref.volume, route.frame).contains(flown.xy[here])]
        here = here[active.at(ref.zone, micros[here])]
        if len(here):
            mask = inside.setdefault(ref.zone, np.zeros(len(flown.xy), bool))
            mask[here] = True
    out: list[Deviation] = []
    for zone_number in sorted(inside):
        zone = index.zones[zone_number]
        blocking, how = _verdict(zone, authorisations)
        for first, last in flown.runs(inside[zone_number]):
            span = flown.span(first, last)
            high = float(flown.alt_rel_m[first : last + 1].max())
            message = (
                f"flew inside {zone.restriction} zone {zone.identifier} ({zone.name}) for "
                f"{span['duration_s']:.1f} s from {clock(span['start'])}, up to {high:.1f} m "
                f"above home{how}"
            )
            out.append(
                Deviation("conform.zone", message, zone.identifier, blocking=blocking, **span)
            )
    return out


def _verdict(zone: Zone, authorisations: frozenset[str]) -> tuple[bool, str]:
    """Whether entering ``zone`` fails conformance, and why, for the message."""
    if zone.camera is not None and zone.camera.mode == "no_overflight":
        return True, ": a privacy zone that forbids overflight"
    if zone.restriction == "PROHIBITED":
        return True, ""
    if zone.restriction == "REQ_AUTHORISATION":
        if zone.identifier in authorisations:
            return False, ": authorised"
        return True, ": no authorisation given"
    return False, ""


def photo_deviations(track: Track, route: Route, index: ZoneIndex) -> tuple[int, list[Deviation]]:
    """Photos in active no-capture (or buffer) privacy zones: how many, and one deviation per zone."""
    if not track.photos or not len(index):
        return 0, []
    lon = np.asarray([p.lon_deg for p in track.photos], float)
    lat = np.asarray([p.lat_deg for p in track.photos], float)
    xy = np.column_stack(route.frame.to_local(lon, lat)).reshape(-1, 2)
    amsl = np.asarray([p.alt_rel_m for p in track.photos], float) + route.home_amsl_m
    micros = _micros([p.time for p in track.photos])
    active = _Active(index, track.photos[0].time, track.photos[-1].time)
    rows, volumes = index.query(route.boxes(PAD_M, points=xy))
    found: dict[int, set[int]] = defaultdict(set)
    for volume_number, here in _by_volume(rows, volumes):
        ref = index.volumes[volume_number]
        policy = index.zones[ref.zone].camera
        if policy is None or policy.mode not in ("no_capture", "buffer"):
            continue
        buffer_m = policy.buffer_m if policy.mode == "buffer" else 0.0
        here = here[_in_band(amsl[here], ref.volume.band_amsl_m(route.home_amsl_m))]
        here = here[LocalShape.of(ref.volume, route.frame).contains(xy[here], within_m=buffer_m)]
        here = here[active.at(ref.zone, micros[here])]
        if len(here):
            found[ref.zone].update(int(r) for r in here)
    out: list[Deviation] = []
    for zone_number in sorted(found):
        zone = index.zones[zone_number]
        assert zone.camera is not None
        chosen = sorted(found[zone_number])
        points = [
            [round(track.photos[r].lon_deg, 7), round(track.photos[r].lat_deg, 7)] for r in chosen
        ]
        where = (
            f"within {zone.camera.buffer_m:g} m of" if zone.camera.mode == "buffer" else "inside"
        )
        first, last = track.photos[chosen[0]].time, track.photos[chosen[-1]].time
        out.append(
            Deviation(
                "conform.privacy_photo",
                f"{len(chosen)} photos taken {where} privacy zone {zone.identifier} "
                f"({zone.name}) from {clock(first)} to {clock(last)}",
                zone.identifier,
                start=first,
                end=last,
                duration_s=(last - first).total_seconds(),
                value=float(len(chosen)),
                geometry=collection([], points),
            )
        )
    return len(set().union(*found.values())) if found else 0, out
