"""Privacy redaction.

What these tests show, and what they do not:

- the blurring itself (on any region handed to it) destroys the detail of the region and
  leaves the rest of the picture as it was;
- the plumbing (finders run on a shrunk copy, regions scaled back, duplicates counted once,
  the count returned) with stand-in finders;
- OpenCV's own detectors on real photographs that ship inside installed packages (a portrait
  in Matplotlib's sample data, Ultralytics' two sample pictures): faces and people are found
  and blurred. These are skipped when the photos or OpenCV's cascades are absent (OpenCV 5
  has none). Three photos are no measure of recall: nothing here says how many faces a drone
  picture would hide.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from vision.errors import VisionError
from vision.redact import Redactor, blur_regions, opencv_finders


def _detail(patch: np.ndarray) -> float:
    """High-frequency energy of a patch: the variance of its Laplacian."""
    import cv2

    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _noise(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- blurring


def test_blurring_destroys_the_detail_of_the_region_only() -> None:
    image = _noise()
    out = blur_regions(image, [(100, 60, 80, 100)], pad=0.0)
    region = (slice(60, 160), slice(100, 180))
    assert _detail(out[region]) < 0.02 * _detail(image[region])
    assert out[region].astype(float).std() < 0.3 * image[region].astype(float).std()
    untouched = np.ones(image.shape[:2], bool)
    untouched[region] = False
    assert np.array_equal(out[untouched], image[untouched])
    assert not np.shares_memory(out, image)


def test_blurring_pads_the_region() -> None:
    image = _noise()
    out = blur_regions(image, [(100, 100, 40, 40)], pad=0.25)
    assert not np.array_equal(out[90:100, 100:140], image[90:100, 100:140])  # 10 px above
    assert np.array_equal(out[80:89, 100:140], image[80:89, 100:140])


def test_regions_over_the_border_are_clipped_and_empty_ones_skipped() -> None:
    image = _noise(100, 100)
    out = blur_regions(image, [(-30, -30, 60, 60), (500, 500, 10, 10), (10, 10, 0, 0)])
    assert _detail(out[:30, :30]) < 0.05 * _detail(image[:30, :30])
    assert np.array_equal(out[50:, 50:], image[50:, 50:])
    assert np.array_equal(blur_regions(image, []), image)


def test_a_small_face_sized_region_is_blurred_too() -> None:
    image = _noise(60, 60)
    out = blur_regions(image, [(20, 20, 12, 12)], pad=0.0)
    assert _detail(out[20:32, 20:32]) < 0.2 * _detail(image[20:32, 20:32])


# --------------------------------------------------------------------------- plumbing


def test_the_regions_found_are_blurred_and_counted() -> None:
    image = _noise()
    redactor = Redactor(finders=[lambda img: [(10, 10, 40, 40)], lambda img: [(200, 100, 50, 80)]])
    out, count = redactor.redact(image)
    assert count == 2
    assert _detail(out[10:50, 10:50]) < 0.05 * _detail(image[10:50, 10:50])
    assert _detail(out[100:180, 200:250]) < 0.05 * _detail(image[100:180, 200:250])


def test_a_face_found_twice_or_inside_a_person_counts_once() -> None:
    finders = [
        lambda img: [(100, 50, 40, 40)],  # frontal
        lambda img: [(102, 52, 40, 38)],  # the same face in profile
        lambda img: [(80, 30, 90, 200)],  # the person around it
        lambda img: [(10, 10, 20, 20)],  # someone else
    ]
    _, count = Redactor(finders=finders).redact(_noise())
    assert count == 2


def test_finders_see_a_shrunk_picture_and_regions_are_scaled_back() -> None:
    seen: list[tuple[int, ...]] = []

    def finder(img: np.ndarray) -> list[tuple[int, int, int, int]]:
        seen.append(img.shape)
        return [(50, 25, 10, 20)]

    image = _noise(1000, 2000)
    redactor = Redactor(finders=[finder], max_side=500)
    assert redactor.find(image) == [(200, 100, 40, 80)]
    assert seen == [(250, 500, 3)]


def test_nothing_found_nothing_changed() -> None:
    image = _noise()
    out, count = Redactor(finders=[lambda img: []]).redact(image)
    assert count == 0 and np.array_equal(out, image)


def test_an_opencv_without_cascades_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    monkeypatch.delattr(cv2, "CascadeClassifier", raising=False)
    with pytest.raises(VisionError, match=r"lacks what redaction needs.*opencv-python>=4\.8,<5"):
        Redactor()


def test_a_tiny_max_side_is_refused() -> None:
    with pytest.raises(VisionError, match="max_side 10"):
        Redactor(finders=[], max_side=10)


# --------------------------------------------------------------------------- real photos


def _photo(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pytest.skip(f"{package} is not installed (its sample photo is used here)")
    path = Path(spec.origin).parent.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    return path


def _read(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None
    return image


@pytest.fixture(scope="module")
def opencv_redactor() -> Redactor:
    try:
        opencv_finders()
    except VisionError as exc:
        pytest.skip(str(exc))
    return Redactor()


def test_a_portrait_s_face_is_found_and_blurred(opencv_redactor: Redactor) -> None:
    image = _read(_photo("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg"))
    regions = opencv_redactor.find(image)
    # The face is about x 150..380, y 100..330 in this 512x600 portrait.
    faces = [r for r in regions if 100 < r[0] + r[2] / 2 < 400 and 100 < r[1] + r[3] / 2 < 350]
    assert faces
    out, count = opencv_redactor.redact(image)
    assert count == len(regions) >= 1
    face = (slice(160, 300), slice(200, 330))  # eyes, nose, mouth
    assert _detail(out[face]) < 0.1 * _detail(image[face])


@pytest.mark.slow
def test_faces_and_people_in_street_photos_are_found(opencv_redactor: Redactor) -> None:
    del opencv_redactor  # only its skip matters here
    zidane = _read(_photo("ultralytics", "assets", "zidane.jpg"))
    bus = _read(_photo("ultralytics", "assets", "bus.jpg"))
    assert len(Redactor(people=False).find(zidane)) >= 2  # two men facing the camera
    out, count = Redactor(faces=False).redact(bus)  # pedestrians in front of a bus
    assert count >= 1
    assert _detail(out) < _detail(bus)
