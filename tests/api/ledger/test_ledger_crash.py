"""Crashes and concurrent appenders: a process killed (SIGKILL) while it publishes leaves a log
that, once the next start has flushed the outbox, audits clean with every record and its
entry together; two processes appending at once keep one clean log."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from api.ledger import LedgerStore, load_key, load_or_create_key
from api.storage.db import Database
from api.storage.models import Disclosure, Flight, LedgerEntry, LedgerOutbox, User

WORKER = Path(__file__).with_name("ledger_worker.py")
ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


@pytest.fixture
def flight_id(db: Database) -> int:
    """A flight the workers publish disclosures of."""
    with db.session() as session:
        user = User(name="crew", role="crew", token_id="t", token_salt="s", token_hash="h")
        session.add(user)
        session.flush()
        flight = Flight(source="upload", state="flown", summary={}, created_by=user.id)
        session.add(flight)
        session.flush()
        return int(flight.id)


def _worker(url: str, key: Path, flight_id: int, n: int, mode: str, *extra: str) -> list[str]:
    return [sys.executable, str(WORKER), url, str(key), str(flight_id), str(n), mode, *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _state(db: Database) -> tuple[set[int], list[int], set[int]]:
    """Versions disclosed; versions in the log, in log order; versions waiting in the outbox."""
    import json

    with db.session() as session:
        disclosed = set(session.scalars(select(Disclosure.version)))
        texts = session.scalars(select(LedgerEntry.entry).order_by(LedgerEntry.idx))
        logged = [json.loads(text)["data"]["version"] for text in texts]
        waiting = {row["version"] for row in session.scalars(select(LedgerOutbox.data))}
    return disclosed, logged, waiting


def _restart_and_check(db: Database, key: Path) -> list[int]:
    """What the next start does (flush), then: every record has its entry, once, and the log
    audits clean."""
    store = LedgerStore(db, load_key(key))
    store.flush()
    disclosed, logged, waiting = _state(db)
    assert not waiting
    assert sorted(logged) == sorted(disclosed) and len(set(logged)) == len(logged)
    result = store.audit()
    assert result.ok, result.message
    assert result.tree_size == len(logged)
    return logged


def test_a_process_killed_inside_the_append_loses_nothing(
    ledger_url: str, db: Database, key_path: Path, flight_id: int
) -> None:
    load_or_create_key(key_path)
    done = subprocess.run(
        _worker(ledger_url, key_path, flight_id, 1, "die-appending"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    disclosed, logged, waiting = _state(db)
    # the disclosure committed with its outbox row; the append died before its commit
    assert disclosed == {1_000_001} and logged == [] and waiting == {1_000_001}
    assert _restart_and_check(db, key_path) == [1_000_001]


def test_processes_killed_at_random_moments_leave_a_log_that_audits_clean(
    ledger_url: str, db: Database, key_path: Path, flight_id: int
) -> None:
    load_or_create_key(key_path)
    rng = random.Random(7)
    for round_ in range(1, 4):
        child = subprocess.Popen(
            _worker(ledger_url, key_path, flight_id, round_, "loop"),
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        try:
            for _ in range(5 + round_ * 5):  # some publications committed
                line = child.stdout.readline()
                assert line, child.stderr.read() if child.stderr else "no output"
            time.sleep(rng.uniform(0.0, 0.02))  # then die somewhere in the next ones
        finally:
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=60)
        assert child.returncode == -signal.SIGKILL
        _restart_and_check(db, key_path)
    assert len(_state(db)[0]) >= 30


def test_two_processes_appending_at_once_keep_one_clean_log(
    ledger_url: str, db: Database, key_path: Path, flight_id: int
) -> None:
    load_or_create_key(key_path)
    children = [
        subprocess.Popen(
            _worker(ledger_url, key_path, flight_id, n, "burst", "120"),
            env=_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
    disclosed, logged, waiting = _state(db)
    assert not waiting and len(logged) == 240 == len(disclosed)
    for worker in (1, 2):  # each process's entries in the order it published them
        mine = [v for v in logged if v // 1_000_000 == worker]
        assert mine == sorted(mine) and len(mine) == 120
    assert _restart_and_check(db, key_path) == logged
