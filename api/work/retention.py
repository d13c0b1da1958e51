"""Retention: a flight's footage, track and telemetry log are deleted when its time ends,
while the transparency log, which holds only their hashes, stays verifiable.

:func:`sweep` finds every flight whose deletion date has come (its end, else its start, plus
``Settings.retention_days``: :func:`compliance.disclosure.deletion_date`, the date its
disclosure record publishes) and, one flight per transaction:

1. marks the flight's raw data deleted (``flights.data_deleted_at``, claimed with a
   conditional UPDATE, so two sweepers never both take a flight) and the files whose bytes
   can go (``files.deleted_at``);
2. records one ``data_deleted`` log entry (the files deleted, the files kept, the retention)
   and publishes a new version of the disclosure record, which keeps the published route and
   says when the data were deleted (:func:`api.work.disclosing.publish_disclosure`);
3. commits, and only then unlinks the files from the blob store.

A crash between the commit and the unlink leaves files marked deleted whose bytes are still
there: the next sweep unlinks them first. Raw data are the footage (videos, photo zips), the
track CSV and the telemetry log; the inspection's defect list (GeoJSON), its report and the
redacted defect pictures are published results and are kept. Files are stored by content, so
one file may belong to several flights: it is kept while another flight within its retention
(or a kept result) uses it, and deleted by the sweep that releases its last user.

Sweeps are serialised by an exclusive lock on ``DATA_DIR/retention.lock`` (every process of
one service shares the data folder, where the files are); a sweep that finds it held does
nothing and says so. The service sweeps at start and then once a day
(:class:`DailySweeper`); ``skyledger retention sweep`` runs one by hand.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import func, or_, select, update

from api.storage.models import Defect, File, Flight, Footage, Inspection

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult
    from sqlalchemy.orm import Session

    from api.settings import Settings
    from api.storage.blobs import BlobStore
    from api.storage.db import Database

__all__ = [
    "DAY_S",
    "DailySweeper",
    "FlightSwept",
    "SweepReport",
    "deleted_message",
    "due_flights",
    "raw_files",
    "sweep",
]

log = logging.getLogger("skyledger.retention")

SCHEMA = 1
DAY_S = 24 * 3600.0
#: The flight states whose data a sweep deletes (a flight still queued or flying has no end).
ENDED_STATES = ("flown", "failed")
LOCK_NAME = "retention.lock"


@dataclass(frozen=True)
class FlightSwept:
    """What a sweep did (or, in a dry run, would do) to one flight's raw data."""

    flight_id: int
    deletion_date: date
    files: tuple[str, ...]  # deleted: the bytes go
    kept: tuple[str, ...]  # still used by another flight within its retention or a result
    bytes: int
    entry: bool  # a data_deleted entry was recorded
    disclosure_version: int | None  # the record's version after the sweep (None: no record)

    def to_json(self) -> dict[str, Any]:
        return {
            "flight_id": self.flight_id,
            "deletion_date": self.deletion_date.isoformat(),
            "files": list(self.files),
            "kept": list(self.kept),
            "bytes": self.bytes,
            "entry": self.entry,
            "disclosure_version": self.disclosure_version,
        }


@dataclass(frozen=True)
class SweepReport:
    """The outcome of one sweep (:meth:`to_json` for ``--json``, schema 1)."""

    now: datetime
    retention_days: int
    dry_run: bool
    flights: tuple[FlightSwept, ...] = ()
    leftovers: int = 0  # files marked deleted by an earlier sweep, unlinked now
    busy: bool = False  # another sweep held the lock: nothing was done
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def files_deleted(self) -> int:
        return sum(len(f.files) for f in self.flights)

    @property
    def bytes_deleted(self) -> int:
        return sum(f.bytes for f in self.flights)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "now": self.now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "retention_days": self.retention_days,
            "dry_run": self.dry_run,
            "busy": self.busy,
            "flights": [f.to_json() for f in self.flights],
            "files_deleted": self.files_deleted,
            "bytes_deleted": self.bytes_deleted,
            "leftovers_unlinked": self.leftovers,
            "errors": list(self.errors),
        }

    def summary(self) -> str:
        """One line for people."""
        if self.busy:
            return "another retention sweep is running; nothing done"
        verb = "would delete" if self.dry_run else "deleted"
        text = (
            f"{verb} the raw data of {len(self.flights)} flight"
            f"{'s' * (len(self.flights) != 1)} past their {self.retention_days}-day retention: "
            f"{self.files_deleted} file{'s' * (self.files_deleted != 1)}, "
            f"{self.bytes_deleted} bytes"
        )
        if self.leftovers:
            text += f"; {self.leftovers} files left by an interrupted sweep unlinked"
        if self.errors:
            text += f"; {len(self.errors)} flights failed (first: {self.errors[0]})"
        return text


# --- what is due ------------------------------------------------------------------------------


