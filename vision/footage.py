"""Footage: what a video file holds, when it was shot, and which of its frames to look at.

- :func:`probe_video` opens a video with OpenCV (FFmpeg) and checks it can be used: it
  opens, has a sane frame rate, its first frame decodes, and so does the last frame its
  container claims (a file cut short keeps the container's count but loses its end).
- :func:`align` puts frame 0 on the track's clock: an explicit offset from the track's
  start, the first airborne sample (``"takeoff"``: the camera was started as the aircraft
  left the ground) or the first camera event (``"camera"``: the log records the camera
  starting). The track must cover every frame, or nothing could be placed.
- :func:`select_frames` reads the frames worth detecting on. Frame ``i`` was shot
  ``time_s = i / fps`` after frame 0, at the track's interpolated sample. Which frames to
  take depends only on the track, so it is decided before any decoding
  (:func:`plan_frames`): a frame is taken when the ground it sees overlaps the ground the
  last taken frame saw by no more than ``max_overlap``, measured as the intersection's
  area over the larger footprint's (over the new one's as long as the new one is the
  larger, as when flying level; a descent that halves the footprint also takes a frame,
  since it sees the same ground twice as sharply). A frame is also taken when the camera
  has turned by 45 degrees or more since the last one; a frame that sees no ground at all
  (the camera on the ground or looking above the horizon) is not taken. The last frame
  that sees ground is taken too when at least :data:`END_NEW` of what it sees is new, so
  the end of the footage is never left unseen. Processing cost
  then follows the ground covered, not the video's length. Frames not taken are only
  grabbed (demuxed and decoded, not converted to BGR), which OpenCV does about twice as
  fast as a full read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from mission.track import Track, TrackSample
from vision.errors import VisionError
from vision.placement import Locator

__all__ = ["Frame", "VideoInfo", "align", "plan_frames", "probe_video", "select_frames"]

#: The default ``max_overlap``: the next frame is taken when its ground overlaps the last
#: one's by at most 80 %, so most ground is looked at in about five frames. At 0.5 (two
#: looks) a 2-minute benchmark flight missed 3 of 18 defects that every-frame processing
#: found, at 0.7 two; at 0.8 none (bench/RESULTS.md).
MAX_OVERLAP = 0.8

ALIGN_MODES = ("takeoff", "camera")
MAX_FPS = 1000.0
MIN_FPS = 0.1
TURN_DEG = 45.0  # a camera turned this much since the last frame taken sees anew
COVER_SLACK_S = 0.5  # how far the footage may run past the track's ends
_COUNT_SLACK = 2  # frames a container may over-count without the file being cut short


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found: frame rate, frame count, frame size."""

    path: str
    fps: float
    frame_count: int
    width: int
    height: int
    duration_s: float  # frame_count / fps

    def time_s(self, index: int) -> float:
        """Seconds from frame 0 to frame ``index``."""
        return index / self.fps


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame to detect on: its number, time, image (BGR) and the aircraft's sample."""

    index: int
    time_s: float  # from frame 0 (videos) or from the first photo (photo folders)
    utc: datetime
    image: np.ndarray
    sample: TrackSample


def _open(path: Path) -> Any:
    import cv2

    backend = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
    cap = cv2.VideoCapture(str(path), backend)
    if not cap.isOpened():
        cap.release()
        raise VisionError(
            f"{path}: not a video OpenCV can read (an unknown format, or a damaged file, "
            "or one cut short before its index was written)"
        )
    return cap


