"""Assets and plans through the service: sample city, visibility, planning, upload, download."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mission import formats

Headers = dict[str, dict[str, str]]

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[149.1650, -35.3630], [149.1660, -35.3630], [149.1660, -35.3622], [149.1650, -35.3622]]
    ],
}

#: A mission of 10,001 waypoints: more than an uploaded plan may hold.
LONG_WAYPOINTS = (
    "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t-35.363261\t149.165230\t584\t1\n"
    + "".join(
        f"{i}\t0\t3\t16\t0\t0\t0\t0\t{-35.3632 + i % 50 * 1e-4:.6f}\t149.1652\t30\t1\n"
        for i in range(1, 10_002)
    )
).encode()


def _sample(client: TestClient, headers: Headers) -> dict[str, int]:
    got = client.post("/api/assets/sample", headers=headers["crew"])
    assert got.status_code == 200, got.text
    return {a["name"]: a["id"] for a in got.json()["items"]}


def _plan(client: TestClient, headers: Headers, asset_id: int, **params: Any) -> dict[str, Any]:
    got = client.post("/api/plans", json={"asset_id": asset_id, **params}, headers=headers["crew"])
    assert got.status_code == 201, got.text
    body: dict[str, Any] = got.json()
    return body


def test_sample_city_is_loaded_once(client: TestClient, headers: Headers) -> None:
    first = client.post("/api/assets/sample", headers=headers["crew"]).json()
    again = client.post("/api/assets/sample", headers=headers["admin"]).json()
    names = sorted(a["name"] for a in first["items"])
    assert names == ["bridge-deck", "facade", "park", "power-line", "water-tower"]
    assert first["created"] == 5 and again["created"] == 0
    assert [a["id"] for a in again["items"]] == [a["id"] for a in first["items"]]
    tower = next(a for a in first["items"] if a["name"] == "water-tower")
    assert tower["kind"] == "structure" and tower["geometry"]["type"] == "Point"
    assert tower["properties"]["home"]["alt_amsl_m"] == 584.0
    listed = client.get("/api/assets", headers=headers["regulator"]).json()
    assert listed["total"] == 5


def test_public_sees_only_public_assets(client: TestClient, headers: Headers) -> None:
    made = client.post(
        "/api/assets",
        json={
            "type": "Feature",
            "geometry": SQUARE,
            "properties": {"name": "depot roof", "title": "Depot", "secret": "key under mat"},
            "public": False,
        },
        headers=headers["crew"],
    )
    assert made.status_code == 201, made.text
    hidden = made.json()
    assert hidden["kind"] == "area" and hidden["public"] is False
    shown = client.post(
        "/api/assets",
        json={"name": "yard", "kind": "area", "geometry": SQUARE, "properties": {"x": 1}},
        headers=headers["crew"],
    ).json()

    public = client.get("/api/assets").json()
    assert [a["id"] for a in public["items"]] == [shown["id"]] and public["total"] == 1
    assert "properties" not in public["items"][0] and "public" not in public["items"][0]
    assert client.get(f"/api/assets/{hidden['id']}").status_code == 404
    assert set(client.get(f"/api/assets/{shown['id']}").json()) == {
        "id", "name", "kind", "title", "geometry", "created_at",
    }  # fmt: skip

    staff = client.get(f"/api/assets/{hidden['id']}", headers=headers["regulator"]).json()
    assert staff["properties"]["secret"] == "key under mat" and staff["title"] == "Depot"
    listed = client.get("/api/assets", headers=headers["crew"]).json()
    assert listed["total"] == 2 and listed["items"][0]["id"] == shown["id"]  # newest first
    page = client.get("/api/assets?limit=1&offset=1", headers=headers["crew"]).json()
    assert [a["id"] for a in page["items"]] == [hidden["id"]] and page["limit"] == 1


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"name": "x", "geometry": {"type": "LineString", "coordinates": [[149, -35]] * 2}},
         422, "kind"),
        ({"name": "x", "kind": "area", "geometry": {"type": "Point", "coordinates": [149, -35]}},
         422, "expected Polygon, got Point"),
        ({"name": "x", "kind": "area", "geometry": {"type": "Polygon", "coordinates": [
            [[149, -35], [149.001, -35.001], [149.001, -35], [149, -35.001], [149, -35]]]}},
         422, "cross"),
        ({"name": "x", "kind": "lake", "geometry": SQUARE}, 422, "kind"),
        ({"kind": "area", "geometry": SQUARE}, 422, "name"),
        ({"name": "", "kind": "area", "geometry": SQUARE}, 422, "name"),
        ({"name": "a\x00b", "kind": "area", "geometry": SQUARE}, 422, "name"),
        ({"name": "x", "kind": "area", "geometry": SQUARE, "properties": {"v": "\x00"}},
         422, "NUL"),
        ({"name": "x", "kind": "structure", "geometry": {"type": "Point",
          "coordinates": [149, 95]}}, 422, "latitude"),
        ({"name": "x", "geometry": SQUARE, "properties": {"home": {"lat": "north"}}},
         422, "home"),
        ({"name": "x", "geometry": SQUARE, "colour": "red"}, 422, "colour"),
    ],
)  # fmt: skip
def test_bad_assets_are_refused_in_one_line(
    client: TestClient, headers: Headers, body: dict[str, Any], status: int, says: str
) -> None:
    got = client.post("/api/assets", json=body, headers=headers["crew"])
    assert got.status_code == status, got.text
    detail = got.json()["detail"]
    assert says.lower() in detail.lower() and "\n" not in detail


def test_nan_in_an_asset_is_refused(client: TestClient, headers: Headers) -> None:
    text = f'{{"name": "x", "kind": "area", "geometry": {json.dumps(SQUARE)}, "properties": {{"v": NaN}}}}'
    got = client.post(
        "/api/assets",
        content=text,
        headers={**headers["crew"], "content-type": "application/json"},
    )
    assert got.status_code == 422 and "finite" in got.json()["detail"]


def test_roles_for_assets(client: TestClient, headers: Headers) -> None:
    body = {"name": "x", "kind": "area", "geometry": SQUARE}
    assert client.post("/api/assets", json=body).status_code == 401
    assert client.post("/api/assets", json=body, headers=headers["regulator"]).status_code == 403
    assert client.post("/api/assets/sample", headers=headers["regulator"]).status_code == 403
    assert client.post("/api/assets", json=body, headers=headers["admin"]).status_code == 201
    assert client.get("/api/assets/2147483648").status_code == 422
    assert client.get("/api/assets/99").json() == {"detail": "asset 99 does not exist"}


def test_plan_an_asset(client: TestClient, headers: Headers) -> None:
    assets = _sample(client, headers)
    plan = _plan(client, headers, assets["facade"])
    assert plan["source"] == "planner" and plan["revision"] == 1 and plan["parent_id"] is None
    assert plan["params"]["pattern"] == "facade" and plan["params"]["standoff_m"] == 8.0
    assert plan["params"]["side"] == "right"  # from the asset's properties, as the demo plans
    assert plan["metrics"]["photos"] > 0 and plan["metrics"]["distance_m"] > 0

    got = client.get(f"/api/plans/{plan['id']}", headers=headers["regulator"]).json()
    assert got["metrics"] == plan["metrics"] and got["sha256"] == plan["sha256"]
    listed = client.get(f"/api/plans?asset_id={assets['facade']}", headers=headers["crew"]).json()
    assert [p["id"] for p in listed["items"]] == [plan["id"]]
    assert client.get("/api/plans").status_code == 401
    assert client.get(f"/api/plans/{plan['id']}").status_code == 401

    file = client.get(f"/api/plans/{plan['id']}/file", headers=headers["crew"])
    assert file.status_code == 200
    assert hashlib.sha256(file.content).hexdigest() == plan["sha256"]
    assert 'filename="facade-r1.json"' in file.headers["content-disposition"]
    parsed = formats.parse(file.text, ".json")
    assert parsed.pattern == "facade" and parsed.name == "facade"

    with_options = _plan(
        client, headers, assets["facade"], name="facade at 6 m", standoff_m=6.0,
        front_overlap_pct=70, camera="phantom4-rtk",
    )  # fmt: skip
    assert with_options["name"] == "facade at 6 m"
    assert with_options["params"]["camera"] == "phantom4-rtk"
    assert with_options["metrics"]["photos"] != plan["metrics"]["photos"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"camera": "/etc/passwd"}, "camera '/etc/passwd' is not a preset"),
        ({"alt_rel_m": 30}, "alt_rel_m: a facade plan does not take it"),
        ({"gsd_cm": 0.5, "standoff_m": 5}, "give one of them"),
        ({"front_overlap_pct": 100}, "front_overlap_pct"),
        ({"standoff_m": -1}, "standoff_m"),
        ({"standoff_m": 1e308}, "standoff_m"),
        ({"pattern": "survey"}, "expected Polygon, got LineString"),
        ({"pattern": "orbit"}, "pattern"),
        ({"side": "up"}, "side"),
        ({"asset_id": 0}, "asset_id"),
        ({"asset_id": 4000}, "asset 4000 does not exist"),
        ({"home": {"lat": 200, "lon": 0}}, "home.lat"),
        ({"speed": 5}, "speed"),
        ({"standoff_m": 0.5, "front_overlap_pct": 99, "side_overlap_pct": 99},
         "more than the 20,000 a plan may take"),
    ],
)  # fmt: skip
def test_bad_plan_requests(
    client: TestClient, headers: Headers, params: dict[str, Any], says: str
) -> None:
    assets = _sample(client, headers)
    body = {"asset_id": assets["facade"], **params}
    got = client.post("/api/plans", json=body, headers=headers["crew"])
    assert 400 <= got.status_code < 500, got.text
    assert says in got.json()["detail"]


def test_asset_suggestions_are_held_to_the_same_bounds(
    client: TestClient, headers: Headers
) -> None:
    props = {"name": "yard", "gsd_cm": 2, "front_overlap_pct": 150}
    asset = client.post(
        "/api/assets", json={"geometry": SQUARE, "properties": props}, headers=headers["crew"]
    ).json()
    got = client.post("/api/plans", json={"asset_id": asset["id"]}, headers=headers["crew"])
    assert got.status_code == 422
    assert "asset 'yard' property front_overlap_pct 150" in got.json()["detail"]
    fine = _plan(client, headers, asset["id"], front_overlap_pct=80)
    assert fine["params"]["gsd_cm"] == 2 and fine["params"]["front_overlap_pct"] == 80


def test_nan_parameter_is_refused(client: TestClient, headers: Headers) -> None:
    assets = _sample(client, headers)
    got = client.post(
        "/api/plans",
        content=f'{{"asset_id": {assets["facade"]}, "standoff_m": NaN}}',
        headers={**headers["crew"], "content-type": "application/json"},
    )
    assert got.status_code == 422 and "standoff_m" in got.json()["detail"]


@pytest.mark.parametrize("ext", [".plan", ".waypoints"])
def test_upload_a_mission_file(client: TestClient, headers: Headers, ext: str) -> None:
    assets = _sample(client, headers)
    planned = _plan(client, headers, assets["facade"])
    text = client.get(
        f"/api/plans/{planned['id']}/file?format={ext[1:]}", headers=headers["crew"]
    ).text
    got = client.post(
        "/api/plans/upload",
        files={"file": (f"../../etc/my facade{ext}", text.encode(), "application/octet-stream")},
        data={"name": "uploaded facade", "asset_id": str(assets["facade"])},
        headers=headers["crew"],
    )
    assert got.status_code == 201, got.text
    plan = got.json()
    assert plan["source"] == "upload" and plan["name"] == "uploaded facade"
    assert plan["params"] == {"file": "my_facade" + ext, "format": ext}
    assert plan["asset_id"] == assets["facade"]
    assert plan["metrics"]["photos"] == planned["metrics"]["photos"]
    again = client.get(f"/api/plans/{plan['id']}/file?format={ext[1:]}", headers=headers["crew"])
    original = formats.parse(text, ext)
    assert [i.command for i in formats.parse(again.text, ext).items] == [
        i.command for i in original.items
    ]


@pytest.mark.parametrize(
    ("name", "data", "status", "says"),
    [
        ("broken.plan", b'{"fileType": "Plan", "mission": {', 400, "broken.plan"),
        ("broken.waypoints", b"QGC WPL 110\n0\t1\t0\n", 400, "broken.waypoints"),
        ("binary.json", b"\xff\xfe\x00junk", 400, "not UTF-8"),
        ("mission.txt", b"QGC WPL 110\n", 422, "must end in .plan, .waypoints, .json"),
        ("big.plan", b" " * (5 * 1024 * 1024 + 1), 413, "5 MB"),
        ("long.waypoints", LONG_WAYPOINTS, 422, "10001 mission items; at most 10000"),
    ],
)
def test_bad_uploads(
    client: TestClient, headers: Headers, name: str, data: bytes, status: int, says: str
) -> None:
    got = client.post("/api/plans/upload", files={"file": (name, data)}, headers=headers["crew"])
    assert got.status_code == status, got.text
    assert says in got.json()["detail"]
    assert client.get("/api/plans", headers=headers["crew"]).json()["total"] == 0


def test_download_formats(client: TestClient, headers: Headers) -> None:
    assets = _sample(client, headers)
    plan = _plan(client, headers, assets["facade"])
    for fmt, media in [("kml", "kml"), ("geojson", "geo+json"), ("waypoints", "text/plain")]:
        got = client.get(f"/api/plans/{plan['id']}/file?format={fmt}", headers=headers["admin"])
        assert got.status_code == 200 and media in got.headers["content-type"]
        assert f'filename="facade-r1.{fmt}"' in got.headers["content-disposition"]
    bad = client.get(f"/api/plans/{plan['id']}/file?format=exe", headers=headers["crew"])
    assert bad.status_code == 422 and "format" in bad.json()["detail"]
    many = client.get(f"/api/plans/{plan['id']}/file?format=plan&sortie=2", headers=headers["crew"])
    assert many.status_code == 422 and "one sortie" in many.json()["detail"]
