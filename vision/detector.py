"""The YOLO detector adapter: any Ultralytics detect weights, ``.pt`` or exported ``.onnx``.

``load_detector(path)`` checks the file before anything runs on it and returns a
:class:`Detector`: ``detect(image_bgr) -> list[Box]`` in the image's own pixels.

- ``.pt`` runs through Ultralytics (PyTorch; the ``train`` extra). ``YOLO_OFFLINE=true`` is set
  before Ultralytics is imported, so nothing is downloaded (the value ``1`` is not recognised
  by Ultralytics). Loading a ``.pt`` unpickles it: only load weights you trust.
- ``.onnx`` runs through ONNX Runtime directly, without torch: our own letterbox (the same
  rule as Ultralytics: aspect kept, grey 114 padding, centred), the decoding of the detect
  head's ``(1, 4 + nc, N)`` output (or the ``(1, K, 6)`` output of an end-to-end / NMS
  export) and per-class non-maximum suppression. The class names, task, stride and image
  size come from the metadata Ultralytics writes into the exported file.

Weights of another task (classify, segment, pose, obb), files that are no model and class
lists other than the expected one are refused with a :class:`~vision.errors.VisionError`
naming the file. With ``slice_px`` the detector runs SAHI-style on overlapping tiles plus the
whole frame (:mod:`vision.slicing`).
"""

from __future__ import annotations

import ast
import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from vision.errors import VisionError

__all__ = [
    "Box",
    "Detector",
    "as_bgr",
    "letterbox",
    "load_detector",
    "nms",
    "weak_sightings",
]

#: Grey of the letterbox padding, as Ultralytics trains and predicts with.
PAD_VALUE = 114
#: Most boxes one image gives (Ultralytics' default ``max_det``).
MAX_DET = 300
#: Share of a detector's score threshold down to which :func:`weak_sightings` gathers boxes.
WEAK_SHARE = 0.4
#: Most candidates handed to NMS, best first (Ultralytics' ``max_nms``).
MAX_NMS = 30000
_TASKS_OTHER = {
    "classify": "a classification model",
    "segment": "a segmentation model",
    "pose": "a pose model",
    "obb": "an oriented-box model",
}


@dataclass(frozen=True)
class Box:
    """One detection: corners in pixels of the image it was found in, class name, score."""

    x1: float
    y1: float
    x2: float
    y2: float
    cls: str
    confidence: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    def shifted(self, dx: float, dy: float) -> Box:
        """The same box moved by ``(dx, dy)`` pixels (a tile's box into the full frame)."""
        return Box(
            self.x1 + dx, self.y1 + dy, self.x2 + dx, self.y2 + dy, self.cls, self.confidence
        )

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other`` (0 when they do not overlap)."""
        inter = _intersection(self, other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


def _intersection(a: Box, b: Box) -> float:
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    return w * h if w > 0 and h > 0 else 0.0


@runtime_checkable
class Detector(Protocol):
    """What the pipeline needs of a detector (a loaded model, a sliced one, a test fake)."""

    names: tuple[str, ...]

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        """Boxes found in one BGR ``uint8`` image, in its own pixel coordinates."""
        ...


@contextmanager
def weak_sightings(detector: Detector) -> Iterator[float | None]:
    """Lower ``detector``'s score threshold to :data:`WEAK_SHARE` of itself for the block.

    Yields the threshold it had: the pipeline reports a defect only when its best sighting
    reaches it, but places it with every sighting, weak ones included (a defect the model
    scores around its threshold is placed from all its looks, not from the one or two that
    passed). Yields ``None``, changing nothing, for a detector without a ``conf`` of its own
    or of the detector it wraps (``inner``), such as a test fake.
    """
    holder: Any = detector
    while "conf" not in getattr(holder, "__dict__", {}) and "inner" in getattr(
        holder, "__dict__", {}
    ):
        holder = holder.inner
    conf = getattr(holder, "__dict__", {}).get("conf")
    if not isinstance(conf, float):
        yield None
        return
    holder.conf = conf * WEAK_SHARE
    try:
        yield conf
    finally:
        holder.conf = conf


# --------------------------------------------------------------------------- helpers


def as_bgr(image: Any) -> np.ndarray:
    """``image`` as a contiguous ``uint8`` H×W×3 BGR array (grey and BGRA converted)."""
    if not isinstance(image, np.ndarray):
        raise VisionError(f"image is a {type(image).__name__}; give a numpy uint8 BGR array")
    if image.dtype != np.uint8:
        raise VisionError(f"image has dtype {image.dtype}; give a uint8 BGR array")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    elif image.ndim == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise VisionError(f"image has shape {image.shape}; give an H×W×3 BGR array")
    return np.ascontiguousarray(image)


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the network input: ``x_in = x * gain + left``."""

    gain: float
    left: int
    top: int


