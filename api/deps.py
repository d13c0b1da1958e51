"""FastAPI dependencies, as ``Annotated`` aliases the routes declare in their signatures.

``UserDep`` is the caller (None for the public), from ``Authorization: Bearer TOKEN`` or a
staff session cookie. A token that is present but wrong is a 401, never a silent downgrade
to public. A state-changing request made with the cookie must carry the session's CSRF token
(header ``X-CSRF-Token`` or form field ``csrf``). ``require(...)`` admits only some roles: no
credentials is a 401, the wrong role a 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from api import auth
from api.settings import Settings
from api.storage.models import User

__all__ = [
    "AdminDep",
    "BlobsDep",
    "CrewDep",
    "JobsDep",
    "ReaderDep",
    "RegulatorDep",
    "SessionDep",
    "SettingsDep",
    "UserDep",
    "require",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A database session for the request, committed when the route returns normally."""
    with request.app.state.db.session() as session:
        yield session


def get_blobs(request: Request) -> Any:
    return request.app.state.blobs


def get_jobs(request: Request) -> Any:
    return request.app.state.jobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
BlobsDep = Annotated[Any, Depends(get_blobs)]
JobsDep = Annotated[Any, Depends(get_jobs)]


def unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def _csrf_sent(request: Request) -> str:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf")
        return value if isinstance(value, str) else ""
    return ""


async def current_user(request: Request, session: SessionDep) -> User | None:
    """The caller, or None for the public (see the module's docstring)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorised("Authorization header must be 'Bearer TOKEN'")
        user = auth.authenticate(session, token.strip())
        if user is None:
            raise unauthorised("the API token is not valid (it may have been revoked)")
        return user
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if not cookie:
        return None
    found = auth.session_user(session, cookie)
    if found is None:
        return None  # an expired session is the public; pages offer the login again
    user, web = found
    if request.method not in SAFE_METHODS:
        sent = await _csrf_sent(request)
        if not sent or sent != web.csrf:
            await request.close()  # closes the form read for the token (its spooled files)
            raise HTTPException(403, "the form's CSRF token is missing or wrong; reload the page")
    return user


UserDep = Annotated[User | None, Depends(current_user)]


def require(*roles: str) -> Callable[..., User]:
    """A dependency that admits users with one of ``roles`` (401 without credentials)."""

    def dependency(user: UserDep) -> User:
        if user is None:
            raise unauthorised(f"this needs an API token of a {' or '.join(roles)} user")
        if user.role not in roles:
            raise HTTPException(
                403, f"a {user.role} user may not do this (it needs {' or '.join(roles)})"
            )
        return user

    return dependency


#: Crews create and fly; admins can do what crews can.
CrewDep = Annotated[User, Depends(require("crew", "admin"))]
#: Every signed-in role may read non-public records.
ReaderDep = Annotated[User, Depends(require("crew", "regulator", "admin"))]
RegulatorDep = Annotated[User, Depends(require("regulator", "admin"))]
AdminDep = Annotated[User, Depends(require("admin"))]
