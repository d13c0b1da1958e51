"""Records for the public site's (and the retention) tests, written straight to the storage of a running app:
flying and detecting through the service would take far longer than the pages need.

``add_flight(app, ...)`` makes a user, an asset, a plan, a check and an approval as asked,
a flight with its track stored as a blob, and publishes its disclosure
(:func:`api.work.disclosing.publish_disclosure`) in the same transaction, as the work hooks
do; the log appends after the commit.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from api.storage.models import (
    Approval,
    Asset,
    Check,
    Defect,
    Flight,
    Footage,
    Inspection,
    Question,
    User,
)
from api.storage.models import Plan as PlanRow
from api.work.records import store_bytes

__all__ = [
    "HOME",
    "MAX_PAGE_BYTES",
    "Page",
    "add_flight",
    "add_inspection",
    "add_plan",
    "add_question",
    "check_page",
    "circle_route",
    "staff_user",
    "track_csv",
]

#: The sample city's take-off site.
HOME = (149.16523, -35.363261)
#: The most a page may weigh (the issue: 100 KB, map included).
MAX_PAGE_BYTES = 100 * 1024
TOWER = {"type": "Point", "coordinates": [149.1668804, -35.360557]}


def circle_route(
    centre: tuple[float, float] = (149.1668804, -35.360557), radius_m: float = 40.0, n: int = 60
) -> list[tuple[float, float]]:
    """A closed loop of ``n`` points round ``centre`` (lon, lat)."""
    lon0, lat0 = centre
    per_lat = 111_320.0
    per_lon = per_lat * math.cos(math.radians(lat0))
    return [
        (
            lon0 + radius_m * math.cos(2 * math.pi * i / n) / per_lon,
            lat0 + radius_m * math.sin(2 * math.pi * i / n) / per_lat,
        )
        for i in range(n + 1)
    ]


def track_csv(route: list[tuple[float, float]], start: datetime, alt_m: float) -> bytes:
    from mission.track import Track, TrackSample, track_to_csv

    samples = [TrackSample(start, route[0][0], route[0][1], 0.0)]
    samples += [
        TrackSample(start + timedelta(seconds=2 * (i + 1)), lon, lat, alt_m)
        for i, (lon, lat) in enumerate(route)
    ]
    end = start + timedelta(seconds=2 * (len(route) + 1))
    samples.append(TrackSample(end, route[-1][0], route[-1][1], 0.0))
    return track_to_csv(Track(tuple(samples))).encode()


def staff_user(session: Any) -> int:
    user = session.query(User).filter_by(name="site-crew").one_or_none()
    if user is None:
        user = User(
            name="site-crew",
            role="crew",
            token_id=hashlib.md5(b"x").hexdigest(),
            token_salt="s",
            token_hash="h",
        )
        session.add(user)
        session.flush()
    return int(user.id)


def add_plan(
    session: Any,
    user_id: int,
    asset_name: str = "water-tower",
    geometry: dict[str, Any] = TOWER,
    public: bool = True,
) -> PlanRow:
    """A structure asset (the water tower by default) and a plan of it, flushed."""
    asset = Asset(
        name=asset_name,
        kind="structure",
        geometry=geometry,
        properties={"title": "Hilltop water tower"},
        public=public,
        created_by=user_id,
    )
    session.add(asset)
    session.flush()
    plan = PlanRow(
        asset_id=asset.id,
        name="tower",
        source="planner",
        document="{}",
        sha256="0" * 64,
        created_by=user_id,
    )
    session.add(plan)
    session.flush()
    return plan


def add_flight(
    app: Any,
    *,
    purpose: str = "Annual inspection",
    started_at: datetime | None = None,
    public: bool = True,
    state: str = "flown",
    route: list[tuple[float, float]] | None = None,
    alt_m: float = 42.0,
    asset_geometry: dict[str, Any] | None = None,
    asset_public: bool = True,
    asset_name: str = "water-tower",
    verdict: str | None = "APPROVED",
    conforms: bool | None = True,
    defects: dict[str, int] | None = None,
    with_track: bool = True,
    publish: bool = True,
) -> int:
    """Make a flight (see the module notes); its id."""
    from api.work.disclosing import publish_disclosure

    started_at = started_at or datetime(2026, 12, 7, 7, 13, 17, tzinfo=UTC)
    route = route if route is not None else circle_route()
    settings = app.state.settings
    with app.state.db.session() as session:
        user_id = staff_user(session)
        plan = add_plan(session, user_id, asset_name, asset_geometry or TOWER, asset_public)
        if verdict is not None:
            check = Check(
                plan_id=plan.id,
                verdict=verdict,
                report={"verdict": verdict},
                window_start=started_at - timedelta(hours=1),
                window_end=started_at + timedelta(hours=2),
                rules="eu-open",
                created_by=user_id,
            )
            session.add(check)
            session.flush()
            session.add(
                Approval(
                    plan_id=plan.id,
                    check_id=check.id,
                    state="approved",
                    requested_by=user_id,
                    decided_by=user_id,
                    decided_at=started_at,
                    authorisations=["SKY-AD1"],
                )
            )
        track_sha = None
        ended_at = started_at + timedelta(seconds=2 * (len(route) + 1))
        if with_track:
            data = track_csv(route, started_at, alt_m)
            track_sha = store_bytes(session, app.state.blobs, data, "text/csv", "track.csv")
        conformance = None
        if conforms is not None:
            deviations = [] if conforms else [{"rule_id": "conform.cross_track"}]
            conformance = {"conforms": conforms, "deviations": deviations}
        flight = Flight(
            plan_id=plan.id,
            source="builtin",
            state=state,
            purpose=purpose,
            started_at=started_at,
            ended_at=ended_at,
            track_sha256=track_sha,
            conformance=conformance,
            public=public,
            created_by=user_id,
            summary={"max_alt_rel_m": alt_m, "photos": 12, "distance_m": 251.3},
        )
        session.add(flight)
        session.flush()
        if defects:
            video = store_bytes(session, app.state.blobs, b"footage", "video/mp4", "v.mp4")
            add_inspection(session, flight.id, user_id, video, defects)
        if publish:
            publish_disclosure(session, settings, flight.id)
        return int(flight.id)


def add_inspection(
    session: Any,
    flight_id: int,
    user_id: int,
    video: str,
    defects: dict[str, int],
    *,
    at: tuple[float, float] = HOME,
    geojson: str | None = None,
    report: str | None = None,
    crop: str | None = None,
) -> None:
    """Footage ``video`` (a stored blob's hash) of the flight, an inspection of it and its
    ``defects`` (a count by class) north of ``at``, about a metre apart; ``geojson``,
    ``report`` and ``crop`` name the stored results (the defect list defaults to the video)."""
    footage = Footage(flight_id=flight_id, sha256=video, kind="video", uploaded_by=user_id)
    session.add(footage)
    session.flush()
    inspection = Inspection(
        flight_id=flight_id,
        footage_id=footage.id,
        geojson_sha256=geojson or video,
        report_sha256=report,
        counts=dict(defects),
    )
    session.add(inspection)
    session.flush()
    for name, count in defects.items():
        for i in range(count):
            session.add(
                Defect(
                    inspection_id=inspection.id,
                    flight_id=flight_id,
                    class_name=name,
                    confidence=0.9,
                    lon=at[0],
                    lat=at[1] + i * 1e-5,
                    error_m=0.3,
                    sightings=2,
                    time_s=1.0,
                    crop_sha256=crop,
                )
            )
    session.flush()


def add_question(
    app: Any,
    flight_id: int,
    text: str,
    *,
    state: str = "published",
    answer: str | None = None,
    asked_at: datetime | None = None,
    answered_after: timedelta = timedelta(hours=26),
    lang: str = "en",
) -> int:
    """A question about a flight, straight into the table (the questions' own rules are Q1's)."""
    asked_at = asked_at or datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    with app.state.db.session() as session:
        user_id = staff_user(session)
        question = Question(
            flight_id=flight_id,
            text=text,
            text_public=text,
            lang=lang,
            state=state,
            asked_at=asked_at,
            reviewed_at=asked_at if state != "pending" else None,
            reviewed_by=user_id if state != "pending" else None,
            answer=answer,
            answered_at=asked_at + answered_after if answer else None,
            answered_by=user_id if answer else None,
        )
        session.add(question)
        session.flush()
        return int(question.id)


# --- reading pages -----------------------------------------------------------------------------


class Page(HTMLParser):
    """What the tests read from a page: tags in order, ids, labels, attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag]

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def check_page(html: str, lang: str) -> Page:
    """The checks every page passes; the parsed page."""
    assert len(html.encode()) <= MAX_PAGE_BYTES
    page = Page(html)
    assert page.all("html") == [{"lang": lang}]
    assert len(page.all("h1")) == 1
    for landmark in ("header", "main", "footer", "nav"):
        assert page.all(landmark), f"no <{landmark}>"
    assert page.all("main")[0]["id"] == "main"
    first_link = next(a for t, a in page.tags if t == "a")
    assert first_link == {"class": "skip", "href": "#main"}
    assert "<script" not in html and " style=" not in html and "javascript:" not in html
    ids = [a["id"] for _, a in page.tags if "id" in a]
    assert len(ids) == len(set(ids)), "duplicate ids"
    labelled = {a["for"] for a in page.all("label")}
    for tag in ("input", "select", "textarea"):
        for attrs in page.all(tag):
            if attrs.get("type") not in ("hidden", "submit"):
                assert attrs.get("id") in labelled, f"<{tag}> {attrs} has no label"
    switch = [a for a in page.all("a") if a.get("hreflang")]
    assert [a["hreflang"] for a in switch] == ["en", "es"]
    assert next(a for a in switch if a.get("aria-current") == "true")["hreflang"] == lang
    return page
