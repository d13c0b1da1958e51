"""A citizen checks a flight's published record with the downloaded verifier: the record is
the one its ``disclosure_published`` entry names, and that entry is in the signed log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sitekit import add_flight

from compliance.ledger import verify


def _save(path: Path, document: object) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def test_record_matches_its_entry_offline_and_a_changed_record_does_not(
    client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flight_id = add_flight(client.app)
    flight = client.get(f"/api/public/flights/{flight_id}").json()
    (index,) = [e["index"] for e in flight["ledger"] if e["kind"] == "disclosure_published"]
    entry = client.get(f"/api/public/ledger/entries/{index}").json()
    entry_file = _save(tmp_path / "entry.json", entry)

    assert verify.main(["record", _save(tmp_path / "flight.json", flight), entry_file]) == 0
    assert f"flight {flight_id}'s record" in capsys.readouterr().out

    flight["record"]["purpose"] = "something else"
    assert verify.main(["record", _save(tmp_path / "forged.json", flight), entry_file]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out

    other = client.get("/api/public/ledger/entries/0").json()
    if other["entry"]["kind"] != "disclosure_published":
        assert verify.main(["record", str(tmp_path / "flight.json"),
                            _save(tmp_path / "other.json", other)]) == 2  # fmt: skip


def test_online_flight_checks_record_entry_and_checkpoint(
    client: TestClient, served: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = add_flight(client.app)
    add_flight(client.app, purpose="Second look")
    key = client.app.state.ledger.public_key_hex  # type: ignore[attr-defined]
    assert verify.main(["online", served, "--flight", str(first), "--key", key]) == 0
    out = capsys.readouterr().out
    assert "NOT VERIFIED" not in out and out.count("verified: ") == 3, out
    assert verify.main(["online", served, "--flight", "999999"]) == 2
    assert "HTTP 404" in capsys.readouterr().err
