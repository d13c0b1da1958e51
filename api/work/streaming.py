"""A multipart upload read from the request body as it arrives, its file written straight
into the blob store (never the whole body in memory, never a half-written blob).

:func:`read_upload` parses ``request.stream()`` with python-multipart's push parser. The
one file part named ``file`` goes chunk by chunk into a
:class:`~api.storage.blobs.BlobWriter` (disk writes off the event loop), which enforces the
size limit as the bytes arrive; the other parts are small text fields. Every way the upload
can go wrong is an :class:`~fastapi.HTTPException` with one line, and leaves nothing behind:

- 415: the body is not ``multipart/form-data``, or the file's extension or content type is
  not one the caller accepts (checked from the part's headers, before its bytes are read);
- 413: ``Content-Length`` already says the body is larger than the limit, or the file
  passes the limit while it streams (the writer's temporary file is removed at once);
- 400: a file name that names a path (``../x.mp4``, ``/abs/x.mp4``, ``a\\b.mp4``), two file
  parts, a body cut short (the client went away, or the closing boundary never came);
- 422: no file part, or a text field too long.

When the body was already read (a cookie session's CSRF check looks for the ``csrf`` form
field in it), the parsed form is used instead, with the same checks and limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from api.work.records import UnsafeName, safe_name

if TYPE_CHECKING:
    from api.storage.blobs import BlobStore, BlobWriter, Stored

__all__ = ["BODY_OVERHEAD", "MAX_FIELD_BYTES", "Upload", "read_upload"]

#: What a multipart body may carry beyond its file (boundaries, headers, small fields).
BODY_OVERHEAD = 64 * 1024
#: The longest text field accepted.
MAX_FIELD_BYTES = 8 * 1024
#: Bytes gathered before they are handed to the disk writer.
FLUSH_BYTES = 1024 * 1024

#: ``check(filename, content_type)``: raise an HTTPException (415) for a file not accepted.
FileCheck = Callable[[str, str], None]


@dataclass
class Upload:
    """A multipart upload once fully received: its text fields and its stored file."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    content_type: str = ""
    stored: Stored | None = None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _too_large(exc: BaseException) -> HTTPException:
    return HTTPException(413, _one_line(exc))


def _boundary(request: Request) -> bytes:
    from python_multipart.multipart import parse_options_header

    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise HTTPException(
            415,
            "the body must be multipart/form-data with a boundary "
            "(a form with a 'file' field), not "
            f"{request.headers.get('content-type', 'nothing')!r:.80}",
        )
    return boundary


def _check_length(request: Request, max_bytes: int, what: str) -> None:
    length = request.headers.get("content-length")
    if length is None:
        return
    try:
        size = int(length)
    except ValueError:
        raise HTTPException(400, f"Content-Length {length!r:.40} is not a number") from None
    if size > max_bytes + BODY_OVERHEAD:
        raise HTTPException(
            413, f"{what} of {size} bytes is larger than the limit of {max_bytes} bytes"
        )


