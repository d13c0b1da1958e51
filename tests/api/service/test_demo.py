"""``skyledger demo``: the chain through a running service, stored by the service itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from api import cli


@pytest.mark.slow
def test_demo_runs_the_chain_through_the_service_and_stores_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from api.storage.db import Database
    from api.storage.models import Approval, Check, Flight, Plan, User

    data = tmp_path / "data"
    argv = ["demo", "--data-dir", str(data), "--no-serve", "--no-footage", "--port", "0"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isalpha()}
    assert "not flown" in rows["park"] and "AUTHORISATION_REQUIRED" in rows["park"]
    assert "REJECTED -> APPROVED" in rows["water-tower"]
    for asset in ("bridge-deck", "power-line", "facade", "water-tower"):
        assert "flown" in rows[asset] and "conforms" in rows[asset], rows[asset]
    # the public half: disclosed, verified by the downloaded verifier, asked, answered, audited
    assert "4 flights disclosed on the public site" in out
    assert "(a separate process): verified" in out and "NOT VERIFIED" not in out
    assert "[e-mail removed]" in out and "[phone removed]" in out and "jane.doe" not in out
    assert "ledger audit: clean" in out and (data / "audit-export.json").is_file()
    tokens = (data / "demo-tokens.txt").read_text().split()
    assert tokens[0::2] == ["crew", "admin", "regulator"]
    assert (data / "demo-tokens.txt").stat().st_mode & 0o077 == 0
    db = Database(f"sqlite:///{data / 'skyledger.db'}")
    try:
        with db.session() as session:
            flights = session.scalars(select(Flight)).all()
            assert len(flights) == 4 and {f.state for f in flights} == {"flown"}
            assert all(
                f.track_sha256 and (data / "blobs" / f.track_sha256[:2]).is_dir() for f in flights
            )
            approvals = session.scalars(select(Approval)).all()
            assert len(approvals) == 4 and {a.state for a in approvals} == {"approved"}
            admin = session.scalar(select(User).where(User.role == "admin"))
            assert admin is not None and {a.decided_by for a in approvals} == {admin.id}
            fixed = session.scalar(
                select(Plan).where(Plan.source == "fix", Plan.name.like("%water%"))
            )
            assert fixed is not None and fixed.parent_id is not None
            assert (
                session.scalar(select(Check).where(Check.plan_id == fixed.id)).verdict == "APPROVED"
            )
            # no token is stored, only its hash
            stored = " ".join(
                f"{u.token_id} {u.token_salt} {u.token_hash}" for u in session.scalars(select(User))
            )
            assert all(t.split(".", 1)[1] not in stored for t in tokens[1::2])
    finally:
        db.close()
    # a second run on the same data folder adds to it, with users of its own
    assert cli.main(argv) == 0
    assert (data / "demo-tokens.txt").read_text().split()[1] != tokens[1]
    again = capsys.readouterr().out
    assert "8 flights disclosed on the public site" in again and "ledger audit: clean" in again
