"""Check a whole plan against zones and a rule set, leg by leg, in 3D and time.

Every leg the paper flight flies (take-off, waypoints, RTL's climb, return and descent,
landing) is tested against every zone volume near it: the horizontal shape (exact, in
the plan's local frame), the altitudes flown over it against the zone's band (AGL limits
taken from the home elevation, feet converted), and the flight window against when the
zone applies. Photos are tested against privacy zones. Rule-set limits (ceiling, VLOS,
daylight, sortie time, geofence) come last. See :data:`compliance.report.RULES`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from compliance.geometry import (
    LocalShape,
    Pieces,
    altitude_range,
    collection,
    overlaps_band,
    pieces_geojson,
)
from compliance.index import ZoneIndex
from compliance.legs import Route, Window, check_window
from compliance.plan_rules import rule_findings
from compliance.report import RULES, Evidence, Finding, Report, Severity, items_text
from compliance.rules import RuleSet
from compliance.zones import Authority, Zone
from mission.analysis import Analysis
from mission.plan import Plan

#: Verbose mode explains every zone within this distance of the route.
NEARBY_M = 500.0
#: Query boxes are padded at least this much, so a vertical leg's box has an area.
_MIN_PAD_M = 1.0


def check(
    plan: Plan,
    zones: ZoneIndex | Sequence[Zone],
    rules: RuleSet,
    window: Window,
    authorisations: Collection[str] = (),
    *,
    analysis: Analysis | None = None,
    verbose: bool = False,
    now: datetime | None = None,
    pilot: tuple[float, float] | None = None,
    failed_sources: Sequence[str] = (),
    sources: Sequence[str] = (),
) -> Report:
    """Check ``plan`` flown within ``window`` against ``zones`` and ``rules``.

    ``authorisations`` are zone identifiers an authority has authorised; ``now`` (when
    given) tests each authority's notice period; ``pilot`` is the pilot's (lon, lat)
    (default: home); ``failed_sources`` names zone sources that could not be loaded,
    each a blocking finding. ``verbose`` records why each nearby zone did or did not apply.
    """
    from mission.analysis import analyse

    window = check_window(window)
    index = zones if isinstance(zones, ZoneIndex) else ZoneIndex(zones)
    analysis = analysis if analysis is not None else analyse(plan)
    route = Route.of(plan, analysis)
    checker = _Checker(route, index, rules, window, frozenset(authorisations), now, verbose)
    checker.zones()
    checker.photos()
    findings = [
        Finding("zones.source_failed", "blocking", f"zone source not loaded: {why}")
        for why in failed_sources
    ]
    findings += checker.findings
    findings += rule_findings(plan, analysis, route, rules, window, pilot)
    for zone_id in sorted(checker.authorisations - checker.entered):
        findings.append(
            Finding(
                "authorisation.unused",
                "advisory",
                f"authorisation for zone {zone_id} given, but the route does not enter it",
                zone_id=zone_id,
            )
        )
    return Report(
        findings=tuple(findings),
        window=window,
        rules=rules.name,
        zones_checked=len(checker.seen),
        evidence=tuple(checker.evidence),
        plan_name=plan.name,
        sources=tuple(sources),
    )


class _Checker:
    """One check's working state: the candidate volumes and what each leg does in them."""

    def __init__(
        self,
        route: Route,
        index: ZoneIndex,
        rules: RuleSet,
        window: Window,
        authorisations: frozenset[str],
        now: datetime | None,
        verbose: bool,
    ):
        self.route, self.index, self.rules, self.window = route, index, rules, window
        self.authorisations, self.now, self.verbose = authorisations, now, verbose
        self.findings: list[Finding] = []
        self.evidence: list[Evidence] = []
        self.entered: set[str] = set()
        self.seen: set[int] = set()
        self._active: dict[int, list[tuple[datetime, datetime]]] = {}

    def active(self, zone_number: int) -> list[tuple[datetime, datetime]]:
        from compliance.schedule import active_intervals

        if zone_number not in self._active:
            zone = self.index.zones[zone_number]
            self._active[zone_number] = active_intervals(zone, *self.window)
        return self._active[zone_number]

    # --- legs against zone volumes ---------------------------------------------------------
    def zones(self) -> None:
        route = self.route
        pad = max(self.rules.zone_margin_m, _MIN_PAD_M) + (NEARBY_M if self.verbose else 0.0)
        rows, volumes = self.index.query(route.boxes(pad))
        by_volume: dict[int, list[int]] = defaultdict(list)
        for row, volume in zip(rows.tolist(), volumes.tolist(), strict=True):
            by_volume[volume].append(row)
        # hits[(rule, zone number, sortie)] -> list of (leg, pieces)
        hits: dict[tuple[str, int, int], list[tuple[int, Pieces]]] = defaultdict(list)
        for volume_number in sorted(by_volume):
            ref = self.index.volumes[volume_number]
            zone = self.index.zones[ref.zone]
            self.seen.add(ref.zone)
            legs = np.asarray(sorted(by_volume[volume_number]), int)
            if not self.active(ref.zone):
                self._explain(zone, "not_active", "does not apply in the window")
                continue
            shape = LocalShape.of(ref.volume, route.frame)
            band = ref.volume.band_amsl_m(route.home_amsl_m)
            rules = _zone_rules(zone)
            entered = False
            lowest, highest = np.inf, -np.inf
            apart: list[int] = []  # legs not over the outline at all
            for leg, pieces in zip(legs, shape.clip(route.a[legs], route.b[legs]), strict=True):
                if not pieces:
                    apart.append(int(leg))
                inside: Pieces = []
                for t0, t1 in pieces:
                    low, high = altitude_range(route.a[leg, 2], route.b[leg, 2], t0, t1)
                    low, high = low + route.home_amsl_m, high + route.home_amsl_m
                    lowest, highest = min(lowest, low), max(highest, high)
                    if overlaps_band(low, high, band):
                        inside.append((t0, t1))
                if inside:
                    entered = True
                    for rule in rules:
                        hits[(rule, ref.zone, int(route.sortie[leg]))].append((int(leg), inside))
            near = self._margin(zone, ref.zone, shape, band, np.asarray(apart, int), hits)
            if entered:
                self._explain(zone, "applies", "the route enters it")
            elif np.isfinite(lowest):
                where = "above" if lowest >= band[1] else "below"
                self._explain(
                    zone,
                    where,
                    f"the route crosses its outline at {lowest:.1f}..{highest:.1f} m AMSL, "
                    f"{where} its band {_band_text(band)}",
                )
            elif near is not None:
                self._explain(zone, "clear", f"the route passes {near:.1f} m away")
        for (rule, zone_number, sortie), found in sorted(hits.items()):
            self._report(rule, self.index.zones[zone_number], sortie, found)

    def _margin(
        self,
        zone: Zone,
        zone_number: int,
        shape: LocalShape,
        band: tuple[float, float],
        legs: np.ndarray,
        hits: dict[tuple[str, int, int], list[tuple[int, Pieces]]],
    ) -> float | None:
        """Record legs nearer the zone than the margin; return the nearest distance of ``legs``."""
        if not len(legs):
            return None
        route = self.route
        distance = shape.distance(route.a[legs], route.b[legs])
        margin = self.rules.zone_margin_m
        if margin > 0 and zone.restriction in ("PROHIBITED", "REQ_AUTHORISATION"):
            for leg, gap in zip(legs, distance, strict=True):
                low, high = altitude_range(route.a[leg, 2], route.b[leg, 2], 0.0, 1.0)
                if gap < margin and overlaps_band(
                    low + route.home_amsl_m, high + route.home_amsl_m, band
                ):
                    hits[("airspace.margin", zone_number, int(route.sortie[leg]))].append(
                        (int(leg), [(0.0, 1.0)])
                    )
        return float(distance.min())

    def _explain(self, zone: Zone, outcome: str, detail: str) -> None:
        if self.verbose:
            self.evidence.append(Evidence(zone.identifier, outcome, detail))

    def _report(self, rule: str, zone: Zone, sortie: int, found: list[tuple[int, Pieces]]) -> None:
        route = self.route
        items = tuple(sorted({int(route.seq[leg]) for leg, _ in found}))
        geometry = pieces_geojson(
            route.frame, [(route.a[leg], route.b[leg], pieces) for leg, pieces in found]
        )
        severity: Severity = RULES[rule][0]
        authority: dict[str, Any] | None = None
        lead: str | None = None
        what = f"{zone.restriction} zone {zone.identifier} ({zone.name})"
        message = f"sortie {sortie + 1} items {items_text(items)} enter {what}"
        if rule == "airspace.margin":
            severity = "authorisation" if zone.restriction == "REQ_AUTHORISATION" else "blocking"
            message = (
                f"sortie {sortie + 1} items {items_text(items)} pass within "
                f"{self.rules.zone_margin_m:g} m of {what}"
            )
        if zone.restriction == "REQ_AUTHORISATION":
            self.entered.add(zone.identifier)
            contact = _authority(zone.authorities)
            if contact is not None:
                authority = _authority_dict(contact)
                if contact.interval_before is not None:
                    lead = _iso_duration(contact.interval_before)
            if rule == "airspace.authorisation" and zone.identifier in self.authorisations:
                rule, severity = "airspace.authorised", "advisory"
                message += ": authorised"
            elif rule == "airspace.authorisation":
                who = f" from {contact.name}" if contact is not None else ""
                message += f": ask for an authorisation{who}"
                if lead is not None:
                    message += f" at least {lead} before the flight"
                self._lead_time(zone, contact, sortie, items, geometry)
        if rule == "airspace.conditional" and zone.conditions:
            message += ": " + "; ".join(zone.conditions)
        elif rule == "privacy.no_overflight":
            message = f"sortie {sortie + 1} items {items_text(items)} fly over privacy zone {zone.identifier} ({zone.name}), which forbids overflight"
        text = zone.text()
        if text and rule not in ("airspace.authorised",):
            message += f" ({text})"
        self.findings.append(
            Finding(
                rule,
                severity,
                message,
                zone.identifier,
                sortie + 1,
                items,
                geometry,
                authority,
                lead,
            )
        )

    def _lead_time(
        self,
        zone: Zone,
        contact: Authority | None,
        sortie: int,
        items: tuple[int, ...],
        geometry: dict[str, Any] | None,
    ) -> None:
        if self.now is None or contact is None or contact.interval_before is None:
            return
        ask_by = self.window[0] - contact.interval_before
        if self.now > ask_by:
            self.findings.append(
                Finding(
                    "airspace.lead_time",
                    "blocking",
                    f"zone {zone.identifier}: {contact.name} needs {_iso_duration(contact.interval_before)} "
                    f"notice; an authorisation for a flight at {self.window[0].isoformat()} "
                    f"had to be asked for by {ask_by.isoformat()}",
                    zone.identifier,
                    sortie + 1,
                    items,
                    geometry,
                    _authority_dict(contact),
                    _iso_duration(contact.interval_before),
                )
            )

    # --- photos against privacy zones -----------------------------------------------------
    def photos(self) -> None:
        route = self.route
        if not len(route.photos):
            return
        rows, volumes = self.index.query(route.boxes(_MIN_PAD_M, points=route.photos))
        by_volume: dict[int, list[int]] = defaultdict(list)
        for row, volume in zip(rows.tolist(), volumes.tolist(), strict=True):
            ref = self.index.volumes[volume]
            policy = self.index.zones[ref.zone].camera
            if policy is not None and policy.mode in ("no_capture", "buffer"):
                by_volume[volume].append(row)
        found: dict[tuple[str, int, int], set[int]] = defaultdict(set)
        for volume_number in sorted(by_volume):
            ref = self.index.volumes[volume_number]
            zone = self.index.zones[ref.zone]
            assert zone.camera is not None
            self.seen.add(ref.zone)
            if not self.active(ref.zone):
                continue
            rows_here = np.asarray(sorted(by_volume[volume_number]), int)
            shape = LocalShape.of(ref.volume, route.frame)
            band = ref.volume.band_amsl_m(route.home_amsl_m)
            buffer_m = zone.camera.buffer_m if zone.camera.mode == "buffer" else 0.0
            near = shape.contains(route.photos[rows_here], within_m=buffer_m)
            rule = "privacy.buffer" if zone.camera.mode == "buffer" else "privacy.no_capture"
            for row in rows_here[near]:
                z = route.photos[row, 2] + route.home_amsl_m
                if overlaps_band(z, z, band):
                    found[(rule, ref.zone, int(route.photo_sortie[row]))].add(int(row))
        for (rule, zone_number, sortie), rows_found in sorted(found.items()):
            zone = self.index.zones[zone_number]
            chosen = sorted(rows_found)
            items = tuple(sorted({int(route.photo_seq[r]) for r in chosen}))
            lon, lat = route.frame.to_wgs84(route.photos[chosen, 0], route.photos[chosen, 1])
            points = [
                [round(float(x), 7), round(float(y), 7)] for x, y in zip(lon, lat, strict=True)
            ]
            where = (
                f"within {zone.camera.buffer_m:g} m of"
                if zone.camera and rule == "privacy.buffer"
                else "inside"
            )
            self.findings.append(
                Finding(
                    rule,
                    "blocking",
                    f"sortie {sortie + 1}: {len(chosen)} photos (items {items_text(items)}) "
                    f"taken {where} privacy zone {zone.identifier} ({zone.name})",
                    zone.identifier,
                    sortie + 1,
                    items,
                    collection([], points),
                )
            )


