"""Byte transports for :class:`sim.link.Link`: TCP, UDP and serial, opened from a URL.

Each has ``read(timeout_s) -> bytes`` (``b""`` when nothing came in time), ``write(data)``
and ``close()``; a closed connection raises :class:`LinkLost`. They are what pymavlink's
codec (``MAVLink(file)``) writes to.

========================= ============================================================
URL                       meaning
========================= ============================================================
``tcp:HOST:PORT``         connect to a listening vehicle (SITL, the built-in vehicle)
``udp:HOST:PORT``         listen there (as ``udpin:``; MAVProxy's and pymavlink's sense)
``udpin:HOST:PORT``       listen there; replies go to whoever sent last
``udpout:HOST:PORT``      send there, read the replies
``DEVICE[,BAUD]``         a serial port (default 57600 baud); needs pyserial
========================= ============================================================
"""

from __future__ import annotations

import select
import socket
from typing import Any, Protocol

from sim.errors import SimError

__all__ = ["LinkLost", "Transport", "open_transport"]


class LinkLost(SimError):
    """The connection closed, or the vehicle fell silent."""


class Transport(Protocol):
    def read(self, timeout_s: float) -> bytes: ...
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...


def _host_port(text: str, url: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise SimError(f"{url}: expected HOST:PORT with a port in 1..65535 after the scheme")
    return host or "127.0.0.1", int(port)


class _Tcp:
    def __init__(self, host: str, port: int, url: str, timeout_s: float) -> None:
        self.url = url
        try:
            self.sock = socket.create_connection((host, port), timeout=max(0.1, timeout_s))
        except OSError as exc:
            raise SimError(f"{url}: cannot connect ({exc.strerror or exc})") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(5.0)  # bounds sendall; reads wait in select first

    def read(self, timeout_s: float) -> bytes:
        try:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout_s))
            if not ready:
                return b""
            data = self.sock.recv(65536)
        except (BlockingIOError, TimeoutError):
            return b""
        except OSError as exc:
            raise LinkLost(f"{self.url}: connection lost ({exc.strerror or exc})") from None
        if not data:
            raise LinkLost(f"{self.url}: connection closed by the vehicle")
        return data

    def write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise LinkLost(f"{self.url}: connection lost ({exc.strerror or exc})") from None

    def close(self) -> None:
        self.sock.close()


class _Udp:
    def __init__(self, host: str, port: int, url: str, listen: bool) -> None:
        self.url = url
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.peer: tuple[str, int] | None = None
        try:
            if listen:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.sock.bind((host, port))
            else:
                self.peer = (host, port)
        except OSError as exc:
            self.sock.close()
            raise SimError(f"{url}: cannot listen there ({exc.strerror or exc})") from None
        self.sock.setblocking(False)

    def read(self, timeout_s: float) -> bytes:
        try:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout_s))
            if not ready:
                return b""
            data, self.peer = self.sock.recvfrom(65536)
        except (BlockingIOError, ConnectionRefusedError):
            return b""
        except OSError as exc:
            raise LinkLost(f"{self.url}: {exc.strerror or exc}") from None
        return data

    def write(self, data: bytes) -> None:
        if self.peer is None:
            return  # nobody has spoken yet: nowhere to send
        try:
            self.sock.sendto(data, self.peer)
        except (BlockingIOError, ConnectionRefusedError):
            pass
        except OSError as exc:
            raise LinkLost(f"{self.url}: {exc.strerror or exc}") from None

    def close(self) -> None:
        self.sock.close()


class _Serial:
    def __init__(self, device: str, baud: int, url: str) -> None:
        self.url = url
        try:
            import serial  # pyserial
        except ImportError:
            raise SimError(
                f"{url}: serial links need pyserial (pip install pyserial); "
                "or use tcp:HOST:PORT / udpin:HOST:PORT"
            ) from None
        try:
            self.port: Any = serial.Serial(device, baud, timeout=0)
        except (OSError, ValueError) as exc:
            raise SimError(f"{url}: cannot open serial port ({exc})") from None

    def read(self, timeout_s: float) -> bytes:
        try:
            ready, _, _ = select.select([self.port.fileno()], [], [], max(0.0, timeout_s))
            return bytes(self.port.read(4096)) if ready else b""
        except OSError as exc:
            raise LinkLost(f"{self.url}: {exc}") from None

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except OSError as exc:
            raise LinkLost(f"{self.url}: {exc}") from None

    def close(self) -> None:
        self.port.close()


def open_transport(url: str, timeout_s: float) -> Transport:
    """Open ``url`` (see the module notes).

    Raises
    ------
    SimError
        Naming the URL and what is wrong with it or why it could not be opened.
    """
    scheme, sep, rest = url.partition(":")
    if sep and scheme == "tcp":
        return _Tcp(*_host_port(rest, url), url, timeout_s)
    if sep and scheme in ("udp", "udpin", "udpout"):
        return _Udp(*_host_port(rest, url), url, listen=scheme != "udpout")
    if sep and scheme in ("tcpin", "udpbcast", "serial", "ws", "wss", "http", "https"):
        raise SimError(
            f"{url}: scheme {scheme!r} is not supported; use tcp:HOST:PORT, udp:HOST:PORT, "
            "udpin:HOST:PORT, udpout:HOST:PORT or a serial device path[,BAUD]"
        )
    device, _, baud = url.partition(",")
    if not device or (baud and not baud.isdigit()):
        raise SimError(
            f"{url!r} is not a link URL; use tcp:HOST:PORT, udp:HOST:PORT, udpin:HOST:PORT, "
            "udpout:HOST:PORT or a serial device path[,BAUD]"
        )
    return _Serial(device, int(baud or 57600), url)
