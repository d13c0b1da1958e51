"""The detection pipeline end to end on rendered footage and photos with known defects.

A short nadir video (640x360, 10 fps) is rendered by :mod:`sim.render` along a straight
synthetic track over a small world with twelve defects. The detector is a fake that
"detects" the true defects: it recognises each decoded frame by its pixels (the same
decoder gives the same bytes), looks up the pose the renderer drew it from and projects
the defects' true outlines through that pose (:func:`sim.render.defect_boxes`). So no
weights are needed, and what is measured is the pipeline's own work: alignment, frame
selection, placement through the *track* (not the renderer's pose), de-duplication and
the redacted pictures.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import statistics
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mission.camera import PRESETS
from mission.geodesy import LocalFrame
from mission.optics import CameraPose, Intrinsics
from mission.track import Track, TrackSample
from sim.ground import Surface
from sim.marks import DEFECT_CLASSES, Mark
from sim.render import defect_boxes, render_track, render_view, track_pose
from sim.world import World
from vision.dedup import Defect
from vision.detector import Box
from vision.errors import VisionError
from vision.pipeline import Inspection, detect_footage, detect_photos
from vision.score import TrueDefect, score

CAMERA = PRESETS["mavic3-enterprise"]
HOME = (149.165230, -35.363261)
FRAME = LocalFrame(*HOME)
START = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
ALT_M = 40.0
SPEED_MS = 5.0
SIZE = (640, 360)
FPS = 10.0


def synthetic_world() -> World:
    """Twelve defects of the four classes, 9 m apart along x, on a concrete strip, and two
    look-alikes that a detector must leave alone."""
    marks = [
        Mark(f"d{i:02d}", DEFECT_CLASSES[i % 4], 10.0 + 9.0 * i, (-6.0, 0.0, 6.0)[i % 3], 1.0,
             15.0 * i, i)
        for i in range(12)
    ]  # fmt: skip
    marks += [
        Mark("oil-1", "oil", 30.0, 9.0, 1.0, 0.0, 1),
        Mark("mh-1", "manhole", 70.0, -9.0, 0.8),
    ]
    ground = Surface("concrete", ((-30.0, -30.0), (160.0, -30.0), (160.0, 30.0), (-30.0, 30.0)))
    return World("pipeline-test", HOME, (ground,), tuple(marks))


def straight_track(seconds: int = 30, yaw_deg: float = 90.0) -> Track:
    """East along y = 0 at 40 m, 5 m/s, a sample a second, home at the origin."""
    samples = []
    for i in range(seconds + 1):
        lon, lat = FRAME.point_to_wgs84(-5.0 + SPEED_MS * i, 0.0)
        samples.append(
            TrackSample(START + timedelta(seconds=i), lon, lat, ALT_M, None, 0.0, 0.0, yaw_deg,
                        SPEED_MS)
        )  # fmt: skip
    return Track(tuple(samples), home=(HOME[0], HOME[1], 584.0), source="straight.csv")


def _key(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


def _score(mark: Mark) -> float:
    return 0.5 + 0.45 * (zlib.crc32(mark.id.encode()) % 100) / 100.0


class TruthDetector:
    """Boxes of the true defects each known view sees (see the module notes)."""

    names: tuple[str, ...] = DEFECT_CLASSES

    def __init__(self, world: World, views: Iterable[tuple[np.ndarray, CameraPose]]) -> None:
        self.boxes: dict[str, list[Box]] = {}
        self.seen: set[str] = set()
        for image, pose in views:
            found = defect_boxes(world, pose)
            self.seen.update(m.id for m, _ in found)
            self.boxes.setdefault(_key(image), [Box(*xyxy, m.kind, _score(m)) for m, xyxy in found])
        self.calls = 0

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        self.calls += 1
        return list(self.boxes[_key(image_bgr)])


class PaintingRedactor:
    """Paints the whole picture one colour and says it blurred one region."""

    COLOUR = (7, 77, 177)

    def __init__(self) -> None:
        self.calls = 0

    def redact(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        self.calls += 1
        out = image.copy()
        out[:] = self.COLOUR
        return out, 1


class KeepRedactor:
    def redact(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        return image.copy(), 0


@dataclass(frozen=True)
class Flight:
    world: World
    track: Track
    video: Path
    frames: int
    detector: TruthDetector


def decoded_frames(video: Path) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(video))
    out = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        out.append(image)
    cap.release()
    return out


@pytest.fixture(scope="module")
def flight(tmp_path_factory: pytest.TempPathFactory) -> Flight:
    world, track = synthetic_world(), straight_track()
    video = tmp_path_factory.mktemp("footage") / "flight.mp4"
    rendered = render_track(world, track, CAMERA, video, fps=FPS, size=SIZE)
    k = Intrinsics.of(CAMERA, *SIZE)
    images = decoded_frames(video)
    assert len(images) == rendered.frames
    poses = [
        track_pose(world, track.at(rendered.start + timedelta(seconds=i / FPS)), k)
        for i in range(len(images))
    ]
    return Flight(
        world, track, video, len(images), TruthDetector(world, zip(images, poses, strict=True))
    )


def matches(world: World, defects: Iterable[Defect], seen: set[str], within_m: float = 2.0):
    """Each truth defect seen, matched one to one with a reported defect of its class within
    ``within_m`` (:func:`vision.score.score`): {truth id: (defect, distance)}."""
    defects = list(defects)
    truth = [TrueDefect(t.id, t.cls, t.lon, t.lat) for t in world.truth() if t.id in seen]
    got = score(defects, truth, world.frame, within_m)
    return {i: (defects[got.found_by[i]], gap) for i, gap in got.matched.items()}


def check_against_truth(inspection: Inspection, flight: Flight, seen: set[str]) -> list[float]:
    found = matches(flight.world, inspection.defects, seen)
    recall = len(found) / len(seen)
    assert recall >= 0.9, f"recall {recall:.2f}: missed {sorted(seen - set(found))}"
    # one record per defect: nothing left over (duplicates or strays)
    assert len(inspection.defects) == len(found)
    errors = [dist for _, dist in found.values()]
    assert statistics.median(errors) < 1.0
    for defect, dist in found.values():  # the stated error is not wildly optimistic
        assert dist < 3.0 * defect.error_m + 0.5
    return errors


def test_rendered_flight_gives_each_defect_once_placed_within_a_metre(flight: Flight):
    progress: list[tuple[int, int]] = []
    redactor = PaintingRedactor()
    inspection = detect_footage(
        flight.video,
        flight.track,
        CAMERA,
        flight.detector,
        redactor=redactor,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert len(flight.detector.seen) == 12
    check_against_truth(inspection, flight, flight.detector.seen)
    # coverage-based selection: a handful of the 300 frames, and each defect seen twice or so
    assert inspection.frames_total == flight.frames == 300
    assert 5 <= inspection.frames_processed <= 30
    assert flight.detector.calls == inspection.frames_processed
    assert sum(d.sightings for d in inspection.defects) >= 1.5 * len(inspection.defects)
    assert inspection.unplaced == 0 and inspection.detections == inspection.sightings
    # every picture kept went through the redactor, and only those
    assert redactor.calls == len(inspection.defects) == inspection.redacted_regions
    for d in inspection.defects:
        assert d.crop is not None and d.crop.ndim == 3 and min(d.crop.shape[:2]) >= 16
        assert (d.crop == PaintingRedactor.COLOUR).all()
        assert d.box is not None and d.box.x2 - d.box.x1 < d.crop.shape[1]
    # the particulars a report needs
    assert inspection.kind == "video" and inspection.camera == CAMERA.name
    assert inspection.weights == "TruthDetector" and inspection.classes == DEFECT_CLASSES
    assert inspection.t0 == START and inspection.alignment == "takeoff"
    assert inspection.home == HOME and len(inspection.track) >= 2
    assert sum(inspection.counts().values()) == len(inspection.defects)
    assert (inspection.width, inspection.height, inspection.fps) == (*SIZE, FPS)
    assert set(inspection.timings) == {"decode", "detect", "place", "merge", "redact", "total"}
    dones = [d for d, _ in progress]
    assert dones == sorted(dones) and progress[-1] == (300, 300)
    assert all(total == 300 for _, total in progress)


def test_every_frame_finds_the_same_defects_with_many_more_sightings(flight: Flight):
    selected = detect_footage(flight.video, flight.track, CAMERA, flight.detector,
                              redactor=KeepRedactor())  # fmt: skip
    every = detect_footage(flight.video, flight.track, CAMERA, flight.detector,
                           redactor=KeepRedactor(), every_frame=True)  # fmt: skip
    assert every.frames_processed == every.frames_total == flight.frames
    check_against_truth(every, flight, flight.detector.seen)
    assert sorted(d.cls for d in every.defects) == sorted(d.cls for d in selected.defects)
    assert every.sightings > 10 * selected.sightings
    # with every sighting averaged in, the stated error shrinks
    assert statistics.median(d.error_m for d in every.defects) < statistics.median(
        d.error_m for d in selected.defects
    )


def test_an_offset_aligns_as_takeoff_does_and_a_wrong_one_misplaces(flight: Flight):
    aligned = detect_footage(flight.video, flight.track, CAMERA, flight.detector, offset_s=0.0,
                             redactor=KeepRedactor())  # fmt: skip
    assert aligned.alignment == "offset 0 s"
    check_against_truth(aligned, flight, flight.detector.seen)
    late = detect_footage(flight.video, flight.track, CAMERA, flight.detector, offset_s=0.5,
                          redactor=KeepRedactor())  # fmt: skip
    # half a second late is 2.5 m along the track: nothing lands within a metre
    assert not matches(flight.world, late.defects, flight.detector.seen, within_m=1.0)


def test_oblique_footage_with_the_pitch_given_places_defects_too(tmp_path: Path):
    """Looking ahead 40 degrees off nadir (the track has no gimbal pitch: it is given)."""
    world, track = synthetic_world(), straight_track()
    video = tmp_path / "oblique.mp4"
    rendered = render_track(world, track, CAMERA, video, fps=5.0, size=SIZE,
                            gimbal_pitch_deg=-50.0)  # fmt: skip
    k = Intrinsics.of(CAMERA, *SIZE)
    images = decoded_frames(video)
    poses = [
        track_pose(world, track.at(rendered.start + timedelta(seconds=i / 5.0)), k, -50.0)
        for i in range(len(images))
    ]
    detector = TruthDetector(world, zip(images, poses, strict=True))
    inspection = detect_footage(video, track, CAMERA, detector, redactor=KeepRedactor(),
                                gimbal_pitch_deg=-50.0)  # fmt: skip
    assert len(detector.seen) >= 10
    check_against_truth(inspection, Flight(world, track, video, len(images), detector),
                        detector.seen)  # fmt: skip


def test_boxes_above_the_horizon_are_counted_not_placed(flight: Flight):
    class Sky:
        names: tuple[str, ...] = ("crack",)

        def detect(self, image: np.ndarray) -> list[Box]:
            return [Box(300.0, 2.0, 320.0, 12.0, "crack", 0.9)]

    # told the camera looked nearly level, the top of each frame is sky
    inspection = detect_footage(flight.video, flight.track, CAMERA, Sky(),
                                redactor=KeepRedactor(), gimbal_pitch_deg=-10.0)  # fmt: skip
    assert inspection.defects == ()
    assert inspection.detections == inspection.unplaced == inspection.frames_processed > 0


def test_bad_footage_and_a_short_track_are_refused(flight: Flight, tmp_path: Path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(flight.video.read_bytes()[:5000])
    with pytest.raises(VisionError, match=r"broken\.mp4"):
        detect_footage(broken, flight.track, CAMERA, flight.detector, redactor=KeepRedactor())
    short = Track(flight.track.samples[:10], home=flight.track.home, source="short.csv")
    with pytest.raises(VisionError, match="covers only"):
        detect_footage(flight.video, short, CAMERA, flight.detector, redactor=KeepRedactor())
    assert flight.detector.calls >= 0  # nothing above needed a detection


def test_the_default_redactor_is_used_when_none_is_given(
    flight: Flight, monkeypatch: pytest.MonkeyPatch
):
    from vision.redact import Redactor

    try:
        Redactor()
    except VisionError as exc:  # OpenCV 5 ships neither the Haar cascades nor HOG
        pytest.skip(f"OpenCV's redaction detectors are missing here: {exc}")
    found: list[int] = []
    real = Redactor.redact

    def counted(self: Redactor, image: np.ndarray) -> tuple[np.ndarray, int]:
        out, regions = real(self, image)
        found.append(regions)
        return out, regions

    monkeypatch.setattr(Redactor, "redact", counted)
    inspection = detect_footage(flight.video, flight.track, CAMERA, flight.detector)
    assert len(found) == len(inspection.defects) == 12
    assert inspection.redacted_regions == sum(found)
    assert all(d.crop is not None for d in inspection.defects)


# --- photos -------------------------------------------------------------------------------


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = math.floor(value)
    m = math.floor((value - d) * 60)
    return float(d), float(m), round((value - d - m / 60) * 3600, 5)


def write_photo(path: Path, image: np.ndarray, sample: TrackSample, **xmp: float) -> None:
    """A JPEG with EXIF GPS position and time and a DJI XMP packet."""
    from PIL import ExifTags, Image

    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "S" if sample.lat_deg < 0 else "N"
    gps[ExifTags.GPS.GPSLatitude] = _dms(sample.lat_deg)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W" if sample.lon_deg < 0 else "E"
    gps[ExifTags.GPS.GPSLongitude] = _dms(sample.lon_deg)
    gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
    gps[ExifTags.GPS.GPSAltitude] = 584.0 + sample.alt_rel_m
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = sample.time.strftime("%Y:%m:%d %H:%M:%S")
    sub[ExifTags.Base.OffsetTimeOriginal] = "+00:00"
    attrs = " ".join(f'drone-dji:{k}="{v:+.2f}"' for k, v in xmp.items())
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        f'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" {attrs}/></rdf:RDF></x:xmpmeta>'
    ).encode()
    Image.fromarray(image[:, :, ::-1]).save(path, "JPEG", exif=exif, quality=92, xmp=packet)


def decoded_photo(path: Path) -> np.ndarray:
    """The photo's pixels as :func:`vision.photos.photo_frames` decodes them."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert image is not None
    return np.asarray(image)


