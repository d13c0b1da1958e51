"""A real flight's log, uploaded: read, stored as the project's track CSV, made a flight.

:func:`accept_flight_log` takes a log already in the blob store (``.csv``: skyledger's
track; ``.tlog``: MAVLink telemetry; ``.bin``: ArduPilot DataFlash), reads it with
:func:`mission.track.read_track` and adds the flight: the track as CSV (the upload itself
when it is one), the original log beside it, the figures of
:func:`api.work.flying.track_summary`. A log that cannot be read is a
:class:`~api.work.errors.WorkError` with the reader's one line, and nothing is added.
Comparing the track with its plan is the caller's next step
(:func:`api.work.flying.compute_conformance`, or its job), which enters the flight in the
transparency log with its conformance; a log that names no plan is entered here, in the
same transaction, and its disclosure published (:func:`api.work.flying.record_flown`,
:func:`api.work.flying.disclose`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.storage.models import Flight
from api.storage.models import Plan as PlanRow
from api.work.records import add_file, store_bytes

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from api.settings import Settings
    from api.storage.blobs import BlobStore, Stored
    from mission.track import Track

__all__ = ["LOG_EXTENSIONS", "LOG_MEDIA_TYPES", "accept_flight_log"]

#: The flight logs read, and the media type each is stored with.
LOG_MEDIA_TYPES = {
    ".csv": "text/csv",
    ".tlog": "application/octet-stream",
    ".bin": "application/octet-stream",
}
LOG_EXTENSIONS = tuple(LOG_MEDIA_TYPES)


def accept_flight_log(
    session: Session,
    blobs: BlobStore,
    stored: Stored,
    name: str,
    *,
    user_id: int,
    plan_id: int | None = None,
    purpose: str = "",
    public: bool = True,
    settings: Settings | None = None,
) -> tuple[Flight, Track]:
    """Add the flight of a stored log named ``name`` (flushed, not committed); return it
    and its track. Raises :class:`~api.work.errors.Missing` for an unknown plan,
    :class:`~api.work.errors.WorkError` for a log that cannot be read. The caller removes
    the blob when this raises. ``settings`` publishes the disclosure of a flight without a
    plan (one with a plan is published with its conformance)."""
    from api.work.errors import Invalid, Missing, WorkError
    from api.work.flying import disclose, record_flown, track_summary
    from mission.errors import MissionError
    from mission.track import read_track, track_to_csv

    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in LOG_MEDIA_TYPES:
        raise Invalid(f"file {name!r}: a flight log must be .csv, .tlog or .bin")
    if plan_id is not None and session.get(PlanRow, plan_id) is None:
        raise Missing("plan", plan_id)
    with blobs.open(stored.sha256) as log:
        data = log.read()
    try:
        track = read_track(data, name)
    except MissionError as exc:
        raise WorkError(" ".join(str(exc).split())) from None
    except ValueError as exc:
        raise WorkError(f"file {name!r} cannot be read as a flight log: {exc}") from None
    add_file(session, stored, LOG_MEDIA_TYPES[ext], name)
    if ext == ".csv":
        track_sha, log_sha = stored.sha256, None
    else:
        stem = name.rsplit(".", 1)[0]
        csv = track_to_csv(track).encode()
        track_sha = store_bytes(session, blobs, csv, "text/csv", f"{stem}-track.csv")
        log_sha = stored.sha256
    flight = Flight(
        plan_id=plan_id,
        source="upload",
        state="flown",
        purpose=purpose,
        public=public,
        started_at=track.start,
        ended_at=track.end,
        track_sha256=track_sha,
        tlog_sha256=log_sha,
        summary=track_summary(track) | {"file": name},
        created_by=user_id,
    )
    session.add(flight)
    session.flush()
    if plan_id is None:
        record_flown(session, flight)
        disclose(session, settings, flight.id)
    return flight, track
