"""The public pages: both languages, the language switch, accessibility basics that can be
read from the HTML (one h1, landmarks, labels, skip link, no script or inline style), sizes,
the route and chart SVG, filters and pages, the proof line, questions, the feed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sitekit import Page, add_flight, add_question, check_page

from api.site.i18n import Texts, catalog, choose_language, parse_accept_language

TEMPLATES = Path(__file__).resolve().parents[3] / "api" / "templates"
SVG = "{http://www.w3.org/2000/svg}"
ATOM = "{http://www.w3.org/2005/Atom}"


def svgs(html: str) -> list[ET.Element]:
    """Each inline SVG, parsed as XML (so it is well-formed)."""
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, re.S)]


# --- languages ---------------------------------------------------------------------------------


def test_the_catalogs_have_the_same_keys_and_placeholders() -> None:
    english, spanish = catalog("en"), catalog("es")
    assert set(english) == set(spanish)
    fields = re.compile(r"{(\w+)}")
    for key in english:
        assert set(fields.findall(english[key])) == set(fields.findall(spanish[key])), key


def test_every_message_the_templates_use_is_in_the_catalogs() -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", template.read_text()))
    assert used, "no messages found"
    assert used <= set(catalog("en")), used - set(catalog("en"))


def test_choosing_the_language() -> None:
    assert parse_accept_language("es-ES;q=0.8, en;q=0.9, fr") == ["fr", "en", "es"]
    assert parse_accept_language("en;q=0, es;q=bad") == []
    assert choose_language(None, None, None) == "en"
    assert choose_language(None, None, "de, es;q=0.5") == "es"
    assert choose_language(None, "es", "en") == "es"
    assert choose_language("EN", "es", "es") == "en"
    assert choose_language("fr", None, "fr, es;q=0.1") == "es"


def test_local_formats() -> None:
    en, es = Texts("en"), Texts("es")
    assert en.date("2026-12-07") == "7 December 2026"
    assert es.date("2026-12-07") == "7 de diciembre de 2026"
    assert en.duration(570) == "9 min 30 s" and en.duration(7260) == "2 h 1 min"
    assert en.waited(93_600) == "1 day 2 hours" and es.waited(60) == "1 minuto"
    assert en.distance(2345.0) == "2.3 km" and es.distance(2345.0) == "2,3 km"
    assert es.percent(0.875) == "88 %"
    with pytest.raises(KeyError, match="not in the en catalog"):
        en("no.such.message")


# --- the pages ---------------------------------------------------------------------------------


@pytest.fixture
def site(client: TestClient) -> dict[str, int]:
    app: Any = client.app
    flight = add_flight(app, purpose="Tower survey", defects={"crack": 2})
    add_question(app, flight, "Why did the drone circle the tower twice?", answer="Two passes.")
    add_question(app, flight, "Pending question, not shown", state="pending")
    other = add_flight(
        app,
        purpose="Bridge check",
        started_at=datetime(2026, 11, 2, tzinfo=UTC),
        verdict=None,
        conforms=None,
    )
    return {"flight": flight, "other": other}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_page_in_both_languages(client: TestClient, site: dict[str, int], lang: str) -> None:
    headers = {"Accept-Language": f"{lang};q=0.9"}
    for path in ("/", f"/flights/{site['flight']}", "/stats", "/verify"):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.headers["content-language"] == lang
        assert "Accept-Language" in answer.headers["vary"]
        check_page(answer.text, lang)
    missing = client.get("/flights/424242", headers=headers)
    assert missing.status_code == 404
    check_page(missing.text, lang)
    assert client.get("/flights/not-a-number", headers=headers).status_code == 404


def test_the_switch_remembers_the_language(client: TestClient, site: dict[str, int]) -> None:
    answer = client.get(f"/flights/{site['flight']}?lang=es")
    assert answer.headers["content-language"] == "es"
    assert "lang=es" in answer.headers["set-cookie"]
    assert "HttpOnly" in answer.headers["set-cookie"]
    assert answer.headers["cache-control"].startswith("private")
    again = client.get("/", headers={"Accept-Language": "en"})  # the cookie wins
    assert again.headers["content-language"] == "es"
    assert "Vuelos" in again.text
    page = Page(again.text)
    english = next(a for a in page.all("a") if a.get("hreflang") == "en")
    assert english["href"] == "/?lang=en"
    back = client.get(english["href"])
    assert back.headers["content-language"] == "en"


def test_the_flight_page_shows_every_public_field(client: TestClient, site: dict[str, int]) -> None:
    flight_id = site["flight"]
    record = client.get(f"/api/public/flights/{flight_id}").json()
    proof = record["proof"]
    r = record["record"]
    html = client.get(f"/flights/{flight_id}?lang=en").text
    words = check_page(html, "en").words
    t = Texts("en")
    expected = [
        f"Flight {flight_id}",
        r["agency"],
        r["unit"],
        r["purpose"],
        r["asset"]["name"],
        t.date(r["date"]),
        t.time(r["start"]),
        t.time(r["end"]),
        t.duration(r["duration_s"]),
        t.distance(r["distance_m"]),
        "30–60 m above take-off",
        f"Remote pilot ({r['unit']})",
        "Simulated flight (built-in vehicle)",
        "Approved",
        "SKY-AD1",
        "Kept to the plan",
        "Video Yes",
        "Photos 12",
        "Flight track Yes",
        "90 days",
        t.date(r["deletion_date"]),
        "Crack 2",
        r["contact"],
        record["record_sha256"],
        f"Entry {proof['entry_index']}, included in checkpoint {proof['checkpoint']}, verified.",
        "Why did the drone circle the tower twice?",
        "Two passes.",
        "1 day 2 hours",
    ]
    for text in expected:
        assert text in words, text
    assert "Pending question" not in words
    assert f'href="/api/public/ledger/entries/{proof["entry_index"]}"' in html
    assert f"/api/public/ledger/proof/inclusion?index={proof['entry_index']}&amp;tree_size=" in html
    # the question form: posts to the questions route, labelled, with its hidden fields
    page = Page(html)
    (form,) = [a for a in page.all("form") if a.get("method") == "post"]
    assert form["action"] == f"/flights/{flight_id}/questions"
    names = {a.get("name") for a in page.all("input") + page.all("textarea")}
    assert {"text", "lang", "website"} <= names
    assert "Thank you" not in words
    assert "Thank you" in Page(client.get(f"/flights/{flight_id}?asked=1").text).words


def test_the_route_and_chart_are_accessible_svg(client: TestClient, site: dict[str, int]) -> None:
    html = client.get(f"/flights/{site['flight']}").text
    (svg,) = svgs(html)
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert desc.text and desc.text in Page(html).words  # the same words on the page
    assert svg.find(f"{SVG}polyline") is not None
    stats = client.get("/stats").text
    (chart,) = svgs(stats)
    assert chart.get("role") == "img"
    assert len(chart.findall(f"{SVG}rect")) == 2  # two months


def test_a_long_route_keeps_the_page_small(client: TestClient) -> None:
    import math

    app: Any = client.app
    lon0, lat0 = 149.175, -35.375
    route = [
        (lon0 + 0.002 * math.sin(i / 37.0) + i * 2e-6, lat0 + 0.0015 * math.cos(i / 23.0))
        for i in range(20_000)
    ]
    flight_id = add_flight(app, route=route)
    record = client.get(f"/api/public/flights/{flight_id}").json()["record"]
    assert len(record["route"]["coordinates"]) > 400  # the record keeps more than is drawn
    html = client.get(f"/flights/{flight_id}").text
    check_page(html, "en")
    (svg,) = svgs(html)
    route_line = [p for p in svg.findall(f"{SVG}polyline") if p.get("stroke") == "#0b5cab"]
    assert len(route_line[0].get("points", "").split()) <= 400


def test_the_list_filters_and_pages(client: TestClient) -> None:
    app: Any = client.app
    start = datetime(2026, 9, 1, 8, tzinfo=UTC)
    made = [
        add_flight(
            app,
            purpose=f"Survey {i}" + (" of the bridge" if i % 5 == 0 else ""),
            started_at=start + timedelta(days=i),
        )
        for i in range(30)
    ]
    first = client.get("/").text
    page = check_page(first, "en")
    flight_links = [a["href"] for a in page.all("a") if a["href"].startswith("/flights/")]
    assert flight_links == [f"/flights/{i}" for i in made[::-1][:25]]
    assert "Flights 1 to 25 of 30, newest first" in page.words
    assert "Page 1 of 2" in page.words
    (older,) = [a for a in page.all("a") if a.get("rel") == "next"]
    second = Page(client.get(older["href"]).text)
    links = [a["href"] for a in second.all("a") if a["href"].startswith("/flights/")]
    assert links == [f"/flights/{i}" for i in made[::-1][25:]]
    past = check_page(client.get("/?page=99").text, "en")
    assert "Page 2 of 2" in past.words and "Flights 26 to 30 of 30" in past.words
    filtered = check_page(client.get("/?purpose=bridge&from=2026-09-06").text, "en")
    found = [a["href"] for a in filtered.all("a") if a["href"].startswith("/flights/")]
    assert found == [f"/flights/{made[i]}" for i in (25, 20, 15, 10, 5)]
    assert "Clear the filters" in filtered.words
    bad = check_page(client.get("/?from=yesterday").text, "en")
    assert "From (date): “yesterday” is not a date" in bad.words
    empty = check_page(client.get("/?purpose=nothing-like-this").text, "en")
    assert "No published flight matches these filters." in empty.words


def test_statistics_and_verification_pages(client: TestClient, site: dict[str, int]) -> None:
    stats = check_page(client.get("/stats?lang=en").text, "en").words
    assert "Flights published 2" in stats
    assert "November 2026 1" in stats and "December 2026 1" in stats
    assert "1 of 1 published" in stats
    ledger = client.app.state.ledger  # type: ignore[attr-defined]
    verify = check_page(client.get("/verify").text, "en").words
    assert ledger.public_key_hex in verify
    assert "The signature is valid for this public key." in verify
    script = client.get("/verify.py")
    assert script.headers["content-type"] == "text/x-python; charset=utf-8"
    assert script.headers["content-disposition"] == 'attachment; filename="verify.py"'
    source = Path(__file__).resolve().parents[3] / "compliance" / "ledger" / "verify.py"
    assert script.content == source.read_bytes()


def test_the_atom_feed(client: TestClient, site: dict[str, int]) -> None:
    answer = client.get("/feed.atom?lang=es")
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(answer.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "es"
    for name in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{name}") is not None, name
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 2
    newest = entries[0]
    for name in ("id", "title", "updated", "summary"):
        assert (newest.findtext(f"{ATOM}{name}") or "").strip(), name
    assert (newest.findtext(f"{ATOM}id") or "").startswith("tag:testserver,2026:")
    datetime.fromisoformat(newest.findtext(f"{ATOM}updated") or "")
    link = newest.find(f"{ATOM}link")
    assert link is not None and link.get("href", "").endswith(f"/flights/{site['other']}")
    assert "Vuelo" in (newest.findtext(f"{ATOM}title") or "")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids)
