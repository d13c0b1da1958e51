"""The question form of a flight's page: ``POST /flights/{id}/questions`` (form-urlencoded)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from questionkit import disclosed_flight
from sqlalchemy import func, select

from api.storage.models import LedgerOutbox, Question


class _Page(HTMLParser):
    """What the tests look at in a page: tags, the lang, h1s, the textarea, alerts."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = ""
        self.h1 = 0
        self.textarea = ""
        self.alert = ""
        self._in: str | None = None
        self.labels: set[str] = set()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "html":
            self.lang = a.get("lang") or ""
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag == "textarea" or a.get("role") == "alert":
            self._in = "textarea" if tag == "textarea" else "alert"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("textarea", "p"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "textarea":
            self.textarea += data
        elif self._in == "alert":
            self.alert += data


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _count(client: TestClient, model: Any) -> int:
    app: Any = client.app
    with app.state.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _log_size(client: TestClient) -> int:
    app: Any = client.app
    return int(app.state.ledger.size())


def test_a_question_from_the_form(client: TestClient) -> None:
    flight_id = disclosed_flight(client.app)
    before = _log_size(client)
    answer = client.post(
        f"/flights/{flight_id}/questions",
        data={"text": "¿Quién vio el vídeo? Llamadme al 612 34 56 78", "lang": "es", "website": ""},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/flights/{flight_id}?asked=1#questions"
    app: Any = client.app
    with app.state.db.session() as session:
        question = session.scalars(select(Question)).one()
        assert (question.flight_id, question.state, question.lang) == (flight_id, "pending", "es")
        assert question.text_public == "¿Quién vio el vídeo? Llamadme al [teléfono eliminado]"
    assert _log_size(client) == before + 1


def test_a_filled_honeypot_is_thanked_and_dropped(client: TestClient) -> None:
    flight_id = disclosed_flight(client.app)
    before = _log_size(client)
    answer = client.post(
        f"/flights/{flight_id}/questions",
        data={"text": "Great drones, buy followers now", "lang": "en", "website": "spam.example"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/flights/{flight_id}?asked=1#questions"
    assert _count(client, Question) == 0
    assert _count(client, LedgerOutbox) == 0 and _log_size(client) == before


def test_a_short_question_comes_back_with_its_text(client: TestClient) -> None:
    flight_id = disclosed_flight(client.app)
    answer = client.post(
        f"/flights/{flight_id}/questions",
        data={"text": "<b>y</b>", "lang": "es"},
        headers={"Accept-Language": "es"},
    )
    assert answer.status_code == 422
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("text/html")
    page = _page(answer.text)
    assert page.lang == "es" and page.h1 == 1
    assert page.textarea == "<b>y</b>"  # kept, and escaped in the page
    assert "<b>" not in answer.text
    assert page.alert == "Tu pregunta tiene 8 caracteres; escribe entre 10 y 2000."
    assert "q-text" in page.labels and "main" in page.ids
    assert _count(client, Question) == 0


def test_other_refusals_are_pages_too(client: TestClient) -> None:
    hidden = disclosed_flight(client.app, disclose=False)
    answer = client.post(f"/flights/{hidden}/questions", data={"text": "Why did it fly here?"})
    assert answer.status_code == 404
    page = _page(answer.text)
    assert page.lang == "en" and page.h1 == 1
    assert f"There is no published record of flight {hidden}." in answer.text
    assert "q-text" not in page.ids  # no form for a flight that is not published

    flight_id = disclosed_flight(client.app)
    answer = client.post(
        f"/flights/{flight_id}/questions", data={"text": "Why did it \x07 fly here?"}
    )
    assert answer.status_code == 422
    assert "U+0007" in _page(answer.text).alert

    answer = client.post(
        f"/flights/{flight_id}/questions",
        data={"text": "Why did it fly here?"},
        headers={"Origin": "https://elsewhere.example"},
    )
    assert answer.status_code == 403
    assert _page(answer.text).alert == "This form can only be sent from this site's own pages."
    same = client.post(
        f"/flights/{flight_id}/questions",
        data={"text": "Why did it fly here?"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert same.status_code == 303


def test_the_form_shares_the_hourly_limit(client: TestClient) -> None:
    from api.routes.questions import QUESTIONS_PER_HOUR

    flight_id = disclosed_flight(client.app)
    for n in range(QUESTIONS_PER_HOUR):
        answer = client.post(
            f"/flights/{flight_id}/questions",
            data={"text": f"Question number {n}?", "lang": "en"},
            follow_redirects=False,
        )
        assert answer.status_code == 303
    refused = client.post(
        f"/api/public/flights/{flight_id}/questions", json={"text": "And one by JSON?"}
    )
    assert refused.status_code == 429
    answer = client.post(
        f"/flights/{flight_id}/questions", data={"text": "One question too many?", "lang": "en"}
    )
    assert answer.status_code == 429
    minutes = int(re.sub(r"\D", "", _page(answer.text).alert.split("in ")[-1]))
    assert 1 <= minutes <= 60
    assert int(answer.headers["Retry-After"]) > 60
    assert _page(answer.text).textarea == "One question too many?"
    assert _count(client, Question) == QUESTIONS_PER_HOUR


def test_an_oversized_form_is_refused(client: TestClient) -> None:
    flight_id = disclosed_flight(client.app)
    answer = client.post(f"/flights/{flight_id}/questions", data={"text": "x" * 70_000})
    assert answer.status_code in (400, 413)
    assert _count(client, Question) == 0
