"""``skyledger detect`` in-process: outputs written together, progress, one-line refusals.

The detector and the redactor are fakes put in place of :func:`vision.detector.load_detector`
and :class:`vision.redact.Redactor` (the pipeline's own results are measured in
tests/vision/test_pipeline.py): the fake detector finds one box in the middle of every frame,
so each frame looked at gives one defect. Errors use the real loader.
"""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import CentreDetector, FakeRedactor

from api import cli, cli_detect
from mission.camera import PRESETS
from mission.geodesy import LocalFrame
from mission.track import Track, TrackSample, track_to_csv
from vision.errors import VisionError

HOME = (149.165230, -35.363261)
FRAME = LocalFrame(*HOME)
START = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
CAMERA = "mavic3-enterprise"


def straight_track(seconds: int = 12) -> Track:
    samples = []
    for i in range(seconds + 1):
        lon, lat = FRAME.point_to_wgs84(5.0 * i, 0.0)
        samples.append(
            TrackSample(START + timedelta(seconds=i), lon, lat, 40.0, None, 0.0, 0.0, 90.0, 5.0)
        )
    return Track(tuple(samples), home=(HOME[0], HOME[1], 584.0), source="flight.csv")


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 10 s, 5 fps, 320x180 video of the straight track (rendered), and the track CSV."""
    from sim.render import render_track
    from sim.world import World

    folder = tmp_path_factory.mktemp("detect-footage")
    track = straight_track()
    csv = folder / "flight.csv"
    csv.write_text(track_to_csv(track))
    video = folder / "flight.mp4"
    world = World("cli-test", HOME).with_mark("crack", *FRAME.point_to_wgs84(20.0, 0.0), 1.0)
    render_track(world, track, PRESETS[CAMERA], video, fps=5.0, size=(320, 180), duration_s=10.0)
    return video, csv


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Fake detector and redactor in place; the loader's calls are recorded."""
    calls: list[dict[str, Any]] = []

    def load(weights: Any, **options: Any) -> CentreDetector:
        calls.append({"weights": weights, **options})
        return CentreDetector()

    monkeypatch.setattr("vision.detector.load_detector", load)
    monkeypatch.setattr("vision.redact.Redactor", FakeRedactor)
    return calls


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_detect_writes_the_defects_and_the_report(capsys, fakes, footage, tmp_path: Path):
    video, csv = footage
    out, report = tmp_path / "defects.geojson", tmp_path / "report.html"
    code, stdout, stderr = run(
        capsys, "detect", video, "--track", csv, "--camera", CAMERA, "--weights", "w.onnx",
        "--imgsz", "320", "--conf", "0.4", "--slice", "640", "-o", out, "--report", report,
    )  # fmt: skip
    assert code == 0, stderr
    assert fakes == [
        {"weights": Path("w.onnx"), "imgsz": 320, "conf": 0.4, "device": "auto", "slice_px": 640}
    ]
    doc = json.loads(out.read_text())
    assert doc["skyledger"]["schema"] == "skyledger.defects"
    assert doc["skyledger"]["frames_total"] == 50
    processed = doc["skyledger"]["frames_processed"]
    assert 2 <= processed < 50
    assert len(doc["features"]) == processed  # one box a frame, each on new ground
    assert doc["skyledger"]["redacted_regions"] == processed
    for f in doc["features"]:
        assert f["properties"]["class"] == "crack" and f["properties"]["error_m"] > 0
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<article") == processed
    assert f"{processed} distinct defects (crack {processed})" in stdout
    assert f"wrote {out}" in stdout and f"wrote {report}" in stdout
    # stderr is no terminal here: progress as lines, up to 100 %
    lines = stderr.splitlines()
    assert lines and all(line.startswith("detecting: ") for line in lines)
    assert lines[-1] == "detecting: 100% (50/50 frames)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["defects.geojson", "report.html"]


