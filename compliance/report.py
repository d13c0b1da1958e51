"""What a check finds: findings with their rule, severity and evidence, and the verdict.

Every finding names a ``rule_id`` from :data:`RULES` (the same table is in
docs/compliance.md), a severity, the zone (if any), a one-line message, the mission
items involved (numbered from 1 within their sortie, as QGroundControl shows them) and
the offending part of the route as GeoJSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Severity = Literal["blocking", "authorisation", "advisory"]
Verdict = Literal["APPROVED", "AUTHORISATION_REQUIRED", "REJECTED"]
REPORT_SCHEMA = "skyledger.check"
REPORT_SCHEMA_VERSION = 1

#: rule id → (default severity, what it means). docs/compliance.md carries the same table.
RULES: dict[str, tuple[Severity, str]] = {
    "airspace.prohibited": ("blocking", "the route enters a PROHIBITED zone while it is active"),
    "airspace.authorisation": (
        "authorisation",
        "the route enters a REQ_AUTHORISATION zone while it is active, and no authorisation for it was given",
    ),
    "airspace.authorised": (
        "advisory",
        "the route enters a REQ_AUTHORISATION zone for which an authorisation was given",
    ),
    "airspace.lead_time": (
        "blocking",
        "an authorisation is needed but the flight starts sooner than the authority's notice period",
    ),
    "airspace.conditional": (
        "advisory",
        "the route enters a CONDITIONAL zone: its conditions apply",
    ),
    "airspace.information": ("advisory", "the route enters a NO_RESTRICTION zone (information)"),
    "airspace.margin": (
        "blocking",
        "the route passes nearer a PROHIBITED or REQ_AUTHORISATION zone than the rule set's margin "
        "(severity: that of the zone)",
    ),
    "privacy.no_capture": ("blocking", "a photo is taken inside a no-capture privacy zone"),
    "privacy.buffer": ("blocking", "a photo is taken within a privacy zone's buffer distance"),
    "privacy.no_overflight": ("blocking", "the route flies over a no-overflight privacy zone"),
    "rules.ceiling": ("blocking", "the route climbs above the rule set's height ceiling (AGL)"),
    "rules.vlos": (
        "blocking",
        "the route goes farther from the pilot than the rule set's visual line of sight distance",
    ),
    "rules.daylight": (
        "blocking",
        "part of the flight window has the sun lower than the rule set allows",
    ),
    "rules.sortie_duration": ("blocking", "a sortie lasts longer than the rule set allows"),
    "rules.geofence": (
        "blocking",
        "the rule set requires a geofence and the plan has none, or the route leaves its own fence",
    ),
    "authorisation.unused": (
        "advisory",
        "an authorisation was given for a zone the route does not enter",
    ),
    "zones.source_failed": (
        "blocking",
        "a zone source could not be loaded, so the check cannot be complete",
    ),
}


@dataclass(frozen=True)
class Finding:
    """One thing the check found. ``items`` are mission item numbers in ``sortie`` (from 1)."""

    rule_id: str
    severity: Severity
    message: str
    zone_id: str | None = None
    sortie: int | None = None  # from 1, as files count; None for plan-wide findings
    items: tuple[int, ...] = ()
    geometry: dict[str, Any] | None = None  # GeoJSON, WGS84
    authority: dict[str, Any] | None = None  # for authorisations: who to ask
    lead_time: str | None = None  # ISO 8601 duration the authority needs

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "zone_id": self.zone_id,
            "message": self.message,
            "sortie": self.sortie,
            "items": list(self.items),
            "geometry": self.geometry,
        }
        if self.authority is not None:
            out["authority"] = self.authority
        if self.lead_time is not None:
            out["lead_time"] = self.lead_time
        return out


@dataclass(frozen=True)
class Evidence:
    """Why a zone near the route did or did not apply (verbose mode): the regulator's record."""

    zone_id: str
    outcome: str  # "applies", "not_active", "above", "below", "clear"
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"zone_id": self.zone_id, "outcome": self.outcome, "detail": self.detail}


@dataclass(frozen=True)
class Report:
    """The outcome of one check of one plan in one window."""

    findings: tuple[Finding, ...]
    window: tuple[datetime, datetime]
    rules: str
    zones_checked: int
    evidence: tuple[Evidence, ...] = ()
    plan_name: str = ""
    sources: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        """Blocking findings first, then authorisations, then advisories; stable within each."""
        rank = {"blocking": 0, "authorisation": 1, "advisory": 2}
        ordered = sorted(self.findings, key=lambda f: rank[f.severity])
        object.__setattr__(self, "findings", tuple(ordered))

    @property
    def verdict(self) -> Verdict:
        """REJECTED on any blocking finding, else AUTHORISATION_REQUIRED on any authorisation one."""
        severities = {f.severity for f in self.findings}
        if "blocking" in severities:
            return "REJECTED"
        if "authorisation" in severities:
            return "AUTHORISATION_REQUIRED"
        return "APPROVED"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "version": REPORT_SCHEMA_VERSION,
            "verdict": self.verdict,
            "plan": self.plan_name,
            "window": {"start": self.window[0].isoformat(), "end": self.window[1].isoformat()},
            "rules": self.rules,
            "zone_sources": list(self.sources),
            "zones_checked": self.zones_checked,
            "findings": [f.to_dict() for f in self.findings],
            "evidence": [e.to_dict() for e in self.evidence],
        }


def items_text(items: Sequence[int]) -> str:
    """``1-4, 7``: runs of consecutive item numbers."""
    runs: list[list[int]] = []
    for item in items:
        if runs and item == runs[-1][-1] + 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
