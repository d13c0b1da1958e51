"""Airspace and privacy zones, rule sets, the mission checker and remedies, conformance of flown tracks, and the transparency ledger.

Imports only :mod:`mission` of skyledger's packages and does no I/O."""


class ComplianceError(ValueError):
    """The one exception tree of :mod:`compliance`: messages name the value and what would be valid."""


__all__ = ["ComplianceError"]
