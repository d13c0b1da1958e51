"""Fixtures for the service tests (tests/api/service, ledger, site): an app on a fresh database,
a client, and a user of each role.

Every test that uses ``client`` runs on SQLite and, where Debian's PostgreSQL server can be
started, again on PostgreSQL (one server for the session, a fresh database per test).
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from postgres import PostgresUnavailable, postgres_server

    try:
        with postgres_server(tmp_path_factory.mktemp("pg")) as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL: {exc}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None (SQLite in the data folder) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    from postgres import create_database

    return create_database(request.getfixturevalue("postgres_url"), f"service_{next(_databases)}")


@pytest.fixture
def settings(tmp_path: Path, db_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", db_url=db_url, job_workers=1)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def tokens(client: TestClient) -> dict[str, str]:
    """An API token for a user of each role, keyed by role."""
    from api.auth import add_user

    made = {}
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        for role in ("crew", "regulator", "admin"):
            made[role] = add_user(session, f"{role}-1", role).token
    return made


@pytest.fixture
def headers(tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    """Request headers for each role; ``public`` sends none."""
    return {"public": {}} | {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(client: TestClient, db_url: str | None) -> Iterator[str]:
    """The client's app served over HTTP on a free loopback port (SQLite only: the HTTP
    path is the same on either database)."""
    if db_url is not None:
        pytest.skip("served once, on SQLite (the database makes no difference here)")
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(client.app, host="127.0.0.1", port=port, lifespan="off", log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
