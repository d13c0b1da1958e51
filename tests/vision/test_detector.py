"""The detector adapter: ONNX Runtime and Ultralytics give the same boxes; bad weights refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from vision.detector import Box, Detector, as_bgr, letterbox, load_detector, nms
from vision.errors import VisionError
from vision.slicing import SlicedDetector

if TYPE_CHECKING:
    from tests.vision.conftest import TinyWeights

Scene = Callable[..., np.ndarray]

TEST_IMGSZ = 160  # the tiny weights' export size (conftest)


def _match(a: list[Box], b: list[Box]) -> list[tuple[Box, Box, float]]:
    """Pairs each box of ``a`` with its best-overlapping box of ``b`` of the same class."""
    pairs = []
    for box in a:
        best = max(b, key=lambda other: (other.cls == box.cls, box.iou(other)))
        pairs.append((box, best, box.iou(best)))
    return pairs


# --------------------------------------------------------------------------- PT vs ONNX


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), [(320, 320), (400, 240)])
def test_onnx_gives_the_boxes_ultralytics_gives(
    tiny_weights: TinyWeights, make_scene: Scene, width: int, height: int
) -> None:
    image = make_scene(width, height)
    kwargs = {"imgsz": TEST_IMGSZ, "conf": 0.6, "iou": 0.5, "device": "cpu"}
    pt = load_detector(tiny_weights.pt, **kwargs)  # type: ignore[arg-type]
    # A square frame fits the fixed-size export exactly; an oblong one needs the dynamic
    # export, which letterboxes like Ultralytics' rectangular inference.
    onnx_path = tiny_weights.onnx if width == height else tiny_weights.onnx_dynamic
    onnx = load_detector(onnx_path, **kwargs)  # type: ignore[arg-type]
    assert pt.names == onnx.names == tiny_weights.names
    from_pt, from_onnx = pt.detect(image), onnx.detect(image)
    assert len(from_pt) >= 5, "random weights should give some boxes at conf 0.6"
    assert len(from_onnx) == len(from_pt)
    for a, b, overlap in _match(from_pt, from_onnx):
        assert overlap > 0.99
        assert a.cls == b.cls
        assert abs(a.confidence - b.confidence) < 0.01
    for box in from_onnx:
        assert 0 <= box.x1 < box.x2 <= width and 0 <= box.y1 < box.y2 <= height
        assert box.confidence > 0.6


@pytest.mark.slow
def test_an_export_with_nms_inside_gives_the_same_boxes(
    tiny_weights: TinyWeights, nms_export: Path, make_scene: Scene
) -> None:
    image = make_scene(320, 320)
    pt = load_detector(tiny_weights.pt, imgsz=TEST_IMGSZ, conf=0.6, iou=0.5, device="cpu")
    onnx = load_detector(nms_export, conf=0.6, iou=0.5)
    assert onnx.end2end  # type: ignore[attr-defined]
    from_pt, from_onnx = pt.detect(image), onnx.detect(image)
    assert from_pt
    # The graph keeps at most 300 boxes (over conf 0.25, across classes): the best ones of
    # Ultralytics' own post-processing must all be there.
    best_pt = sorted(from_pt, key=lambda b: -b.confidence)[:50]
    for a, b, overlap in _match(best_pt, from_onnx):
        assert overlap > 0.99 and a.cls == b.cls
        assert abs(a.confidence - b.confidence) < 0.01


@pytest.mark.slow
def test_fixed_size_export_takes_oblong_frames_too(
    tiny_weights: TinyWeights, make_scene: Scene
) -> None:
    """Padding to the square input changes the network's view a little, not the objects."""
    image = make_scene(400, 240, seed=3)
    onnx = load_detector(tiny_weights.onnx, conf=0.5, device="cpu")
    assert onnx.imgsz == TEST_IMGSZ  # type: ignore[attr-defined]
    boxes = onnx.detect(image)
    assert boxes
    assert all(0 <= b.x1 < b.x2 <= 400 and 0 <= b.y1 < b.y2 <= 240 for b in boxes)


