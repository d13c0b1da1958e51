"""Corrections of published flight records: a new log entry and a new version, never an edit.

- ``POST /api/flights/{flight_id}/corrections`` (crew, admin): JSON ``{reason, purpose}``
  corrects the flight's public purpose; 201 with the new record version, the index of the
  log entry it corrects, and the indices of the ``correction`` and ``disclosure_published``
  entries once appended (null while they wait in the outbox). 409 when the flight has no
  public record or its latest version is not in the log yet; 422 for a bad reason or value.
- ``GET /api/public/flights/{flight_id}/corrections`` (anyone): the ``correction`` entries
  about a flight with a public record, oldest first: index, time, reason, the index it
  corrects, the version it made and the changed fields (hashes, and the values of the
  published versions they match).

Work: :mod:`api.work.correcting`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CrewDep, SessionDep, SettingsDep
from api.routes.common import IdPath, answering, not_found
from api.work.correcting import Correction, CorrectionMade

__all__ = ["CorrectionCreate", "FlightCorrections", "router"]

router = APIRouter(tags=["corrections"])

#: Bounds on what the body may carry at all; the work checks the real limits (one-line 422s).
_MAX_BODY_TEXT = 5_000


class CorrectionCreate(BaseModel):
    """A correction of a flight's public record: why (5..500 characters on one line, no
    contact details: it enters the public log) and the corrected field."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=_MAX_BODY_TEXT, description="5..500 characters, one line")
    purpose: str | None = Field(
        None, max_length=_MAX_BODY_TEXT, description="the corrected purpose, 1..200 characters"
    )


class FlightCorrections(BaseModel):
    """The corrections of a flight's public record, oldest first."""

    flight_id: int
    corrections: list[Correction]


@router.post(
    "/flights/{flight_id}/corrections",
    status_code=201,
    response_model=CorrectionMade,
    summary="Correct a flight's published record (crew, admin)",
    responses={
        404: {"description": "no such flight"},
        409: {"description": "no public record, or its latest version not in the log yet"},
    },
)
def correct_flight(
    flight_id: IdPath,
    body: CorrectionCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CrewDep,
) -> CorrectionMade:
    from api.routes.flights import flights_changed
    from api.work import correcting

    with answering():
        made = correcting.correct_flight(
            session, settings, flight_id, user, reason=body.reason, purpose=body.purpose
        )
    session.commit()  # the log appends the entries after the commit
    flights_changed(request.app)
    return correcting.made_entries(session, made)


@router.get(
    "/public/flights/{flight_id}/corrections",
    response_model=FlightCorrections,
    summary="The corrections of a flight's published record (anyone)",
    responses={404: {"description": "no published record of that flight"}},
)
def public_corrections(flight_id: IdPath, session: SessionDep) -> FlightCorrections:
    from api.work.correcting import flight_corrections
    from api.work.public_records import flight_disclosure

    if flight_disclosure(session, flight_id) is None:
        raise not_found("published flight record", flight_id)
    return FlightCorrections(
        flight_id=flight_id, corrections=flight_corrections(session, flight_id)
    )
