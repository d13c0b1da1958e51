"""The ground-station side of a MAVLink link: connection, mission protocol, commands, waiting.

A :class:`Link` talks MAVLink 2 with the ``ardupilotmega`` dialect to one autopilot (the
first that sends a ``HEARTBEAT``) over TCP, UDP or a serial port. Every received message
goes through one pump, :meth:`Link.messages`, which feeds the :class:`~sim.recorder.Recorder`
and keeps the vehicle's state (mode, armed, ``STATUSTEXT``, mission progress).

Why not :func:`pymavlink.mavutil.mavlink_connection`: it picks MAVLink 1 or 2 from the
``MAVLINK20`` environment variable, *writes* that variable (and ``MAVLINK_DIALECT``) into
the process environment when it meets a v2 packet or is imported, keeps the connection in
a module global and prints on reconnects. Here the transport is a plain socket (or
pyserial port) and the codec is an instance of
``pymavlink.dialects.v20.ardupilotmega.MAVLink``: it sends MAVLink 2, reads v1 and v2,
and touches no global state. ``mavutil`` is never imported.

URLs: ``tcp:HOST:PORT`` (connect), ``udp:HOST:PORT`` or ``udpin:HOST:PORT`` (listen; reply
to whoever sent last), ``udpout:HOST:PORT`` (send there), or a serial device with an
optional baud rate, ``/dev/ttyACM0,57600`` (needs pyserial).

Mission items travel as rows (:mod:`sim.link_rows`): ``(command, frame, p1, p2, p3, p4,
x, y, z)`` with ``x``/``y`` in 1e-7 degrees; a mission's row 0 is home.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from sim.errors import SimError
from sim.link_mission import MissionProtocol
from sim.link_rows import Row, compare_rows, fence_rows, home_row, item_row
from sim.link_transport import LinkLost, Transport, open_transport
from sim.recorder import Recorder

__all__ = ["COPTER_MODES", "Link", "LinkLost", "Row", "compare_rows", "fence_rows", "home_row"]
__all__ += ["item_row"]

#: ArduCopter's custom modes (HEARTBEAT ``custom_mode``) by name.
COPTER_MODES = {
    "STABILIZE": 0,
    "ALT_HOLD": 2,
    "AUTO": 3,
    "GUIDED": 4,
    "LOITER": 5,
    "RTL": 6,
    "LAND": 9,
    "BRAKE": 17,
}
_GCS_COMPONENT = 190  # MAV_COMP_ID_MISSIONPLANNER
_MAV_TYPE_GCS, _MAV_AUTOPILOT_INVALID = 6, 8
_ARMED_FLAG = 128  # MAV_MODE_FLAG_SAFETY_ARMED
_ITEM_RETRY_S = 1.0  # resend a mission message after this long without an answer
_SILENCE_S = 10.0  # no message at all for this long: the link is lost


def _command_result_name(value: int) -> str:
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    entry = mavlink.enums["MAV_RESULT"].get(value)
    return entry.name if entry is not None else f"MAV_RESULT {value}"


# --- the link ---------------------------------------------------------------------------


class Link(MissionProtocol):
    """A MAVLink connection to one autopilot (see the module notes).

    Use :meth:`connect`; close it (or use it as a context manager) when done.
    """

    def __init__(self, transport: Transport, url: str, source_system: int = 255) -> None:
        from pymavlink.dialects.v20 import ardupilotmega as mavlink

        self.url = url
        self.recorder = Recorder()
        self._transport = transport
        self._mav = mavlink.MAVLink(transport, srcSystem=source_system, srcComponent=_GCS_COMPONENT)
        self._mav.robust_parsing = True
        self.source_system = source_system
        self.target_system = 0
        self.target_component = 0
        self.custom_mode: int | None = None
        self.armed = False
        self.statustexts: deque[str] = deque(maxlen=100)
        self.prearm_text = ""
        self.mission_current = -1
        self.mission_current_max = -1  # the highest since reset to -1 (a mission's progress)
        self.reached: list[int] = []
        self.sys_status: Any = None
        self.sim_time_us: int | None = None  # the vehicle's UTC clock (SYSTEM_TIME)
        self.last_message_wall = time.monotonic()
        self._pending: deque[Any] = deque()
        self._last_heartbeat_sent = 0.0
        self._closed = False
        #: Seconds without an answer before a mission message is sent again.
        self.retry_s = _ITEM_RETRY_S

    # -- connection --

    @classmethod
    def connect(cls, url: str, *, timeout_s: float = 30.0, source_system: int = 255) -> Link:
        """Open ``url`` and wait up to ``timeout_s`` for an autopilot's ``HEARTBEAT``.

        Raises
        ------
        SimError
            Naming the URL when it cannot be opened or no autopilot answers.
        """
        transport = open_transport(url, timeout_s)
        link = cls(transport, url, source_system)
        try:
            for msg in link.messages(timeout_s, silence_s=timeout_s):
                if msg.get_type() == "HEARTBEAT" and link.target_system:
                    link._request_streams()
                    return link
        except LinkLost as exc:
            link.close()
            raise SimError(f"{url}: connection closed before a heartbeat arrived ({exc})") from None
        link.close()
        raise SimError(
            f"{url}: no HEARTBEAT from an autopilot within {timeout_s:g} s "
            "(is the vehicle running, and is this its address?)"
        )

    def close(self) -> None:
        """Close the connection (again is harmless)."""
        if not self._closed:
            self._closed = True
            self._transport.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request_streams(self) -> None:
        """Ask for telemetry at 10 Hz (SITL streams nothing on a fresh port until asked)."""
        self._mav.request_data_stream_send(self.target_system, self.target_component, 0, 10, 1)

    # -- the message pump --

    def messages(self, timeout_s: float, *, silence_s: float = _SILENCE_S) -> Iterator[Any]:
        """Yield every message received during the next ``timeout_s`` seconds (wall clock).

        Each one has been fed to :attr:`recorder` and noted in the link's state first.

        Raises
        ------
        LinkLost
            When the connection closes, or nothing arrives for ``silence_s`` seconds.
        """
        for msg in self._pump(timeout_s, silence_s):
            if msg is not None:
                yield msg

    def _pump(self, timeout_s: float, silence_s: float = _SILENCE_S) -> Iterator[Any]:
        """Like :meth:`messages`, but yields None at least every 0.1 s while nothing comes."""
        deadline = time.monotonic() + timeout_s
        while True:
            while self._pending:
                yield self._pending.popleft()
            now = time.monotonic()
            if now >= deadline:
                return
            if now - self._last_heartbeat_sent >= 1.0:
                self._send_heartbeat()
                self._last_heartbeat_sent = now
            if now - self.last_message_wall > silence_s:
                raise LinkLost(f"{self.url}: nothing received for {silence_s:g} s")
            data = self._transport.read(min(0.1, deadline - now))
            if not data:
                yield None
                continue
            wall_us = time.time_ns() // 1000
            for msg in self._mav.parse_buffer(data) or ():
                if msg.get_type() == "BAD_DATA":
                    continue
                self.last_message_wall = time.monotonic()
                self.recorder.feed(msg, wall_us)
                self._note(msg)
                self._pending.append(msg)

    def _send_heartbeat(self) -> None:
        self._mav.heartbeat_send(_MAV_TYPE_GCS, _MAV_AUTOPILOT_INVALID, 0, 0, 0)

    def _from_vehicle(self, msg: Any) -> bool:
        return bool(self.target_system) and msg.get_srcSystem() == self.target_system

    def _note(self, msg: Any) -> None:
        kind = msg.get_type()
        if (
            kind == "HEARTBEAT"
            and not self.target_system
            and msg.type != _MAV_TYPE_GCS
            and msg.autopilot != _MAV_AUTOPILOT_INVALID
        ):
            self.target_system = msg.get_srcSystem()
            self.target_component = msg.get_srcComponent()
        if not self._from_vehicle(msg):
            return
        if kind == "HEARTBEAT" and msg.get_srcComponent() == self.target_component:
            self.custom_mode = int(msg.custom_mode)
            self.armed = bool(msg.base_mode & _ARMED_FLAG)
        elif kind == "STATUSTEXT":
            text = str(msg.text).rstrip("\x00").strip()
            self.statustexts.append(text)
            if text.lower().startswith(("prearm", "arm:")):
                self.prearm_text = text
        elif kind == "MISSION_CURRENT":
            self.mission_current = int(msg.seq)
            self.mission_current_max = max(self.mission_current_max, self.mission_current)
        elif kind == "MISSION_ITEM_REACHED":
            if not self.reached or self.reached[-1] != msg.seq:
                self.reached.append(int(msg.seq))
        elif kind == "SYS_STATUS":
            self.sys_status = msg
        elif kind == "SYSTEM_TIME" and msg.time_unix_usec > 0:
            self.sim_time_us = int(msg.time_unix_usec)

    def _for_me(
        self, msg: Any, kind: str | tuple[str, ...], mission_type: int | None = None
    ) -> bool:
        """``msg`` is ``kind``, from the vehicle, addressed to us (and of ``mission_type``)."""
        if msg.get_type() not in ((kind,) if isinstance(kind, str) else kind):
            return False
        if not self._from_vehicle(msg):
            return False
        if getattr(msg, "target_system", 0) not in (0, self.source_system):
            return False
        return mission_type is None or getattr(msg, "mission_type", 0) == mission_type

    def _last_text(self, since: int) -> str:
        """The vehicle's STATUSTEXT messages received after the first ``since``, joined."""
        texts = list(self.statustexts)[since:]
        return "; ".join(texts[-3:])

    # -- mission protocol --

    def command(self, command: int, *params: float, timeout_s: float = 5.0) -> int:
        """Send ``COMMAND_LONG`` (resent each second) and return the ``COMMAND_ACK`` result."""
        p = [float(v) for v in params] + [0.0] * (7 - len(params))
        deadline = time.monotonic() + timeout_s
        confirmation = 0
        while time.monotonic() < deadline:
            self._mav.command_long_send(
                self.target_system, self.target_component, command, confirmation, *p
            )
            confirmation = min(confirmation + 1, 255)
            for msg in self.messages(min(1.0, max(0.0, deadline - time.monotonic()))):
                if self._for_me(msg, "COMMAND_ACK") and int(msg.command) == command:
                    if int(msg.result) == 5:  # MAV_RESULT_IN_PROGRESS: wait for the final one
                        continue
                    return int(msg.result)
        raise SimError(f"{self.url}: no COMMAND_ACK for command {command} within {timeout_s:g} s")

    def set_parameter(self, name: str, value: float, timeout_s: float = 5.0) -> None:
        """``PARAM_SET`` (resent each second) until the vehicle echoes the value in ``PARAM_VALUE``.

        Raises
        ------
        SimError
            When the vehicle does not confirm it (an unknown name is never answered).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._mav.param_set_send(
                self.target_system, self.target_component, name.encode(), float(value), 9
            )
            for msg in self.messages(min(1.0, max(0.0, deadline - time.monotonic()))):
                if (
                    msg is not None
                    and self._from_vehicle(msg)
                    and msg.get_type() == "PARAM_VALUE"
                    and str(msg.param_id) == name
                    and abs(float(msg.param_value) - value) <= 1e-6 * max(1.0, abs(value))
                ):
                    return
        raise SimError(
            f"{self.url}: parameter {name} = {value:g} not confirmed within {timeout_s:g} s"
        )

    def _wait(self, done: Any, timeout_s: float, resend: Any) -> bool:
        """Pump until ``done()``; ``resend()`` each second meanwhile; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while not done():
            now = time.monotonic()
            if now >= deadline:
                return False
            resend()
            for _ in self.messages(min(1.0, deadline - now)):
                if done():
                    return True
        return True

    def set_mode(self, mode: str, timeout_s: float = 10.0) -> None:
        """Switch to ArduCopter ``mode`` and wait until the ``HEARTBEAT`` shows it."""
        name = mode.upper()
        if name not in COPTER_MODES:
            raise SimError(f"mode {mode!r} is not one of {', '.join(COPTER_MODES)}")
        wanted = COPTER_MODES[name]
        texts = len(self.statustexts)
        refused: list[str] = []

        def resend() -> None:
            result = self.command(176, 1, wanted, timeout_s=2.0)  # MAV_CMD_DO_SET_MODE, custom
            if result == 3:  # MAV_RESULT_UNSUPPORTED: the older SET_MODE message
                self._mav.set_mode_send(self.target_system, 1, wanted)
            elif result != 0:
                refused.append(_command_result_name(result))

        if not self._wait(lambda: self.custom_mode == wanted, timeout_s, resend) or (
            self.custom_mode != wanted
        ):
            why = refused[-1] if refused else "the HEARTBEAT never showed it"
            text = self._last_text(texts)
            raise SimError(
                f"vehicle did not switch to {name}: {why}" + (f" ({text})" if text else "")
            )

    def prearm_ok(self) -> bool | None:
        """The ``SYS_STATUS`` pre-arm bit: True/False, or None when the vehicle reports none."""
        status = self.sys_status
        bit = 0x10000000  # MAV_SYS_STATUS_PREARM_CHECK
        if status is None or not status.onboard_control_sensors_present & bit:
            return None
        return bool(status.onboard_control_sensors_health & bit)

    def wait_prearm(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` (wall clock) until the pre-arm checks pass.

        Uses the ``SYS_STATUS`` pre-arm bit; a vehicle that does not report it is left to
        :meth:`arm`, which retries.

        Raises
        ------
        SimError
            On timeout, quoting the vehicle's last ``PreArm:`` message.
        """
        deadline = time.monotonic() + timeout_s
        for _ in self._pump(timeout_s):
            state = self.prearm_ok()
            if state is None and self.sys_status is not None:
                return
            if state:
                return
            if time.monotonic() >= deadline:
                break
        if self.sys_status is None:
            return  # no SYS_STATUS at all: arm() will find out
        if not self.prearm_text:  # ask for the reason: a refused arm names it
            if self.command(400, 1, timeout_s=2.0) == 0:
                return  # it armed after all: the checks pass
            for _ in self.messages(0.5):
                if self.prearm_text:
                    break
        raise SimError(
            f"pre-arm checks still failing after {timeout_s:g} s"
            + (f": {self.prearm_text}" if self.prearm_text else "")
        )

    def arm(self, timeout_s: float = 60.0) -> None:
        """Arm, retrying while pre-arm checks fail, until the ``HEARTBEAT`` shows it armed.

        Raises
        ------
        SimError
            After ``timeout_s`` seconds, quoting the vehicle's last ``PreArm:`` message.
        """
        results: list[str] = []

        def resend() -> None:
            result = self.command(400, 1, timeout_s=2.0)  # MAV_CMD_COMPONENT_ARM_DISARM
            if result != 0:
                results.append(_command_result_name(result))

        if not self._wait(lambda: self.armed, timeout_s, resend):
            why = self.prearm_text or (results[-1] if results else "no reason given")
            raise SimError(f"vehicle refused to arm within {timeout_s:g} s: {why}")

    def start_mission(self) -> None:
        """``MAV_CMD_MISSION_START`` (the vehicle is armed in AUTO)."""
        result = self.command(300, 0, 0)
        if result != 0:
            text = self.prearm_text or self._last_text(len(self.statustexts) - 1)
            raise SimError(
                f"vehicle refused MISSION_START: {_command_result_name(result)}"
                + (f" ({text})" if text else "")
            )

    def rtl(self) -> None:
        """Abort: return to launch."""
        self.set_mode("RTL")

    def request_home(self) -> None:
        """Ask for ``HOME_POSITION`` (``MAV_CMD_GET_HOME_POSITION``) without waiting."""
        self._mav.command_long_send(
            self.target_system, self.target_component, 410, 0, 0, 0, 0, 0, 0, 0, 0
        )
