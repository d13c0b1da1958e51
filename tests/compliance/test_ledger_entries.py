"""The entry format: every kind, its required fields, personal data refused, one-line errors."""

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.errors import LedgerError
from compliance.ledger import EMPTY_ROOT, ENTRY_KINDS, canonical_json
from compliance.ledger.canonical import parse_canonical
from compliance.ledger.entries import (
    MAX_STRING,
    PERSONAL_WORDS,
    entry_bytes,
    format_time,
    make_entry,
    validate_entry,
    validate_record,
)

SHA = "ab" * 32
WHEN = datetime(2026, 12, 7, 7, 13, 17, 123456, tzinfo=UTC)
DOC = Path(__file__).parents[2] / "docs" / "ledger.md"

SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "plan_checked": (
        "plan:3",
        {
            "plan_id": 3,
            "plan_sha256": SHA,
            "report_sha256": SHA,
            "verdict": "approved_with_findings",
            "rules": ["airspace.ceiling", "privacy.camera_off"],
            "window_start": "2026-12-07T08:00:00+00:00",
            "window_end": "2026-12-07T10:00:00+00:00",
        },
    ),
    "flight_approved": (
        "flight:12",
        {
            "plan_id": 3,
            "approval_id": 4,
            "approved_by_role": "admin",
            "decision": "approved",
            "authorisations": ["CTR-7", 12],
        },
    ),
    "flight_flown": (
        "flight:12",
        {
            "flight_id": 12,
            "plan_id": None,
            "source": "upload",
            "track_sha256": SHA,
            "log_sha256": None,
            "started_at": "2026-12-07T08:00:00Z",
            "ended_at": "2026-12-07T08:20:00Z",
            "conforms": None,
            "deviations": 0,
        },
    ),
    "inspection_published": (
        "flight:12",
        {
            "flight_id": 12,
            "inspection_id": 2,
            "footage_sha256": SHA,
            "geojson_sha256": SHA,
            "counts": {"crack": 2, "corrosion": 0},
            "redacted_regions": 5,
        },
    ),
    "disclosure_published": ("flight:12", {"flight_id": 12, "version": 2, "record_sha256": SHA}),
    "question_asked": ("question:5", {"flight_id": 12, "question_id": 5, "text_sha256": SHA}),
    "question_reviewed": ("question:5", {"question_id": 5, "published": False}),
    "answer_given": (
        "question:5",
        {"question_id": 5, "answer_sha256": SHA, "answered_after_s": 3600},
    ),
    "correction": (
        "flight:12",
        {"reason": "the track hash was of the wrong file", "track_sha256": SHA},
    ),
    "data_deleted": (
        "flight:12",
        {"flight_id": 12, "files": [SHA], "retention_days": 90, "reason": "retention"},
    ),
}


def test_every_kind_has_a_sample():
    assert set(SAMPLES) == set(ENTRY_KINDS)
    for kind, (_, data) in SAMPLES.items():
        assert set(ENTRY_KINDS[kind]) <= set(data)


@pytest.mark.parametrize("kind", SAMPLES)
def test_a_valid_entry_of_every_kind(kind):
    subject, data = SAMPLES[kind]
    corrects = 3 if kind == "correction" else None
    entry = make_entry(7, kind, subject, WHEN, EMPTY_ROOT, data, corrects)
    assert entry["schema"] == 1 and entry["index"] == 7 and entry["kind"] == kind
    assert entry["time"] == "2026-12-07T07:13:17.123Z"
    assert entry["prev_root"] == EMPTY_ROOT.hex()
    assert entry["data"] == data and entry["data"] is not data
    assert ("corrects" in entry) is (corrects is not None)
    raw = entry_bytes(entry)
    assert raw == canonical_json(entry)
    assert parse_canonical(raw.decode()) == entry
    validate_entry(entry)
    validate_record(kind, subject, data, corrects)


def test_the_exact_bytes_of_an_entry():
    entry = make_entry(
        0,
        "question_reviewed",
        "question:5",
        WHEN,
        EMPTY_ROOT,
        {"question_id": 5, "published": True},
    )
    assert entry_bytes(entry) == (
        b'{"data":{"published":true,"question_id":5},"index":0,"kind":"question_reviewed",'
        b'"prev_root":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",'
        b'"schema":1,"subject":"question:5","time":"2026-12-07T07:13:17.123Z"}'
    )


