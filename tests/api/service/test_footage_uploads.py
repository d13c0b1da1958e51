"""Footage: a video streamed to the blob store and searched for defects in a job; uploads that
are too large, of the wrong type, named as a path, cut short or unreadable are refused and
leave nothing behind; who may read the defects, crops and reports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from fakes import CentreDetector, FakeRedactor
from fastapi.testclient import TestClient
from seeding import wait_for_job

from api.settings import Settings
from api.storage.models import File, Flight, Footage, Inspection, User
from mission.geodesy import LocalFrame
from mission.track import Track, TrackSample, track_to_csv

HOME = (149.165230, -35.363261)
FRAME = LocalFrame(*HOME)
START = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
CAMERA = "mavic3-enterprise"
#: The service's upload limit in these tests (the clip is far smaller; the 1080p tour of the
#: shipped model's test about 3 MB).
LIMIT = 8 * 1024 * 1024
BOUNDARY = "test-boundary-7d1f"


@pytest.fixture
def settings(tmp_path: Path, db_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", db_url=db_url, job_workers=1, max_upload_bytes=LIMIT
    )


def straight_track(seconds: int = 12) -> Track:
    samples = []
    for i in range(seconds + 1):
        lon, lat = FRAME.point_to_wgs84(5.0 * i, 0.0)
        samples.append(
            TrackSample(START + timedelta(seconds=i), lon, lat, 40.0, None, 0.0, 0.0, 90.0, 5.0)
        )
    return Track(tuple(samples), home=(HOME[0], HOME[1], 584.0), source="flight.csv")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A 10 s, 5 fps, 320x180 video of the straight track over one crack, and its track."""
    from mission.camera import PRESETS
    from sim.render import render_track
    from sim.world import World

    folder = tmp_path_factory.mktemp("footage")
    track = straight_track()
    video = folder / "clip.mp4"
    world = World("footage-test", HOME).with_mark("crack", *FRAME.point_to_wgs84(20.0, 0.0), 1.0)
    render_track(world, track, PRESETS[CAMERA], video, fps=5.0, size=(320, 180), duration_s=10.0)
    return {"video": video.read_bytes(), "track": track_to_csv(track).encode()}


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vision.detector.load_detector", lambda *a, **k: CentreDetector())
    monkeypatch.setattr("vision.redact.Redactor", FakeRedactor)


@pytest.fixture
def flight(client: TestClient, headers: dict[str, dict[str, str]], clip) -> Iterator[int]:
    """A flight made by uploading the clip's track (no plan: the default camera)."""
    answer = client.post(
        "/api/flights/upload",
        headers=headers["crew"],
        files={"file": ("flight.csv", clip["track"], "text/csv")},
        data={"purpose": "footage test"},
    )
    assert answer.status_code == 201, answer.text
    yield int(answer.json()["flight"]["id"])


def post_video(
    client: TestClient,
    flight_id: int,
    headers: dict[str, str],
    name: str,
    data: bytes,
    content_type: str = "video/mp4",
    **fields: Any,
) -> Any:
    return client.post(
        f"/api/flights/{flight_id}/footage",
        headers=headers,
        files={"file": (name, data, content_type)},
        data={k: str(v) for k, v in fields.items()},
    )


def leftovers(client: TestClient) -> tuple[list[str], list[str], int]:
    """Every file under the blob store (temporary ones included), every files row, and how
    many footage rows there are."""
    root: Path = client.app.state.blobs.root  # type: ignore[attr-defined]
    blobs = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        rows = sorted(f.sha256 for f in session.query(File))
        return blobs, rows, session.query(Footage).count()


def multipart(name: str, data: bytes, content_type: str = "video/mp4") -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{name}"\r\nContent-Type: {content_type}\r\n\r\n'
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


# --- the whole way ----------------------------------------------------------------------------


