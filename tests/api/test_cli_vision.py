"""``skyledger vision train`` and ``eval`` on a tiny dataset the test draws, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main

pytest.importorskip("ultralytics", reason="the train extra (Ultralytics) is not installed")


def draw_dataset(root: Path, n: int = 12) -> Path:
    """Squares (``block``) and discs (``spot``) on grey, as a Pascal VOC folder."""
    import cv2
    import numpy as np

    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    rng = np.random.default_rng(3)
    for i in range(n):
        img = np.full((64, 64, 3), 128, np.uint8)
        x, y = (int(v) for v in rng.integers(4, 36, 2))
        cv2.rectangle(img, (x, y), (x + 20, y + 20), (20, 20, 200), -1)
        objects = [("block", x, y, x + 20, y + 20)]
        if i % 2:
            cv2.circle(img, (50, 50), 8, (200, 200, 20), -1)
            objects.append(("spot", 42, 42, 58, 58))
        cv2.imwrite(str(root / "images" / f"s{i:02}.jpg"), img)
        xml = "".join(
            f"<object><name>{c}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin>"
            f"<xmax>{c2}</xmax><ymax>{d}</ymax></bndbox></object>"
            for c, a, b, c2, d in objects
        )
        (root / "annotations" / f"s{i:02}.xml").write_text(
            f"<annotation><size><width>64</width><height>64</height></size>{xml}</annotation>"
        )
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("vision-train")
    data = draw_dataset(root / "data")
    out = root / "tiny.onnx"
    assert (
        main(
            [
                "vision",
                "train",
                "--data",
                str(data),
                "--epochs",
                "1",
                "--imgsz",
                "64",
                "--batch",
                "4",
                "--device",
                "cpu",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    return data, out


@pytest.mark.slow
def test_train_writes_onnx_weights_and_an_honest_card(trained):
    _data, out = trained
    assert out.is_file() and out.stat().st_size > 100_000
    assert out.with_suffix(".pt").is_file()
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["classes"] == ["block", "spot"]
    assert card["epochs"] == 1 and card["imgsz"] == 64
    assert card["command"].startswith("skyledger vision train --data ")
    assert card["images"]["train"] + card["images"]["val"] == 12
    assert card["train_seconds"] > 0
    assert {c["name"] for c in card["validation"]["classes"]} <= {"block", "spot"}
    assert card["initial_weights"] == "random initial weights, no pretraining"
    assert card["validation"]["weights"] == out.name and card["training_data_made_by"] is None
    text = out.with_suffix(".md").read_text()
    assert "random initial weights" in text and "the project's own split" in text
    assert "mAP50" in text and "Inference image size" not in text


@pytest.mark.slow
def test_eval_prints_per_class_metrics_as_json(trained, capsys):
    data, out = trained
    capsys.readouterr()
    assert main(["vision", "eval", "--data", str(data), "--weights", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["split"] == "val" and got["imgsz"] == 64
    assert got["overall"]["name"] == "all"
    for m in got["classes"]:
        assert 0.0 <= m["map50_95"] <= m["map50"] <= 1.0
        assert 0.0 <= m["precision"] <= 1.0 and 0.0 <= m["recall"] <= 1.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--weights", "{root}/missing.pt"], "weights {root}/missing.pt do not exist"),
        (["--weights", "{root}/w.txt"], "must be a .pt or .onnx file"),
        (["--weights", "{root}/junk.pt"], "cannot be loaded as a YOLO model"),
        (["--weights", "{root}/junk.pt", "--imgsz", "50"], "--imgsz 50 must be a multiple of 32"),
    ],
)
def test_eval_bad_inputs_are_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "data").mkdir()
    (tmp_path / "w.txt").write_text("x")
    (tmp_path / "junk.pt").write_bytes(b"not a model at all")
    args = [a.format(root=tmp_path) for a in argv]
    assert main(["vision", "eval", "--data", str(tmp_path / "data"), *args]) == 2
    err = capsys.readouterr().err
    assert message.format(root=tmp_path) in err and err.count("\n") == 1


def test_train_refuses_bad_settings_before_any_work(tmp_path, capsys):
    data = tmp_path / "d"
    data.mkdir()
    for extra, message in (
        (["--epochs", "0", "-o", str(tmp_path / "w.pt")], "epochs 0 must be at least 1"),
        (["--epochs", "1", "-o", str(tmp_path / "w.bin")], "must end in .pt or .onnx"),
        (["--epochs", "1", "-o", str(tmp_path / "no" / "w.pt")], "does not exist"),
    ):
        assert main(["vision", "train", "--data", str(data), "--imgsz", "64", *extra]) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


@pytest.mark.slow
def test_training_on_from_weights_says_so_in_the_card(trained, tmp_path):
    data, first = trained
    out = tmp_path / "more.pt"
    argv = ["vision", "train", "--data", str(data), "--epochs", "1", "--imgsz", "64",
            "--batch", "4", "--device", "cpu", "--model", str(first.with_suffix(".pt")),
            "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["initial_weights"] == f"continued from {first.stem}.pt"
    before = card["previous_training"]
    assert before["weights"] == first.name and before["epochs"] == 1
    assert before["command"] == json.loads(first.with_suffix(".json").read_text())["command"]
    text = out.with_suffix(".md").read_text()
    assert "continued from tiny.pt" in text and "Before this run: `skyledger vision train" in text
    assert "with the runs before" in text
