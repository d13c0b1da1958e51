"""The built-in vehicle: an ArduCopter test double speaking MAVLink 2 over TCP.

:class:`BuiltinVehicle` listens on 127.0.0.1 for one ground station at a time and flies
a kinematic copter (:mod:`sim.vehicle_physics`) with ArduCopter's modes and AUTO
(:mod:`sim.vehicle_auto`) and the mission protocol's vehicle side
(:mod:`sim.vehicle_mission`). Three daemon threads: the simulation (which also handles
every received message, so the state has one writer), a reader (accepts connections,
decodes, drops) and a writer (sends what the simulation queued). docs/sim.md lists
where it differs from ArduPilot SITL.

>>> v = BuiltinVehicle((-35.363262, 149.165237, 584.0), speedup=float("inf"))
>>> v.mode, v.armed
('STABILIZE', False)
"""

from __future__ import annotations

import contextlib
import math
import queue
import random
import select
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

from mission.errors import MissionError
from mission.geodesy import LocalFrame
from mission.items import MissionItem
from sim.errors import SimError
from sim.vehicle_auto import MODE_NAMES, Autopilot
from sim.vehicle_mission import FENCE, MISSION
from sim.vehicle_physics import DT_S, Airframe
from sim.vehicle_protocol import VehicleProtocol, home_item_at

#: Most messages waiting for the writer; beyond it a finite speed-up drops (as ArduPilot
#: does when its serial buffer is full) and an infinite one waits for the ground station,
#: with a shorter queue so that it runs little ahead of what the station has read.
_QUEUE_MAX, _QUEUE_MAX_INF = 2000, 200
_SNDBUF = 32 * 1024


