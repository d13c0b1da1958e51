"""Telemetry to a :class:`~mission.track.Track` and a ``.tlog``, stamped with simulated time.

:class:`Recorder` is fed every MAVLink message a :class:`~sim.link.Link` receives. It keeps
each packet's bytes with what is needed to time it, and makes two things of them:

- :meth:`Recorder.tlog`: a MAVLink telemetry log (8-byte big-endian µs since the epoch and
  the packet, as :mod:`mission.tlog` describes), every received packet in arrival order;
- :meth:`Recorder.track`: the flown track, read from that log with
  :func:`mission.tlog.read_tlog`, so the two always agree: samples from
  ``GLOBAL_POSITION_INT`` with the latest ``ATTITUDE``, ground speed from its ``vx``/``vy``,
  home from ``HOME_POSITION``, photos from ``CAMERA_FEEDBACK`` (or ``CAMERA_TRIGGER``
  placed on the track).

Times are the vehicle's *simulated* UTC, not the ground station's clock: a simulator run
faster than real time (SITL ``--speedup``, the built-in vehicle) would otherwise squeeze an
hour's flight into seconds. ``SYSTEM_TIME`` gives ``time_unix_usec`` and ``time_boot_ms``
at one instant; their difference (the boot epoch) plus a message's own ``time_boot_ms``
times it, and a message without ``time_boot_ms`` takes the latest boot time seen before
it. The boot epoch is kept until a ``SYSTEM_TIME`` moves it by more than a second (a
reboot), so jitter of a few milliseconds cannot make samples run backwards. Packets that
arrived before the first ``SYSTEM_TIME`` are timed with the first boot epoch. A vehicle
that sends no ``SYSTEM_TIME`` with a UTC time (``time_unix_usec`` 0) gets the arrival
wall-clock time, as a ground station's recorder would.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Any

from mission.errors import MissionError
from mission.track import Track
from sim.errors import SimError

__all__ = ["Recorder"]

_STAMP = struct.Struct(">Q")
_EPOCH_STEP_US = 1_000_000  # a boot epoch that moves by more than this is a new boot


@dataclass(frozen=True, slots=True)
class _Record:
    packet: bytes
    wall_us: int
    boot_ms: int | None  # the message's own time_boot_ms, if it has one
    epoch_us: int | None  # unix µs at boot, from a SYSTEM_TIME message


class Recorder:
    """Every received message, kept to make a track and a ``.tlog`` (see the module notes)."""

    def __init__(self) -> None:
        self._records: list[_Record] = []

    def __len__(self) -> int:
        return len(self._records)

    def feed(self, msg: Any, wall_us: int | None = None) -> None:
        """Keep ``msg`` (a pymavlink message) received at ``wall_us`` (now when not given)."""
        if msg.get_type() == "BAD_DATA":
            return
        packet = bytes(msg.get_msgbuf())
        if not packet:
            return
        boot_ms = getattr(msg, "time_boot_ms", None)
        epoch_us = None
        if msg.get_type() == "SYSTEM_TIME" and msg.time_unix_usec > 0:
            epoch_us = int(msg.time_unix_usec) - int(msg.time_boot_ms) * 1000
        stamp = time.time_ns() // 1000 if wall_us is None else int(wall_us)
        self._records.append(
            _Record(packet, stamp, None if boot_ms is None else int(boot_ms), epoch_us)
        )

    @property
    def has_sim_time(self) -> bool:
        """True once a ``SYSTEM_TIME`` with a UTC time has been received."""
        return any(r.epoch_us is not None for r in self._records)

    def _stamps(self) -> list[int]:
        """The time of each record in µs since the epoch (see the module notes)."""
        first = next((r.epoch_us for r in self._records if r.epoch_us is not None), None)
        if first is None:
            return [r.wall_us for r in self._records]
        epoch, boot_ms, out = first, 0, []
        for r in self._records:
            if r.epoch_us is not None and abs(r.epoch_us - epoch) > _EPOCH_STEP_US:
                epoch = r.epoch_us
            if r.boot_ms is not None:
                boot_ms = r.boot_ms
            out.append(epoch + boot_ms * 1000)
        return out

    def tlog(self) -> bytes:
        """Every received packet with its time, as a ``.tlog`` :mod:`mission.tlog` reads."""
        return b"".join(
            _STAMP.pack(stamp) + r.packet
            for stamp, r in zip(self._stamps(), self._records, strict=True)
        )

    def track(self, source: str = "") -> Track:
        """The flown track so far.

        Raises
        ------
        SimError
            When no position has been received yet.
        """
        name = source or "recorded telemetry"
        if not self._records:
            raise SimError(f"{name}: no telemetry received, so there is no track")
        from mission.tlog import read_tlog

        try:
            return read_tlog(self.tlog(), name)
        except MissionError as exc:
            raise SimError(str(exc)) from None
