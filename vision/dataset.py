"""Detection datasets: Pascal VOC and YOLO folders in, one YOLO layout with a fixed split out.

``skyledger vision train`` and ``eval`` accept either

- a Pascal VOC folder: ``images/*.jpg|png`` and ``annotations/*.xml`` (one file per image), or
- a YOLO folder: ``data.yaml`` naming ``train``/``val`` image folders and ``names``, or plain
  ``images/`` and ``labels/`` (``*.txt``: ``class cx cy w h``, normalised) without a split.

Both become :func:`prepare`'s layout ``images/{train,val}``, ``labels/{train,val}`` and a
``data.yaml``. Where the source has no split, the project makes its own: images are grouped by
the set of classes they show and, within each group, ordered by the SHA-256 of their file name;
every ``1/val_fraction``-th goes to validation. The split therefore depends on names alone, not
on the order files are listed, and keeps rare classes in both halves.

``balance`` thins the training list (only): every training image that shows the rarest class
stays, and of the others only as many as those, chosen by the SHA-256 of their names. A pass
then shows the rare class in half its images and costs a fraction of a full pass; it suits
going on from weights that already know the common classes. Validation is never thinned.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mission.errors import MissionError
from mission.kmlxml import parse_xml
from vision.errors import VisionError

__all__ = [
    "Annotation",
    "LabelBox",
    "Prepared",
    "prepare",
    "read_voc",
    "voc_to_yolo",
    "yolo_to_voc",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class LabelBox:
    """One box in image pixels (VOC's ``xmin, ymin, xmax, ymax``) with its class name."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True)
class Annotation:
    """One image's size and boxes."""

    image: Path
    width: int
    height: int
    boxes: tuple[LabelBox, ...]


def _text(node: object, tag: str, where: str) -> str:
    child = node.find(tag)  # type: ignore[attr-defined]
    if child is None or child.text is None or not child.text.strip():
        raise VisionError(f"{where}: <{tag}> is missing; a Pascal VOC annotation needs it")
    return str(child.text).strip()


def _number(node: object, tag: str, where: str) -> float:
    text = _text(node, tag, where)
    try:
        value = float(text)
    except ValueError:
        raise VisionError(f"{where}: <{tag}> {text!r} is not a number") from None
    if not math.isfinite(value):
        raise VisionError(f"{where}: <{tag}> {text!r} is not a finite number")
    return value


def read_voc(xml: bytes, image: Path, where: str) -> Annotation:
    """The annotation in one Pascal VOC file (``where`` names it in errors)."""
    try:
        text = xml.decode("utf-8")
    except UnicodeDecodeError:
        raise VisionError(f"{where}: not UTF-8 text; a Pascal VOC annotation is XML") from None
    try:
        root = parse_xml(text, where, "Pascal VOC annotation")
    except MissionError as exc:
        raise VisionError(str(exc)) from None
    size = root.find("size")
    if size is None:
        raise VisionError(f"{where}: <size> is missing; a Pascal VOC annotation needs it")
    width, height = int(_number(size, "width", where)), int(_number(size, "height", where))
    if width <= 0 or height <= 0:
        raise VisionError(f"{where}: image size {width}x{height} must be > 0")
    boxes = []
    for obj in root.iter("object"):
        name = _text(obj, "name", where)
        bb = obj.find("bndbox")
        if bb is None:
            raise VisionError(f"{where}: object {name!r} has no <bndbox>")
        x0, y0, x1, y1 = (_number(bb, t, where) for t in ("xmin", "ymin", "xmax", "ymax"))
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise VisionError(
                f"{where}: box {name!r} ({x0:g},{y0:g})-({x1:g},{y1:g}) is empty or outside "
                f"the {width}x{height} image"
            )
        boxes.append(LabelBox(name, x0, y0, x1, y1))
    return Annotation(image, width, height, tuple(boxes))


def voc_to_yolo(ann: Annotation, names: list[str]) -> str:
    """YOLO label text (``class cx cy w h`` normalised, one line a box) of an annotation."""
    lines = []
    for b in ann.boxes:
        cx, cy = (b.xmin + b.xmax) / 2 / ann.width, (b.ymin + b.ymax) / 2 / ann.height
        w, h = (b.xmax - b.xmin) / ann.width, (b.ymax - b.ymin) / ann.height
        lines.append(f"{names.index(b.name)} {cx!r} {cy!r} {w!r} {h!r}")
    return "".join(line + "\n" for line in lines)


def yolo_to_voc(text: str, width: int, height: int, names: list[str], where: str) -> list[LabelBox]:
    """The boxes of YOLO label text, in pixels of a ``width`` x ``height`` image."""
    boxes = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 5:
                raise ValueError
            cls = int(parts[0])
            cx, cy, w, h = (float(p) for p in parts[1:])
        except ValueError:
            raise VisionError(
                f"{where}: line {n} {line.strip()!r} is not 'class cx cy w h'"
            ) from None
        if not 0 <= cls < len(names):
            raise VisionError(f"{where}: line {n}: class {cls} is not one of 0..{len(names) - 1}")
        if not all(math.isfinite(v) and 0 <= v <= 1 for v in (cx, cy, w, h)) or w <= 0 or h <= 0:
            raise VisionError(f"{where}: line {n}: box {line.strip()!r} is outside 0..1")
        boxes.append(
            LabelBox(
                names[cls],
                (cx - w / 2) * width,
                (cy - h / 2) * height,
                (cx + w / 2) * width,
                (cy + h / 2) * height,
            )
        )
    return boxes


@dataclass(frozen=True)
class Prepared:
    """A dataset in the YOLO layout: its ``data.yaml``, class names and image counts."""

    yaml: Path
    names: tuple[str, ...]
    train_images: int
    val_images: int
    instances: dict[str, int]
    own_split: bool = True  # the project's split (False: the dataset's own, or all for eval)
    listed: int | None = None  # training images in ``balance``'s thinned list
    dropped: tuple[str, ...] = ()  # classes whose boxes ``drop_unknown`` left out


def _images(folder: Path) -> dict[str, Path]:
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    }


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def split_names(groups: dict[str, frozenset[str]], val_fraction: float) -> set[str]:
    """The stems that go to validation: every ``1/val_fraction``-th of each class group."""
    if not 0 < val_fraction < 1:
        raise VisionError(f"validation fraction {val_fraction} must be between 0 and 1")
    by_group: dict[frozenset[str], list[str]] = defaultdict(list)
    for stem, classes in groups.items():
        by_group[classes].append(stem)
    val = set()
    for stems in by_group.values():
        stems.sort(key=_hash)
        acc = 0.0
        for stem in stems:
            acc += val_fraction
            if acc >= 1.0 - 1e-9:
                acc -= 1.0
                val.add(stem)
    return val


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except (OSError, UnidentifiedImageError):
        raise VisionError(f"{path}: not an image that can be read") from None


