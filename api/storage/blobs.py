"""Content-addressed file storage: every blob lives under the sha256 of its bytes.

Layout under the store's root::

    root/ab/cdef0123...   the blob whose sha256 is "abcdef0123..." (2 + 62 hex characters)
    root/tmp/             uploads being written; renamed into place once complete

A blob appears under its hash name only once all of its bytes are written, flushed and
hashed (a rename on the same file system is atomic), so a reader never sees half a file and a
failed, truncated or oversized upload leaves nothing but a temporary file that is removed at
once (or, after a crash, by :meth:`BlobStore.sweep_temp`). Storing the same bytes twice keeps
one file. Blob files are made read-only.

>>> import tempfile
>>> store = BlobStore(Path(tempfile.mkdtemp()))
>>> stored = store.put_bytes(b"hello")
>>> stored.sha256[:12], stored.size
('2cf24dba5fb0', 5)
>>> with store.open(stored.sha256) as blob:
...     blob.read()
b'hello'
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from api.storage.errors import BlobNotFound, StorageError, UploadTooLarge

__all__ = ["BlobStore", "BlobWriter", "Stored"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
_TEMP_PREFIX = "up-"
_TEMP_SUFFIX = ".part"


@dataclass(frozen=True)
class Stored:
    """A blob as stored: its hash name, its size in bytes and where it lies."""

    sha256: str
    size: int
    path: Path


def check_sha256(value: str) -> str:
    """Return ``value`` when it is a sha256 hex digest (64 lowercase hex characters).

    >>> check_sha256("../etc/passwd")
    Traceback (most recent call last):
    ...
    api.storage.errors.StorageError: blob name '../etc/passwd' is not a sha256 hex digest (64 lowercase hex characters)
    """
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise StorageError(
            f"blob name {shown} is not a sha256 hex digest (64 lowercase hex characters)"
        )
    return value


class BlobWriter:
    """One blob being written: ``write`` chunks, then ``commit``; anything else discards it.

    Use it as a context manager; leaving the block without :meth:`commit` (an exception, a
    client that went away) removes the temporary file. It lets an async producer (an HTTP
    request body) feed the store chunk by chunk; :meth:`BlobStore.put_stream` wraps it for
    iterables.
    """

    def __init__(self, store: BlobStore, max_bytes: int | None, what: str) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise StorageError(f"max_bytes must be 0 or more, not {max_bytes}")
        self._store = store
        self.max_bytes = max_bytes
        self.what = what
        self.size = 0
        self._hash = hashlib.sha256()
        store.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX, dir=store.tmp_dir)
        self._temp = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._result: Stored | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``; raise :class:`UploadTooLarge` (and discard all) past the limit."""
        if self._file is None:
            raise StorageError(f"{self.what} is already committed or discarded")
        size = self.size + len(data)
        if self.max_bytes is not None and size > self.max_bytes:
            self.abort()
            raise UploadTooLarge(self.what, self.max_bytes)
        try:
            self._file.write(data)
        except BaseException:
            self.abort()
            raise
        self._hash.update(data)
        self.size = size

    def commit(self) -> Stored:
        """Flush the bytes to disk and move them under their hash name; return the blob."""
        if self._result is not None:
            return self._result
        if self._file is None:
            raise StorageError(f"{self.what} was discarded and cannot be committed")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            sha256 = self._hash.hexdigest()
            target = self._store.path(sha256)
            if target.exists():
                self._temp.unlink()
            else:
                self._temp.chmod(0o444)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self._temp, target)
                _fsync_dir(target.parent)
        except BaseException:
            self.abort()
            raise
        self._result = Stored(sha256=sha256, size=self.size, path=target)
        return self._result

    def abort(self) -> None:
        """Discard what was written (a no-op after :meth:`commit`)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._result is None:
            self._temp.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._result is None:
            self.abort()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class BlobStore:
    """Content-addressed files under ``root``; nothing is created until the first write."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"BlobStore({str(self.root)!r})"

    @property
    def tmp_dir(self) -> Path:
        """Where uploads are written before they are complete (same file system as blobs)."""
        return self.root / "tmp"

    def path(self, sha256: str) -> Path:
        """Where the blob named ``sha256`` lies (whether or not it exists)."""
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open the blob for reading in binary mode; :class:`BlobNotFound` when absent."""
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def size(self, sha256: str) -> int:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def delete(self, sha256: str) -> bool:
        """Remove the blob; return whether there was one."""
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True

    def writer(self, max_bytes: int | None = None, what: str = "upload") -> BlobWriter:
        """A :class:`BlobWriter` for a blob fed chunk by chunk (use it in a ``with``)."""
        return BlobWriter(self, max_bytes, what)

    def put_stream(
        self, chunks: Iterable[bytes], max_bytes: int | None = None, what: str = "upload"
    ) -> Stored:
        """Store the concatenated ``chunks``, hashing as they arrive.

        Raises :class:`UploadTooLarge` as soon as more than ``max_bytes`` arrived; any error,
        from the chunks or the disk, leaves nothing behind.
        """
        with self.writer(max_bytes, what) as writer:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()

    def put_bytes(self, data: bytes) -> Stored:
        return self.put_stream([data], what="data")

    def put_file(self, path: Path, max_bytes: int | None = None) -> Stored:
        """Copy the file at ``path`` into the store (the original stays where it is)."""
        with Path(path).open("rb") as source:
            return self.put_stream(
                iter(lambda: source.read(_CHUNK), b""), max_bytes, what=f"file {Path(path).name}"
            )

    def sweep_temp(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary files untouched for ``older_than_s`` seconds; return how many.

        Called at startup: files left by a crash are garbage. The age guard keeps uploads that
        another worker process is writing right now (they are touched at every chunk).
        """
        if not self.tmp_dir.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in self.tmp_dir.iterdir():
            if not (entry.name.startswith(_TEMP_PREFIX) and entry.name.endswith(_TEMP_SUFFIX)):
                continue
            try:
                if entry.stat().st_mtime <= cutoff:
                    entry.unlink()
                    removed += 1
            except FileNotFoundError:  # another process finished or removed it meanwhile
                continue
        return removed
