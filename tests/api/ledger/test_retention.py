"""Retention: footage, tracks and logs deleted when their time ends, while the records, the
published results and the transparency log stay, and the log still verifies."""

from __future__ import annotations

import csv
import fcntl
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from retentionkit import END, add_flown, entries, kinds
from sqlalchemy import func, select

from api.settings import Settings
from api.storage.models import Defect, Disclosure, File, Flight, LedgerEntry, LedgerOutbox
from api.work import retention
from api.work.retention import DailySweeper, sweep
from compliance.errors import ComplianceError, LedgerError
from compliance.ledger import verify

#: The first moment END's flight is due (deletion date 2026-12-07 with 90 days).
DUE = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def _sweep(app: Any, now: datetime = DUE, dry_run: bool = False) -> retention.SweepReport:
    return sweep(app.state.db, app.state.blobs, app.state.settings, now=now, dry_run=dry_run)


def _flight(app: Any, flight_id: int) -> Flight:
    with app.state.db.session() as session:
        flight = session.get(Flight, flight_id)
        assert flight is not None
        return flight


def _files(app: Any, shas: list[str]) -> dict[str, datetime | None]:
    with app.state.db.session() as session:
        return {s: session.get(File, s).deleted_at for s in shas}


def _stored(app: Any, shas: list[str]) -> list[bool]:
    return [app.state.blobs.exists(s) for s in shas]


def _versions(app: Any, flight_id: int) -> list[Disclosure]:
    with app.state.db.session() as session:
        statement = select(Disclosure).where(Disclosure.flight_id == flight_id)
        return list(session.scalars(statement.order_by(Disclosure.version)))


def _audits_clean(app: Any) -> None:
    result = app.state.ledger.audit()
    assert result.ok, result.message


def _save(path: Path, document: object) -> str:
    path.write_text(json.dumps(document))
    return str(path)


# --- the sweep --------------------------------------------------------------------------------