def probe_video(path: str | Path) -> VideoInfo:
    """Open a video and check that it can be used (see the module notes).

    Raises
    ------
    VisionError
        Naming the file: missing, unreadable, no frame rate or an absurd one, no frames,
        or cut short (the container's last frame does not decode).
    """
    import cv2

    p = Path(path)
    if not p.is_file():
        raise VisionError(f"{p}: no such video file")
    cap = _open(p)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
            raise VisionError(
                f"{p}: frame rate {fps:g} fps is missing or absurd "
                f"(expected {MIN_FPS:g} to {MAX_FPS:g}); re-encode the video with its rate"
            )
        claimed = float(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, first = cap.read()
        if not ok or first is None:
            raise VisionError(f"{p}: the video has no frames that decode (an empty recording?)")
        height, width = first.shape[:2]
        count = round(claimed) if math.isfinite(claimed) else 0
        if count <= 0:  # the container does not say: count them
            count = 1
            while cap.grab():
                count += 1
        elif count > 1:
            count = _last_decodable(cap, count, p)
    finally:
        cap.release()
    return VideoInfo(str(p), fps, count, int(width), int(height), count / fps)


def _last_decodable(cap: Any, claimed: int, path: Path) -> int:
    """The frame count, checking that the claimed last frame (or one just before) decodes."""
    import cv2

    for back in range(_COUNT_SLACK + 1):
        index = claimed - 1 - back
        if index <= 0:
            break
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        if cap.grab():
            return index + 1
    raise VisionError(
        f"{path}: truncated: the container says {claimed} frames but frame {claimed - 1} "
        "cannot be decoded (the file was cut short; copy it again from the camera)"
    )


def _stamp(time: datetime) -> str:
    return time.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def align(
    track: Track,
    info: VideoInfo,
    offset_s: float | None = None,
    mode: str = "takeoff",
    min_alt_rel_m: float = 0.5,
) -> datetime:
    """The UTC time of frame 0.

    Parameters
    ----------
    track : Track
        The flight log of the flight filmed.
    info : VideoInfo
        The footage.
    offset_s : float, optional
        Seconds from the track's first sample to frame 0; when given, ``mode`` is unused.
    mode : {"takeoff", "camera"}
        Frame 0 at the first sample ``min_alt_rel_m`` above home, or at the first camera
        event of the track.

    Raises
    ------
    VisionError
        For an unknown mode, a track with no takeoff or no camera event, or when the track
        does not cover the footage's time (both ranges named).
    """
    if offset_s is not None:
        if not math.isfinite(offset_s):
            raise VisionError(f"offset {offset_s} s must be a finite number of seconds")
        t0 = track.start + timedelta(seconds=float(offset_s))
        how = f"offset {offset_s:g} s"
    elif mode == "takeoff":
        airborne = track.airborne(min_alt_rel_m)
        if not airborne:
            raise VisionError(
                f"{track.source or 'track'}: never {min_alt_rel_m:g} m above home, so it has no "
                "takeoff to align the footage with; give the offset of frame 0 instead"
            )
        t0, how = airborne[0].time, "takeoff"
    elif mode == "camera":
        if not track.photos:
            raise VisionError(
                f"{track.source or 'track'}: no camera events to align the footage with; "
                "align on takeoff or give the offset of frame 0 instead"
            )
        t0, how = track.photos[0].time, "first camera event"
    else:
        raise VisionError(f"alignment mode {mode!r} is not one of: {', '.join(ALIGN_MODES)}")
    last = t0 + timedelta(seconds=info.time_s(max(info.frame_count - 1, 0)))
    slack = timedelta(seconds=COVER_SLACK_S)
    if t0 < track.start - slack or last > track.end + slack:
        room = track.duration_s - info.time_s(max(info.frame_count - 1, 0))
        hint = (
            f"offsets 0 to {room:.1f} s fit"
            if room >= 0
            else "the footage is longer than the track: is it the right log?"
        )
        name = f"the track {track.source}" if track.source else "the track"
        raise VisionError(
            f"{info.path}: the footage runs {_stamp(t0)} to {_stamp(last)} (aligned by {how}) "
            f"but {name} covers only {_stamp(track.start)} to {_stamp(track.end)}; {hint}"
        )
    return t0


#: The last frame is taken too when at least this share of the ground it sees is new.
END_NEW = 0.05


def _turned(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    return abs((a - b + 180.0) % 360.0 - 180.0) >= TURN_DEG


def plan_frames(
    info: VideoInfo,
    track: Track,
    t0: datetime,
    locator: Locator,
    max_overlap: float = MAX_OVERLAP,
) -> list[int]:
    """The indices of the frames :func:`select_frames` takes (see the module notes).

    Raises
    ------
    VisionError
        For ``max_overlap`` outside 0..<1, or a track sample without a heading.
    """
    from shapely.geometry import Polygon

    if not (math.isfinite(max_overlap) and 0.0 <= max_overlap < 1.0):
        raise VisionError(f"maximum overlap {max_overlap:g} must be within 0 to < 1")
    taken: list[int] = []
    last: Any = None
    last_area = 0.0
    last_yaw: float | None = None
    final: tuple[int, Any] | None = None  # the latest frame passed over since the last taken
    for index in range(info.frame_count):
        sample = track.at(t0 + timedelta(seconds=info.time_s(index)))
        coords = locator.footprint_coords(sample)
        if len(coords) < 3:
            continue
        seen = Polygon(coords)
        area = seen.area
        if area <= 0.0:
            continue
        if last is not None and not _turned(sample.yaw_deg, last_yaw):
            shared = seen.intersection(last).area
            if shared > max_overlap * max(area, last_area):
                final = (index, seen)
                continue
        taken.append(index)
        last, last_area, last_yaw = seen, area, sample.yaw_deg
        final = None
    if final is not None and final[1].intersection(last).area < (1.0 - END_NEW) * final[1].area:
        taken.append(final[0])  # the end of the footage shows ground no frame taken shows
    return taken


def _with_speed(track: Track, sample: TrackSample, locator: Locator) -> TrackSample:
    """``sample``, with a ground speed from the positions around it when the log has none."""
    if sample.ground_speed_ms is not None:
        return sample
    half = timedelta(seconds=0.5)
    lo, hi = max(sample.time - half, track.start), min(sample.time + half, track.end)
    span = (hi - lo).total_seconds()
    if span <= 0:
        return replace(sample, ground_speed_ms=0.0)
    a, b = track.at(lo), track.at(hi)
    xa, ya = locator.frame.point_to_local(a.lon_deg, a.lat_deg)
    xb, yb = locator.frame.point_to_local(b.lon_deg, b.lat_deg)
    return replace(sample, ground_speed_ms=math.hypot(xb - xa, yb - ya) / span)


def select_frames(
    path: str | Path,
    info: VideoInfo,
    track: Track,
    t0: datetime,
    locator: Locator,
    max_overlap: float = MAX_OVERLAP,
    every_frame: bool = False,
    *,
    indices: Sequence[int] | None = None,
) -> Iterator[Frame]:
    """The frames to detect on, in order, decoded one at a time.

    ``every_frame=True`` yields every frame (the baseline the selection is measured
    against); ``indices``, when given, are the frames to read, as :func:`plan_frames`
    returned them (so a caller that planned first, to show progress, does not plan twice). Each frame's ``sample`` is the track at its time, with a ground speed worked
    out from the positions around it when the log has none (placement errors use it).

    Raises
    ------
    VisionError
        When a frame before the last one wanted cannot be decoded (the file is damaged),
        or for the reasons :func:`plan_frames` gives.
    """
    if indices is not None:
        wanted = sorted(set(indices))
        if wanted and not (wanted[0] >= 0 and wanted[-1] < info.frame_count):
            raise VisionError(
                f"frame indices {wanted[0]}..{wanted[-1]} are outside the video's "
                f"0..{info.frame_count - 1}"
            )
    elif every_frame:
        wanted = list(range(info.frame_count))
    else:
        wanted = plan_frames(info, track, t0, locator, max_overlap)
    if not wanted:
        return
    p = Path(path)
    cap = _open(p)
    try:
        k = 0
        for index in range(wanted[-1] + 1):
            if not cap.grab():
                raise VisionError(
                    f"{p}: frame {index} of {info.frame_count} cannot be decoded "
                    "(the file is damaged or cut short)"
                )
            if index != wanted[k]:
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:
                raise VisionError(f"{p}: frame {index} of {info.frame_count} cannot be decoded")
            k += 1
            time_s = info.time_s(index)
            utc = t0 + timedelta(seconds=time_s)
            sample = _with_speed(track, track.at(utc), locator)
            yield Frame(index, time_s, utc, image, sample)
    finally:
        cap.release()
