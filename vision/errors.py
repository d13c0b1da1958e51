"""The one exception tree of :mod:`vision`."""


class VisionError(ValueError):
    """Footage, photos, weights, a dataset or a detection setting that cannot be used.

    The message names the offending value and what would be valid, in one line,
    so the command line and the service can show it to a user as it is.
    """
