"""Flying an approved plan, storing what was flown, and comparing it with the plan.

The flight itself is :func:`api.flights.vehicle` and :func:`sim.flight.fly_plan`, as
``skyledger fly`` runs them; conformance is :func:`compliance.conform.conform`, as
``skyledger conform`` runs it, against the sample city's zones (the zones every check of
the service uses), the rule set of the plan's approved check (``eu-open`` without one), the
check's window and the zones the approval authorised.

The built-in vehicle's simulated clock starts five minutes into the approved window (as the
demo flies), or now when the approval has no check; SITL keeps its own clock (today), so
its track is not held to the window.

A flight whose record is complete goes into the transparency log once (``flight_flown``,
:func:`record_flown`: the hashes of its track and log, its times and its conformance) in
the transaction that completes it: at the end of a fly job (flown, or failed with a track
or log), with an uploaded log that names no plan, or with the conformance of one that does.
Then its public disclosure is published (:func:`disclose`), in the same transaction.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.ledger import entry_time, record
from api.storage.models import Approval, Check, Flight, LedgerEntry, LedgerOutbox, utcnow
from api.storage.models import Plan as PlanRow
from api.work.records import plan_of, store_bytes

if TYPE_CHECKING:
    from api.jobs import JobContext, JobRunner, Work
    from api.settings import Settings
    from api.storage.blobs import BlobStore
    from api.storage.db import Database
    from compliance.rules import RuleSet
    from compliance.zones import Zone
    from mission.plan import Plan
    from mission.track import Track

__all__ = [
    "ConformanceInputs",
    "approved",
    "conformance_for",
    "conformance_inputs",
    "conformance_job",
    "disclose",
    "fly_job",
    "log_unlogged_flights",
    "record_flown",
    "start_flight",
    "track_summary",
]

log = logging.getLogger("skyledger.flights")

DEFAULT_RULES = "eu-open"
#: Into the approved window the built-in vehicle's clock starts.
WINDOW_LEAD = timedelta(minutes=5)
TRACK_MEDIA_TYPE = "text/csv"
TLOG_MEDIA_TYPE = "application/octet-stream"
_REACHED = re.compile(r"sortie (\d+)/(\d+): reached item (\d+) of (\d+)")


@dataclass(frozen=True)
class ConformanceInputs:
    """What a track of a plan is compared with."""

    plan: Plan
    zones: list[Zone]
    rules: RuleSet
    rules_name: str
    window: tuple[datetime, datetime] | None
    authorisations: tuple[str, ...]
    check_id: int | None


def approved(session: Session, plan_id: int) -> Approval | None:
    """The plan's latest approval in state ``approved``, if any."""
    statement = (
        select(Approval)
        .where(Approval.plan_id == plan_id, Approval.state == "approved")
        .order_by(Approval.id.desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def _zones() -> list[Zone]:
    """The zones the service's checks use (the sample city's)."""
    from compliance.sources import SAMPLE_ZONES_FILE, read_zones, sample_zones_text

    return list(read_zones(sample_zones_text(), SAMPLE_ZONES_FILE).zones)


def _rules(name: str | None) -> tuple[RuleSet, str]:
    from compliance.rules import PRESETS, preset

    chosen = name if name in PRESETS else DEFAULT_RULES
    return preset(chosen), chosen


def conformance_inputs(session: Session, plan_row: PlanRow) -> ConformanceInputs:
    """The plan, zones, rules, window and authorisations a flight of ``plan_row`` answers to."""
    approval = approved(session, plan_row.id)
    check = None
    if approval is not None and approval.check_id is not None:
        check = session.get(Check, approval.check_id)
    rules, rules_name = _rules(check.rules if check is not None else None)
    window = (check.window_start, check.window_end) if check is not None else None
    authorisations = tuple(str(a) for a in (approval.authorisations or [])) if approval else ()
    return ConformanceInputs(
        plan=plan_of(plan_row),
        zones=_zones(),
        rules=rules,
        rules_name=rules_name,
        window=window,
        authorisations=authorisations,
        check_id=check.id if check is not None else None,
    )


def conformance_for(
    inputs: ConformanceInputs, track: Track, use_window: bool = True
) -> dict[str, Any]:
    """The conformance report (``skyledger conform --json``'s document) of ``track``."""
    from compliance.conform import conform

    window = inputs.window if use_window else None
    result = conform(inputs.plan, track, inputs.zones, inputs.rules, window, inputs.authorisations)
    doc = result.to_dict()
    doc["rules"] = inputs.rules_name
    doc["zones"] = "sample_zones.geojson"
    doc["window"] = None if window is None else [t.isoformat() for t in window]
    doc["check_id"] = inputs.check_id
    return doc


def _distance_m(track: Track) -> float:
    """Horizontal distance flown between airborne samples (spherical Earth)."""
    import numpy as np

    air = track.airborne()
    if len(air) < 2:
        return 0.0
    lon = np.radians([s.lon_deg for s in air])
    lat = np.radians([s.lat_deg for s in air])
    dlat, dlon = np.diff(lat), np.diff(lon)
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlon / 2) ** 2
    return float(np.sum(2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))))


