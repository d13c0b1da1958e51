"""The public site in a real browser: headless Debian Chromium driven by selenium against the
service under uvicorn on a free port, with a seeded data folder.

The flight list and a flight page load; the keyboard reaches the skip link first, then the
language switch, the filters and the flight links in that order, opens a flight with Enter
and asks a question without a mouse; axe-core finds no serious or critical WCAG 2.1 A/AA
violation on the pages, in English and Spanish.

``scripts/ensure-browser.sh`` (run by ``make test``) installs what these need: Debian's
``chromium`` and ``chromium-driver``, ``selenium`` and axe-core (npm, in ``.cache/axe-core``).
Without them the tests are skipped with the reason. Selenium is handed the system
chromedriver and never downloads one.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / ".cache" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SETUP = "run 'sh scripts/ensure-browser.sh' (as root) to install it"


def _chromium() -> tuple[str, str] | str:
    """The chromium binary and chromedriver, or why the browser tests cannot run."""
    browser = shutil.which("chromium") or next(
        (p for p in ("/usr/lib/chromium/chromium",) if os.access(p, os.X_OK)), None
    )
    if browser is None:
        return f"no chromium browser: {SETUP}"
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.access("/usr/bin/chromedriver", os.X_OK) else None
    )
    if driver is None:
        return f"no chromedriver (Debian's chromium-driver): {SETUP}"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"selenium is not installed: {SETUP}"
    return browser, driver


@dataclass
class Site:
    """The service under test: its URL, the seeded flight, a regulator's token."""

    url: str
    flight_id: int
    other_flight_id: int
    regulator: dict[str, str]
    crew_token: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A data folder seeded through the service (a flight flown by the built-in vehicle,
    disclosed, with an answered question; a second disclosed flight), then served by uvicorn
    on a free loopback port."""
    found = _chromium()
    if isinstance(found, str):
        pytest.skip(found)
    from fastapi.testclient import TestClient
    from questionkit import disclosed_flight, staff_user
    from seeding import seed

    from api.app import create_app
    from api.auth import add_user
    from api.demo_service import serving
    from api.settings import Settings
    from api.work import questions

    settings = Settings(data_dir=tmp_path_factory.mktemp("browser") / "data", job_workers=1)
    with TestClient(create_app(settings)) as client:
        app: Any = client.app
        with app.state.db.session() as session:
            tokens = {
                r: add_user(session, f"{r}-1", r).token for r in ("crew", "regulator", "admin")
            }
        headers: dict[str, dict[str, str]] = {"public": {}}
        headers |= {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}
        flight_id = seed(client, headers)["flight_id"]
        assert client.get(f"/api/public/flights/{flight_id}").status_code == 200, (
            "the seeded flight has no published disclosure"
        )
        other = disclosed_flight(
            app, started_at=datetime.now(UTC) - timedelta(days=3), purpose="bridge inspection"
        )
        asked = datetime.now(UTC) - timedelta(days=1)
        with app.state.db.session() as session:
            crew = staff_user(session, "crew")
            question = questions.ask(
                session, flight_id, "Was the water tower filmed from the school side?", "en", asked
            )
            questions.review(session, question.id, crew, True, now=asked)
            questions.answer(
                session,
                question.id,
                crew,
                "No: the camera points at the tower only.",
                now=asked + timedelta(hours=2),
            )
            # one waiting for an answer, one for review: the staff's page has forms
            waiting = questions.ask(session, flight_id, "How high did it fly here?", "en", asked)
            questions.review(session, waiting.id, crew, True, now=asked)
            questions.ask(session, flight_id, "¿Quién vio el vídeo? ana@correo.es", "es", asked)
    with serving(settings, "127.0.0.1", 0) as url:
        yield Site(url, flight_id, other, headers["regulator"], tokens["crew"])


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    """One headless Chromium for the module (selenium with the system chromedriver)."""
    found = _chromium()
    assert not isinstance(found, str)
    binary, driver_path = found
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1024",
        "--lang=en",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
    ):
        options.add_argument(argument)
    old = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager: never download a driver or browser
    try:
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    except Exception as exc:  # a browser that cannot start here (no shared memory, ...)
        pytest.skip(f"headless chromium does not start: {' '.join(str(exc).split())[:200]}")
    finally:
        if old is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = old
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _open(browser: Any, url: str) -> None:
    browser.delete_all_cookies()
    browser.get(url)
    _until(lambda: browser.execute_script("return document.readyState") == "complete")


def _until(condition: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "the page did not get there in time"
        time.sleep(0.05)


def _focused(browser: Any) -> dict[str, str]:
    """What has the keyboard focus: tag, id, name, href (as the page wrote it), text."""
    found: dict[str, str] = browser.execute_script(
        "const e = document.activeElement;"
        "return {tag: e.tagName.toLowerCase(), id: e.id || '', name: e.getAttribute('name') || '',"
        " href: e.getAttribute('href') || '', text: (e.textContent || '').trim().slice(0, 80),"
        " cls: e.className || '', hreflang: e.getAttribute('hreflang') || ''};"
    )
    return found


def _tab_through(browser: Any, limit: int = 80) -> list[dict[str, str]]:
    """Press Tab from the top of the page until the focus leaves it (or ``limit`` times)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    stops: list[dict[str, str]] = []
    for _ in range(limit):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        here = _focused(browser)
        if here["tag"] == "body" or (stops and here == stops[0]):
            break
        stops.append(here)
    return stops