def test_footage_is_stored_and_its_defects_found_in_a_job(client, headers, flight, clip, fakes):
    answer = post_video(client, flight, headers["crew"], "clip.mp4", clip["video"], offset_s=0.5)
    assert answer.status_code == 202, answer.text
    footage, job = answer.json()["footage"], answer.json()["job"]
    assert footage["name"] == "clip.mp4" and footage["size"] == len(clip["video"])
    assert footage["media_type"] == "video/mp4" and footage["offset_s"] == 0.5
    assert job["kind"] == "detect" and job["params"]["footage_id"] == footage["id"]
    done = wait_for_job(client, job["id"], headers["crew"])
    assert done["state"] == "succeeded", done
    result = done["result"]
    assert result["defects"] >= 1 and result["counts"]["crack"] == result["defects"]
    assert 0 < result["frames_processed"] < result["frames_total"] == 50

    listed = client.get(f"/api/flights/{flight}/footage", headers=headers["regulator"]).json()
    assert [f["id"] for f in listed] == [footage["id"]]
    geo = client.get(f"/api/flights/{flight}/defects")
    assert geo.status_code == 200 and geo.headers["content-type"] == "application/geo+json"
    features = geo.json()["features"]
    assert len(features) == result["defects"]
    first = features[0]
    assert first["geometry"]["type"] == "Point" and first["properties"]["class"] == "crack"
    lon, lat = first["geometry"]["coordinates"]
    x, y = FRAME.point_to_local(lon, lat)
    assert abs(y) < 20 and -10 < x < 80  # under the straight track

    crop = client.get(first["properties"]["crop_url"])
    assert crop.status_code == 200 and crop.content[:2] == b"\xff\xd8"
    listed_defects = client.get(f"/api/defects?flight_id={flight}&class=crack").json()
    assert listed_defects["total"] == result["defects"]
    assert client.get("/api/defects?class=rust").json()["total"] == 0
    west, south = lon - 0.001, lat - 0.001
    inside = client.get(f"/api/defects?bbox={west},{south},{lon + 0.001},{lat + 0.001}")
    assert inside.json()["total"] >= 1
    outside = client.get(f"/api/defects?bbox={west - 1},{south},{west - 0.5},{lat}")
    assert outside.json()["total"] == 0

    inspections = client.get(f"/api/flights/{flight}/inspections").json()
    assert [i["counts"]["crack"] for i in inspections] == [result["defects"]]
    report_url = inspections[0]["report_url"]
    assert client.get(report_url).status_code == 401
    report = client.get(report_url, headers=headers["regulator"])
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "clip.mp4" in report.text and str(client.app.state.blobs.root) not in report.text
    geojson = client.get(
        f"/api/inspections/{inspections[0]['id']}/geojson", headers=headers["crew"]
    )
    assert geojson.json()["skyledger"]["schema"] == "skyledger.defects"
    assert len(geojson.json()["features"]) == result["defects"]
    with client.app.state.db.session() as session:
        assert session.query(Inspection).one().job_id == job["id"]


def test_footage_the_track_does_not_cover_fails_its_job_with_the_reason(
    client, headers, flight, clip, fakes
):
    answer = post_video(client, flight, headers["crew"], "late.mp4", clip["video"], offset_s=600)
    assert answer.status_code == 202, answer.text
    done = wait_for_job(client, answer.json()["job"]["id"], headers["crew"])
    assert done["state"] == "failed" and "late.mp4" in done["error"], done
    assert str(client.app.state.blobs.root) not in done["error"]
    assert client.get(f"/api/flights/{flight}/inspections").json() == []


def test_defects_of_a_private_flight_are_hidden_from_the_public(
    client, headers, flight, clip, fakes
):
    with client.app.state.db.session() as session:
        row = session.get(Flight, flight)
        assert row is not None
        row.public = False
    answer = post_video(client, flight, headers["admin"], "clip.mkv", clip["video"], "")
    assert answer.status_code == 202, answer.text
    assert wait_for_job(client, answer.json()["job"]["id"], headers["crew"])["state"] == (
        "succeeded"
    )
    staff = client.get("/api/defects", headers=headers["regulator"]).json()
    assert staff["total"] >= 1
    assert client.get("/api/defects").json()["total"] == 0
    assert client.get(f"/api/flights/{flight}/defects").status_code == 404
    assert client.get(f"/api/flights/{flight}/inspections").status_code == 404
    crop = staff["items"][0]["crop_url"]
    assert client.get(crop).status_code == 404
    assert client.get(crop, headers=headers["crew"]).status_code == 200
    inspection = staff["items"][0]["inspection_id"]
    assert client.get(f"/api/inspections/{inspection}").status_code == 404
    assert client.get(f"/api/inspections/{inspection}", headers=headers["crew"]).json()["id"] == (
        inspection
    )


