"""When a zone applies: its :class:`~compliance.zones.Applicability` entries as UTC intervals.

Semantics
---------
- A zone with no applicability entries is permanent.
- Otherwise it applies during the union of its entries. An entry applies from its ``start``
  (inclusive) to its ``end`` (exclusive), either of them open, and, when it has daily
  periods, only during those.
- A :class:`~compliance.zones.DailyPeriod` names weekdays (0 Monday .. 6 Sunday) and a start
  and end that are each a wall-clock time "HH:MM" in the zone's ``time_zone`` (an IANA name;
  None means UTC; "24:00" is allowed as an end) or a sun event ("BMCT", "SR", "SS",
  "EECT"; see :mod:`compliance.sun`) at the zone's place: the centre of its first volume's
  circle, or the mean of the first volume's exterior ring. A sun event bound on a local date
  is that event of the same date's solar day.
- The weekday is that of the day a period starts. An end not after its start runs into the
  next day: for two clock times this compares the times as written ("22:00"-"06:00" is
  overnight, "08:00"-"08:00" lasts 24 hours); when a bound is a sun event it compares the
  moments ("SS"-"SR" runs from sunset to the next sunrise).
- A sun event that does not happen on a day (polar day or night) becomes midnight: a
  morning event (BMCT, SR) the sun is already past counts as the start of the local day,
  one it never reaches as the end of it; an evening event (SS, EECT) the sun never reaches
  counts as the end of the day, one it is already below as the start. So "SR"-"SS" applies
  all day under the midnight sun and not at all in polar night, and "SS"-"SR" the other way.
- Daylight saving time: a wall-clock time that happens twice (clocks going back) means its
  first occurrence; one that does not exist (clocks going forward) means the moment the
  clocks jump, the first moment the local clock reads later than it. The same rule holds
  for starts and ends, so a period is never stretched or shortened by more than the jump.

Intervals are half-open ``[start, end)`` pairs of aware UTC datetimes, sorted, merged and of
positive length. Sun events are computed once per (place rounded to 0.01°, date, event)
and kept in a bounded cache, so checking thousands of zones over a window of hours costs a
few clock conversions per zone and day.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from compliance.errors import ComplianceError
from compliance.sun import (
    EVENT_ALTITUDES_DEG,
    MORNING_EVENTS,
    solar_noon,
    sun_elevation_deg,
    sun_event,
)
from compliance.zones import SUN_EVENTS, Applicability, DailyPeriod, Zone

__all__ = ["active_intervals", "describe", "is_active", "zone_place"]

Interval = tuple[datetime, datetime]
_DAY = timedelta(days=1)
_MIDNIGHT = 0
_END_OF_DAY = 24 * 60
_HHMM = re.compile(r"(\d\d):(\d\d)")
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# A bound is minutes after local midnight (0..1440) or a sun event name.
Bound = int | str


def _aware(when: datetime, what: str) -> datetime:
    if not isinstance(when, datetime):
        raise ComplianceError(f"{what} {when!r} is not a datetime")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ComplianceError(
            f"{what} {when.isoformat()} has no UTC offset; give an aware datetime"
        )
    return when.astimezone(UTC)


@lru_cache(maxsize=512)
def _time_zone(name: str | None) -> tzinfo:
    if name is None or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ComplianceError(
            f"time zone {name!r} is not an IANA time zone name such as 'Europe/Madrid' or 'UTC'"
        ) from exc


@lru_cache(maxsize=1024)
def _parse_bound(text: str, is_end: bool) -> Bound:
    if text in SUN_EVENTS:
        return text
    match = _HHMM.fullmatch(text) if isinstance(text, str) else None
    if match:
        hours, minutes = int(match.group(1)), int(match.group(2))
        if hours < 24 and minutes < 60:
            return hours * 60 + minutes
        if is_end and hours == 24 and minutes == 0:
            return _END_OF_DAY
    valid = "00:00..23:59" + (" or 24:00" if is_end else "")
    raise ComplianceError(
        f"daily period {'end' if is_end else 'start'} {text!r} is not HH:MM ({valid}) "
        "or a sun event (" + ", ".join(SUN_EVENTS) + ")"
    )


def zone_place(zone: Zone) -> tuple[float, float]:
    """(lon, lat) where a zone's sun events are computed: its first volume's circle centre,
    or the mean of that volume's exterior ring (the closing point counted once).

    Examples
    --------
    >>> from compliance.zones import Volume
    >>> ring = ((0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0), (0.0, 0.0))
    >>> zone_place(Zone("z", "PROHIBITED", (Volume(rings=(ring,)),)))
    (1.0, 1.0)
    """
    volume = zone.volumes[0]
    if volume.center is not None:
        return (float(volume.center[0]), float(volume.center[1]))
    ring = list(volume.rings[0])
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    return (
        sum(p[0] for p in ring) / len(ring),
        sum(p[1] for p in ring) / len(ring),
    )


@lru_cache(maxsize=65536)
def _sun_bound(lon: float, lat: float, day: date, event: str) -> datetime | bool:
    """The event as UTC, or when it does not happen whether the sun stays above its altitude."""
    moment = sun_event(lon, lat, day, event)
    if moment is not None:
        return moment
    noon = solar_noon(lon, day)
    return sun_elevation_deg(lon, lat, noon, refraction=False) >= EVENT_ALTITUDES_DEG[event]


def _local_to_utc(naive: datetime, tz: tzinfo) -> datetime:
    """A wall-clock time in ``tz`` as UTC: the first occurrence, or the jump over a gap."""
    if tz is UTC:
        return naive.replace(tzinfo=UTC)
    first = naive.replace(tzinfo=tz).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    other = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(first, other), max(first, other)
    after = high.astimezone(tz).utcoffset()
    seconds = int((high - low).total_seconds())
    lo_s, hi_s = 0, seconds  # the offset at low + lo_s differs from ``after``; at hi_s it is it
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if (low + timedelta(seconds=mid)).astimezone(tz).utcoffset() == after:
            hi_s = mid
        else:
            lo_s = mid
    return low + timedelta(seconds=hi_s)


class _Context:
    """What the bounds of one zone's periods need: its time zone and (lazily) its place."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.tz = _time_zone(zone.time_zone)
        self._place: tuple[float, float] | None = None

    @property
    def place(self) -> tuple[float, float]:
        if self._place is None:
            lon, lat = zone_place(self.zone)
            self._place = (round(lon, 2), round(lat, 2))
        return self._place

    def clock(self, day: date, minutes: int) -> datetime:
        naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minutes)
        return _local_to_utc(naive, self.tz)

    def instant(self, bound: Bound, day: date) -> datetime:
        if isinstance(bound, int):
            return self.clock(day, bound)
        found = _sun_bound(*self.place, day, bound)
        if isinstance(found, datetime):
            return found
        sun_above = found
        at_start = sun_above if bound in MORNING_EVENTS else not sun_above
        return self.clock(day, _MIDNIGHT if at_start else _END_OF_DAY)

    def occurrence(self, start: Bound, end: Bound, day: date) -> Interval | None:
        """The period's interval starting on local ``day``, or None if it is empty."""
        begin = self.instant(start, day)
        if isinstance(start, int) and isinstance(end, int):
            finish = self.clock(day + _DAY if end <= start else day, end)
        else:
            finish = self.instant(end, day)
            if finish <= begin:
                finish = self.instant(end, day + _DAY)
        return (begin, finish) if finish > begin else None