def test_json_summary_and_no_progress_off_a_terminal(
    capsys, monkeypatch, fakes, footage, tmp_path: Path
):
    video, csv = footage
    shipped = tmp_path / "shipped.onnx"
    shipped.write_bytes(b"")
    monkeypatch.setattr(cli_detect, "default_weights", lambda: shipped)
    out = tmp_path / "d.json"
    code, stdout, stderr = run(
        capsys, "detect", video, "--track", csv, "--offset", "0", "--every-frame", "-o", out,
        "--json",
    )  # fmt: skip
    assert code == 0, stderr
    assert stderr == ""
    summary = json.loads(stdout)
    assert summary["frames_processed"] == summary["frames_total"] == 50
    assert summary["alignment"] == "offset 0 s" and summary["camera"] == CAMERA
    assert summary["files"] == [str(out)] and summary["weights"] == "fake-centre.onnx"
    assert summary["defects"] == len(json.loads(out.read_text())["features"])
    assert set(summary["counts"]) == {"crack", "rust"}
    assert fakes[0]["weights"] == shipped  # no --weights: the shipped model


def test_default_weights_not_shipped(capsys, monkeypatch, fakes, footage, tmp_path: Path):
    monkeypatch.setattr(cli_detect, "default_weights", lambda: tmp_path / "none.onnx")
    video, csv = footage
    code, _, stderr = run(capsys, "detect", video, "--track", csv, "-o", tmp_path / "d.geojson")
    assert code == 2 and "default weights" in stderr and "give --weights" in stderr
    assert fakes == [] and list(tmp_path.iterdir()) == []


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = math.floor(value)
    m = math.floor((value - d) * 60)
    return float(d), float(m), round((value - d - m / 60) * 3600, 5)


def write_photo(path: Path, x_m: float) -> None:
    from PIL import ExifTags, Image

    lon, lat = FRAME.point_to_wgs84(x_m, 0.0)
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "S", _dms(lat)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", _dms(lon)
    gps[ExifTags.GPS.GPSAltitudeRef], gps[ExifTags.GPS.GPSAltitude] = b"\x00", 624.0
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2026:05:01 10:00:00"
    sub[ExifTags.Base.OffsetTimeOriginal] = "+00:00"
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" drone-dji:GimbalPitchDegree="-90" '
        b'drone-dji:GimbalYawDegree="90"/></rdf:RDF></x:xmpmeta>'
    )
    Image.new("RGB", (160, 120), (90, 90, 90)).save(path, "JPEG", exif=exif, xmp=xmp)


