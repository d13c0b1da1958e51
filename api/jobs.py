"""Background jobs: long work (flying, conformance, detection) run outside the request.

Every job is a row of the ``jobs`` table, written before the work starts, so a job is never
lost silently: a job that was queued or running when the service stopped is marked failed
with :data:`STOPPED_REASON` by :meth:`ThreadJobRunner.recover` when the service starts
again (and a flight such a job was flying is marked failed with it). :class:`JobRunner` is the small interface routes use; :class:`ThreadJobRunner` runs
the work on a thread pool in the service's own process. A distributed queue can replace it
by implementing the same three methods.

A work function takes a :class:`JobContext` and returns a JSON-able dict (the job's result)
or None. It reports progress with :meth:`JobContext.progress`; the writes are throttled
(at most one every :data:`PROGRESS_INTERVAL_S` unless a whole percent was crossed). When it
raises a ``ValueError`` (the project's domain errors: ``MissionError``, ``VisionError``,
``CommandError`` ...) the job fails with that one-line message; anything else fails it
with ``internal error (TypeName)`` and the traceback goes to the log, never to a user.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update

from api.storage.db import Database
from api.storage.models import Flight, Job, utcnow

__all__ = [
    "PROGRESS_INTERVAL_S",
    "STOPPED_REASON",
    "JobContext",
    "JobRunner",
    "JobStopped",
    "ThreadJobRunner",
    "Work",
    "one_line",
    "wait_for_job",
]

log = logging.getLogger("skyledger.jobs")

#: The error of a job that was queued or running when the service stopped.
STOPPED_REASON = "the service stopped while this job was running; run it again"
#: Progress is written at most this often, unless a whole percent was crossed.
PROGRESS_INTERVAL_S = 0.5
#: The longest error message kept.
MAX_ERROR = 2000


class JobStopped(Exception):
    """Raised from :meth:`JobContext.progress` once the runner is shutting down."""


def one_line(text: str, limit: int = MAX_ERROR) -> str:
    """``text`` on one line, whitespace collapsed, cut to ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class JobContext:
    """What a work function gets: its job's id, the database, and :meth:`progress`."""

    def __init__(self, job_id: int, db: Database, stopping: threading.Event | None = None):
        self.job_id = job_id
        self.db = db
        self._stopping = stopping or threading.Event()
        self._written_at = -math.inf
        self._written_percent = -1.0
        self.percent = 0.0
        self.message = ""

    @property
    def stopping(self) -> bool:
        """True once the service is shutting down (long work should stop soon)."""
        return self._stopping.is_set()

    def progress(self, percent: float, message: str = "") -> None:
        """Record ``percent`` done (clamped to 0..100) and what is being done.

        Raises :class:`JobStopped` when the service is shutting down, so that work which
        reports progress ends soon; the job is then failed with :data:`STOPPED_REASON`.
        """
        if self._stopping.is_set():
            raise JobStopped(STOPPED_REASON)
        value = float(percent)
        value = 0.0 if not math.isfinite(value) else min(max(value, 0.0), 100.0)
        self.percent, self.message = value, one_line(message, 500)
        now = time.monotonic()
        crossed = math.floor(value) > math.floor(self._written_percent)
        if not crossed and now - self._written_at < PROGRESS_INTERVAL_S:
            return
        self._written_at, self._written_percent = now, value
        with self.db.session() as session:
            session.execute(
                update(Job)
                .where(Job.id == self.job_id)
                .values(percent=round(value, 2), message=self.message)
            )


#: A job's work: called in a worker thread with its context; returns the job's result.
Work = Callable[[JobContext], "dict[str, Any] | None"]


