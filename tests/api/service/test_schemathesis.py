"""Schemathesis against the app's own OpenAPI document: no generated request ends in a 5xx.

Each operation gets a bounded, derandomised set of generated requests (valid and invalid
ones), sent in-process to an app with records of every kind, once with an admin's token and
once as the public. Only the ``not_a_server_error`` check runs: the contract here is that
every bad input is a 4xx (the role matrix checks who may do what).

The app's lifespan is run by a TestClient; schemathesis sends through its own
in-process ASGI client (a requests Session) without starting the lifespan a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from seeding import seed

from api.settings import Settings

pytestmark = pytest.mark.slow

#: Generated examples per operation (the fuzzing phase), besides the schema's own examples and
#: the coverage phase's deterministic edge cases (bounds, missing and wrong-typed fields), which
#: are finite. About a minute per database on two cores; the stateful phase is off.
MAX_EXAMPLES = 10
BASE_URL = "http://testserver"
CONFIG = {
    "seed": 6,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
    "phases": {"stateful": {"enabled": False}},
}


def _document() -> dict[str, Any]:
    """The app's OpenAPI document; making the app opens nothing (no lifespan runs)."""
    from api.app import create_app

    return create_app(Settings(data_dir=Path("unused"))).openapi()


# Built when the module is collected: schemathesis's fixture-based lazy schema does not run
# under pytest 9 (it sets ``node._nodeid``, which pytest 9 no longer has).
schema = schemathesis.openapi.from_dict(_document(), config=SchemathesisConfig.from_dict(CONFIG))


@dataclass
class Service:
    session: Any  # schemathesis's in-process client for the running app
    headers: dict[str, dict[str, str]]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One app per database for the whole module, its lifespan run by a TestClient, with a
    user of each role and records of every kind (seeding flies a flight: seconds)."""
    from schemathesis.python.asgi import ASGIClient

    from api.app import create_app
    from api.auth import add_user

    db_url = None
    if request.param == "postgresql":
        from postgres import create_database

        db_url = create_database(request.getfixturevalue("postgres_url"), "schemathesis")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("schemathesis") / "data",
        db_url=db_url,
        job_workers=1,
        rate_limit_per_minute=0,  # the public writes many times
        max_upload_bytes=1024 * 1024,
    )
    with TestClient(create_app(settings)) as client:
        headers: dict[str, dict[str, str]] = {"public": {}}
        with client.app.state.db.session() as session:  # type: ignore[attr-defined]
            for role in ("crew", "regulator", "admin"):
                token = add_user(session, f"{role}-1", role).token
                headers[role] = {"Authorization": f"Bearer {token}"}
        seed(client, headers)
        session = ASGIClient(cast(Any, client.app))  # not entered: no second lifespan
        try:
            yield Service(session, headers)
        finally:
            session.close()


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_server_errors(case: Any, service: Service) -> None:
    for role in ("admin", "public"):
        case.call_and_validate(
            base_url=BASE_URL,
            session=service.session,
            headers=service.headers[role],
            checks=[not_a_server_error],
        )
