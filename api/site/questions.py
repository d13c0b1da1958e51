"""The question form of a flight's public page: ``POST /flights/{flight_id}/questions``.

The flight page (:mod:`api.site.pages`) holds a plain HTML form (no JavaScript) with the
fields ``text`` (the question), ``lang`` (hidden: the page's language) and ``website`` (a
honeypot, hidden from people: a form that fills it in is a robot's). This route:

- takes a question (:func:`api.work.questions.ask`) and answers ``303 See Other`` to
  ``/flights/{id}?asked=1#questions``, where the page thanks the citizen;
- answers a filled-in honeypot the same way, storing nothing;
- answers a question it cannot take with the flight's page again
  (:func:`api.site.pages.flight_page`), the reason in one line above the form and the text
  as typed in it, so nothing is lost: 422 for a text out of bounds, 429 past the hourly limit
  per address (:func:`api.routes.questions.question_limit`, with ``Retry-After``), 403 for a
  form sent from another site (its ``Origin`` header names another host); a flight that is
  not published is the site's 404 page.

The staff's pages to review and answer questions in a browser (``/staff/questions``) live
in :mod:`api.site.staff` and are mounted with this router.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.routes.common import IdPath
from api.site import staff

__all__ = ["MESSAGES", "router"]

router = APIRouter(tags=["site"], include_in_schema=False)
router.include_router(staff.router)  # the staff's review and answer pages

#: The form's largest field, in bytes (the question itself is at most 2000 characters).
MAX_FIELD_BYTES = 64 * 1024

#: Why a question was not taken, in each of the site's languages.
MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "length": "Your question has {length} characters; please write between {minimum} "
        "and {maximum}.",
        "characters": "Your question contains a character that cannot be published "
        "(U+{code}); please remove it.",
        "rate": "This address has sent {limit} questions in the last hour; please try again "
        "in {minutes} minutes.",
        "origin": "This form can only be sent from this site's own pages.",
        "invalid": "The question could not be taken: {reason}",
    },
    "es": {
        "length": "Tu pregunta tiene {length} caracteres; escribe entre {minimum} y {maximum}.",
        "characters": "Tu pregunta contiene un carácter que no se puede publicar (U+{code}); "
        "quítalo, por favor.",
        "rate": "Desde esta dirección se han enviado {limit} preguntas en la última hora; "
        "vuelve a intentarlo dentro de {minutes} minutos.",
        "origin": "Este formulario solo se puede enviar desde las páginas de este sitio.",
        "invalid": "No se ha podido aceptar la pregunta: {reason}",
    },
}


def _language(value: object) -> str:
    lang = str(value or "").strip().lower().split("-")[0]
    return lang if lang in MESSAGES else "en"


def _other_origin(request: Request) -> bool:
    """Whether the form came from another site (an ``Origin`` that names another host)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return False
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc.lower() != host.lower()


def _ask(request: Request, flight_id: int, text: str, lang: str) -> None:
    """Check, count and store the question (in a worker thread: the database is blocking)."""
    from api.routes.questions import question_limit
    from api.work import questions

    with request.app.state.db.session() as session:
        questions.check_question(session, flight_id, text, lang)
        question_limit(request)
        questions.ask(session, flight_id, text, lang)


def _again(request: Request, flight_id: int, status: int, error: str, text: str) -> HTMLResponse:
    """The flight's page again, with ``error`` above the form and ``text`` in it (the site's
    404 page for a flight that is not published)."""
    from api.site.pages import flight_page

    with request.app.state.db.session() as session:
        page = flight_page(
            request, session, flight_id, status=status, error=error, question_text=text
        )
    page.headers["Cache-Control"] = "no-store"
    return page


def _message(exc: Exception, words: dict[str, str], text: str) -> str:
    from api.work import questions

    stripped = text.replace("\r\n", "\n").strip()
    if not questions.MIN_TEXT <= len(stripped) <= questions.MAX_TEXT:
        return words["length"].format(
            length=len(stripped), minimum=questions.MIN_TEXT, maximum=questions.MAX_TEXT
        )
    reason = " ".join(str(exc).split())
    if "U+" in reason:
        return words["characters"].format(code=reason.split("U+")[1][:6].rstrip(")"))
    return words["invalid"].format(reason=reason)


@router.post("/flights/{flight_id}/questions", response_model=None)
async def ask_from_page(flight_id: IdPath, request: Request) -> Response:
    """Take a question from the flight page's form (see the module's docstring)."""
    from starlette.concurrency import run_in_threadpool

    from api.routes.questions import QUESTIONS_PER_HOUR
    from api.site.render import page_language
    from api.work.errors import Invalid, Missing

    form = await request.form(max_files=0, max_fields=20, max_part_size=MAX_FIELD_BYTES)
    text_value, honeypot = form.get("text"), form.get("website")
    text = text_value if isinstance(text_value, str) else ""
    lang = _language(form.get("lang"))  # the language the page was in, so the question's
    words = MESSAGES[_language(page_language(request)[0])]  # the page it will come back in
    if _other_origin(request):
        return await run_in_threadpool(_again, request, flight_id, 403, words["origin"], "")
    thanks = RedirectResponse(f"/flights/{flight_id}?asked=1#questions", status_code=303)
    if isinstance(honeypot, str) and honeypot.strip():
        return thanks  # a robot filled in the field people never see: accepted, not kept
    try:
        await run_in_threadpool(_ask, request, flight_id, text, lang)
    except Missing:
        return await run_in_threadpool(_again, request, flight_id, 404, "", "")
    except Invalid as exc:
        message = _message(exc, words, text)
        return await run_in_threadpool(_again, request, flight_id, 422, message, text)
    except HTTPException as exc:
        if exc.status_code != 429:
            raise
        retry = (exc.headers or {}).get("Retry-After", "60")
        minutes = max(1, -(-int(retry) // 60))
        message = words["rate"].format(limit=QUESTIONS_PER_HOUR, minutes=minutes)
        page = await run_in_threadpool(_again, request, flight_id, 429, message, text)
        page.headers["Retry-After"] = retry
        return page
    return thanks
