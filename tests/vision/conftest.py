"""Fixtures of the vision tests: tiny YOLO weights made here, offline, once per session.

Nothing is downloaded: the networks are built from the model yamls that ship inside
Ultralytics, with random weights, and exported to ONNX at a small input size (160 px) to
keep the session fast. Ultralytics' settings go to a temporary folder, not the user's home.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

#: Class names of the synthetic world's defect model, used by the tiny test weights.
SYNTH_NAMES = ("crack", "rust", "spalling", "missing_disc")
TEST_IMGSZ = 160


@dataclass(frozen=True)
class TinyWeights:
    pt: Path
    onnx: Path  # fixed 160x160 input
    onnx_dynamic: Path  # any input size
    names: tuple[str, ...]
    imgsz: int = TEST_IMGSZ


@pytest.fixture(scope="session", autouse=True)
def _ultralytics_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Whichever vision test first imports Ultralytics: settings in a temporary folder (not
    the user's home), no downloads, no pip installs, quiet. Read at its first import."""
    home = tmp_path_factory.mktemp("ultralytics-config")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("YOLO_CONFIG_DIR", str(home))
        patch.setenv("YOLO_OFFLINE", "true")
        patch.setenv("YOLO_AUTOINSTALL", "false")
        patch.setenv("YOLO_VERBOSE", "false")
        yield home


@pytest.fixture(scope="session")
def ultralytics_home(_ultralytics_offline: Path) -> Path:
    """Ultralytics' settings folder (skips when Ultralytics, the 'train' extra, is absent)."""
    if importlib.util.find_spec("ultralytics") is None:
        pytest.skip("Ultralytics is not installed (the 'train' extra)")
    return _ultralytics_offline


@contextmanager
def _quiet_export() -> Iterator[None]:
    """Exports are test set-up: torch's warnings about them (its TorchScript exporter is
    deprecated; tracing warnings) are not what the tests check, and pytest would raise them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def scene(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Coloured rectangles on grey: structure for a random network to respond to."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 90, np.uint8)
    for _ in range(14):
        x, y = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        w, h = int(rng.integers(8, width // 4)), int(rng.integers(8, height // 4))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
    return img


@pytest.fixture(scope="session")
def make_scene() -> Callable[..., np.ndarray]:
    """``make_scene(width, height, seed=0)``: a test picture (see :func:`scene`)."""
    return scene


def _random_detect_model(names: tuple[str, ...], seed: int) -> Any:  # an ultralytics YOLO
    """A YOLO11n detect network with random weights that still gives varied boxes.

    A freshly initialised network's activations shrink layer after layer until every anchor
    predicts the same thing; one forward pass in training mode over a few test pictures, with
    the batch-norm momentum at 1, sets each layer's statistics from real activations, so they
    keep their scale. The class biases are raised from Ultralytics' prior (about -10) so that
    scores spread over (0, 1), and the box branch is tilted toward short distances so that
    boxes are tens of pixels rather than the whole picture.
    """
    import cv2
    import torch
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(seed)
    net = DetectionModel("yolo11n.yaml", nc=len(names), verbose=False)
    net.names = dict(enumerate(names))
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 1.0
    pictures = [
        cv2.resize(scene(320, 320, seed=100 + i), (TEST_IMGSZ, TEST_IMGSZ))[:, :, ::-1]
        for i in range(8)
    ]
    batch = torch.from_numpy(np.stack(pictures).transpose(0, 3, 1, 2).astype(np.float32) / 255)
    net.train()
    with torch.no_grad():
        net(batch)
        layers: Any = net.model
        head = layers[-1]
        for branch in head.cv3:
            branch[-1].bias.fill_(-1.0)
        for branch in head.cv2:
            branch[-1].weight.mul_(0.3)
            branch[-1].bias.copy_(torch.linspace(1.5, -3.0, head.reg_max).repeat(4))
    net.eval()
    yolo = YOLO("yolo11n.yaml")
    setattr(yolo, "model", net)  # noqa: B010 (typed as a path in Ultralytics' stubs)
    return yolo


@pytest.fixture(scope="session")
def tiny_weights(ultralytics_home: Path, tmp_path_factory: pytest.TempPathFactory) -> TinyWeights:
    """Random-weight YOLO11n detect model for the four synthetic classes: .pt and .onnx."""
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("tiny-weights")
    pt = folder / "tiny.pt"
    _random_detect_model(SYNTH_NAMES, seed=0).save(pt)
    # Export from the saved file so that both backends run exactly the same (fp16-saved)
    # weights.
    with _quiet_export():
        # Both exports write tiny.onnx: the dynamic one is moved aside first.
        exported = YOLO(pt).export(format="onnx", imgsz=TEST_IMGSZ, dynamic=True, simplify=False)
        dynamic = Path(exported).rename(folder / "tiny-dynamic.onnx")
        onnx = Path(YOLO(pt).export(format="onnx", imgsz=TEST_IMGSZ, simplify=False))
    return TinyWeights(pt, onnx, dynamic, SYNTH_NAMES)


@pytest.fixture(scope="session")
def nms_export(tiny_weights: TinyWeights, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny weights exported with NMS inside the graph: a (1, 300, 6) output."""
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("nms-weights")
    pt = folder / "tiny-nms.pt"
    pt.write_bytes(tiny_weights.pt.read_bytes())
    with _quiet_export():
        out = YOLO(pt).export(
            format="onnx", imgsz=TEST_IMGSZ, nms=True, iou=0.5, conf=0.25, simplify=False
        )
    return Path(out)


@pytest.fixture(scope="session")
def classify_weights(
    ultralytics_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """A tiny YOLO11n *classify* model (another task): .pt and .onnx."""
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("cls-weights")
    model = YOLO("yolo11n-cls.yaml")
    pt = folder / "classify.pt"
    model.save(pt)
    with _quiet_export():
        onnx = Path(YOLO(pt).export(format="onnx", imgsz=64, simplify=False))
    return pt, onnx