class _Sink:
    """A file the encoder writes one frame at a time into."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data = bytes(data)


#: While disarmed, the simulated clock runs at most this much faster than real time, so
#: uploads and pre-arm waits do not eat simulated hours at ``speedup=inf``.
GROUND_SPEEDUP = 20.0


class BuiltinVehicle:
    """ArduCopter test double speaking MAVLink 2 over TCP (it listens; one ground station at a time).

    ``speedup`` is simulated seconds per wall second; ``float("inf")`` runs as fast as the
    ground station reads (the clock runs at most in real time while none is connected).
    ``drop_rate`` loses each message in either direction with that probability, from a
    generator seeded with ``seed``. See docs/sim.md for the rest.
    """

    def __init__(
        self,
        home: tuple[float, float, float],
        *,
        speedup: float = 50.0,
        start_time: datetime | None = None,
        wind_ms: tuple[float, float] = (0.0, 0.0),
        drop_rate: float = 0.0,
        seed: int = 0,
        endurance_s: float = 1800.0,
        cruise_speed_ms: float = 10.0,
        climb_speed_ms: float = 2.5,
        descent_speed_ms: float = 1.5,
        land_speed_ms: float = 0.5,
        accel_ms2: float = 2.5,
        wp_radius_m: float = 2.0,
        rtl_alt_m: float = 15.0,
        max_items: int = 700,
        prearm_delay_s: float = 5.0,
    ) -> None:
        lat, lon, alt = (float(v) for v in home)
        try:
            self._frame = LocalFrame(lon, lat)
        except MissionError as exc:
            raise SimError(f"vehicle home: {exc}") from exc
        if not math.isfinite(alt):
            raise SimError(f"vehicle home altitude {alt!r} m is not a finite number")
        if math.isnan(speedup) or speedup <= 0:
            raise SimError(f"speedup {speedup!r} must be > 0 (float('inf'): as fast as possible)")
        if not 0.0 <= drop_rate < 1.0:
            raise SimError(f"drop_rate {drop_rate!r} must be in 0..1 (1 excluded)")
        positive = {
            "endurance_s": endurance_s,
            "cruise_speed_ms": cruise_speed_ms,
            "climb_speed_ms": climb_speed_ms,
            "descent_speed_ms": descent_speed_ms,
            "land_speed_ms": land_speed_ms,
            "accel_ms2": accel_ms2,
            "wp_radius_m": wp_radius_m,
        }
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise SimError(f"{name} {value!r} must be a finite number > 0")
        if not (math.isfinite(rtl_alt_m) and rtl_alt_m >= 0):
            raise SimError(f"rtl_alt_m {rtl_alt_m!r} must be a finite number >= 0")
        if not (math.isfinite(prearm_delay_s) and prearm_delay_s >= 0):
            raise SimError(f"prearm_delay_s {prearm_delay_s!r} must be a finite number >= 0")
        if max_items < 1:
            raise SimError(f"max_items {max_items} must be at least 1")
        if not all(math.isfinite(w) for w in wind_ms):
            raise SimError(f"wind_ms {wind_ms!r} must be two finite numbers (east, north)")
        if start_time is not None and start_time.utcoffset() is None:
            raise SimError(f"start_time {start_time.isoformat()} has no time zone; give UTC")
        self.home_amsl_m = alt
        self.speedup = float(speedup)
        self.drop_rate = float(drop_rate)
        self.prearm_delay_s = float(prearm_delay_s)
        self.max_items = int(max_items)
        start = start_time if start_time is not None else datetime.now(UTC)
        self._epoch_us = int(start.timestamp() * 1_000_000)
        airframe = Airframe(
            cruise_speed_ms,
            climb_speed_ms,
            descent_speed_ms,
            land_speed_ms,
            accel_ms2,
            wp_radius_m,
            rtl_alt_m,
        )
        self._ap = Autopilot(
            airframe,
            (float(wind_ms[0]), float(wind_ms[1])),
            endurance_s,
            alt,
            self._frame.point_to_local,
        )
        self._rng_in = random.Random(f"{seed}:in")
        self._rng_out = random.Random(f"{seed}:out")
        self._snap: tuple[float, bool, int, float, float, float] = (0.0, False, 0, 0.0, 0.0, 0.0)
        self._url: str | None = None
        self._stop = threading.Event()
        self._killed = False
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._listen: socket.socket | None = None
        self._client: socket.socket | None = None
        self._conn = 0  # connection number; queued frames carry it
        self._inq: queue.Queue[Any] = queue.Queue()
        self._outq: queue.Queue[tuple[int, bytes]] = queue.Queue(
            _QUEUE_MAX_INF if math.isinf(speedup) else _QUEUE_MAX
        )
        self._mav: Any = None
        self._sink = _Sink()
        self._proto: VehicleProtocol | None = None
        self.messages_sent = 0
        self.messages_dropped = 0
        self.errors: list[str] = []  # exceptions the simulation thread survived

    # -- public state --

    @property
    def url(self) -> str:
        """``tcp:127.0.0.1:PORT`` once started."""
        if self._url is None:
            raise SimError("the vehicle is not started: call start() first")
        return self._url

    @property
    def sim_time_s(self) -> float:
        return self._snap[0]

    @property
    def armed(self) -> bool:
        return self._snap[1]

    @property
    def mode(self) -> str:
        return MODE_NAMES.get(self._snap[2], str(self._snap[2]))

    @property
    def position(self) -> tuple[float, float, float]:
        """(lat_deg, lon_deg, alt_rel_m) of the vehicle now."""
        _, _, _, x, y, z = self._snap
        lon, lat = self._frame.point_to_wgs84(x, y)
        return (lat, lon, z)

    @property
    def mission(self) -> list[MissionItem]:
        """The mission as the vehicle holds it, home at 0."""
        items = self._proto.server.stored[MISSION] if self._proto else self._ap.mission
        return [home_item_at(self._frame, self._ap.home_xy, self.home_amsl_m), *items]

    @property
    def fence(self) -> list[MissionItem]:
        return list(self._proto.server.stored[FENCE]) if self._proto else []

    @property
    def photos(self) -> int:
        """Photos taken so far (the last CAMERA_FEEDBACK's img_idx)."""
        return self._ap.photos

    @property
    def gimbal_pitch_deg(self) -> float:
        return self._ap.gimbal_pitch_deg

    @property
    def battery_remaining(self) -> float:
        """0..1, draining linearly with flight time over ``endurance_s``."""
        return self._ap.battery_fraction

    # -- life cycle --

    def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1:``port`` (0: a free one), start the threads, return the URL."""
        if self._url is not None:
            raise SimError(f"the vehicle is already started at {self._url}")
        from pymavlink.dialects.v20 import ardupilotmega as mavlink

        self._mav = mavlink.MAVLink(self._sink, srcSystem=1, srcComponent=1)
        self._proto = VehicleProtocol(
            self._mav,
            self._ap,
            self._frame,
            self.home_amsl_m,
            self._epoch_us,
            self.prearm_delay_s,
            self.max_items,
            self._emit,
        )
        listen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listen.bind(("127.0.0.1", port))
        except OSError as exc:
            listen.close()
            raise SimError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
        listen.listen(2)
        self._listen = listen
        self._url = f"tcp:127.0.0.1:{listen.getsockname()[1]}"
        for name, target in (
            ("sim", self._sim_loop),
            ("reader", self._reader_loop),
            ("writer", self._writer_loop),
        ):
            t = threading.Thread(target=target, name=f"vehicle-{name}", daemon=True)
            self._threads.append(t)
            t.start()
        return self._url

    def stop(self) -> None:
        """Stop the threads and close the sockets; safe to call twice."""
        self._stop.set()
        self._close_sockets()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=5.0)

    def kill(self) -> None:
        """Crash: stop simulating and drop the connection at once, mid-flight or not."""
        self._killed = True
        self.stop()

    def __enter__(self) -> BuiltinVehicle:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close_sockets(self) -> None:
        with self._lock:
            socks = [self._client, self._listen]
            self._client, self._listen = None, None
        for s in socks:
            if s is not None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    # -- threads --

    def _connected(self) -> bool:
        return self._client is not None

    def _sim_loop(self) -> None:
        wall_next = time.monotonic()
        while not self._stop.is_set():
            self._drain()
            assert self._proto is not None
            self._proto.server.tick(time.monotonic())
            self._tick()
            rate = self.speedup if self._connected() else min(self.speedup, 1.0)
            if not self.armed:  # on the ground the clock need not race the ground station
                rate = min(rate, GROUND_SPEEDUP)
            if math.isinf(rate):
                continue
            wall_next += DT_S / rate
            now = time.monotonic()
            if wall_next < now - 0.2:
                wall_next = now  # fell behind: carry on from here rather than burst
            while (remaining := wall_next - time.monotonic()) > 0 and not self._stop.is_set():
                try:
                    msg = self._inq.get(timeout=remaining)
                except queue.Empty:
                    break
                self._safely(self._handle, msg)

    def _safely(self, fn: Any, *args: Any) -> None:
        """Run ``fn``; an error is kept in :attr:`errors` and reported, not fatal to the thread."""
        try:
            fn(*args)
        except Exception as exc:  # a malformed message must not stop the vehicle
            self.errors.append(f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(Exception):
                text = f"Internal error: {type(exc).__name__}".encode()
                self._emit(self._mav.statustext_encode(3, text))

    def _drain(self) -> None:
        while True:
            try:
                msg = self._inq.get_nowait()
            except queue.Empty:
                return
            self._safely(self._handle, msg)

    def _reader_loop(self) -> None:
        from pymavlink.dialects.v20 import ardupilotmega as mavlink

        parser: Any = None
        conn = -1
        while not self._stop.is_set():
            with self._lock:
                listen, client, current = self._listen, self._client, self._conn
            if listen is None:
                return
            if current != conn:
                parser = mavlink.MAVLink(None)
                parser.robust_parsing = True
                conn = current
            socks = [listen] + ([client] if client is not None else [])
            try:
                ready, _, _ = select.select(socks, [], [], 0.1)
            except (OSError, ValueError):
                continue
            if listen in ready:
                try:
                    new, _ = listen.accept()
                except OSError:
                    continue
                self._attach(new)
                continue
            if client is not None and client in ready:
                try:
                    data = client.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._detach(conn)
                    continue
                for msg in parser.parse_buffer(data) or []:
                    if msg.get_type() == "BAD_DATA":
                        continue
                    if self.drop_rate and self._rng_in.random() < self.drop_rate:
                        continue
                    self._inq.put(msg)

    def _attach(self, sock: socket.socket) -> None:
        """A ground station connected: it replaces any earlier one."""
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SNDBUF)
        with self._lock:
            old, self._client = self._client, sock
            self._conn += 1
        if old is not None:
            with contextlib.suppress(OSError):
                old.shutdown(socket.SHUT_RDWR)
            old.close()
        while True:  # frames queued for the earlier station are not for this one
            try:
                self._outq.get_nowait()
            except queue.Empty:
                break

    def _detach(self, conn: int) -> None:
        with self._lock:
            if conn != self._conn or self._client is None:
                return
            old, self._client = self._client, None
        with contextlib.suppress(OSError):
            old.shutdown(socket.SHUT_RDWR)
        old.close()

    def _writer_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, data = self._outq.get(timeout=0.1)
            except queue.Empty:
                continue
            chunks = [data]
            size = len(data)
            while size < 32768:
                try:
                    more_conn, more = self._outq.get_nowait()
                except queue.Empty:
                    break
                if more_conn == conn:
                    chunks.append(more)
                    size += len(more)
            with self._lock:
                sock = self._client if conn == self._conn else None
            if sock is None:
                continue
            try:
                sock.sendall(b"".join(chunks))
            except OSError:
                self._detach(conn)

    # -- sending --

    def _emit(self, msg: Any) -> None:
        """Encode and queue one message for the ground station (lost when none listens)."""
        if self._client is None:
            return
        if self._proto is not None:
            self._snapshot()  # what the station hears, the properties already show
        self._mav.send(msg)
        data = self._sink.data
        if self.drop_rate and self._rng_out.random() < self.drop_rate:
            self.messages_dropped += 1
            return
        item = (self._conn, data)
        if math.isinf(self.speedup):
            while not self._stop.is_set() and self._client is not None:
                try:
                    self._outq.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
        else:
            try:
                self._outq.put_nowait(item)
            except queue.Full:
                self.messages_dropped += 1
                return
        self.messages_sent += 1

    # -- the simulation step --

    def _tick(self) -> None:
        ap = self._ap
        ap.step(DT_S)
        assert self._proto is not None
        self._proto.advance(DT_S, self._client is not None)
        self._snapshot()

    def _snapshot(self) -> None:
        assert self._proto is not None
        ap, b = self._ap, self._ap.body
        self._snap = (self._proto.sim_time_s, ap.armed, ap.mode, b.x, b.y, b.z)

    def _handle(self, msg: Any) -> None:
        assert self._proto is not None
        self._proto.handle(msg, time.monotonic())
        self._snapshot()
