"""The service enters its records in the log as it makes them: checks, approval decisions,
flights flown or uploaded, inspections, and the disclosures published with them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import CentreDetector, FakeRedactor
from fastapi.testclient import TestClient
from seeding import wait_for_job

from api.ledger import document_sha256
from api.settings import Settings
from mission.geodesy import LocalFrame
from mission.track import Track, TrackSample, track_to_csv

HOME = (149.165230, -35.363261)
FRAME = LocalFrame(*HOME)
START = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def _entries(client: TestClient, subject: str) -> list[dict[str, Any]]:
    store = client.app.state.ledger  # type: ignore[attr-defined]
    return [entry for _, _, entry in store.entries_for(subject)]


def _kinds(client: TestClient, subject: str) -> list[str]:
    return [entry["kind"] for entry in _entries(client, subject)]


def _audits_clean(client: TestClient) -> None:
    store = client.app.state.ledger  # type: ignore[attr-defined]
    result = store.audit()
    assert result.ok, result.message
    assert store.pending() == 0


def _no_names(client: TestClient) -> None:
    """No user's name appears anywhere in the log."""
    store = client.app.state.ledger  # type: ignore[attr-defined]
    texts = " ".join(str(entry) for _, entry, _ in store.entries(0, 1000))
    for name in ("crew-1", "admin-1", "regulator-1"):
        assert name not in texts


