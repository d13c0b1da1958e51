"""Ledger benchmark: appending 100,000 entries, proofs at that size, and a full audit.

The entries are ``disclosure_published`` entries of 100,000 flights (the commonest kind,
about 330 bytes of canonical JSON each). The baseline, measured in the same run, is hashing
the same 100,000 canonical entries with ``hashlib`` alone (SHA-256 of 0x00 || bytes): the
least any log of them must do. The rows:

- *domain*: :class:`compliance.ledger.merkle.MerkleTree` appending the 100,000 leaf hashes;
  building and canonicalising the entries (:func:`make_entry`, :func:`entry_bytes`) as the
  store does for each.
- *stored*: :func:`api.ledger.record` in business transactions of 1,000 entries, each
  commit appending its outbox through :meth:`LedgerStore.flush` (one serialised write
  transaction, one signed checkpoint per commit); then a sample of entries committed one
  per transaction (a flush, and a checkpoint, each), the per-entry cost reported as
  measured and as it would be for 100,000.
- *proofs* at 100,000: inclusion (random indices, audit path to the full size) and
  consistency (random first sizes to the full size), each from the domain tree and through
  the store (which first asks the database for entries appended since); mean of many, µs.
- *audit*: :meth:`LedgerStore.audit` streaming every stored entry and checkpoint from the
  database through :func:`compliance.ledger.audit.audit`.

Targets (issue 7): appending 100,000 ≤ 10 s, each proof ≤ 1 ms, the audit ≤ 10 s.

Run with ``make bench`` (or ``.venv/bin/python bench/ledger.py``). Not a test. Options:
``--entries N`` (default 100000), ``--db URL`` (default a SQLite file in a temporary
folder; PostgreSQL with ``postgresql+psycopg://...``, an empty database), ``--single N``
(entries committed one by one, default 1000), ``--proofs N`` (default 2000).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# This script is named like the module it measures: import the package, not the script.
if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

from api.ledger import LedgerStore, load_or_create_key, record
from api.storage import migrate
from api.storage.db import Database
from compliance.ledger.entries import entry_bytes, make_entry
from compliance.ledger.merkle import EMPTY_ROOT, MerkleTree, leaf_hash

BATCH = 1000
SEED = 20261207


def _data(flight_id: int) -> dict[str, Any]:
    digest = hashlib.sha256(f"record of flight {flight_id}".encode()).hexdigest()
    return {"flight_id": flight_id, "version": 1, "record_sha256": digest}


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _mean_us(action: Callable[[int], Any], arguments: list[int]) -> float:
    start = time.perf_counter()
    for argument in arguments:
        action(argument)
    return (time.perf_counter() - start) / len(arguments) * 1e6


Row = tuple[str, float, str, int]  # label, value, unit, how many entries it handles


def domain_rows(n: int, proofs: int) -> tuple[list[Row], float]:
    """The baseline and the domain rows; returns them and the baseline's seconds."""
    stamp = "2026-12-07T07:13:17.123Z"
    entries = [
        make_entry(i, "disclosure_published", f"flight:{i + 1}", stamp, EMPTY_ROOT, _data(i + 1))
        for i in range(n)
    ]
    texts = [entry_bytes(entry) for entry in entries]
    sha256 = hashlib.sha256
    base_s, _ = _timed(lambda: [sha256(b"\x00" + text).digest() for text in texts])
    build_s, built = _timed(
        lambda: [
            entry_bytes(
                make_entry(
                    i, "disclosure_published", f"flight:{i + 1}", stamp, EMPTY_ROOT, _data(i + 1)
                )
            )
            for i in range(n)
        ]
    )
    assert built == texts
    leaves = [leaf_hash(text) for text in texts]
    tree = MerkleTree()
    append_s, _ = _timed(lambda: [tree.append(leaf) for leaf in leaves])
    rng = random.Random(SEED)
    indices = [rng.randrange(n) for _ in range(proofs)]
    firsts = [rng.randrange(1, n) for _ in range(proofs)]
    inclusion_us = _mean_us(lambda i: tree.inclusion_proof(i, n), indices)
    consistency_us = _mean_us(lambda m: tree.consistency_proof(m, n), firsts)
    size = len(texts[0])
    rows = [
        (f"baseline: SHA-256 of {n:,} canonical entries ({size} B each)", base_s, "s", n),
        (f"domain: make_entry + canonical JSON, {n:,}", build_s, "s", n),
        (f"domain: MerkleTree.append {n:,} leaf hashes", append_s, "s", n),
        (f"domain: inclusion proof at {n:,} (mean of {proofs})", inclusion_us, "µs", 1),
        (f"domain: consistency proof at {n:,} (mean of {proofs})", consistency_us, "µs", 1),
    ]
    return rows, base_s