class JobRunner(Protocol):
    """Where routes hand long work (the in-process pool, or later a distributed queue)."""

    def submit(
        self,
        kind: str,
        params: dict[str, Any],
        work: Work,
        created_by: int | None = None,
    ) -> int:
        """Store a queued job, start ``work`` on it eventually, and return the job's id."""
        ...

    def recover(self) -> int:
        """Fail the jobs a previous run left queued or running; return how many."""
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; with ``wait``, let running jobs end (they are asked to stop)."""
        ...


class ThreadJobRunner:
    """Jobs on a thread pool in this process, their state in the ``jobs`` table.

    One process runs the jobs it was given; :meth:`recover` fails only jobs created before
    this runner started, so a second worker process starting later does not fail the jobs
    the first one is running.
    """

    def __init__(self, db: Database, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"job workers must be 1 or more, not {workers}")
        self.db = db
        self.workers = workers
        self.started_at: datetime = utcnow()
        self._stopping = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="skyledger-job")
        self._futures: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def submit(
        self,
        kind: str,
        params: dict[str, Any],
        work: Work,
        created_by: int | None = None,
    ) -> int:
        if self._stopping.is_set():
            raise RuntimeError("the job runner is shut down")
        with self.db.session() as session:
            job = Job(kind=kind, state="queued", percent=0.0, message="queued", params=params)
            job.created_by = created_by
            session.add(job)
            session.flush()
            job_id = int(job.id)
        future = self._executor.submit(self._run, job_id, work)
        with self._lock:
            self._futures[job_id] = future
        future.add_done_callback(lambda _f: self._forget(job_id))
        return job_id

    def _forget(self, job_id: int) -> None:
        with self._lock:
            self._futures.pop(job_id, None)

    def _finish(self, job_id: int, **values: Any) -> None:
        with self.db.session() as session:
            session.execute(
                update(Job).where(Job.id == job_id).values(finished_at=utcnow(), **values)
            )

    def _run(self, job_id: int, work: Work) -> None:
        if self._stopping.is_set():
            self._finish(job_id, state="failed", error=STOPPED_REASON, message="stopped")
            return
        try:
            with self.db.session() as session:
                session.execute(
                    update(Job)
                    .where(Job.id == job_id)
                    .values(state="running", started_at=utcnow(), message="started")
                )
            context = JobContext(job_id, self.db, self._stopping)
            result = work(context)
        except JobStopped:
            self._finish(job_id, state="failed", error=STOPPED_REASON, message="stopped")
        except ValueError as exc:
            self._finish(job_id, state="failed", error=one_line(str(exc)) or type(exc).__name__)
        except Exception as exc:
            log.exception("job %s failed", job_id)
            self._finish(job_id, state="failed", error=f"internal error ({type(exc).__name__})")
        else:
            self._finish(
                job_id, state="succeeded", percent=100.0, message="done", result=result or {}
            )

    def recover(self) -> int:
        """Fail the jobs a previous run left queued or running (see the class notes), and
        the flights they were flying; return how many jobs."""
        with self.db.session() as session:
            stale = select(Job.id).where(
                Job.state.in_(("queued", "running")), Job.created_at < self.started_at
            )
            ids = list(session.scalars(stale))
            if ids:
                session.execute(
                    update(Job)
                    .where(Job.id.in_(ids))
                    .values(state="failed", error=STOPPED_REASON, finished_at=utcnow())
                )
                session.execute(
                    update(Flight)
                    .where(Flight.job_id.in_(ids), Flight.state.in_(("queued", "flying")))
                    .values(state="failed", summary={"reason": STOPPED_REASON})
                )
        if ids:
            log.warning("%d job(s) were running when the service last stopped: failed", len(ids))
        return len(ids)

    def shutdown(self, wait: bool = True) -> None:
        """Stop: queued jobs are failed at once, running ones asked to stop at their next
        progress report (failed with :data:`STOPPED_REASON`); with ``wait``, wait for them."""
        self._stopping.set()
        with self._lock:
            pending = dict(self._futures)
        self._executor.shutdown(wait=wait, cancel_futures=True)
        for job_id in (job_id for job_id, f in pending.items() if f.cancelled()):
            self._finish(job_id, state="failed", error=STOPPED_REASON, message="stopped")


def wait_for_job(db: Database, job_id: int, timeout_s: float = 3600.0, poll_s: float = 0.2) -> Job:
    """Wait until job ``job_id`` has succeeded or failed (polling its row); return the row.

    For callers outside a request (the demo, the command line) that submit a job and need
    its result; a ``TimeoutError`` after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        with db.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise ValueError(f"job {job_id} does not exist")
            if job.state in ("succeeded", "failed"):
                session.expunge(job)
                return job
        if time.monotonic() >= deadline:
            raise TimeoutError(f"job {job_id} is still {job.state} after {timeout_s:g} s")
        time.sleep(poll_s)
