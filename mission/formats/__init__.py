"""Mission files: a :class:`~mission.plan.Plan` to text and text to a Plan, no file I/O.

========== ============================================== ====================
extension  format                                         texts per plan
========== ============================================== ====================
.json      skyledger's own versioned plan JSON            one
.plan      QGroundControl plan file                       one per sortie
.waypoints ``QGC WPL 110`` as Mission Planner writes it   one per sortie
.geojson   RFC 7946 FeatureCollection (route, items, ...) one
.kml       KML 2.2 (Google Earth)                         one
========== ============================================== ====================

``.plan`` and ``.waypoints`` are missions an autopilot loads one at a time, so
:func:`render` gives one text per sortie and :func:`output_names` names the files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mission.errors import MissionError
from mission.formats import geojson, kml, plan_json, qgc, wpl
from mission.plan import Plan

if TYPE_CHECKING:
    from mission.analysis import Analysis

__all__ = ["EXTENSIONS", "PER_SORTIE", "normalise_ext", "output_names", "parse", "render"]

EXTENSIONS = (".json", ".plan", ".waypoints", ".geojson", ".kml")
#: Formats that hold one sortie per file.
PER_SORTIE = frozenset({".plan", ".waypoints"})

# Writers that show what the plan does (metrics, photo footprints) take its paper flight.
_RENDER: dict[str, Callable[[Plan, Analysis | None], list[str]]] = {
    ".json": plan_json.render,
    ".plan": lambda plan, _analysis: qgc.render(plan),
    ".waypoints": lambda plan, _analysis: wpl.render(plan),
    ".geojson": geojson.render,
    ".kml": kml.render,
}
_PARSE: dict[str, Callable[[str, str], Plan]] = {
    ".json": plan_json.parse,
    ".plan": qgc.parse,
    ".waypoints": wpl.parse,
    ".geojson": geojson.parse,
    ".kml": kml.parse,
}


def normalise_ext(ext: str) -> str:
    """``ext`` in lower case with its dot; a MissionError when it is not a mission format.

    >>> normalise_ext("KML")
    '.kml'
    """
    norm = ext.strip().lower()
    norm = norm if norm.startswith(".") else "." + norm
    if norm not in EXTENSIONS:
        raise MissionError(
            f"unknown mission file extension {ext!r}; valid: {', '.join(EXTENSIONS)}"
        )
    return norm


def render(plan: Plan, ext: str, analysis: Analysis | None = None) -> list[str]:
    """The text of each file to write for ``plan`` in the format ``ext``.

    Parameters
    ----------
    plan : Plan
        The plan to write.
    ext : str
        One of :data:`EXTENSIONS` (case and leading dot optional).
    analysis : Analysis, optional
        ``mission.analysis.analyse(plan)``, when the caller has it already; otherwise
        the formats that need it (``.json``, ``.geojson``, ``.kml``) compute it.

    Returns
    -------
    list of str
        One text for ``.json``, ``.geojson`` and ``.kml``; one per sortie for
        ``.plan`` and ``.waypoints`` (name them with :func:`output_names`).
    """
    return _RENDER[normalise_ext(ext)](plan, analysis)


def parse(text: str, ext: str, source: str = "<text>") -> Plan:
    """Read a plan from the text of a mission file.

    Parameters
    ----------
    text : str
        The whole file, decoded.
    ext : str
        Its format, one of :data:`EXTENSIONS`.
    source : str
        What to call the file in error messages (usually its path).

    Returns
    -------
    Plan
        A ``.plan`` or ``.waypoints`` file gives a plan of one sortie.

    Raises
    ------
    MissionError
        One line naming ``source``, the offending field or line and what would do.
    """
    return _PARSE[normalise_ext(ext)](text, source)


def output_names(name: str, ext: str, n: int) -> list[str]:
    """File names for ``n`` texts of :func:`render`: ``name.ext``, or ``name-s1.ext`` ... when n > 1.

    >>> output_names("out", ".plan", 2)
    ['out-s1.plan', 'out-s2.plan']
    >>> output_names("out.kml", "kml", 1)
    ['out.kml']
    """
    ext = normalise_ext(ext)
    if name.lower().endswith(ext):
        name = name[: -len(ext)]
    if n == 1:
        return [name + ext]
    return [f"{name}-s{i}{ext}" for i in range(1, n + 1)]
