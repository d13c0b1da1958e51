"""Airspace and privacy zones, rule sets, the mission checker and remedies, conformance of flown tracks, and the transparency ledger.

Imports only :mod:`mission` of skyledger's packages and does no I/O."""

from compliance.errors import ComplianceError

__all__ = ["ComplianceError"]