@pytest.fixture(scope="module")
def photo_flight(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Flight]:
    """Nadir photos every 15 m along the straight track (640x480, the sensor's 4:3)."""
    world, track = synthetic_world(), straight_track()
    folder = tmp_path_factory.mktemp("photos")
    k = Intrinsics.of(CAMERA, 640, 480)
    views = []
    for n in range(10):
        sample = track.at(START + timedelta(seconds=3.0 * n))
        pose = track_pose(world, sample, k)
        path = folder / f"DJI_{n + 1:04d}.JPG"
        write_photo(path, render_view(world, pose), sample, RelativeAltitude=ALT_M,
                    GimbalPitchDegree=-90.0, GimbalYawDegree=90.0)  # fmt: skip
        views.append((decoded_photo(path), pose))
    return folder, Flight(world, track, folder, 10, TruthDetector(world, views))


def test_a_photo_folder_gives_each_defect_once(photo_flight: tuple[Path, Flight]):
    folder, flight = photo_flight
    progress: list[tuple[int, int]] = []
    inspection = detect_photos(
        folder,
        CAMERA,
        flight.detector,
        redactor=KeepRedactor(),
        progress=lambda done, total: progress.append((done, total)),
    )
    assert inspection.kind == "photos" and inspection.alignment == "photo tags"
    assert inspection.frames_total == inspection.frames_processed == 10
    assert progress == [(n, 10) for n in range(1, 11)]
    check_against_truth(inspection, flight, flight.detector.seen)
    assert inspection.sightings > len(inspection.defects)
    assert (inspection.width, inspection.height) == (640, 480)
    # without a track, the first photo is the frame's origin; with one, its home
    assert inspection.home == pytest.approx(inspection.track[0], abs=1e-7)
    with_track = detect_photos(folder, CAMERA, flight.detector, track=flight.track,
                               redactor=KeepRedactor())  # fmt: skip
    assert with_track.home == HOME
    assert [(d.cls, d.sightings) for d in with_track.defects] == [
        (d.cls, d.sightings) for d in inspection.defects
    ]


