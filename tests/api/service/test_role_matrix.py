"""The role matrix: every route of the app times every role, allowed or denied.

``MATRIX`` names each route (method, path template) and the roles it admits. The test fails
when the app has a route the table lacks or the table names a route the app does not have,
so a new route must be added here with its roles. Then every route is called as every role
(path parameters filled with records that exist, no body): a denied role must get 401 (the
public) or 403 (a signed-in role), an allowed one neither, and no answer may be a 5xx.
The body is left out on purpose: the role is decided before the body is validated, so a
denied role is told so, and an allowed one gets a 422 at most.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from seeding import seed

from api.settings import Settings

PUBLIC, CREW, REGULATOR, ADMIN = "public", "crew", "regulator", "admin"
ROLES = (PUBLIC, CREW, REGULATOR, ADMIN)
EVERYONE = frozenset(ROLES)
STAFF = frozenset({CREW, REGULATOR, ADMIN})  # every signed-in role reads non-public records
CREWS = frozenset({CREW, ADMIN})  # crews create and fly; admins can do what crews can
REGULATORS = frozenset({REGULATOR, ADMIN})
ADMINS = frozenset({ADMIN})

MATRIX: dict[tuple[str, str], frozenset[str]] = {
    # the service itself
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/static/{path}"): EVERYONE,
    # users and sessions
    ("GET", "/api/me"): STAFF,
    ("GET", "/api/users"): ADMINS,
    ("POST", "/api/users"): ADMINS,
    ("POST", "/api/users/{user_id}/disable"): ADMINS,
    ("POST", "/api/session"): EVERYONE,
    ("DELETE", "/api/session"): EVERYONE,
    # assets
    ("GET", "/api/assets"): EVERYONE,
    ("GET", "/api/assets/{asset_id}"): EVERYONE,
    ("POST", "/api/assets"): CREWS,
    ("POST", "/api/assets/sample"): CREWS,
    # plans
    ("GET", "/api/plans"): STAFF,
    ("GET", "/api/plans/{plan_id}"): STAFF,
    ("GET", "/api/plans/{plan_id}/file"): STAFF,
    ("POST", "/api/plans"): CREWS,
    ("POST", "/api/plans/upload"): CREWS,
    # checks
    ("GET", "/api/checks/{check_id}"): STAFF,
    ("GET", "/api/plans/{plan_id}/checks"): STAFF,
    ("POST", "/api/plans/{plan_id}/checks"): CREWS,
    # approvals
    ("GET", "/api/approvals"): STAFF,
    ("GET", "/api/approvals/{approval_id}"): STAFF,
    ("POST", "/api/plans/{plan_id}/approval-requests"): CREWS,
    ("POST", "/api/approvals/{approval_id}/decision"): ADMINS,
    # flights
    ("GET", "/api/flights"): EVERYONE,
    ("GET", "/api/flights/{flight_id}"): EVERYONE,
    ("GET", "/api/flights/{flight_id}/track"): STAFF,
    ("GET", "/api/flights/{flight_id}/log"): STAFF,
    ("GET", "/api/flights/{flight_id}/conformance"): STAFF,
    ("POST", "/api/flights"): CREWS,
    ("POST", "/api/flights/upload"): CREWS,
    # footage, detections and defects
    ("GET", "/api/flights/{flight_id}/footage"): STAFF,
    ("POST", "/api/flights/{flight_id}/footage"): CREWS,
    ("GET", "/api/flights/{flight_id}/inspections"): EVERYONE,
    ("GET", "/api/flights/{flight_id}/defects"): EVERYONE,
    ("GET", "/api/inspections/{inspection_id}"): EVERYONE,
    ("GET", "/api/inspections/{inspection_id}/report"): STAFF,
    ("GET", "/api/inspections/{inspection_id}/geojson"): STAFF,
    ("GET", "/api/defects"): EVERYONE,
    ("GET", "/api/defects/{defect_id}/crop"): EVERYONE,
    # jobs
    ("GET", "/api/jobs"): STAFF,
    ("GET", "/api/jobs/{job_id}"): STAFF,
    # notes
    ("GET", "/api/notes"): STAFF,
    ("POST", "/api/notes"): REGULATORS,
    # the public record: disclosures, exports, statistics
    ("GET", "/api/public/flights"): EVERYONE,
    ("GET", "/api/public/flights.csv"): EVERYONE,
    ("GET", "/api/public/flights.geojson"): EVERYONE,
    ("GET", "/api/public/flights/{flight_id}"): EVERYONE,
    ("GET", "/api/public/stats"): EVERYONE,
    # the transparency log
    ("GET", "/api/public/ledger/checkpoint"): EVERYONE,
    ("GET", "/api/public/ledger/checkpoints"): EVERYONE,
    ("GET", "/api/public/ledger/entries"): EVERYONE,
    ("GET", "/api/public/ledger/entries/{index}"): EVERYONE,
    ("GET", "/api/public/ledger/proof/inclusion"): EVERYONE,
    ("GET", "/api/public/ledger/proof/consistency"): EVERYONE,
    # citizens' questions and staff answers
    ("GET", "/api/public/flights/{flight_id}/questions"): EVERYONE,
    ("POST", "/api/public/flights/{flight_id}/questions"): EVERYONE,
    ("GET", "/api/questions"): STAFF,
    ("GET", "/api/questions/{question_id}"): STAFF,
    ("POST", "/api/questions/{question_id}/review"): CREWS,
    ("POST", "/api/questions/{question_id}/answer"): CREWS,
    # corrections of published records
    ("POST", "/api/flights/{flight_id}/corrections"): CREWS,
    ("GET", "/api/public/flights/{flight_id}/corrections"): EVERYONE,
    # the regulator's audit
    ("GET", "/api/audit/export"): REGULATORS,
    ("GET", "/api/audit/ledger"): REGULATORS,
    # the public site's pages (HTML) and the staff's question pages
    ("GET", "/"): EVERYONE,
    ("GET", "/flights/{flight_id}"): EVERYONE,
    ("POST", "/flights/{flight_id}/questions"): EVERYONE,
    ("GET", "/stats"): EVERYONE,
    ("GET", "/verify"): EVERYONE,
    ("GET", "/verify.py"): EVERYONE,
    ("GET", "/feed.atom"): EVERYONE,
    ("GET", "/staff/questions"): EVERYONE,  # the sign-in form for the public
    ("POST", "/staff/session"): EVERYONE,
    ("POST", "/staff/signout"): EVERYONE,
    ("POST", "/staff/questions/{question_id}/review"): CREWS,
    ("POST", "/staff/questions/{question_id}/answer"): CREWS,
}

#: Writes the public may make: logging in and out, and asking about a flight.
PUBLIC_WRITES = {
    ("POST", "/api/session"),
    ("DELETE", "/api/session"),
    ("POST", "/staff/session"),
    ("POST", "/staff/signout"),
    ("POST", "/api/public/flights/{flight_id}/questions"),
    ("POST", "/flights/{flight_id}/questions"),
}
#: A regulator writes nothing but notes (and logs in and out).
REGULATOR_WRITES = PUBLIC_WRITES | {("POST", "/api/notes")}
#: Path parameters that are not record ids.
OTHER_PARAMETERS = {"path": "site.css", "index": "0"}

PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


@pytest.fixture
def settings(tmp_path: Path, db_url: str | None) -> Settings:
    """The conftest's settings without the rate limit (the public writes many times here)."""
    return Settings(
        data_dir=tmp_path / "data", db_url=db_url, job_workers=1, rate_limit_per_minute=0
    )


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app answers; a mount is ``GET {mount}/{path}``."""
    from starlette.routing import Mount

    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers were resolved lazily
        found = [(getattr(r, "methods", None), getattr(r, "path", ""), r) for r in app.routes]
    else:
        found = [
            (r.methods, r.path or "", r.original_route) for r in iter_route_contexts(app.routes)
        ]
    routes = set()
    for methods, path, route in found:
        if isinstance(route, Mount):
            routes.add(("GET", path.rstrip("/") + "/{path}"))
        for method in methods or ():
            if method != "HEAD":
                routes.add((method, path))
    return routes


def test_the_matrix_names_every_route_and_no_other(client: TestClient) -> None:
    routes = app_routes(client.app)  # type: ignore[arg-type]
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes without a row in MATRIX (add them with their roles): {missing}"
    assert not stale, f"MATRIX rows for routes the app does not have: {stale}"


def test_the_matrix_follows_the_role_rules() -> None:
    for (method, path), allowed in MATRIX.items():
        assert allowed, (method, path)
        if allowed & {CREW, REGULATOR}:
            assert ADMIN in allowed, f"{method} {path}: admins can do what crews and regulators can"
        if method != "GET":
            if PUBLIC in allowed:
                assert (method, path) in PUBLIC_WRITES, f"{method} {path}: a public write"
            if REGULATOR in allowed:
                assert (method, path) in REGULATOR_WRITES, (
                    f"{method} {path}: regulators write notes"
                )


def _url(path: str, ids: dict[str, int]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(OTHER_PARAMETERS.get(name, ids.get(name, 1)))

    return PARAMETER.sub(fill, path)


def test_every_route_times_every_role(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    ids = seed(client, headers)
    names = {m.group(1) for _, path in MATRIX for m in PARAMETER.finditer(path)}
    unknown = names - ids.keys() - OTHER_PARAMETERS.keys()
    assert not unknown, f"seed() makes no record for the path parameters {sorted(unknown)}"
    wrong = []
    for (method, path), allowed in sorted(MATRIX.items()):
        url = _url(path, ids)
        for role in ROLES:
            client.cookies.clear()
            try:
                status = client.request(method, url, headers=headers[role]).status_code
            except Exception as exc:  # the app raised: a 500 for a real client
                wrong.append(f"{role} {method} {url}: raised {type(exc).__name__}: {exc}")
                continue
            if status >= 500:
                wrong.append(f"{role} {method} {url}: {status}")
            elif role in allowed and status in (401, 403):
                wrong.append(f"{role} {method} {url}: {status}, but {role} is allowed")
            elif role not in allowed and status != (401 if role == PUBLIC else 403):
                expected = 401 if role == PUBLIC else 403
                wrong.append(f"{role} {method} {url}: {status}, expected {expected} (denied)")
    assert not wrong, "\n".join(wrong)
