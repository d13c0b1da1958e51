"""What every route module shares: the list envelope, paging, ids and the 404 answer.

A list endpoint takes ``?limit=`` (1..500, default 50) and ``?offset=`` (0 or more) through
:data:`PagingDep` and answers a :class:`Page`::

    @router.get("/things", response_model=Page[ThingPublic])
    def list_things(session: SessionDep, paging: PagingDep) -> Page[ThingPublic]:
        return fetch_page(session, select(Thing).order_by(Thing.id), paging, ThingPublic.of)

Ids are bounded (:data:`IdPath`, :data:`IdField`) so that no number, however large, reaches
the database as something it cannot store (SQLite's integers stop at 2**63 - 1, the
PostgreSQL ``integer`` columns at 2**31 - 1): it is a 422 naming the field instead.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, HTTPException, Path, Query
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

__all__ = [
    "MAX_ID",
    "IdField",
    "IdPath",
    "Name",
    "Page",
    "Paging",
    "PagingDep",
    "answering",
    "checked_json",
    "fetch_page",
    "get_or_404",
    "multipart_body",
    "not_found",
    "paging",
    "plain_text",
]

#: The largest id any table holds (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1
#: The largest offset a list accepts (more than any table will hold).
MAX_OFFSET = 2**31 - 1

T = TypeVar("T")
M = TypeVar("M")

#: An id in a URL path: ``/api/plans/{plan_id}``.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="a record's id (1 or more)")]
#: An id in a request body (a reference to another record).
IdField = Annotated[int, Field(ge=1, le=MAX_ID, description="a record's id (1 or more)")]


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, how many there are in all, and where the page starts."""

    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class Paging:
    """``?limit=`` and ``?offset=`` of a list request."""

    limit: int = 50
    offset: int = 0


def paging(
    limit: Annotated[
        int, Query(ge=1, le=500, description="how many items to return (1..500)")
    ] = 50,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="how many items to skip (0 or more)")
    ] = 0,
) -> Paging:
    """The paging dependency: ``limit`` 1..500 (default 50), ``offset`` 0 or more."""
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


def multipart_body(file_description: str, **fields: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI ``openapi_extra`` for a route that reads its multipart body as a stream: a
    required binary ``file`` and the other form ``fields`` (name: JSON schema)."""
    properties = {"file": {"type": "string", "format": "binary", "description": file_description}}
    schema = {"type": "object", "required": ["file"], "properties": properties | fields}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


def not_found(what: str, ident: object) -> HTTPException:
    """The 404 for a missing record: ``not_found("plan", 7)`` says "plan 7 does not exist"."""
    return HTTPException(404, f"{what} {ident} does not exist")


def get_or_404(session: Session, model: type[M], ident: int, what: str) -> M:
    """The row of ``model`` with primary key ``ident``, or a 404 naming ``what``."""
    row = session.get(model, ident)
    if row is None:
        raise not_found(what, ident)
    return row


def fetch_page(
    session: Session,
    statement: Select[Any],
    page: Paging,
    convert: Callable[[Any], T],
) -> Page[T]:
    """Run ``statement`` (already ordered) for one page and count all its rows.

    ``convert`` turns each row (the statement's first column) into the item schema.
    """
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(statement.limit(page.limit).offset(page.offset)).all()
    return Page[Any](
        items=[convert(row) for row in rows],
        total=int(total or 0),
        limit=page.limit,
        offset=page.offset,
    )


# --- text and JSON a database can store -------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def plain_text(value: str) -> str:
    """``value`` when it has no control characters but tab and newlines (PostgreSQL refuses NUL)."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (NUL and the like)")
    return value


def _one_line(value: str) -> str:
    if _LINE_CONTROL.search(value):
        raise ValueError("must be one line without control characters")
    return value


#: A name: one line, 1..200 characters once stripped.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_one_line),
]


def checked_json(value: Any, field: str, max_bytes: int = 256 * 1024) -> Any:
    """``value`` when it is JSON a database and a response can hold: finite numbers, text
    without NUL, at most ``max_bytes`` written out; else a ``ValueError`` naming ``field``."""

    def walk(item: Any, where: str) -> None:
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{where}: {item} is not a finite number")
        if isinstance(item, str) and "\x00" in item:
            raise ValueError(f"{where}: text must not contain NUL characters")
        if isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in str(key):
                    raise ValueError(f"{where}: keys must not contain NUL characters")
                walk(inner, f"{where}.{key}")
        elif isinstance(item, list):
            for i, inner in enumerate(item):
                walk(inner, f"{where}[{i}]")

    walk(value, field)
    size = len(json.dumps(value))
    if size > max_bytes:
        raise ValueError(f"{field}: {size} bytes of JSON is more than the {max_bytes} allowed")
    return value


# --- turning work errors into answers ---------------------------------------------------------


@contextmanager
def answering() -> Iterator[None]:
    """Turn the work layer's errors (:class:`api.work.errors.WorkError`) into their HTTP answers."""
    from api.work.errors import WorkError

    try:
        yield
    except WorkError as exc:
        raise HTTPException(exc.status, " ".join(str(exc).split())) from None
