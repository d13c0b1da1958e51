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
    Shapes,
    collection,
    leg_lines,
    local_shapes,
    pieces_geojson_many,
    round7,
)
from compliance.index import VolumeRef, ZoneIndex
from compliance.legs import Route, Window, check_window
from compliance.plan_rules import rule_findings
from compliance.report import RULES, Evidence, Finding, Report, Severity, items_text
from compliance.rules import RuleSet
from compliance.zones import Authority, Zone
from mission.analysis import Analysis
from mission.plan import Plan

#: Verbose mode explains every zone within this distance of the route.
NEARBY_M = 500.0
#: Restrictions whose zones a route must keep the rule set's margin from.
_MARGIN_ZONES = ("PROHIBITED", "REQ_AUTHORISATION")
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
        self._shapes: dict[int, LocalShape] = {}

    def active(self, zone_number: int) -> list[tuple[datetime, datetime]]:
        from compliance.schedule import active_intervals

        if zone_number not in self._active:
            zone = self.index.zones[zone_number]
            self._active[zone_number] = active_intervals(zone, *self.window)
        return self._active[zone_number]

    # --- legs against zone volumes ---------------------------------------------------------
    def zones(self) -> None:
        route, index, home = self.route, self.index, self.route.home_amsl_m
        pad = max(self.rules.zone_margin_m, _MIN_PAD_M) + (NEARBY_M if self.verbose else 0.0)
        rows, volumes = index.query(route.boxes(pad))
        legs, which, active, candidates, live = self._pairs(rows, volumes)
        shapes = Shapes.of(self.shapes(active))  # every shape moved to the frame at once
        refs = [index.volumes[v] for v in active]
        bands = np.asarray([r.volume.band_amsl_m(home) for r in refs], float).reshape(-1, 2)
        lines = leg_lines(route.a, route.b)
        # the pieces of each (leg, volume) pair over the outline, and the altitudes flown there
        pair, t0, t1 = shapes.clip(which, route.a[legs], route.b[legs], lines[legs])
        leg_of = legs[pair]
        z0, z1 = route.a[leg_of, 2], route.b[leg_of, 2]
        za, zb = z0 + t0 * (z1 - z0), z0 + t1 * (z1 - z0)  # as altitude_range does
        low, high = np.minimum(za, zb) + home, np.maximum(za, zb) + home
        band = bands[which[pair]]
        inside = (high > band[:, 0]) & (low < band[:, 1])
        pieces: dict[int, Pieces] = defaultdict(list)  # pair -> pieces inside the band
        for k, t_0, t_1 in zip(
            pair[inside].tolist(), t0[inside].tolist(), t1[inside].tolist(), strict=True
        ):
            pieces[k].append((t_0, t_1))
        # hits[(rule, zone number, sortie)] -> list of (leg, pieces), by volume then leg
        hits: dict[tuple[str, int, int], list[tuple[int, Pieces]]] = defaultdict(list)
        rules = [_zone_rules(index.zones[r.zone]) for r in refs]
        for k, found in pieces.items():
            leg, ref = int(legs[k]), int(which[k])
            for rule in rules[ref]:
                hits[(rule, refs[ref].zone, int(route.sortie[leg]))].append((leg, found))
        over = np.zeros(len(legs), bool)
        over[pair] = True
        apart = np.flatnonzero(~over)  # pairs whose leg is not over the outline at all
        gaps = self._margin(shapes, refs, bands, legs, which, apart, lines, hits)
        if self.verbose:
            entered = np.zeros(len(legs), bool)
            entered[pair[inside]] = True
            self._explain_all(candidates, live, which, entered, pair, low, high, apart, gaps)
        found_all = sorted(hits.items())
        geometries = pieces_geojson_many(
            route.frame, route.a, route.b, [legs for _, legs in found_all]
        )
        for ((rule, zone_number, sortie), legs_found), geometry in zip(
            found_all, geometries, strict=True
        ):
            self._report(rule, self.index.zones[zone_number], sortie, legs_found, geometry)

    def _pairs(
        self, rows: np.ndarray, volumes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[int], np.ndarray, np.ndarray]:
        """Query pairs of volumes whose zones apply in the window, by volume then row:
        (row, which, active, candidates, live) with ``active[which]`` the pair's volume
        number, ``candidates`` every volume met and ``live`` whether its zone applies.
        Every zone met counts as seen."""
        order = np.lexsort((rows, volumes))
        rows, volumes = rows[order], volumes[order]
        candidates = np.unique(volumes)
        zones = self.index.zone_of[candidates].tolist()
        self.seen.update(zones)
        live = np.asarray([bool(self.active(z)) for z in zones], bool).reshape(-1)
        where = np.searchsorted(candidates, volumes)
        keep = live[where]
        which = (np.cumsum(live) - 1)[where]
        return rows[keep], which[keep], candidates[live].tolist(), candidates, live

    def shapes(self, volume_numbers: Sequence[int]) -> list[LocalShape]:
        """The volumes' shapes in the route's frame, each worked out once per check."""
        missing = [v for v in volume_numbers if v not in self._shapes]
        volumes = [self.index.volumes[v].volume for v in missing]
        self._shapes.update(zip(missing, local_shapes(volumes, self.route.frame), strict=True))
        return [self._shapes[v] for v in volume_numbers]

    def _margin(
        self,
        shapes: Shapes,
        refs: list[VolumeRef],
        bands: np.ndarray,
        legs: np.ndarray,
        which: np.ndarray,
        apart: np.ndarray,
        lines: np.ndarray,
        hits: dict[tuple[str, int, int], list[tuple[int, Pieces]]],
    ) -> np.ndarray:
        """Record legs nearer a restricted zone than the margin; return the distance of each
        ``apart`` pair (NaN where it was not needed)."""
        route, margin = self.route, self.rules.zone_margin_m
        restricted = np.asarray(
            [self.index.zones[r.zone].restriction in _MARGIN_ZONES for r in refs], bool
        ).reshape(-1)
        need = np.ones(len(apart), bool) if self.verbose else np.zeros(len(apart), bool)
        if margin > 0:
            need |= restricted[which[apart]]
        gaps = np.full(len(apart), np.nan)
        rows = apart[need]
        gaps[need] = shapes.distance(
            which[rows], route.a[legs[rows]], route.b[legs[rows]], lines[legs[rows]]
        )
        if margin <= 0:
            return gaps
        z0, z1 = route.a[legs[rows], 2], route.b[legs[rows], 2]
        za, zb = z0 + 0.0 * (z1 - z0), z0 + 1.0 * (z1 - z0)  # as altitude_range does
        low = np.minimum(za, zb) + route.home_amsl_m
        high = np.maximum(za, zb) + route.home_amsl_m
        band = bands[which[rows]]
        close = (
            restricted[which[rows]]
            & (gaps[need] < margin)
            & (high > band[:, 0])
            & (low < band[:, 1])
        )
        for k in rows[close].tolist():
            leg, ref = int(legs[k]), refs[int(which[k])]
            hits[("airspace.margin", ref.zone, int(route.sortie[leg]))].append((leg, [(0.0, 1.0)]))
        return gaps

    def _explain_all(
        self,
        candidates: np.ndarray,
        live: np.ndarray,
        which: np.ndarray,
        entered: np.ndarray,
        pair: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        apart: np.ndarray,
        gaps: np.ndarray,
    ) -> None:
        """Verbose: why each candidate volume did or did not apply, in volume order."""
        slots = np.cumsum(live) - 1
        for volume_number, is_live, ref_slot in zip(
            candidates.tolist(), live.tolist(), slots.tolist(), strict=True
        ):
            ref = self.index.volumes[volume_number]
            zone = self.index.zones[ref.zone]
            if not is_live:
                self._explain(zone, "not_active", "does not apply in the window")
                continue
            band = ref.volume.band_amsl_m(self.route.home_amsl_m)
            mine = which[pair] == ref_slot
            near = gaps[which[apart] == ref_slot]
            if entered[which == ref_slot].any():
                self._explain(zone, "applies", "the route enters it")
            elif mine.any():
                lowest, highest = float(low[mine].min()), float(high[mine].max())
                where = "above" if lowest >= band[1] else "below"
                self._explain(
                    zone,
                    where,
                    f"the route crosses its outline at {lowest:.1f}..{highest:.1f} m AMSL, "
                    f"{where} its band {_band_text(band)}",
                )
            elif len(near):
                self._explain(zone, "clear", f"the route passes {float(near.min()):.1f} m away")

    def _explain(self, zone: Zone, outcome: str, detail: str) -> None:
        if self.verbose:
            self.evidence.append(Evidence(zone.identifier, outcome, detail))

    def _report(
        self,
        rule: str,
        zone: Zone,
        sortie: int,
        found: list[tuple[int, Pieces]],
        geometry: dict[str, Any] | None,
    ) -> None:
        route = self.route
        items = tuple(sorted({int(route.seq[leg]) for leg, _ in found}))
        severity: Severity = RULES[rule][0]
        authority: dict[str, Any] | None = None
        lead: str | None = None
        what = f"{zone.restriction} zone {zone.identifier} ({zone.name})"
        message = f"sortie {sortie + 1} items {items_text(items)} enter {what}"
        if rule == "airspace.margin":
            severity = "blocking"
            if zone.restriction == "REQ_AUTHORISATION":  # near is as good as in: so is the cure
                authorised = zone.identifier in self.authorisations
                severity = "advisory" if authorised else "authorisation"
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
        rows, volumes = self.index.query(route.photo_boxes(_MIN_PAD_M))
        keep = self.index.photo_rule[volumes]  # zones with no_capture or a buffer
        photo, which, active, _, _ = self._pairs(rows[keep], volumes[keep])
        found: dict[tuple[str, int, int], set[int]] = defaultdict(set)
        if not active:
            return
        shapes = Shapes.of(self.shapes(active))
        owners = [self.index.zones[self.index.volumes[v].zone] for v in active]
        buffers = np.asarray(
            [z.camera.buffer_m if z.camera and z.camera.mode == "buffer" else 0.0 for z in owners]
        )
        bands = np.asarray(
            [self.index.volumes[v].volume.band_amsl_m(route.home_amsl_m) for v in active]
        )
        z = route.photos[photo, 2] + route.home_amsl_m
        near = shapes.contains(which, route.photos[photo], buffers[which])
        near &= (z > bands[which, 0]) & (z < bands[which, 1])  # as overlaps_band(z, z, band)
        for k, row in zip(which[near].tolist(), photo[near].tolist(), strict=True):
            zone = owners[k]
            assert zone.camera is not None
            rule = "privacy.buffer" if zone.camera.mode == "buffer" else "privacy.no_capture"
            zone_number = self.index.volumes[active[k]].zone
            found[(rule, zone_number, int(route.photo_sortie[row]))].add(row)
        for (rule, zone_number, sortie), rows_found in sorted(found.items()):
            zone = self.index.zones[zone_number]
            chosen = sorted(rows_found)
            items = tuple(sorted({int(route.photo_seq[r]) for r in chosen}))
            lon, lat = (round7(v[chosen]) for v in route.photo_wgs84)
            points = [[x, y] for x, y in zip(lon, lat, strict=True)]
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


def _by_volume(rows: np.ndarray, volumes: np.ndarray) -> dict[int, np.ndarray]:
    """Query pairs grouped by volume number (ascending), each volume's rows sorted."""
    order = np.lexsort((rows, volumes))
    rows, volumes = rows[order], volumes[order]
    cuts = np.flatnonzero(np.diff(volumes)) + 1
    return {
        int(group[0]): part
        for group, part in zip(np.split(volumes, cuts), np.split(rows, cuts), strict=True)
        if len(group)
    }


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
