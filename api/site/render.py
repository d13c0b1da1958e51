"""Rendering the public pages: the Jinja2 environment (built on first use, autoescaped) and
the answer every page shares (language, switch links, cookie, headers).

Templates live in ``api/templates``. Pages carry no script and no ``style`` attribute (the
Content-Security-Policy allows neither); presentation is ``/static/site.css``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from api.site.i18n import LANGUAGE_COOKIE, LANGUAGES, Texts, choose_language

if TYPE_CHECKING:
    import jinja2
    from fastapi import Request
    from fastapi.responses import HTMLResponse

__all__ = ["TEMPLATES", "environment", "page_language", "render_page", "switch_links"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
#: How long a page may be reused (it changes as flights are published and proofs grow).
PAGE_MAX_AGE_S = 2
#: How long the language cookie lasts.
COOKIE_MAX_AGE_S = 365 * 24 * 3600


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates' environment: autoescaped, undefined names are errors."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_language(request: Request) -> tuple[str, bool]:
    """The request's language, and whether it came from ``?lang=`` (to be remembered)."""
    asked = request.query_params.get("lang")
    lang = choose_language(
        asked, request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    return lang, asked is not None and asked.lower() == lang


def switch_links(request: Request, lang: str) -> list[dict[str, Any]]:
    """The language switch: this page in each language (its other parameters kept)."""
    links = []
    for code, name in LANGUAGES.items():
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        params.append(("lang", code))
        links.append(
            {
                "code": code,
                "name": name,
                "href": f"{request.url.path}?{urlencode(params)}",
                "current": code == lang,
            }
        )
    return links


def _secure(request: Request) -> bool:
    configured = getattr(request.app.state.settings, "secure_cookies", None)
    return request.url.scheme == "https" if configured is None else bool(configured)


def render_page(
    request: Request,
    template: str,
    *,
    title: str,
    lang: str | None = None,
    status: int = 200,
    section: str = "",
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` in the request's language (see :func:`page_language`)."""
    from fastapi.responses import HTMLResponse

    chosen, remember = page_language(request)
    lang = lang or chosen
    settings = request.app.state.settings
    body = (
        environment()
        .get_template(template)
        .render(
            t=Texts(lang),
            lang=lang,
            title=title,
            section=section,
            languages=switch_links(request, lang),
            agency=settings.agency,
            unit=settings.unit,
            contact=settings.contact,
            **context,
        )
    )
    response = HTMLResponse(body, status_code=status)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    if remember and request.cookies.get(LANGUAGE_COOKIE) != lang:
        response.set_cookie(
            LANGUAGE_COOKIE,
            lang,
            max_age=COOKIE_MAX_AGE_S,
            path="/",
            samesite="lax",
            httponly=True,
            secure=_secure(request),
        )
        response.headers["Cache-Control"] = "private, no-cache"
    else:
        response.headers["Cache-Control"] = f"public, max-age={PAGE_MAX_AGE_S}"
    return response
