"""Launch and stop an ArduPilot SITL (software-in-the-loop) ArduCopter process.

The command line follows ArduPilot's own test harness (``Tools/autotest/pysim/util.py``,
``start_SITL``)::

    arducopter --model quad --home LAT,LON,ALT,HDG --speedup N -I INSTANCE -w [--defaults F]

``-I`` moves every port by ten per instance, so the first MAVLink port (SERIAL0) is TCP
``5760 + 10 * instance``; :meth:`Sitl.start` waits until it accepts a connection and
returns its URL. ``-w`` wipes the stored parameters, so the defaults file counts. SITL
writes ``eeprom.bin`` and logs into its working directory: a fresh temporary one unless
one is given. Its stdout and stderr go to ``sitl.out`` / ``sitl.err`` there.

The binary is the argument, else ``$SKYLEDGER_SITL_BINARY``, else ``arducopter`` on
``PATH``; the defaults file (e.g. ArduPilot's ``Tools/autotest/default_params/copter.parm``,
without which a bare ArduCopter may refuse to arm) is the argument, else
``$SKYLEDGER_SITL_DEFAULTS``, else none.

A started process is stopped by :meth:`Sitl.stop`, by leaving the ``with`` block, and
at interpreter exit (``atexit``), whichever comes first; the process runs in its own
process group so its children go with it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from mission.plan import Home
from sim.errors import SimError

__all__ = ["Sitl", "find_sitl_binary"]

BINARY_ENV = "SKYLEDGER_SITL_BINARY"
DEFAULTS_ENV = "SKYLEDGER_SITL_DEFAULTS"
BASE_PORT = 5760


def _candidates(explicit: str | None) -> list[str]:
    names = [explicit] if explicit else []
    env = os.environ.get(BINARY_ENV)
    if not explicit and env:
        names.append(env)
    if not names:
        names.append("arducopter")
    return names


def _resolve(name: str) -> str | None:
    if os.sep in name or (os.altsep and os.altsep in name):
        path = Path(name).expanduser()
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(name)


def find_sitl_binary(explicit: str | None = None) -> str | None:
    """The SITL binary to run: ``explicit``, else ``$SKYLEDGER_SITL_BINARY``, else
    ``arducopter`` on ``PATH``; None when that is not an executable file."""
    return _resolve(_candidates(explicit)[0])


#: Parameters skyledger sets once SITL is up, then reboots it (a camera type only takes
#: effect after a reboot, and SITL ignores it in a defaults file): a camera that triggers
#: by distance and reports CAMERA_FEEDBACK, and polygon fences with RTL on breach (the
#: flight enables the fence once it has uploaded one), as a real inspection vehicle is set up.
SITL_PARAMS = {
    "CAM1_TYPE": 1.0,  # servo camera
    "FENCE_TYPE": 4.0,  # polygons only (no 150 m default circle, no altitude fence)
    "FENCE_ACTION": 1.0,  # RTL
}


class Sitl:
    """One ArduCopter SITL process (see the module notes)."""

    def __init__(
        self,
        binary: str | None = None,
        defaults: str | None = None,
        *,
        home: Home,
        heading_deg: float = 0.0,
        speedup: float = 1.0,
        instance: int = 0,
        model: str = "quad",
        workdir: Path | None = None,
        params: Mapping[str, float] | None = None,
    ) -> None:
        if not speedup > 0:
            raise SimError(f"SITL speedup {speedup} must be > 0")
        if not 0 <= instance <= 200:
            raise SimError(f"SITL instance {instance} must be in 0..200")
        self.binary, self.defaults = binary, defaults
        #: set once SITL is up, then a reboot; ``{}`` for none (a stand-in binary that speaks no MAVLink)
        self.params = dict(SITL_PARAMS if params is None else params)
        self.home, self.heading_deg, self.speedup = home, heading_deg, speedup
        self.instance, self.model, self.workdir = instance, model, workdir
        self.port = BASE_PORT + 10 * instance
        self.process: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []

    @property
    def url(self) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The command line :meth:`start` runs.

        Raises
        ------
        SimError
            Naming what was tried when no binary (or no defaults file) is found.
        """
        tried = _candidates(self.binary)
        binary = _resolve(tried[0])
        if binary is None:
            how = (
                "given" if self.binary else f"from ${BINARY_ENV}" if os.environ.get(BINARY_ENV)
                else "on PATH"
            )  # fmt: skip
            raise SimError(
                f"no ArduPilot SITL binary: tried {tried[0]!r} ({how}); build ArduCopter SITL "
                f"(./waf configure --board sitl && ./waf copter) and give its path or set "
                f"${BINARY_ENV}"
            )
        h = self.home
        home = f"{h.lat_deg!r},{h.lon_deg!r},{h.alt_amsl_m!r},{self.heading_deg % 360.0!r}"
        cmd = [binary, "--model", self.model, "--home", home, "--speedup", f"{self.speedup:g}"]
        cmd += ["-I", str(self.instance), "-w"]
        defaults = self.defaults or os.environ.get(DEFAULTS_ENV) or None
        if defaults is not None:
            if not Path(defaults).is_file():
                raise SimError(f"SITL defaults file {defaults!r} does not exist")
            cmd += ["--defaults", str(Path(defaults).resolve())]
        return cmd

    def start(self, timeout_s: float = 60.0) -> str:
        """Start SITL and wait until its MAVLink port accepts; its URL (``tcp:127.0.0.1:P``).

        Raises
        ------
        SimError
            When no binary is found, the port is taken, the process exits early or the
            port does not open in ``timeout_s`` seconds (with the tail of its output).
        """
        if self.process is not None:
            return self.url
        cmd = self.command()
        if _port_open(self.port):
            raise SimError(
                f"port {self.port} is already in use (another SITL with instance "
                f"{self.instance}?); choose another instance"
            )
        workdir = self.workdir or Path(tempfile.mkdtemp(prefix="skyledger-sitl-"))
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        out, err = open(workdir / "sitl.out", "wb"), open(workdir / "sitl.err", "wb")  # noqa: SIM115
        self._files = [out, err]
        try:
            self.process = subprocess.Popen(
                cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            self._close_files()
            raise SimError(f"cannot run SITL {cmd[0]!r}: {exc.strerror or exc}") from None
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                tail = self.log_tail()
                self.stop()
                raise SimError(
                    f"SITL exited with code {code} before opening port {self.port}"
                    + (f": {tail}" if tail else "")
                )
            if _port_open(self.port):
                if self.params:
                    self._configure(deadline)
                return self.url
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise SimError(
            f"SITL did not open port {self.port} within {timeout_s:g} s"
            + (f": {tail}" if tail else "")
        )

    def _configure(self, deadline: float) -> None:
        """Set :attr:`params`, reboot, and wait for SITL to answer again."""
        from sim.link import Link

        with Link.connect(self.url, timeout_s=max(deadline - time.monotonic(), 1.0)) as link:
            for name, value in self.params.items():
                link.set_parameter(name, value)
            link.command(246, 1.0)  # MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN: reboot the autopilot
        time.sleep(1.0)
        with Link.connect(self.url, timeout_s=max(deadline - time.monotonic(), 1.0)):
            pass

    def stop(self) -> None:
        """Terminate the process (its whole group), wait, kill if it lingers; idempotent."""
        process, self.process = self.process, None
        if process is not None:
            atexit.unregister(self.stop)
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
                try:
                    process.wait(5.0)
                except subprocess.TimeoutExpired:
                    _signal_group(process, signal.SIGKILL)
                    process.wait(5.0)
            _reap_group(process)
        self._close_files()

    def _close_files(self) -> None:
        for f in self._files:
            f.close()
        self._files = []

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of SITL's stdout and stderr, joined with `` | ``."""
        if self.workdir is None:
            return ""
        out: list[str] = []
        for name in ("sitl.out", "sitl.err"):
            path = self.workdir / name
            if path.is_file():
                text = path.read_bytes()[-16384:].decode("utf-8", "replace")
                out += [line.strip() for line in text.splitlines() if line.strip()]
        return " | ".join(out[-lines:])

    def __enter__(self) -> Sitl:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _reap_group(process: subprocess.Popen[bytes], grace_s: float = 1.0) -> None:
    """Give what is left of the process group ``grace_s`` to exit, then kill it."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    _signal_group(process, signal.SIGKILL)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