def test_a_photo_without_heading_is_refused_before_any_detection(tmp_path: Path):
    sample = straight_track().samples[0]
    write_photo(tmp_path / "a.jpg", np.zeros((48, 64, 3), np.uint8), sample, RelativeAltitude=40.0)

    class Never:
        names: tuple[str, ...] = ("crack",)

        def detect(self, image: Any) -> list[Box]:
            raise AssertionError("no detection expected")

    with pytest.raises(VisionError, match=r"a\.jpg: no camera heading"):
        detect_photos(tmp_path, CAMERA, Never(), redactor=KeepRedactor())


def test_score_matches_one_to_one_nearest_first_by_class():
    truth = [TrueDefect("a", "crack", *FRAME.point_to_wgs84(0.0, 0.0)),
             TrueDefect("b", "crack", *FRAME.point_to_wgs84(1.5, 0.0)),
             TrueDefect("c", "rust", *FRAME.point_to_wgs84(10.0, 0.0))]  # fmt: skip

    @dataclasses.dataclass
    class Found:
        cls: str
        lon: float
        lat: float

    found = [Found("crack", *FRAME.point_to_wgs84(1.2, 0.0)),  # nearer b than a
             Found("crack", *FRAME.point_to_wgs84(0.4, 0.0)),
             Found("crack", *FRAME.point_to_wgs84(10.0, 0.0)),  # rust's place, wrong class
             Found("rust", *FRAME.point_to_wgs84(13.0, 0.0))]  # beyond 2 m  # fmt: skip
    got = score(found, truth, FRAME)
    assert got.found_by == {"b": 0, "a": 1}
    assert got.matched["b"] == pytest.approx(0.3, abs=1e-6)
    assert (got.recall, got.precision) == pytest.approx((2 / 3, 2 / 4))
    assert got.median_error_m == pytest.approx(0.35, abs=1e-6)
    assert score(found, truth, FRAME, radius_m=3.5).matched.keys() == {"a", "b", "c"}


