"""Citizens' questions through the JSON API: ask (public), review and answer (staff), the
published list, the ledger entries each step makes, the errors and the hourly limit."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from questionkit import disclosed_flight, staff_user

QUESTION = (
    "Why did the drone fly over Elm Street on Monday? "
    "Write to jane.doe@example.org or call +34 912 345 678."
)
MASKED = (
    "Why did the drone fly over Elm Street on Monday? "
    "Write to [e-mail removed] or call [phone removed]."
)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _ledger(client: TestClient, question_id: int) -> list[tuple[str, dict[str, Any]]]:
    ledger = client.app.state.ledger  # type: ignore[attr-defined]
    return [(kind, entry) for _, kind, entry in ledger.entries_for(f"question:{question_id}")]


def test_ask_review_answer(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    flight_id = disclosed_flight(client.app)
    asked = client.post(
        f"/api/public/flights/{flight_id}/questions", json={"text": QUESTION, "lang": "en"}
    )
    assert asked.status_code == 202, asked.text
    question_id = asked.json()["id"]
    assert asked.json() == {"id": question_id, "state": "pending"}

    public = f"/api/public/flights/{flight_id}/questions"
    assert client.get(public).json()["items"] == []  # not before review

    pending = client.get("/api/questions?state=pending", headers=headers["regulator"]).json()
    assert [(q["id"], q["text"], q["text_public"]) for q in pending["items"]] == [
        (question_id, QUESTION, MASKED)
    ]

    reviewed = client.post(
        f"/api/questions/{question_id}/review",
        json={"publish": True, "note": "fine"},
        headers=headers["crew"],
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["state"] == "published"
    shown = client.get(public).json()["items"]
    assert [(q["id"], q["text"], q["answer"]) for q in shown] == [(question_id, MASKED, None)]
    assert set(shown[0]) == {
        "id",
        "flight_id",
        "text",
        "lang",
        "asked_at",
        "answer",
        "answered_at",
        "answered_after_s",
    }  # nothing of the staff's: no text as asked, note or who

    todo = client.get("/api/questions?state=published&answered=false", headers=headers["crew"])
    assert [q["id"] for q in todo.json()["items"]] == [question_id]
    answer = "The flight inspected the Elm Street bridge; the camera pointed at the bridge only."
    answered = client.post(
        f"/api/questions/{question_id}/answer", json={"text": answer}, headers=headers["admin"]
    )
    assert answered.status_code == 200, answered.text
    shown = client.get(public).json()["items"]
    assert shown[0]["answer"] == answer
    assert shown[0]["answered_after_s"] >= 0
    assert client.get(f"/api/questions/{question_id}", headers=headers["regulator"]).json()[
        "answered_by"
    ] == _user_id(client, headers["admin"])

    entries = _ledger(client, question_id)
    assert [kind for kind, _ in entries] == ["question_asked", "question_reviewed", "answer_given"]
    asked_entry, reviewed_entry, answer_entry = (entry["data"] for _, entry in entries)
    assert asked_entry == {
        "flight_id": flight_id,
        "question_id": question_id,
        "text_sha256": _sha256(MASKED),
    }
    assert reviewed_entry == {"question_id": question_id, "published": True}
    assert answer_entry["answer_sha256"] == _sha256(answer)
    assert answer_entry["answered_after_s"] == shown[0]["answered_after_s"]
    logged = json.dumps([entry for _, entry in entries])
    assert "example.org" not in logged and "912 345" not in logged and "Elm" not in logged
    assert client.app.state.ledger.audit().ok  # type: ignore[attr-defined]


def _user_id(client: TestClient, header: dict[str, str]) -> int:
    return int(client.get("/api/me", headers=header).json()["id"])


def test_answer_time_is_from_question_to_answer(client: TestClient) -> None:
    from api.work import questions

    flight_id = disclosed_flight(client.app)
    asked_at = datetime(2026, 12, 7, 7, 13, 17, tzinfo=UTC)
    app: Any = client.app
    with app.state.db.session() as session:
        crew = staff_user(session, "crew")
        question = questions.ask(session, flight_id, "Was the footage kept?", "en", now=asked_at)
        questions.review(session, question.id, crew, True, now=asked_at + timedelta(hours=1))
        questions.answer(
            session,
            question.id,
            crew,
            "No, deleted after 90 days.",
            now=asked_at + timedelta(hours=3),
        )
        question_id = question.id
    shown = client.get(f"/api/public/flights/{flight_id}/questions").json()["items"]
    assert shown[0]["answered_after_s"] == 3 * 3600
    assert shown[0]["asked_at"].startswith("2026-12-07T07:13:17")
    assert _ledger(client, question_id)[-1][1]["data"]["answered_after_s"] == 3 * 3600


def test_rejected_questions_stay_with_the_staff(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    flight_id = disclosed_flight(client.app)
    url = f"/api/public/flights/{flight_id}/questions"
    question_id = client.post(url, json={"text": "Buy cheap watches at spam dot example"}).json()[
        "id"
    ]
    rejected = client.post(
        f"/api/questions/{question_id}/review",
        json={"publish": False, "note": "advertising"},
        headers=headers["admin"],
    )
    assert rejected.json()["state"] == "rejected"
    assert client.get(url).json()["items"] == []
    staff = client.get("/api/questions?state=rejected", headers=headers["regulator"]).json()
    assert [(q["id"], q["review_note"]) for q in staff["items"]] == [(question_id, "advertising")]
    kinds = [kind for kind, _ in _ledger(client, question_id)]
    assert kinds == ["question_asked", "question_reviewed"]
    assert _ledger(client, question_id)[1][1]["data"]["published"] is False
    answer = client.post(
        f"/api/questions/{question_id}/answer", json={"text": "no"}, headers=headers["crew"]
    )
    assert answer.status_code == 409
    assert "rejected" in answer.json()["detail"]


def test_asking_errors(client: TestClient) -> None:
    hidden = disclosed_flight(client.app, disclose=False)
    flight_id = disclosed_flight(client.app)

    def ask(flight: int, body: dict[str, Any]) -> tuple[int, str]:
        answer = client.post(f"/api/public/flights/{flight}/questions", json=body)
        detail = answer.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail
        return answer.status_code, detail

    assert ask(hidden, {"text": "Why was this flown?"}) == (404, f"flight {hidden} does not exist")
    assert ask(999_999, {"text": "Why was this flown?"})[0] == 404
    private = disclosed_flight(client.app, public=False)  # disclosed once, private since
    assert ask(private, {"text": "Why was this flown?"}) == (
        404,
        f"flight {private} does not exist",
    )
    status, detail = ask(flight_id, {"text": "  why?    "})
    assert (status, detail) == (422, "text has 4 characters; write 10 to 2000 characters")
    assert ask(flight_id, {"text": "x" * 2001})[0] == 422
    status, detail = ask(flight_id, {"text": "Why did it fly\x00 over us?"})
    assert status == 422 and "U+0000" in detail
    status, detail = ask(flight_id, {"text": "Why did it fly \u202eover us?"})
    assert status == 422 and "U+202E" in detail
    status, detail = ask(flight_id, {"text": "Why did it fly over us?", "lang": "english!"})
    assert status == 422 and "lang" in detail
    assert ask(flight_id, {"text": "Why did it fly over us?", "name": "Jane"})[0] == 422
    assert ask(flight_id, {"lang": "en"})[0] == 422
    assert client.get(f"/api/public/flights/{hidden}/questions").status_code == 404
    # a question over several lines, with tabs, in Spanish, is fine
    spanish = client.post(
        f"/api/public/flights/{flight_id}/questions",
        json={"text": "¿Por qué?\n\tEscribid a ana@correo.es", "lang": "es"},
    )
    assert spanish.status_code == 202
    from api.storage.models import Question

    app: Any = client.app
    with app.state.db.session() as session:
        row = session.get(Question, spanish.json()["id"])
        assert row is not None
        assert row.text_public == "¿Por qué?\n\tEscribid a [correo eliminado]"
        assert row.lang == "es"


def test_staff_routes_need_the_right_role(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    flight_id = disclosed_flight(client.app)
    question_id = client.post(
        f"/api/public/flights/{flight_id}/questions", json={"text": "How high did it fly?"}
    ).json()["id"]
    review = f"/api/questions/{question_id}/review"
    answer = f"/api/questions/{question_id}/answer"
    assert client.get("/api/questions").status_code == 401
    assert client.get(f"/api/questions/{question_id}").status_code == 401
    assert client.post(review, json={"publish": True}).status_code == 401
    assert client.post(answer, json={"text": "60 m"}).status_code == 401
    assert client.get("/api/questions", headers=headers["regulator"]).status_code == 200
    assert (
        client.post(review, json={"publish": True}, headers=headers["regulator"]).status_code == 403
    )
    assert (
        client.post(answer, json={"text": "60 m"}, headers=headers["regulator"]).status_code == 403
    )
    assert client.get("/api/questions/999999", headers=headers["crew"]).status_code == 404


def test_review_and_answer_once(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    flight_id = disclosed_flight(client.app)
    question_id = client.post(
        f"/api/public/flights/{flight_id}/questions", json={"text": "How high did it fly?"}
    ).json()["id"]
    crew = headers["crew"]
    review = f"/api/questions/{question_id}/review"
    answer = f"/api/questions/{question_id}/answer"
    early = client.post(answer, json={"text": "60 m"}, headers=crew)
    assert early.status_code == 409 and "pending" in early.json()["detail"]
    assert client.post(review, json={"publish": True}, headers=crew).status_code == 200
    again = client.post(review, json={"publish": False}, headers=crew)
    assert again.status_code == 409 and "published already" in again.json()["detail"]
    assert client.post(answer, json={"text": "   "}, headers=crew).status_code == 422
    assert client.post(answer, json={"text": "At most 60 m."}, headers=crew).status_code == 200
    twice = client.post(answer, json={"text": "At most 60 m."}, headers=crew)
    assert twice.status_code == 409 and "answered already" in twice.json()["detail"]
    missing = client.post("/api/questions/999999/review", json={"publish": True}, headers=crew)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "question 999999 does not exist"
    assert len(_ledger(client, question_id)) == 3  # failed steps logged nothing


def test_asking_is_limited_per_address(client: TestClient) -> None:
    from api.routes.questions import QUESTIONS_PER_HOUR

    flight_id = disclosed_flight(client.app)
    url = f"/api/public/flights/{flight_id}/questions"
    for _ in range(3):  # refused questions do not count
        assert client.post(url, json={"text": "short"}).status_code == 422
    for n in range(QUESTIONS_PER_HOUR):
        assert client.post(url, json={"text": f"Question number {n}?"}).status_code == 202
    refused = client.post(url, json={"text": "One question too many?"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 60
    assert refused.json()["detail"].startswith("too many questions from this address")
    other = TestClient(client.app, client=("192.0.2.7", 5000))
    assert other.post(url, json={"text": "A question from elsewhere?"}).status_code == 202


def test_public_list_pages(client: TestClient) -> None:
    from api.work import questions

    flight_id = disclosed_flight(client.app)
    app: Any = client.app
    with app.state.db.session() as session:
        crew = staff_user(session, "crew")
        for n in range(3):
            question = questions.ask(session, flight_id, f"Question number {n}?", "en")
            questions.review(session, question.id, crew, publish=n != 1)
    url = f"/api/public/flights/{flight_id}/questions"
    page = client.get(url, params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and page["limit"] == 1 and page["offset"] == 1
    assert [q["text"] for q in page["items"]] == ["Question number 2?"]