def _periods(zone: Zone, entry: Applicability) -> list[tuple[frozenset[int], Bound, Bound]]:
    periods = []
    for period in entry.periods:
        if not isinstance(period, DailyPeriod):
            raise ComplianceError(
                f"zone {zone.identifier}: daily period {period!r} is not a DailyPeriod"
            )
        bad = sorted(d for d in period.days if not (isinstance(d, int) and 0 <= d <= 6))
        if bad:
            raise ComplianceError(
                f"zone {zone.identifier}: weekday {bad[0]!r} is not 0 (Monday) .. 6 (Sunday)"
            )
        try:
            bounds = (_parse_bound(period.start, False), _parse_bound(period.end, True))
        except ComplianceError as exc:
            raise ComplianceError(f"zone {zone.identifier}: {exc}") from None
        periods.append((period.days, *bounds))
    return periods


def _entry_range(zone: Zone, entry: Applicability) -> tuple[datetime | None, datetime | None]:
    what = f"zone {zone.identifier}: applicability"
    begin = None if entry.start is None else _aware(entry.start, f"{what} start")
    finish = None if entry.end is None else _aware(entry.end, f"{what} end")
    if begin is not None and finish is not None and finish < begin:
        raise ComplianceError(
            f"{what} ends at {finish.isoformat()}, before it starts at {begin.isoformat()}"
        )
    return begin, finish


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for begin, finish in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            if finish > merged[-1][1]:
                merged[-1] = (merged[-1][0], finish)
        else:
            merged.append((begin, finish))
    return merged


