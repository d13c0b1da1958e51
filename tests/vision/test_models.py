"""The models the project ships: their cards, and what they find.

The synthetic-world model is run end to end on footage rendered along a flight through the
sample city's defects; the insulator and insulator-defect models are evaluated on the
project's validation split of cplid-dev where that dataset is present.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import vision
from mission.camera import PRESETS
from sim.render import render_track
from sim.tours import tour_track
from sim.world import World
from vision.detector import load_detector
from vision.pipeline import detect_footage
from vision.score import TrueDefect, score
from vision.training import card_markdown

MODELS = Path(vision.__file__).parent / "models"
SYNTHETIC = MODELS / "synthetic-defects.onnx"
INSULATOR = MODELS / "cplid-insulator.onnx"
DEFECT = MODELS / "cplid-defect.onnx"
# Regression guards below what the shipped model measured on this flight (recall 1.0,
# precision 0.57, median placement error 0.09 m), not targets. Two of its nine unmatched
# reports are real cracks of the water tower that the footage's truth list leaves out; the
# rest are on a tar patch, a manhole and road markings.
RECALL_AT_LEAST = 0.8
PRECISION_AT_LEAST = 0.5
CPLID = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "cplid-dev"


@pytest.mark.parametrize(
    ("weights", "classes"),
    [
        (SYNTHETIC, ["crack", "rust", "spalling", "missing_disc"]),
        (INSULATOR, ["defect", "insulator"]),
        (DEFECT, ["defect"]),
    ],
)
def test_each_shipped_model_has_an_honest_card(weights: Path, classes: list[str]):
    card = json.loads(weights.with_suffix(".json").read_text())
    assert card["classes"] == classes
    assert card["command"].startswith("skyledger vision train --data ")
    assert card["train_seconds"] > 60 and card["epochs"] >= 1
    first = card  # trained here, from random weights in its first run
    while first.get("previous_training"):
        first = first["previous_training"]
    assert "--model" not in first["command"]
    assert (first is card) == (card["architecture"] == "yolo11n.yaml")
    names = {m["name"] for m in card["validation"]["classes"]}
    assert names == set(classes)
    assert list(load_detector(weights).names) == classes
    assert load_detector(weights.with_suffix(".pt")).names == load_detector(weights).names
    text = weights.with_suffix(".md").read_text()
    assert "Training time" in text and "mAP50" in text
    assert text.startswith(card_markdown(card))  # the two cards say the same


@pytest.mark.slow
def test_synthetic_model_finds_the_defects_of_rendered_footage(tmp_path: Path):
    """A minute at 40 m through the sample city's defects, 1920x1080 at 5 fps."""
    world = World.sample()
    start = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    track = tour_track(world, 60.0, start=start, home_amsl_m=584.0)
    camera = PRESETS["mavic3-enterprise"]
    video = tmp_path / "tour.mp4"
    rendered = render_track(world, track, camera, video, fps=5, size=(1920, 1080))
    truth = [TrueDefect(t.id, t.cls, t.lon, t.lat) for t in world.truth() if t.id in rendered.seen]
    assert len(truth) >= 8
    inspection = detect_footage(video, track, camera, load_detector(SYNTHETIC))
    got = score(inspection.defects, truth, world.frame)
    assert got.recall >= RECALL_AT_LEAST, (
        f"missed {sorted({t.id for t in truth} - set(got.matched))}"
    )
    assert got.precision >= PRECISION_AT_LEAST
    assert got.median_error_m <= 1.0
    assert inspection.frames_processed < inspection.frames_total / 5


def cplid_metrics(weights: Path, workdir: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    from vision.training import evaluate

    if not CPLID.is_dir():
        pytest.skip("../shared/datasets/cplid-dev is not here")
    got = evaluate(CPLID, weights, device="cpu", workdir=workdir)
    return {m.name: m for m in got.classes}, got.ignored


@pytest.mark.slow
def test_insulator_model_finds_insulators_on_its_validation_split(tmp_path: Path):
    metrics, ignored = cplid_metrics(INSULATOR, tmp_path)
    assert metrics["insulator"].map50 >= 0.9 and not ignored  # 0.947 when shipped


@pytest.mark.slow
def test_defect_model_meets_the_target_on_its_validation_split(tmp_path: Path):
    metrics, ignored = cplid_metrics(DEFECT, tmp_path)
    assert ignored == ("insulator",)  # left out, and said so
    assert metrics["defect"].map50 >= 0.85  # the target
