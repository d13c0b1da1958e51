"""The ground-station side of MAVLink, the ArduPilot SITL launcher, the built-in vehicle and the synthetic world.

Imports only :mod:`mission` of skyledger's packages."""


class SimError(ValueError):
    """The one exception tree of :mod:`sim`: messages name the value and what would be valid."""


__all__ = ["SimError"]