@pytest.mark.slow
def test_loaded_detectors_say_what_they_run(tiny_weights: TinyWeights, make_scene: Scene) -> None:
    onnx = load_detector(tiny_weights.onnx, device="auto")
    assert isinstance(onnx, Detector)
    assert onnx.backend == "onnxruntime"  # type: ignore[attr-defined]
    assert onnx.weights == tiny_weights.onnx  # type: ignore[attr-defined]
    assert onnx.device in ("cpu", "cuda")  # type: ignore[attr-defined]
    pt = load_detector(tiny_weights.pt, imgsz=TEST_IMGSZ)
    assert pt.backend == "ultralytics"  # type: ignore[attr-defined]
    assert pt.imgsz == TEST_IMGSZ  # type: ignore[attr-defined]
    sliced = load_detector(tiny_weights.onnx, slice_px=96, expect_classes=tiny_weights.names)
    assert isinstance(sliced, SlicedDetector)
    assert sliced.names == tiny_weights.names
    assert sliced.backend == "onnxruntime"
    boxes = sliced.detect(make_scene(320, 200))
    assert all(0 <= b.x1 < b.x2 <= 320 and 0 <= b.y1 < b.y2 <= 200 for b in boxes)


@pytest.mark.slow
def test_grey_and_bgra_frames_are_taken(tiny_weights: TinyWeights, make_scene: Scene) -> None:
    onnx = load_detector(tiny_weights.onnx, conf=0.5)
    image = make_scene(160, 160)
    grey = image[:, :, 1].copy()
    assert onnx.detect(grey) == onnx.detect(np.repeat(grey[:, :, None], 3, axis=2))
    bgra = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    assert onnx.detect(bgra) == onnx.detect(image)


# --------------------------------------------------------------------------- refusals


def test_missing_weights_are_named(tmp_path: Path) -> None:
    with pytest.raises(VisionError, match=r"weights .*nope\.onnx not found"):
        load_detector(tmp_path / "nope.onnx")


def test_a_directory_is_not_weights(tmp_path: Path) -> None:
    folder = tmp_path / "model.pt"
    folder.mkdir()
    with pytest.raises(VisionError, match="is a directory"):
        load_detector(folder)


def test_other_suffixes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(b"x")
    with pytest.raises(VisionError, match=r"neither \.pt nor \.onnx"):
        load_detector(path)


def test_random_bytes_are_not_an_onnx_model(tmp_path: Path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(VisionError, match=r"junk\.onnx are not a readable ONNX model"):
        load_detector(path)


def test_random_bytes_are_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(VisionError, match=r"junk\.pt are not a PyTorch checkpoint"):
        load_detector(path)


def test_onnx_without_ultralytics_metadata_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["output0"])],
        "plain",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 32, 32])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "plain.onnx"
    onnx.save(model, str(path))
    with pytest.raises(VisionError, match=r"plain\.onnx carry no Ultralytics metadata"):
        load_detector(path)


@pytest.mark.slow
def test_truncated_weights_are_refused(tiny_weights: TinyWeights, tmp_path: Path) -> None:
    for source in (tiny_weights.pt, tiny_weights.onnx):
        cut = tmp_path / f"cut{source.suffix}"
        data = source.read_bytes()
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(VisionError, match=rf"weights .*cut\{source.suffix} are "):
            load_detector(cut)


@pytest.mark.slow
def test_weights_of_another_task_are_refused(classify_weights: tuple[Path, Path]) -> None:
    for path in classify_weights:
        with pytest.raises(VisionError) as err:
            load_detector(path)
        message = str(err.value)
        assert str(path) in message
        assert "classification model" in message and "detect task" in message
        assert "\n" not in message


@pytest.mark.slow
def test_unexpected_classes_are_refused(tiny_weights: TinyWeights) -> None:
    with pytest.raises(VisionError, match=r"detect classes .*'crack'.*expected \['defect'"):
        load_detector(tiny_weights.onnx, expect_classes=["insulator", "defect"])
    with pytest.raises(VisionError, match="expected"):
        load_detector(tiny_weights.pt, expect_classes=["insulator", "defect"])
    # The same classes in another order are the same classes.
    load_detector(tiny_weights.onnx, expect_classes=list(reversed(tiny_weights.names)))