def _position(stops: list[dict[str, str]], **match: str) -> int:
    """Where the keyboard first reached an element with the ``match`` fields."""
    for i, stop in enumerate(stops):
        if all(stop[key] == value for key, value in match.items()):
            return i
    reached = [f"{s['tag']}#{s['id']}{s['href']}" for s in stops]
    raise AssertionError(f"the keyboard never reached {match}; it stopped at {reached}")


# --- the pages load ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_list_and_a_flight_page_load(browser: Any, site: Site, lang: str) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, f"{site.url}/?lang={lang}")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    assert len(browser.find_elements(By.TAG_NAME, "h1")) == 1
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "table a")]
    assert f"{site.url}/flights/{site.flight_id}" in links
    assert f"{site.url}/flights/{site.other_flight_id}" in links

    browser.find_element(By.CSS_SELECTOR, f'table a[href="/flights/{site.flight_id}"]').click()
    _until(lambda: browser.current_url.endswith(f"/flights/{site.flight_id}"))
    _until(lambda: browser.execute_script("return document.readyState") == "complete")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang  # remembered
    h1 = browser.find_elements(By.TAG_NAME, "h1")
    assert len(h1) == 1 and str(site.flight_id) in h1[0].text
    svg = browser.find_elements(By.CSS_SELECTOR, "svg[role=img]")
    assert svg and svg[0].size["width"] > 100, "the route is drawn"
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Was the water tower filmed from the school side?" in body
    assert "No: the camera points at the tower only." in body


# --- the keyboard -----------------------------------------------------------------------------


def test_keyboard_order_on_the_list(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(browser, f"{site.url}/?lang=en")
    stops = _tab_through(browser)
    skip = stops[0]
    assert skip["href"] == "#main", f"the first Tab stop is {skip}, not the skip link"
    english = _position(stops, hreflang="en")
    spanish = _position(stops, hreflang="es")
    filters = [_position(stops, name=name) for name in ("from", "to", "asset", "purpose")]
    submit = _position(stops, tag="button")
    flights = [
        _position(stops, href=f"/flights/{f}") for f in (site.flight_id, site.other_flight_id)
    ]
    assert min(english, spanish) > 0, "the language switch comes after the skip link"
    assert max(english, spanish) < filters[0], "then the filters"
    assert filters == sorted(filters) and filters[-1] < submit, "in their visual order"
    assert submit < min(flights), "then the flight links"

    # the skip link shows when focused and takes the focus to the main content
    _open(browser, f"{site.url}/?lang=en")
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).send_keys(Keys.TAB).perform()
    link = browser.switch_to.active_element
    assert link.get_attribute("href").endswith("#main")
    assert link.is_displayed() and link.location["x"] >= 0 and link.size["width"] > 0
    link.send_keys(Keys.ENTER)
    _until(lambda: _focused(browser)["id"] == "main")

    # Enter on a flight link opens it
    _open(browser, f"{site.url}/?lang=en")
    target = f"/flights/{site.flight_id}"
    for _ in range(80):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if _focused(browser)["href"] == target:
            break
    assert _focused(browser)["href"] == target
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    _until(lambda: browser.current_url.endswith(target))
    assert str(site.flight_id) in browser.find_element(By.TAG_NAME, "h1").text


