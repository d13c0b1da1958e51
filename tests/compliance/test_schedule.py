"""When zones apply: weekdays, date ranges, overnight periods, DST, sun events, properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.errors import ComplianceError
from compliance.schedule import active_intervals, describe, is_active, zone_place
from compliance.sun import sun_event
from compliance.zones import SUN_EVENTS, Applicability, DailyPeriod, Volume, Zone

MADRID = ZoneInfo("Europe/Madrid")
PLACE = (-3.70, 40.42)  # Madrid, on a 0.01° grid so the schedule's cache key is the place itself
VOLUME = Volume(center=PLACE, radius_m=200.0)
WEEKEND = frozenset({5, 6})
WORKDAYS = frozenset(range(5))


def zone(*entries: Applicability, time_zone: str | None = None) -> Zone:
    return Zone("test-zone", "PROHIBITED", (VOLUME,), applicability=entries, time_zone=time_zone)


def daily(start: str = "00:00", end: str = "24:00", days: frozenset[int] = frozenset(range(7))):
    return Applicability(periods=(DailyPeriod(days, start, end),))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)  # type: ignore[misc]


def test_permanent_zone_covers_the_window() -> None:
    start, end = utc(2026, 6, 1, 8), utc(2026, 6, 1, 12)
    assert active_intervals(zone(), start, end) == [(start, end)]
    assert is_active(zone(), start)
    assert describe(zone()) == "permanent"


def test_weekend_zone_on_a_weekday_and_on_a_saturday() -> None:
    weekend = zone(daily(days=WEEKEND))
    wednesday = utc(2026, 6, 3, 8)
    assert active_intervals(weekend, wednesday, wednesday + timedelta(hours=6)) == []
    saturday = utc(2026, 6, 6, 8)
    window = (saturday, saturday + timedelta(hours=6))
    assert active_intervals(weekend, *window) == [window]
    # Friday noon to Monday noon: all of Saturday and Sunday, one merged interval.
    assert active_intervals(weekend, utc(2026, 6, 5, 12), utc(2026, 6, 8, 12)) == [
        (utc(2026, 6, 6), utc(2026, 6, 8))
    ]


def test_weekend_in_local_time() -> None:
    weekend = zone(daily("08:00", "18:00", WEEKEND), time_zone="Europe/Madrid")
    found = active_intervals(weekend, utc(2026, 6, 1), utc(2026, 6, 8))
    assert found == [
        (local(2026, 6, 6, 8), local(2026, 6, 6, 18)),
        (local(2026, 6, 7, 8), local(2026, 6, 7, 18)),
    ]
    assert found[0][0] == utc(2026, 6, 6, 6)  # CEST is UTC+2
    assert all(a.tzinfo is UTC for pair in found for a in pair)


def test_date_range_zone() -> None:
    festival = zone(Applicability(start=utc(2026, 6, 1, 10), end=utc(2026, 6, 2, 10)))
    assert active_intervals(festival, utc(2026, 5, 31), utc(2026, 6, 5)) == [
        (utc(2026, 6, 1, 10), utc(2026, 6, 2, 10))
    ]
    assert active_intervals(festival, utc(2026, 6, 1, 12), utc(2026, 6, 1, 13)) == [
        (utc(2026, 6, 1, 12), utc(2026, 6, 1, 13))
    ]
    assert active_intervals(festival, utc(2026, 6, 3), utc(2026, 6, 4)) == []
    assert is_active(festival, utc(2026, 6, 1, 10))
    assert not is_active(festival, utc(2026, 6, 2, 10))  # the end is exclusive
    open_ended = zone(Applicability(start=utc(2026, 6, 1)))
    assert active_intervals(open_ended, utc(2026, 5, 31), utc(2026, 6, 2)) == [
        (utc(2026, 6, 1), utc(2026, 6, 2))
    ]


def test_date_range_with_periods_and_several_entries() -> None:
    both = zone(
        Applicability(
            start=utc(2026, 6, 1),
            end=utc(2026, 6, 3),
            periods=(DailyPeriod(start="09:00", end="10:00"),),
        ),
        Applicability(start=utc(2026, 6, 2, 9, 30), end=utc(2026, 6, 2, 11)),
    )
    assert active_intervals(both, utc(2026, 5, 30), utc(2026, 6, 10)) == [
        (utc(2026, 6, 1, 9), utc(2026, 6, 1, 10)),
        (utc(2026, 6, 2, 9), utc(2026, 6, 2, 11)),
    ]


def test_overnight_period_runs_into_the_next_day() -> None:
    # Friday nights only: Friday 22:00 to Saturday 06:00; the weekday is the day it starts.
    nights = zone(daily("22:00", "06:00", frozenset({4})), time_zone="Europe/Madrid")
    found = active_intervals(nights, utc(2026, 6, 1), utc(2026, 6, 8))
    assert found == [(local(2026, 6, 5, 22), local(2026, 6, 6, 6))]
    # A window starting on Saturday morning still sees the tail of Friday's night.
    assert active_intervals(nights, local(2026, 6, 6, 5), local(2026, 6, 6, 9)) == [
        (local(2026, 6, 6, 5), local(2026, 6, 6, 6))
    ]
    assert is_active(nights, local(2026, 6, 6, 5, 59))
    assert not is_active(nights, local(2026, 6, 6, 6))
    # Equal start and end: 24 hours.
    whole = zone(daily("08:00", "08:00", frozenset({0})))
    assert active_intervals(whole, utc(2026, 6, 1), utc(2026, 6, 3)) == [
        (utc(2026, 6, 1, 8), utc(2026, 6, 2, 8))
    ]


def test_dst_spring_forward_and_fall_back() -> None:
    tz = "Europe/Madrid"
    # 2026-03-29: clocks go from 02:00 CET to 03:00 CEST (01:00 UTC).
    morning = zone(daily("01:00", "04:00"), time_zone=tz)
    spring = active_intervals(morning, local(2026, 3, 29), local(2026, 3, 29, 12))
    assert spring == [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))]  # two hours of wall clock
    # A start inside the gap means the moment the clocks jump.
    gap = zone(daily("02:30", "04:00"), time_zone=tz)
    assert active_intervals(gap, local(2026, 3, 29), local(2026, 3, 29, 12)) == [
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))
    ]
    # A period wholly inside the gap does not happen that day (and is not stretched to 24 h).
    inside = zone(daily("02:10", "02:50"), time_zone=tz)
    assert active_intervals(inside, local(2026, 3, 29), local(2026, 3, 30)) == []
    # 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET (01:00 UTC); 02:30 happens
    # twice and means the first time.
    fall = active_intervals(gap, local(2026, 10, 25), local(2026, 10, 25, 12))
    assert fall == [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3))]
    # On ordinary days around the changes the local times hold.
    before = active_intervals(morning, local(2026, 3, 28), local(2026, 3, 28, 12))
    after = active_intervals(morning, local(2026, 3, 30), local(2026, 3, 30, 12))
    assert before == [(utc(2026, 3, 28, 0), utc(2026, 3, 28, 3))]
    assert after == [(utc(2026, 3, 29, 23), utc(2026, 3, 30, 2))]


def test_sun_event_periods_follow_sunrise_and_sunset() -> None:
    daytime = zone(daily("SR", "SS"), time_zone="Europe/Madrid")
    found = active_intervals(daytime, utc(2026, 6, 1), utc(2026, 6, 4))
    assert len(found) == 3
    for (begin, end), day in zip(found, (1, 2, 3), strict=True):
        rise = sun_event(*PLACE, date(2026, 6, day), "SR")
        sunset = sun_event(*PLACE, date(2026, 6, day), "SS")
        assert rise is not None and sunset is not None
        assert abs(begin - rise) < timedelta(seconds=2)
        assert abs(end - sunset) < timedelta(seconds=2)
    # Night: sunset to the next sunrise, two nights and two partial ones at the window ends.
    night = zone(daily("SS", "SR"))
    nights = active_intervals(night, utc(2026, 6, 1, 12), utc(2026, 6, 3, 12))
    assert len(nights) == 2
    assert all(timedelta(hours=8) < b - a < timedelta(hours=10) for a, b in nights)


def test_sun_periods_in_polar_day_and_night() -> None:
    svalbard = Volume(center=(15.63, 78.22), radius_m=500.0)
    day_zone = Zone("d", "PROHIBITED", (svalbard,), applicability=(daily("SR", "SS"),))
    night_zone = Zone("n", "PROHIBITED", (svalbard,), applicability=(daily("SS", "SR"),))
    june = (utc(2026, 6, 20, 6), utc(2026, 6, 21, 6))
    december = (utc(2026, 12, 20, 6), utc(2026, 12, 21, 6))
    assert active_intervals(day_zone, *june) == [june]
    assert active_intervals(night_zone, *june) == []
    assert active_intervals(day_zone, *december) == []
    assert active_intervals(night_zone, *december) == [december]


def test_zone_place_is_the_circle_centre_or_ring_mean() -> None:
    assert zone_place(zone()) == PLACE
    ring = ((0.0, 0.0), (4.0, 0.0), (4.0, 2.0), (0.0, 2.0), (0.0, 0.0))
    assert zone_place(Zone("p", "PROHIBITED", (Volume(rings=(ring,)),))) == (2.0, 1.0)


@pytest.mark.parametrize(
    ("build", "start", "end", "message"),
    [
        (lambda: zone(), utc(2026, 6, 2), utc(2026, 6, 1), r"window end 2026-06-01T00:00:00\+00:00 is before its start 2026-06-02"),
        (lambda: zone(), datetime(2026, 6, 1), utc(2026, 6, 2), "window start 2026-06-01T00:00:00 has no UTC offset"),
        (lambda: zone(daily(), time_zone="Mars/Olympus"), utc(2026, 6, 1), utc(2026, 6, 2), "time zone 'Mars/Olympus' is not an IANA"),
        (lambda: zone(daily("8:00", "18:00")), utc(2026, 6, 1), utc(2026, 6, 2), r"daily period start '8:00' is not HH:MM \(00:00..23:59\)"),
        (lambda: zone(daily("08:00", "24:30")), utc(2026, 6, 1), utc(2026, 6, 2), r"end '24:30' is not HH:MM \(00:00..23:59 or 24:00\)"),
        (lambda: zone(daily("24:00", "06:00")), utc(2026, 6, 1), utc(2026, 6, 2), "start '24:00' is not HH:MM"),
        (lambda: zone(daily("NOON", "SS")), utc(2026, 6, 1), utc(2026, 6, 2), r"or a sun event \(BMCT, SR, SS, EECT\)"),
        (lambda: zone(daily(days=frozenset({7}))), utc(2026, 6, 1), utc(2026, 6, 2), r"weekday 7 is not 0 \(Monday\) .. 6 \(Sunday\)"),
        (lambda: zone(Applicability(start=datetime(2026, 6, 1))), utc(2026, 6, 1), utc(2026, 6, 2), "applicability start 2026-06-01T00:00:00 has no UTC offset"),
        (lambda: zone(Applicability(start=utc(2026, 6, 2), end=utc(2026, 6, 1))), utc(2026, 6, 1), utc(2026, 6, 2), "ends at 2026-06-01T00:00:00\\+00:00, before it starts"),
    ],
)  # fmt: skip
def test_bad_inputs_give_one_line_errors(build, start, end, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ComplianceError, match=message) as caught:
        active_intervals(build(), start, end)
    assert "\n" not in str(caught.value)


def test_empty_window() -> None:
    moment = utc(2026, 6, 1)
    assert active_intervals(zone(), moment, moment) == []


@pytest.mark.parametrize(
    ("entries", "time_zone", "text"),
    [
        ((), None, "permanent"),
        (
            (
                Applicability(
                    start=local(2026, 6, 1),
                    end=local(2026, 6, 3),
                    periods=(DailyPeriod(WEEKEND, "08:00", "18:00"),),
                ),
            ),
            "Europe/Madrid",
            "2026-06-01..2026-06-02, Sat-Sun 08:00-18:00 Europe/Madrid",
        ),
        ((daily("SR", "SS", WORKDAYS),), None, "Mon-Fri SR-SS"),
        ((daily("22:00", "06:00", frozenset({0, 2, 4})),), None, "Mon,Wed,Fri 22:00-06:00 UTC"),
        ((Applicability(start=utc(2026, 6, 1, 9, 30)),), None, "2026-06-01 09:30.."),
        ((daily(), daily("SS", "SR")), None, "daily 00:00-24:00 UTC; daily SS-SR"),
    ],
)
def test_describe(entries: tuple[Applicability, ...], time_zone: str | None, text: str) -> None:
    assert describe(zone(*entries, time_zone=time_zone)) == text


def test_many_zones_are_fast() -> None:
    import time

    zones = [
        zone(
            daily("SR", "SS", WORKDAYS),
            daily("22:00", "06:00", WEEKEND),
            time_zone="Europe/Madrid",
        )
        for _ in range(2000)
    ]
    began = time.perf_counter()
    for each in zones:
        active_intervals(each, utc(2026, 6, 1, 6), utc(2026, 6, 1, 14))
    assert time.perf_counter() - began < 2.0  # about 50 ms here; generous for slow machines


# --- properties --------------------------------------------------------------------------

clock = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 59])
)
bound = st.one_of(clock, st.sampled_from(SUN_EVENTS))
period = st.builds(
    DailyPeriod,
    days=st.frozensets(st.integers(0, 6), min_size=1),
    start=bound,
    end=st.one_of(bound, st.just("24:00")),
)
base = datetime(2026, 3, 20, tzinfo=UTC)  # windows reach over the March DST change
moment = st.builds(lambda minutes: base + timedelta(minutes=minutes), st.integers(0, 60 * 24 * 14))
entry = st.builds(
    Applicability,
    start=st.one_of(st.none(), moment),
    end=st.one_of(st.none(), moment),
    periods=st.lists(period, max_size=2).map(tuple),
).filter(lambda a: a.start is None or a.end is None or a.start <= a.end)
zones = st.builds(
    lambda entries, tz: Zone(
        "p", "PROHIBITED", (VOLUME,), applicability=tuple(entries), time_zone=tz
    ),
    st.lists(entry, max_size=3),
    st.sampled_from([None, "Europe/Madrid", "America/New_York", "Asia/Kolkata"]),
)


@settings(max_examples=60, deadline=None)
@given(zone_=zones, start=moment, hours=st.integers(0, 60))
def test_intervals_agree_with_minute_sampling(zone_: Zone, start: datetime, hours: int) -> None:
    end = start + timedelta(hours=hours)
    found = active_intervals(zone_, start, end)
    for begin, finish in found:
        assert start <= begin < finish <= end
        assert begin.tzinfo is UTC and finish.tzinfo is UTC
    for (_, first_end), (second_start, _) in pairwise(found):
        assert first_end < second_start  # sorted, disjoint and merged
    # Brute force: sample is_active every minute (at +30 s so interval bounds on whole
    # minutes are not sampled exactly) and compare with membership in the intervals.
    # Sun events fall at any second, so a sample within a minute of a bound may differ.
    t = start + timedelta(seconds=30)
    while t < end:
        inside = any(begin <= t < finish for begin, finish in found)
        if is_active(zone_, t) != inside:
            nearest = min(
                (abs(t - b) for pair in found for b in pair),
                default=timedelta.max,
            )
            assert nearest <= timedelta(minutes=1), (t, found)
        t += timedelta(minutes=1)
