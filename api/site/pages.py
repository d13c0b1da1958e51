"""The public site's pages: server-rendered HTML for citizens, no script, no account.

- ``GET /``: the published flights, newest first, with filters (``from``, ``to``,
  ``asset``, ``purpose``: a GET form) and pages of :data:`PER_PAGE`.
- ``GET /flights/{flight_id}``: every public field of the latest record, the route as
  inline SVG, the proof status, the published questions and answers, and the form to ask
  (which posts to ``/flights/{id}/questions``, handled by :mod:`api.site.questions`).
- ``GET /stats``: flights per month (a table and a bar chart), the share approved and flown
  as planned, questions answered and the median time to answer.
- ``GET /verify``: the current signed checkpoint and how to check a record with ``verify.py``;
  ``GET /verify.py``: the standalone verifier itself.
- ``GET /feed.atom``: Atom 1.0 of the newest :data:`FEED_SIZE` published records.

Every page is English or Spanish (:mod:`api.site.i18n`), rendered by
:func:`api.site.render.render_page`. Reads are shared with the public API
(:mod:`api.routes.public`).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import exists, select, true

from api.deps import SessionDep
from api.routes.common import MAX_ID
from api.site.corrections import page_corrections
from api.site.i18n import Texts
from api.site.render import page_language, render_page
from api.storage.models import Asset, Disclosure, Flight
from api.storage.models import Plan as PlanRow
from api.work.public_records import (
    Filters,
    ProofStatus,
    disclosure_versions,
    flight_disclosure,
    list_disclosures,
    proof_status,
    public_assets,
    public_stats,
    published_questions,
)

__all__ = ["PER_PAGE", "flight_page", "router"]

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
FEED_SIZE = 50
#: Vertices of the route drawn on a page (the record may have more).
MAP_POINTS = 400
VERIFIER = Path(__file__).resolve().parent.parent.parent / "compliance" / "ledger" / "verify.py"


# --- the flight list ---------------------------------------------------------------------------


def _date(text: str, name: str, t: Texts) -> tuple[date | None, str | None]:
    text = text.strip()
    if not text:
        return None, None
    try:
        return date.fromisoformat(text), None
    except ValueError:
        return None, t("error_date", field=t(name), value=text[:40])


def _verdict(t: Texts, verdict: str | None) -> tuple[str, str]:
    classes = {"APPROVED": "good", "AUTHORISATION_REQUIRED": "warn", "REJECTED": "bad"}
    return t.maybe("verdict", verdict or "none"), classes.get(verdict or "", "neutral")


def _conformance(t: Texts, conformance: dict[str, Any]) -> tuple[str, str]:
    conforms = conformance.get("conforms")
    if conforms is True:
        return t("conforms_yes"), "good"
    if conforms is False:
        return t.plural("conforms_no", int(conformance.get("deviations") or 0)), "bad"
    return t("conforms_unknown"), "neutral"


def _defects_text(t: Texts, record: dict[str, Any]) -> str:
    defects = record.get("defects") or {}
    if not defects:
        return t("defects_none_short") if record.get("asset") else "—"
    return ", ".join(f"{t.maybe('defect', k)} {v}" for k, v in sorted(defects.items()))


def _row(t: Texts, row: Disclosure) -> dict[str, Any]:
    r = row.record
    verdict, verdict_class = _verdict(t, r.get("verdict"))
    conformance, conformance_class = _conformance(t, r.get("conformance") or {})
    return {
        "id": row.flight_id,
        "href": f"/flights/{row.flight_id}",
        "date": t.date(r.get("date")),
        "time": t.time(r.get("start")),
        "duration": t.duration(r.get("duration_s")),
        "purpose": r.get("purpose") or "—",
        "asset": (r.get("asset") or {}).get("name") or t("asset_none"),
        "verdict": verdict,
        "verdict_class": verdict_class,
        "conformance": conformance,
        "conformance_class": conformance_class,
        "defects": _defects_text(t, r),
    }


def _page_href(request: Request, page: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "lang")]
    if page > 1:
        params.append(("page", str(page)))
    return "/?" + urlencode(params) if params else "/"


@router.get("/", response_class=HTMLResponse)
def flight_list(request: Request, session: SessionDep) -> HTMLResponse:
    lang, _ = page_language(request)
    t = Texts(lang)
    q = request.query_params
    start, error_from = _date(q.get("from", ""), "filter_from", t)
    end, error_to = _date(q.get("to", ""), "filter_to", t)
    errors = [e for e in (error_from, error_to) if e]
    asset_text = q.get("asset", "").strip()
    asset_id = int(asset_text) if asset_text.isdigit() and 1 <= int(asset_text) <= MAX_ID else None
    if asset_text and asset_id is None:
        errors.append(t("error_asset", value=asset_text[:40]))
    purpose = " ".join(q.get("purpose", "").split())[:200] or None
    page_text = q.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 10**6 else 1
    filters = Filters(start=start, end=end, asset_id=asset_id, purpose=purpose)
    rows, total = list_disclosures(session, filters, PER_PAGE, (page - 1) * PER_PAGE, request.app)
    pages = max(1, math.ceil(total / PER_PAGE))
    if page > pages:  # past the end (the list shrank, or a typed URL): the last page
        page = pages
        offset = (page - 1) * PER_PAGE
        rows, total = list_disclosures(session, filters, PER_PAGE, offset, request.app)
    first = (page - 1) * PER_PAGE + 1
    caption = (
        t("list_caption", first=first, last=first + len(rows) - 1, total=t.number(total))
        if rows
        else ""
    )
    return render_page(
        request,
        "index.html",
        title=t("list_title"),
        section="flights",
        filters={
            "start": start.isoformat() if start else "",
            "end": end.isoformat() if end else "",
            "asset": str(asset_id) if asset_id else "",
            "purpose": purpose or "",
        },
        filtered=any((start, end, asset_id, purpose)),
        assets=public_assets(session),
        error=" ".join(errors) or None,
        rows=[_row(t, r) for r in rows],
        caption=caption,
        page=page,
        pages=pages,
        prev_href=_page_href(request, page - 1) if page > 1 else None,
        next_href=_page_href(request, page + 1) if page < pages else None,
    )


# --- one flight --------------------------------------------------------------------------------


def _altitude(t: Texts, record: dict[str, Any]) -> str:
    band = record.get("altitude_band_m")
    if not band:
        return "—"
    lower, upper = band[0], band[1]
    if upper is None:
        return t("altitude_above", lower=lower)
    return t("altitude_band", lower=lower, upper=upper)


def _facts(t: Texts, row: Disclosure) -> dict[str, Any]:
    r = row.record
    data = r.get("data_collected") or {}
    conformance = r.get("conformance") or {}
    verdict, verdict_class = _verdict(t, r.get("verdict"))
    conformance_text, conformance_class = _conformance(t, conformance)
    asset = r.get("asset")
    return {
        "id": row.flight_id,
        "agency": r.get("agency", ""),
        "unit": r.get("unit", ""),
        "purpose": r.get("purpose") or "—",
        "asset": f"{asset['name']} ({t.maybe('asset_kind', asset.get('kind'))})"
        if asset
        else t("asset_none"),
        "date": t.date(r.get("date")),
        "start": t.time(r.get("start")),
        "end": t.time(r.get("end")),
        "duration": t.duration(r.get("duration_s")),
        "distance": t.distance(r.get("distance_m")),
        "altitude": _altitude(t, r),
        "pilot": t("pilot_role", unit=r.get("unit", "")),
        "source": t.maybe("source", r.get("source")),
        "state": t.maybe("state", r.get("state")),
        "verdict": verdict,
        "verdict_class": verdict_class,
        "authorisations": ", ".join(r.get("authorisations") or []) or t("authorisations_none"),
        "conformance": conformance_text,
        "conformance_class": conformance_class,
        "rule_ids": conformance.get("rule_ids") or [],
        "video": t("yes") if data.get("video") else t("no"),
        "photos": t.number(int(data.get("photos") or 0)),
        "track": t("yes") if data.get("track") else t("no"),
        "retention": t.plural("days", int(r.get("retention_days") or 0)),
        "deletion": t.date(r.get("deletion_date")),
        "deleted": t("data_deleted_on", date=t.date(r["data_deleted_at"][:10]))
        if r.get("data_deleted_at")
        else "",
    }


def _asset_geometry(session: Any, flight_id: int) -> dict[str, Any] | None:
    """The outline of the flight's asset, when the asset is public."""
    flight = session.get(Flight, flight_id)
    plan = session.get(PlanRow, flight.plan_id) if flight and flight.plan_id else None
    asset = session.get(Asset, plan.asset_id) if plan and plan.asset_id else None
    return asset.geometry if asset is not None and asset.public else None


