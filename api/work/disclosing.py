"""Publishing a flight's disclosure record: what citizens see of it, versioned and logged.

:func:`publish_disclosure` builds the record of a public flight that has flown (or failed
with a track) from its rows: the flight, its plan's asset (named only when public), the
approval and its check (verdict, authorisations), the conformance report, the footage and
the defects found (on public assets only), and its route read from the stored track,
generalised near the privacy zones of the zones the service's checks use
(:func:`compliance.disclosure.generalise_route`). When the record differs from the latest
published version (by the SHA-256 of its canonical JSON), a new ``disclosures`` row is added
with the next version and a ``disclosure_published`` entry goes to the transparency log in
the same transaction (:func:`api.ledger.record`). Nothing is ever edited: a change is a new
version.

Non-public flights get no record (their ``flight_flown`` entry is in the log all the same).
It is called by the work that changes what a record would say (a flight flown, a log
uploaded, an inspection stored, footage and track deleted at the end of their retention by
:mod:`api.work.retention`); :func:`publish_missing` catches up on flights that have none,
e.g. those flown before this existed. Once the track is deleted, a new version keeps the
route of the last one and says when the data were deleted.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from api.storage.models import Approval, Asset, Check, Defect, Disclosure, Flight, Footage
from api.storage.models import Plan as PlanRow

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry
    from sqlalchemy.orm import Session

    from api.settings import Settings
    from compliance.disclosure import DisclosureRecord

__all__ = ["DISCLOSED_STATES", "build_record", "latest_disclosure", "publish_disclosure",
           "publish_missing"]  # fmt: skip

#: The record's fields made from the track, kept from the last version once it is deleted.
ROUTE_FIELDS = ("route", "route_generalised", "route_generalisation")
#: A flight in one of these states gets a record (a failed one only with a track).
DISCLOSED_STATES = ("flown", "failed")


@functools.lru_cache(maxsize=1)
def _private_areas() -> tuple[BaseGeometry, ...]:
    """The privacy zones' outlines of the zones every check of the service uses."""
    from compliance.disclosure import privacy_areas
    from compliance.sources import SAMPLE_ZONES_FILE, read_zones, sample_zones_text

    found = read_zones(sample_zones_text(), SAMPLE_ZONES_FILE)
    return tuple(privacy_areas(found.zones))