def track_summary(track: Track) -> dict[str, Any]:
    """The public figures of a flown track."""
    air = track.airborne()
    airborne_s = (air[-1].time - air[0].time).total_seconds() if len(air) > 1 else 0.0
    return {
        "duration_s": round(track.duration_s, 1),
        "airborne_s": round(airborne_s, 1),
        "distance_m": round(_distance_m(track), 1),
        "photos": len(track.photos),
        "max_alt_rel_m": round(max(s.alt_rel_m for s in track.samples), 1),
        "samples": len(track.samples),
        "bbox": [
            round(min(s.lon_deg for s in track.samples), 7),
            round(min(s.lat_deg for s in track.samples), 7),
            round(max(s.lon_deg for s in track.samples), 7),
            round(max(s.lat_deg for s in track.samples), 7),
        ],
    }


def start_flight(
    session: Session,
    jobs: JobRunner,
    db: Database,
    blobs: BlobStore,
    *,
    plan_id: int,
    vehicle: str,
    purpose: str,
    user_id: int,
    public: bool = True,
    speedup: float | None = None,
    settings: Settings | None = None,
) -> tuple[Flight, int]:
    """Make a queued flight of an approved plan and submit the job that flies it.

    The flight row is committed before the job is submitted (the job reads it from its own
    session). ``speedup``: the built-in vehicle's (SITL runs at :mod:`api.flights`'s
    default); ``settings`` publishes the flight's disclosure once it is flown. Raises
    :class:`~api.work.errors.Missing` for an unknown plan,
    :class:`~api.work.errors.Conflict` for a plan without an approval in state
    ``approved``, :class:`~api.work.errors.WorkError` for SITL when no binary is found.
    """
    from api.work.errors import Conflict, Invalid, Missing, WorkError

    if vehicle not in ("builtin", "sitl"):
        raise Invalid(f"vehicle: {vehicle!r} is not 'builtin' or 'sitl'")
    plan = session.get(PlanRow, plan_id)
    if plan is None:
        raise Missing("plan", plan_id)
    if approved(session, plan.id) is None:
        raise Conflict(f"plan {plan.id} has no approval; ask an admin to approve it")
    sitl_binary = None
    if vehicle == "sitl":
        from sim.sitl import find_sitl_binary

        sitl_binary = find_sitl_binary()
        if sitl_binary is None:
            raise WorkError(
                "vehicle: 'sitl' needs an ArduPilot SITL binary on the server: set "
                "$SKYLEDGER_SITL_BINARY or put arducopter on PATH, or fly 'builtin'"
            )
    flight = Flight(
        plan_id=plan.id,
        source=vehicle,
        state="queued",
        purpose=purpose,
        public=public,
        summary={},
        created_by=user_id,
    )
    session.add(flight)
    session.commit()
    work = fly_job(db, blobs, flight.id, vehicle, speedup if vehicle == "builtin" else None,
                   sitl_binary, settings=settings)  # fmt: skip
    params = {"flight_id": flight.id, "plan_id": plan.id, "vehicle": vehicle}
    job_id = jobs.submit("fly", params, work, created_by=user_id)
    flight.job_id = job_id
    session.commit()
    return flight, job_id


def _percent(line: str) -> float | None:
    """How far the flight is (0..1) from a progress line of :func:`sim.flight.fly_plan`."""
    match = _REACHED.search(line)
    if not match:
        return None
    sortie, total, seq, count = (int(g) for g in match.groups())
    if total < 1 or count < 1:
        return None
    return min(max(((sortie - 1) + min(seq / count, 1.0)) / total, 0.0), 1.0)


def _set_flight(db: Database, flight_id: int, **values: Any) -> None:
    with db.session() as session:
        flight = session.get(Flight, flight_id)
        if flight is not None:
            for name, value in values.items():
                setattr(flight, name, value)


def fly_job(
    db: Database,
    blobs: BlobStore,
    flight_id: int,
    vehicle_kind: str,
    speedup: float | None = None,
    sitl_binary: str | None = None,
    *,
    settings: Settings | None = None,
) -> Work:
    """The job that flies flight ``flight_id``'s plan on ``vehicle_kind`` (see the module notes)."""

    def work(ctx: JobContext) -> dict[str, Any]:
        try:
            return _fly(ctx, db, blobs, flight_id, vehicle_kind, speedup, sitl_binary, settings)
        except BaseException as exc:
            _set_flight(db, flight_id, state="failed", summary={"reason": _reason(exc)})
            raise

    return work


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValueError):
        return " ".join(str(exc).split())[:500]
    from api.jobs import STOPPED_REASON, JobStopped

    return STOPPED_REASON if isinstance(exc, JobStopped) else "internal error"


