"""The staff's questions pages (``/staff/questions``): sign in with a token, review and answer
in the browser with the session's CSRF token, regulators read only."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from questionkit import disclosed_flight

QUESTION = "Who watched the video? Write to jane.doe@example.org please."
MASKED = "Who watched the video? Write to [e-mail removed] please."


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def _sign_in(client: TestClient, token: str) -> str:
    answer = client.post("/staff/session", data={"token": token}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/questions"
    page = client.get("/staff/questions")
    assert page.status_code == 200
    return page.text


def test_review_and_answer_in_the_browser(client: TestClient, tokens: dict[str, str]) -> None:
    flight_id = disclosed_flight(client.app)
    asked = client.post(f"/api/public/flights/{flight_id}/questions", json={"text": QUESTION})
    question_id = asked.json()["id"]

    first = client.get("/staff/questions")
    assert first.status_code == 200 and 'name="token"' in first.text
    assert first.headers["cache-control"] == "no-store"
    assert QUESTION not in first.text  # nothing before signing in
    refused = client.post("/staff/session", data={"token": "nope.nope"})
    assert refused.status_code == 401 and 'role="alert"' in refused.text
    empty = client.post("/staff/session", data={"token": " "})
    assert empty.status_code == 422 and 'role="alert"' in empty.text

    page = _sign_in(client, tokens["crew"])
    assert "jane.doe@example.org" in page and MASKED in page
    assert f'action="/staff/questions/{question_id}/review"' in page
    csrf = _csrf(page)
    review = f"/staff/questions/{question_id}/review"
    without = client.post(review, data={"publish": "yes"}, follow_redirects=False)
    assert without.status_code == 403  # no CSRF token: refused before anything happens
    done = client.post(
        review, data={"publish": "yes", "note": "ok", "csrf": csrf}, follow_redirects=False
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/staff/questions#q-{question_id}"
    public = client.get(f"/api/public/flights/{flight_id}/questions").json()["items"]
    assert [q["text"] for q in public] == [MASKED]

    page = client.get("/staff/questions").text
    assert f'action="/staff/questions/{question_id}/answer"' in page
    again = client.post(review, data={"publish": "no", "csrf": csrf})
    assert again.status_code == 409
    assert f"question {question_id} was published already" in again.text

    answer = f"/staff/questions/{question_id}/answer"
    done = client.post(
        answer,
        data={"text": "Two inspectors, for the report.", "csrf": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303
    public = client.get(f"/api/public/flights/{flight_id}/questions").json()["items"]
    assert public[0]["answer"] == "Two inspectors, for the report."
    app: Any = client.app
    kinds = [kind for _, kind, _ in app.state.ledger.entries_for(f"question:{question_id}")]
    assert kinds == ["question_asked", "question_reviewed", "answer_given"]
    empty = client.post(answer, data={"text": "  ", "csrf": csrf})
    assert empty.status_code == 409  # answered already

    out = client.post("/staff/signout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert 'name="token"' in client.get("/staff/questions").text
    late = client.post(answer, data={"text": "late", "csrf": csrf})
    assert late.status_code == 401 and 'name="token"' in late.text


def test_regulators_read_only(client: TestClient, tokens: dict[str, str]) -> None:
    flight_id = disclosed_flight(client.app)
    question_id = client.post(
        f"/api/public/flights/{flight_id}/questions", json={"text": QUESTION}
    ).json()["id"]
    page = _sign_in(client, tokens["regulator"])
    assert QUESTION in page
    assert "/review" not in page and "/answer" not in page
    csrf = _csrf(page)  # the sign-out form's
    refused = client.post(
        f"/staff/questions/{question_id}/review", data={"publish": "yes", "csrf": csrf}
    )
    assert refused.status_code == 403
    assert "A regulator may read the questions but not change them." in refused.text


def test_a_sign_in_from_another_site_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    answer = client.post(
        "/staff/session",
        data={"token": tokens["admin"]},
        headers={"Origin": "https://elsewhere.example"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "skyledger_session" not in answer.headers.get("set-cookie", "")