def entry_with(kind="disclosure_published", **changes):
    subject, data = SAMPLES.get(kind, SAMPLES["disclosure_published"])
    args = {
        "index": 4,
        "kind": kind,
        "subject": subject,
        "time": WHEN,
        "prev_root": EMPTY_ROOT,
        "data": data,
        "corrects": None,
    } | changes
    return make_entry(**args)


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"kind": "flight_deleted"}, "kind 'flight_deleted' is not one of plan_checked"),
        ({"subject": "Flight 12"}, "subject 'Flight 12' is not"),
        ({"subject": "flight:"}, "subject"),
        ({"index": -1}, "index -1"),
        ({"index": True}, "index True"),
        ({"time": "2026-12-07T07:13:17Z"}, "like 2026-12-07T07:13:17.123Z"),
        ({"time": datetime(2026, 1, 1)}, "no time zone"),
        ({"prev_root": "AB" * 32}, "prev_root"),
        ({"prev_root": b"\x00" * 31}, "prev_root"),
        ({"data": [1]}, "not an object"),
        ({"data": {"flight_id": 12, "version": 2}}, "lacks 'record_sha256'; it needs flight_id"),
        ({"data": {"flight_id": "12", "version": 2, "record_sha256": SHA}}, "flight_id = '12'"),
        ({"data": {"flight_id": 1, "version": -2, "record_sha256": SHA}}, "version = -2 is not an"),
        ({"data": {"flight_id": 1, "version": 2, "record_sha256": "AB" * 32}}, "SHA-256"),
        (
            {"data": {"flight_id": 1, "version": 2, "record_sha256": SHA, "corrects": 1}},
            "top-level",
        ),
        ({"corrects": 4}, "not an earlier entry than index 4"),
        ({"corrects": -1}, "corrects -1"),
        ({"kind": "correction"}, "needs corrects="),
        (
            {"data": {"flight_id": 1, "version": 2, "record_sha256": SHA, "x": float("nan")}},
            "finite",
        ),
        (
            {"data": {"flight_id": 1, "version": 2, "record_sha256": SHA, "x": {1, 2}}},
            "no JSON form",
        ),
        ({"data": {"flight_id": 1, "version": 2, "record_sha256": SHA, "x": 2**60}}, "string"),
    ],
)
def test_invalid_entries_are_refused_in_one_line(changes, pattern):
    with pytest.raises(LedgerError, match=pattern) as caught:
        entry_with(**changes)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "value",
    ["moved", None, 3],
)
def test_kind_specific_choices(value):
    subject, data = SAMPLES["flight_approved"]
    with pytest.raises(LedgerError, match=r"decision .* is not approved \| rejected"):
        make_entry(1, "flight_approved", subject, WHEN, EMPTY_ROOT, data | {"decision": value})


@pytest.mark.parametrize(
    "key",
    [
        "name",
        "pilot",
        "pilot_name",
        "pilotName",
        "PilotName",
        "user_id",
        "username",
        "e-mail",
        "email",
        "contact_email",
        "phone",
        "mobile",
        "telephone_number",
        "home_address",
        "User",
    ],
)
def test_personal_data_keys_are_refused_at_any_depth(key):
    base = {"flight_id": 1, "version": 2, "record_sha256": SHA}
    for data in (base | {key: "x"}, base | {"crew": [{"role": "pilot-in-command", key: "x"}]}):
        with pytest.raises(LedgerError, match=r"personal data.*role and unit") as caught:
            entry_with(data=data)
        assert repr(key) in str(caught.value)


def test_roles_and_units_are_fine():
    entry_with(data=SAMPLES["disclosure_published"][1] | {"role": "remote pilot"} | {"unit": "U1"})
    entry_with(data=SAMPLES["disclosure_published"][1] | {"approved_by_role": "admin"})
    assert {"name", "email", "phone", "pilot", "user", "address"} <= PERSONAL_WORDS


def test_strings_are_limited():
    data = SAMPLES["correction"][1]
    entry_with("correction", corrects=1, data=data | {"reason": "x" * MAX_STRING})
    with pytest.raises(LedgerError, match=f"{MAX_STRING + 1} characters; at most {MAX_STRING}"):
        entry_with("correction", corrects=1, data=data | {"reason": "x" * (MAX_STRING + 1)})
    with pytest.raises(LedgerError, match=r"data\.notes\[1\]"):
        entry_with("correction", corrects=1, data=data | {"notes": ["ok", "y" * 2000]})


def test_format_time_is_utc_milliseconds():
    local = WHEN.astimezone(timezone(timedelta(hours=-5)))
    assert format_time(local) == "2026-12-07T07:13:17.123Z"
    assert entry_with(time="2026-12-07T07:13:17.000Z")["time"] == "2026-12-07T07:13:17.000Z"


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"schema": 2}, "schema 2 is not 1"),
        ({"schema": True}, "schema True"),
        ({"extra": 1}, "entry keys"),
        ({"corrects": None}, "null"),
        ({"kind": "nope"}, "kind 'nope'"),
    ],
)
def test_validate_entry_checks_a_stored_entry(change, pattern):
    entry = entry_with()
    with pytest.raises(LedgerError, match=pattern):
        validate_entry(entry | change)
    without = dict(entry)
    del without["prev_root"]
    with pytest.raises(LedgerError, match="entry keys"):
        validate_entry(without)
    with pytest.raises(LedgerError, match="not a JSON object"):
        validate_entry([entry])


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9]{0,12}", fullmatch=True), st.integers(0, 9)))
def test_extra_fields_without_personal_words_are_kept(extra):
    extra = {k: v for k, v in extra.items() if not set(re.findall("[a-z0-9]+", k)) & PERSONAL_WORDS}
    data = SAMPLES["question_reviewed"][1] | extra | {"question_id": 5, "published": True}
    entry = make_entry(2, "question_reviewed", "question:5", WHEN, EMPTY_ROOT, data)
    assert entry["data"] == data


def test_the_docs_list_every_kind_with_its_fields():
    text = DOC.read_text(encoding="utf-8")
    rows: dict[str, str] = {}
    for kind, cell in re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", text, re.MULTILINE):
        rows.setdefault(kind, cell)  # the kinds table; later tables name subjects
    assert set(rows) >= set(ENTRY_KINDS)
    for kind, fields in ENTRY_KINDS.items():
        assert re.findall(r"`([a-z_0-9]+)`", rows[kind]) == list(fields), kind
    for word in sorted(PERSONAL_WORDS):
        assert f"`{word}`" in text
