"""Reports of an inspection: the defects' GeoJSON and the self-contained HTML page."""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser

import numpy as np
import pytest

from mission.geodesy import LocalFrame
from vision.dedup import Defect
from vision.detector import Box
from vision.pipeline import Inspection
from vision.report import DEFECTS_SCHEMA, DEFECTS_VERSION, defects_geojson, report_html

HOME = (149.165230, -35.363261)
FRAME = LocalFrame(*HOME)
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def defect(cls: str, x: float, y: float, k: int, crop: bool = True) -> Defect:
    lon, lat = FRAME.point_to_wgs84(x, y)
    image = None
    if crop:
        image = np.zeros((30 + k, 40, 3), np.uint8)
        image[:, :, k % 3] = 200
    return Defect(
        cls=cls,
        confidence=0.5 + 0.1 * k,
        lon=lon,
        lat=lat,
        x_m=x,
        y_m=y,
        error_m=0.4 + 0.2 * k,
        sightings=k + 1,
        time_s=3.0 * k + 0.25,
        frame_index=30 * k + 2,
        crop=image,
        box=Box(10.0, 20.0, 30.0, 41.0, cls, 0.5 + 0.1 * k),
    )


def inspection(defects: tuple[Defect, ...], **changes: object) -> Inspection:
    track = tuple(FRAME.point_to_wgs84(x, 0.0) for x in (-5.0, 40.0, 90.0))
    fields: dict[str, object] = {
        "defects": defects,
        "frames_total": 300,
        "frames_processed": 11,
        "redacted_regions": 2,
        "source": "flight.mp4",
        "weights": "synthetic-defects.onnx",
        "camera": "mavic3-enterprise",
        "kind": "video",
        "home": HOME,
        "t0": T0,
        "alignment": "takeoff",
        "detections": 9,
        "unplaced": 1,
        "track": tuple((float(a), float(b)) for a, b in track),
        "classes": ("crack", "rust", "spalling", "missing_disc"),
        "timings": {"total": 1.0},
    }
    fields.update(changes)
    return Inspection(**fields)  # type: ignore[arg-type]


@pytest.fixture
def found() -> Inspection:
    return inspection(
        (
            defect("crack", 10.0, -6.0, 0),
            defect("rust", 40.0, 0.0, 1),
            defect("crack", 75.0, 6.0, 2, crop=False),
        )
    )


def test_geojson_has_one_point_per_defect_with_the_promised_properties(found: Inspection):
    doc = defects_geojson(found)
    json.dumps(doc, allow_nan=False)  # plain JSON, nothing non-finite
    assert doc["type"] == "FeatureCollection"
    meta = doc["skyledger"]
    assert (meta["schema"], meta["version"]) == (DEFECTS_SCHEMA, DEFECTS_VERSION)
    assert meta["frames_total"] == 300 and meta["frames_processed"] == 11
    assert meta["redacted_regions"] == 2 and meta["t0"] == "2026-05-01T10:00:00.000Z"
    assert meta["counts"] == {"crack": 2, "rust": 1, "spalling": 0, "missing_disc": 0}
    features = doc["features"]
    assert [f["id"] for f in features] == ["D001", "D002", "D003"]
    for f, d in zip(features, found.defects, strict=True):
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        lon, lat = f["geometry"]["coordinates"]
        assert (lon, lat) == pytest.approx((d.lon, d.lat), abs=1e-7)
        props = f["properties"]
        for key in ("class", "confidence", "sightings", "time_s", "error_m", "id", "frame_index"):
            assert key in props
        assert props["class"] == d.cls and props["sightings"] == d.sightings
        assert props["confidence"] == pytest.approx(d.confidence)
        assert props["error_m"] == pytest.approx(d.error_m, abs=1e-3)
        assert props["time_s"] == pytest.approx(d.time_s)
        assert props["frame_index"] == d.frame_index and props["id"] == f["id"]
        assert props["box"] == [10.0, 20.0, 30.0, 41.0]
    assert features[1]["properties"]["utc"] == "2026-05-01T10:00:03.250Z"


def test_photos_without_a_clock_and_no_defects():
    doc = defects_geojson(inspection((), t0=None, kind="photos"))
    assert doc["features"] == [] and doc["skyledger"]["t0"] is None
    page = report_html(inspection((), t0=None, kind="photos"))
    assert "No defects were found" in page and "<svg" in page


