"""Records of every kind, made through the service's own API, for tests that visit every route
(the role matrix, schemathesis).

``seed(client, headers)`` answers the id of one existing record for each path parameter name
the routes use (``plan_id``, ``flight_id`` ...). ``client`` is anything with ``get`` /
``post`` taking ``json=``, ``headers=`` (a Starlette TestClient, a requests Session).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

__all__ = ["seed"]


def _ok(answer: Any, *expected: int) -> Any:
    assert answer.status_code in (expected or (200, 201, 202)), (
        f"seeding: {answer.request.method} {answer.request.url} answered "
        f"{answer.status_code}: {answer.text[:300]}"
    )
    return answer.json()


def seed(client: Any, headers: dict[str, dict[str, str]]) -> dict[str, int]:
    """Make an asset, plans, checks, an approved approval, a note, a spare user, a flight
    flown by a job (and so disclosed), footage with an inspection and a defect, and a
    citizen's question about the flight."""
    from api.demo import school_day

    crew, admin, regulator = headers["crew"], headers["admin"], headers["regulator"]
    ids: dict[str, int] = {}

    victim = _ok(
        client.post("/api/users", json={"name": "spare", "role": "crew"}, headers=admin), 201
    )
    ids["user_id"] = victim["user"]["id"]  # disabling it harms no other request

    assets = _ok(client.post("/api/assets/sample", headers=crew), 200)["items"]
    tower = next(a["id"] for a in assets if a["name"] == "water-tower")
    ids["asset_id"] = tower

    plan = _ok(client.post("/api/plans", json={"asset_id": tower}, headers=crew), 201)
    window = {"start": school_day(datetime.now(UTC))[0].isoformat(), "duration_min": 180}
    checked = _ok(
        client.post(f"/api/plans/{plan['id']}/checks", json={**window, "fix": True}, headers=crew),
        201,
    )
    fixed_plan, fixed_check = checked["fixed_plan"], checked["fixed_check"]
    ids["plan_id"] = fixed_plan["id"]
    ids["check_id"] = fixed_check["id"]

    approval = _ok(
        client.post(
            f"/api/plans/{fixed_plan['id']}/approval-requests",
            json={"check_id": fixed_check["id"], "note": "seeded"},
            headers=crew,
        ),
        201,
    )
    ids["approval_id"] = approval["id"]
    _ok(
        client.post(
            f"/api/approvals/{approval['id']}/decision", json={"approve": True}, headers=admin
        ),
        200,
    )
    note = _ok(
        client.post(
            "/api/notes",
            json={"subject": "plan", "subject_id": fixed_plan["id"], "text": "seeded note"},
            headers=regulator,
        ),
        201,
    )
    ids["note_id"] = note["id"]

    started = _ok(
        client.post(
            "/api/flights",
            json={"plan_id": fixed_plan["id"], "vehicle": "builtin", "purpose": "seeded"},
            headers=crew,
        ),
        202,
    )
    ids["flight_id"] = started["flight"]["id"]
    ids["job_id"] = _finished(client, started["job"]["id"], crew)
    crew_id = _ok(client.get("/api/me", headers=crew), 200)["id"]
    ids.update(_detections(client.app, ids["flight_id"], ids["job_id"], crew_id))
    question = _ok(
        client.post(
            f"/api/public/flights/{ids['flight_id']}/questions",
            json={"text": "Was the school filmed on this flight?", "lang": "en"},
        ),
        202,
    )
    ids["question_id"] = question["id"]
    return ids


def _detections(app: Any, flight_id: int, job_id: int, crew_id: int) -> dict[str, int]:
    """Footage, an inspection and a defect of the flight, written straight to the storage:
    rendering a video and running the detector would take far longer than the routes need."""
    import json

    import cv2
    import numpy as np

    from api.storage.models import Defect, Footage, Inspection
    from api.work.records import store_bytes

    def stored(session: Any, data: bytes, media_type: str, name: str) -> str:
        return store_bytes(session, app.state.blobs, data, media_type, name)

    crop = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8))[1].tobytes()
    geojson = json.dumps({"type": "FeatureCollection", "features": []}).encode()
    with app.state.db.session() as session:
        footage = Footage(
            flight_id=flight_id,
            sha256=stored(session, b"seeded footage", "video/mp4", "seeded.mp4"),
            kind="video",
            offset_s=0.0,
            uploaded_by=crew_id,
        )
        session.add(footage)
        session.flush()
        inspection = Inspection(
            flight_id=flight_id,
            footage_id=footage.id,
            geojson_sha256=stored(session, geojson, "application/geo+json", "defects.geojson"),
            report_sha256=stored(session, b"<p>seeded</p>", "text/html", "report.html"),
            counts={"crack": 1},
            job_id=job_id,
        )
        session.add(inspection)
        session.flush()
        defect = Defect(
            inspection_id=inspection.id,
            flight_id=flight_id,
            class_name="crack",
            confidence=0.9,
            lon=149.1655,
            lat=-35.3626,
            error_m=0.3,
            sightings=2,
            time_s=1.0,
            crop_sha256=stored(session, crop, "image/jpeg", "crop.jpg"),
        )
        session.add(defect)
        session.flush()
        return {"footage_id": footage.id, "inspection_id": inspection.id, "defect_id": defect.id}


def wait_for_job(
    client: Any, job_id: int, headers: dict[str, str], timeout_s: float = 120.0
) -> dict[str, Any]:
    """Poll ``GET /api/jobs/{id}`` until the job ends (bounded); the job's JSON."""
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = _ok(client.get(f"/api/jobs/{job_id}", headers=headers), 200)
        if job["state"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']}: {job}"
        time.sleep(0.05)


def _finished(client: Any, job_id: int, headers: dict[str, str]) -> int:
    """Wait for a job to succeed; its id."""
    job = wait_for_job(client, job_id, headers)
    assert job["state"] == "succeeded", f"seeding: job {job_id} failed: {job['error']}"
    return job_id