def active_intervals(zone: Zone, start: datetime, end: datetime) -> list[Interval]:
    """The UTC intervals within ``[start, end)`` when ``zone`` applies.

    Parameters
    ----------
    zone : Zone
        The zone; its applicability is read as the module notes say.
    start, end : datetime
        Aware datetimes, ``start`` not after ``end``.

    Returns
    -------
    list of (datetime, datetime)
        Sorted, disjoint, merged half-open intervals of positive length, in UTC; empty when the
        zone does not apply at all in the window, ``[(start, end)]`` when it applies throughout.

    Examples
    --------
    >>> from compliance.zones import Volume
    >>> weekend = Applicability(periods=(DailyPeriod(days=frozenset({5, 6})),))
    >>> zone = Zone("z", "PROHIBITED", (Volume(center=(2.0, 41.0), radius_m=100.0),),
    ...             applicability=(weekend,))
    >>> friday = datetime(2026, 6, 5, 12, tzinfo=UTC)
    >>> [(a.isoformat(), b.isoformat()) for a, b in active_intervals(zone, friday, friday + 2 * _DAY)]
    [('2026-06-06T00:00:00+00:00', '2026-06-07T12:00:00+00:00')]
    """
    begin, finish = _aware(start, "window start"), _aware(end, "window end")
    if finish < begin:
        raise ComplianceError(
            f"window end {finish.isoformat()} is before its start {begin.isoformat()}"
        )
    if finish == begin:
        return []
    if not zone.applicability:
        return [(begin, finish)]
    context = _Context(zone)
    found: list[Interval] = []
    for entry in zone.applicability:
        entry_start, entry_end = _entry_range(zone, entry)
        periods = _periods(zone, entry)
        low = begin if entry_start is None else max(begin, entry_start)
        high = finish if entry_end is None else min(finish, entry_end)
        if high <= low:
            continue
        if not periods:
            found.append((low, high))
            continue
        day = low.astimezone(context.tz).date() - _DAY  # an overnight period from the day before
        last = high.astimezone(context.tz).date()
        while day <= last:
            weekday = day.weekday()
            for days, first, second in periods:
                if weekday not in days:
                    continue
                span = context.occurrence(first, second, day)
                if span is not None and span[1] > low and span[0] < high:
                    found.append((max(span[0], low), min(span[1], high)))
            day += _DAY
    return _merge(found)