class _Tags(HTMLParser):
    """Start and end tags in order, failing on a mismatch (void elements excepted)."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def parse(page: str) -> _Tags:
    tags = _Tags()
    tags.feed(page)
    tags.close()
    assert tags.stack == []
    return tags


def test_report_is_self_contained_and_shows_every_defect(found: Inspection):
    page = report_html(found)
    tags = parse(page)
    # offline: nothing fetched, nothing run
    text = re.sub(r"data:image/jpeg;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.search(r"https?:|//[a-z]|url\(|@import", text, re.IGNORECASE)
    names = [t for t, _ in tags.starts]
    assert "script" not in names and "link" not in names and "iframe" not in names
    for _, attrs in tags.starts:
        for key in ("src", "href"):
            value = attrs.get(key)
            assert value is None or value.startswith(("#", "data:image/jpeg;base64,")), value
    # every defect: in the table, on the map, and as an article with its facts
    for n, d in enumerate(found.defects, 1):
        ident = f"D{n:03d}"
        assert f'<article id="{ident}"' in page and f'href="#{ident}"' in page
        assert f"{d.lat:.7f}" in page and f"{d.lon:.7f}" in page
        assert f"{d.error_m:.2f} m" in page and f"{d.confidence:.2f}" in page
    # the crops, decodable, each with alt text; the defect without one says so
    images = [attrs for tag, attrs in tags.starts if tag == "img"]
    assert len(images) == 2 and "No picture of this defect" in page
    import cv2

    for attrs, d in zip(images, found.defects[:2], strict=True):
        assert attrs["alt"] and d.cls in str(attrs["alt"])
        data = base64.b64decode(str(attrs["src"]).split(",", 1)[1])
        picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        crop = d.crop
        assert crop is not None and picture is not None and picture.shape == crop.shape
    # accessible structure
    assert '<html lang="en">' in page and "<title>" in page
    assert names.count("h1") == 1 and names.count("h2") >= 3
    assert all(attrs.get("scope") in ("col", "row") for tag, attrs in tags.starts if tag == "th")
    # the summary
    assert "11 of 300" in page and "Regions redacted" in page


def test_map_is_valid_svg_with_scale_bar_track_and_a_dot_per_defect(found: Inspection):
    page = report_html(found)
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", page, re.DOTALL).group(0))  # type: ignore[union-attr]
    assert svg.get("role") == "img" and svg.find("title") is not None
    width, height = (float(v) for v in str(svg.get("viewBox")).split()[2:])
    dots = [c for c in svg.iter("circle") if c.get("class") == "dot"]
    assert len(dots) == 3
    xs = [float(str(c.get("cx"))) for c in dots]
    ys = [float(str(c.get("cy"))) for c in dots]
    assert all(0 < x < width for x in xs) and all(0 < y < height for y in ys)
    assert xs == sorted(xs)  # east is to the right
    assert ys[0] > ys[1] > ys[2]  # north is up (y = -6, 0, 6 m)
    assert svg.find("polyline") is not None
    scale = svg.find("g[@class='scale']")
    assert scale is not None
    bar = scale.find("rect")
    label = scale.find("text")
    assert bar is not None and label is not None and re.fullmatch(r"\d+ k?m", str(label.text))
    # the bar's length in pixels is the metres it says, at the map's scale
    metres = float(str(label.text).split()[0]) * (1000 if "km" in str(label.text) else 1)
    px_per_m = (xs[2] - xs[0]) / 65.0
    assert float(str(bar.get("width"))) == pytest.approx(metres * px_per_m, rel=1e-3)


def test_text_from_input_is_escaped():
    evil = "<script>alert('x')</script>"
    page = report_html(
        inspection((defect(evil, 5.0, 5.0, 0),), source=f"a&b{evil}.mp4", classes=(evil,))
    )
    parse(page)
    assert "<script" not in page and "&lt;script&gt;" in page
    doc = defects_geojson(inspection((defect(evil, 5.0, 5.0, 0),), classes=(evil,)))
    assert doc["features"][0]["properties"]["class"] == evil  # JSON keeps the value as it is
