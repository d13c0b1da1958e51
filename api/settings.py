"""What one running service is configured with: where it keeps its data and its limits.

A :class:`Settings` is made by whoever starts the service (``skyledger serve``, the demo, a
test) and handed to :func:`api.app.create_app`; nothing reads the environment at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """The service's configuration.

    ``db_url`` is a SQLAlchemy URL (``postgresql+psycopg://...``); without one the database is
    the SQLite file ``skyledger.db`` in ``data_dir``. Files (footage, tracks, reports, crops)
    are kept under ``data_dir/blobs`` by content hash.
    """

    data_dir: Path
    db_url: str | None = None
    max_upload_bytes: int = 2 * 1024**3
    job_workers: int = 2
    rate_limit_per_minute: int = 30  # unauthenticated writes per client address
    secure_cookies: bool | None = None  # None: Secure when the request came over HTTPS
    flight_speedup: float = 100.0  # simulated seconds per second on the built-in vehicle
    # Who publishes the flights, as the public pages and disclosure records name them.
    agency: str = "City of Sampleton"
    unit: str = "Public Works drone unit"
    contact: str = "drones@sampleton.example"
    retention_days: int = 90  # footage and tracks kept this long after a flight, then deleted

    @property
    def url(self) -> str:
        """The database URL in use."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(Path(self.data_dir) / 'skyledger.db').resolve()}"

    @property
    def blobs_dir(self) -> Path:
        return Path(self.data_dir) / "blobs"

    @property
    def ledger_key_path(self) -> Path:
        """The transparency log's Ed25519 private key (made on first start, mode 0600)."""
        return Path(self.data_dir) / "ledger" / "ed25519.key"
