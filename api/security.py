"""Security headers on every answer, and a rate limit on writes by the public.

:func:`install` adds one ASGI middleware to the app:

- Every response carries ``Content-Security-Policy`` (only our own origin: no inline script
  or style, no framing, no ``<base>``, forms post only to us), ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy: same-origin``, ``X-Frame-Options: DENY`` and, when the request
  came over HTTPS, ``Strict-Transport-Security``. A header a route set itself is kept.
- A write (any method but GET, HEAD, OPTIONS) not made by a signed-in user is counted per
  client address; past ``settings.rate_limit_per_minute`` it is answered 429 with
  ``Retry-After`` before it reaches a route. "Signed in" means a valid API token or a live
  session cookie: a made-up ``Authorization`` header or cookie does not escape the limit (it
  is checked with one indexed lookup, and only on writes that carry one). A limit of 0 or
  less turns the limiter off.

The counting sits behind :class:`RateLimiter` (one method, ``hit``), so a shared store (Redis,
the database) can replace the in-memory :class:`MemoryRateLimiter` when the service runs as
several processes; with ``--workers N`` each process keeps its own counts.

FastAPI's interactive ``/docs`` and ``/redoc`` pages are removed (``/openapi.json`` stays):
they load their scripts from a public CDN and run an inline script, which this policy
forbids on purpose; executable code from a third party on the origin that holds the staff's
session cookie is a risk, and the CDN cannot be reached on an offline deployment anyway. Any
OpenAPI viewer can read ``/openapi.json``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from api.settings import Settings

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "MemoryRateLimiter",
    "RateLimiter",
    "SecurityMiddleware",
    "install",
    "security_headers",
]

log = logging.getLogger("skyledger.api")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def security_headers(https: bool) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries (HSTS only over HTTPS)."""
    headers = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    ]
    if https:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


class RateLimiter(Protocol):
    """Counts requests per key; a shared store can stand in for the in-memory one."""

    def hit(self, key: str) -> float | None:
        """Count one request for ``key``: None if it is allowed, else seconds to wait."""
        ...


class MemoryRateLimiter:
    """A token bucket per key, in this process's memory; thread-safe and bounded.

    Each key may make ``per_minute`` requests at once and regains one every
    ``60 / per_minute`` seconds. At most ``max_keys`` keys are kept: a key whose bucket has
    filled up again is the same as a key never seen, so those go first, then the key used
    longest ago.

    >>> limiter = MemoryRateLimiter(2, clock=lambda: 0.0)
    >>> limiter.hit("a"), limiter.hit("a"), limiter.hit("a")
    (None, None, 30.0)
    """

    def __init__(
        self,
        per_minute: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute {per_minute} must be 1 or more")
        if max_keys < 1:
            raise ValueError(f"max_keys {max_keys} must be 1 or more")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens regained per second
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: tokens, at

    def __len__(self) -> int:
        return len(self._buckets)

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + max(0.0, now - at) * self.rate)

    def _evict(self, key: str, now: float) -> None:
        """Forget the keys used longest ago while their buckets are full again, and make room
        for ``key`` when ``max_keys`` are kept."""
        while self._buckets:
            crowded = key not in self._buckets and len(self._buckets) >= self.max_keys
            if not crowded and self._tokens(next(iter(self._buckets)), now) < self.capacity:
                return
            self._buckets.popitem(last=False)

    def hit(self, key: str) -> float | None:
        with self._lock:
            now = self._clock()
            self._evict(key, now)
            tokens = self._tokens(key, now)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            self._buckets.move_to_end(key)
            return None if allowed else (1.0 - tokens) / self.rate


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _session_cookie(scope: Scope) -> str | None:
    from http.cookies import SimpleCookie

    from api.auth import SESSION_COOKIE

    raw = _header(scope, b"cookie")
    if not raw or SESSION_COOKIE not in raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header is no session
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def _signed_in(db: Any, authorization: str | None, cookie: str | None) -> bool:
    """Whether the credentials name an enabled user (as :mod:`api.deps` would read them)."""
    from api import auth

    with db.sessions() as session:
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return False
            return auth.authenticate(session, token.strip()) is not None
        return cookie is not None and auth.session_user(session, cookie) is not None


class SecurityMiddleware:
    """Adds :func:`security_headers` to every answer and rate-limits writes by the public."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter | None,
        per_minute: int,
        database: Callable[[], Any],
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.per_minute = per_minute
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope.get("scheme") == "https")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(k).lower() for k, _ in headers}
                headers.extend((k, v) for k, v in extra if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        if self.limiter is not None and scope["method"] not in SAFE_METHODS:
            wait = await self._limit(scope)
            if wait is not None:
                await self._too_many(wait)(scope, receive, send_with_headers)
                return
        await self.app(scope, receive, send_with_headers)

    async def _limit(self, scope: Scope) -> float | None:
        """None if the request may go on, else the seconds its address has to wait."""
        assert self.limiter is not None
        authorization = _header(scope, b"authorization")
        cookie = _session_cookie(scope)
        if authorization is not None or cookie is not None:
            db = self.database()
            if db is not None:
                from starlette.concurrency import run_in_threadpool

                try:
                    if await run_in_threadpool(_signed_in, db, authorization, cookie):
                        return None
                except Exception:  # the database is down: count the request as the public's
                    log.exception("could not check the credentials of a write")
        client = scope.get("client")
        key = str(client[0]) if client else "unknown"
        return self.limiter.hit(key)

    def _too_many(self, wait: float) -> Any:
        from starlette.responses import JSONResponse

        seconds = max(1, math.ceil(wait))
        return JSONResponse(
            {
                "detail": f"too many requests that change data without an API token from this "
                f"address (at most {self.per_minute} a minute); retry in {seconds} s or sign in"
            },
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )


def _remove_docs_pages(app: FastAPI) -> None:
    pages = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url} - {None}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in pages]
    app.docs_url = app.redoc_url = app.swagger_ui_oauth2_redirect_url = None


def install(app: FastAPI, settings: Settings, limiter: RateLimiter | None = None) -> None:
    """Add the security headers and the rate limiter (``limiter`` or an in-memory one)."""
    per_minute = settings.rate_limit_per_minute
    if limiter is None and per_minute > 0:
        limiter = MemoryRateLimiter(per_minute)
    app.state.rate_limiter = limiter
    _remove_docs_pages(app)

    def database() -> Any:
        return getattr(app.state, "db", None)

    app.add_middleware(
        SecurityMiddleware,
        limiter=limiter,
        per_minute=per_minute,
        database=database,
    )