def _figure(t: Texts, row: Disclosure, geometry: dict[str, Any] | None) -> tuple[Any, str]:
    from api.site.svg import route_measures, route_svg

    route = (row.record.get("route") or {}).get("coordinates") or []
    if len(route) < 2:
        return None, ""
    asset = row.record.get("asset")
    length, east_west, north_south = route_measures(route)
    text = t(
        "route_text",
        length=t.distance(length),
        width=t.distance(east_west),
        height=t.distance(north_south),
    )
    if asset:
        text += " " + t("route_text_asset", asset=asset["name"])
    figure = route_svg(
        route,
        geometry,
        ident="route",
        title=t("route_title", n=row.flight_id),
        desc=text,
        distance_text=t.distance,
        north=t("north"),
        max_points=MAP_POINTS,
    )
    return figure, text


def _route_note(t: Texts, record: dict[str, Any]) -> str:
    how = record.get("route_generalisation") or {}
    if not how:
        return ""
    note = t("route_simplified", tolerance=t.number(how.get("tolerance_m", 0)))
    if record.get("route_generalised"):
        note += " " + t(
            "route_snapped",
            n=how.get("snapped", 0),
            near=t.number(how.get("near_m", 0)),
            grid=t.number(how.get("grid_m", 0)),
        )
    return note


