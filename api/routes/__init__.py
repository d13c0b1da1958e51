"""The HTTP routes, one module per noun, each with a ``router`` mounted under ``/api``."""
