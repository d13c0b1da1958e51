"""The job runner: progress, results, failure messages, and jobs lost to a restart."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from seeding import wait_for_job

from api.app import create_app
from api.jobs import STOPPED_REASON, JobContext, ThreadJobRunner
from api.settings import Settings
from api.storage.models import Flight, Job


def runner(client: TestClient) -> ThreadJobRunner:
    jobs: ThreadJobRunner = client.app.state.jobs  # type: ignore[attr-defined]
    return jobs


def test_a_job_reports_progress_and_stores_its_result(client, headers):
    gate = threading.Event()
    seen = threading.Event()

    def work(ctx: JobContext) -> dict[str, Any]:
        ctx.progress(42.4, "half way   there\n(nearly)")
        seen.set()
        assert gate.wait(10)
        return {"answer": 42}

    job_id = runner(client).submit("test", {"n": 1}, work)
    assert seen.wait(10)
    running = client.get(f"/api/jobs/{job_id}", headers=headers["crew"]).json()
    assert running["state"] == "running" and running["percent"] == pytest.approx(42.4)
    assert running["message"] == "half way there (nearly)" and running["started_at"]
    assert running["params"] == {"n": 1} and running["finished_at"] is None
    gate.set()
    done = wait_for_job(client, job_id, headers["regulator"])
    assert done["state"] == "succeeded" and done["percent"] == 100.0
    assert done["result"] == {"answer": 42} and done["error"] is None
    assert done["finished_at"] >= done["started_at"] >= done["created_at"]


def test_progress_writes_are_throttled(client, headers):
    writes: list[float] = []

    def work(ctx: JobContext) -> None:
        from sqlalchemy import event

        def count(*_args: Any) -> None:
            writes.append(ctx.percent)

        event.listen(ctx.db.engine, "before_cursor_execute", count)
        try:
            for i in range(2000):
                ctx.progress(i / 40)  # 0 .. 50 %, in steps far below a percent
        finally:
            event.remove(ctx.db.engine, "before_cursor_execute", count)

    job_id = runner(client).submit("test", {}, work)
    wait_for_job(client, job_id, headers["crew"])
    # about one write per whole percent (50) and a few by time, never one per call (2000)
    assert 40 <= len(writes) <= 120


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ValueError("track file  'x.csv'\n has no samples"), "track file 'x.csv' has no samples"),
        (KeyError("secret internal detail"), "internal error (KeyError)"),
        (ZeroDivisionError("division by zero"), "internal error (ZeroDivisionError)"),
    ],
)
def test_a_failed_job_says_why_in_one_line(client, headers, error, message, caplog):
    def work(ctx: JobContext) -> None:
        raise error

    job_id = runner(client).submit("test", {}, work)
    done = wait_for_job(client, job_id, headers["admin"])
    assert done["state"] == "failed" and done["error"] == message and done["result"] is None
    if message.startswith("internal"):
        assert "secret" not in done["error"]


def test_a_job_list_filters_by_state_and_needs_a_staff_token(client, headers):
    def fail(ctx: JobContext) -> None:
        raise RuntimeError("boom")

    ok = runner(client).submit("ok", {}, lambda ctx: None)
    bad = runner(client).submit("bad", {}, fail)
    wait_for_job(client, ok, headers["crew"])
    wait_for_job(client, bad, headers["crew"])
    failed = client.get("/api/jobs?state=failed", headers=headers["crew"]).json()
    assert [j["id"] for j in failed["items"]] == [bad] and failed["total"] == 1
    every = client.get("/api/jobs", headers=headers["regulator"]).json()
    assert [j["id"] for j in every["items"]] == [bad, ok]
    assert client.get("/api/jobs?kind=ok", headers=headers["admin"]).json()["total"] == 1
    assert client.get("/api/jobs").status_code == 401
    assert client.get(f"/api/jobs/{ok}").status_code == 401
    wrong = client.get("/api/jobs?state=sleeping", headers=headers["crew"])
    assert wrong.status_code == 422 and "state" in wrong.json()["detail"]
    missing = client.get("/api/jobs/999", headers=headers["crew"])
    assert missing.status_code == 404 and missing.json()["detail"] == "job 999 does not exist"


def test_jobs_left_running_by_a_stopped_service_fail_with_the_reason(settings: Settings):
    from api.auth import add_user

    with TestClient(create_app(settings)) as first:
        db = first.app.state.db  # type: ignore[attr-defined]
        with db.session() as session:
            crew = add_user(session, "crew-1", "crew").user
            for state in ("queued", "running", "succeeded"):
                job = Job(kind="fly", state=state, params={})
                session.add(job)
                session.flush()
                flight_state = "flown" if state == "succeeded" else "flying"
                session.add(
                    Flight(source="builtin", state=flight_state, purpose=state, summary={},
                           job_id=job.id, created_by=crew.id)
                )  # fmt: skip
    # a new service on the same data: the queued and running jobs cannot have finished
    with TestClient(create_app(settings)) as second:
        db = second.app.state.db  # type: ignore[attr-defined]
        with db.session() as session:
            states = [(j.state, j.error) for j in session.query(Job).order_by(Job.id)]
            flights = [(f.state, f.summary) for f in session.query(Flight).order_by(Flight.id)]
    assert states == [
        ("failed", STOPPED_REASON),
        ("failed", STOPPED_REASON),
        ("succeeded", None),
    ]
    # the flights those jobs were flying failed with them; the flown one is untouched
    assert flights == [
        ("failed", {"reason": STOPPED_REASON}),
        ("failed", {"reason": STOPPED_REASON}),
        ("flown", {}),
    ]


def test_shutdown_stops_running_work_at_its_next_progress_report(settings: Settings):
    started = threading.Event()

    def work(ctx: JobContext) -> None:
        started.set()
        while True:
            ctx.progress(1.0)
            time.sleep(0.01)

    with TestClient(create_app(settings)) as client:
        jobs = runner(client)
        job_id = jobs.submit("endless", {}, work)
        queued = jobs.submit("never", {}, lambda ctx: None) if jobs.workers == 1 else None
        assert started.wait(10)
    # the lifespan ended: the runner was shut down and waited
    from api.storage.db import Database

    db = Database(settings.url)
    try:
        with db.session() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.state == "failed" and job.error == STOPPED_REASON
            if queued is not None:
                never = session.get(Job, queued)
                assert never is not None and never.state == "failed"
                assert never.error == STOPPED_REASON
    finally:
        db.close()


def test_wait_for_job_returns_the_finished_row_or_times_out(client):
    from api.jobs import wait_for_job

    gate = threading.Event()
    db = client.app.state.db
    job_id = runner(client).submit("gated", {}, lambda ctx: {"ok": gate.wait(10)})
    with pytest.raises(TimeoutError, match=f"job {job_id} is still"):
        wait_for_job(db, job_id, timeout_s=0.3, poll_s=0.05)
    gate.set()
    done = wait_for_job(db, job_id, timeout_s=30, poll_s=0.05)
    assert done.state == "succeeded" and done.result == {"ok": True}
    with pytest.raises(ValueError, match="job 999 does not exist"):
        wait_for_job(db, 999)