def test_a_question_asked_with_the_keyboard_only(browser: Any, site: Site) -> None:
    import httpx
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(browser, f"{site.url}/flights/{site.other_flight_id}?lang=en")
    stops = _tab_through(browser, limit=150)
    textarea = _position(stops, tag="textarea")
    assert all(s["name"] != "website" for s in stops), "the honeypot is out of the Tab order"
    _position(stops[textarea:], tag="button")

    _open(browser, f"{site.url}/flights/{site.other_flight_id}?lang=en")
    for _ in range(150):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if _focused(browser)["tag"] == "textarea":
            break
    question = "Who may watch the video of this flight? Reach me at 612 34 56 78."
    ActionChains(browser).send_keys(question).perform()
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert _focused(browser)["tag"] == "button", "the send button follows the question"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    _until(lambda: "asked=1" in browser.current_url)
    assert browser.current_url.endswith(f"/flights/{site.other_flight_id}?asked=1#questions")
    status = browser.find_elements(By.CSS_SELECTOR, "[role=status]")
    assert status and status[0].is_displayed()

    pending = httpx.get(
        f"{site.url}/api/questions",
        params={"state": "pending", "flight_id": site.other_flight_id},
        headers=site.regulator,
    ).json()["items"]
    assert [(q["text"], q["text_public"]) for q in pending] == [
        (question, "Who may watch the video of this flight? Reach me at [phone removed].")
    ]


# --- accessibility ----------------------------------------------------------------------------


def _axe(browser: Any) -> list[dict[str, Any]]:
    """The serious and critical violations axe-core finds on the page (WCAG 2.1 A and AA)."""
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed at {AXE.relative_to(ROOT)}: {SETUP}")
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    browser.set_script_timeout(60)
    result: dict[str, Any] = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
        ".then(r => done({violations: r.violations.map(v => ({id: v.id, impact: v.impact,"
        " help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))}))"
        ".catch(e => done({error: String(e)}));",
        AXE_TAGS,
    )
    assert "error" not in result, result.get("error")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


PAGES = {
    "list": lambda s: "/",
    "flight": lambda s: f"/flights/{s.flight_id}",
    "sparse flight": lambda s: f"/flights/{s.other_flight_id}",
    "statistics": lambda s: "/stats",
    "how to verify": lambda s: "/verify",
}


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("page", list(PAGES))
def test_no_serious_accessibility_violations(
    browser: Any, site: Site, page: str, lang: str
) -> None:
    _open(browser, f"{site.url}{PAGES[page](site)}?lang={lang}")
    problems = _axe(browser)
    assert not problems, "\n".join(
        f"{v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}" for v in problems
    )


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_refused_question_page_is_accessible(browser: Any, site: Site, lang: str) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, f"{site.url}/flights/{site.flight_id}?lang={lang}")
    area = browser.find_element(By.ID, "q-text")
    browser.execute_script("arguments[0].removeAttribute('minlength')", area)  # let it through
    area.send_keys("Why?")
    area.submit()
    _until(lambda: browser.find_elements(By.CSS_SELECTOR, "[role=alert]"))
    alert = browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert "4" in alert and "10" in alert and "2000" in alert
    assert browser.find_element(By.ID, "q-text").get_attribute("value") == "Why?"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    problems = _axe(browser)
    assert not problems, "\n".join(
        f"{v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}" for v in problems
    )


def test_the_staff_page_is_accessible(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, f"{site.url}/staff/questions")
    problems = _axe(browser)  # the sign-in form
    assert not problems, problems
    browser.find_element(By.ID, "s-token").send_keys(site.crew_token)
    browser.find_element(By.ID, "s-token").submit()
    _until(lambda: browser.find_elements(By.CSS_SELECTOR, "form[action$='/review']"))
    assert browser.find_elements(By.CSS_SELECTOR, "form[action$='/answer']")
    problems = _axe(browser)
    assert not problems, "\n".join(
        f"{v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}" for v in problems
    )
