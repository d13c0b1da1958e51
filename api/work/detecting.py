"""Finding the defects in a flight's footage, and keeping what was found.

:func:`detect_job` runs :func:`vision.pipeline.detect_footage` as ``skyledger detect``
does: the flight's stored track, the camera of its plan (``mavic3-enterprise``, the
command's default, for a flight without one), the shipped synthetic-defects model unless
other weights are given, the footage's offset when the crew gave one (else frame 0 at
take-off). The defects GeoJSON (:func:`vision.report.defects_geojson`), the HTML report
and each defect's crop (already redacted by the pipeline, as JPEG) are stored as blobs
with their ``files`` rows; an ``inspections`` row and one ``defects`` row per defect
point at them. Nothing is written until the pipeline has finished, so a failed job leaves
no inspection behind. The inspection goes into the transparency log in the same transaction
(``inspection_published``: the hashes of the footage and the GeoJSON, the counts per class,
the regions redacted), and the flight's disclosure is published again with its defects.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.ledger import record
from api.storage.models import Defect, Flight, Footage, Inspection
from api.storage.models import File as FileRow
from api.storage.models import Plan as PlanRow
from api.work.flying import disclose
from api.work.records import plan_of, store_bytes

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from api.jobs import JobContext, Work
    from api.settings import Settings
    from api.storage.blobs import BlobStore, Stored
    from api.storage.db import Database
    from mission.camera import Camera

__all__ = ["DEFAULT_CAMERA", "VIDEO_TYPES", "accept_footage", "detect_job", "encode_crop"]

#: The camera of a flight without a plan (``skyledger detect``'s default).
DEFAULT_CAMERA = "mavic3-enterprise"
#: JPEG quality of the stored crops.
CROP_QUALITY = 90
#: Video files accepted, and the media type each is stored with.
VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
}


def encode_crop(image: Any) -> bytes | None:
    """A BGR picture as JPEG bytes (None when it cannot be encoded)."""
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, CROP_QUALITY])
    return bytes(data.tobytes()) if ok else None


def _camera(plan_row: PlanRow | None) -> Camera:
    from mission.camera import PRESETS

    if plan_row is not None:
        plan = plan_of(plan_row)
        if plan.camera is not None:
            return plan.camera
    return PRESETS[DEFAULT_CAMERA]


def accept_footage(
    session: Session,
    stored: Stored,
    name: str,
    flight_id: int,
    user_id: int,
    offset_s: float | None = None,
) -> Footage:
    """Keep a stored video as footage of flight ``flight_id`` (flushed, not committed).

    The video is probed first (:func:`vision.footage.probe_video`): one that OpenCV cannot
    read is a :class:`~api.work.errors.WorkError` naming ``name``, and nothing is added.
    A flight that does not exist is :class:`~api.work.errors.Missing`, one without a track
    yet a :class:`~api.work.errors.Conflict`. The caller removes the blob when this raises.
    """
    from api.work.errors import Conflict, Invalid, Missing, WorkError
    from api.work.records import add_file
    from vision.errors import VisionError
    from vision.footage import probe_video

    flight = session.get(Flight, flight_id)
    if flight is None:
        raise Missing("flight", flight_id)
    if flight.track_sha256 is None:
        raise Conflict(
            f"flight {flight_id} has no track yet (state {flight.state}); "
            "upload its footage once it is flown"
        )
    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in VIDEO_TYPES:
        raise Invalid(f"file {name!r}: footage must be .mp4, .mov, .avi or .mkv")
    try:
        probe_video(stored.path)
    except VisionError as exc:
        message = " ".join(str(exc).replace(str(stored.path), name).split())
        raise WorkError(f"{message} (nothing was kept)") from None
    add_file(session, stored, VIDEO_TYPES[ext], name)
    footage = Footage(
        flight_id=flight_id,
        sha256=stored.sha256,
        kind="video",
        offset_s=offset_s,
        uploaded_by=user_id,
    )
    session.add(footage)
    session.flush()
    return footage


def detect_job(
    db: Database,
    blobs: BlobStore,
    footage_id: int,
    weights: Path | None = None,
    *,
    settings: Settings | None = None,
) -> Work:
    """The job that finds the defects in footage ``footage_id`` (see the module notes);
    ``settings`` publishes the flight's disclosure with them."""

    def work(ctx: JobContext) -> dict[str, Any]:
        return _detect(ctx, db, blobs, footage_id, weights, settings)

    return work


