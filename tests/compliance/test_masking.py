"""Contact details masked out of citizens' questions (compliance.masking)."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compliance.masking import EMAIL_MARKER, PHONE_MARKER, mask_contacts

EMAILS = [
    "jane.doe@example.org",
    "J.Doe+drones@sub.example.co.uk",
    "ana_garcia-2026@correo.es",
    "x@y.io",
    "jane @ example.com",
    "jane @ example . com",
    "ana[at]correo[punto]es",
    "ana (at) correo (dot) es",
    "vecino{arroba}barrio[dot]org",
    "josé.pérez@ayuntamiento.es",
    "maría＠correo.es",
]

PHONES = [
    "+34 912 345 678",
    "+34912345678",
    "0034 912 34 56 78",
    "+1 (555) 123-4567",
    "+1-800-555-0199",
    "(555) 123-4567",
    "(555)123-4567",
    "555-123-4567",
    "555.123.4567",
    "555 123 4567",
    "+44 (0)20 7946 0958",
    "+44 20 7946 0958",
    "06 12 34 56 78",
    "06-12-34-56-78",
    "06.12.34.56.78",
    "0612345678",
    "91 123 45 67",
    "612 345 678",
    "555 1234",
    "555-1234",
    "555-12-34",
    "030/1234567",
    "+49 30 1234567",
    "+61 2 6123 4567",
]

NOT_PHONES = [
    "flight 12",
    "flight 1234567",
    "flight 12345678",
    "vuelo 12345678",
    "#12345678",
    "ID 123456789",
    "2026-12-07",
    "2026/12/07",
    "07/12/2026",
    "7.12.26",
    "12-7-2026",
    "12.05.2026 18:30",
    "2026-12-07T07:13:17.123Z",
    "2026-12-07T07:13:17+01:00",
    "07:13",
    "7:13:17",
    "2019-2026",
    "2019 – 2026",
    "2024 2025",
    "3.14159265358",
    "-35.3626 149.1655",
    "40.4168, -3.7038",
    "192.168.1.1",
    "1 500 000",
    "1.500.000 €",
    "250 000",
    "12345",
    "123456",
    "5551234",
    "flights 12, 13 and 14",
    "between 10 and 20 minutes at 120 m",
    "The ID is AB-12345678",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
]


@pytest.mark.parametrize("address", EMAILS)
def test_email_addresses_are_masked(address: str) -> None:
    text = f"Please write to {address} about this flight."
    assert mask_contacts(text) == (f"Please write to {EMAIL_MARKER} about this flight.", 1)


@pytest.mark.parametrize("number", PHONES)
def test_phone_numbers_are_masked(number: str) -> None:
    text = f"Call me on {number} tomorrow."
    assert mask_contacts(text) == (f"Call me on {PHONE_MARKER} tomorrow.", 1)


@pytest.mark.parametrize("text", NOT_PHONES)
def test_dates_times_ids_and_short_numbers_stay(text: str) -> None:
    sentence = f"About {text}, why did it fly?"
    assert mask_contacts(sentence) == (sentence, 0)


def test_a_question_with_both_and_localised_markers() -> None:
    text = (
        "¿Por qué voló el dron el 2026-12-07 a las 07:13 sobre mi casa? "
        "Escríbeme a vecina@correo.es o llama al 612 34 56 78."
    )
    masked, count = mask_contacts(text, "[correo eliminado]", "[teléfono eliminado]")
    assert count == 2
    assert masked == (
        "¿Por qué voló el dron el 2026-12-07 a las 07:13 sobre mi casa? "
        "Escríbeme a [correo eliminado] o llama al [teléfono eliminado]."
    )


def test_a_time_before_a_number_is_not_joined_to_it() -> None:
    assert mask_contacts("at 07:13 555 1234") == (f"at 07:13 {PHONE_MARKER}", 1)
    assert mask_contacts("on 2026-12-07 555 123 4567") == (f"on 2026-12-07 {PHONE_MARKER}", 1)


def test_sentence_end_splits_numbers() -> None:
    assert mask_contacts("I live at number 12. 555 1234 is mine") == (
        f"I live at number 12. {PHONE_MARKER} is mine",
        1,
    )


def test_long_inputs_take_linear_time() -> None:
    # patterns that make a backtracking regex quadratic or worse: these must stay cheap
    for text in ("a" * 20_000 + "@", "1-" * 10_000 + "x", "a@" + "b." * 10_000, "(1" * 10_000):
        assert mask_contacts(text)[1] in (0, 1)


# --- properties -------------------------------------------------------------------------------

_label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=10)
_local = st.builds(
    lambda parts: ".".join(parts),
    st.lists(
        st.text(string.ascii_letters + string.digits + "_+-", min_size=1, max_size=8),
        min_size=1,
        max_size=3,
    ),
)
emails = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
    _local,
    st.lists(_label, min_size=1, max_size=3),
    st.text(string.ascii_lowercase, min_size=2, max_size=6),
)
_digit_groups = st.lists(st.integers(2, 4), min_size=2, max_size=5).filter(
    lambda sizes: 7 <= sum(sizes) <= 12
)


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, str]:
    """A phone number as people write it, and its digits."""
    sizes = draw(_digit_groups)
    digits = "".join(draw(st.text("0123456789", min_size=n, max_size=n)) for n in sizes)
    # a leading zero or a plus keeps every shape from looking like an amount or a year
    digits = "0" + digits[1:]
    groups, at = [], 0
    for n in sizes:
        groups.append(digits[at : at + n])
        at += n
    separator = draw(st.sampled_from([" ", "-", ".", " - "]))
    number = separator.join(groups)
    style = draw(st.sampled_from(["plain", "plus", "parens"]))
    if style == "plus":
        number = "+" + draw(st.sampled_from(["1", "34", "44", "49", "33"])) + " " + number
    elif style == "parens":
        number = f"({groups[0]}) " + separator.join(groups[1:])
    # a day, a month and a year are a date (05-23-1822), whatever else they might be
    assume(not re.fullmatch(r"\d\d[-./]\d\d[-./]\d{4}", number))
    return number, digits


words = st.lists(
    st.text(string.ascii_letters + "áéíóúñ¿?!,;", min_size=1, max_size=12), max_size=8
).map(" ".join)


@given(before=words, email=emails, after=words)
def test_any_email_is_masked(before: str, email: str, after: str) -> None:
    masked, count = mask_contacts(f"{before} {email} {after}")
    assert email not in masked
    assert EMAIL_MARKER in masked
    assert count >= 1


@given(before=words, phone=phones(), after=words)
def test_any_phone_is_masked(before: str, phone: tuple[str, str], after: str) -> None:
    number, digits = phone
    masked, count = mask_contacts(f"{before} {number} {after}")
    assert PHONE_MARKER in masked
    assert count >= 1
    assert digits not in re.sub(r"\D", "", masked)


@given(
    day=st.dates(date(1990, 1, 1), date(2100, 12, 31)),
    style=st.sampled_from(["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%m/%d/%Y", "%Y/%m/%d", "%d-%m-%Y"]),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)
def test_dates_and_times_are_kept(day: date, style: str, hour: int, minute: int) -> None:
    text = f"Flown on {day.strftime(style)} at {hour:02d}:{minute:02d}, then {day.isoformat()}"
    assert mask_contacts(text) == (text, 0)


@given(st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_iso_datetimes_are_kept(when: datetime) -> None:
    text = f"started {when.isoformat()} ended {(when + timedelta(minutes=12)).isoformat()}"
    assert mask_contacts(text) == (text, 0)


@given(number=st.integers(0, 999_999), flight=st.integers(1, 2**31 - 1))
def test_short_numbers_and_flight_ids_are_kept(number: int, flight: int) -> None:
    text = f"Flight {flight} took {number} photos; see flight #{flight}."
    assert mask_contacts(text) == (text, 0)


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_masking_is_idempotent_and_counts_markers(text: str) -> None:
    masked, count = mask_contacts(text)
    assert mask_contacts(masked) == (masked, 0)
    if EMAIL_MARKER not in text and PHONE_MARKER not in text:
        assert masked.count(EMAIL_MARKER) + masked.count(PHONE_MARKER) == count


@given(st.text(alphabet=st.characters(blacklist_characters="0123456789@＠[({"), max_size=300))
def test_text_without_digits_or_at_is_unchanged(text: str) -> None:
    assert mask_contacts(text) == (text, 0)