def _proof_line(t: Texts, proof: ProofStatus) -> str:
    if proof.state == "verified":
        return t("proof_verified", entry=proof.entry_index, checkpoint=proof.checkpoint)
    if proof.state == "failed":
        return t("proof_failed", entry=proof.entry_index, reason=proof.message)
    if proof.state == "pending" and proof.entry_index is not None:
        return t("proof_awaiting_checkpoint", entry=proof.entry_index)
    if proof.state == "unavailable":
        return t("proof_unavailable")
    return t("proof_not_in_log")


def flight_page(
    request: Request,
    session: Any,
    flight_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    question_text: str = "",
    asked: bool = False,
) -> HTMLResponse:
    """The page of flight ``flight_id`` (404 page when it has no published record).

    :mod:`api.site.questions` renders it again with ``error`` (and the text as typed) when a
    question is refused.
    """
    lang, _ = page_language(request)
    t = Texts(lang)
    row = flight_disclosure(session, flight_id)
    if row is None:
        return not_found_page(request, t("flight_missing", n=flight_id))
    refs, proof = proof_status(request.app, row)
    figure, route_text = _figure(t, row, _asset_geometry(session, flight_id))
    record = row.record
    defects = sorted((record.get("defects") or {}).items())
    if not record.get("asset"):
        defects_none = t("defects_no_public_asset")
    elif not (record.get("data_collected") or {}).get("video"):
        defects_none = t("defects_not_inspected")
    else:
        defects_none = t("defects_none")
    versions = [
        {
            "version": v.version,
            "published": t.date(v.published_at),
            "record_sha256": v.record_sha256,
        }
        for v in disclosure_versions(session, flight_id)
    ]
    questions = [
        q
        | {
            "asked": t.date(q["asked_at"]),
            "after": t.waited(q["answered_after_s"]) if q["answered_after_s"] is not None else "",
        }
        for q in published_questions(session, flight_id)
    ]
    return render_page(
        request,
        "flight.html",
        title=t("flight_n", n=flight_id),
        status=status,
        section="flights",
        f=_facts(t, row),
        figure=figure,
        route_text=route_text,
        route_note=_route_note(t, record),
        has_asset_shape=_asset_geometry(session, flight_id) is not None,
        defects=[(t.maybe("defect", k), t.number(v)) for k, v in defects],
        defects_none=defects_none,
        proof=proof,
        proof_line=_proof_line(t, proof),
        ledger=[r.model_dump() | {"kind_text": t.maybe("kind", r.kind)} for r in refs],
        record_sha256=row.record_sha256,
        version_line=t("version_line", version=row.version, date=t.date(row.published_at)),
        versions=versions,
        corrections=page_corrections(t, session, flight_id),
        questions=questions,
        asked=asked or request.query_params.get("asked") == "1",
        base=_base_url(request),
        public_key=getattr(getattr(request.app.state, "ledger", None), "public_key_hex", None),
        error=error,
        question_text=question_text,
    )


def not_found_page(request: Request, message: str) -> HTMLResponse:
    lang, _ = page_language(request)
    t = Texts(lang)
    return render_page(
        request, "error.html", title=t("not_found_title"), status=404, message=message
    )


@router.get("/flights/{flight_id}", response_class=HTMLResponse)
def flight_detail(flight_id: str, request: Request, session: SessionDep) -> HTMLResponse:
    if not flight_id.isdigit() or not 1 <= int(flight_id) <= MAX_ID:
        t = Texts(page_language(request)[0])
        return not_found_page(request, t("flight_missing", n=flight_id[:20]))
    return flight_page(request, session, int(flight_id))


# --- statistics, verification, the feed --------------------------------------------------------


