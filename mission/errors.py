"""The one exception tree of :mod:`mission`."""


class MissionError(ValueError):
    """A plan, camera, asset or mission file that cannot be used.

    The message names the offending value and what would be valid, in one line,
    so the command line and the service can show it to a user as it is.
    """