def is_active(zone: Zone, when: datetime) -> bool:
    """Whether ``zone`` applies at the moment ``when`` (an aware datetime).

    Worked out on its own from the periods around ``when``, not from
    :func:`active_intervals`, so each can check the other.

    Examples
    --------
    >>> from compliance.zones import Volume
    >>> night = Applicability(periods=(DailyPeriod(start="22:00", end="06:00"),))
    >>> zone = Zone("z", "PROHIBITED", (Volume(center=(2.0, 41.0), radius_m=100.0),),
    ...             applicability=(night,), time_zone="Europe/Madrid")
    >>> is_active(zone, datetime(2026, 6, 5, 3, tzinfo=UTC)), is_active(zone, datetime(2026, 6, 5, 12, tzinfo=UTC))
    (True, False)
    """
    moment = _aware(when, "time")
    if not zone.applicability:
        return True
    context = _Context(zone)
    for entry in zone.applicability:
        entry_start, entry_end = _entry_range(zone, entry)
        if (entry_start is not None and moment < entry_start) or (
            entry_end is not None and moment >= entry_end
        ):
            continue
        periods = _periods(zone, entry)
        if not periods:
            return True
        today = moment.astimezone(context.tz).date()
        for day in (today - _DAY, today):
            for days, first, second in periods:
                if day.weekday() in days:
                    span = context.occurrence(first, second, day)
                    if span is not None and span[0] <= moment < span[1]:
                        return True
    return False


def _days_text(days: frozenset[int]) -> str:
    ordered = sorted(d for d in days if isinstance(d, int) and 0 <= d <= 6)
    if len(ordered) == 7:
        return "daily"
    if not ordered:
        return "no day"
    runs: list[list[int]] = []
    for d in ordered:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ",".join(
        _DAY_NAMES[r[0]] if len(r) == 1 else f"{_DAY_NAMES[r[0]]}-{_DAY_NAMES[r[-1]]}" for r in runs
    )


def _moment_text(when: datetime, tz: tzinfo, is_end: bool) -> str:
    local = when.astimezone(tz) if when.tzinfo is not None else when
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return (local.date() - _DAY if is_end else local.date()).isoformat()
    return local.strftime("%Y-%m-%d %H:%M")


def describe(zone: Zone) -> str:
    """A short human text of when ``zone`` applies.

    Dates are local to the zone's time zone; an end at local midnight is shown as the day
    before (the last day it applies). Clock periods name their time zone.

    Examples
    --------
    >>> from compliance.zones import Volume
    >>> volume = Volume(center=(-3.7, 40.4), radius_m=100.0)
    >>> describe(Zone("a", "PROHIBITED", (volume,)))
    'permanent'
    >>> june = Applicability(
    ...     start=datetime(2026, 5, 31, 22, tzinfo=UTC), end=datetime(2026, 6, 2, 22, tzinfo=UTC),
    ...     periods=(DailyPeriod(frozenset({5, 6}), "08:00", "18:00"),))
    >>> describe(Zone("b", "PROHIBITED", (volume,), applicability=(june,), time_zone="Europe/Madrid"))
    '2026-06-01..2026-06-02, Sat-Sun 08:00-18:00 Europe/Madrid'
    >>> weekdays = Applicability(periods=(DailyPeriod(frozenset(range(5)), "SR", "SS"),))
    >>> describe(Zone("c", "PROHIBITED", (volume,), applicability=(weekdays,)))
    'Mon-Fri SR-SS'
    """
    if not zone.applicability:
        return "permanent"
    try:
        tz = _time_zone(zone.time_zone)
    except ComplianceError:
        tz = UTC
    tz_name = zone.time_zone or "UTC"
    entries = []
    for entry in zone.applicability:
        parts = []
        if entry.start is not None or entry.end is not None:
            first = "" if entry.start is None else _moment_text(entry.start, tz, False)
            last = "" if entry.end is None else _moment_text(entry.end, tz, True)
            parts.append(f"{first}..{last}")
        for period in entry.periods:
            text = f"{_days_text(period.days)} {period.start}-{period.end}"
            if period.start not in SUN_EVENTS or period.end not in SUN_EVENTS:
                text += f" {tz_name}"
            parts.append(text)
        entries.append(", ".join(parts) or "always")
    return "; ".join(entries)
