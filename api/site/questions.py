"""The question form of a flight's public page: ``POST /flights/{flight_id}/questions``.

The flight page (:mod:`api.site.pages`) holds a plain HTML form (no JavaScript) with the
fields ``text`` (the question), ``lang`` (hidden: the page's language) and ``website`` (a
honeypot, hidden from people: a form that fills it in is a robot's). This route:

- takes a question (:func:`api.work.questions.ask`) and answers ``303 See Other`` to
  ``/flights/{id}?asked=1#questions``, where the page thanks the citizen;
- answers a filled-in honeypot the same way, storing nothing;
- answers a question it cannot take with a small page of its own in the form's language
  (the reason in one line, and the form again with the text kept so nothing typed is lost):
  422 for a text out of bounds, 404 for a flight that is not published, 429 past the hourly
  limit per address (:func:`api.routes.questions.question_limit`, with ``Retry-After``), 403
  for a form sent from another site (its ``Origin`` header names another host).
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.routes.common import IdPath

__all__ = ["MESSAGES", "router"]

router = APIRouter(tags=["site"], include_in_schema=False)

#: The form's largest field, in bytes (the question itself is at most 2000 characters).
MAX_FIELD_BYTES = 64 * 1024

#: This page's own few words, in each of the site's languages.
MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your question was not sent",
        "skip": "Skip to the main content",
        "site": "Public drone flights",
        "back": "Back to flight {flight_id}",
        "switch": "Language",
        "label": "Your question about flight {flight_id} (10 to 2000 characters)",
        "hint": "Do not write your name, e-mail address or phone number: e-mail addresses "
        "and phone numbers are removed before a question is published.",
        "send": "Send the question",
        "honeypot": "Leave this field empty",
        "length": "Your question has {length} characters; please write between {minimum} "
        "and {maximum}.",
        "characters": "Your question contains a character that cannot be published "
        "(U+{code}); please remove it.",
        "missing": "Flight {flight_id} is not published, so it cannot take questions.",
        "rate": "This address has sent {limit} questions in the last hour; please try again "
        "in {minutes} minutes.",
        "origin": "This form can only be sent from this site's own pages.",
        "invalid": "The question could not be taken: {reason}",
    },
    "es": {
        "title": "Tu pregunta no se ha enviado",
        "skip": "Saltar al contenido principal",
        "site": "Vuelos públicos de drones",
        "back": "Volver al vuelo {flight_id}",
        "switch": "Idioma",
        "label": "Tu pregunta sobre el vuelo {flight_id} (de 10 a 2000 caracteres)",
        "hint": "No escribas tu nombre, correo electrónico ni teléfono: los correos y los "
        "teléfonos se eliminan antes de publicar una pregunta.",
        "send": "Enviar la pregunta",
        "honeypot": "Deja este campo vacío",
        "length": "Tu pregunta tiene {length} caracteres; escribe entre {minimum} y {maximum}.",
        "characters": "Tu pregunta contiene un carácter que no se puede publicar (U+{code}); "
        "quítalo, por favor.",
        "missing": "El vuelo {flight_id} no está publicado y no admite preguntas.",
        "rate": "Desde esta dirección se han enviado {limit} preguntas en la última hora; "
        "vuelve a intentarlo dentro de {minutes} minutos.",
        "origin": "Este formulario solo se puede enviar desde las páginas de este sitio.",
        "invalid": "No se ha podido aceptar la pregunta: {reason}",
    },
}
_LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def _language(value: Any) -> str:
    lang = str(value or "").strip().lower().split("-")[0]
    return lang if lang in MESSAGES else "en"


def _page(flight_id: int, lang: str, message: str, text: str | None, status: int) -> HTMLResponse:
    """The "not sent" page: the reason and (when ``text`` is not None) the form again."""
    words = MESSAGES[lang]
    e = html.escape
    current = ' aria-current="true"'
    switch = " ".join(
        f'<a href="/flights/{flight_id}?lang={code}" hreflang="{code}" lang="{code}"'
        f"{current if code == lang else ''}>{e(name)}</a>"
        for code, name in _LANGUAGE_NAMES.items()
    )
    form = ""
    if text is not None:
        form = f"""
<form method="post" action="/flights/{flight_id}/questions" class="question-form">
  <p><label for="question-text">{e(words["label"].format(flight_id=flight_id))}</label></p>
  <p id="question-hint">{e(words["hint"])}</p>
  <p><textarea id="question-text" name="text" rows="6" cols="60" minlength="10"
   maxlength="2000" required aria-describedby="question-hint">{e(text)}</textarea></p>
  <input type="hidden" name="lang" value="{lang}">
  <div hidden><label for="question-website">{e(words["honeypot"])}</label>
   <input id="question-website" name="website" type="text" tabindex="-1" autocomplete="off">
  </div>
  <p><button type="submit">{e(words["send"])}</button></p>
</form>"""
    body = f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(words["title"])} · {e(words["site"])}</title>
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<a class="skip-link" href="#main">{e(words["skip"])}</a>
<header>
<p><a href="/">{e(words["site"])}</a></p>
<nav aria-label="{e(words["switch"])}"><p>{switch}</p></nav>
</header>
<main id="main" tabindex="-1">
<h1>{e(words["title"])}</h1>
<p role="alert">{e(message)}</p>{form}
<p><a href="/flights/{flight_id}#questions">{e(words["back"].format(flight_id=flight_id))}</a></p>
</main>
</body>
</html>
"""
    return HTMLResponse(body, status_code=status)


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


def _message(exc: Exception, words: dict[str, str], flight_id: int, text: str) -> str:
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

    from api.work.errors import Invalid, Missing

    form = await request.form(max_files=0, max_fields=20, max_part_size=MAX_FIELD_BYTES)
    text_value, lang_value = form.get("text"), form.get("lang")
    honeypot = form.get("website")
    text = text_value if isinstance(text_value, str) else ""
    lang = _language(lang_value)
    words = MESSAGES[lang]
    if _other_origin(request):
        return _page(flight_id, lang, words["origin"], None, 403)
    thanks = RedirectResponse(f"/flights/{flight_id}?asked=1#questions", status_code=303)
    if isinstance(honeypot, str) and honeypot.strip():
        return thanks  # a robot filled in the field people never see: accepted, not kept
    try:
        await run_in_threadpool(_ask, request, flight_id, text, lang)
    except Missing:
        return _page(flight_id, lang, words["missing"].format(flight_id=flight_id), None, 404)
    except Invalid as exc:
        return _page(flight_id, lang, _message(exc, words, flight_id, text), text, 422)
    except HTTPException as exc:
        if exc.status_code != 429:
            raise
        retry = (exc.headers or {}).get("Retry-After", "60")
        from api.routes.questions import QUESTIONS_PER_HOUR

        message = words["rate"].format(
            limit=QUESTIONS_PER_HOUR, minutes=max(1, -(-int(retry) // 60))
        )
        page = _page(flight_id, lang, message, text, 429)
        page.headers["Retry-After"] = retry
        return page
    return thanks
