"""Publishing disclosure records from the service's rows: versions, the log entry each version
gets, and the flights that get none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sitekit import add_flight, circle_route
from sqlalchemy import select

from api.storage.models import Defect, Disclosure, Flight, LedgerEntry
from api.work.disclosing import publish_disclosure, publish_missing
from compliance.disclosure import record_sha256


def _disclosures(app: Any, flight_id: int) -> list[Disclosure]:
    with app.state.db.session() as session:
        statement = select(Disclosure).where(Disclosure.flight_id == flight_id)
        return list(session.scalars(statement.order_by(Disclosure.version)))


def _entries(app: Any, subject: str) -> list[dict[str, Any]]:
    return [
        entry
        for _, kind, entry in app.state.ledger.entries_for(subject)
        if kind == "disclosure_published"
    ]


def test_a_flight_is_published_once_then_again_only_when_its_record_changes(
    client: TestClient,
) -> None:
    app: Any = client.app
    flight_id = add_flight(app)
    (first,) = _disclosures(app, flight_id)
    assert first.version == 1
    assert first.record_sha256 == record_sha256(first.record)
    record = first.record
    assert record["flight_id"] == flight_id
    assert record["agency"] == app.state.settings.agency
    assert record["asset"] == {
        "id": record["asset"]["id"],
        "name": "Hilltop water tower",
        "kind": "structure",
    }
    assert record["verdict"] == "APPROVED"
    assert record["authorisations"] == ["SKY-AD1"]
    assert record["data_collected"] == {"video": False, "photos": 12, "track": True}
    assert record["altitude_band_m"] == [30, 60]
    assert record["route"]["type"] == "LineString"
    (entry,) = _entries(app, f"flight:{flight_id}")
    assert entry["data"] == {
        "flight_id": flight_id,
        "version": 1,
        "record_sha256": first.record_sha256,
    }

    settings = app.state.settings
    with app.state.db.session() as session:
        assert publish_disclosure(session, settings, flight_id).id == first.id  # type: ignore[union-attr]
    assert len(_disclosures(app, flight_id)) == 1

    with app.state.db.session() as session:  # an inspection found defects: a new version
        session.add(
            Defect(
                inspection_id=_inspection_id(app, flight_id),
                flight_id=flight_id,
                class_name="crack",
                confidence=0.8,
                lon=149.1,
                lat=-35.3,
                error_m=0.2,
                sightings=1,
                time_s=3.0,
            )
        )
        session.flush()
        second = publish_disclosure(session, settings, flight_id)
        assert second is not None and second.version == 2
    first_again, second_again = _disclosures(app, flight_id)
    assert first_again.record == record  # never edited
    assert second_again.record["defects"] == {"crack": 1}
    assert [e["data"]["version"] for e in _entries(app, f"flight:{flight_id}")] == [1, 2]


def _inspection_id(app: Any, flight_id: int) -> int:
    from api.storage.models import Footage, Inspection
    from api.work.records import store_bytes

    with app.state.db.session() as session:
        video = store_bytes(session, app.state.blobs, b"video", "video/mp4", "v.mp4")
        user = session.scalar(select(Flight.created_by).where(Flight.id == flight_id))
        footage = Footage(flight_id=flight_id, sha256=video, kind="video", uploaded_by=user)
        session.add(footage)
        session.flush()
        inspection = Inspection(
            flight_id=flight_id, footage_id=footage.id, geojson_sha256=video, counts={}
        )
        session.add(inspection)
        session.flush()
        return int(inspection.id)


def test_flights_that_get_no_record(client: TestClient) -> None:
    app: Any = client.app
    hidden = add_flight(app, public=False)
    queued = add_flight(app, state="queued")
    failed_without_track = add_flight(app, state="failed", with_track=False)
    failed_with_track = add_flight(app, state="failed")
    for flight_id in (hidden, queued, failed_without_track):
        assert _disclosures(app, flight_id) == []
        assert _entries(app, f"flight:{flight_id}") == []
    (record,) = _disclosures(app, failed_with_track)
    assert record.record["state"] == "failed"
    with app.state.db.session() as session:
        assert publish_disclosure(session, app.state.settings, 10_000) is None


def test_defects_on_an_asset_that_is_not_public_are_not_published(client: TestClient) -> None:
    app: Any = client.app
    flight_id = add_flight(app, asset_public=False, defects={"crack": 3})
    (row,) = _disclosures(app, flight_id)
    assert row.record["asset"] is None
    assert row.record["defects"] == {}
    assert row.record["data_collected"]["video"] is True


def test_a_route_past_homes_is_generalised(client: TestClient) -> None:
    app: Any = client.app
    elm = (149.1640747, -35.3608499)  # the Elm Street homes, a privacy zone
    flight_id = add_flight(app, route=circle_route(elm, radius_m=60.0))
    (row,) = _disclosures(app, flight_id)
    assert row.record["route_generalised"] is True
    assert row.record["route_generalisation"]["snapped"] >= 1


def test_the_published_route_stands_once_the_track_is_deleted(client: TestClient) -> None:
    app: Any = client.app
    flight_id = add_flight(app)
    (first,) = _disclosures(app, flight_id)
    with app.state.db.session() as session:
        flight = session.get(Flight, flight_id)
        assert flight is not None and flight.track_sha256 is not None
        app.state.blobs.delete(flight.track_sha256)  # its retention ended
        flight.purpose = "Annual inspection of the tower"
        second = publish_disclosure(session, app.state.settings, flight_id)
    assert second is not None and second.version == 2
    assert second.record["route"] == first.record["route"]
    assert second.record["route_generalisation"] == first.record["route_generalisation"]


def test_publish_missing_catches_up(client: TestClient) -> None:
    app: Any = client.app
    made = [
        add_flight(app, publish=False, started_at=datetime(2026, 11, d, tzinfo=UTC)) for d in (1, 2)
    ]
    add_flight(app, publish=False, public=False)
    with app.state.db.session() as session:
        assert publish_missing(session, app.state.settings) == 2
    with app.state.db.session() as session:
        assert publish_missing(session, app.state.settings) == 0
        logged = session.scalars(
            select(LedgerEntry.subject).where(LedgerEntry.kind == "disclosure_published")
        ).all()
    assert sorted(logged) == [f"flight:{i}" for i in made]
