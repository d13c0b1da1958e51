"""Routes: who am I, the admins' user list, and the staff's browser login.

- ``GET /api/me``: the signed-in user (any role; 401 for the public).
- ``GET /api/users``, ``POST /api/users``, ``POST /api/users/{user_id}/disable``: admins only.
  A new user's API token is in the answer to ``POST`` and nowhere else, ever: the database
  keeps a salted hash of it.
- ``POST /api/session`` (form field ``token``) logs a staff member's browser in: it sets the
  session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) and answers the CSRF token that
  forms sent with the cookie must carry. ``DELETE /api/session`` logs out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from api import auth
from api.deps import AdminDep, ReaderDep, SessionDep, SettingsDep, UserDep
from api.routes.common import IdPath, Page, PagingDep, fetch_page, get_or_404
from api.storage.models import User, WebSession

router = APIRouter(tags=["users"])

Role = Literal["crew", "regulator", "admin"]


class UserPublic(BaseModel):
    """A user as the API shows it (never the token's salt or hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls.model_validate(user)


class UserCreate(BaseModel):
    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=f"^{auth.NAME_RE.pattern}$",
        description="1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    )
    role: Role


class NewUserOut(BaseModel):
    """A new user and its API token, shown this once."""

    user: UserPublic
    token: str = Field(description="the API token; it is not stored and cannot be shown again")


class SessionOut(BaseModel):
    """A browser session: who signed in, and the CSRF token its forms must carry."""

    user: UserPublic
    csrf: str


@router.get("/me", response_model=UserPublic)
def me(user: ReaderDep) -> UserPublic:
    """The signed-in user."""
    return UserPublic.of(user)


@router.get("/users", response_model=Page[UserPublic])
def list_users(session: SessionDep, admin: AdminDep, paging: PagingDep) -> Page[UserPublic]:
    """Every user, oldest first."""
    return fetch_page(session, select(User).order_by(User.id), paging, UserPublic.of)


@router.post("/users", response_model=NewUserOut, status_code=201)
def add_user(body: UserCreate, session: SessionDep, admin: AdminDep) -> NewUserOut:
    """Add a user; the answer holds its API token, which is never shown again."""
    if session.scalar(select(User.id).where(User.name == body.name)) is not None:
        raise HTTPException(409, f"user name {body.name!r} is taken; choose another")
    try:
        made = auth.add_user(session, body.name, body.role)
        session.commit()
    except IntegrityError:  # added at the same moment by another request
        session.rollback()
        raise HTTPException(409, f"user name {body.name!r} is taken; choose another") from None
    return NewUserOut(user=UserPublic.of(made.user), token=made.token)


@router.post("/users/{user_id}/disable", response_model=UserPublic)
def disable_user(user_id: IdPath, session: SessionDep, admin: AdminDep) -> UserPublic:
    """Disable a user: its token and browser sessions stop working at once."""
    user = get_or_404(session, User, user_id, "user")
    if user.id == admin.id:
        raise HTTPException(409, "you cannot disable your own user; ask another admin")
    user.disabled = True
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.commit()
    return UserPublic.of(user)


def _secure(request: Request, secure_cookies: bool | None) -> bool:
    return request.url.scheme == "https" if secure_cookies is None else secure_cookies


def _same_origin(request: Request) -> bool:
    """False when the browser says the form came from another site (login CSRF)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


@router.post("/session", response_model=SessionOut)
def login(
    token: Annotated[str, Form(max_length=200, description="your API token")],
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
) -> SessionOut:
    """Sign a browser in with an API token: sets the session cookie, answers the CSRF token."""
    if not _same_origin(request):
        raise HTTPException(403, "a login form sent from another site is refused")
    user = auth.authenticate(session, token.strip())
    if user is None:
        raise HTTPException(401, "token: not a valid API token (it may have been revoked)")
    old = request.cookies.get(auth.SESSION_COOKIE)
    if old and len(old) <= 100:
        auth.end_session(session, old)
    web = auth.start_session(session, user)
    session.commit()
    response.set_cookie(
        auth.SESSION_COOKIE,
        web.id,
        max_age=int(auth.SESSION_TTL.total_seconds()),
        path="/",
        secure=_secure(request, settings.secure_cookies),
        httponly=True,
        samesite="lax",
    )
    return SessionOut(user=UserPublic.of(user), csrf=web.csrf)


@router.delete("/session", status_code=204)
def logout(request: Request, session: SessionDep, settings: SettingsDep, user: UserDep) -> Response:
    """Sign the browser out (with the CSRF token when it sends the session cookie)."""
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie and len(cookie) <= 100:
        auth.end_session(session, cookie)
        session.commit()
    response = Response(status_code=204)
    response.delete_cookie(
        auth.SESSION_COOKIE,
        path="/",
        secure=_secure(request, settings.secure_cookies),
        httponly=True,
        samesite="lax",
    )
    return response
