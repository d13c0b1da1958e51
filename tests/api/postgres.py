"""A throwaway PostgreSQL server for tests, from Debian's server package.

``postgres_server(tmp)`` runs ``initdb`` into a fresh folder, starts the server on a free
loopback port (TCP on 127.0.0.1 only, its unix socket inside that folder), creates the
database ``skyledger`` and yields its SQLAlchemy URL; afterwards it stops the server
(``pg_ctl stop -m immediate``) and removes the folder. Anything that keeps it from running
(no server binaries, a failed ``initdb`` or start) raises :class:`PostgresUnavailable` with a
one-line reason, which tests turn into ``pytest.skip(reason)``.

``initdb`` refuses to run as root: as root the binaries run as Debian's ``postgres`` system
user (``runuser``), in a folder it owns under the system temporary directory (pytest's own
temporary folders are private to root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PostgresUnavailable", "create_database", "find_binaries", "postgres_server"]

USER = "skyledger"
DATABASE = "skyledger"
START_TIMEOUT_S = 30
_SYSTEM_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be run here; the message is a one-line reason."""


def find_binaries(root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The ``bin`` folder of the newest installed server version (has initdb and pg_ctl)."""
    found = []
    for candidate in root.glob("*/bin"):
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            version = tuple(int(part) for part in re.findall(r"\d+", candidate.parent.name))
            found.append((version, candidate))
    if not found:
        raise PostgresUnavailable(
            f"no PostgreSQL server binaries under {root}/*/bin "
            "(install Debian's postgresql package; `make test` does it as root)"
        )
    return max(found)[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_line(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # The last lines of a failed start say why; keep the most telling one short.
    errors = [line for line in lines if "FATAL" in line or "ERROR" in line or "error" in line]
    line = (errors or lines or ["no output"])[-1]
    return line if len(line) <= limit else line[: limit - 3] + "..."


class _Runner:
    """Runs the server binaries as ourselves, or as the postgres user when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.prefix: list[str] = []
        self.owner: tuple[int, int] | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(_SYSTEM_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root and there is no {_SYSTEM_USER!r} system user to run "
                    "PostgreSQL as (initdb refuses root)"
                ) from None
            runuser = shutil.which("runuser")
            setpriv = shutil.which("setpriv")
            if runuser:
                self.prefix = [runuser, "-u", _SYSTEM_USER, "--"]
            elif setpriv:
                self.prefix = [
                    setpriv,
                    f"--reuid={entry.pw_uid}",
                    f"--regid={entry.pw_gid}",
                    "--init-groups",
                ]
            else:
                raise PostgresUnavailable(
                    "running as root without runuser or setpriv to drop to the postgres user"
                )
            self.owner = (entry.pw_uid, entry.pw_gid)

    def run(self, tool: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        command = [*self.prefix, str(self.bindir / tool), *args]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        try:
            return subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd="/",
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PostgresUnavailable(f"{tool} did not finish within {timeout:g} s") from None
        except OSError as exc:
            raise PostgresUnavailable(f"cannot run {tool}: {exc}") from None

    def make_folder(self, tmp: Path) -> Path:
        # A short path: the unix socket path must stay under ~100 characters. As root the
        # folder lies in the system temp dir, since pytest's folders are private to root.
        base = None if self.owner is not None or len(str(tmp)) > 60 else tmp
        folder = Path(tempfile.mkdtemp(prefix="skyledger-pg-", dir=base))
        if self.owner is not None:
            os.chown(folder, *self.owner)
        return folder


def create_database(url: str, name: str) -> str:
    """Create the empty database ``name`` on the server of ``url``; return its URL.

    One server, a fresh database per test: cheaper than a server per test.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"database name {name!r} is not a lowercase SQL identifier")
    server = make_url(url)
    with psycopg.connect(
        host=server.host, port=server.port, user=server.username, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # name checked above
    return server.set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_server(tmp: Path) -> Iterator[str]:
    """Run a fresh PostgreSQL server; yield ``postgresql+psycopg://skyledger@127.0.0.1:PORT/skyledger``."""
    runner = _Runner(find_binaries())
    folder = runner.make_folder(Path(tmp))
    data = folder / "data"
    log = folder / "server.log"
    try:
        result = runner.run(
            "initdb",
            "-D",
            str(data),
            "-U",
            USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
            timeout=60,
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {_one_line(result.stderr + result.stdout)}")
        port = _start(runner, data, folder, log)
        try:
            yield create_database(
                f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres", DATABASE
            )
        finally:
            runner.run("pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w", timeout=30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _start(runner: _Runner, data: Path, folder: Path, log: Path) -> int:
    """Start the server on a free port (retrying if another process took it); return it."""
    reason = "no attempt"
    for _attempt in range(3):
        port = _free_port()
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {port}",
                f"-k {folder}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=50",
            ]
        )
        result = runner.run(
            "pg_ctl",
            "start",
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-o",
            options,
            timeout=START_TIMEOUT_S + 10,
        )
        if result.returncode == 0:
            return port
        server_log = log.read_text(errors="replace") if log.exists() else ""
        reason = _one_line(server_log or result.stderr + result.stdout)
        runner.run("pg_ctl", "stop", "-D", str(data), "-m", "immediate", timeout=30)
        if "could not bind" not in server_log and "already in use" not in server_log:
            break
    raise PostgresUnavailable(f"the PostgreSQL server did not start: {reason}")
