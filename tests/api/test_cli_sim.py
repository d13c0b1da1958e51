"""``skyledger sim render``: footage and ground truth along a track, and its bad inputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api import cli
from mission.track import Track, TrackSample, track_to_csv
from sim.world import World, read_truth

T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tracks over the sample city's bridge deck: one that flies, one that never takes off."""
    d = tmp_path_factory.mktemp("tracks")
    city = World.sample()
    deck = next(m for m in city.defects if m.id.startswith("bridge-deck"))
    for name, alt in (("deck.csv", 40.0), ("ground.csv", 0.0)):
        samples = []
        for i in range(31):
            t = i / 10
            lon, lat = city.frame.to_wgs84(deck.x_m - 4.0 + 3.0 * t, deck.y_m)
            up = alt if t >= 0.5 else 0.0
            samples.append(
                TrackSample(T0 + timedelta(seconds=t), float(lon), float(lat), up, yaw_deg=90.0)
            )
        track = Track(tuple(samples), home=(*city.home, 584.0))
        (d / name).write_text(track_to_csv(track))
    return d


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_render_writes_footage_and_the_defects_it_shows(capsys, tracks: Path, tmp_path: Path):
    import cv2

    video, truth = tmp_path / "deck.mp4", tmp_path / "truth.geojson"
    code, out, err = run(
        capsys, "sim", "render", tracks / "deck.csv", "--world", "sample", "-o", video,
        "--truth", truth, "--size", "320x180", "--fps", "8", "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["frames"], doc["fps"], doc["width"], doc["height"]) == (20, 8.0, 320, 180)
    assert doc["start"] == "2026-03-03T09:00:00.500000Z" and doc["start_offset_s"] == 0.5
    assert doc["files"] == [str(video), str(truth)]
    cap = cv2.VideoCapture(str(video))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 20 and cap.get(cv2.CAP_PROP_FPS) == 8.0
    cap.release()
    seen = read_truth(truth.read_text(), str(truth))
    assert len(seen) == doc["defects_seen"] >= 1
    city = {d.id: d for d in World.sample().truth()}
    for d in seen:
        assert (d.lon, d.lat, d.cls) == pytest.approx((city[d.id].lon, city[d.id].lat, d.cls))
    props = json.loads(truth.read_text())["features"][0]["properties"]
    assert props["frames"] >= 1 and 0 <= props["first_time_s"] <= props["last_time_s"] <= 2.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deck.mp4", "truth.geojson"]


def test_render_says_what_it_made(capsys, tracks: Path, tmp_path: Path):
    video = tmp_path / "a.mp4"
    code, out, err = run(
        capsys, "sim", "render", tracks / "deck.csv", "-o", video, "--size", "160x90",
        "--offset", "1", "--duration", "1",
    )  # fmt: skip
    assert code == 0, err
    assert "rendered 30 frames of the sample world" in out and f"wrote {video}" in out
    assert "1.0 s after the track's first sample" in out
    assert "rendering: 100% (30/30 frames)" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("{T}/missing.csv -o {T}/v.mp4", "track file '{T}/missing.csv' does not exist"),
        ("{D}/deck.csv -o {T}/v.mp4 --world mars", "unknown world 'mars'"),
        ("{D}/deck.csv -o {T}/v.mp4 --size 1920by1080", "is not WIDTHxHEIGHT"),
        ("{D}/deck.csv -o {T}/v.mp4 --size 321x240", "must be even numbers"),
        ("{D}/deck.csv -o {T}/v.avi", "must end in .mp4"),
        ("{D}/deck.csv -o {T}/v.mp4 --truth {T}/t.csv", "must end in .geojson or .json"),
        ("{D}/deck.csv -o {T}/nowhere/v.mp4", "output folder '{T}/nowhere' does not exist"),
        ("{D}/deck.csv -o {T}/v.mp4 --fps 0", "frame rate 0 must be > 0"),
        ("{D}/deck.csv -o {T}/v.mp4 --gimbal-pitch -100", "within -90..30"),
        ("{D}/deck.csv -o {T}/v.mp4 --camera potato", "potato"),
        ("{D}/deck.csv -o {T}/v.mp4 --duration 60", "more than the 2.5 s the track covers"),
        ("{D}/deck.csv -o {T}/v.mp4 --offset 9", "outside the track's 0..3 s"),
        ("{D}/ground.csv -o {T}/v.mp4", "never leaves the ground"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    capsys, tracks: Path, tmp_path: Path, args: str, message: str
):
    where = {"T": tmp_path, "D": tracks}
    code, out, err = run(capsys, "sim", "render", *args.format(**where).split())
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("skyledger: error: ")
    assert message.format(**where) in err
    assert list(tmp_path.iterdir()) == []


def test_sim_needs_a_command(capsys):
    code, _out, err = run(capsys, "sim")
    assert code == 2 and "required" in err and err.count("\n") == 1


def test_dataset_writes_yolo_training_data(capsys, tmp_path: Path):
    out = tmp_path / "synth"
    code, stdout, err = run(capsys, "sim", "dataset", "-o", out, "--images", "5", "--imgsz",
                            "128", "--seed", "2", "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["data"] == str(out / "data.yaml") and doc["train_images"] + doc["val_images"] == 5
    assert set(doc["boxes"]) == {"crack", "rust", "spalling", "missing_disc"}
    assert len(list(out.glob("images/*/*.jpg"))) == len(list(out.glob("labels/*/*.txt"))) == 5
    made = json.loads((out / "dataset.json").read_text())  # for the model card
    assert made["command"] == f"skyledger sim dataset -o {out} --images 5 --imgsz 128 --seed 2 --json"
    assert (made["frame_width_px"], made["boxes"]) == (1920, doc["boxes"])
    code, stdout, err = run(capsys, "sim", "dataset", "-o", out, "--images", "5")
    assert code == 2 and "already holds a dataset" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--images 0", "0 must be >= 1"),
        ("--imgsz 32", "image size 32 must be a whole number of pixels, 64..4096"),
        ("--seed -1", "'-1' is not a whole number >= 0"),
        ("--camera potato", "potato"),
    ],
)
def test_dataset_bad_input(capsys, tmp_path: Path, args: str, message: str):
    code, out, err = run(capsys, "sim", "dataset", "-o", tmp_path / "d", *args.split())
    assert code == 2 and out == "" and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