def letterbox(
    image: np.ndarray, shape: tuple[int, int], *, stride: int | None = None
) -> tuple[np.ndarray, Letterbox]:
    """Resize ``image`` keeping its aspect into ``shape`` (h, w), padding with grey 114.

    With ``stride`` (a model taking any input size), the padding is only what rounds each
    side up to a multiple of the stride, as Ultralytics' rectangular inference does.
    """
    import cv2

    h, w = image.shape[:2]
    gain = min(shape[0] / h, shape[1] / w)
    new_w, new_h = max(round(w * gain), 1), max(round(h * gain), 1)
    dw, dh = shape[1] - new_w, shape[0] - new_h
    if stride:
        dw, dh = dw % stride, dh % stride
    left, top = round(dw / 2 - 0.1), round(dh / 2 - 0.1)
    right, bottom = round(dw / 2 + 0.1), round(dh / 2 + 0.1)
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    if left or top or right or bottom:
        image = cv2.copyMakeBorder(
            image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
        )
    return image, Letterbox(gain, left, top)


def nms(
    xyxy: np.ndarray,
    scores: np.ndarray,
    iou: float,
    classes: np.ndarray | None = None,
    max_det: int = MAX_DET,
) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first.

    A box is dropped when its IoU with a kept box of the same class exceeds ``iou``
    (``classes=None``: all one class). At most ``max_det`` indices are returned.
    """
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    if classes is not None:
        # Move each class to its own far-away region so boxes of different classes never
        # overlap: one suppression pass then does every class at once.
        extent = float(np.abs(xyxy).max()) + 1.0
        xyxy = xyxy + (np.asarray(classes, dtype=np.float64).reshape(-1, 1) * 2.0 * extent)
    x1, y1, x2, y2 = xyxy.T
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


# --------------------------------------------------------------------------- loading


def load_detector(
    weights: str | os.PathLike[str],
    *,
    imgsz: int | None = None,
    conf: float = 0.25,
    iou: float = 0.5,
    device: str = "auto",
    slice_px: int | None = None,
    slice_overlap: float = 0.2,
    expect_classes: Sequence[str] | None = None,
) -> Detector:
    """Open YOLO detect weights (``.pt`` or ``.onnx``) as a :class:`Detector`.

    ``imgsz``: network input side in pixels, a multiple of 32; ``None`` takes the size the
    model was exported or trained at (640 when it does not say). An ONNX file exported with a
    fixed input size runs only at that size. ``conf``/``iou``: score threshold and NMS IoU.
    ``device``: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"`` or
    ``"cuda:N"``. ``slice_px``: run on tiles of that many pixels (with ``slice_overlap``) plus
    the whole frame. ``expect_classes``: refuse weights whose class names differ.
    """
    path = Path(weights)
    _check_settings(imgsz, conf, iou, device)
    if slice_px is not None:
        from vision.slicing import check_slicing

        check_slicing(slice_px, slice_overlap)
    suffix = path.suffix.lower()
    if suffix not in (".pt", ".onnx"):
        raise VisionError(
            f"weights {path} are neither .pt nor .onnx; give YOLO detect weights "
            "(Ultralytics .pt or an .onnx exported from it)"
        )
    if not path.exists():
        raise VisionError(f"weights {path} not found; give the path of a YOLO .pt or .onnx file")
    if path.is_dir():
        raise VisionError(f"weights {path} is a directory; give a YOLO .pt or .onnx file")
    detector: Detector
    if suffix == ".onnx":
        detector = _OnnxDetector(path, imgsz=imgsz, conf=conf, iou=iou, device=device)
    else:
        detector = _UltralyticsDetector(path, imgsz=imgsz, conf=conf, iou=iou, device=device)
    if expect_classes is not None and set(expect_classes) != set(detector.names):
        raise VisionError(
            f"weights {path} detect classes {list(detector.names)}; "
            f"expected {sorted(expect_classes)}"
        )
    if slice_px is not None:
        from vision.slicing import SlicedDetector

        detector = SlicedDetector(detector, slice_px, overlap=slice_overlap, iou=iou)
    return detector


def _check_settings(imgsz: int | None, conf: float, iou: float, device: str) -> None:
    if imgsz is not None and (
        isinstance(imgsz, bool) or not isinstance(imgsz, int) or imgsz < 32 or imgsz % 32
    ):
        raise VisionError(f"imgsz {imgsz!r} is not usable; give a multiple of 32 such as 640")
    if not (isinstance(conf, int | float) and 0.0 <= conf < 1.0 and math.isfinite(conf)):
        raise VisionError(f"conf {conf!r} is not usable; give a score threshold in [0, 1)")
    if not (isinstance(iou, int | float) and 0.0 < iou <= 1.0):
        raise VisionError(f"iou {iou!r} is not usable; give an NMS IoU threshold in (0, 1]")
    _cuda_index(device)


def _cuda_index(device: str) -> int | None:
    """``None`` for cpu, the GPU index for cuda/cuda:N, -1 for auto; VisionError otherwise."""
    text = str(device).strip().lower()
    if text == "cpu":
        return None
    if text == "auto":
        return -1
    if text == "cuda":
        return 0
    if text.startswith("cuda:") and text[5:].isdigit():
        return int(text[5:])
    raise VisionError(f"device {device!r} is not known; give 'auto', 'cpu', 'cuda' or 'cuda:N'")


def _refuse_task(path: Path, task: str) -> None:
    if task != "detect":
        what = _TASKS_OTHER.get(task, f"a {task!r} model")
        raise VisionError(
            f"weights {path} are {what} (task {task!r}); give YOLO weights of the detect task"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


# --------------------------------------------------------------------------- ONNX Runtime


class _OnnxDetector:
    """An exported Ultralytics detect model run by ONNX Runtime (no torch)."""

    backend = "onnxruntime"

    def __init__(self, path: Path, *, imgsz: int | None, conf: float, iou: float, device: str):
        import onnxruntime as ort

        self.weights = path
        self.conf = float(conf)
        self.iou = float(iou)
        gpu = _cuda_index(device)
        available = ort.get_available_providers()
        providers: list[Any] = ["CPUExecutionProvider"]
        if gpu is not None and "CUDAExecutionProvider" in available:
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": max(gpu, 0)}))
        elif gpu is not None and gpu >= 0:
            raise VisionError(
                f"device {device!r} asked for, but this ONNX Runtime has no CUDA provider "
                f"(it has {available}); use device 'cpu' or 'auto', or install onnxruntime-gpu"
            )
        try:
            options = ort.SessionOptions()
            # Worker threads that spin while idle steal the CPU from everything else on a
            # shared machine (and from video decoding here); sleeping costs little per frame.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # ONNX Runtime raises its own untyped errors
            raise VisionError(
                f"weights {path} are not a readable ONNX model ({_first_line(exc)}); "
                "give an .onnx exported by Ultralytics"
            ) from exc
        self._session = session
        self.device = "cuda" if "CUDAExecutionProvider" in session.get_providers() else "cpu"
        meta = session.get_modelmeta().custom_metadata_map
        self.names, self.stride, meta_imgsz = _onnx_metadata(path, meta)
        self.end2end = _meta_bool(meta.get("end2end")) or _meta_bool(
            _meta_literal(meta.get("args"), {}).get("nms")
        )

        inputs = session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise VisionError(
                f"weights {path} take {len(inputs)} inputs; give a YOLO detect export "
                "with one image input (1, 3, H, W)"
            )
        self._input = inputs[0].name
        self._half = "float16" in inputs[0].type
        in_h, in_w = inputs[0].shape[2], inputs[0].shape[3]
        if isinstance(in_h, int) and isinstance(in_w, int):
            if imgsz is not None and (in_h, in_w) != (imgsz, imgsz):
                raise VisionError(
                    f"weights {path} were exported for a fixed {in_w}x{in_h} input, not "
                    f"imgsz {imgsz}; use imgsz {max(in_h, in_w)} or export with dynamic=True"
                )
            self.shape, self.dynamic = (in_h, in_w), False
        else:
            side = imgsz or max(meta_imgsz or (640, 640))
            self.shape, self.dynamic = (side, side), True
        self.imgsz = max(self.shape)
        self._check_output(path, session)

    def _check_output(self, path: Path, session: Any) -> None:
        outputs = session.get_outputs()
        shape = outputs[0].shape if outputs else []
        nc = len(self.names)
        if len(outputs) != 1 or len(shape) != 3:
            raise VisionError(
                f"weights {path} have {len(outputs)} outputs of shape {shape}; a YOLO detect "
                "export has one (1, 4 + classes, anchors) output"
            )
        width = 6 if self.end2end else 4 + nc
        axis = 2 if self.end2end else 1
        if isinstance(shape[axis], int) and shape[axis] != width:
            raise VisionError(
                f"weights {path} output {shape} does not fit {nc} classes; "
                f"a YOLO detect export of them gives {width} values per box"
            )

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        image = as_bgr(image_bgr)
        padded, fit = letterbox(image, self.shape, stride=self.stride if self.dynamic else None)
        blob = padded[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        if self._half:
            blob = blob.astype(np.float16)
        out = np.asarray(self._session.run(None, {self._input: np.ascontiguousarray(blob)})[0])
        out = out[0].astype(np.float32)
        if self.end2end:
            rows = out[out[:, 4] > self.conf]
            xyxy, scores, classes = rows[:, :4], rows[:, 4], rows[:, 5].astype(np.int64)
        else:
            xyxy, scores, classes = decode_head(out, self.conf, self.iou)
        h, w = image.shape[:2]
        xyxy = (xyxy - np.array([fit.left, fit.top, fit.left, fit.top])) / fit.gain
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        return _boxes(xyxy, scores, classes, self.names)


def decode_head(
    out: np.ndarray, conf: float, iou: float, max_det: int = MAX_DET
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (xyxy), scores and class indices from one image's ``(4 + nc, N)`` head output.

    Each anchor keeps its best class; anchors scoring above ``conf`` go through per-class NMS,
    as Ultralytics' own post-processing does (one label per box).
    """
    cls_scores = out[4:]
    classes = cls_scores.argmax(axis=0)
    scores = cls_scores[classes, np.arange(cls_scores.shape[1])]
    cand = np.nonzero(scores > conf)[0]
    if cand.size > MAX_NMS:
        cand = cand[np.argsort(-scores[cand], kind="stable")[:MAX_NMS]]
    cx, cy, bw, bh = out[:4, cand]
    xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    keep = nms(xyxy, scores[cand], iou, classes[cand], max_det)
    return xyxy[keep], scores[cand][keep], classes[cand][keep]


