"""What every zone reader shares: where an error is, notes, and the field parsers.

A :class:`Where` names the source and the zone being read; its :meth:`Where.error` gives
the one-line :class:`~compliance.errors.ComplianceError` every reader raises
(``zones.json: zone EBBR-01: geometry[0].upperLimit 'abc' is not a number``) and its
:meth:`Where.note` records what was changed or kept on the way (closed rings, repaired
polygons, unknown fields). The parsers below check one JSON value each and say what
would have been valid.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from compliance.errors import ComplianceError
from compliance.zones import (
    GROUND,
    NO_CEILING,
    REASONS,
    RESTRICTIONS,
    SUN_EVENTS,
    UNLIMITED,
    WEEKDAYS,
    Authority,
    Limit,
    Reference,
    Restriction,
    Unit,
)

#: Spellings of the restriction the standards and real files use, mapped to the model's.
_RESTRICTION_ALIASES = {"REQ_AUTHORIZATION": "REQ_AUTHORISATION"}
_PURPOSES = {
    "AUTHORISATION": "AUTHORISATION",
    "AUTHORIZATION": "AUTHORISATION",
    "NOTIFICATION": "NOTIFICATION",
    "INFORMATION": "INFORMATION",
}
_TIME = re.compile(
    r"^(?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def one_line(text: str) -> str:
    r"""``text`` with control characters (a newline in a damaged key) written as escapes.

    >>> print(one_line("contactName" + chr(10) + " missing"))
    contactName\n missing
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Where:
    """The source and zone being read: makes errors and collects notes.

    ``label`` is what errors and notes name: ``zone EBBR-01`` once the identifier is
    known, else the position in the file (``features[3]``).
    """

    def __init__(self, source: str, label: str, notes: list[str]):
        self.source, self.label, self.notes = source, label, notes

    def for_zone(self, identifier: str) -> Where:
        """The same place, now named by the zone identifier."""
        return Where(self.source, f"zone {identifier}", self.notes)

    def error(self, field: str, problem: str) -> ComplianceError:
        """``source: zone X: field problem`` as a :class:`ComplianceError` to raise."""
        prefix = f"{self.source}: {self.label}: "
        return ComplianceError(one_line(prefix + (f"{field} {problem}" if field else problem)))

    def note(self, text: str) -> None:
        """Record ``zone X: text`` once."""
        line = one_line(f"{self.label}: {text}")
        if line not in self.notes:
            self.notes.append(line)

    def unknown(self, fields: dict[str, Any]) -> None:
        """Note, once per zone, the fields kept in ``extra`` without being read."""
        if fields:
            names = ", ".join(repr(k) for k in sorted(fields))
            plural = "s" if len(fields) > 1 else ""
            self.note(f"unknown field{plural} {names} kept in extra")


# --- plain values ----------------------------------------------------------------------------


def obj(w: Where, value: Any, field: str) -> dict[str, Any]:
    """``value`` as a JSON object, else an error naming ``field``."""
    if not isinstance(value, dict):
        raise w.error(field, f"is {_kind(value)}, expected an object")
    return value


def items(w: Where, value: Any, field: str, single: bool = False) -> list[Any]:
    """``value`` as a list (None: empty; a lone value too when ``single``)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if single:
        return [value]
    raise w.error(field, f"is {_kind(value)}, expected a list")


def text(w: Where, value: Any, field: str, required: bool = False) -> str | None:
    """A string (numbers are written out); None when absent unless ``required``."""
    if value is None:
        if required:
            raise w.error(field, "missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise w.error(field, f"is {_kind(value)}, expected a string")
    return value if isinstance(value, str) else num_text(value)


def number(w: Where, value: Any, field: str) -> float | None:
    """A finite number from a JSON number or numeric string; None stays None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise w.error(field, f"{value!r} is not a number")
    try:
        result = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise w.error(field, f"{value!r} is not a number") from None
    if not math.isfinite(result):
        raise w.error(field, f"{value!r} is not a finite number")
    return result


