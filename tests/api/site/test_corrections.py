"""Corrections of published records: a ``correction`` entry naming the corrected entry, a new
record version, shown on the page in both languages and in the public JSON, the log still
auditing clean and the new record verified by the citizen's verifier; bad input in one line,
a record not in the log yet is a 409, and only crews and admins correct."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sitekit import add_flight, check_page

from compliance.ledger import verify

REASON = "The purpose named the wrong bridge"
NEW_PURPOSE = "Inspection of the north footbridge"


def _save(path: Path, document: object) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def _disclosure_entries(client: TestClient, flight_id: int) -> list[int]:
    flight = client.get(f"/api/public/flights/{flight_id}").json()
    return [e["index"] for e in flight["ledger"] if e["kind"] == "disclosure_published"]


def _correct(client: TestClient, headers: dict[str, str], flight_id: int, **body: Any) -> Any:
    body = {"reason": REASON, "purpose": NEW_PURPOSE} | body
    return client.post(f"/api/flights/{flight_id}/corrections", json=body, headers=headers)


def test_a_correction_is_a_new_entry_naming_the_corrected_one_and_a_new_version(
    client: TestClient, headers: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    flight_id = add_flight(client.app, purpose="Inspection of the south footbridge")
    (first,) = _disclosure_entries(client, flight_id)

    made = _correct(client, headers["crew"], flight_id)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["flight_id"] == flight_id and body["version"] == 2
    assert body["corrects"] == first and body["reason"] == REASON
    assert body["entry_index"] is not None
    assert body["disclosure_entry_index"] == body["entry_index"] + 1
    (change,) = body["changes"]
    assert change["field"] == "purpose" and change["new"] == NEW_PURPOSE

    entry = client.get(f"/api/public/ledger/entries/{body['entry_index']}").json()
    logged = entry["entry"]
    assert logged["kind"] == "correction" and logged["subject"] == f"flight:{flight_id}"
    assert logged["corrects"] == first
    data = logged["data"]
    assert data["reason"] == REASON and data["corrected_by_role"] == "crew"
    assert data["version"] == 2 and data["record_sha256"] == body["record_sha256"]
    assert set(data["fields"]) == {"purpose"}
    # the log holds the values' hashes, never the values
    assert "footbridge" not in json.dumps(logged)

    flight = client.get(f"/api/public/flights/{flight_id}").json()
    assert flight["version"] == 2 and flight["record"]["purpose"] == NEW_PURPOSE
    assert flight["record_sha256"] == body["record_sha256"]
    assert [v["version"] for v in flight["versions"]] == [1, 2]
    assert flight["proof"]["state"] == "verified"
    assert flight["proof"]["entry_index"] == body["disclosure_entry_index"]
    (listed,) = flight["corrections"]
    assert listed["index"] == body["entry_index"] and listed["corrects"] == first
    assert listed["reason"] == REASON and listed["version"] == 2
    assert listed["changes"] == [
        {
            "field": "purpose",
            "old_sha256": data["fields"]["purpose"]["old_sha256"],
            "new_sha256": data["fields"]["purpose"]["new_sha256"],
            "old": "Inspection of the south footbridge",
            "new": NEW_PURPOSE,
        }
    ]
    public = client.get(f"/api/public/flights/{flight_id}/corrections").json()
    assert public == {"flight_id": flight_id, "corrections": flight["corrections"]}

    # the staff's flight and the public list say the corrected purpose at once
    staff = client.get(f"/api/flights/{flight_id}", headers=headers["crew"]).json()
    assert staff["purpose"] == NEW_PURPOSE
    items = client.get("/api/public/flights").json()["items"]
    assert [i["record"]["purpose"] for i in items if i["flight_id"] == flight_id] == [NEW_PURPOSE]

    audit = client.app.state.ledger.audit()  # type: ignore[attr-defined]
    assert audit.ok, audit.message

    # the citizen's verifier: the new record is the one its entry names, and the
    # correction entry is in the signed log
    new_entry = client.get(f"/api/public/ledger/entries/{body['disclosure_entry_index']}")
    record = [_save(tmp_path / "flight.json", flight), _save(tmp_path / "e.json", new_entry.json())]
    assert verify.main(["record", *record]) == 0
    checkpoint = client.get("/api/public/ledger/checkpoint").json()
    proof = client.get(
        "/api/public/ledger/proof/inclusion",
        params={"index": body["entry_index"], "tree_size": checkpoint["tree_size"]},
    ).json()
    files = [
        _save(tmp_path / "correction.json", entry),
        _save(tmp_path / "proof.json", proof),
        _save(tmp_path / "checkpoint.json", checkpoint),
    ]
    assert verify.main(["inclusion", *files]) == 0


def test_corrections_chain_each_naming_the_latest_version(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    flight_id = add_flight(client.app)
    first = _correct(client, headers["crew"], flight_id).json()
    second = _correct(
        client, headers["admin"], flight_id, purpose="Inspection of the north footbridge deck",
        reason="The deck, not the whole bridge",
    )  # fmt: skip
    assert second.status_code == 201, second.text
    body = second.json()
    assert body["version"] == 3 and body["corrects"] == first["disclosure_entry_index"]
    listed = client.get(f"/api/public/flights/{flight_id}/corrections").json()["corrections"]
    assert [c["corrects"] for c in listed] == [first["corrects"], body["corrects"]]
    assert listed[1]["corrected_by_role"] == "admin"
    assert listed[1]["changes"][0]["old"] == NEW_PURPOSE
    assert client.app.state.ledger.audit().ok  # type: ignore[attr-defined]


def test_the_flight_page_shows_the_corrections_in_both_languages(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    flight_id = add_flight(client.app, purpose="Inspection of the south footbridge")
    plain = client.get(f"/flights/{flight_id}?lang=en").text
    assert 'id="h-corrections"' not in plain  # no section until there is a correction
    body = _correct(client, headers["crew"], flight_id).json()
    corrects, index = body["corrects"], body["entry_index"]

    english = client.get(f"/flights/{flight_id}?lang=en")
    page = check_page(english.text, "en")
    words = page.words
    assert "Corrections" in words and REASON in words
    assert f"corrects log entry {corrects}" in words
    assert f"the correction is log entry {index}" in words
    assert f"Purpose: was “Inspection of the south footbridge”, now “{NEW_PURPOSE}”" in words
    assert "the corrected record is version 2" in words
    links = {a.get("href") for a in page.all("a")}
    assert f"/api/public/ledger/entries/{corrects}" in links
    assert f"/api/public/ledger/entries/{index}" in links

    spanish = client.get(f"/flights/{flight_id}?lang=es")
    words = check_page(spanish.text, "es").words
    assert "Correcciones" in words and REASON in words
    assert f"corrige la entrada {corrects} del registro" in words
    assert "Corregida el" in words


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"reason": "typo"}, "reason has 4 characters; write 5 to 500 characters"),
        ({"reason": "wrong\nbridge"}, "reason has a control"),
        ({"reason": "call 0612 345 678 about it"}, "reason holds an e-mail address or a phone"),
        ({"reason": "ask ana@example.org about it"}, "reason holds an e-mail address or a phone"),
        ({"purpose": None}, "nothing to correct: give at least one of purpose"),
        ({"purpose": "  "}, "purpose has 0 characters; write 1 to 200 characters"),
        ({"purpose": "x" * 201}, "purpose has 201 characters"),
        ({"purpose": "Annual inspection"}, "is what flight"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    body: dict[str, Any],
    expected: str,
) -> None:
    flight_id = add_flight(client.app, purpose="Annual inspection")
    size = client.app.state.ledger.size()  # type: ignore[attr-defined]
    answer = _correct(client, headers["crew"], flight_id, **body)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and expected in detail, detail
    assert client.app.state.ledger.size() == size  # type: ignore[attr-defined]
    flight = client.get(f"/api/public/flights/{flight_id}").json()
    assert flight["version"] == 1 and flight["record"]["purpose"] == "Annual inspection"


def test_a_flight_without_a_record_in_the_log_is_a_409(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    from sqlalchemy.orm import Session

    from api.work.disclosing import publish_disclosure

    app: Any = client.app
    crew = headers["crew"]
    unpublished = add_flight(app, publish=False)
    answer = _correct(client, crew, unpublished)
    assert answer.status_code == 409
    assert answer.json()["detail"] == (
        f"flight {unpublished} has no published record to correct yet"
    )
    private = add_flight(app, public=False)
    assert _correct(client, crew, private).status_code == 409
    assert _correct(client, crew, 999_999).json() == {"detail": "flight 999999 does not exist"}

    # published, but its entry still waits in the outbox (a session the service's
    # after-commit listener does not see, as a stop between commit and append leaves it)
    with Session(app.state.db.engine) as session:
        assert publish_disclosure(session, app.state.settings, unpublished) is not None
        session.commit()
    assert app.state.ledger.pending() == 1
    waiting = _correct(client, crew, unpublished)
    assert waiting.status_code == 409
    assert "is not in the log yet" in waiting.json()["detail"]
    app.state.ledger.flush()
    assert _correct(client, crew, unpublished).status_code == 201


def test_only_crews_and_admins_correct_and_everyone_reads(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    flight_id = add_flight(client.app)
    assert _correct(client, headers["public"], flight_id).status_code == 401
    assert _correct(client, headers["regulator"], flight_id).status_code == 403
    assert client.get(f"/api/public/flights/{flight_id}/corrections").json() == {
        "flight_id": flight_id,
        "corrections": [],
    }
    assert _correct(client, headers["admin"], flight_id).status_code == 201
    private = add_flight(client.app, public=False)
    answer = client.get(f"/api/public/flights/{private}/corrections")
    assert answer.status_code == 404
    assert answer.json() == {"detail": f"published flight record {private} does not exist"}


def test_the_verifier_checks_a_corrected_flight_online(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    served: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    flight_id = add_flight(client.app)
    assert _correct(client, headers["crew"], flight_id).status_code == 201
    key = client.app.state.ledger.public_key_hex  # type: ignore[attr-defined]
    assert verify.main(["online", served, "--flight", str(flight_id), "--key", key]) == 0
    out = capsys.readouterr().out
    assert "NOT VERIFIED" not in out and out.count("verified: ") == 3, out


def test_two_corrections_at_once_make_versions_one_after_the_other(
    client: TestClient,
) -> None:
    import threading

    from sitekit import staff_user

    from api.storage.models import User
    from api.work.correcting import correct_flight
    from api.work.errors import WorkError

    app: Any = client.app
    db, settings = app.state.db, app.state.settings
    flight_id = add_flight(app)
    outcome: dict[str, Any] = {}

    def second() -> None:
        with db.sessions() as session:
            user = session.get(User, staff_user(session))
            try:
                made = correct_flight(
                    session, settings, flight_id, user, reason=REASON, purpose="Second purpose"
                )
                session.commit()
                outcome["made"] = made
            except WorkError as exc:
                session.rollback()
                outcome["error"] = str(exc)

    with db.sessions() as first:
        user = first.get(User, staff_user(first))
        made = correct_flight(first, settings, flight_id, user, reason=REASON, purpose="First one")
        other = threading.Thread(target=second)
        other.start()
        other.join(0.5)
        assert other.is_alive(), outcome  # it waits for the first correction's transaction
        first.commit()
    other.join(30)
    assert made.version == 2
    # the second read the record after the first committed: version 3, or told to retry
    # while the first's entry was being appended
    if "made" in outcome:
        assert outcome["made"].version == 3
        assert outcome["made"].corrects == _disclosure_entries(client, flight_id)[1]
    else:
        assert "is not in the log yet" in outcome["error"]
    versions = client.get(f"/api/public/flights/{flight_id}").json()["versions"]
    assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))
    assert app.state.ledger.audit().ok
