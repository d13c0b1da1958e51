"""The one exception tree of :mod:`compliance`."""


class ComplianceError(ValueError):
    """The one exception tree of :mod:`compliance`: messages name the value and what would be valid."""


class LedgerError(ComplianceError):
    """A ledger entry, checkpoint or proof that is not valid: the message names the value."""
