"""The edges users touch: the ``skyledger`` command line (and, later, the HTTP service).

May import every other skyledger package; nothing happens at import.
"""