def _cutoff(today: date, retention_days: int) -> datetime:
    """Flights that ended before this moment are due on ``today``."""
    last_end_day = today - timedelta(days=retention_days)
    return datetime.combine(last_end_day + timedelta(days=1), time(0), tzinfo=UTC)


def due_flights(session: Session, now: datetime, retention_days: int) -> list[Flight]:
    """The ended flights whose deletion date is ``now``'s UTC date or earlier and whose raw
    data are not deleted yet, in id order."""
    end = func.coalesce(Flight.ended_at, Flight.started_at)
    statement = (
        select(Flight)
        .where(
            Flight.data_deleted_at.is_(None),
            Flight.state.in_(ENDED_STATES),
            end.is_not(None),
            end < _cutoff(now.astimezone(UTC).date(), retention_days),
        )
        .order_by(Flight.id)
    )
    return list(session.scalars(statement))


def raw_files(session: Session, flight: Flight) -> list[str]:
    """The sha256 of the flight's raw data: its track, telemetry log and footage (sorted)."""
    found = {flight.track_sha256, flight.tlog_sha256}
    found.update(session.scalars(select(Footage.sha256).where(Footage.flight_id == flight.id)))
    return sorted(s for s in found if s)


def _users(session: Session, sha256: str, released: set[int]) -> str | None:
    """Why the file's bytes must stay (None: nothing needs them once ``released`` are)."""
    results = (
        select(Inspection.id).where(
            or_(Inspection.geojson_sha256 == sha256, Inspection.report_sha256 == sha256)
        ),
        select(Defect.id).where(Defect.crop_sha256 == sha256),
    )
    for statement in results:
        if session.scalar(statement.limit(1)) is not None:
            return "a published inspection result"
    flights = set(
        session.scalars(
            select(Flight.id).where(
                or_(Flight.track_sha256 == sha256, Flight.tlog_sha256 == sha256),
                Flight.data_deleted_at.is_(None),
            )
        )
    )
    flights.update(
        session.scalars(
            select(Footage.flight_id)
            .join(Flight, Flight.id == Footage.flight_id)
            .where(Footage.sha256 == sha256, Flight.data_deleted_at.is_(None))
        )
    )
    others = sorted(flights - released)
    return f"flight {others[0]}" if others else None


# --- the sweep --------------------------------------------------------------------------------


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[bool]:
    """Hold the sweep lock while the block runs; yields False when another sweep holds it."""
    import fcntl

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    with (Path(data_dir) / LOCK_NAME).open("a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def sweep(
    db: Database,
    blobs: BlobStore,
    settings: Settings,
    now: datetime | None = None,
    dry_run: bool = False,
) -> SweepReport:
    """Delete the raw data of every flight past its retention (see the module notes).

    ``now`` (aware) decides what is due (default: the clock). A dry run writes and deletes
    nothing and reports what a sweep would do. Entries recorded here are appended by the
    ledger's after-commit listener when ``db`` has one (the service); otherwise they wait in
    the outbox (the command line appends them).
    """
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now {now.isoformat()} has no time zone (UTC is needed)")
    days = settings.retention_days
    if dry_run:
        return _sweep(db, blobs, settings, now, dry_run=True)
    with _exclusive(settings.data_dir) as held:
        if not held:
            return SweepReport(now=now, retention_days=days, dry_run=False, busy=True)
        return _sweep(db, blobs, settings, now, dry_run=False)


def _sweep(
    db: Database, blobs: BlobStore, settings: Settings, now: datetime, dry_run: bool
) -> SweepReport:
    days = settings.retention_days
    leftovers = _unlink_leftovers(db, blobs, dry_run)
    with db.session() as session:
        due = [f.id for f in due_flights(session, now, days)]
    swept: list[FlightSwept] = []
    errors: list[str] = []
    released: set[int] = set()
    for flight_id in due:
        try:
            done = _sweep_flight(db, blobs, settings, flight_id, now, released, dry_run)
        except Exception as exc:  # one flight's failure must not stop the others
            log.exception("retention: flight %s could not be swept", flight_id)
            errors.append(f"flight {flight_id}: {' '.join(str(exc).split()) or type(exc).__name__}")
            continue
        if done is not None:
            swept.append(done)
            released.add(flight_id)
    return SweepReport(
        now=now,
        retention_days=days,
        dry_run=dry_run,
        flights=tuple(swept),
        leftovers=leftovers,
        errors=tuple(errors),
    )


