"""The ground-station side of MAVLink, the ArduPilot SITL launcher, the built-in vehicle and the synthetic world.

Imports only :mod:`mission` of skyledger's packages."""

from sim.errors import SimError

__all__ = ["SimError"]
