"""Zone sources: read ED-269, ED-318, skyledger GeoJSON or KML zones; write skyledger GeoJSON.

:func:`read_zones` takes a file's text and name and gives every zone in it as
:class:`~compliance.zones.Zone` values with notes on what it changed or kept, or raises
one :class:`~compliance.errors.ComplianceError` naming the source, the zone and the field;
it never returns part of a file. KML is recognised by the ``.kml`` extension or a
``<kml`` root; the JSON formats by their content:

- a list, or an object with ``UASZoneList`` or a non-GeoJSON ``features`` list: ED-269;
- a FeatureCollection with ``"schema": "skyledger.zones"`` or features with
  ``properties.id``: skyledger's own GeoJSON (see :mod:`compliance.sources.geojson`);
- a FeatureCollection whose features have ``properties.identifier``: ED-318.

:func:`zones_to_geojson` writes skyledger's GeoJSON, which :func:`read_zones` reads back
into equal zones. docs/zones.md describes the formats and the choices made reading them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from compliance.errors import ComplianceError
from compliance.zones import Zone

__all__ = [
    "FORMATS",
    "SAMPLE_ZONES_FILE",
    "ZoneImport",
    "read_zones",
    "sample_zones_text",
    "zones_to_geojson",
]

#: The formats :func:`read_zones` recognises, as :attr:`ZoneImport.format` names them.
FORMATS = ("ed269", "ed318", "geojson", "kml")
_EXPECTED = (
    "expected ED-269 JSON (features or UASZoneList), an ED-318 or skyledger zones "
    "GeoJSON FeatureCollection, or KML"
)


@dataclass(frozen=True)
class ZoneImport:
    """What one file gave: its zones, its format (one of :data:`FORMATS`) and notes on
    what was repaired, assumed or kept without being read (``zone X: ...``)."""

    zones: tuple[Zone, ...]
    format: str
    notes: tuple[str, ...]


def read_zones(text: str, source: str) -> ZoneImport:
    """Every zone in ``text``, the content of the file named ``source``.

    Parameters
    ----------
    text : str
        The file's content.
    source : str
        The file's name, used in messages and to recognise ``.kml``.

    Returns
    -------
    ZoneImport
        All zones of the file, its format and the notes.

    Raises
    ------
    ComplianceError
        One line naming the source, the zone and the field, and what would be valid.

    Examples
    --------
    >>> found = read_zones('{"UASZoneList": []}', "empty.json")
    >>> found.format, found.zones
    ('ed269', ())
    """
    notes: list[str] = []
    fmt = "kml" if _is_kml(text, source) else "json"
    try:
        if fmt == "kml":
            from compliance.sources import kml

            zones = kml.read(text, source, notes)
        else:
            data = _load_json(text, source)
            fmt = _detect(data, source)
            zones = _read_json(fmt, data, source, notes)
    except ComplianceError as exc:
        message = str(exc)
        if not message.startswith(f"{source}: "):
            raise ComplianceError(f"{source}: {message}") from None
        raise
    except (TypeError, KeyError, AttributeError, IndexError, ValueError, RecursionError) as exc:
        # A shape of input no check above foresaw: still one line, never a traceback.
        raise ComplianceError(f"{source}: not a readable {fmt} zone file ({exc})") from None
    return ZoneImport(tuple(zones), fmt, tuple(notes))


def zones_to_geojson(zones: Sequence[Zone]) -> dict[str, Any]:
    """The zones as skyledger's zone GeoJSON FeatureCollection, one feature per volume.

    ``read_zones(json.dumps(zones_to_geojson(zones)), "zones.geojson").zones`` equals
    ``tuple(zones)``.
    """
    from compliance.sources import geojson

    return geojson.write(zones)


#: The sample city's zones, packaged with skyledger (project GeoJSON).
SAMPLE_ZONES_FILE = "sample_zones.geojson"


def sample_zones_text() -> str:
    """The sample city's zones as project GeoJSON text: aerodrome, helipad, school, street, event."""
    from importlib import resources

    return (resources.files("compliance") / "data" / SAMPLE_ZONES_FILE).read_text(encoding="utf-8")


def _is_kml(text: str, source: str) -> bool:
    if source.lower().endswith(".kml"):
        return True
    head = text.lstrip("\ufeff \t\r\n")[:4096]
    return head.startswith("<") and "<kml" in head


def _load_json(text: str, source: str) -> Any:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<"):
        raise ComplianceError(f"{source}: XML that is not KML; {_EXPECTED}")
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise ComplianceError(
            f"{source}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); {_EXPECTED}"
        ) from None


def _detect(data: Any, source: str) -> str:
    """The JSON format of ``data``, by its shape."""
    if isinstance(data, list):
        return "ed269"
    if not isinstance(data, dict):
        raise ComplianceError(
            f"{source}: a JSON {type(data).__name__}, not a zone file; {_EXPECTED}"
        )
    if "UASZoneList" in data:
        return "ed269"
    if data.get("schema") is not None:
        return "geojson"
    features = data.get("features")
    if data.get("type") == "FeatureCollection" and isinstance(features, list):
        for feature in features:
            props = feature.get("properties") if isinstance(feature, dict) else None
            if isinstance(props, dict) and "identifier" in props:
                return "ed318"
            if isinstance(props, dict) and "id" in props:
                return "geojson"
        if features:
            raise ComplianceError(
                f"{source}: features have neither properties.identifier (ED-318) nor "
                "properties.id (skyledger zones)"
            )
        return "geojson"
    if isinstance(features, list):
        return "ed269"
    raise ComplianceError(f"{source}: not a zone file; {_EXPECTED}")


def _read_json(fmt: str, data: Any, source: str, notes: list[str]) -> list[Zone]:
    if fmt == "ed269":
        from compliance.sources import ed269

        return ed269.read(data, source, notes)
    if fmt == "ed318":
        from compliance.sources import ed318

        return ed318.read(data, source, notes)
    from compliance.sources import geojson

    return geojson.read(data, source, notes)
