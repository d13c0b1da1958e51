"""Training data for the synthetic world's defect model: random views with exact boxes.

:func:`make_dataset` renders ``n_images`` square views of random districts
(:meth:`sim.world.World.random`, a new district every :data:`IMAGES_PER_WORLD` images) from
random poses, nadir and oblique, most of them aimed near a defect of a class drawn with the
weights of :data:`AIM` (the classes hardest to see, thin cracks and missing discs, more often
than their share of the world), and writes them in YOLO's layout::

    OUT/images/train/000001.jpg   OUT/labels/train/000001.txt   (class cx cy w h, 0..1)
    OUT/images/val/000000.jpg     OUT/labels/val/000000.txt
    OUT/data.yaml                 path (absolute), train, val, names

Views keep the pixel scale of footage ``frame_width_px`` across (the camera's focal length
at that width, give or take a quarter), so a model trained at ``imgsz`` on these images
finds defects in whole frames that wide (or in ``imgsz`` tiles of them) at altitudes of
20-60 m. Boxes are the exact projections of each defect's outline
(:func:`sim.render.defect_boxes`), clipped to the image; defects with under half their box
in the image are not labelled, nor is a missing disc whose gap the view does not resolve (its
disc spacing under :data:`MIN_DISC_SPACING_PX` pixels): there it looks like an intact string,
and a label would teach the detector to guess. Brightness, contrast, blur, noise and JPEG
quality vary per image. The same arguments give the same files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mission.camera import Camera
from mission.optics import CameraPose, Intrinsics
from sim.errors import SimError
from sim.marks import DEFECT_CLASSES, Mark
from sim.render import Renderer, defect_boxes
from sim.world import World

__all__ = ["AIM", "IMAGES_PER_WORLD", "MIN_DISC_SPACING_PX", "DatasetResult", "make_dataset"]

IMAGES_PER_WORLD = 150
ALTITUDE_M = (20.0, 60.0)
GIMBAL_DEG = (-90.0, -45.0)
DEFAULT_CAMERA = "mavic3-enterprise"
#: How often a view aimed at a defect picks each class (among those the district has).
AIM = {"crack": 0.3, "rust": 0.15, "spalling": 0.15, "missing_disc": 0.4}
#: A missing disc is labelled where its string's discs are at least this far apart in pixels.
MIN_DISC_SPACING_PX = 3.5


@dataclass(frozen=True)
class DatasetResult:
    """What :func:`make_dataset` wrote: the ``data.yaml``, image counts, boxes per class."""

    data_yaml: Path
    train_images: int
    val_images: int
    boxes: dict[str, int]


@dataclass(frozen=True)
class _View:
    index: int
    world: int
    x: float
    y: float
    z: float
    yaw: float
    gimbal: float
    focal: float


def _views(
    worlds: list[World], n_images: int, seed: int, focal: float, extent_m: float, imgsz: int
) -> list[_View]:
    views = []
    for i in range(n_images):
        rng = np.random.default_rng([seed, i, 7])
        wi = i // IMAGES_PER_WORLD
        by_class = [[m for m in worlds[wi].defects if m.kind == c] for c in DEFECT_CLASSES]
        by_class = [group for group in by_class if group]
        aim = np.array([AIM[group[0].kind] for group in by_class])
        z = float(rng.uniform(*ALTITUDE_M))
        gimbal = -90.0 if rng.random() < 0.5 else float(rng.uniform(*GIMBAL_DEG))
        yaw = float(rng.uniform(0.0, 360.0))
        f = focal * float(rng.uniform(0.75, 1.25))
        if by_class and rng.random() < 0.85:  # a class by AIM, then one of its defects
            group = by_class[int(rng.choice(len(by_class), p=aim / aim.sum()))]
            d = group[int(rng.integers(len(group)))]
            tx, ty = d.x_m, d.y_m
        else:
            tx, ty = (float(v) for v in rng.uniform(-0.4, 0.4, 2) * extent_m)
        # where the image's centre looks: near the target, which lands anywhere in the view
        spread = 0.3 * z / f * imgsz
        lx, ly = tx + rng.uniform(-spread, spread), ty + rng.uniform(-spread, spread)
        back = z / math.tan(math.radians(-gimbal)) if gimbal > -89.999 else 0.0
        t = math.radians(yaw)
        x, y = lx - back * math.sin(t), ly - back * math.cos(t)
        views.append(_View(i, wi, float(x), float(y), z, yaw, gimbal, f))
    return views


def _resolved(mark: Mark, pose: CameraPose) -> bool:
    """Whether ``pose`` resolves ``mark``: for a missing disc, whether its string's disc spacing
    (a third of its label's length, along the string) spans :data:`MIN_DISC_SPACING_PX`."""
    if mark.kind != "missing_disc":
        return True
    t = math.radians(mark.angle_deg)
    half = np.array([math.cos(t), math.sin(t), 0.0]) * mark.size_m / 2
    centre = np.array([mark.x_m, mark.y_m, 0.0])
    pixels, _ahead = pose.project(np.array([centre - half, centre + half]))
    return float(np.hypot(*(pixels[1] - pixels[0]))) / 3.0 >= MIN_DISC_SPACING_PX


def _augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import cv2

    gain, shift = np.float32(rng.uniform(0.8, 1.2)), np.float32(rng.uniform(-15.0, 15.0))
    img: np.ndarray = image.astype(np.float32) * gain + shift
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 1.1)))
    if rng.random() < 0.4:
        img += rng.normal(0.0, rng.uniform(1.5, 5.0), img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _yolo_lines(boxes: list[tuple[str, tuple[float, float, float, float]]], size: int) -> str:
    lines = []
    for cls, (x1, y1, x2, y2) in boxes:
        cx, cy = (x1 + x2) / 2 / size, (y1 + y2) / 2 / size
        w, h = (x2 - x1) / size, (y2 - y1) / size
        lines.append(f"{DEFECT_CLASSES.index(cls)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    return "".join(lines)


def data_yaml(root: Path) -> str:
    """The ``data.yaml`` of a dataset at ``root`` (absolute path, as Ultralytics wants)."""
    names = "".join(f"  {i}: {name}\n" for i, name in enumerate(DEFECT_CLASSES))
    return (
        "# skyledger synthetic-world defects (sim.synthdata)\n"
        f"path: {json_str(str(root.resolve()))}\n"
        "train: images/train\nval: images/val\n"
        f"nc: {len(DEFECT_CLASSES)}\nnames:\n{names}"
    )


def json_str(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    import json

    return json.dumps(text)


def make_dataset(
    world_seed: int,
    out_dir: str | os.PathLike[str],
    n_images: int,
    imgsz: int = 640,
    *,
    val_fraction: float = 0.2,
    camera: Camera | None = None,
    frame_width_px: int = 1920,
    extent_m: float = 200.0,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetResult:
    """Write a YOLO dataset of ``n_images`` random ``imgsz`` x ``imgsz`` views into ``out_dir``
    (created; an existing ``data.yaml`` there is refused). See the module's notes."""
    import cv2

    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise SimError(f"image count {n_images!r} must be a whole number >= 1")
    if isinstance(imgsz, bool) or not isinstance(imgsz, int) or not 64 <= imgsz <= 4096:
        raise SimError(f"image size {imgsz!r} must be a whole number of pixels, 64..4096")
    if not (isinstance(val_fraction, float | int) and 0.0 < val_fraction < 1.0):
        raise SimError(f"validation fraction {val_fraction!r} must be between 0 and 1")
    root = Path(out_dir)
    if (root / "data.yaml").exists():
        raise SimError(f"{str(root)!r} already holds a dataset (data.yaml); choose a new folder")
    if root.exists() and not root.is_dir():
        raise SimError(f"{str(root)!r} is a file, not a folder")
    if camera is None:
        from mission.camera import PRESETS

        camera = PRESETS[DEFAULT_CAMERA]
    focal = Intrinsics.of(camera, frame_width_px, frame_width_px).focal_px
    n_worlds = math.ceil(n_images / IMAGES_PER_WORLD)
    worlds = [World.random(world_seed * 1000 + k, extent_m=extent_m) for k in range(n_worlds)]
    views = _views(worlds, n_images, world_seed, focal, extent_m, imgsz)
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(DEFECT_CLASSES, 0)
    n_val = 0
    # near views one after another, so texture tiles are reused
    order = sorted(views, key=lambda v: (v.world, round(v.y / 40.0), round(v.x / 40.0)))
    renderer: Renderer | None = None
    for done, v in enumerate(order, 1):
        if renderer is None or renderer.world is not worlds[v.world]:
            renderer = Renderer(worlds[v.world], cache_tiles=400, pad_px=0)
        k = Intrinsics(imgsz, imgsz, v.focal)
        pose = CameraPose.at(k, v.x, v.y, v.z, v.yaw, v.gimbal)
        rng = np.random.default_rng([world_seed, v.index, 11])
        image = _augment(renderer.view(pose), rng)
        seen = defect_boxes(worlds[v.world], pose, 0.5, 3.0)
        boxes = [(m.kind, box) for m, box in seen if _resolved(m, pose)]
        for cls, _box in boxes:
            counts[cls] += 1
        val = math.floor((v.index + 1) * val_fraction) > math.floor(v.index * val_fraction)
        n_val += val
        split = "val" if val else "train"
        name = f"{v.index:06d}"
        quality = int(rng.integers(75, 96))
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise SimError(f"OpenCV could not encode image {name} as JPEG")
        (root / "images" / split / f"{name}.jpg").write_bytes(jpeg.tobytes())
        (root / "labels" / split / f"{name}.txt").write_text(_yolo_lines(boxes, imgsz))
        if progress is not None:
            progress(done, n_images)
    (root / "data.yaml").write_text(data_yaml(root))
    return DatasetResult(root / "data.yaml", n_images - n_val, n_val, counts)