def texts(w: Where, value: Any, field: str) -> dict[str, str]:
    """Texts by lower-case language: a string (taken as ``en``), ``{lang: text}`` or a
    list of ED-318 ``{text, lang}`` objects."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"en": value}
    if isinstance(value, dict) and "text" not in value:
        out = {}
        for lang, t in value.items():
            out[str(lang).lower()] = text(w, t, f"{field}.{lang}", required=True) or ""
        return out
    out = {}
    for i, entry in enumerate(items(w, value, field, single=True)):
        where = f"{field}[{i}]"
        if isinstance(entry, str):
            out.setdefault("en", entry)
            continue
        entry = obj(w, entry, where)
        t = text(w, entry.get("text"), f"{where}.text")
        lang = text(w, entry.get("lang"), f"{where}.lang") or "en"
        if t is not None:
            out.setdefault(lang.lower(), t)
    return out


def first_text(w: Where, value: Any, field: str) -> str:
    """One string from a string, an ED-318 text object or a list of them (English first)."""
    found = texts(w, value, field)
    return found.get("en") or next(iter(found.values()), "")


def authority(w: Where, value: Any, field: str) -> Authority:
    """An ED-269 or ED-318 ``zoneAuthority`` entry (plain strings or ED-318 text objects)."""
    entry = obj(w, value, field)
    return Authority(
        name=first_text(w, entry.get("name"), f"{field}.name"),
        purpose=purpose(w, entry.get("purpose"), f"{field}.purpose"),
        service=first_text(w, entry.get("service"), f"{field}.service"),
        contact=first_text(w, entry.get("contactName"), f"{field}.contactName"),
        email=first_text(w, entry.get("email"), f"{field}.email"),
        phone=first_text(w, entry.get("phone"), f"{field}.phone"),
        site_url=first_text(w, entry.get("siteURL"), f"{field}.siteURL"),
        interval_before=duration(w, entry.get("intervalBefore"), f"{field}.intervalBefore"),
    )


# --- enumerations ----------------------------------------------------------------------------


def restriction(w: Where, value: Any, field: str) -> Restriction:
    """The restriction, ``REQ_AUTHORIZATION`` read as ``REQ_AUTHORISATION``."""
    raw = text(w, value, field, required=True) or ""
    key = _RESTRICTION_ALIASES.get(raw.strip().upper(), raw.strip().upper())
    for known in RESTRICTIONS:
        if key == known:
            return known
    valid = ", ".join((*RESTRICTIONS, "REQ_AUTHORIZATION"))
    raise w.error(field, f"{raw!r} is not one of {valid}")


def reasons(w: Where, value: Any, field: str) -> tuple[str, ...]:
    """Reasons from :data:`~compliance.zones.REASONS`; any other becomes OTHER, noted."""
    out: list[str] = []
    for i, entry in enumerate(items(w, value, field, single=True)):
        raw = (text(w, entry, f"{field}[{i}]", required=True) or "").strip().upper()
        if raw not in REASONS:
            w.note(f"reason {raw!r} read as OTHER")
            raw = "OTHER"
        if raw not in out:
            out.append(raw)
    return tuple(out)


def purpose(w: Where, value: Any, field: str) -> str:
    """An authority's purpose, spelled as the model does (AUTHORISATION)."""
    raw = text(w, value, field)
    if raw is None:
        return "AUTHORISATION"
    if raw.strip().upper() not in _PURPOSES:
        raise w.error(field, f"{raw!r} is not AUTHORIZATION, NOTIFICATION or INFORMATION")
    return _PURPOSES[raw.strip().upper()]


def reference(w: Where, value: Any, field: str) -> Reference:
    """AGL or AMSL; SFC is read as AGL, WGS84 (ellipsoid) as AMSL with a note."""
    raw = (text(w, value, field, required=True) or "").strip().upper()
    if raw in ("AGL", "SFC"):
        return "AGL"
    if raw == "AMSL":
        return "AMSL"
    if raw == "WGS84":
        w.note(f"{field} WGS84 (ellipsoid height) read as AMSL")
        return "AMSL"
    raise w.error(field, f"{raw!r} is not AGL, AMSL, SFC or WGS84")