def _fly(
    ctx: JobContext,
    db: Database,
    blobs: BlobStore,
    flight_id: int,
    vehicle_kind: str,
    speedup: float | None,
    sitl_binary: str | None,
    settings: Settings | None,
) -> dict[str, Any]:
    from api.flights import vehicle
    from mission.track import track_to_csv
    from sim.flight import fly_plan

    ctx.progress(1, "reading the plan")
    with db.session() as session:
        flight = session.get(Flight, flight_id)
        if flight is None or flight.plan_id is None:
            raise ValueError(f"flight {flight_id} has no plan to fly")
        plan_row = session.get(PlanRow, flight.plan_id)
        if plan_row is None:
            raise ValueError(f"plan {flight.plan_id} of flight {flight_id} does not exist")
        inputs = conformance_inputs(session, plan_row)
        flight.state = "flying"
    start = None
    if vehicle_kind == "builtin":
        start = inputs.window[0] + WINDOW_LEAD if inputs.window is not None else utcnow()

    def progress(line: str) -> None:
        share = _percent(line)
        ctx.progress(5 + 85 * share if share is not None else ctx.percent, line)

    ctx.progress(3, f"starting the {vehicle_kind} vehicle")
    with vehicle(
        vehicle_kind, inputs.plan, speedup=speedup, start_time=start, sitl_binary=sitl_binary
    ) as url:
        result = fly_plan(inputs.plan, url, on_progress=progress)
    ctx.progress(90, "storing the track")
    summary: dict[str, Any] = {
        "vehicle": vehicle_kind,
        "completed": result.completed,
        "reason": result.reason,
        "sim_duration_s": round(result.sim_duration_s, 1),
        "sorties_flown": result.sorties_flown,
        "items_reached": len(result.items_reached),
    }
    track = result.track
    conformance = None
    if track is not None:
        summary |= track_summary(track)
        ctx.progress(93, "comparing the track with the plan")
        conformance = conformance_for(inputs, track, use_window=vehicle_kind == "builtin")
    with db.session() as session:
        flight = session.get(Flight, flight_id)
        assert flight is not None
        if track is not None:
            flight.track_sha256 = store_bytes(
                session,
                blobs,
                track_to_csv(track).encode(),
                TRACK_MEDIA_TYPE,
                f"flight-{flight_id}-track.csv",
            )
            flight.started_at, flight.ended_at = track.start, track.end
        if result.tlog:
            flight.tlog_sha256 = store_bytes(
                session, blobs, result.tlog, TLOG_MEDIA_TYPE, f"flight-{flight_id}.tlog"
            )
        flight.summary = summary
        flight.conformance = conformance
        flight.state = "flown" if result.completed and track is not None else "failed"
        state = flight.state
        if flight.track_sha256 is not None or flight.tlog_sha256 is not None:
            session.flush()
            record_flown(session, flight)
            disclose(session, settings, flight_id)
    return {
        "flight_id": flight_id,
        "state": state,
        "completed": result.completed,
        "reason": result.reason,
        "conforms": None if conformance is None else conformance["conforms"],
    }


def conformance_job(
    db: Database, blobs: BlobStore, flight_id: int, settings: Settings | None = None
) -> Work:
    """The job that compares an uploaded flight's track with its plan."""

    def work(ctx: JobContext) -> dict[str, Any]:
        try:
            ctx.progress(5, "reading the plan and the track")
        except BaseException:  # stopped before it began: the flight is logged all the same
            _flown_without_conformance(db, flight_id, settings)
            raise
        doc = compute_conformance(db, blobs, flight_id, settings)
        return {"flight_id": flight_id, "conforms": doc["conforms"]}

    return work