def test_a_flight_past_its_date_loses_its_raw_data_and_keeps_its_record(
    client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app: Any = client.app
    old = add_flown(app)
    young = add_flown(app, END + timedelta(days=1))
    flown_index = entries(app, old.flight_id)[0][0]
    before = client.get("/api/public/flights/" + str(old.flight_id)).json()["record"]
    assert before["data_deleted_at"] is None and before["deletion_date"] == "2026-12-07"

    assert _sweep(app, DUE - timedelta(microseconds=1)).flights == ()  # the day before: nothing
    report = _sweep(app)

    (done,) = report.flights
    assert (done.flight_id, done.files, done.kept) == (old.flight_id, tuple(old.raw), ())
    assert done.entry and done.disclosure_version == 2 and report.errors == ()
    assert report.files_deleted == 3 and report.bytes_deleted > 0
    # the raw files are gone and marked; the results stay
    assert _stored(app, old.raw) == [False] * 3
    assert all(when == DUE for when in _files(app, old.raw).values())
    assert _stored(app, old.results) == [True] * 3
    assert set(_files(app, old.results).values()) == {None}
    flight = _flight(app, old.flight_id)
    assert (flight.data_deleted_at, flight.deleted_after_days) == (DUE, 90)
    assert flight.track_sha256 == old.track  # the row still names its files
    with app.state.db.session() as session:
        assert session.scalar(select(func.count(Defect.id)).where(Defect.flight_id == old.flight_id)) == 1  # fmt: skip
    # one data_deleted entry, then the new version of the record
    assert kinds(app, old.flight_id) == [
        "flight_flown", "disclosure_published", "data_deleted", "disclosure_published"
    ]  # fmt: skip
    _, _, entry = entries(app, old.flight_id)[2]
    assert entry["data"] == {
        "flight_id": old.flight_id,
        "files": old.raw,
        "kept": [],
        "retention_days": 90,
        "deletion_date": "2026-12-07",
        "reason": "retention",
    }
    first, second = _versions(app, old.flight_id)
    record = second.record
    assert record["data_deleted_at"] == "2026-12-07T00:00:00Z"
    assert record["defects"] == {"crack": 1} == first.record["defects"]
    for kept in ("route", "route_generalisation", "deletion_date", "data_collected"):
        assert record[kept] == first.record[kept], kept
    # the flight inside its retention is untouched
    assert _stored(app, young.raw + young.results) == [True] * 6
    assert _flight(app, young.flight_id).data_deleted_at is None
    assert kinds(app, young.flight_id) == ["flight_flown", "disclosure_published"]
    _audits_clean(app)

    # the old entries still verify: flight_flown (naming the deleted files by hash) and the
    # new record against its entry, with the downloaded verifier
    checkpoint = client.get("/api/public/ledger/checkpoint").json()
    key = app.state.ledger.public_key_hex
    entry_doc = client.get(f"/api/public/ledger/entries/{flown_index}").json()
    assert entry_doc["entry"]["data"]["track_sha256"] == old.track
    proof = client.get(
        "/api/public/ledger/proof/inclusion",
        params={"index": flown_index, "tree_size": checkpoint["tree_size"]},
    ).json()
    files = [
        _save(tmp_path / "entry.json", entry_doc),
        _save(tmp_path / "proof.json", proof),
        _save(tmp_path / "checkpoint.json", checkpoint),
    ]
    assert verify.main(["checkpoint", files[2], "--key", key]) == 0
    assert verify.main(["inclusion", *files]) == 0
    public = client.get(f"/api/public/flights/{old.flight_id}").json()
    assert public["version"] == 2 and public["record"]["data_deleted_at"] is not None
    (index,) = [e["index"] for e in public["ledger"] if e["kind"] == "disclosure_published"][-1:]
    new_entry = client.get(f"/api/public/ledger/entries/{index}").json()
    assert verify.main(["record", _save(tmp_path / "flight.json", public),
                        _save(tmp_path / "new-entry.json", new_entry)]) == 0  # fmt: skip
    assert "NOT VERIFIED" not in capsys.readouterr().out

    assert _sweep(app).flights == ()  # once only


def test_the_page_and_the_csv_say_when_footage_and_track_were_deleted(
    client: TestClient,
) -> None:
    app: Any = client.app
    made = add_flown(app)
    page = client.get(f"/flights/{made.flight_id}?lang=en").text
    assert "Footage and track deleted on 7 December 2026, at the end" not in page
    _sweep(app)
    page = client.get(f"/flights/{made.flight_id}?lang=en").text
    assert "Footage and track deleted on 7 December 2026, at the end of their retention" in page
    page = client.get(f"/flights/{made.flight_id}?lang=es").text
    assert "Vídeo y trayectoria borrados el 7 de diciembre de 2026" in page
    rows = list(csv.DictReader(io.StringIO(client.get("/api/public/flights.csv").text)))
    assert [r["data_deleted_at"] for r in rows] == ["2026-12-07T00:00:00Z"]


def test_deleted_files_answer_410_and_kept_results_still_serve(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    app: Any = client.app
    made = add_flown(app)
    crew = headers["crew"]
    assert client.get(f"/api/flights/{made.flight_id}/track", headers=crew).status_code == 200
    _sweep(app)
    for path, what in (("track", "the track"), ("log", "the telemetry log")):
        answer = client.get(f"/api/flights/{made.flight_id}/{path}", headers=crew)
        assert answer.status_code == 410
        assert answer.json() == {
            "detail": f"{what} of flight {made.flight_id} was deleted on 2026-12-07 at the "
            "end of its 90-day retention"
        }
    answer = client.post(
        f"/api/flights/{made.flight_id}/footage",
        headers=crew,
        files={"file": ("more.mp4", b"\x00" * 16, "video/mp4")},
    )
    assert answer.status_code == 409
    assert "footage, track and log of flight" in answer.json()["detail"]
    assert "no footage can be added" in answer.json()["detail"]
    with app.state.db.session() as session:
        inspection_id, defect_id = session.execute(
            select(Defect.inspection_id, Defect.id).where(Defect.flight_id == made.flight_id)
        ).one()
    assert client.get(f"/api/inspections/{inspection_id}/geojson", headers=crew).status_code == 200
    assert client.get(f"/api/inspections/{inspection_id}/report", headers=crew).status_code == 200
    assert client.get(f"/api/defects/{defect_id}/crop", headers=crew).status_code == 200


def test_a_dry_run_changes_nothing(client: TestClient) -> None:
    app: Any = client.app
    made = add_flown(app)
    with app.state.db.session() as session:
        entries_before = session.scalar(select(func.count(LedgerEntry.idx)))
    report = _sweep(app, dry_run=True)
    (done,) = report.flights
    assert report.dry_run and done.files == tuple(made.raw) and not done.entry
    assert done.disclosure_version is None
    assert "would delete the raw data of 1 flight" in report.summary()
    assert _stored(app, made.raw) == [True] * 3
    assert set(_files(app, made.raw).values()) == {None}
    assert _flight(app, made.flight_id).data_deleted_at is None
    assert len(_versions(app, made.flight_id)) == 1
    with app.state.db.session() as session:
        assert session.scalar(select(func.count(LedgerEntry.idx))) == entries_before
        assert session.scalar(select(func.count(LedgerOutbox.id))) == 0


def test_a_file_shared_with_a_flight_inside_its_retention_is_kept(client: TestClient) -> None:
    app: Any = client.app
    video = b"the same video, uploaded for two flights"
    old = add_flown(app, footage=video)
    young = add_flown(app, END + timedelta(days=10), footage=video)
    assert old.footage == young.footage

    (done,) = _sweep(app).flights
    assert done.kept == (old.footage,)
    assert set(done.files) == {old.track, old.tlog}
    assert app.state.blobs.exists(old.footage)
    assert _files(app, [old.footage]) == {old.footage: None}
    _, _, entry = entries(app, old.flight_id)[-2]
    assert entry["kind"] == "data_deleted" and entry["data"]["kept"] == [old.footage]

    later = DUE + timedelta(days=10)
    (done,) = _sweep(app, later).flights
    assert done.flight_id == young.flight_id and old.footage in done.files
    assert not app.state.blobs.exists(old.footage)
    assert _files(app, [old.footage]) == {old.footage: later}
    _audits_clean(app)


def test_a_file_of_two_flights_due_together_is_deleted_once(client: TestClient) -> None:
    app: Any = client.app
    video = b"one video, two flights, both due"
    first = add_flown(app, footage=video)
    second = add_flown(app, END - timedelta(days=1), footage=video)
    report = _sweep(app)
    assert [f.flight_id for f in report.flights] == [first.flight_id, second.flight_id]
    listed = [s for f in report.flights for s in f.files]
    assert listed.count(video_sha := first.footage) == 1 and video_sha == second.footage
    assert not app.state.blobs.exists(video_sha)


def test_a_crash_between_commit_and_unlink_is_recovered_by_the_next_sweep(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app: Any = client.app
    made = add_flown(app)

    class Crash(BaseException):
        pass

    def crash(blobs: Any, sha256: str) -> bool:
        raise Crash

    monkeypatch.setattr(retention, "_unlink", crash)
    with pytest.raises(Crash):
        _sweep(app)
    monkeypatch.undo()
    # committed: marked deleted, logged and republished, but the bytes are still there
    assert _stored(app, made.raw) == [True] * 3
    assert all(_files(app, made.raw).values())
    assert kinds(app, made.flight_id)[-2:] == ["data_deleted", "disclosure_published"]

    report = _sweep(app, DUE + timedelta(days=1))
    assert report.flights == () and report.leftovers == 3
    assert "3 files left by an interrupted sweep unlinked" in report.summary()
    assert _stored(app, made.raw) == [False] * 3
    assert kinds(app, made.flight_id).count("data_deleted") == 1
    _audits_clean(app)


def test_bytes_stored_again_are_kept_anew(client: TestClient) -> None:
    from api.work.records import add_file

    app: Any = client.app
    made = add_flown(app)
    _sweep(app)
    with app.state.db.session() as session:  # the same video uploaded for another flight
        stored = app.state.blobs.put_bytes(f"video of {END.isoformat()}".encode())
        assert stored.sha256 == made.footage
        add_file(session, stored, "video/mp4", "again.mp4")
    assert _files(app, [made.footage]) == {made.footage: None}
    assert _sweep(app, DUE + timedelta(days=1)).leftovers == 0
    assert app.state.blobs.exists(made.footage)


def test_a_flight_that_is_not_public_is_logged_but_gets_no_record(client: TestClient) -> None:
    app: Any = client.app
    made = add_flown(app, public=False)
    (done,) = _sweep(app).flights
    assert done.disclosure_version is None and done.entry
    assert kinds(app, made.flight_id) == ["flight_flown", "data_deleted"]
    assert _versions(app, made.flight_id) == []
    _audits_clean(app)


def test_a_sweep_already_running_elsewhere_is_left_alone(client: TestClient) -> None:
    app: Any = client.app
    made = add_flown(app)
    lock = Path(app.state.settings.data_dir) / retention.LOCK_NAME
    with lock.open("a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        report = _sweep(app)
    assert report.busy and report.flights == ()
    assert report.summary() == "another retention sweep is running; nothing done"
    assert _stored(app, made.raw) == [True] * 3
    assert _sweep(app).flights[0].flight_id == made.flight_id  # free again


# --- the service ------------------------------------------------------------------------------


def test_the_service_sweeps_at_start_and_stops_its_daily_thread(settings: Settings) -> None:
    from api.app import create_app

    ended = datetime.now(UTC) - timedelta(days=200)
    with TestClient(create_app(settings)) as client:
        app: Any = client.app
        made = add_flown(app, ended)
        sweeper = app.state.retention
        assert sweeper.runs == 1 and sweeper.last.flights == ()  # at start: nothing yet
    assert sweeper._thread is not None and not sweeper._thread.is_alive()
    with TestClient(create_app(settings)) as client:
        app = client.app
        assert app.state.retention.last.flights[0].flight_id == made.flight_id
        assert _stored(app, made.raw) == [False] * 3
        assert kinds(app, made.flight_id)[-2:] == ["data_deleted", "disclosure_published"]
        _audits_clean(app)


def test_the_daily_sweeper_logs_a_failed_sweep_and_goes_on(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database gone")

    monkeypatch.setattr(retention, "sweep", broken)
    sweeper = DailySweeper(None, None, settings)  # type: ignore[arg-type]
    assert sweeper.run_once() is None and sweeper.runs == 1
    with pytest.raises(ValueError, match=r"^interval_s 0 must be above 0$"):
        DailySweeper(None, None, settings, interval_s=0)  # type: ignore[arg-type]


# --- the command line -------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from api.cli import main

    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _storage_args(settings: Settings) -> list[str]:
    args = ["--data-dir", str(settings.data_dir)]
    return args + (["--db", settings.db_url] if settings.db_url else [])


def test_cli_sweep_dry_run_then_sweep(
    client: TestClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app: Any = client.app
    made = add_flown(app, datetime.now(UTC) - timedelta(days=200))
    where = _storage_args(app.state.settings)

    status, out, err = _cli(capsys, "retention", "sweep", *where, "--dry-run")
    assert status == 0 and err == ""
    assert f"flight {made.flight_id} (deletion date" in out
    assert "would delete the raw data of 1 flight past their 90-day retention: 3 files" in out
    assert _stored(app, made.raw) == [True] * 3

    status, out, err = _cli(capsys, "retention", "sweep", *where, "--json")
    assert status == 0 and err == ""
    doc = json.loads(out)
    assert doc["schema"] == 1 and doc["dry_run"] is False and doc["outbox"] is None
    assert doc["files_deleted"] == 3 and doc["flights"][0]["files"] == made.raw
    assert doc["flights"][0]["disclosure_version"] == 2
    assert _stored(app, made.raw) == [False] * 3
    assert kinds(app, made.flight_id)[-2:] == ["data_deleted", "disclosure_published"]
    _audits_clean(app)  # appended by the command with the data folder's key

    status, out, _ = _cli(capsys, "retention", "sweep", *where)
    assert status == 0 and out.strip().startswith("deleted the raw data of 0 flights")


def test_cli_sweep_exit_codes_and_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.storage import migrate

    status, out, err = _cli(capsys, "retention", "sweep", "--data-dir", str(tmp_path / "none"))
    assert status == 2 and out == ""
    assert err.startswith("skyledger: error: no database at ") and err.count("\n") == 1

    status, _, err = _cli(capsys, "retention", "sweep", "--db", "nosuch://x")
    assert status == 2 and "unknown database kind 'nosuch'" in err and err.count("\n") == 1

    old = tmp_path / "old"
    old.mkdir()
    migrate.upgrade(f"sqlite:///{old / 'skyledger.db'}", "0003")
    status, _, err = _cli(capsys, "retention", "sweep", "--data-dir", str(old))
    assert status == 2 and err.count("\n") == 1
    assert "is at revision 0003; the sweep needs 0004: run 'skyledger db upgrade'" in err

    status, _, err = _cli(capsys, "retention", "sweep", "--bogus")
    assert status == 2 and err.startswith("skyledger: error: unrecognized arguments: --bogus")


def test_cli_sweep_busy_and_without_the_key(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    app: Any = client.app
    made = add_flown(app, datetime.now(UTC) - timedelta(days=200))
    settings = app.state.settings
    lock = Path(settings.data_dir) / retention.LOCK_NAME
    with lock.open("a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        status, out, _ = _cli(capsys, "retention", "sweep", *_storage_args(settings))
    assert status == 1 and out.strip() == "another retention sweep is running; nothing done"

    key = settings.ledger_key_path
    key.rename(key.with_suffix(".away"))  # the key lives elsewhere: entries wait for the service
    try:
        status, out, err = _cli(capsys, "retention", "sweep", *_storage_args(settings))
    finally:
        key.with_suffix(".away").rename(key)
    assert status == 0 and "deleted the raw data of 1 flight" in out
    assert "wait in the outbox (no signing key in the data folder here)" in err
    assert _stored(app, made.raw) == [False] * 3
    with app.state.db.session() as session:
        assert session.scalar(select(func.count(LedgerOutbox.id))) == 2  # entry + record's
    app.state.ledger.flush()
    assert kinds(app, made.flight_id)[-2:] == ["data_deleted", "disclosure_published"]
    _audits_clean(app)


# --- records and migration ----------------------------------------------------------------------


def test_the_data_deleted_entry_is_checked() -> None:
    from compliance.ledger.entries import validate_record

    good = {"flight_id": 3, "files": ["ab" * 32], "retention_days": 90, "reason": "retention"}
    validate_record("data_deleted", "flight:3", good | {"kept": []})
    with pytest.raises(LedgerError, match=r"^data_deleted entry data reason = 'tidy' is not retention$"):  # fmt: skip
        validate_record("data_deleted", "flight:3", good | {"reason": "tidy"})
    with pytest.raises(LedgerError, match=r"files = \['x'\] is not a list of SHA-256 hex digests"):
        validate_record("data_deleted", "flight:3", good | {"files": ["x"]})
    with pytest.raises(LedgerError, match=r"lacks 'retention_days'"):
        validate_record("data_deleted", "flight:3", {k: v for k, v in good.items() if k != "retention_days"})  # fmt: skip


def test_the_deletion_date_is_the_end_plus_the_retention() -> None:
    from compliance.disclosure import deletion_date

    assert deletion_date(None, END, 90).isoformat() == "2026-12-07"  # type: ignore[union-attr]
    assert deletion_date(END, None, 0) == END.date()
    assert deletion_date(None, None, 90) is None
    with pytest.raises(ComplianceError, match=r"^retention_days -1 must be 0 or more$"):
        deletion_date(END, END, -1)
    with pytest.raises(ComplianceError, match=r"has no UTC offset$"):
        deletion_date(None, datetime(2026, 1, 1), 90)


def test_migration_0004_keeps_the_rows_it_extends(tmp_path: Path, db_url: str | None) -> None:
    import sqlalchemy as sa

    from api.storage import migrate

    url = db_url or f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0003")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO users (id, name, role, token_id, token_salt, token_hash, disabled, "
                "created_at) VALUES (1, 'c', 'crew', 't', 's', 'h', false, '2026-12-07 07:00:00')"
            ))  # fmt: skip
            conn.execute(sa.text(
                "INSERT INTO files (sha256, size, media_type, name, created_at) "
                f"VALUES ('{'ab' * 32}', 5, 'text/csv', 't.csv', '2026-12-07 07:00:00')"
            ))  # fmt: skip
            conn.execute(sa.text(
                "INSERT INTO flights (id, source, state, purpose, track_sha256, summary, public, "
                f"created_by, created_at) VALUES (1, 'upload', 'flown', 'p', '{'ab' * 32}', "
                "'{}', true, 1, '2026-12-07 07:00:00')"
            ))  # fmt: skip
        assert migrate.upgrade(url) == "0004"
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT size, deleted_at FROM files")).one() == (5, None)
            row = conn.execute(
                sa.text("SELECT track_sha256, data_deleted_at, deleted_after_days FROM flights")
            ).one()
            assert row == ("ab" * 32, None, None)
    finally:
        engine.dispose()


def test_the_record_field_is_null_until_deleted() -> None:
    from compliance.disclosure import DisclosureRecord

    field = DisclosureRecord.model_fields["data_deleted_at"]
    assert field.default is None and not field.is_required()


def test_jobs_on_a_swept_flight_say_its_data_were_deleted(client: TestClient) -> None:
    """A conformance or detection job that outlived the data (queued before the sweep, run
    after a restart) fails with the retention's one line, not a missing file."""
    from api.jobs import JobContext
    from api.storage.models import Footage
    from api.work.detecting import detect_job
    from api.work.flying import compute_conformance

    app: Any = client.app
    made = add_flown(app)
    _sweep(app)
    expected = f"of flight {made.flight_id} w"
    with pytest.raises(ValueError, match="the track " + expected + "as deleted on 2026-12-07"):
        compute_conformance(app.state.db, app.state.blobs, made.flight_id)
    with app.state.db.session() as session:
        footage_id = session.scalars(
            select(Footage.id).where(Footage.flight_id == made.flight_id)
        ).one()
    work = detect_job(app.state.db, app.state.blobs, footage_id)
    with pytest.raises(ValueError, match="the track and footage " + expected + "ere deleted"):
        work(JobContext(0, app.state.db))
