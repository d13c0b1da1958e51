"""Rule sets: the operating limits a plan is checked against, kept as small JSON files.

A rule set file is a JSON object::

    {"schema": "skyledger.rules", "version": 1, "name": "eu-open",
     "ceiling_agl_m": 120, "vlos_max_m": 500, "min_sun_elevation_deg": null,
     "max_sortie_s": null, "geofence_required": false, "zone_margin_m": 0,
     "cross_track_max_m": 10, "altitude_tolerance_m": 5, "min_coverage_flown": 0.95,
     "description": "..."}

Every key but ``description`` must be present; ``null`` switches a limit off, so leaving a
key out never silently lifts a limit. Unknown keys are refused. :data:`PRESETS` ship with the
package in ``compliance/data`` and are read through :mod:`importlib.resources`.

Limits (:data:`LIMITS`) and what each key means are on :class:`RuleSet`; both a loaded file
and a :class:`RuleSet` built in Python are checked against the same ranges, and every error
is one line naming the key, the value and the valid range.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from compliance.errors import ComplianceError

__all__ = [
    "LIMITS",
    "PRESETS",
    "SCHEMA",
    "VERSION",
    "RuleSet",
    "load_rules",
    "preset",
    "rules_to_dict",
]

SCHEMA = "skyledger.rules"
VERSION = 1
#: Names of the rule sets that ship with skyledger (``compliance/data/<name>.json``).
PRESETS: tuple[str, ...] = ("eu-open", "us-part107")


@dataclass(frozen=True)
class _Limit:
    low: float
    high: float
    low_open: bool = False  # the value must be > low (else ≥ low)
    nullable: bool = False

    def accepts(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return math.isfinite(value) and above and value <= self.high

    def text(self) -> str:
        lower = f"> {self.low:g}" if self.low_open else f"≥ {self.low:g}"
        rule = f"a finite number {lower} and ≤ {self.high:g}"
        return rule + (", or null for no limit" if self.nullable else "")


#: The valid range of each numeric key.
LIMITS: dict[str, _Limit] = {
    "ceiling_agl_m": _Limit(0.0, 10_000.0, low_open=True, nullable=True),
    "vlos_max_m": _Limit(0.0, 100_000.0, low_open=True, nullable=True),
    "min_sun_elevation_deg": _Limit(-18.0, 90.0, nullable=True),
    "max_sortie_s": _Limit(0.0, 86_400.0, low_open=True, nullable=True),
    "zone_margin_m": _Limit(0.0, 10_000.0),
    "cross_track_max_m": _Limit(0.0, 10_000.0, low_open=True),
    "altitude_tolerance_m": _Limit(0.0, 10_000.0, low_open=True),
    "min_coverage_flown": _Limit(0.0, 1.0),
}


@dataclass(frozen=True)
class RuleSet:
    """Operating limits and conformance tolerances.

    Attributes
    ----------
    name : str
        Short identifier ("eu-open").
    ceiling_agl_m : float or None
        Highest flight height above ground level, metres; None: no ceiling.
    vlos_max_m : float or None
        Greatest horizontal distance from the pilot position (visual line of sight), metres.
    min_sun_elevation_deg : float or None
        Lowest geometric elevation of the sun's centre a flight may happen at (-6: civil
        twilight); None: night flight allowed.
    max_sortie_s : float or None
        Longest sortie, seconds; None: no limit beyond the battery.
    geofence_required : bool
        Whether the plan must carry an inclusion geofence.
    zone_margin_m : float
        Least horizontal distance from the edge of a PROHIBITED or REQ_AUTHORISATION zone.
    cross_track_max_m, altitude_tolerance_m : float
        Largest sideways and vertical departure of a flown track from its plan.
    min_coverage_flown : float
        Least share (0..1) of the planned camera passes a flight must fly.
    description : str
        Where the values come from and what they assume.

    Examples
    --------
    >>> rules = preset("us-part107")
    >>> rules.ceiling_agl_m, rules.min_sun_elevation_deg
    (121.92, -6.0)
    """

    name: str
    ceiling_agl_m: float | None
    vlos_max_m: float | None
    min_sun_elevation_deg: float | None
    max_sortie_s: float | None
    geofence_required: bool
    zone_margin_m: float
    cross_track_max_m: float
    altitude_tolerance_m: float
    min_coverage_flown: float
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ComplianceError(f"rules name {self.name!r} must be a non-empty string")
        if not isinstance(self.geofence_required, bool):
            raise ComplianceError(
                f"rules {self.name}: geofence_required = {self.geofence_required!r} "
                "is not valid; expected true or false"
            )
        if not isinstance(self.description, str):
            raise ComplianceError(
                f"rules {self.name}: description = {self.description!r} is not a string"
            )
        for key, limit in LIMITS.items():
            value = getattr(self, key)
            if value is None and limit.nullable:
                continue
            number_like = isinstance(value, int | float) and not isinstance(value, bool)
            if not number_like or not limit.accepts(float(value)):
                raise ComplianceError(
                    f"rules {self.name}: {key} = {value!r} is not valid; expected {limit.text()}"
                )


_KEYS = tuple(f.name for f in fields(RuleSet))
_Number = StrictFloat | StrictInt


class _RulesFile(BaseModel):
    """The JSON document: types, required and unknown keys (ranges are RuleSet's)."""

    model_config = ConfigDict(extra="forbid")

    schema_: StrictStr = Field(alias="schema")
    version: StrictInt
    name: StrictStr
    ceiling_agl_m: _Number | None
    vlos_max_m: _Number | None
    min_sun_elevation_deg: _Number | None
    max_sortie_s: _Number | None
    geofence_required: StrictBool
    zone_margin_m: _Number
    cross_track_max_m: _Number
    altitude_tolerance_m: _Number
    min_coverage_flown: _Number
    description: StrictStr = ""


def _expected(key: str) -> str:
    if key in LIMITS:
        return LIMITS[key].text()
    return {
        "schema": f"{SCHEMA!r}",
        "version": str(VERSION),
        "name": "a non-empty string",
        "geofence_required": "true or false",
        "description": "a string",
    }.get(key, "")


def _first_error(error: ValidationError, document: dict[str, Any], source: str) -> ComplianceError:
    # A misspelt key also leaves a key missing: name the unknown one first.
    details = sorted(error.errors(), key=lambda d: d["type"] != "extra_forbidden")
    detail = details[0]
    key = str(detail["loc"][0]) if detail["loc"] else ""
    if detail["type"] == "extra_forbidden":
        valid = ", ".join(("schema", "version", *_KEYS))
        return ComplianceError(f"{source}: unknown key {key!r}; valid keys are {valid}")
    if detail["type"] == "missing":
        return ComplianceError(f"{source}: missing key {key!r} ({_expected(key)})")
    return ComplianceError(
        f"{source}: {key} = {json.dumps(document.get(key))} is not valid; expected {_expected(key)}"
    )


def load_rules(text: str, source: str) -> RuleSet:
    """A :class:`RuleSet` from the text of a rules JSON file.

    Parameters
    ----------
    text : str
        The file's text.
    source : str
        What to call the file in error messages (its path or name).

    Raises
    ------
    ComplianceError
        One line naming ``source``, the offending key, its value and what is valid.

    Examples
    --------
    >>> doc = rules_to_dict(preset("eu-open")) | {"name": "club", "ceiling_agl_m": 50}
    >>> load_rules(json.dumps(doc), "club.json").ceiling_agl_m
    50.0
    >>> load_rules(json.dumps(doc | {"ceiling_agl_m": -1}), "club.json")
    Traceback (most recent call last):
    ...
    compliance.errors.ComplianceError: club.json: ceiling_agl_m = -1 is not valid; expected a finite number > 0 and ≤ 10000, or null for no limit
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ComplianceError(
            f"{source}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(document, dict):
        raise ComplianceError(
            f"{source}: a rules file is a JSON object, not {type(document).__name__}"
        )
    if document.get("schema") != SCHEMA:
        raise ComplianceError(
            f"{source}: schema {document.get('schema')!r} is not {SCHEMA!r}; not a rules file"
        )
    if document.get("version") != VERSION or isinstance(document.get("version"), bool):
        raise ComplianceError(
            f"{source}: rules version {document.get('version')!r} is not supported; "
            f"this skyledger reads version {VERSION}"
        )
    try:
        model = _RulesFile.model_validate(document)
    except ValidationError as exc:
        raise _first_error(exc, document, source) from None
    values = model.model_dump(exclude={"schema_", "version"})
    for key, limit in LIMITS.items():
        if values[key] is not None:
            values[key] = float(values[key])
            if not limit.accepts(values[key]):  # NaN and infinities get here from JSON too
                raise ComplianceError(
                    f"{source}: {key} = {json.dumps(document[key])} is not valid; "
                    f"expected {limit.text()}"
                )
    try:
        return RuleSet(**values)
    except ComplianceError as exc:
        raise ComplianceError(f"{source}: {exc}") from None


def rules_to_dict(rules: RuleSet) -> dict[str, Any]:
    """The JSON document of a rule set; :func:`load_rules` reads it back to an equal one.

    Examples
    --------
    >>> rules = preset("eu-open")
    >>> load_rules(json.dumps(rules_to_dict(rules)), "copy") == rules
    True
    """
    return {"schema": SCHEMA, "version": VERSION, **asdict(rules)}


@lru_cache(maxsize=len(PRESETS))
def preset(name: str) -> RuleSet:
    """One of the rule sets shipped with skyledger (:data:`PRESETS`).

    Examples
    --------
    >>> preset("eu-open").ceiling_agl_m
    120.0
    >>> preset("moon")
    Traceback (most recent call last):
    ...
    compliance.errors.ComplianceError: rules preset 'moon' is unknown; valid presets are eu-open, us-part107
    """
    if name not in PRESETS:
        raise ComplianceError(
            f"rules preset {name!r} is unknown; valid presets are " + ", ".join(PRESETS)
        )
    text = (resources.files("compliance") / "data" / f"{name}.json").read_text(encoding="utf-8")
    return load_rules(text, f"rules preset {name}")
