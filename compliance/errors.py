"""The one exception tree of :mod:`compliance`."""


class ComplianceError(ValueError):
    """The one exception tree of :mod:`compliance`: messages name the value and what would be valid."""
