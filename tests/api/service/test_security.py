"""Security headers, the rate limit on writes by the public, and CSRF on cookie sessions."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import CONTENT_SECURITY_POLICY, MemoryRateLimiter
from api.settings import Settings

HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def assert_secure(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in HEADERS.items():
        assert headers.get(name) == value, name


# --- headers ----------------------------------------------------------------------------------


def test_headers_on_json_answers_and_errors(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    ok = client.get("/api/me", headers=headers["admin"])
    assert ok.status_code == 200
    assert_secure(ok)
    for response in (
        client.get("/api/me"),  # 401
        client.get("/api/no-such-thing"),  # 404
        client.get("/api/users?limit=0", headers=headers["admin"]),  # 422
        client.post("/api/users", headers=headers["crew"], json={}),  # 403
    ):
        assert response.status_code >= 400
        assert_secure(response)
        assert "strict-transport-security" not in response.headers  # plain HTTP
    policy = CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy


def test_hsts_only_over_https(settings: Settings) -> None:
    with TestClient(create_app(settings), base_url="https://testserver") as https:
        response = https.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert_secure(response)


def test_openapi_stays_and_the_cdn_docs_pages_are_gone(client: TestClient) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and "/api/me" in spec.json()["paths"]
    for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(page).status_code == 404, page


def test_a_header_set_by_the_route_is_kept(settings: Settings) -> None:
    from fastapi import Response

    app = create_app(settings)

    @app.get("/own-policy")
    def own() -> Response:
        return Response("x", headers={"Content-Security-Policy": "sandbox"})

    with TestClient(app) as own_client:
        response = own_client.get("/own-policy")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-frame-options"] == "DENY"


# --- rate limit -------------------------------------------------------------------------------


@pytest.fixture
def limited(settings: Settings) -> Iterator[TestClient]:
    """A service that lets the public make 3 writes a minute."""
    app = create_app(dataclasses.replace(settings, rate_limit_per_minute=3))
    with TestClient(app) as test_client:
        yield test_client


def _token(client: TestClient, name: str, role: str) -> str:
    from api.auth import add_user

    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        return add_user(session, name, role).token


def test_public_writes_are_limited(limited: TestClient) -> None:
    answers = [limited.post("/api/session", data={"token": "x.y"}).status_code for _ in range(3)]
    assert answers == [401, 401, 401]
    refused = limited.post("/api/session", data={"token": "x.y"})
    assert refused.status_code == 429
    assert "at most 3 a minute" in refused.json()["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert_secure(refused)
    # reads are never limited; nor other methods on other routes escape the count
    assert limited.get("/openapi.json").status_code == 200
    assert limited.delete("/api/session").status_code == 429


def test_signed_in_writes_are_not_limited(limited: TestClient) -> None:
    admin = {"Authorization": f"Bearer {_token(limited, 'root', 'admin')}"}
    for i in range(6):
        made = limited.post("/api/users", headers=admin, json={"name": f"u{i}", "role": "crew"})
        assert made.status_code == 201, made.text
    # a browser session (cookie + CSRF) is signed in too
    login = limited.post("/api/session", data={"token": admin["Authorization"][7:]})
    assert login.status_code == 200
    csrf = {"X-CSRF-Token": login.json()["csrf"]}
    for i in range(6):
        made = limited.post("/api/users", headers=csrf, json={"name": f"c{i}", "role": "crew"})
        assert made.status_code == 201, made.text


def test_made_up_credentials_do_not_escape_the_limit(limited: TestClient) -> None:
    fake = {"Authorization": "Bearer abc.def"}
    answers = [limited.post("/api/users", headers=fake, json={}).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    limited.cookies.set("skyledger_session", "made-up")
    assert limited.post("/api/session", data={"token": "x.y"}).status_code == 429


def test_limit_zero_turns_the_limiter_off(settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, rate_limit_per_minute=0))
    with TestClient(app) as open_client:
        answers = {
            open_client.post("/api/session", data={"token": "x"}).status_code for _ in range(40)
        }
    assert answers == {401}


def test_token_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(6, clock=lambda: now[0])  # one token every 10 s
    assert [limiter.hit("a") for _ in range(6)] == [None] * 6
    assert limiter.hit("a") == pytest.approx(10.0)
    assert limiter.hit("b") is None  # keys are separate
    now[0] = 9.0
    assert limiter.hit("a") == pytest.approx(1.0)
    now[0] = 10.0
    assert limiter.hit("a") is None
    assert limiter.hit("a") is not None


def test_memory_stays_bounded() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(2, max_keys=100, clock=lambda: now[0])
    for i in range(1000):
        limiter.hit(f"10.0.{i // 256}.{i % 256}")
        assert len(limiter) <= 100
    # a key whose bucket is drained is not forgotten while others are full again
    limiter.hit("attacker")
    limiter.hit("attacker")
    now[0] = 1.0
    assert limiter.hit("attacker") is not None
    for i in range(50):
        limiter.hit(f"other-{i}")
    assert limiter.hit("attacker") is not None
    now[0] = 1000.0  # an idle minute: every bucket is full again and can go
    limiter.hit("late")
    assert len(limiter) == 1


def test_limiter_is_thread_safe() -> None:
    limiter = MemoryRateLimiter(50, clock=lambda: 0.0)
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(40):
            ok = limiter.hit("same") is None
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 320 and sum(allowed) == 50


# --- CSRF -------------------------------------------------------------------------------------


def test_cookie_writes_need_the_csrf_token(
    client: TestClient, tokens: dict[str, str], headers: dict[str, dict[str, str]]
) -> None:
    login = client.post("/api/session", data={"token": tokens["admin"]})
    assert login.status_code == 200
    csrf = login.json()["csrf"]
    assert client.get("/api/me").json()["name"] == "admin-1"  # reads need no CSRF token
    body = {"name": "via-cookie", "role": "crew"}
    missing = client.post("/api/users", json=body)
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    wrong = client.post("/api/users", json=body, headers={"X-CSRF-Token": csrf + "x"})
    assert wrong.status_code == 403
    made = client.post("/api/users", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    # a request with a token in the header needs no CSRF token (no browser sends it by itself)
    client.cookies.clear()
    other = client.post(
        "/api/users", json={"name": "via-token", "role": "crew"}, headers=headers["admin"]
    )
    assert other.status_code == 201