def _zone_rules(zone: Zone) -> tuple[str, ...]:
    """The rules a leg entering ``zone`` breaks or triggers."""
    rules: tuple[str, ...] = {
        "PROHIBITED": ("airspace.prohibited",),
        "REQ_AUTHORISATION": ("airspace.authorisation",),
        "CONDITIONAL": ("airspace.conditional",),
        "NO_RESTRICTION": ("airspace.information",),
    }[zone.restriction]
    if zone.camera is not None and zone.camera.mode == "no_overflight":
        rules += ("privacy.no_overflight",)
    return rules


def _authority(authorities: Sequence[Authority]) -> Authority | None:
    """The authority to ask for an authorisation: one whose purpose says so, else the first."""
    for authority in authorities:
        if authority.purpose.upper().startswith("AUTHORI"):
            return authority
    return authorities[0] if authorities else None


def _authority_dict(authority: Authority) -> dict[str, Any]:
    out: dict[str, Any] = {"name": authority.name, "purpose": authority.purpose}
    for key in ("service", "contact", "email", "phone", "site_url"):
        value = getattr(authority, key)
        if value:
            out[key] = value
    if authority.interval_before is not None:
        out["interval_before"] = _iso_duration(authority.interval_before)
    return out


def _iso_duration(delta: timedelta) -> str:
    """ISO 8601 duration: ``P2D``, ``PT48H``, ``PT30M``."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if v)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "") if seconds else "PT0S"


def _band_text(band: tuple[float, float]) -> str:
    low = "ground" if not np.isfinite(band[0]) else f"{band[0]:.1f}"
    high = "unlimited" if not np.isfinite(band[1]) else f"{band[1]:.1f} m AMSL"
    return f"{low}..{high}"
