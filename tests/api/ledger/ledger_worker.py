"""A process that publishes disclosures with their ledger entries, as the service does, for
the crash and concurrency tests (run as a script; not a test module).

    python ledger_worker.py URL KEY FLIGHT_ID WORKER MODE [COUNT]

Each transaction adds ``Disclosure`` rows of flight ``FLIGHT_ID`` (versions numbered
``WORKER * 1_000_000 + i``) and records a ``disclosure_published`` entry for each; the store
appends them after the commit. Modes:

- ``loop``: one disclosure per transaction, forever, printing each version once committed
  (the test kills the process at some moment).
- ``die-appending``: one disclosure, then the process kills itself (SIGKILL) inside the
  appending transaction, after the entries and the checkpoint were written, before commit.
- ``burst``: COUNT disclosures in transactions of 1 to 3, as fast as it can.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

from api.ledger import LedgerStore, load_key, record
from api.storage.db import Database
from api.storage.models import Disclosure


def publish(db: Database, flight_id: int, versions: list[int]) -> None:
    with db.session() as session:
        for version in versions:
            digest = hashlib.sha256(f"{flight_id}/{version}".encode()).hexdigest()
            session.add(
                Disclosure(flight_id=flight_id, version=version, record={}, record_sha256=digest)
            )
            record(
                session,
                "disclosure_published",
                f"flight:{flight_id}",
                {"flight_id": flight_id, "version": version, "record_sha256": digest},
            )


def main(argv: list[str]) -> int:
    url, key_path, flight_text, worker_text, mode = argv[:5]
    count = int(argv[5]) if len(argv) > 5 else 0
    flight_id, base = int(flight_text), int(worker_text) * 1_000_000
    db = Database(url)
    store = LedgerStore(db, load_key(Path(key_path)))
    store.flush()
    store.flush_after_commit(db.sessions)
    if mode == "loop":
        i = 0
        while True:
            i += 1
            publish(db, flight_id, [base + i])
            print(base + i, flush=True)
    if mode == "die-appending":
        original = LedgerStore._append

        def append_then_die(self: LedgerStore, conn: Any) -> int:
            appended = original(self, conn)
            os.kill(os.getpid(), signal.SIGKILL)
            return appended  # pragma: no cover - never reached

        LedgerStore._append = append_then_die  # type: ignore[method-assign]
        publish(db, flight_id, [base + 1])
        return 3  # pragma: no cover - the flush above kills the process
    if mode == "burst":
        rng = random.Random(base)
        done = 0
        while done < count:
            n = min(rng.randint(1, 3), count - done)
            publish(db, flight_id, [base + done + j + 1 for j in range(n)])
            done += n
        db.close()
        return 0
    print(f"unknown mode {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
