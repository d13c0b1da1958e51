"""Who is asking: API tokens, staff browser sessions and their CSRF tokens.

A token is ``<token id>.<secret>``. The database keeps the id, a random salt and
SHA-256(salt || secret), never the secret, so a copy of the database lets nobody act as a
user. The secret is 32 random bytes, so one salted hash is as strong as a slow one would be.
Staff pages log in with the token once and then carry a session cookie (HttpOnly,
SameSite=Lax, Secure over HTTPS); a form sent with the cookie must also carry the session's
CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.storage.models import ROLES, User, WebSession, utcnow

__all__ = [
    "SESSION_COOKIE",
    "AuthError",
    "add_user",
    "authenticate",
    "end_session",
    "session_user",
    "start_session",
]

SESSION_COOKIE = "skyledger_session"
SESSION_TTL = timedelta(hours=12)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class AuthError(ValueError):
    """A user cannot be made or a credential is malformed; the message is one line."""


@dataclass(frozen=True)
class NewUser:
    user: User
    token: str  # shown once, never stored


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def add_user(session: Session, name: str, role: str) -> NewUser:
    """Add a user with a fresh token; :class:`AuthError` for a bad name, role or a taken name."""
    if not NAME_RE.fullmatch(name):
        raise AuthError(
            f"user name {name!r} must be 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if role not in ROLES:
        raise AuthError(f"role {role!r} must be one of {', '.join(ROLES)}")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise AuthError(f"user {name!r} already exists")
    token_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
    user = User(
        name=name, role=role, token_id=token_id, token_salt=salt, token_hash=_hash(salt, secret)
    )
    session.add(user)
    session.flush()
    return NewUser(user, f"{token_id}.{secret}")


def authenticate(session: Session, token: str) -> User | None:
    """The enabled user ``token`` belongs to, or None."""
    token_id, dot, secret = token.partition(".")
    if not dot or not token_id or not secret or len(token) > 200:
        return None
    user = session.scalar(select(User).where(User.token_id == token_id))
    if user is None or user.disabled:
        return None
    if not hmac.compare_digest(user.token_hash, _hash(user.token_salt, secret)):
        return None
    return user


def start_session(session: Session, user: User) -> WebSession:
    """A new browser session for ``user``."""
    web = WebSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        csrf=secrets.token_urlsafe(32),
        expires_at=utcnow() + SESSION_TTL,
    )
    session.add(web)
    session.flush()
    return web


def session_user(session: Session, cookie: str) -> tuple[User, WebSession] | None:
    """The user and session of a session cookie that has not expired, or None."""
    if not cookie or len(cookie) > 100:
        return None
    web = session.get(WebSession, cookie)
    if web is None or web.expires_at <= utcnow():
        return None
    user = session.get(User, web.user_id)
    if user is None or user.disabled:
        return None
    return user, web


def end_session(session: Session, cookie: str) -> None:
    web = session.get(WebSession, cookie)
    if web is not None:
        session.delete(web)
