"""The service: :func:`create_app` builds the FastAPI application for one :class:`Settings`.

Nothing happens at import. Starting the app (its lifespan) creates the data folder, opens the
database, applies the Alembic migrations, sweeps half-written uploads, loads (or makes) the
transparency log's signing key and appends the entries a stop left in its outbox
(:mod:`api.ledger`), starts the job runner and marks jobs that were running when the service
last stopped as failed, with the reason, and deletes the footage and tracks whose retention
has ended (then once a day, :mod:`api.work.retention`).

Every error answer is JSON ``{"detail": "one line"}`` naming the field or value and what is
valid; domain errors (a plan that cannot be built, a zone file that cannot be read) are 400s
with the domain's own message, and no request is meant to end in a 500.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger("skyledger.api")

#: The route modules under ``api/routes``, each with a ``router`` mounted under ``/api``.
ROUTE_MODULES = (
    "users",
    "assets",
    "plans",
    "checks",
    "approvals",
    "flights",
    "footage",
    "defects",
    "jobs",
    "notes",
    "public",
    "ledger",
    "questions",
    "audit",
    "corrections",
)
#: The public site's page modules under ``api/site``, each with a ``router`` mounted at ``/``.
SITE_MODULES = ("pages", "questions")


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)] or ["body"]
    return ".".join(parts)


def validation_message(exc: RequestValidationError) -> str:
    """One line from pydantic's errors: each field and what is wrong with it."""
    messages = []
    for error in exc.errors()[:3]:
        where = _location(error.get("loc", ()))
        what = str(error.get("msg", "is not valid")).rstrip(".")
        value = error.get("input")
        shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r:.60})"
        messages.append(f"{where}: {what}{shown}")
    more = len(exc.errors()) - 3
    return "; ".join(messages) + (f"; and {more} more" if more > 0 else "")


def domain_errors() -> dict[type[Exception], int]:
    """The exception types whose message is meant for the user, and their status codes."""
    from api.auth import AuthError
    from api.commands import CommandError
    from api.storage.errors import BlobNotFound, StorageError, UploadTooLarge
    from compliance.errors import ComplianceError
    from mission.errors import MissionError
    from vision.errors import VisionError

    return {
        AuthError: 400,
        CommandError: 400,
        ComplianceError: 400,
        MissionError: 400,
        VisionError: 400,
        StorageError: 400,
        BlobNotFound: 404,
        UploadTooLarge: 413,
    }


def create_app(settings: Settings) -> FastAPI:
    """The application for ``settings``; nothing is opened until it starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from api.jobs import ThreadJobRunner
        from api.ledger import LedgerStore, load_or_create_key
        from api.storage import migrate
        from api.storage.blobs import BlobStore
        from api.storage.db import Database
        from api.work.flying import log_unlogged_flights
        from api.work.retention import DailySweeper

        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        migrate.upgrade(settings.url)
        db = Database(settings.url)
        blobs = BlobStore(settings.blobs_dir)
        blobs.sweep_temp()
        # the transparency log: entries left in the outbox by a stop are appended now, and
        # every commit that recorded entries appends them (job threads' sessions too)
        ledger = LedgerStore(db, load_or_create_key(settings.ledger_key_path))
        ledger.flush()
        ledger.flush_after_commit(db.sessions)
        app.state.ledger = ledger
        jobs = ThreadJobRunner(db, workers=settings.job_workers)
        jobs.recover()
        with db.session() as session:  # flights a stop kept out of the log, now jobs are settled
            log_unlogged_flights(session, settings)
        app.state.db, app.state.blobs, app.state.jobs = db, blobs, jobs
        app.state.retention = DailySweeper(db, blobs, settings).start()  # now, then daily
        try:
            yield
        finally:
            app.state.retention.stop()
            jobs.shutdown()
            db.close()

    app = FastAPI(
        title="skyledger",
        version="0.1.0",
        summary="Plan, check, fly and publish municipal drone inspections in the open",
        lifespan=lifespan,
    )
    app.state.settings = settings

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(exc)}, status_code=422)

    statuses = domain_errors()

    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        status = next((statuses[k] for k in type(exc).__mro__ if k in statuses), 400)
        return JSONResponse({"detail": " ".join(str(exc).split())}, status_code=status)

    for error_type in statuses:
        app.add_exception_handler(error_type, domain_error)

    from api import security

    security.install(app, settings)
    from fastapi.staticfiles import StaticFiles

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for name in ROUTE_MODULES:
        module = importlib.import_module(f"api.routes.{name}")
        app.include_router(module.router, prefix="/api")
    for name in SITE_MODULES:
        module = importlib.import_module(f"api.site.{name}")
        app.include_router(module.router)
    return app