@router.get("/stats", response_class=HTMLResponse)
def stats_page(request: Request, session: SessionDep) -> HTMLResponse:
    from api.site.svg import bar_chart_svg

    t = Texts(page_language(request)[0])
    stats = public_stats(session, request.app)
    months = [(t.month(m["month"]), m["flights"]) for m in stats["per_month"] if m["month"]]
    short = [(t.month_short(m["month"]), m["flights"]) for m in stats["per_month"] if m["month"]]
    approved = stats["approved_as_planned"]
    questions = stats["questions"]
    chart_desc = "; ".join(f"{label}: {count}" for label, count in months)
    median = questions["median_answer_s"]
    return render_page(
        request,
        "stats.html",
        title=t("stats_heading"),
        section="stats",
        s={
            "flights": t.number(stats["flights"]),
            "approved": t(
                "stat_approved_value",
                share=t.percent(approved["share"]),
                n=t.number(approved["flights"]),
            ),
            "questions": t(
                "stat_questions_value",
                answered=t.number(questions["answered"]),
                published=t.number(questions["published"]),
            ),
            "median": t.waited(median) if median is not None else "—",
            "undisclosed": t.number(stats["undisclosed_flight_entries"]),
        },
        months=months,
        chart=bar_chart_svg(short, ident="months", title=t("h_per_month"), desc=chart_desc)
        if months
        else "",
    )


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, session: SessionDep) -> HTMLResponse:
    t = Texts(page_language(request)[0])
    ledger = getattr(request.app.state, "ledger", None)
    checkpoint = None
    signature_ok = False
    public_key = None
    if ledger is not None:
        from compliance.ledger import verify_checkpoint

        latest = ledger.latest_checkpoint()
        public_key = ledger.public_key_hex
        if latest is not None:
            checkpoint = latest[1]
            signature_ok = verify_checkpoint(checkpoint, public_key)
    size = checkpoint.tree_size if checkpoint is not None else 0
    example_flight, example_index = _example(session, ledger, size)
    signed_at = (
        t.date(datetime.fromtimestamp(checkpoint.timestamp / 1000, UTC))
        + " "
        + t.time(datetime.fromtimestamp(checkpoint.timestamp / 1000, UTC))
        if checkpoint is not None
        else ""
    )
    return render_page(
        request,
        "verify.html",
        title=t("verify_heading"),
        section="verify",
        checkpoint=checkpoint,
        signed_at=signed_at,
        signature_ok=signature_ok,
        public_key=public_key,
        base=_base_url(request),
        example_flight=example_flight,
        example_index=example_index,
        example_size=max(size, 1),
    )


def _example(session: Any, ledger: Any, size: int) -> tuple[int, int]:
    """The newest published flight and its record's log entry, for the examples (the last
    entry when it has none yet)."""
    public = exists().where(Flight.id == Disclosure.flight_id, Flight.public == true())
    newest = session.scalars(
        select(Disclosure).where(public).order_by(Disclosure.id.desc()).limit(1)
    ).first()
    if newest is None:
        return 1, max(size - 1, 0)
    index = max(size - 1, 0)
    if ledger is not None:
        for at, kind, entry in ledger.entries_for(f"flight:{newest.flight_id}"):
            data = entry.get("data") or {}
            if kind == "disclosure_published" and data.get("version") == newest.version:
                index = at if at < max(size, 1) else index
    return newest.flight_id, index


@router.get("/verify.py")
def verifier() -> Response:
    """The standalone verifier (compliance/ledger/verify.py), to download."""
    if not VERIFIER.is_file():
        return Response(
            "the verifier is not installed on this server\n",
            status_code=404,
            media_type="text/plain; charset=utf-8",
        )
    return Response(
        VERIFIER.read_bytes(),
        media_type="text/x-python; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="verify.py"',
            "Cache-Control": "public, max-age=300",
        },
    )


@router.get("/feed.atom")
def feed(request: Request, session: SessionDep) -> Response:
    """Atom 1.0: the newest published records (each version an entry)."""
    from api.site.feed import atom_feed

    t = Texts(page_language(request)[0])
    public = exists().where(Flight.id == Disclosure.flight_id, Flight.public == true())
    statement = (
        select(Disclosure)
        .where(public)
        .order_by(Disclosure.id.desc())  # the order they were published in
        .limit(FEED_SIZE)
    )
    rows = list(session.scalars(statement))
    body = atom_feed(
        rows,
        t,
        base=_base_url(request),
        host=request.url.hostname or "localhost",
        agency=request.app.state.settings.agency,
    )
    return Response(
        body,
        media_type="application/atom+xml; charset=utf-8",
        headers={"Cache-Control": "public, max-age=60", "Vary": "Accept-Language, Cookie"},
    )
