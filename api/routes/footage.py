"""Routes: a flight's footage, uploaded and searched for defects.

``POST /api/flights/{id}/footage`` (crew, admin) takes a video (``.mp4``, ``.mov``,
``.avi``, ``.mkv``) as ``multipart/form-data`` (field ``file``, optional ``offset_s``:
seconds from the track's start to the first frame; without it frame 0 is at take-off). The
body is streamed to the blob store as it arrives (:mod:`api.work.streaming`), never held in
memory, and refused as soon as it passes ``Settings.max_upload_bytes`` (413). A wrong
extension or content type is a 415, a file name that names a path or a body cut short a
400, a video OpenCV cannot read a 400 (probed before it is accepted); none of them leaves a
file or a row behind. An accepted video starts a detection job
(:func:`api.work.detecting.detect_job`); the answer is 202 with the footage and the job.

``GET /api/flights/{id}/footage`` lists a flight's footage (staff).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import BlobsDep, CrewDep, JobsDep, ReaderDep, SessionDep, SettingsDep
from api.routes.common import IdPath, answering, get_or_404, multipart_body
from api.routes.jobs import JobPublic
from api.settings import Settings
from api.storage.models import File, Flight, Footage, Job
from api.work.detecting import VIDEO_TYPES
from api.work.records import discard_blob

__all__ = ["VIDEO_EXTENSIONS", "FootagePublic", "router"]

router = APIRouter(tags=["footage"])

#: Video files accepted, and the media type each is stored with.
VIDEO_EXTENSIONS = VIDEO_TYPES
#: The largest offset accepted, seconds either way.
MAX_OFFSET_S = 86_400.0


class FootagePublic(BaseModel):
    """A stored video of a flight."""

    id: int
    flight_id: int
    kind: str
    name: str
    size: int
    media_type: str
    sha256: str
    offset_s: float | None
    uploaded_by: int
    uploaded_at: datetime

    @classmethod
    def of(cls, row: Footage, file: File | None) -> FootagePublic:
        return cls(
            id=row.id,
            flight_id=row.flight_id,
            kind=row.kind,
            name=file.name if file is not None else "",
            size=file.size if file is not None else 0,
            media_type=file.media_type if file is not None else "",
            sha256=row.sha256,
            offset_s=row.offset_s,
            uploaded_by=row.uploaded_by,
            uploaded_at=row.uploaded_at,
        )


class FootageStarted(BaseModel):
    """Footage stored, and the job looking for defects in it."""

    footage: FootagePublic
    job: JobPublic


def check_video(name: str, content_type: str) -> None:
    """415 unless ``name`` has a video extension and ``content_type`` is a video's (or
    says nothing more than bytes)."""
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in VIDEO_EXTENSIONS:
        raise HTTPException(
            415, f"file {name!r}: footage must be .mp4, .mov, .avi or .mkv (not {ext or 'none'})"
        )
    if content_type not in ("", "application/octet-stream") and not content_type.startswith(
        "video/"
    ):
        raise HTTPException(
            415, f"file {name!r}: content type {content_type!r} is not a video (send video/*)"
        )


def _offset(fields: dict[str, str]) -> float | None:
    text = fields.get("offset_s", "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and abs(value) <= MAX_OFFSET_S):
        raise HTTPException(
            422,
            f"offset_s: {text!r:.40} is not a number of seconds within "
            f"-{MAX_OFFSET_S:g}..{MAX_OFFSET_S:g}",
        )
    return value


_FOOTAGE_BODY = multipart_body(
    "the video: .mp4, .mov, .avi or .mkv, at most the server's upload limit "
    "(Settings.max_upload_bytes)",
    offset_s={
        "type": "number",
        "description": "seconds from the track's first sample to the video's first frame "
        "(default: frame 0 at take-off)",
    },
)


@router.post(
    "/flights/{flight_id}/footage",
    status_code=202,
    response_model=FootageStarted,
    summary="Upload a flight's video (streamed) and look for defects in it (a job)",
    openapi_extra=_FOOTAGE_BODY,
)
async def upload_footage(
    flight_id: IdPath,
    request: Request,
    session: SessionDep,
    user: CrewDep,
    settings: SettingsDep,
    blobs: BlobsDep,
    jobs: JobsDep,
) -> FootageStarted:
    from api.work.streaming import read_upload

    flight = await run_in_threadpool(get_or_404, session, Flight, flight_id, "flight")
    if flight.track_sha256 is None:
        raise HTTPException(
            409,
            f"flight {flight_id} has no track yet (state {flight.state}); "
            "upload its footage once it is flown",
        )
    if flight.data_deleted_at is not None:
        from api.work.retention import deleted_message

        gone = deleted_message(flight, "the footage, track and log", were=True)
        raise HTTPException(409, f"{gone}; no footage can be added to it")
    user_id = user.id
    await run_in_threadpool(session.commit)  # no transaction held while the body streams
    upload = await read_upload(
        request, blobs, max_bytes=settings.max_upload_bytes, check=check_video, what="footage"
    )
    assert upload.stored is not None
    try:
        return await run_in_threadpool(
            _accept, session, blobs, jobs, request.app.state.db, flight_id, user_id, upload,
            settings,
        )  # fmt: skip
    except BaseException:
        await run_in_threadpool(_discard, session, blobs, upload.stored.sha256)
        raise


def _discard(session: Session, blobs: Any, sha256: str) -> None:
    session.rollback()
    discard_blob(session, blobs, sha256)


def _accept(
    session: Session,
    blobs: Any,
    jobs: Any,
    db: Any,
    flight_id: int,
    user_id: int,
    upload: Any,
    settings: Settings,
) -> FootageStarted:
    from api.work.detecting import accept_footage, detect_job

    offset_s = _offset(upload.fields)
    with answering():
        footage = accept_footage(
            session, upload.stored, upload.filename, flight_id, user_id, offset_s
        )
    file = session.get(File, footage.sha256)
    session.commit()
    name = upload.filename
    params = {"footage_id": footage.id, "flight_id": flight_id, "file": name}
    work = detect_job(db, blobs, footage.id, settings=settings)
    job_id = jobs.submit("detect", params, work, created_by=user_id)
    job = session.get(Job, job_id)
    assert job is not None
    return FootageStarted(footage=FootagePublic.of(footage, file), job=JobPublic.of(job))


@router.get(
    "/flights/{flight_id}/footage",
    response_model=list[FootagePublic],
    summary="A flight's footage (staff)",
)
def list_footage(flight_id: IdPath, session: SessionDep, user: ReaderDep) -> list[FootagePublic]:
    get_or_404(session, Flight, flight_id, "flight")
    rows = session.execute(
        select(Footage, File)
        .outerjoin(File, File.sha256 == Footage.sha256)
        .where(Footage.flight_id == flight_id)
        .order_by(Footage.id)
    )
    return [FootagePublic.of(row, file) for row, file in rows]
