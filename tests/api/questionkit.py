"""Flights with a published disclosure, written straight to the storage, for the tests of
citizens' questions and the audit export (they need a disclosed flight, not how it came to be
disclosed: :mod:`api.work.disclosing` has its own tests)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["disclosed_flight", "staff_user"]


def staff_user(session: Any, role: str = "crew") -> Any:
    """A user of ``role`` (the first there is, or a new one)."""
    from sqlalchemy import select

    from api.auth import add_user
    from api.storage.models import User

    user = session.scalar(select(User).where(User.role == role).order_by(User.id).limit(1))
    if user is None:
        user = add_user(session, f"kit-{role}", role).user
    return user


def disclosed_flight(
    app: Any,
    *,
    disclose: bool = True,
    public: bool = True,
    started_at: datetime | None = None,
    purpose: str = "bridge inspection",
) -> int:
    """A flown flight (and, with ``disclose``, version 1 of its disclosure); its id."""
    from api.storage.models import Disclosure, Flight

    started = started_at or datetime.now(UTC) - timedelta(hours=2)
    with app.state.db.session() as session:
        crew = staff_user(session, "crew")
        flight = Flight(
            source="upload",
            state="flown",
            purpose=purpose,
            started_at=started,
            ended_at=started + timedelta(minutes=12),
            summary={},
            public=public,
            created_by=crew.id,
        )
        session.add(flight)
        session.flush()
        if disclose:
            record = {"schema": 1, "flight_id": flight.id, "purpose": purpose}
            digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
            session.add(
                Disclosure(flight_id=flight.id, version=1, record=record, record_sha256=digest)
            )
        flight_id = int(flight.id)
    return flight_id
