"""Reading XML safely: one parser for asset, plan and zone KML, VOC annotations and XMP.

A KML document has no use for ``<!DOCTYPE`` or ``<!ENTITY`` declarations, and they are how
an XML file pulls in other files or expands into gigabytes, so they are refused before
parsing. ``xml.etree`` is imported lazily.
"""

from __future__ import annotations

import re
from typing import Any

from mission.errors import MissionError

_FORBIDDEN = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def local_name(tag: Any) -> str:
    """An element's tag without its namespace (KML 2.2, Google's extensions or none).

    >>> local_name("{http://www.opengis.net/kml/2.2}Placemark")
    'Placemark'
    """
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_xml(
    text: str, source: str, what: str = "XML file", malformed: str = "not well-formed XML"
) -> Any:
    """The root element of ``text``, refusing DOCTYPE/ENTITY declarations; a one-line
    :class:`MissionError` otherwise (``what`` names the kind of file, ``malformed`` what a
    parse error is called)."""
    import xml.etree.ElementTree as ET

    if _FORBIDDEN.search(text):
        raise MissionError(
            f"{source}: a DOCTYPE or ENTITY declaration is not allowed in a {what} "
            "(it can pull in other files); remove it"
        )
    try:
        return ET.fromstring(text.lstrip("\ufeff"))
    except ET.ParseError as exc:
        raise MissionError(f"{source}: {malformed} ({exc})") from None


def parse_kml(
    text: str, source: str, what: str = "KML file", malformed: str = "not well-formed XML"
) -> Any:
    """The ``<kml>`` root element of ``text`` (see :func:`parse_xml`)."""
    root = parse_xml(text, source, what, malformed)
    if local_name(root.tag) != "kml":
        raise MissionError(f"{source}: root element <{local_name(root.tag)}> is not <kml>")
    return root