class _Parts:
    """The parser's callbacks: where each part's headers and bytes go."""

    def __init__(
        self, blobs: BlobStore, file_field: str, check: FileCheck, max_bytes: int, what: str
    ):
        self.blobs, self.file_field, self.check = blobs, file_field, check
        self.max_bytes, self.what = max_bytes, what
        self.upload = Upload()
        self.writer: BlobWriter | None = None
        self.pending = bytearray()
        self.ended = False
        self._headers: dict[str, str] = {}
        self._name = self._value = b""
        self._field: str | None = None
        self._text: bytearray | None = None
        self._in_file = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
            "on_end": self.end,
        }

    def part_begin(self) -> None:
        self._headers, self._name, self._value = {}, b"", b""
        self._field, self._text, self._in_file = None, None, False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        name = self._name.decode("latin-1").strip().lower()
        self._headers[name] = self._value.decode("utf-8", "replace").strip()
        self._name = self._value = b""

    def headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _kind, options = parse_options_header(self._headers.get("content-disposition", ""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            if name == self.file_field:
                raise HTTPException(
                    422, f"{name}: send a file here (the form part has no file name)"
                )
            self._field, self._text = name, bytearray()
            return
        if name != self.file_field:
            raise HTTPException(
                422, f"{name!r:.40} is not a file field of this form (send the file as 'file')"
            )
        if self.writer is not None or self.upload.stored is not None:
            raise HTTPException(400, f"{self.file_field}: send one file per upload, not several")
        raw = filename.decode("utf-8", "replace")
        self.upload.filename = start_file(raw, self._headers.get("content-type", ""), self.check)
        self.upload.content_type = self._headers.get("content-type", "")
        self.writer = self.blobs.writer(self.max_bytes, self.what)
        self._in_file = True

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.pending += data[start:end]
        elif self._text is not None:
            self._text += data[start:end]
            if len(self._text) > MAX_FIELD_BYTES:
                raise HTTPException(
                    422, f"{self._field}: the field is longer than {MAX_FIELD_BYTES} bytes"
                )

    def part_end(self) -> None:
        if self._field is not None and self._text is not None:
            self.upload.fields[self._field] = self._text.decode("utf-8", "replace")
        self._field, self._text = None, None

    def end(self) -> None:
        self.ended = True


def start_file(filename: str, content_type: str, check: FileCheck) -> str:
    """The sanitised base name of an uploaded file, once ``check`` accepted it (400 for a
    path, whatever ``check`` raises for a type not accepted)."""
    if not filename.strip():
        raise HTTPException(422, "file: no file was chosen (its name is empty)")
    try:
        name = safe_name(filename)
    except UnsafeName as exc:
        raise HTTPException(400, _one_line(exc)) from None
    check(name, content_type.split(";")[0].strip().lower())
    return name


async def read_upload(
    request: Request,
    blobs: BlobStore,
    *,
    max_bytes: int,
    check: FileCheck,
    what: str = "upload",
    file_field: str = "file",
) -> Upload:
    """Receive a multipart upload (see the module notes); the file is stored when this returns.

    The caller owns the stored blob from then on (and removes it when it refuses the upload
    for another reason).
    """
    from python_multipart.multipart import MultipartParser

    _check_length(request, max_bytes, what)
    boundary = _boundary(request)
    parts = _Parts(blobs, file_field, check, max_bytes, what)
    from api.storage.errors import UploadTooLarge

    try:
        try:
            parser = MultipartParser(boundary, parts.callbacks())  # type: ignore[arg-type]
            stream = request.stream()
            async for chunk in stream:
                if parts.ended:
                    break
                parser.write(chunk)
                if parts.writer is not None and len(parts.pending) >= FLUSH_BYTES:
                    await _flush(parts)
        except RuntimeError as exc:
            if "consumed" not in str(exc):
                raise
            return await _from_form(request, parts)
        except ClientDisconnect:
            raise HTTPException(
                400, f"the {what} was cut short (the client went away); nothing was kept"
            ) from None
        except ValueError as exc:  # python-multipart's malformed body
            if isinstance(exc, UploadTooLarge):
                raise
            raise HTTPException(
                400, f"the {what} is not valid multipart: {_one_line(exc)}"
            ) from None
        if not parts.ended:
            raise HTTPException(
                400,
                f"the {what} was cut short (the multipart body did not end with its closing "
                "boundary); nothing was kept",
            )
        if parts.writer is None:
            raise HTTPException(422, f"{file_field}: a file is required (multipart field 'file')")
        await _flush(parts)
        parts.upload.stored = await run_in_threadpool(parts.writer.commit)
        return parts.upload
    except UploadTooLarge as exc:
        raise _too_large(exc) from None
    finally:
        if parts.writer is not None and parts.upload.stored is None:
            parts.writer.abort()


async def _flush(parts: _Parts) -> None:
    assert parts.writer is not None
    if parts.pending:
        data = bytes(parts.pending)
        parts.pending.clear()
        await run_in_threadpool(parts.writer.write, data)


async def _from_form(request: Request, parts: _Parts) -> Upload:
    """The same upload from a form already parsed (the body was read for its CSRF field)."""
    form = await request.form()
    try:
        return await _take_form(form, parts)
    finally:
        await form.close()


async def _take_form(form: Any, parts: _Parts) -> Upload:
    from starlette.datastructures import UploadFile

    for name, value in form.multi_items():
        if isinstance(value, str):
            if len(value.encode()) > MAX_FIELD_BYTES:
                raise HTTPException(
                    422, f"{name}: the field is longer than {MAX_FIELD_BYTES} bytes"
                )
            parts.upload.fields[name] = value
    files = [
        v for k, v in form.multi_items() if isinstance(v, UploadFile) and k == parts.file_field
    ]
    if len(files) != 1:
        what = "a file is required" if not files else "send one file per upload, not several"
        raise HTTPException(422 if not files else 400, f"{parts.file_field}: {what}")
    upload = files[0]
    ctype = upload.content_type or ""
    parts.upload.filename = start_file(upload.filename or "", ctype, parts.check)
    parts.upload.content_type = ctype
    writer = parts.writer = parts.blobs.writer(parts.max_bytes, parts.what)
    while chunk := await upload.read(FLUSH_BYTES):
        await run_in_threadpool(writer.write, chunk)
    parts.upload.stored = await run_in_threadpool(writer.commit)
    return parts.upload
