"""Flights with raw data and published results, written straight to a running app's storage
(as the work hooks leave them: files stored, ``flight_flown`` recorded, the record published),
for the retention tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sitekit import add_inspection, add_plan, circle_route, staff_user, track_csv

from api.storage.models import Flight

__all__ = ["END", "Made", "add_flown", "entries", "kinds"]

#: A flight ending then is due on 2026-12-07 with the default 90-day retention.
END = datetime(2026, 9, 8, 10, 0, tzinfo=UTC)
TOWER = (149.1668804, -35.360557)


@dataclass(frozen=True)
class Made:
    flight_id: int
    track: str
    tlog: str
    footage: str
    geojson: str
    report: str
    crop: str

    @property
    def raw(self) -> list[str]:
        return sorted({self.track, self.tlog, self.footage})

    @property
    def results(self) -> list[str]:
        return [self.geojson, self.report, self.crop]


def _track_csv(end: datetime, n: int = 24) -> bytes:
    """A 40 m circle round the tower, 2 s a point, ending at ``end``."""
    route = circle_route(TOWER, 40.0, n)
    return track_csv(route, end - timedelta(seconds=2 * (len(route) + 1)), 42.0)


def add_flown(
    app: Any,
    ended_at: datetime = END,
    *,
    public: bool = True,
    footage: bytes | None = None,
    tag: str = "",
) -> Made:
    """A flown flight of a public asset ending at ``ended_at``: its track, telemetry log and
    footage (raw data), an inspection's defect list, report and a redacted defect picture
    (results); ``flight_flown`` recorded and its record published in the same transaction.
    ``footage`` bytes may be shared between flights; the rest is the flight's own."""
    from api.ledger import entry_time, record
    from api.work.disclosing import publish_disclosure
    from api.work.records import store_bytes

    blobs = app.state.blobs
    ident = f"{ended_at.isoformat()}{tag}"
    with app.state.db.session() as session:
        user_id = staff_user(session)

        def put(data: bytes, media_type: str, name: str) -> str:
            return store_bytes(session, blobs, data, media_type, name)

        track = put(_track_csv(ended_at), "text/csv", "track.csv")
        tlog = put(f"tlog of {ident}".encode(), "application/octet-stream", "flight.tlog")
        video = put(footage or f"video of {ident}".encode(), "video/mp4", "v.mp4")
        geojson = put(f'{{"flight": "{ident}"}}'.encode(), "application/geo+json", "d.geojson")
        report = put(f"<p>report of {ident}</p>".encode(), "text/html", "report.html")
        crop = put(f"jpeg of {ident}".encode(), "image/jpeg", "crop.jpg")
        plan = add_plan(session, user_id, "tower")
        flight = Flight(
            plan_id=plan.id,
            source="builtin",
            state="flown",
            purpose="Tower inspection",
            started_at=ended_at - timedelta(seconds=50),
            ended_at=ended_at,
            track_sha256=track,
            tlog_sha256=tlog,
            public=public,
            created_by=user_id,
            summary={"max_alt_rel_m": 42.0, "photos": 0, "distance_m": 251.3},
        )
        session.add(flight)
        session.flush()
        add_inspection(session, flight.id, user_id, video, {"crack": 1}, at=TOWER,
                       geojson=geojson, report=report, crop=crop)  # fmt: skip
        record(
            session,
            "flight_flown",
            f"flight:{flight.id}",
            {
                "flight_id": flight.id,
                "plan_id": plan.id,
                "source": "builtin",
                "track_sha256": track,
                "log_sha256": tlog,
                "started_at": entry_time(flight.started_at),
                "ended_at": entry_time(ended_at),
                "conforms": None,
                "deviations": 0,
            },
        )
        publish_disclosure(session, app.state.settings, flight.id)
        return Made(int(flight.id), track, tlog, video, geojson, report, crop)


def entries(app: Any, flight_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    """The flight's log entries (index, kind, entry), oldest first."""
    return list(app.state.ledger.entries_for(f"flight:{flight_id}"))


def kinds(app: Any, flight_id: int) -> list[str]:
    return [kind for _, kind, _ in entries(app, flight_id)]