def _detect(
    ctx: JobContext,
    db: Database,
    blobs: BlobStore,
    footage_id: int,
    weights: Path | None,
    settings: Settings | None,
) -> dict[str, Any]:
    from api.cli_detect import default_weights
    from api.work.retention import deleted_message
    from mission.track import read_track
    from vision.detector import load_detector
    from vision.pipeline import detect_footage
    from vision.report import defects_geojson, report_html

    ctx.progress(1, "reading the flight's track")
    with db.session() as session:
        footage = session.get(Footage, footage_id)
        if footage is None:
            raise ValueError(f"footage {footage_id} does not exist")
        flight = session.get(Flight, footage.flight_id)
        if flight is None or flight.track_sha256 is None:
            raise ValueError(f"flight {footage.flight_id} has no track to place the footage with")
        gone = deleted_message(flight, "the track and footage", were=True)
        if gone is not None:
            raise ValueError(gone)
        plan_row = session.get(PlanRow, flight.plan_id) if flight.plan_id is not None else None
        camera = _camera(plan_row)
        file_row = session.get(FileRow, footage.sha256)
        name = file_row.name if file_row is not None else f"footage-{footage_id}"
        flight_id, video_sha, offset_s = flight.id, footage.sha256, footage.offset_s
        track_sha = flight.track_sha256
    with blobs.open(track_sha) as stored:
        track = read_track(stored.read(), f"flight-{flight_id}-track.csv")
    chosen = weights if weights is not None else default_weights()
    if not chosen.is_file():
        raise ValueError(f"the detection weights {chosen.name} are not installed on the server")

    def progress(done: int, total: int) -> None:
        ctx.progress(5 + 85 * done / max(total, 1), f"frame {done} of {total}")

    ctx.progress(3, "probing the footage")
    try:
        inspection = detect_footage(
            blobs.path(video_sha),
            track,
            camera,
            lambda: load_detector(chosen),
            offset_s=offset_s,
            progress=progress,
        )
    except ValueError as exc:  # the pipeline names the blob's path: name the upload instead
        raise ValueError(str(exc).replace(str(blobs.path(video_sha)), name)) from None
    inspection = dataclasses.replace(inspection, source=name)
    ctx.progress(92, "storing the defects, the report and the crops")
    geojson = json.dumps(defects_geojson(inspection), indent=1) + "\n"
    report = report_html(inspection, title=f"Inspection of flight {flight_id}: {name}")
    with db.session() as session:
        geojson_sha = store_bytes(
            session, blobs, geojson.encode(), "application/geo+json",
            f"flight-{flight_id}-defects.geojson",
        )  # fmt: skip
        report_sha = store_bytes(
            session, blobs, report.encode(), "text/html", f"flight-{flight_id}-report.html"
        )
        row = Inspection(
            flight_id=flight_id,
            footage_id=footage_id,
            geojson_sha256=geojson_sha,
            report_sha256=report_sha,
            counts=inspection.counts(),
            job_id=ctx.job_id,
        )
        session.add(row)
        session.flush()
        for n, found in enumerate(inspection.defects, 1):
            crop_sha = None
            data = encode_crop(found.crop) if found.crop is not None else None
            if data is not None:
                crop_sha = store_bytes(
                    session, blobs, data, "image/jpeg", f"flight-{flight_id}-defect-{n}.jpg"
                )
            session.add(
                Defect(
                    inspection_id=row.id,
                    flight_id=flight_id,
                    class_name=found.cls,
                    confidence=float(found.confidence),
                    lon=float(found.lon),
                    lat=float(found.lat),
                    error_m=float(found.error_m),
                    sightings=int(found.sightings),
                    time_s=float(found.time_s),
                    crop_sha256=crop_sha,
                )
            )
        inspection_id = row.id
        session.flush()
        record(
            session,
            "inspection_published",
            f"flight:{flight_id}",
            {
                "flight_id": flight_id,
                "inspection_id": inspection_id,
                "footage_id": footage_id,
                "footage_sha256": video_sha,
                "geojson_sha256": geojson_sha,
                "report_sha256": report_sha,
                "counts": {str(k): int(v) for k, v in inspection.counts().items()},
                "defects": len(inspection.defects),
                "redacted_regions": int(inspection.redacted_regions),
            },
        )
        disclose(session, settings, flight_id)
    return {
        "inspection_id": inspection_id,
        "flight_id": flight_id,
        "footage_id": footage_id,
        "defects": len(inspection.defects),
        "counts": inspection.counts(),
        "frames_total": inspection.frames_total,
        "frames_processed": inspection.frames_processed,
        "redacted_regions": inspection.redacted_regions,
        "weights": inspection.weights,
    }