def test_an_unreadable_video_is_refused_before_it_is_kept(client, headers, flight):
    before = leftovers(client)
    answer = post_video(client, flight, headers["crew"], "broken.mp4", b"\x00\x01" * 5000)
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert "broken.mp4" in detail and "nothing was kept" in detail
    assert str(client.app.state.blobs.root) not in detail
    assert leftovers(client) == before


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("clip.mp4", "clip.mp4"),
        ("flight 3 (cam).MOV", "flight 3 (cam).MOV"),
        ("über<script>.mp4", "_ber_script_.mp4"),
        ("..hidden.mp4", "hidden.mp4"),
        ("x" * 300 + ".mp4", "x" * 196 + ".mp4"),
    ],
)
def test_only_a_clean_base_name_is_kept(name, kept):
    from api.work.records import safe_name

    assert safe_name(name) == kept


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../x.mp4", "names a path"),
        ("/etc/x.mp4", "names a path"),
        ("..\\x.mp4", "names a path"),
        ("C:\\x.mp4", "names a path"),
        ("a/b.mp4", "names a path"),
        ("..", "names a path"),
        ("x\x00.mp4", "control characters"),
        ("x\n.mp4", "control characters"),
    ],
)
def test_a_name_that_is_a_path_is_refused(name, why):
    from api.work.records import UnsafeName, safe_name

    with pytest.raises(UnsafeName, match=why):
        safe_name(name)


@pytest.mark.parametrize(
    ("name", "content_type", "fields", "status", "message"),
    [
        ("notes.txt", "text/plain", {}, 415, ".mp4, .mov, .avi or .mkv"),
        ("clip", "video/mp4", {}, 415, "not none"),
        ("clip.mp4", "image/png", {}, 415, "image/png"),
        ("../x.mp4", "video/mp4", {}, 400, "names a path"),
        ("/etc/x.mp4", "video/mp4", {}, 400, "names a path"),
        ("..\\x.mp4", "video/mp4", {}, 400, "names a path"),
        ("a/b.mp4", "video/mp4", {}, 400, "names a path"),
        ("clip.mp4", "video/mp4", {"offset_s": "soon"}, 422, "offset_s"),
        ("clip.mp4", "video/mp4", {"offset_s": "nan"}, 422, "offset_s"),
    ],
)
def test_a_bad_upload_is_refused_and_leaves_nothing(
    client, headers, flight, clip, name, content_type, fields, status, message
):
    before = leftovers(client)
    answer = post_video(
        client, flight, headers["crew"], name, clip["video"], content_type, **fields
    )
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert message in detail and "\n" not in detail
    assert leftovers(client) == before


def test_an_upload_over_the_limit_is_refused_as_it_streams(client, headers, flight):
    before = leftovers(client)
    # Content-Length within the slack for the form's own bytes: caught while streaming
    answer = post_video(client, flight, headers["crew"], "big.mp4", b"\x00" * (LIMIT + 1))
    assert answer.status_code == 413, answer.text
    assert f"limit of {LIMIT} bytes" in answer.json()["detail"]
    # no Content-Length at all (chunked): the same
    body = multipart("big.mp4", b"\x00" * (LIMIT + 10))

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    chunked = client.post(
        f"/api/flights/{flight}/footage",
        headers=headers["crew"] | {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        content=chunks(),
    )
    assert chunked.status_code == 413, chunked.text
    assert leftovers(client) == before


def call(
    client: TestClient,
    path: str,
    headers: dict[str, str],
    parts: list[bytes],
    disconnect: bool = False,
) -> tuple[int, bytes]:
    """Call the app directly (ASGI) with a body in ``parts``, then the end of the body or
    the client going away; returns the status and the body answered."""
    answer: dict[str, Any] = {"body": b""}
    messages = [{"type": "http.request", "body": part, "more_body": True} for part in parts]
    messages.append(
        {"type": "http.disconnect"} if disconnect else {"type": "http.request", "body": b""}
    )

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "state": {},
    }  # fmt: skip

    async def run() -> None:
        await client.app(scope, receive, send)  # type: ignore[arg-type]

    anyio.run(run)
    return int(answer["status"]), bytes(answer["body"])