def unit(w: Where, value: Any, field: str) -> Unit:
    """``m`` or ``ft`` from M/FT in any case."""
    raw = (text(w, value, field, required=True) or "").strip().lower()
    if raw in ("m", "ft"):
        return "m" if raw == "m" else "ft"
    raise w.error(field, f"{value!r} is not M or FT")


def limit(
    w: Where, value: Any, ref: Any, uom: Unit, field: str, ref_field: str, upper: bool
) -> Limit:
    """A vertical limit as ED-269/ED-318 write it: null lower is the ground, a null or
    99999 upper is unlimited; a reference is needed whenever a value is given."""
    metres = number(w, value, field)
    if metres is None or (upper and metres >= UNLIMITED):
        return NO_CEILING if upper else GROUND
    return Limit(metres, reference(w, ref, ref_field), uom)


def check_band(w: Where, lower: Limit, upper: Limit, field: str) -> None:
    """Refuse a lower limit above the upper one when both use the same reference."""
    if lower.value is None or upper.value is None or lower.reference != upper.reference:
        return
    low, high = lower.amsl_m(0.0, lower=True), upper.amsl_m(0.0, lower=False)
    if low > high:
        raise w.error(field, f"lower limit {lower.value:g} is above upper limit {upper.value:g}")


# --- time ------------------------------------------------------------------------------------


def clock(w: Where, value: Any, field: str, events: bool = False) -> tuple[str, int | None]:
    """("HH:MM", UTC offset in minutes or None when none is written) from ``HH:MM``, ``HH:MM:SS[.f]`` with an optional
    ``Z`` or offset; ``24:00`` ends a day. Seconds are dropped, rounding down with a note.
    With ``events`` a sun event (BMCT, SR, SS, EECT) is returned as its name."""
    raw = (text(w, value, field, required=True) or "").strip()
    if events and raw.upper() in SUN_EVENTS:
        return raw.upper(), None
    match = _TIME.match(raw)
    hours = int(match["h"]) if match else -1
    minutes = int(match["m"]) if match else -1
    seconds = int(match["s"] or 0) if match else 0
    fraction = (match["f"] or "").strip("0") if match else ""
    if not match or minutes > 59 or seconds > 59 or hours > 24 or (hours == 24 and minutes):
        valid = "HH:MM or HH:MM:SS" + (" or a sun event BMCT, SR, SS, EECT" if events else "")
        raise w.error(field, f"{raw!r} is not a time of day ({valid})")
    if seconds or fraction:
        w.note(f"{field} {raw!r} rounded down to the minute")
    offset: int | None = None if not match["tz"] else 0
    if match["tz"] and match["tz"] != "Z":
        tz = match["tz"].replace(":", "")
        offset = (1 if tz[0] == "+" else -1) * (int(tz[1:3]) * 60 + int(tz[3:5]))
    return f"{hours:02d}:{minutes:02d}", offset


def offset_zone(w: Where, offsets: set[int | None]) -> str | None:
    """The IANA ``Etc/GMT±h`` zone for the one whole-hour UTC offset a zone's clock times
    carry; None when they are all UTC (or say nothing)."""
    given = {o or 0 for o in offsets}
    if given <= {0}:
        return None
    if len(given) > 1 or next(iter(given)) % 60:
        shown = ", ".join(f"{o / 60:+g} h" for o in sorted(given))
        raise w.error(
            "applicability", f"times use UTC offsets {shown}; expected one whole-hour offset"
        )
    hours = next(iter(given)) // 60
    name = f"Etc/GMT{-hours:+d}"
    w.note(f"schedule times at UTC{hours:+d} h kept in time zone {name}")
    return name


