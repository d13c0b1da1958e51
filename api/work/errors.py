"""The errors of the service's work (:mod:`api.work`), each with the HTTP status it stands for.

Work functions take a database session and plain values, add and flush rows and never commit:
the caller (a route, the demo) decides when. A bad request is a :class:`WorkError` whose
message names the field or record and what would be valid;
:func:`api.routes.common.answering` turns it into the HTTP answer of its ``status``.
"""

from __future__ import annotations

__all__ = ["Conflict", "Invalid", "Missing", "WorkError"]


class WorkError(ValueError):
    """A request the work cannot do, with the HTTP status that says why."""

    status = 400


class Invalid(WorkError):
    """A value the request gave is not valid (422)."""

    status = 422


class Missing(WorkError):
    """A record the request names does not exist (404)."""

    status = 404

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} does not exist")


class Conflict(WorkError):
    """The records are not in a state that allows the request (409)."""

    status = 409