class ScoredTruth:
    """The true boxes, scored 0.3 on even calls and 0.15 on odd ones, returned only when they
    reach the detector's own threshold ``conf`` (as a loaded model does)."""

    names: tuple[str, ...] = DEFECT_CLASSES

    def __init__(self, truth: TruthDetector, conf: float = 0.25) -> None:
        self.truth, self.conf = truth, conf
        self.thresholds: list[float] = []

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        self.thresholds.append(self.conf)
        score = 0.3 if len(self.thresholds) % 2 else 0.15
        boxes = [dataclasses.replace(b, confidence=score) for b in self.truth.detect(image_bgr)]
        return [b for b in boxes if b.confidence >= self.conf]


class StrongOnly:
    """The same looks without a threshold of its own: weak boxes never reach the pipeline."""

    names: tuple[str, ...] = DEFECT_CLASSES

    def __init__(self, truth: TruthDetector) -> None:
        self.scored = ScoredTruth(truth)  # not ``inner``: the pipeline would reach it

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        return self.scored.detect(image_bgr)


class OnlyWeak(ScoredTruth):
    """Every true box, always scored 0.15."""

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        return [dataclasses.replace(b, confidence=0.15) for b in self.truth.detect(image_bgr)]


def test_weak_sightings_place_defects_but_never_report_one_alone(flight: Flight):
    scored = ScoredTruth(flight.detector)
    weak = detect_footage(flight.video, flight.track, CAMERA, scored, redactor=KeepRedactor())
    # the pipeline looked down to 40 % of the threshold and gave the detector its own back
    assert scored.thresholds and all(t == pytest.approx(0.1) for t in scored.thresholds)
    assert scored.conf == 0.25
    strong = detect_footage(flight.video, flight.track, CAMERA, StrongOnly(flight.detector),
                            redactor=KeepRedactor())  # fmt: skip
    assert sorted(d.cls for d in weak.defects) == sorted(d.cls for d in strong.defects)
    assert all(d.confidence >= 0.25 for d in weak.defects)
    assert weak.sightings > strong.sightings  # the weak looks joined the defects' records
    assert weak.detections > strong.detections
    # placed from more looks: the stated errors shrink
    assert statistics.median(d.error_m for d in weak.defects) < statistics.median(
        d.error_m for d in strong.defects
    )

    nothing = detect_footage(flight.video, flight.track, CAMERA, OnlyWeak(flight.detector, 0.2),
                             redactor=KeepRedactor())  # fmt: skip
    assert nothing.defects == () and nothing.detections > 0  # seen, weakly: not reported