@pytest.mark.slow
def test_fixed_size_export_refuses_another_size(tiny_weights: TinyWeights) -> None:
    with pytest.raises(VisionError, match=r"fixed 160x160 input, not imgsz 640"):
        load_detector(tiny_weights.onnx, imgsz=640)
    assert load_detector(tiny_weights.onnx_dynamic, imgsz=256).imgsz == 256  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"imgsz": 100}, "imgsz 100"),
        ({"imgsz": 0}, "imgsz 0"),
        ({"conf": 1.5}, "conf 1.5"),
        ({"conf": float("nan")}, "conf nan"),
        ({"iou": 0.0}, "iou 0.0"),
        ({"device": "tpu"}, "device 'tpu'"),
        ({"slice_px": 8}, "slice size 8"),
        ({"slice_overlap": 0.95, "slice_px": 320}, "slice overlap 0.95"),
    ],
)
def test_unusable_settings_are_refused(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    path = tmp_path / "any.onnx"  # settings are checked before the file is looked for
    with pytest.raises(VisionError, match=message):
        load_detector(path, **kwargs)  # type: ignore[arg-type]


def _identity_model(tmp_path: Path) -> Path:
    """A two-node ONNX model with the input, output and metadata of a 1-class detect export.

    Its output is the picture's channel mean reshaped to (1, 5, 256): all zero for a black
    picture, so no box.
    """
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images"], ["m"], axes=[1], keepdims=1),
            helper.make_node("Reshape", ["m", "shape"], ["output0"]),
        ],
        "fake-detect",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 40])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 5, 256])],
        [helper.make_tensor("shape", TensorProto.INT64, [3], [1, 5, -1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in {"task": "detect", "names": "{0: 'defect'}", "stride": "32"}.items():
        model.metadata_props.add(key=key, value=value)
    path = tmp_path / "fake.onnx"
    onnx.save(model, str(path))
    return path


def test_cuda_without_a_cuda_provider_is_refused(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this ONNX Runtime has a CUDA provider")
    with pytest.raises(VisionError, match=r"device 'cuda' asked for.*no CUDA provider"):
        load_detector(_identity_model(tmp_path), device="cuda")


def test_a_hand_made_detect_export_runs(tmp_path: Path) -> None:
    """The ONNX path on a model with no Ultralytics in it: decoding a (1, 5, N) output."""
    pytest.importorskip("onnx")
    detector = load_detector(_identity_model(tmp_path), conf=0.1)
    assert detector.names == ("defect",)
    assert detector.detect(np.zeros((64, 80, 3), np.uint8)) == []  # all-zero output: no box


# --------------------------------------------------------------------------- helpers


def test_letterbox_keeps_the_aspect_and_centres() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    padded, fit = letterbox(image, (160, 160))
    assert padded.shape == (160, 160, 3)
    assert fit.gain == pytest.approx(0.8)
    assert (fit.left, fit.top) == (0, 40)
    assert padded[0, 0, 0] == 114 and padded[80, 80, 0] == 0
    rect, fit = letterbox(image, (160, 160), stride=32)
    assert rect.shape == (96, 160, 3)  # 80 rounded up to a multiple of 32
    assert (fit.left, fit.top) == (0, 8)


def test_nms_keeps_the_best_of_each_overlapping_group_per_class() -> None:
    xyxy = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert nms(xyxy, scores, 0.5).tolist() == [0, 3]
    assert nms(xyxy, scores, 0.5, classes=np.array([0, 0, 1, 0])).tolist() == [0, 2, 3]
    assert nms(xyxy, scores, 0.5, max_det=1).tolist() == [0]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_as_bgr_refuses_what_is_no_image() -> None:
    with pytest.raises(VisionError, match="dtype float64"):
        as_bgr(np.zeros((4, 4, 3)))
    with pytest.raises(VisionError, match="shape"):
        as_bgr(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(VisionError, match="list"):
        as_bgr([[0]])


def test_box_geometry() -> None:
    a = Box(0, 0, 10, 10, "rust", 0.9)
    assert a.area == 100 and a.width == 10 and a.height == 10
    assert a.iou(Box(5, 0, 15, 10, "rust", 0.5)) == pytest.approx(50 / 150)
    assert a.iou(Box(20, 20, 30, 30, "rust", 0.5)) == 0.0
    assert a.shifted(5, 7).xyxy == (5, 7, 15, 17)