def _load_voc(src: Path) -> tuple[dict[str, Annotation], list[str]]:
    images = _images(src / "images")
    anns: dict[str, Annotation] = {}
    names: list[str] = []
    for xml in sorted((src / "annotations").glob("*.xml")):
        if xml.stem not in images:
            raise VisionError(f"{xml}: no image {xml.stem}.jpg/.png beside it in {src / 'images'}")
        ann = read_voc(xml.read_bytes(), images[xml.stem], str(xml))
        anns[xml.stem] = ann
        names += [b.name for b in ann.boxes if b.name not in names]
    for stem, image in images.items():  # images without an annotation file: background
        if stem not in anns:
            w, h = _image_size(image)
            anns[stem] = Annotation(image, w, h, ())
    return anns, sorted(names)


def _labels_folder(images: Path) -> Path:
    """YOLO's rule: the labels of ``.../images/x/`` are in ``.../labels/x/`` (the last
    ``images`` in the path; a folder named ``myimages`` is not one)."""
    parts = list(images.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts)
    raise VisionError(f"image folder {images} is not under a folder named 'images' (YOLO layout)")


def _load_yolo(src: Path) -> tuple[dict[str, Annotation], list[str], set[str] | None]:
    """A YOLO folder's annotations and names, and its own validation stems if it has a split."""
    import yaml

    names: list[str] = []
    splits: dict[str, Path] = {}
    data_yaml = src / "data.yaml"
    if data_yaml.is_file():
        try:
            data = yaml.safe_load(data_yaml.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise VisionError(f"{data_yaml}: not YAML ({' '.join(str(exc).split())})") from None
        raw = data.get("names") if isinstance(data, dict) else None
        if isinstance(raw, dict):
            names = [str(raw[k]) for k in sorted(raw)]
        elif isinstance(raw, list):
            names = [str(n) for n in raw]
        if not names:
            raise VisionError(f"{data_yaml}: 'names' must list the class names")
        root = src / str(data.get("path") or ".")
        for split in ("train", "val"):
            if isinstance(data.get(split), str):
                splits[split] = (root / data[split]).resolve()
    else:
        folders = [src / "images"]
        classes = src / "classes.txt"
        if classes.is_file():
            names = [n.strip() for n in classes.read_text().splitlines() if n.strip()]
    anns: dict[str, Annotation] = {}
    val: set[str] | None = set() if splits else None
    folders = list(splits.values()) if splits else [src / "images"]
    for folder in folders:
        if not folder.is_dir():
            raise VisionError(f"{folder}: image folder named by {src} does not exist")
        for stem, image in _images(folder).items():
            label = _labels_folder(image.parent) / f"{stem}.txt"
            w, h = _image_size(image)
            text = label.read_text() if label.is_file() else ""
            if not names:
                top = max(
                    (int(line.split()[0]) for line in text.splitlines() if line.strip()), default=-1
                )
                names = [str(i) for i in range(top + 1)]
            boxes = yolo_to_voc(text, w, h, names, str(label))
            key = f"{folder.name}/{stem}" if splits else stem
            anns[key] = Annotation(image, w, h, tuple(boxes))
            if val is not None and folder == splits.get("val"):
                val.add(key)
    return anns, names, val


def prepare(
    src: Path,
    out: Path,
    val_fraction: float = 0.2,
    names: Sequence[str] | None = None,
    all_val: bool = False,
    balance: bool = False,
    only: Sequence[str] | None = None,
    drop_unknown: bool = False,
) -> Prepared:
    """Write ``src`` (VOC or YOLO) into ``out`` in the YOLO layout with a train/val split.

    ``names`` fixes the class order (a model's, for evaluation): the dataset's classes must
    be among them. ``all_val`` puts every image in validation. Images are hard-linked where
    the file system allows (copied otherwise); ``out`` is emptied first. ``balance`` thins the
    training list round the rarest class (see the module's docstring). ``only`` keeps the
    boxes of those classes (in that order) and drops the others' after the split is made, so
    the split is the one the whole dataset gets. ``drop_unknown`` (for evaluation) drops the
    boxes of classes not in ``names`` instead of refusing them, as long as one class is
    shared. Raises :class:`VisionError` for a folder that is neither layout.
    """
    src = Path(src)
    if not src.is_dir():
        raise VisionError(
            f"dataset {src} is not a folder (give a Pascal VOC or YOLO dataset folder)"
        )
    if (src / "annotations").is_dir() and (src / "images").is_dir():
        anns, found = _load_voc(src)
        val: set[str] | None = None
    elif (src / "data.yaml").is_file() or (src / "labels").is_dir():
        anns, found, val = _load_yolo(src)
    else:
        raise VisionError(
            f"dataset {src}: expected images/ with annotations/*.xml (Pascal VOC), "
            "or data.yaml, or images/ with labels/ (YOLO)"
        )
    if not anns:
        raise VisionError(f"dataset {src} has no images")
    if not any(a.boxes for a in anns.values()):
        raise VisionError(f"dataset {src} has no labelled boxes")
    if only is not None:
        missing = sorted(set(only) - set(found)) or ([] if only else ["(none given)"])
        if missing:
            raise VisionError(
                f"dataset {src} has no class {', '.join(missing)} (it has {', '.join(found)})"
            )
    if names is None:
        names = list(only) if only is not None else found
    dropped: list[str] = []
    if names is not None and only is None:
        unknown = sorted({b.name for a in anns.values() for b in a.boxes} - set(names))
        if unknown and drop_unknown and set(found) & set(names):
            dropped, only = unknown, [n for n in names if n in found]
        elif unknown:
            raise VisionError(
                f"dataset {src} has class(es) {', '.join(unknown)} that the model does not "
                f"know (it detects {', '.join(names)})"
            )
    names = list(names)
    own_split = val is None and not all_val
    if all_val:
        val = set(anns)
    elif val is None:
        val = split_names(
            {k: frozenset(b.name for b in a.boxes) for k, a in anns.items()}, val_fraction
        )
    if only is not None:
        anns = {
            k: replace(a, boxes=tuple(b for b in a.boxes if b.name in only))
            for k, a in anns.items()
        }
    if out.exists():
        shutil.rmtree(out)
    counts = {n: 0 for n in names}
    train_counts = {n: 0 for n in names}
    placed: dict[str, Path] = {}
    for key, ann in sorted(anns.items()):
        split = "val" if key in val else "train"
        stem = key.replace("/", "__")
        placed[key] = out / "images" / split / f"{stem}{ann.image.suffix.lower()}"
        _place(ann.image, placed[key])
        label = out / "labels" / split / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(voc_to_yolo(ann, names))
        for b in ann.boxes:
            counts[b.name] += 1
            if split == "train":
                train_counts[b.name] += 1
    train_entry, listed = "images/train", None
    if balance:
        shown = {k: {b.name for b in a.boxes} for k, a in anns.items() if k not in val}
        listing = [str(placed[k].resolve()) for k in balanced(shown, train_counts)]
        (out / "train.txt").write_text("\n".join(listing) + "\n")
        train_entry, listed = "train.txt", len(listing)
    yaml_path = out / "data.yaml"
    lines = [f"path: {out.resolve()}", f"train: {train_entry}", "val: images/val", "names:"]
    lines += [f"  {i}: {n}" for i, n in enumerate(names)]
    yaml_path.write_text("\n".join(lines) + "\n")
    return Prepared(
        yaml_path,
        tuple(names),
        len(anns) - len(val),
        len(val),
        counts,
        own_split,
        listed,
        tuple(dropped),
    )


def balanced(shown: dict[str, set[str]], counts: dict[str, int]) -> list[str]:
    """``balance``'s training list: the images (keys of ``shown``, each with the classes it
    shows) that show the rarest class of ``counts``, and as many of the rest (by the SHA-256
    of their names; with one class, the rest are the images without a box), in name order."""
    present = {c: n for c, n in counts.items() if n}
    if not present:
        return sorted(shown)
    rarest = min(present, key=lambda c: (present[c], c))
    rare = [k for k, classes in shown.items() if rarest in classes]
    rest = sorted((k for k in shown if rarest not in shown[k]), key=_hash)
    return sorted(rare + rest[: len(rare)])