def instant(w: Where, value: Any, field: str) -> datetime | None:
    """An ISO 8601 date-time with ``Z`` or an offset, as an aware UTC datetime."""
    raw = text(w, value, field)
    if raw is None or not raw.strip():
        return None
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise w.error(
            field, f"{raw!r} is not an ISO 8601 date-time (e.g. 2024-05-01T08:00:00Z)"
        ) from None
    if when.tzinfo is None:
        raise w.error(field, f"{raw!r} has no UTC offset (add Z or +01:00)")
    return when.astimezone(UTC)


def days(w: Where, value: Any, field: str) -> frozenset[int]:
    """Week days (0 Monday) from MON..SUN names; ANY is every day."""
    out: set[int] = set()
    entries = items(w, value, field, single=True)
    if not entries:
        raise w.error(field, "is empty; expected MON..SUN or ANY")
    for i, entry in enumerate(entries):
        raw = (text(w, entry, f"{field}[{i}]", required=True) or "").strip().upper()
        if raw == "ANY":
            out.update(range(7))
        elif raw in WEEKDAYS:
            out.add(WEEKDAYS.index(raw))
        else:
            raise w.error(f"{field}[{i}]", f"{raw!r} is not one of {', '.join(WEEKDAYS)}, ANY")
    return frozenset(out)


def duration(w: Where, value: Any, field: str) -> timedelta | None:
    """An ISO 8601 duration in weeks, days, hours, minutes and seconds (``P2D``, ``PT48H``)."""
    raw = text(w, value, field)
    if raw is None or not raw.strip():
        return None
    match = _DURATION.match(raw.strip().upper())
    if not match or raw.strip().upper() in ("P", "PT") or raw.strip().upper().endswith("T"):
        raise w.error(
            field, f"{raw!r} is not an ISO 8601 duration in weeks, days, hours, minutes, seconds"
        )
    parts = {k: v for k, v in match.groupdict().items() if v}
    whole, _, fraction = parts.get("s", "0").partition(".")
    return timedelta(
        weeks=int(parts.get("w", 0)),
        days=int(parts.get("d", 0)),
        hours=int(parts.get("h", 0)),
        minutes=int(parts.get("m", 0)),
        seconds=int(whole),
        microseconds=int((fraction + "000000")[:6]),
    )


def format_duration(span: timedelta) -> str:
    """``span`` as an ISO 8601 duration, the inverse of :func:`duration`.

    >>> format_duration(timedelta(days=2, hours=3))
    'P2DT3H'
    """
    micro = span // timedelta(microseconds=1)
    days_, rest = divmod(micro, 86_400_000_000)
    hours, rest = divmod(rest, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    out = f"P{days_}D" if days_ else "P"
    clock_part = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or micros:
        clock_part += f"{seconds}.{micros:06d}S" if micros else f"{seconds}S"
    if clock_part:
        out += "T" + clock_part
    return out if out != "P" else "PT0S"


# --- helpers ---------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def num_text(value: float) -> str:
    """A number as written in a message: ``120`` not ``120.0``, else in full."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def ed_fields(w: Where, doc: dict[str, Any], offsets: Any) -> dict[str, Any]:
    """The :class:`Zone` fields ED-269 and ED-318 write alike: names, reasons, message,
    restriction conditions, authorities and the time zone their clock offsets imply."""
    conditions = items(w, doc.get("restrictionConditions"), "restrictionConditions", True)
    return {
        "names": texts(w, doc.get("name"), "name"),
        "reasons": reasons(w, doc.get("reason"), "reason"),
        "message": texts(w, doc.get("message"), "message"),
        "conditions": tuple(
            text(w, v, f"restrictionConditions[{i}]", required=True) or ""
            for i, v in enumerate(conditions)
        ),
        "authorities": tuple(
            authority(w, a, f"zoneAuthority[{i}]")
            for i, a in enumerate(items(w, doc.get("zoneAuthority"), "zoneAuthority", True))
        ),
        "time_zone": offset_zone(w, offsets),
    }