def compute_conformance(
    db: Database, blobs: BlobStore, flight_id: int, settings: Settings | None = None
) -> dict[str, Any]:
    """Compare flight ``flight_id``'s stored track (CSV) with its plan; store and return the
    report. The flight goes into the log with it (or, when the track cannot be compared,
    without it) and ``settings`` publishes its disclosure."""
    from api.work.retention import deleted_message
    from mission.track import read_track

    with db.session() as session:
        flight = session.get(Flight, flight_id)
        if flight is None or flight.plan_id is None or flight.track_sha256 is None:
            raise ValueError(f"flight {flight_id} has no plan or no track to compare")
        gone = deleted_message(flight, "the track")
        if gone is not None:
            raise ValueError(gone)
        plan_row = session.get(PlanRow, flight.plan_id)
        if plan_row is None:
            raise ValueError(f"plan {flight.plan_id} of flight {flight_id} does not exist")
        inputs = conformance_inputs(session, plan_row)
        sha = flight.track_sha256
    try:
        with blobs.open(sha) as stored:
            track = read_track(stored.read(), f"flight-{flight_id}-track.csv")
        doc = conformance_for(inputs, track)
    except BaseException:
        _flown_without_conformance(db, flight_id, settings)
        raise
    with db.session() as session:
        flight = session.get(Flight, flight_id)
        assert flight is not None
        flight.conformance = doc
        session.flush()
        record_flown(session, flight)
        disclose(session, settings, flight_id)
    return doc


def _flown_without_conformance(db: Database, flight_id: int, settings: Settings | None) -> None:
    """Log (and disclose) an uploaded flight whose conformance could not be computed; the
    error that stopped it is the one the caller reports, so a failure here is only logged."""
    try:
        with db.session() as session:
            flight = session.get(Flight, flight_id)
            if flight is not None and flight.track_sha256 is not None:
                record_flown(session, flight)
                disclose(session, settings, flight_id)
    except Exception:
        log.exception("flight %s could not be entered in the transparency log", flight_id)


# --- the transparency log and the disclosure ---------------------------------------------------


def _flown_logged(session: Session, subject: str) -> bool:
    """Whether ``flight_flown`` of ``subject`` is in the log or waits in its outbox."""
    logged = select(LedgerEntry.idx).where(
        LedgerEntry.subject == subject, LedgerEntry.kind == "flight_flown"
    )
    waiting = select(LedgerOutbox.id).where(
        LedgerOutbox.subject == subject, LedgerOutbox.kind == "flight_flown"
    )
    return (
        session.scalar(logged.limit(1)) is not None or session.scalar(waiting.limit(1)) is not None
    )


def record_flown(session: Session, flight: Flight) -> bool:
    """Record ``flight_flown`` for ``flight`` in ``session`` unless it is in the log (or its
    outbox) already; whether it was recorded now."""
    subject = f"flight:{flight.id}"
    if _flown_logged(session, subject):
        return False
    conformance = flight.conformance if isinstance(flight.conformance, dict) else None
    deviations = conformance.get("deviations") if conformance is not None else None
    record(
        session,
        "flight_flown",
        subject,
        {
            "flight_id": flight.id,
            "plan_id": flight.plan_id,
            "source": flight.source,
            "state": flight.state,
            "track_sha256": flight.track_sha256,
            "log_sha256": flight.tlog_sha256,
            "started_at": entry_time(flight.started_at),
            "ended_at": entry_time(flight.ended_at),
            "conforms": None if conformance is None else conformance.get("conforms"),
            "deviations": len(deviations) if isinstance(deviations, list) else 0,
            "public": flight.public,
        },
    )
    return True


def log_unlogged_flights(session: Session, settings: Settings | None = None) -> int:
    """Record ``flight_flown`` (and publish the disclosure) of every flight that ended with a
    track or log but is not in the log: one whose job or request stopped between storing it
    and logging it. Flights whose job is still queued or running are left to it. Returns how
    many were recorded; the service calls it when it starts."""
    from sqlalchemy import String, cast, exists, literal, or_

    from api.storage.models import Job

    subject = literal("flight:") + cast(Flight.id, String)
    logged = exists().where(LedgerEntry.kind == "flight_flown", LedgerEntry.subject == subject)
    waiting = exists().where(LedgerOutbox.kind == "flight_flown", LedgerOutbox.subject == subject)
    busy = exists().where(Job.id == Flight.job_id, Job.state.in_(("queued", "running")))
    statement = (
        select(Flight)
        .where(
            Flight.state.in_(("flown", "failed")),
            or_(Flight.track_sha256.is_not(None), Flight.tlog_sha256.is_not(None)),
            ~logged,
            ~waiting,
            ~busy,
        )
        .order_by(Flight.id)
    )
    flights = list(session.scalars(statement))
    for flight in flights:
        record_flown(session, flight)
        disclose(session, settings, flight.id)
    if flights:
        log.warning("%d flight(s) were not in the transparency log: entered now", len(flights))
    return len(flights)


def disclose(session: Session, settings: Settings | None, flight_id: int) -> None:
    """Publish flight ``flight_id``'s disclosure record in ``session`` (a new version when it
    changed; none for a flight that is not public). Without ``settings`` (who publishes)
    nothing is published."""
    if settings is None:
        return
    from api.work.disclosing import publish_disclosure

    publish_disclosure(session, settings, flight_id)