def _boxes(
    xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray, names: tuple[str, ...]
) -> list[Box]:
    boxes = []
    for (x1, y1, x2, y2), score, c in zip(
        xyxy.tolist(), scores.tolist(), classes.tolist(), strict=True
    ):
        if x2 > x1 and y2 > y1 and 0 <= c < len(names):
            boxes.append(Box(x1, y1, x2, y2, names[int(c)], float(score)))
    return boxes


def _meta_literal(text: str | None, default: Any) -> Any:
    if text is None:
        return default
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return default


def _meta_bool(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _onnx_metadata(
    path: Path, meta: dict[str, str]
) -> tuple[tuple[str, ...], int, tuple[int, int] | None]:
    """Class names (in index order), stride and image size Ultralytics wrote into the file."""
    if "task" not in meta or "names" not in meta:
        raise VisionError(
            f"weights {path} carry no Ultralytics metadata (task, names); "
            "give an .onnx exported by Ultralytics (yolo export format=onnx)"
        )
    _refuse_task(path, meta["task"].strip())
    names = _meta_literal(meta["names"], None)
    if not isinstance(names, dict) or not names or sorted(names) != list(range(len(names))):
        raise VisionError(
            f"weights {path} have unreadable class names {meta['names'][:80]!r}; "
            "give an .onnx exported by Ultralytics"
        )
    stride = _meta_literal(meta.get("stride"), 32)
    imgsz = _meta_literal(meta.get("imgsz"), None)
    size = (int(imgsz[0]), int(imgsz[1])) if isinstance(imgsz, list | tuple) else None
    return tuple(str(names[i]) for i in range(len(names))), int(stride), size


# --------------------------------------------------------------------------- Ultralytics


def _import_ultralytics() -> Any:
    # Ultralytics reads these when it is first imported: no downloads, no pip installs.
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    try:
        import ultralytics
    except ImportError as exc:
        raise VisionError(
            "PyTorch weights (.pt) need Ultralytics (pip install 'skyledger[train]'); "
            "or give an .onnx export, which runs without it"
        ) from exc
    return ultralytics


class _UltralyticsDetector:
    """``.pt`` weights run by Ultralytics' own predictor (PyTorch)."""

    backend = "ultralytics"

    def __init__(self, path: Path, *, imgsz: int | None, conf: float, iou: float, device: str):
        _check_zip(path)
        ultralytics = _import_ultralytics()
        import torch

        self.weights = path
        self.conf, self.iou = float(conf), float(iou)
        gpu = _cuda_index(device)
        cuda = torch.cuda.is_available()
        if gpu is not None and gpu >= 0 and not cuda:
            raise VisionError(
                f"device {device!r} asked for, but torch sees no CUDA GPU; "
                "use device 'cpu' or 'auto'"
            )
        self.device = "cpu" if gpu is None or not cuda else f"cuda:{max(gpu, 0)}"
        try:
            model = ultralytics.YOLO(str(path), task=None)
        except Exception as exc:  # torch/pickle/Ultralytics raise many unrelated types
            raise VisionError(
                f"weights {path} are not a YOLO model Ultralytics can load "
                f"({_first_line(exc)}); give Ultralytics .pt detect weights"
            ) from exc
        _refuse_task(path, str(model.task))
        names = model.names
        if not isinstance(names, dict) or sorted(names) != list(range(len(names))):
            raise VisionError(f"weights {path} have unreadable class names {names!r}")
        self.names = tuple(str(names[i]) for i in range(len(names)))
        trained = (getattr(model, "overrides", None) or {}).get("imgsz")
        self.imgsz = imgsz or (trained if isinstance(trained, int) else 640)
        self._model = model

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        image = as_bgr(image_bgr)
        result = self._model.predict(
            image,
            imgsz=self.imgsz,
            conf=self.conf,
            iou=self.iou,
            device=self.device,
            max_det=MAX_DET,
            verbose=False,
        )[0]
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return []
        return _boxes(
            boxes.xyxy.cpu().numpy().astype(np.float64),
            boxes.conf.cpu().numpy(),
            boxes.cls.cpu().numpy().astype(np.int64),
            self.names,
        )


def _check_zip(path: Path) -> None:
    """A ``.pt`` written by torch is a zip archive: refuse anything else before unpickling."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise VisionError(
            f"weights {path} are not a PyTorch checkpoint (not a readable zip archive: "
            f"{_first_line(exc)}); give Ultralytics .pt detect weights"
        ) from exc
    if bad is not None:
        raise VisionError(
            f"weights {path} are damaged (member {bad} fails its checksum); "
            "give complete Ultralytics .pt detect weights"
        )
