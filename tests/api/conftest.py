"""Fixtures for the service tests (tests/api/service, ledger, site): an app on a fresh database,
a client, and a user of each role.

Every test that uses ``client`` runs on SQLite and, where Debian's PostgreSQL server can be
started, again on PostgreSQL (one server for the session, a fresh database per test).
"""

from __future__ import annotations

import itertools
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
