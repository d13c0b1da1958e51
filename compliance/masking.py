"""Contact details masked out of citizens' text before it is published.

:func:`mask_contacts` replaces e-mail addresses and phone numbers with a marker. A citizen's
question is kept as asked for the staff who review it; only the masked copy is ever shown to
the public or hashed into the transparency log.

E-mail addresses: ``local@domain.tld``, also with spaces around the ``@``, a full-width ``＠``,
or written out as ``jane [at] example [dot] org`` (``(at)``, ``[arroba]``, ``(punto)``...).

Phone numbers: 7 to 15 digits (E.164 allows at most 15) written with single spaces, dots,
dashes, slashes or parentheses between the groups, with or without a ``+`` or ``00``
international prefix: ``+34 912 345 678``, ``(555) 123-4567``, ``06 12 34 56 78``,
``+44 (0)20 7946 0958``, ``555.123.4567``. A run of digits without separators is a phone number
from 8 digits on (``0612345678``), or 7 with a ``+``. These are left alone: dates
(``2026-12-07``, ``07/12/2026``, ``7.12.26``, ISO 8601 date-times), times (``07:13``), year
ranges (``2019-2026``), a decimal number (``3.14159``), a pair of coordinates
(``-35.3626 149.1655``), an IPv4 address, amounts grouped by thousands up to 7 digits
(``1 500 000``), a flight or record id (``flight 1234567``, ``#12345678``) and anything
shorter than 7 digits. The rules favour masking: a 9-digit amount written ``612 345 678``
looks like a Spanish phone number and is masked.

>>> mask_contacts("Write to jane.doe@example.org or call +34 912 345 678 after 18:00.")
('Write to [e-mail removed] or call [phone removed] after 18:00.', 2)
>>> mask_contacts("Flight 12 on 2026-12-07 at 07:13 flew 1.5 km.")
('Flight 12 on 2026-12-07 at 07:13 flew 1.5 km.', 0)
"""

from __future__ import annotations

import itertools
import re

__all__ = ["EMAIL_MARKER", "PHONE_MARKER", "mask_contacts"]

EMAIL_MARKER = "[e-mail removed]"
PHONE_MARKER = "[phone removed]"

# --- e-mail addresses -----------------------------------------------------------------------

_AT = r"(?:[ \t]?@[ \t]?|\uff20|[ \t]?[\[({][ \t]?(?:at|arroba)[ \t]?[\])}][ \t]?)"
_DOT = r"(?:\.|[ \t]\.[ \t]|[ \t]?[\[({][ \t]?(?:dot|punto)[ \t]?[\])}][ \t]?)"
_EMAIL = re.compile(
    r"(?<![\w!#$%&'*+=?^{|}~.-])"  # the whole local part, never a tail of it
    r"[\w!#$%&'*+=?^{|}~-]+(?:\.[\w!#$%&'*+=?^{|}~-]+)*"  # local part
    + _AT
    + r"[^\W_](?:[\w-]*[^\W_])?"  # first domain label
    + r"(?:"
    + _DOT
    + r"[^\W_](?:[\w-]*[^\W_])?)*"
    + _DOT
    + r"[^\W\d_]{2,63}(?![\w-])",  # top-level domain: letters
    re.IGNORECASE,
)

# --- what looks like a phone number but is not ------------------------------------------------

_YEAR = r"(?:1[89]|2[01])\d\d"
_PROTECTED = re.compile(
    "|".join(
        (
            # ISO 8601 date (and time): 2026-12-07, 2026-12-07T07:13:17.123+01:00
            rf"(?<![\d.])(?<!\d[-/]){_YEAR}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d\d:?\d\d)?)?(?![\d]|[./-]\d)",
            # dates: 2026/12/07, 07/12/2026, 7.12.26, 12-7-2026 (checked in _is_date)
            rf"(?<![\d.+])(?<!\d[-/])(?:{_YEAR}[./]\d{{1,2}}[./]\d{{1,2}}|\d{{1,2}}[./-]\d{{1,2}}[./-](?:{_YEAR}|\d\d))"
            r"(?![\d]|[./-]\d)",
            # times: 07:13, 7:13:17, 7:13 pm
            r"(?<![\d:])\d{1,2}:\d\d(?::\d\d(?:[.,]\d+)?)?(?![\d:])",
            # year ranges: 2019-2026, 2019 – 2026
            rf"(?<![\d.])(?<!\d[-/])(?:{_YEAR})[ \t]?[-\u2013/][ \t]?(?:{_YEAR})(?![\d]|[./-]\d)",
            # coordinate pairs: -35.3626 149.1655, 40.4168, -3.7038
            r"(?<![\d.])-?\d{1,3}\.\d{3,}(?:[ \t]*[,;][ \t]*|[ \t]+)-?\d{1,3}\.\d{3,}(?![\d]|\.\d)",
        )
    )
)
_DATE_NUMBERS = re.compile(r"\d+")
# A country code, an area code in parentheses or a group of digits and a separator just before:
# what follows is the rest of a phone number.
_NUMBER_BEFORE = re.compile(
    r"(?:\+\d{1,4}[ \u00a0.\-]?|\(\d{1,5}\)[ \u00a0.\-]?|\d[ \u00a0]?[-./\u2010-\u2013][ \u00a0]?)$"
)

