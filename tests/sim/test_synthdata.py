"""Training data of the synthetic world: YOLO layout, exact boxes, the same files each time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mission.optics import CameraPose, Intrinsics
from sim.errors import SimError
from sim.marks import DEFECT_CLASSES, Mark
from sim.synthdata import AIM, MIN_DISC_SPACING_PX, _resolved, make_dataset

N_IMAGES = 12
IMGSZ = 320


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    result = make_dataset(3, out, N_IMAGES, IMGSZ)
    assert (result.train_images, result.val_images) == (N_IMAGES - 2, 2)  # a fifth to val
    assert result.data_yaml == out / "data.yaml"
    assert sum(result.boxes.values()) > N_IMAGES  # most views hold several defects
    return out


def _labels(root: Path) -> list[tuple[Path, list[tuple[int, float, float, float, float]]]]:
    out = []
    for image in sorted((root / "images").glob("*/*.jpg")):
        label = root / "labels" / image.parent.name / f"{image.stem}.txt"
        rows = [line.split() for line in label.read_text().splitlines()]
        out.append(
            (image, [(int(c), float(x), float(y), float(w), float(h)) for c, x, y, w, h in rows])
        )
    return out


def test_the_yolo_layout(dataset: Path):
    yaml = (dataset / "data.yaml").read_text()
    assert f'path: "{dataset.resolve()}"' in yaml
    assert "train: images/train\nval: images/val\n" in yaml
    assert "names:\n" + "".join(f"  {i}: {n}\n" for i, n in enumerate(DEFECT_CLASSES)) in yaml
    pairs = _labels(dataset)
    assert len(pairs) == N_IMAGES
    assert len(list((dataset / "images" / "val").glob("*.jpg"))) == 2
    for _image, rows in pairs:
        for cls, cx, cy, w, h in rows:
            assert 0 <= cls < len(DEFECT_CLASSES)
            assert 0 < w <= 1 and 0 < h <= 1
            assert cx - w / 2 + 1e-6 >= 0 and cx + w / 2 <= 1 + 1e-6
            assert cy - h / 2 + 1e-6 >= 0 and cy + h / 2 <= 1 + 1e-6


def _looks_like(cls: str, box: np.ndarray) -> bool:
    b, g, r = box[..., 0], box[..., 1], box[..., 2]
    grey = box.mean(axis=2)
    if cls == "rust":  # rust-coloured pixels
        return bool(((r > 1.4 * b) & (r > g + 12)).mean() > 0.08)
    if cls == "crack":  # a dark line, on any ground
        return bool(np.percentile(grey, 3) < 0.8 * np.median(grey))
    return bool(np.percentile(grey, 97) > np.median(grey) - 5 and grey.max() > 120)  # pale


def test_boxes_hold_what_their_class_looks_like(dataset: Path):
    """Rust boxes hold rust-coloured pixels, crack boxes a dark line, spalling a pale patch;
    the same boxes moved aside by their own width mostly do not."""
    import cv2

    hits, aside = [], []
    for image_path, rows in _labels(dataset):
        read = cv2.imread(str(image_path))
        assert read is not None
        image = read.astype(float)
        for cls, cx, cy, w, h in rows:
            name = DEFECT_CLASSES[cls]
            x1, x2 = round((cx - w / 2) * IMGSZ), round((cx + w / 2) * IMGSZ)
            y1, y2 = round((cy - h / 2) * IMGSZ), round((cy + h / 2) * IMGSZ)
            if min(x2 - x1, y2 - y1) < 8 or name == "missing_disc":
                continue
            hits.append(_looks_like(name, image[y1:y2, x1:x2]))
            dx = x2 - x1 if x2 + (x2 - x1) <= IMGSZ else -(x2 - x1)
            aside.append(_looks_like(name, image[y1:y2, x1 + dx : x2 + dx]))
    assert len(hits) >= 10
    assert np.mean(hits) >= 0.9 and np.mean(aside) <= 0.5


def test_the_same_arguments_give_the_same_files(dataset: Path, tmp_path: Path):
    again = tmp_path / "again"
    make_dataset(3, again, 3, IMGSZ)
    for name in ("000000", "000001", "000002"):
        a = next(dataset.glob(f"labels/*/{name}.txt"))
        b = next(again.glob(f"labels/*/{name}.txt"))
        assert a.read_text() == b.read_text() and a.parent.name == b.parent.name
        assert (
            next(dataset.glob(f"images/*/{name}.jpg")).read_bytes()
            == next(again.glob(f"images/*/{name}.jpg")).read_bytes()
        )


def test_a_missing_disc_is_labelled_only_where_its_gap_is_resolved():
    """Discs 0.2 m apart, straight down through a 1000 px focal length: 5 px apart from 40 m,
    2.5 px from 80 m, where the gap looks like an intact string and is left unlabelled."""
    k = Intrinsics(IMGSZ, IMGSZ, 1000.0)
    near, far = (CameraPose.at(k, 0.0, 0.0, z, 0.0, -90.0) for z in (40.0, 80.0))
    assert 0.2 * 1000.0 / 80.0 < MIN_DISC_SPACING_PX < 0.2 * 1000.0 / 40.0
    for angle in (0.0, 30.0, 90.0):
        gap = Mark("m", "missing_disc", 3.0, -2.0, 0.6, angle_deg=angle)
        assert _resolved(gap, near) and not _resolved(gap, far)
    assert _resolved(Mark("c", "crack", 3.0, -2.0, 0.6), far)  # other classes: always
    assert set(AIM) == set(DEFECT_CLASSES)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_images": 0}, "image count 0"),
        ({"imgsz": 32}, "image size 32"),
        ({"val_fraction": 1.0}, "validation fraction 1.0"),
    ],
)
def test_bad_requests(tmp_path: Path, kwargs, message):
    args = {"world_seed": 1, "out_dir": tmp_path / "d", "n_images": 2, "imgsz": 128, **kwargs}
    with pytest.raises(SimError, match=message):
        make_dataset(**args)
    assert not (tmp_path / "d").exists()


def test_an_existing_dataset_is_not_overwritten(dataset: Path):
    with pytest.raises(SimError, match="already holds a dataset"):
        make_dataset(3, dataset, 2, IMGSZ)
