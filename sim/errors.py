"""The one exception tree of :mod:`sim`."""


class SimError(ValueError):
    """The one exception tree of :mod:`sim`: messages name the value and what would be valid."""