# A run of digits and the characters phone numbers are written with (linear: no nesting).
_CANDIDATE = re.compile(r"(?:\+|\()?\(?\d[\d ()\u00a0.\-\u2010-\u2013/]*")
# What may stand between two groups of digits: a closing parenthesis, one separator (or one
# spaced dash, dot or slash), an opening parenthesis.
_SEPARATOR = re.compile(
    r"\)?(?:[ \u00a0][-.\u2010-\u2013/][ \u00a0]|[ \u00a0.\-\u2010-\u2013/])?\(?"
)
_ID_BEFORE = re.compile(
    r"(?:\b(?:flights?|vuelos?|id|ids|no|nos|n[º°o]|number|n[úu]mero|ref|case|caso)\.?"
    r"[ \t]*[#:]?|#)[ \t]*$",
    re.IGNORECASE,
)
_THOUSANDS = re.compile(r"\d{1,3}(?:[ \u00a0.]\d{3})+")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_YEARS = re.compile(rf"{_YEAR}(?:[ \u00a0/\-\u2013]{_YEAR})+")


def _is_date(text: str) -> bool:
    """Whether a date-shaped match has a day and a month that can be one."""
    numbers = [int(n) for n in _DATE_NUMBERS.findall(text)]
    if len(numbers) != 3:
        return True  # an ISO date-time or a time (matched whole)
    if len(_DATE_NUMBERS.findall(text)[0]) == 4:
        _, month, day = numbers
        return 1 <= month <= 12 and 1 <= day <= 31
    first, second, _ = numbers
    return 1 <= first <= 31 and 1 <= second <= 31 and min(first, second) <= 12


def _protect(text: str) -> str:
    """``text`` with its dates, times, year ranges and coordinates blanked (same length)."""

    def blank(match: re.Match[str]) -> str:
        found = match.group(0)
        if ":" not in found and not _is_date(found):
            return found
        if _NUMBER_BEFORE.search(text[max(0, match.start() - 12) : match.start()]):
            return found  # +34 02-08-5627, (0769) 15-09-26, 0042 - 2161 - 1889
        return "\x00" * len(found)

    return _PROTECTED.sub(blank, text)


def _pieces(candidate: str, start: int) -> list[tuple[int, int]]:
    """Split a candidate run at anything that cannot stand between the groups of one number;
    the (start, end) of each piece in the text, trimmed to end on a digit or ``)``."""
    pieces = []
    groups = list(re.finditer(r"\d+", candidate))
    piece_start = 0
    for before, after in itertools.pairwise(groups):
        between = candidate[before.end() : after.start()]
        if not _SEPARATOR.fullmatch(between):
            pieces.append((piece_start, before.end()))
            piece_start = after.start()
    last = groups[-1].end()
    if last < len(candidate) and candidate[last] == ")" and "(" in candidate[piece_start:last]:
        last += 1
    pieces.append((piece_start, last))
    return [(start + a, start + b) for a, b in pieces]


def _is_phone(piece: str, before: str) -> bool:
    """Whether ``piece`` (the text of a candidate number) is a phone number, given the text
    ``before`` it."""
    digits = re.sub(r"\D", "", piece)
    international = piece.startswith("+") or (piece.startswith("00") and len(digits) >= 9)
    if not 7 <= len(digits) <= 15:
        return False
    groups = re.findall(r"\d+", piece)
    core = piece.lstrip("+(").rstrip(")")
    if international:
        return True
    if len(groups) == 1:
        return len(digits) >= 8 and not _ID_BEFORE.search(before)
    separators = set(re.sub(r"[\d ()\u00a0]", "", core))
    if separators == {"."} and len(groups) == 2 and not re.match(r"0\d", groups[0]):
        return False  # a decimal number (0612.345678 is not one)
    if _THOUSANDS.fullmatch(core) and len(digits) <= 7:
        return False  # an amount: 1 500 000
    if _IPV4.fullmatch(core) and all(int(g) <= 255 and g == str(int(g)) for g in groups):
        return False  # an IPv4 address (no leading zeros)
    return not _YEARS.fullmatch(core)


def _code_before(text: str, start: int) -> bool:
    """Whether the run at ``start`` continues a word or code (``AB12``, ``EC-1234567``)."""
    if start == 0:
        return False
    previous = text[start - 1]
    if previous.isalnum() or previous in "_@":
        return True
    return (
        previous in "-./" and start >= 2 and (text[start - 2].isalnum() or text[start - 2] == "_")
    )


def mask_contacts(
    text: str, email_marker: str = EMAIL_MARKER, phone_marker: str = PHONE_MARKER
) -> tuple[str, int]:
    """``text`` with its e-mail addresses and phone numbers replaced by the markers, and how
    many were replaced.

    Parameters
    ----------
    text:
        Any text (a citizen's question).
    email_marker, phone_marker:
        What replaces each address and number (localised by the caller).

    >>> mask_contacts("Mail me at ana (at) correo (punto) es, tel. 06 12 34 56 78.")
    ('Mail me at [e-mail removed], tel. [phone removed].', 2)
    """
    masked, emails = _EMAIL.subn(email_marker, text)
    scan = _protect(masked)
    spans: list[tuple[int, int]] = []
    for match in _CANDIDATE.finditer(scan):
        if _code_before(scan, match.start()):
            continue
        for start, end in _pieces(match.group(0), match.start()):
            if _is_phone(masked[start:end], masked[max(0, start - 40) : start]):
                spans.append((start, end))
    if not spans:
        return masked, emails
    out, at = [], 0
    for start, end in spans:
        out.append(masked[at:start])
        out.append(phone_marker)
        at = end
    out.append(masked[at:])
    return "".join(out), emails + len(spans)