def test_a_body_cut_short_or_abandoned_leaves_nothing(client, headers, flight, clip):
    before = leftovers(client)
    body = multipart("clip.mp4", clip["video"])
    form = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    cut = client.post(
        f"/api/flights/{flight}/footage",
        headers=headers["crew"] | form,
        content=body[: len(body) // 2],
    )
    assert cut.status_code == 400 and "cut short" in cut.json()["detail"], cut.text
    assert leftovers(client) == before
    # the client goes away half way through
    head = headers["crew"] | form | {"Content-Length": str(len(body))}
    status, text = call(
        client, f"/api/flights/{flight}/footage", head, [body[:1000], body[1000:20000]], True
    )
    assert status == 400 and b"cut short" in text
    assert leftovers(client) == before
    # a Content-Length over the limit is refused before the body is read
    huge = headers["crew"] | form | {"Content-Length": str(10 * LIMIT)}
    status, text = call(client, f"/api/flights/{flight}/footage", huge, [body[:100]])
    assert status == 413 and b"larger than the limit" in text
    assert leftovers(client) == before


def test_footage_needs_a_flown_flight_and_a_crew(client, headers, flight, clip):
    with client.app.state.db.session() as session:
        crew = session.query(User).filter_by(name="crew-1").one()
        queued = Flight(
            source="builtin", state="queued", purpose="x", summary={}, created_by=crew.id
        )
        session.add(queued)
        session.flush()
        queued_id = queued.id
    before = leftovers(client)
    early = post_video(client, queued_id, headers["crew"], "clip.mp4", clip["video"])
    assert early.status_code == 409 and "has no track yet" in early.json()["detail"]
    missing = post_video(client, 999, headers["crew"], "clip.mp4", clip["video"])
    assert missing.status_code == 404 and missing.json()["detail"] == "flight 999 does not exist"
    assert post_video(client, flight, {}, "clip.mp4", clip["video"]).status_code == 401
    refused = post_video(client, flight, headers["regulator"], "clip.mp4", clip["video"])
    assert refused.status_code == 403
    assert leftovers(client) == before
    assert client.get(f"/api/flights/{flight}/footage").status_code == 401


# --- the real model ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_shipped_model_finds_defects_in_rendered_footage(client, headers, settings):
    """Twelve seconds at 40 m through the sample city's defects, rendered at 1920x1080, 5 fps,
    uploaded with its track and searched with the shipped model."""
    if settings.db_url is not None:
        pytest.skip("the detection is the same on either database (run on SQLite)")
    from mission.camera import PRESETS
    from sim.render import render_track
    from sim.tours import tour_track
    from sim.world import World
    from vision.score import TrueDefect, points_from_geojson, score

    world = World.sample()
    track = tour_track(world, 12.0, start=START, home_amsl_m=584.0)
    video = Path(settings.data_dir).parent / "tour.mp4"
    rendered = render_track(world, track, PRESETS[CAMERA], video, fps=5, size=(1920, 1080))
    assert rendered.seen, "the tour shows no defect"
    made = client.post(
        "/api/flights/upload",
        headers=headers["crew"],
        files={"file": ("tour.csv", track_to_csv(track).encode(), "text/csv")},
        data={"purpose": "defect tour"},
    )
    assert made.status_code == 201, made.text
    flight_id = made.json()["flight"]["id"]
    answer = post_video(client, flight_id, headers["crew"], "tour.mp4", video.read_bytes())
    assert answer.status_code == 202, answer.text
    done = wait_for_job(client, answer.json()["job"]["id"], headers["crew"], timeout_s=600)
    assert done["state"] == "succeeded", done
    assert done["result"]["weights"] == "synthetic-defects.onnx"
    found = client.get(f"/api/flights/{flight_id}/defects").json()["features"]
    assert len(found) == done["result"]["defects"] >= 1
    inspection = client.get(f"/api/flights/{flight_id}/inspections").json()[0]["id"]
    geojson = client.get(f"/api/inspections/{inspection}/geojson", headers=headers["regulator"])
    truth = [TrueDefect(t.id, t.cls, t.lon, t.lat) for t in world.truth() if t.id in rendered.seen]
    got = score(points_from_geojson(geojson.json()), truth, world.frame)
    assert len(got.matched) >= max(1, len(truth) // 2), got
    assert got.precision >= 0.5 and got.median_error_m <= 1.5


def test_a_browser_form_with_its_csrf_field_is_accepted(client, tokens, flight, clip, fakes):
    """A signed-in browser sends the CSRF token as a form field: the body is read for it
    before the route, and the upload is taken from the parsed form with the same checks."""
    login = client.post("/api/session", data={"token": tokens["crew"]})
    assert login.status_code == 200, login.text
    csrf = login.json()["csrf"]
    before = leftovers(client)
    wrong = client.post(
        f"/api/flights/{flight}/footage",
        files={"file": ("../clip.mp4", clip["video"], "video/mp4")},
        data={"csrf": csrf},
    )
    assert wrong.status_code == 400 and "names a path" in wrong.json()["detail"]
    assert leftovers(client) == before
    answer = client.post(
        f"/api/flights/{flight}/footage",
        files={"file": ("clip.mp4", clip["video"], "video/mp4")},
        data={"csrf": csrf, "offset_s": "0"},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["footage"]["offset_s"] == 0.0
    assert answer.json()["footage"]["size"] == len(clip["video"])
    job = answer.json()["job"]["id"]
    assert client.get(f"/api/jobs/{job}").json()["state"] in ("queued", "running", "succeeded")
    # finish while the fakes are in place
    deadline = time.monotonic() + 60
    while client.get(f"/api/jobs/{job}").json()["state"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
