"""The storage layer's exception tree.

``StorageError`` is a ``ValueError`` so that callers which map bad input to a 4xx answer
treat it the same way; its message names the offending value and what would be valid.
"""

from __future__ import annotations

__all__ = ["BlobNotFound", "StorageError", "UploadTooLarge"]


class StorageError(ValueError):
    """A blob or database operation refused its input (bad hash name, missing blob, ...)."""


class BlobNotFound(StorageError):
    """No blob is stored under a well-formed hash name (an API answers 404)."""

    def __init__(self, sha256: str) -> None:
        super().__init__(f"no stored file has sha256 {sha256}")
        self.sha256 = sha256


class UploadTooLarge(StorageError):
    """A stream passed its size limit; nothing of it was kept (an API answers 413)."""

    def __init__(self, what: str, max_bytes: int) -> None:
        super().__init__(f"{what} is larger than the limit of {max_bytes} bytes")
        self.what = what
        self.max_bytes = max_bytes
