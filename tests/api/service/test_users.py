"""Users: /api/me, the admins' user routes, browser login and logout, and the user CLI."""

from __future__ import annotations

import dataclasses
import sqlite3
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings


def test_me_for_each_role(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    for role in ("crew", "regulator", "admin"):
        answer = client.get("/api/me", headers=headers[role])
        assert answer.status_code == 200
        me = answer.json()
        assert me["name"] == f"{role}-1" and me["role"] == role and me["disabled"] is False
        assert me["created_at"].endswith("Z") or me["created_at"].endswith("+00:00")
        assert not {"token_hash", "token_salt", "token_id", "token"} & set(me)
    public = client.get("/api/me")
    assert public.status_code == 401 and public.json()["detail"]
    wrong = client.get("/api/me", headers={"Authorization": "Bearer nope.nope"})
    assert wrong.status_code == 401


def test_admin_adds_lists_and_disables_users(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    admin = headers["admin"]
    made = client.post("/api/users", headers=admin, json={"name": "dana", "role": "regulator"})
    assert made.status_code == 201
    body = made.json()
    assert set(body) == {"user", "token"}
    assert not {"token_hash", "token_salt"} & set(body["user"])
    dana = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/me", headers=dana).json()["role"] == "regulator"

    listed = client.get("/api/users", headers=admin).json()
    assert listed["total"] == 4 and [u["name"] for u in listed["items"]][-1] == "dana"
    assert client.get("/api/users?limit=1&offset=1", headers=admin).json()["items"][0]["name"] == (
        "regulator-1"
    )

    taken = client.post("/api/users", headers=admin, json={"name": "dana", "role": "crew"})
    assert taken.status_code == 409 and "dana" in taken.json()["detail"]
    for bad in ({"name": "no spaces", "role": "crew"}, {"name": "ok", "role": "boss"}, {}):
        answer = client.post("/api/users", headers=admin, json=bad)
        assert answer.status_code == 422, bad
        assert "\n" not in answer.json()["detail"]

    off = client.post(f"/api/users/{body['user']['id']}/disable", headers=admin)
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert client.get("/api/me", headers=dana).status_code == 401
    assert client.post("/api/users/999999/disable", headers=admin).status_code == 404
    me = client.get("/api/me", headers=admin).json()
    self_off = client.post(f"/api/users/{me['id']}/disable", headers=admin)
    assert self_off.status_code == 409 and "your own" in self_off.json()["detail"]


def test_only_admins_manage_users(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    for role, status in (("public", 401), ("crew", 403), ("regulator", 403)):
        assert client.get("/api/users", headers=headers[role]).status_code == status
        made = client.post("/api/users", headers=headers[role], json={"name": "x", "role": "admin"})
        assert made.status_code == status
        assert client.post("/api/users/1/disable", headers=headers[role]).status_code == status


def _cookie(set_cookie: str) -> dict[str, str | bool]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(set_cookie)
    morsel = jar["skyledger_session"]
    flags = {k: morsel[k] for k in ("path", "samesite", "secure", "httponly", "max-age")}
    return {"value": morsel.value, **flags}


def test_login_sets_a_safe_cookie_and_logout_ends_it(
    client: TestClient, tokens: dict[str, str]
) -> None:
    login = client.post("/api/session", data={"token": tokens["crew"]})
    assert login.status_code == 200
    assert login.json()["user"]["name"] == "crew-1" and len(login.json()["csrf"]) >= 32
    cookie = _cookie(login.headers["set-cookie"])
    assert cookie["httponly"] is True and cookie["secure"] == ""  # plain HTTP: not Secure
    assert cookie["path"] == "/" and str(cookie["samesite"]).lower() == "lax"
    assert int(str(cookie["max-age"])) > 0
    assert client.get("/api/me").json()["name"] == "crew-1"

    no_csrf = client.delete("/api/session")
    assert no_csrf.status_code == 403
    out = client.delete("/api/session", headers={"X-CSRF-Token": login.json()["csrf"]})
    assert out.status_code == 204
    assert (
        'skyledger_session=""' in out.headers["set-cookie"]
        or "Max-Age=0" in (out.headers["set-cookie"])
    )
    client.cookies.set("skyledger_session", str(cookie["value"]))  # the old cookie, replayed
    assert client.get("/api/me").status_code == 401


def test_login_refuses_bad_tokens_and_other_sites(
    client: TestClient, tokens: dict[str, str]
) -> None:
    for token in ("", "nope", "a.b", tokens["crew"] + "x"):
        answer = client.post("/api/session", data={"token": token})
        assert answer.status_code in (401, 422), token
        assert "set-cookie" not in answer.headers
    assert client.post("/api/session").status_code == 422  # no token field
    other = client.post(
        "/api/session", data={"token": tokens["crew"]}, headers={"Origin": "https://evil.example"}
    )
    assert other.status_code == 403 and "set-cookie" not in other.headers
    same = client.post(
        "/api/session", data={"token": tokens["crew"]}, headers={"Origin": "http://testserver"}
    )
    assert same.status_code == 200


@pytest.mark.parametrize("how", ["https", "setting"])
def test_cookie_is_secure_over_https_or_when_set(settings: Settings, how: str) -> None:
    from api.auth import add_user

    if how == "https":
        app, base = create_app(settings), "https://testserver"
    else:
        app, base = create_app(dataclasses.replace(settings, secure_cookies=True)), "http://t"
    with TestClient(app, base_url=base) as test_client:
        with test_client.app.state.db.session() as session:  # type: ignore[attr-defined]
            token = add_user(session, "ops", "crew").token
        login = test_client.post("/api/session", data={"token": token})
    assert login.status_code == 200
    assert _cookie(login.headers["set-cookie"])["secure"] is True


def test_disabling_a_user_ends_its_browser_sessions(
    client: TestClient, tokens: dict[str, str], headers: dict[str, dict[str, str]]
) -> None:
    login = client.post("/api/session", data={"token": tokens["crew"]})
    assert client.get("/api/me").status_code == 200
    crew_id = login.json()["user"]["id"]
    client.cookies.clear()
    assert client.post(f"/api/users/{crew_id}/disable", headers=headers["admin"]).status_code == 200
    from sqlalchemy import func, select

    from api.storage.models import WebSession

    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        left = session.scalar(
            select(func.count()).select_from(WebSession).where(WebSession.user_id == crew_id)
        )
    assert left == 0


# --- the command line -------------------------------------------------------------------------


def skyledger(*argv: str) -> int:
    """Run ``skyledger ARGV`` in this process; its exit status."""
    from api.cli import main

    return main(list(argv))


def test_cli_prints_the_token_last_and_stores_only_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert skyledger("users", "add", "alice", "--role", "admin", "--data-dir", str(data)) == 0
    out = capsys.readouterr().out.splitlines()
    token = out[-1]
    assert len(out) == 2 and "alice" in out[0] and "admin" in out[0]
    token_id, _, secret = token.partition(".")
    assert token_id and len(secret) >= 40 and " " not in token

    settings = Settings(data_dir=data)
    with TestClient(create_app(settings)) as test_client:
        me = test_client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["name"] == "alice"

    rows = []
    with sqlite3.connect(data / "skyledger.db") as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            rows += [repr(r) for r in conn.execute(f'SELECT * FROM "{table}"')]
    dump = "\n".join(rows)
    assert token_id in dump  # the id is how a token is found ...
    assert secret not in dump and token not in dump  # ... but its secret is nowhere
    raw = b"".join(p.read_bytes() for p in data.glob("skyledger.db*"))
    assert secret.encode() not in raw


def test_cli_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert skyledger("users", "add", "bob", "--role", "crew", "--data-dir", data) == 0
    capsys.readouterr()
    for argv in (
        ("users", "add", "bob", "--role", "crew", "--data-dir", data),  # taken
        ("users", "add", "b b", "--role", "crew", "--data-dir", data),  # bad name
        ("users", "add", "carl", "--role", "boss", "--data-dir", data),  # bad role
        ("users", "list", "--data-dir", str(tmp_path / "nowhere")),  # no database
        ("users", "add", "carl", "--role", "crew", "--db", "nonsense"),
        ("db", "upgrade", "--db", "foo://x"),
        ("db", "upgrade", "--db", "postgresql+psycopg://u:secret@127.0.0.1:1/d"),
    ):
        assert skyledger(*argv) == 2, argv
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("skyledger: error: "), captured.err
        assert "Traceback" not in captured.err and "secret" not in captured.err
        assert captured.out == ""


def test_cli_users_list_and_db_revision(
    tmp_path: Path, db_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    """On SQLite (the data folder) and PostgreSQL (--db URL)."""
    from api.storage import migrate

    where = ["--db", db_url] if db_url else ["--data-dir", str(tmp_path / "data")]
    if db_url is None:
        assert skyledger("db", "current", *where) == 2  # no database file yet
        assert "no database at" in capsys.readouterr().err
    else:
        assert skyledger("db", "current", *where) == 0
        assert "never migrated" in capsys.readouterr().out
    assert skyledger("db", "upgrade", *where) == 0
    assert capsys.readouterr().out.strip().endswith(f"revision {migrate.head()}")
    if db_url is None:  # in WAL mode before any server process opens it (two would collide)
        with sqlite3.connect(tmp_path / "data" / "skyledger.db") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert skyledger("db", "upgrade", *where) == 0  # again: nothing to do
    capsys.readouterr()
    assert skyledger("db", "current", *where) == 0
    assert f"revision {migrate.head()} (the newest)" in capsys.readouterr().out
    assert skyledger("users", "list", *where) == 0
    assert "no users yet" in capsys.readouterr().out
    assert skyledger("users", "add", "eve", "--role", "regulator", *where) == 0
    assert capsys.readouterr().out.splitlines()[-1].count(".") == 1
    assert skyledger("users", "list", *where) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["id", "name", "role", "state", "created"]
    assert listed[2].split()[:4] == ["1", "eve", "regulator", "active"]
    if db_url:
        assert skyledger("users", "list", "--db", db_url, "--data-dir", "x") == 2  # one or other


def test_app_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli_service import app_from_env

    monkeypatch.setenv("SKYLEDGER_DATA_DIR", str(tmp_path / "env-data"))
    monkeypatch.delenv("SKYLEDGER_DB", raising=False)
    app = app_from_env()
    assert app.state.settings.data_dir == tmp_path / "env-data"
    assert app.state.settings.url.endswith("env-data/skyledger.db")
    with TestClient(app) as test_client:
        assert test_client.get("/api/me").status_code == 401
    assert (tmp_path / "env-data" / "skyledger.db").is_file()
    assert app.state.settings.max_upload_bytes == 2 * 1024**3  # the default
    monkeypatch.setenv("SKYLEDGER_MAX_UPLOAD_BYTES", "1048576")  # what serve --max-upload-mb 1 sets
    assert app_from_env().state.settings.max_upload_bytes == 1048576


def test_serve_refuses_a_bad_upload_limit(capsys: pytest.CaptureFixture[str]) -> None:
    from api import cli

    assert cli.main(["serve", "--max-upload-mb=-5"]) == 2
    assert "-5 MB must be above 0" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_with_two_workers(tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["serve", "--port", str(port), "--data-dir", str(tmp_path / "d"), "--workers", "2"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYLEDGER_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/me", timeout=2)
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
                assert exc.headers["x-frame-options"] == "DENY"
                break
            except OSError:
                assert server.poll() is None, server.communicate()[0]
                assert time.monotonic() < deadline, "the server did not answer in 90 s"
                time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)  # uvicorn's supervisor stops its workers itself
        try:
            out = server.communicate(timeout=60)[0].decode()
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            out = server.communicate()[0].decode()
    from api.storage import migrate

    assert f"schema {migrate.head()}" in out and "Traceback" not in out, out
    assert (tmp_path / "d" / "skyledger.db").is_file()