def _sweep_flight(
    db: Database,
    blobs: BlobStore,
    settings: Settings,
    flight_id: int,
    now: datetime,
    released: set[int],
    dry_run: bool,
) -> FlightSwept | None:
    """One flight in one transaction; the files are unlinked after the commit."""
    from api.ledger import record
    from api.work.disclosing import publish_disclosure
    from compliance.disclosure import deletion_date

    days = settings.retention_days
    with db.session() as session:
        flight = session.get(Flight, flight_id)
        if flight is None or flight.data_deleted_at is not None:
            return None
        files = raw_files(session, flight)
        if not files:
            return None  # nothing to delete (a failed flight without data)
        when = deletion_date(flight.started_at, flight.ended_at, days)
        assert when is not None  # due_flights only finds flights with a time
        going: list[str] = []
        kept: list[str] = []
        for sha256 in files:
            (kept if _users(session, sha256, released | {flight_id}) else going).append(sha256)
        size = int(
            session.scalar(
                select(func.coalesce(func.sum(File.size), 0)).where(File.sha256.in_(going))
            )
            or 0
        )
        if dry_run:
            return FlightSwept(flight_id, when, tuple(going), tuple(kept), size, False, None)
        claimed = session.execute(
            update(Flight)
            .where(Flight.id == flight_id, Flight.data_deleted_at.is_(None))
            .values(data_deleted_at=now, deleted_after_days=days)
            .execution_options(synchronize_session=False)
        )
        if cast("CursorResult[Any]", claimed).rowcount != 1:  # another sweeper took it
            session.rollback()
            return None
        session.refresh(flight)
        if going:
            session.execute(
                update(File)
                .where(File.sha256.in_(going), File.deleted_at.is_(None))
                .values(deleted_at=now)
                .execution_options(synchronize_session=False)
            )
        record(
            session,
            "data_deleted",
            f"flight:{flight_id}",
            {
                "flight_id": flight_id,
                "files": going,
                "kept": kept,
                "retention_days": days,
                "deletion_date": when.isoformat(),
                "reason": "retention",
            },
        )
        published = publish_disclosure(session, settings, flight_id)
        version = None if published is None else published.version
    # committed: now the bytes may go (a crash here leaves them to the next sweep)
    for sha256 in going:
        _unlink(blobs, sha256)
    return FlightSwept(flight_id, when, tuple(going), tuple(kept), size, True, version)


def _unlink(blobs: BlobStore, sha256: str) -> bool:
    try:
        return blobs.delete(sha256)
    except OSError as exc:  # kept marked deleted: the next sweep tries again
        log.warning("retention: could not unlink %s: %s", sha256, exc)
        return False


def _unlink_leftovers(db: Database, blobs: BlobStore, dry_run: bool) -> int:
    """Unlink files marked deleted whose bytes are still stored (a sweep stopped between its
    commit and its unlink); how many (in a dry run: how many would be)."""
    with db.session() as session:
        marked = list(session.scalars(select(File.sha256).where(File.deleted_at.is_not(None))))
        present = [s for s in marked if blobs.exists(s)]
        going = [s for s in present if _users(session, s, set()) is None]
    if dry_run:
        return len(going)
    return sum(_unlink(blobs, s) for s in going)


# --- answering for deleted data ---------------------------------------------------------------


def deleted_message(flight: Flight, what: str, were: bool = False) -> str | None:
    """The one line a route answers (410) for ``what`` ("the track") of a flight whose raw
    data were deleted; None while they are kept.

    >>> row = Flight(id=3, data_deleted_at=datetime(2027, 3, 7, 2, tzinfo=UTC),
    ...              deleted_after_days=90)
    >>> deleted_message(row, "the track")
    'the track of flight 3 was deleted on 2027-03-07 at the end of its 90-day retention'
    """
    if flight.data_deleted_at is None:
        return None
    on = flight.data_deleted_at.astimezone(UTC).date().isoformat()
    days = flight.deleted_after_days
    retention = f"its {days}-day retention" if days is not None else "its retention"
    verb = "were" if were else "was"
    return f"{what} of flight {flight.id} {verb} deleted on {on} at the end of {retention}"


# --- the service's daily sweep ----------------------------------------------------------------


class DailySweeper:
    """Sweeps at :meth:`start` (in the caller's thread) and then every ``interval_s`` in a
    daemon thread until :meth:`stop`. A failed sweep is logged, never raised."""

    def __init__(
        self, db: Database, blobs: BlobStore, settings: Settings, interval_s: float = DAY_S
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s {interval_s!r} must be above 0")
        self.db, self.blobs, self.settings = db, blobs, settings
        self.interval_s = interval_s
        self.last: SweepReport | None = None
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> SweepReport | None:
        try:
            report = sweep(self.db, self.blobs, self.settings)
        except Exception:
            log.exception("retention: the sweep failed (tried again in %.0f s)", self.interval_s)
            return None
        finally:
            self.runs += 1
        self.last = report
        if report.flights or report.leftovers or report.errors:
            log.info("retention: %s", report.summary())
        return report

    def start(self) -> DailySweeper:
        self.run_once()
        self._thread = threading.Thread(target=self._loop, name="skyledger-retention", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.run_once()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
