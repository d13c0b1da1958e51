"""Helpers of the ledger storage tests."""

from __future__ import annotations

from api.ledger import record
from api.storage.db import Database

__all__ = ["disclosed"]


def disclosed(db: Database, *flight_ids: int, version: int = 1) -> None:
    """Record one ``disclosure_published`` entry per flight id, in one transaction."""
    with db.session() as session:
        for flight_id in flight_ids:
            record(
                session,
                "disclosure_published",
                f"flight:{flight_id}",
                {"flight_id": flight_id, "version": version, "record_sha256": f"{flight_id:064x}"},
            )