def test_detect_a_photo_folder(capsys, fakes, tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    write_photo(photos / "DJI_0001.JPG", 0.0)
    write_photo(photos / "DJI_0002.JPG", 60.0)
    out = tmp_path / "d.geojson"
    # no RelativeAltitude in these photos: the ground's elevation places them (624 - 584 m)
    code, stdout, stderr = run(
        capsys, "detect", photos, "--ground-amsl", "584", "--weights", "w.pt", "-o", out
    )
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    assert doc["skyledger"]["kind"] == "photos" and len(doc["features"]) == 2
    assert "photos processed  2 of 2" in stdout
    east = [FRAME.point_to_local(*f["geometry"]["coordinates"])[0] for f in doc["features"]]
    assert east == pytest.approx([0.0, 60.0], abs=0.5)


def tiny_classifier(path: Path) -> Path:
    """An ONNX file with Ultralytics' metadata saying it is a classification model."""
    onnx = pytest.importorskip("onnx")
    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["output0"])],
        "classify",
        [helper.make_tensor_value_info("images", onnx.TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("output0", onnx.TensorProto.FLOAT, [1, 3, 64, 64])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (("task", "classify"), ("names", "{0: 'a', 1: 'b'}"), ("stride", "1")):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


BAD: list[tuple[str, Any, str]] = [
    ("no such video", lambda d, v, c: [d / "nothing.mp4", "--track", c], "does not exist"),
    ("not a video", lambda d, v, c: [_text(d / "notes.mp4"), "--track", c], "not a video"),
    ("truncated", lambda d, v, c: [_cut(v, d), "--track", c], "truncated|cut short|damaged"),
    ("no track", lambda d, v, c: [v], "--track is required"),
    ("short track", lambda d, v, c: [v, "--track", _short(d)], "covers only"),
    ("unknown camera", lambda d, v, c: [v, "--track", c, "--camera", "nikon"], "not a preset"),
    ("missing weights", lambda d, v, c: [v, "--track", c, "--weights", d / "w.onnx"], "not found"),
    ("corrupt weights", lambda d, v, c: [v, "--track", c, "--weights", _text(d / "w.onnx")],
     "not a readable ONNX"),
    ("other task", lambda d, v, c: [v, "--track", c, "--weights", tiny_classifier(d / "c.onnx")],
     "classification model"),
    ("output extension", lambda d, v, c: [v, "--track", c, "-o", d / "d.txt"], "must end in"),
    ("output folder", lambda d, v, c: [v, "--track", c, "-o", d / "no" / "d.geojson"],
     "does not exist"),
    ("offset for photos", lambda d, v, c: [d, "--offset", "3"], "for video footage"),
    ("bad overlap", lambda d, v, c: [v, "--track", c, "--max-overlap", "1.5"], "within 0 to < 1"),
    ("distortion", lambda d, v, c: [v, "--track", c, "--distortion", "0.1,0"],
     "must be 4 or 5 comma-separated numbers"),
]  # fmt: skip


def _text(path: Path) -> Path:
    path.write_text("not what it says it is\n")
    return path


def _cut(video: Path, folder: Path) -> Path:
    cut = folder / "cut.mp4"
    data = video.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    return cut


def _short(folder: Path) -> Path:
    path = folder / "short.csv"
    path.write_text(track_to_csv(straight_track(seconds=4)))
    return path


@pytest.mark.parametrize(("case", "argv", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_writes_nothing(
    capsys, monkeypatch, footage, tmp_path: Path, case: str, argv: Any, message: str
):
    import re

    monkeypatch.setattr("vision.redact.Redactor", FakeRedactor)
    video, csv = footage
    args = [str(a) for a in argv(tmp_path, video, csv)]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "defects.geojson")]
    before = set(tmp_path.rglob("*"))
    code, stdout, stderr = run(capsys, "detect", *args, "--report", tmp_path / "r.html")
    assert code == 2, (case, stderr)
    assert stderr.startswith("skyledger: error: ") and stderr.count("\n") == 1, stderr
    assert re.search(message, stderr), stderr
    assert stdout == ""
    assert set(tmp_path.rglob("*")) == before  # nothing written, no temporary left


def test_no_redaction_no_pictures(capsys, monkeypatch, fakes, footage, tmp_path: Path):
    """When the redactor cannot be built (OpenCV without its detectors), nothing is done."""

    def unavailable(plates: bool = False) -> Any:
        raise VisionError("OpenCV 5.0.0 lacks what redaction needs (haarcascade_...)")

    monkeypatch.setattr("vision.redact.Redactor", unavailable)
    video, csv = footage
    code, _, stderr = run(capsys, "detect", video, "--track", csv, "-o", tmp_path / "d.geojson")
    assert code == 2 and "lacks what redaction needs" in stderr
    assert list(tmp_path.iterdir()) == []


def test_redaction_cannot_be_switched_off(capsys, footage, tmp_path: Path):
    video, csv = footage
    code, _, stderr = run(
        capsys, "detect", video, "--track", csv, "-o", tmp_path / "d.geojson", "--no-redact"
    )
    assert code == 2 and "unrecognized arguments: --no-redact" in stderr


def test_progress_bar_on_a_terminal_redraws_in_place():
    stream = io.StringIO()
    bar = cli_detect.ProgressBar(stream, "detecting", "frames", tty=True)
    for done in range(0, 101, 10):
        bar(done, 100)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\rdetecting [") and text.endswith("] 100% 100/100 frames\n")
    assert "\n" not in text[:-1]


def test_progress_lines_off_a_terminal_every_tenth():
    stream = io.StringIO()
    bar = cli_detect.ProgressBar(stream, "detecting", "frames", tty=False)
    for done in range(1, 1001):
        bar(done, 1000)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1] == "detecting: 100% (1000/1000 frames)"