def stored_rows(url: str, key_dir: Path, n: int, single: int, proofs: int) -> list[Row]:
    migrate.upgrade(url)
    db = Database(url)
    try:
        store = LedgerStore(db, load_or_create_key(key_dir / "ed25519.key"))
        store.flush()
        store.flush_after_commit(db.sessions)

        def batches() -> None:
            for start in range(0, n, BATCH):
                with db.session() as session:
                    for i in range(start, min(start + BATCH, n)):
                        record(session, "disclosure_published", f"flight:{i + 1}", _data(i + 1))

        batch_s, _ = _timed(batches)
        assert store.size() == n and store.pending() == 0

        def one_by_one() -> None:
            for i in range(n, n + single):
                with db.session() as session:
                    record(session, "disclosure_published", f"flight:{i + 1}", _data(i + 1))

        single_s, _ = _timed(one_by_one)
        size = store.size()
        assert size == n + single
        rng = random.Random(SEED)
        indices = [rng.randrange(size) for _ in range(proofs)]
        firsts = [rng.randrange(1, size) for _ in range(proofs)]
        inclusion_us = _mean_us(lambda i: store.inclusion_proof(i, size), indices)
        consistency_us = _mean_us(lambda m: store.consistency_proof(m, size), firsts)
        fresh = LedgerStore(db, public_key_hex=store.public_key_hex)  # a cold process's store
        load_s, _ = _timed(fresh.size)
        audit_s, result = _timed(store.audit)
        assert result.ok, result.message
        per_single_ms = single_s / single * 1000
        audited = f"audit: {result.entries:,} entries, {result.checkpoints:,} checkpoints"
        return [
            (f"stored: record() + flush, {n:,} in commits of {BATCH}", batch_s, "s", n),
            (f"stored: one entry per commit, {single:,} (per entry)", per_single_ms, "ms", 1),
            (f"stored: one entry per commit, projected to {n:,}", per_single_ms * n / 1e3, "s", n),
            (f"stored: inclusion proof at {size:,} (mean of {proofs})", inclusion_us, "µs", 1),
            (f"stored: consistency proof at {size:,} (mean of {proofs})", consistency_us, "µs", 1),
            (f"stored: a new process loads its tree of {size:,}", load_s, "s", size),
            (f"{audited} from the database", audit_s, "s", size),
        ]
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=1000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--db", metavar="URL", help="an empty database (default: SQLite)")
    args = parser.parse_args(argv)
    n = args.entries

    rows, base_s = domain_rows(n, args.proofs)
    with tempfile.TemporaryDirectory(prefix="skyledger-bench-") as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'ledger.db'}"
        kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite (WAL)"
        rows += stored_rows(url, Path(folder), n, args.single, args.proofs)

    print(f"Ledger benchmark: {n:,} entries, stored in {kind}.")
    print("×base: the row's time over the baseline's for as many entries (a proof or a single")
    print("entry: over hashing one entry).")
    print()
    print("| row | time | ×base |")
    print("|---|---:|---:|")
    for label, value, unit, count in rows:
        seconds = value if unit == "s" else value / (1000 if unit == "ms" else 1e6)
        shown = f"{value:.3f} s" if unit == "s" else f"{value:.{1 if unit == 'µs' else 2}f} {unit}"
        print(f"| {label} | {shown} | {seconds / (base_s * count / n):,.1f} |")
    append_s = next(v for label, v, _, _ in rows if label.startswith("stored: record()"))
    proof_us = max(v for label, v, u, _ in rows if "proof" in label and u == "µs")
    audit_s = next(v for label, v, _, _ in rows if label.startswith("audit:"))
    print()
    print(
        f"Targets: append {n:,} ≤ 10 s: {append_s:.2f} s {'met' if append_s <= 10 else 'NOT met'}; "
        f"each proof ≤ 1 ms: slowest mean {proof_us:.0f} µs "
        f"{'met' if proof_us <= 1000 else 'NOT met'}; audit ≤ 10 s: {audit_s:.2f} s "
        f"{'met' if audit_s <= 10 else 'NOT met'}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
