"""Stored files and plans as the work functions need them.

A blob is kept in the :class:`~api.storage.blobs.BlobStore` and described by a row of the
``files`` table (its size, media type and a sanitised name); :func:`store_bytes` writes
both. :func:`plan_of` reads a ``plans`` row's document back into a :class:`mission.plan.Plan`.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from api.storage.models import File

if TYPE_CHECKING:
    from api.storage.blobs import BlobStore, Stored
    from api.storage.models import Plan as PlanRow
    from mission.plan import Plan

__all__ = ["UnsafeName", "add_file", "discard_blob", "plan_of", "safe_name", "store_bytes"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+-]+")
MAX_NAME = 200


class UnsafeName(ValueError):
    """A file name that tries to name a path (``../x``, ``/etc/x``, ``a\\b``)."""


def safe_name(name: str, what: str = "file name") -> str:
    """The base name of an uploaded file, cleaned; a name that tries to be a path is refused.

    >>> safe_name("flight 3 (cam).MP4")
    'flight 3 (cam).MP4'
    >>> safe_name("../../etc/passwd.mp4")
    Traceback (most recent call last):
    ...
    api.work.records.UnsafeName: file name '../../etc/passwd.mp4' names a path; send the file's own name only (e.g. 'passwd.mp4')
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UnsafeName(f"{what} {name[:100]!r} has control characters")
    base = PureWindowsPath(PurePosixPath(name).name).name
    if base != name or name in ("", ".", ".."):
        hint = _UNSAFE.sub("_", base).strip(" .") or "video.mp4"
        raise UnsafeName(
            f"{what} {name[:100]!r} names a path; send the file's own name only (e.g. {hint!r})"
        )
    cleaned = _UNSAFE.sub("_", name).strip(" ")
    cleaned = cleaned.lstrip(".") or "file"
    if len(cleaned) > MAX_NAME:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot else cleaned[:MAX_NAME]
    return cleaned


def add_file(session: Session, stored: Stored, media_type: str, name: str) -> File:
    """The ``files`` row of a stored blob (the existing one when the bytes are known)."""
    row = session.get(File, stored.sha256)
    if row is None:
        row = File(sha256=stored.sha256, size=stored.size, media_type=media_type, name=name)
        session.add(row)
        session.flush()
    elif row.deleted_at is not None:  # the same bytes again after their retention: kept anew
        row.deleted_at = None
        session.flush()
    return row


def store_bytes(session: Session, blobs: BlobStore, data: bytes, media_type: str, name: str) -> str:
    """Store ``data`` as a blob with its ``files`` row; return its sha256."""
    stored = blobs.put_bytes(data)
    add_file(session, stored, media_type, name)
    return stored.sha256


def discard_blob(session: Session, blobs: BlobStore, sha256: str) -> None:
    """Remove a blob an upload stored, unless a ``files`` row already keeps it."""
    if session.get(File, sha256) is None:
        blobs.delete(sha256)


def plan_of(row: PlanRow) -> Plan:
    """The plan a ``plans`` row keeps (the project's plan JSON)."""
    from mission import formats

    return formats.parse(row.document, ".json", f"plan {row.id}")
