"""From footage (or a folder of photos) and a flight log to a list of distinct, located defects.

:func:`detect_footage` runs the steps of :mod:`vision` in order:

1. :func:`~vision.footage.probe_video` checks the file, :func:`~vision.footage.align` puts
   frame 0 on the track's clock (and refuses a track that does not cover the footage);
2. :func:`~vision.footage.select_frames` decodes the frames worth looking at, chosen by
   ground coverage, not frame rate;
3. the detector (:func:`~vision.detector.load_detector`, or anything with the
   :class:`~vision.detector.Detector` protocol) finds boxes in each, down to 40 % of its
   score threshold (:func:`~vision.detector.weak_sightings`);
4. :meth:`~vision.placement.Locator.locate` places each box's bottom centre on the ground
   with a 1-sigma error: a :class:`~vision.dedup.Sighting`. A box whose ray does not meet
   the ground within range is counted (``unplaced``) and dropped;
5. :func:`~vision.dedup.merge` turns the sightings into one :class:`~vision.dedup.Defect`
   per defect, weak ones included; a defect is kept when its best sighting reaches the
   threshold (a defect the model scores round its threshold is placed from all its looks,
   and a run of weak looks alone is never reported);
6. the best sighting's picture of each defect is cut out, **redacted**
   (:class:`~vision.redact.Redactor`: faces and people blurred, licence plates optionally)
   and kept on the defect as ``crop``. Nothing unredacted is ever put on a defect.

:func:`detect_photos` does the same for a folder of geotagged photos
(:mod:`vision.photos`); each photo is placed from its own tags and every photo is looked at.

Pictures
--------
A sighting's picture is its box padded by a quarter of its size (at least
:data:`CROP_MIN_PAD_PX` pixels) on each side. Until the merge has decided which sighting is
each defect's best, the pipeline keeps every sighting's picture JPEG-compressed with a
margin of context around it (so a long every-frame run does not hold thousands of raw
images). The redactor then looks at that whole context, so a face cut by the crop's edge
is still found, and the crop is cut from the redacted context; ``redacted_regions`` counts
what the redactor blurred in the contexts of the pictures kept. Pictures whose long side
would exceed :data:`CROP_MAX_PX` are scaled down to it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mission.camera import Camera
from mission.geodesy import LocalFrame
from mission.track import Track
from vision.dedup import Defect, Sighting, merge
from vision.detector import Box, Detector, weak_sightings
from vision.errors import VisionError
from vision.footage import MAX_OVERLAP, Frame
from vision.placement import Locator, Uncertainty

__all__ = [
    "CROP_MAX_PX",
    "CROP_MIN_PAD_PX",
    "DetectorSource",
    "Inspection",
    "Progress",
    "Redacting",
    "detect_footage",
    "detect_photos",
    "local_frame_of",
]

#: Padding of a crop around its box: this fraction of the box's long side, at least
#: CROP_MIN_PAD_PX pixels.
CROP_PAD = 0.25
CROP_MIN_PAD_PX = 12
#: Largest side of a kept picture, pixels (larger ones are scaled down).
CROP_MAX_PX = 384
#: Context kept around a crop for the redactor: this fraction of the crop's long side, at
#: least CONTEXT_MIN_PX pixels, on each side.
CONTEXT_PAD = 0.5
CONTEXT_MIN_PX = 48
_JPEG_QUALITY = 95
#: Most points of the track line kept for maps.
_TRACK_POINTS = 400

#: ``progress(done, total)``: frames of the video gone through (or photos), out of all.
Progress = Callable[[int, int], None]
#: A detector, or a function that loads one: called once the input has been checked, so that
#: bad footage or a bad track is refused before slow weights are loaded.
DetectorSource = Detector | Callable[[], Detector]


class Redacting(Protocol):
    """What the pipeline needs of a redactor (:class:`vision.redact.Redactor`, or a test's)."""

    def redact(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        """A copy of ``image`` with faces, people (and plates) blurred, and how many regions."""
        ...


@dataclass(frozen=True)
class Inspection:
    """What detection found in one footage or photo folder, and how it got there.

    Attributes
    ----------
    defects : tuple of Defect
        One per distinct defect, in the order first seen (the best sighting's time), each
        with its redacted ``crop`` (BGR) when a picture of it could be cut.
    frames_total, frames_processed : int
        Frames in the video (photos in the folder), and how many were run through the
        detector.
    redacted_regions : int
        Regions the redactor blurred in the pictures kept.
    source : str
        The video file or photo folder.
    weights : str
        The detector's weights (file name), or the detector's type when it has none.
    camera : str
        The camera model's name.
    kind : str
        ``"video"`` or ``"photos"``.
    home : (lon, lat)
        Origin of the local metric frame the defects were placed in (ground at ``z = 0``).
    t0 : datetime or None
        UTC of frame 0 (of the first photo).
    alignment : str
        How frame 0 was put on the track's clock (``"takeoff"``, ``"camera"``,
        ``"offset 12.5 s"``, or ``"photo tags"``).
    detections, unplaced : int
        Boxes the detector gave in all frames processed, and those that could not be placed
        on the ground (ray above the horizon or out of range).
    track : tuple of (lon, lat)
        The line flown while filming (or the photo positions), for maps.
    classes : tuple of str
        The detector's class names.
    timings : dict
        Seconds spent: ``decode`` (reading and selecting frames), ``detect``, ``place``,
        ``merge``, ``redact``, ``total``.
    width, height : int
        Frame size of the video (of the first photo).
    fps : float or None
        Frame rate of the video.
    """

    defects: tuple[Defect, ...]
    frames_total: int
    frames_processed: int
    redacted_regions: int
    source: str
    weights: str
    camera: str
    kind: str
    home: tuple[float, float]
    t0: datetime | None
    alignment: str
    detections: int = 0
    unplaced: int = 0
    track: tuple[tuple[float, float], ...] = ()
    classes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    width: int = 0
    height: int = 0
    fps: float | None = None

    @property
    def sightings(self) -> int:
        """Placed detections that went into the defects."""
        return sum(d.sightings for d in self.defects)

    def counts(self) -> dict[str, int]:
        """Distinct defects per class (every class of the detector, zeros included)."""
        out = dict.fromkeys(self.classes, 0)
        for d in self.defects:
            out[d.cls] = out.get(d.cls, 0) + 1
        return out

    def utc_of(self, time_s: float) -> datetime | None:
        """UTC of a time from frame 0 (``None`` when the inspection has no clock)."""
        return None if self.t0 is None else self.t0 + timedelta(seconds=time_s)


# --- the pictures -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Picture:
    """A sighting's context picture (JPEG) and where its crop lies in it (pixels)."""

    jpeg: bytes
    crop: tuple[int, int, int, int]  # x1, y1, x2, y2 in the context


def _padded(x1: float, y1: float, x2: float, y2: float, frac: float, least: float) -> Any:
    pad = max(least, frac * max(x2 - x1, y2 - y1))
    return x1 - pad, y1 - pad, x2 + pad, y2 + pad


def _picture(image: np.ndarray, box: Box) -> _Picture | None:
    """The padded crop of ``box`` with its context, JPEG-compressed (``None`` if empty)."""
    import cv2

    h, w = image.shape[:2]
    cx1, cy1, cx2, cy2 = _padded(*box.xyxy, CROP_PAD, CROP_MIN_PAD_PX)
    cx1, cy1 = max(0, math.floor(cx1)), max(0, math.floor(cy1))
    cx2, cy2 = min(w, math.ceil(cx2)), min(h, math.ceil(cy2))
    if cx2 - cx1 < 2 or cy2 - cy1 < 2:
        return None
    ox1, oy1, ox2, oy2 = _padded(cx1, cy1, cx2, cy2, CONTEXT_PAD, CONTEXT_MIN_PX)
    ox1, oy1 = max(0, math.floor(ox1)), max(0, math.floor(oy1))
    ox2, oy2 = min(w, math.ceil(ox2)), min(h, math.ceil(oy2))
    context = image[oy1:oy2, ox1:ox2]
    crop = (cx1 - ox1, cy1 - oy1, cx2 - ox1, cy2 - oy1)
    scale = min(1.0, CROP_MAX_PX / max(cx2 - cx1, cy2 - cy1))
    if scale < 1.0:
        size = (max(1, round((ox2 - ox1) * scale)), max(1, round((oy2 - oy1) * scale)))
        context = cv2.resize(context, size, interpolation=cv2.INTER_AREA)
        sx1, sy1, sx2, sy2 = (round(v * scale) for v in crop)
        crop = (sx1, sy1, sx2, sy2)
    ok, data = cv2.imencode(".jpg", context, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:
        return None
    return _Picture(data.tobytes(), crop)


def _redacted_crop(picture: _Picture, redactor: Redacting) -> tuple[np.ndarray | None, int]:
    """The crop of ``picture`` cut from its redacted context, and the regions blurred."""
    import cv2

    context = cv2.imdecode(np.frombuffer(picture.jpeg, np.uint8), cv2.IMREAD_COLOR)
    if context is None:
        return None, 0
    clean, regions = redactor.redact(context)
    x1, y1, x2, y2 = picture.crop
    crop = np.ascontiguousarray(clean[y1:y2, x1:x2])
    return (crop if crop.size else None), int(regions)


# --- the loop -------------------------------------------------------------------------------


def _detector(source: DetectorSource) -> Detector:
    if isinstance(source, Detector):  # has names and detect
        return source
    return source()


def _weights_name(detector: Detector) -> str:
    weights = getattr(detector, "weights", None)
    return Path(str(weights)).name if weights else type(detector).__name__


def _default_redactor() -> Redacting:
    from vision.redact import Redactor

    return Redactor()


@dataclass
class _Run:
    """What the loop over frames collects."""

    sightings: list[Sighting] = field(default_factory=list)
    pictures: dict[tuple[int, Box], _Picture] = field(default_factory=dict)
    processed: int = 0
    detections: int = 0
    unplaced: int = 0
    first_size: tuple[int, int] = (0, 0)
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("decode", "detect", "place"), 0.0)
    )


def _timed(frames: Iterable[Frame], timings: dict[str, float]) -> Iterator[Frame]:
    """``frames``, adding the time spent producing each to ``timings["decode"]``."""
    it = iter(frames)
    while True:
        start = time.perf_counter()
        try:
            frame = next(it)
        except StopIteration:
            timings["decode"] += time.perf_counter() - start
            return
        timings["decode"] += time.perf_counter() - start
        yield frame


def _detect_frames(
    frames: Iterable[Frame],
    detector: Detector,
    locator_for: Callable[[int, int], Locator],
    *,
    on_frame: Callable[[Frame], None] | None = None,
) -> _Run:
    """Detect and place in each frame; the sightings and their pictures (internal step)."""
    run = _Run()
    for frame in _timed(frames, run.timings):
        h, w = frame.image.shape[:2]
        if run.processed == 0:
            run.first_size = (w, h)
        run.processed += 1
        start = time.perf_counter()
        boxes = detector.detect(frame.image)
        run.timings["detect"] += time.perf_counter() - start
        start = time.perf_counter()
        locator = locator_for(w, h)
        for box in boxes:
            run.detections += 1
            placed = locator.locate(box.xyxy, frame.sample)
            if placed is None:
                run.unplaced += 1
                continue
            run.sightings.append(
                Sighting(
                    box.cls,
                    float(min(max(box.confidence, 0.0), 1.0)),
                    placed.x_m,
                    placed.y_m,
                    placed.error_m,
                    frame.time_s,
                    frame.index,
                    box,
                )
            )
            picture = _picture(frame.image, box)
            if picture is not None:
                run.pictures[(frame.index, box)] = picture
        run.timings["place"] += time.perf_counter() - start
        if on_frame is not None:
            on_frame(frame)
    return run


def _finish(
    run: _Run,
    local: LocalFrame,
    redactor: Redacting,
    started: float,
    uncertainty: Uncertainty,
    threshold: float | None,
    **fields: Any,
) -> Inspection:
    """Merge the sightings, keep the defects whose best sighting reaches ``threshold``,
    redact each one's picture, and make the inspection."""
    timings = run.timings
    start = time.perf_counter()
    # the aircraft's position error is shared by every sighting of one flight (DRMS)
    merged = merge(run.sightings, local, shared_error_m=math.sqrt(2.0) * uncertainty.horizontal_m)
    merged = [d for d in merged if threshold is None or d.confidence >= threshold]
    timings["merge"] = time.perf_counter() - start
    start = time.perf_counter()
    defects = []
    regions = 0
    for defect in merged:
        picture = run.pictures.get((defect.frame_index, defect.box)) if defect.box else None
        crop = None
        if picture is not None:
            crop, found = _redacted_crop(picture, redactor)
            regions += found
        defects.append(dataclasses.replace(defect, crop=crop))
    timings["redact"] = time.perf_counter() - start
    timings["total"] = time.perf_counter() - started
    return Inspection(
        defects=tuple(defects),
        frames_processed=run.processed,
        redacted_regions=regions,
        home=(local.lon0, local.lat0),
        detections=run.detections,
        unplaced=run.unplaced,
        timings={k: round(v, 3) for k, v in timings.items()},
        **fields,
    )


def _track_line(track: Track, t0: datetime, t1: datetime) -> tuple[tuple[float, float], ...]:
    """The track's positions from ``t0`` to ``t1`` (lon, lat), thinned for a map."""
    inside = [s for s in track.samples if t0 < s.time < t1]
    points = [track.at(t0), *inside, track.at(t1)]
    step = max(1, math.ceil(len(points) / _TRACK_POINTS))
    kept = points[::step]
    if kept[-1] is not points[-1]:
        kept.append(points[-1])
    line: list[tuple[float, float]] = []
    for s in kept:
        point = (round(s.lon_deg, 8), round(s.lat_deg, 8))
        if not line or line[-1] != point:
            line.append(point)
    return tuple(line)


def local_frame_of(track: Track) -> LocalFrame:
    """The metric frame placements are made in: centred on the track's home, else its start.

    The ground plane ``z = 0`` is at home elevation, which is what ``alt_rel_m`` counts from.
    """
    if track.home is not None:
        return LocalFrame(track.home[0], track.home[1])
    first = track.samples[0]
    return LocalFrame(first.lon_deg, first.lat_deg)


def detect_footage(
    video: str | Path,
    track: Track,
    camera: Camera,
    detector: DetectorSource,
    *,
    offset_s: float | None = None,
    align_mode: str = "takeoff",
    max_overlap: float = MAX_OVERLAP,
    every_frame: bool = False,
    redactor: Redacting | None = None,
    progress: Progress | None = None,
    gimbal_pitch_deg: float = -90.0,
    uncertainty: Uncertainty | None = None,
    distortion: Iterable[float] | None = None,
    stabilised: bool = True,
    weights: str | None = None,
) -> Inspection:
    """Detect, place and de-duplicate the defects seen in a video (see the module notes).

    Parameters
    ----------
    video : path
        A video file OpenCV reads.
    track : Track
        The flight log of the flight filmed.
    camera : Camera
        The camera that filmed (its sensor width spans the video frame's width).
    detector : Detector or callable
        From :func:`~vision.detector.load_detector`, or any object with ``detect``; or a
        function returning one, called once the video and the track have been checked.
    offset_s, align_mode
        How frame 0 is put on the track's clock (:func:`~vision.footage.align`).
    max_overlap : float
        The ground overlap under which the next frame is taken (0..<1).
    every_frame : bool
        Look at every frame (the baseline frame selection is measured against).
    redactor : optional
        Blurs faces and people in the pictures kept; default :class:`vision.redact.Redactor`.
        Redaction cannot be turned off.
    progress : callable, optional
        ``progress(done, total)`` with frames of the video gone through.
    gimbal_pitch_deg : float
        The camera's pitch where the track has none (-90 straight down).
    uncertainty, distortion, stabilised
        Passed to the :class:`~vision.placement.Locator`.
    weights : str, optional
        The name reports give the weights (default: the detector's file name).

    Raises
    ------
    VisionError
        An unreadable or truncated video, a track that does not cover it, a track sample
        without a heading, bad settings.
    """
    from vision.footage import align, probe_video, select_frames

    started = time.perf_counter()
    red = redactor if redactor is not None else _default_redactor()
    info = probe_video(video)
    t0 = align(track, info, offset_s=offset_s, mode=align_mode)
    local = local_frame_of(track)
    uncertainty = uncertainty or Uncertainty()
    locator = Locator(
        camera,
        local,
        info.width,
        info.height,
        distortion=None if distortion is None else tuple(distortion),
        stabilised=stabilised,
        uncertainty=uncertainty,
        default_gimbal_pitch_deg=gimbal_pitch_deg,
    )

    def locator_for(w: int, h: int) -> Locator:
        if (w, h) != (locator.width_px, locator.height_px):
            raise VisionError(
                f"{info.path}: a frame of {w}x{h} px in a video of {info.width}x{info.height}; "
                "re-encode the video at one frame size"
            )
        return locator

    total = info.frame_count

    def on_frame(frame: Frame) -> None:
        if progress is not None:
            progress(frame.index + 1, total)

    frames = select_frames(video, info, track, t0, locator, max_overlap, every_frame)
    model = _detector(detector)
    with weak_sightings(model) as threshold:
        run = _detect_frames(frames, model, locator_for, on_frame=on_frame)
    if progress is not None:
        progress(total, total)
    how = f"offset {offset_s:g} s" if offset_s is not None else align_mode
    end = t0 + timedelta(seconds=info.time_s(max(total - 1, 0)))
    return _finish(
        run,
        local,
        red,
        started,
        uncertainty,
        threshold,
        frames_total=total,
        source=str(video),
        weights=weights or _weights_name(model),
        camera=camera.name,
        kind="video",
        t0=t0,
        alignment=how,
        track=_track_line(track, t0, end),
        classes=tuple(model.names),
        width=info.width,
        height=info.height,
        fps=info.fps,
    )


def detect_photos(
    folder: str | Path,
    camera: Camera,
    detector: DetectorSource,
    *,
    track: Track | None = None,
    ground_amsl_m: float | None = None,
    redactor: Redacting | None = None,
    progress: Progress | None = None,
    gimbal_pitch_deg: float = -90.0,
    uncertainty: Uncertainty | None = None,
    distortion: Iterable[float] | None = None,
    weights: str | None = None,
) -> Inspection:
    """Detect, place and de-duplicate the defects in a folder of geotagged photos.

    Every photo is looked at, placed from its own tags (:mod:`vision.photos`). A ``track``
    is optional: when given, its home is the local frame's origin and, unless
    ``ground_amsl_m`` is given, its home elevation is the ground for photos without a
    height above take-off. Other parameters as for :func:`detect_footage`.

    Raises
    ------
    VisionError
        A missing folder, no photos, a photo without position, time, heading or height.
    """
    from vision.photos import photo_frames, read_photos

    started = time.perf_counter()
    red = redactor if redactor is not None else _default_redactor()
    read_start = time.perf_counter()
    photos = read_photos(folder)
    read_s = time.perf_counter() - read_start
    if track is not None:
        local = local_frame_of(track)
        if ground_amsl_m is None and track.home is not None:
            ground_amsl_m = track.home[2]
    else:
        local = LocalFrame(photos[0].lon, photos[0].lat)
    for photo in photos:  # refuse a photo without heading or height before any detection
        photo.sample(ground_amsl_m)
    locators: dict[tuple[int, int], Locator] = {}
    uncertainty = uncertainty or Uncertainty()

    def locator_for(w: int, h: int) -> Locator:
        if (w, h) not in locators:
            locators[(w, h)] = Locator(
                camera,
                local,
                w,
                h,
                distortion=None if distortion is None else tuple(distortion),
                uncertainty=uncertainty,
                default_gimbal_pitch_deg=gimbal_pitch_deg,
            )
        return locators[(w, h)]

    total = len(photos)

    def on_frame(frame: Frame) -> None:
        if progress is not None:
            progress(frame.index + 1, total)

    frames = photo_frames(photos, local, ground_amsl_m=ground_amsl_m)
    model = _detector(detector)
    with weak_sightings(model) as threshold:
        run = _detect_frames(frames, model, locator_for, on_frame=on_frame)
    run.timings["decode"] += read_s
    w, h = run.first_size
    return _finish(
        run,
        local,
        red,
        started,
        uncertainty,
        threshold,
        frames_total=total,
        source=str(folder),
        weights=weights or _weights_name(model),
        camera=camera.name,
        kind="photos",
        t0=photos[0].time,
        alignment="photo tags",
        track=tuple((round(p.lon, 8), round(p.lat, 8)) for p in photos),
        classes=tuple(model.names),
        width=w,
        height=h,
        fps=None,
    )
