"""The staff's questions page: review and answer citizens' questions in a browser.

- ``GET /staff/questions``: signed in (the staff session cookie), the questions waiting for
  review, those waiting for an answer and the latest answered, each as asked and as it is
  (or would be) published. Crews and admins get a form on each; regulators read. Not signed
  in: a sign-in form (the user's API token).
- ``POST /staff/session`` (``token``): signs the browser in (the same session as
  ``POST /api/session``) and goes back to the list; ``POST /staff/signout`` signs it out.
- ``POST /staff/questions/{id}/review`` (``publish`` yes or no, ``note``) and
  ``POST /staff/questions/{id}/answer`` (``text``): the work of :mod:`api.work.questions`,
  then ``303`` back to the list; a step that cannot be done shows the list again with the
  reason. Every form carries the session's CSRF token (field ``csrf``), checked by
  :func:`api.deps.current_user`; a sign-in form sent from another site is refused.

The template ``staff.html``, no script, in English (the staff's pages; the public site is bilingual). Mounted
by :mod:`api.site.questions`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from api.deps import SessionDep, UserDep
from api.routes.common import IdPath

__all__ = ["router"]

router = APIRouter(tags=["site"], include_in_schema=False)

LIST = "/staff/questions"
STAFF_ROLES = ("crew", "admin")
ANSWERED_SHOWN = 20


def _render(status: int = 200, message: str = "", **context: Any) -> HTMLResponse:
    """``staff.html`` (the sign-in form when ``context`` has no user)."""
    from api.site.render import environment

    values = {"user": None, "csrf": "", "may_change": False, "sections": []} | context
    page = environment().get_template("staff.html").render(message=message, took=_took, **values)
    response = HTMLResponse(page, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _sign_in(message: str = "", status: int = 200) -> HTMLResponse:
    return _render(status, message)


def _cross_site(request: Request) -> bool:
    """Whether the browser says the form came from another site (or hides where from)."""
    from urllib.parse import urlsplit

    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


def _secure(request: Request, configured: bool | None) -> bool:
    return request.url.scheme == "https" if configured is None else configured


def _took(question: Any) -> str:
    """How long ``question`` waited for its answer (h:mm:ss)."""
    return str(timedelta(seconds=int((question.answered_at - question.asked_at).total_seconds())))


def _list(request: Request, session: Any, message: str = "", status: int = 200) -> HTMLResponse:
    """The questions page for the signed-in user (the sign-in form for anyone else)."""
    from api import auth
    from api.storage.models import Question

    found = auth.session_user(session, request.cookies.get(auth.SESSION_COOKIE, ""))
    if found is None:
        return _sign_in("Your session has ended; sign in again." if message else "", status)
    user, web = found
    csrf = web.csrf if user.role in STAFF_ROLES else None

    def questions(*where: Any, newest: bool = False, limit: int | None = None) -> list[Any]:
        order = Question.answered_at.desc() if newest else Question.id
        statement = select(Question).where(*where).order_by(order)
        return list(session.scalars(statement.limit(limit) if limit else statement))

    sections = [
        ("Waiting for review", "review", questions(Question.state == "pending")),
        (
            "Waiting for an answer",
            "answer",
            questions(Question.state == "published", Question.answer.is_(None)),
        ),
        (
            f"Answered (the latest {ANSWERED_SHOWN})",
            "",
            questions(Question.answer.is_not(None), newest=True, limit=ANSWERED_SHOWN),
        ),
    ]
    return _render(
        status, message, user=user, csrf=web.csrf, may_change=csrf is not None, sections=sections
    )


@router.get(LIST, response_class=HTMLResponse)
def staff_questions(request: Request, session: SessionDep) -> HTMLResponse:
    """The staff's questions page (see the module's docstring)."""
    return _list(request, session)


@router.post("/staff/session", response_model=None)
def sign_in(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Sign the browser in with an API token; back to the list."""
    from api import auth

    if _cross_site(request):
        return _sign_in("A sign-in form sent from another site is refused.", 403)
    if not token.strip():
        return _sign_in("Paste your API token to sign in.", 422)
    user = auth.authenticate(session, token.strip())
    if user is None:
        return _sign_in("That is not a valid API token (it may have been revoked).", 401)
    old = request.cookies.get(auth.SESSION_COOKIE)
    if old and len(old) <= 100:
        auth.end_session(session, old)
    web = auth.start_session(session, user)
    session.commit()
    response = RedirectResponse(LIST, status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        web.id,
        max_age=int(auth.SESSION_TTL.total_seconds()),
        path="/",
        secure=_secure(request, request.app.state.settings.secure_cookies),
        httponly=True,
        samesite="lax",
    )
    return response


@router.post("/staff/signout", response_model=None)
def sign_out(request: Request, session: SessionDep, user: UserDep) -> Response:
    """Sign the browser out (the form carries the CSRF token); back to the sign-in form."""
    from api import auth

    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie and len(cookie) <= 100:
        auth.end_session(session, cookie)
        session.commit()
    response = RedirectResponse(LIST, status_code=303)
    response.delete_cookie(
        auth.SESSION_COOKIE,
        path="/",
        secure=_secure(request, request.app.state.settings.secure_cookies),
        httponly=True,
        samesite="lax",
    )
    return response


def _step(request: Request, session: Any, user: Any, question_id: int, do: Any) -> Response:
    from api.work.errors import WorkError

    if user is None:
        return _sign_in("Sign in to review and answer questions.", 401)
    if user.role not in STAFF_ROLES:
        return _list(
            request, session, f"A {user.role} may read the questions but not change them.", 403
        )
    try:
        do(user)
    except WorkError as exc:
        session.rollback()
        return _list(request, session, " ".join(str(exc).split()), exc.status)
    session.commit()
    return RedirectResponse(f"{LIST}#q-{question_id}", status_code=303)


@router.post("/staff/questions/{question_id}/review", response_model=None)
def review(
    question_id: IdPath,
    request: Request,
    session: SessionDep,
    user: UserDep,
    publish: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Publish (``publish=yes``) or reject (``no``) a pending question (crew, admin)."""
    from api.work import questions
    from api.work.errors import Invalid

    def do(staff: Any) -> None:
        if publish not in ("yes", "no"):
            raise Invalid(f"publish {publish[:10]!r} must be 'yes' or 'no'")
        questions.review(session, question_id, staff, publish == "yes", note)

    return _step(request, session, user, question_id, do)


@router.post("/staff/questions/{question_id}/answer", response_model=None)
def answer(
    question_id: IdPath,
    request: Request,
    session: SessionDep,
    user: UserDep,
    text: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Answer a published question (crew, admin)."""
    from api.work import questions

    return _step(
        request,
        session,
        user,
        question_id,
        lambda staff: questions.answer(session, question_id, staff, text),
    )