def test_check_approve_and_fly_enter_the_log(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    from api.demo import school_day

    crew, admin = headers["crew"], headers["admin"]
    assets = client.post("/api/assets/sample", headers=crew).json()["items"]
    deck_id = next(a["id"] for a in assets if a["name"] == "bridge-deck")
    plan = client.post("/api/plans", json={"asset_id": deck_id}, headers=crew).json()
    start = school_day(datetime.now(UTC))[0]
    body = {"start": start.isoformat(), "duration_min": 180, "fix": True}
    checked = client.post(f"/api/plans/{plan['id']}/checks", json=body, headers=crew).json()
    plan_id = (checked["fixed_plan"] or plan)["id"]
    check = checked["fixed_check"] or checked["check"]

    first = _entries(client, f"plan:{plan['id']}")
    assert [e["kind"] for e in first] == ["plan_checked"]
    data = first[0]["data"]
    stored = client.get(f"/api/checks/{checked['check']['id']}", headers=crew).json()
    assert data["check_id"] == stored["id"] and data["verdict"] == stored["verdict"]
    assert data["plan_sha256"] == plan["sha256"]
    assert data["report_sha256"] == document_sha256(stored["report"])
    assert data["rules"] == stored["rules"] and data["window_start"].endswith("Z")

    asked = client.post(
        f"/api/plans/{plan_id}/approval-requests", json={"check_id": check["id"]}, headers=crew
    ).json()
    decided = client.post(
        f"/api/approvals/{asked['id']}/decision", json={"approve": True}, headers=admin
    )
    assert decided.status_code == 200, decided.text
    entries = _entries(client, f"plan:{plan_id}")
    expected = ["plan_checked", "flight_approved"] if checked["fixed_plan"] else None
    assert [e["kind"] for e in entries][-1] == "flight_approved"
    assert expected is None or [e["kind"] for e in entries] == expected
    approval = entries[-1]["data"]
    assert approval == {
        "plan_id": plan_id,
        "approval_id": asked["id"],
        "check_id": check["id"],
        "approved_by_role": "admin",
        "decision": "approved",
        "authorisations": [],
    }

    answer = client.post(
        "/api/flights", headers=crew, json={"plan_id": plan_id, "purpose": "deck inspection"}
    )
    assert answer.status_code == 202, answer.text
    done = wait_for_job(client, answer.json()["job"]["id"], crew)
    assert done["state"] == "succeeded", done
    flight = client.get(f"/api/flights/{done['result']['flight_id']}", headers=crew).json()
    entries = _entries(client, f"flight:{flight['id']}")
    assert [e["kind"] for e in entries] == ["flight_flown", "disclosure_published"]
    flown = entries[0]["data"]
    assert flown["flight_id"] == flight["id"] and flown["plan_id"] == plan_id
    assert flown["source"] == "builtin" and flown["state"] == "flown"
    assert flown["track_sha256"] == flight["track_sha256"]
    assert flown["log_sha256"] == flight["tlog_sha256"]
    assert flown["conforms"] is flight["conforms"] is True and flown["deviations"] == 0
    assert flown["public"] is True and flown["started_at"].endswith("Z")
    assert entries[1]["data"]["flight_id"] == flight["id"] and entries[1]["data"]["version"] == 1
    assert entries[0]["index"] < entries[1]["index"]
    _no_names(client)
    _audits_clean(client)


def test_a_rejection_enters_the_log_as_rejected(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    from api.demo import school_day

    crew = headers["crew"]
    assets = client.post("/api/assets/sample", headers=crew).json()["items"]
    tower = next(a["id"] for a in assets if a["name"] == "water-tower")
    plan = client.post("/api/plans", json={"asset_id": tower}, headers=crew).json()
    start = school_day(datetime.now(UTC))[0]
    body = {"start": start.isoformat(), "duration_min": 180, "fix": True}
    checked = client.post(f"/api/plans/{plan['id']}/checks", json=body, headers=crew).json()
    plan_id = (checked["fixed_plan"] or plan)["id"]
    check = checked["fixed_check"] or checked["check"]
    asked = client.post(
        f"/api/plans/{plan_id}/approval-requests", json={"check_id": check["id"]}, headers=crew
    ).json()
    decided = client.post(
        f"/api/approvals/{asked['id']}/decision",
        json={"approve": False, "note": "not this week"},
        headers=headers["admin"],
    )
    assert decided.status_code == 200, decided.text
    last = _entries(client, f"plan:{plan_id}")[-1]
    assert last["kind"] == "flight_approved" and last["data"]["decision"] == "rejected"
    assert "not this week" not in str(last)  # notes stay out of the log
    _audits_clean(client)


def straight_track(seconds: int = 12) -> Track:
    samples = []
    for i in range(seconds + 1):
        lon, lat = FRAME.point_to_wgs84(5.0 * i, 0.0)
        samples.append(
            TrackSample(START + timedelta(seconds=i), lon, lat, 40.0, None, 0.0, 0.0, 90.0, 5.0)
        )
    return Track(tuple(samples), home=(HOME[0], HOME[1], 584.0), source="flight.csv")


def _upload(client: TestClient, crew: dict[str, str], **fields: Any) -> dict[str, Any]:
    data = track_to_csv(straight_track()).encode()
    answer = client.post(
        "/api/flights/upload",
        headers=crew,
        files={"file": ("flight.csv", data, "text/csv")},
        data={k: str(v) for k, v in fields.items()},
    )
    assert answer.status_code in (201, 202), answer.text
    flight: dict[str, Any] = answer.json()["flight"]
    assert flight["track_sha256"] == hashlib.sha256(data).hexdigest()
    return flight


def test_uploaded_logs_enter_the_log_once_with_their_conformance(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    crew = headers["crew"]
    flight = _upload(client, crew, purpose="by hand")
    entries = _entries(client, f"flight:{flight['id']}")
    assert [e["kind"] for e in entries] == ["flight_flown", "disclosure_published"]
    flown = entries[0]["data"]
    assert flown["source"] == "upload" and flown["plan_id"] is None
    assert flown["conforms"] is None and flown["log_sha256"] is None

    private = _upload(client, crew, purpose="private", public="false")
    assert _kinds(client, f"flight:{private['id']}") == ["flight_flown"]  # no disclosure
    assert _entries(client, f"flight:{private['id']}")[0]["data"]["public"] is False

    assets = client.post("/api/assets/sample", headers=crew).json()["items"]
    deck_id = next(a["id"] for a in assets if a["name"] == "bridge-deck")
    plan = client.post("/api/plans", json={"asset_id": deck_id}, headers=crew).json()
    compared = _upload(client, crew, purpose="against a plan", plan_id=plan["id"])
    entries = _entries(client, f"flight:{compared['id']}")
    kinds = [e["kind"] for e in entries]
    assert kinds[:1] == ["flight_flown"] and kinds.count("flight_flown") == 1
    flown = entries[0]["data"]
    assert flown["plan_id"] == plan["id"]
    shown = client.get(f"/api/flights/{compared['id']}", headers=crew).json()
    assert flown["conforms"] == shown["conforms"]
    if shown["conformance"] is not None:
        assert flown["deviations"] == len(shown["conformance"]["deviations"])
    _audits_clean(client)


# --- an inspection ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 4 s, 5 fps, 160x90 video along the straight track."""
    from mission.camera import PRESETS
    from sim.render import render_track
    from sim.world import World

    video = tmp_path_factory.mktemp("clip") / "clip.mp4"
    world = World("ledger-test", HOME).with_mark("crack", *FRAME.point_to_wgs84(10.0, 0.0), 1.0)
    track = straight_track()
    render_track(
        world, track, PRESETS["mavic3-enterprise"], video, fps=5.0, size=(160, 90), duration_s=4.0
    )
    return video.read_bytes()


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr("vision.detector.load_detector", lambda *a, **k: CentreDetector())
    monkeypatch.setattr("vision.redact.Redactor", FakeRedactor)
    yield


def test_an_inspection_enters_the_log_and_discloses_again(
    client: TestClient, headers: dict[str, dict[str, str]], clip: bytes, fakes: None
) -> None:
    crew = headers["crew"]
    flight = _upload(client, crew, purpose="footage")
    answer = client.post(
        f"/api/flights/{flight['id']}/footage",
        headers=crew,
        files={"file": ("clip.mp4", clip, "video/mp4")},
    )
    assert answer.status_code == 202, answer.text
    job = wait_for_job(client, answer.json()["job"]["id"], crew)
    assert job["state"] == "succeeded", job
    entries = _entries(client, f"flight:{flight['id']}")
    kinds = [e["kind"] for e in entries]
    assert kinds[:3] == ["flight_flown", "disclosure_published", "inspection_published"]
    data = entries[2]["data"]
    result = job["result"]
    assert data["inspection_id"] == result["inspection_id"]
    assert data["footage_sha256"] == hashlib.sha256(clip).hexdigest()
    assert data["counts"] == result["counts"] and data["defects"] == result["defects"]
    assert data["redacted_regions"] == result["redacted_regions"]
    geojson = client.get(f"/api/inspections/{result['inspection_id']}/geojson", headers=crew)
    assert data["geojson_sha256"] == hashlib.sha256(geojson.content).hexdigest()
    if result["defects"]:  # the disclosure's defects changed: a new version
        assert kinds[3:] == ["disclosure_published"]
        assert entries[3]["data"]["version"] == 2
    _audits_clean(client)


def test_a_flight_a_stop_kept_out_of_the_log_enters_it_at_the_next_start(
    settings: Settings,
) -> None:
    from api.app import create_app
    from api.storage.models import File, Flight, User

    with TestClient(create_app(settings)) as client:
        with client.app.state.db.session() as session:  # type: ignore[attr-defined]
            user = User(name="crew", role="crew", token_id="t", token_salt="s", token_hash="h")
            track = File(sha256="ab" * 32, size=1, media_type="text/csv", name="t.csv")
            session.add_all([user, track])
            session.flush()
            stored = [
                Flight(source="upload", state=state, track_sha256=sha, public=False,
                       summary={}, created_by=user.id)
                for state, sha in (("flown", track.sha256), ("failed", None), ("queued", None))
            ]  # fmt: skip
            session.add_all(stored)
            session.flush()
            ids = [flight.id for flight in stored]
        assert all(_kinds(client, f"flight:{i}") == [] for i in ids)
    with TestClient(create_app(settings)) as client:
        assert _kinds(client, f"flight:{ids[0]}") == ["flight_flown"]
        assert _kinds(client, f"flight:{ids[1]}") == _kinds(client, f"flight:{ids[2]}") == []
        _audits_clean(client)
    with TestClient(create_app(settings)) as client:  # once only
        assert _kinds(client, f"flight:{ids[0]}") == ["flight_flown"]