def latest_disclosure(session: Session, flight_id: int) -> Disclosure | None:
    """The newest published version of a flight's record, if any."""
    statement = (
        select(Disclosure)
        .where(Disclosure.flight_id == flight_id)
        .order_by(Disclosure.version.desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def _disclosable(flight: Flight | None) -> bool:
    if flight is None or not flight.public or flight.state not in DISCLOSED_STATES:
        return False
    if flight.state == "failed" and flight.track_sha256 is None:
        return False
    return flight.started_at is not None or flight.ended_at is not None


def _route(settings: Settings, flight: Flight) -> list[tuple[float, float]] | None:
    """The airborne positions of the flight's stored track (None when the file is gone)."""
    from api.storage.blobs import BlobStore
    from api.storage.errors import BlobNotFound
    from mission.track import read_track

    if flight.track_sha256 is None:
        return []
    if flight.data_deleted_at is not None:  # deleted (maybe not yet unlinked): as if gone
        return None
    try:
        with BlobStore(settings.blobs_dir).open(flight.track_sha256) as stored:
            data = stored.read()
    except (BlobNotFound, FileNotFoundError):
        return None  # deleted at the end of its retention: the published route stands
    track = read_track(data, f"flight-{flight.id}-track.csv")
    samples = track.airborne()
    if len(samples) < 2:
        samples = track.samples
    return [(s.lon_deg, s.lat_deg) for s in samples]


def _approval(session: Session, plan_id: int) -> tuple[Approval | None, Check | None]:
    """The plan's latest approved approval and its check; without one, the latest check."""
    from api.work.flying import approved

    approval = approved(session, plan_id)
    check = None
    if approval is not None and approval.check_id is not None:
        check = session.get(Check, approval.check_id)
    if check is None:
        statement = select(Check).where(Check.plan_id == plan_id).order_by(Check.id.desc())
        check = session.scalars(statement.limit(1)).first()
    return approval, check


def _defects(session: Session, flight_id: int) -> dict[str, int]:
    statement = (
        select(Defect.class_name, func.count(Defect.id))
        .where(Defect.flight_id == flight_id)
        .group_by(Defect.class_name)
    )
    return {str(name): int(n) for name, n in session.execute(statement)}


def build_record(
    session: Session, settings: Settings, flight: Flight, previous: Disclosure | None = None
) -> DisclosureRecord:
    """The disclosure record of ``flight`` as its rows say now (see the module notes)."""
    from compliance.disclosure import AssetRef, build_disclosure

    asset_ref = None
    verdict = None
    authorisations: list[str] = []
    plan = session.get(PlanRow, flight.plan_id) if flight.plan_id is not None else None
    if plan is not None:
        asset = session.get(Asset, plan.asset_id) if plan.asset_id is not None else None
        if asset is not None and asset.public:
            title = (asset.properties or {}).get("title")
            name = title if isinstance(title, str) and title.strip() else asset.name
            asset_ref = AssetRef(id=asset.id, name=name, kind=asset.kind)
        approval, check = _approval(session, plan.id)
        verdict = check.verdict if check is not None else None
        if approval is not None:
            authorisations = [str(a) for a in approval.authorisations or []]
    route = _route(settings, flight)
    video = session.scalar(
        select(func.count(Footage.id)).where(
            Footage.flight_id == flight.id, Footage.kind == "video"
        )
    )
    summary = flight.summary or {}
    max_alt = summary.get("max_alt_rel_m")
    record = build_disclosure(
        flight_id=flight.id,
        agency=settings.agency,
        unit=settings.unit,
        contact=settings.contact,
        purpose=flight.purpose,
        source=flight.source,
        state=flight.state,
        started_at=flight.started_at,
        ended_at=flight.ended_at,
        route_lonlats=route or [],
        private_areas=_private_areas(),
        max_alt_rel_m=float(max_alt) if isinstance(max_alt, int | float) else None,
        distance_m=_number(summary.get("distance_m")),
        video=bool(video),
        photos=int(summary.get("photos") or 0),
        track=flight.track_sha256 is not None,
        retention_days=settings.retention_days,
        asset=asset_ref,
        verdict=verdict,
        authorisations=authorisations,
        conformance=flight.conformance,
        defects=_defects(session, flight.id),
        data_deleted_at=flight.data_deleted_at,
    )
    if route is None and previous is not None:  # the track is gone: the published route stands
        kept = {k: previous.record.get(k) for k in ROUTE_FIELDS}
        record = type(record).model_validate({**record.to_json(), **kept})
    return record


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def publish_disclosure(session: Session, settings: Settings, flight_id: int) -> Disclosure | None:
    """Publish a new version of flight ``flight_id``'s record when it changed.

    Returns the latest version (new or unchanged), or None for a flight that gets no record
    (unknown, not public, not flown). Adds rows to ``session`` (flushed, not committed): the
    ``disclosures`` row and, through :func:`api.ledger.record`, its log entry, so both commit
    with the caller's transaction.
    """
    from api.ledger import record as log_record
    from compliance.disclosure import record_sha256

    flight = session.get(Flight, flight_id)
    if flight is None or not _disclosable(flight):
        return None
    previous = latest_disclosure(session, flight_id)
    doc = build_record(session, settings, flight, previous).to_json()
    digest = record_sha256(doc)
    if previous is not None and previous.record_sha256 == digest:
        return previous
    version = 1 if previous is None else previous.version + 1
    row = Disclosure(flight_id=flight_id, version=version, record=doc, record_sha256=digest)
    session.add(row)
    session.flush()
    log_record(
        session,
        "disclosure_published",
        f"flight:{flight_id}",
        {"flight_id": flight_id, "version": version, "record_sha256": digest},
    )
    return row


def publish_missing(session: Session, settings: Settings) -> int:
    """Publish the record of every disclosable flight that has none yet; how many were made."""
    has = select(Disclosure.flight_id)
    statement = (
        select(Flight.id)
        .where(Flight.public.is_(True), Flight.state.in_(DISCLOSED_STATES), Flight.id.not_in(has))
        .order_by(Flight.id)
    )
    made = 0
    for flight_id in list(session.scalars(statement)):
        if publish_disclosure(session, settings, flight_id) is not None:
            made += 1
    return made
