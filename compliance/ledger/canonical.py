"""Canonical JSON as RFC 8785 (JSON Canonicalization Scheme) defines it.

- Object members sorted by their names' UTF-16 code units, no white space.
- Strings escaped as ECMAScript's ``JSON.stringify`` does: ``\\b \\f \\n \\r \\t \\" \\\\``,
  other control characters as ``\\u00xx`` (lowercase hex), everything else literal UTF-8.
- Numbers as ECMAScript's ``Number.prototype.toString``: integers exactly (within
  ±(2**53 - 1), the range every JSON reader keeps exactly), floats as the shortest decimal
  that reads back to the same double, in ECMAScript's layout (``1e+21``, ``1e-7``,
  ``0.000001``; ``-0`` is ``0``). NaN and infinities are refused.

Values are ``dict`` (``str`` keys), ``list``/``tuple``, ``str``, ``int``, ``float``, ``bool``
and ``None``; anything else raises :class:`~compliance.errors.LedgerError`.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from compliance.errors import LedgerError

__all__ = [
    "MAX_SAFE_INTEGER",
    "canonical_json",
    "canonical_text",
    "format_number",
    "parse_canonical",
    "parse_json",
]

#: The largest integer every IEEE 754 double (so every JSON reader) holds exactly.
MAX_SAFE_INTEGER = 2**53 - 1


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical form of ``value`` as UTF-8 bytes.

    >>> canonical_json({"b": [1.0, 1e21, "é"], "a": None})
    b'{"a":null,"b":[1,1e+21,"\\xc3\\xa9"]}'
    """
    text = canonical_text(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LedgerError(
            f"string with a lone surrogate {text[exc.start : exc.end]!r} has no canonical JSON; "
            "use well-formed Unicode"
        ) from None


def canonical_text(value: Any) -> str:
    """The RFC 8785 canonical form of ``value`` as a ``str``.

    Values without floats, integers beyond the safe range or object keys beyond the BMP
    (where UTF-16 and code point order differ) go through the C encoder, whose sorted,
    compact output is RFC 8785 for them; the rest through :func:`_slow_text`.
    """
    if _plain(value, 0):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return _slow_text(value)


def _slow_text(value: Any) -> str:
    parts: list[str] = []
    _write(value, parts, 0)
    return "".join(parts)


def _plain(value: Any, depth: int) -> bool:
    """Whether ``json.dumps`` writes ``value`` exactly as RFC 8785 does."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if depth > 100:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _ASTRAL.search(key) is None):
                return False
            if not _plain(item, depth + 1):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain(item, depth + 1) for item in value)
    return False


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _write(value: Any, out: list[str], depth: int) -> None:
    if depth > 100:
        raise LedgerError("JSON nested deeper than 100 levels; flatten the value")
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int | float):
        out.append(format_number(value))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise LedgerError(f"object key {key!r} is a {type(key).__name__}; keys must be str")
        out.append("{")
        first = True
        for key in sorted(value, key=_utf16_key):
            if not first:
                out.append(",")
            first = False
            out.append(encode_basestring(key))
            out.append(":")
            _write(value[key], out, depth + 1)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, depth + 1)
        out.append("]")
    else:
        raise LedgerError(
            f"value {value!r} of type {type(value).__name__} has no JSON form; use dict, list, "
            "str, int, float, bool or None"
        )


def format_number(number: int | float) -> str:
    """``number`` as ECMAScript's ``Number.prototype.toString`` writes it.

    >>> [format_number(x) for x in (5, -0.0, 1e21, 1e-7, 1e-6, 123.456, 2.5e-8)]
    ['5', '0', '1e+21', '1e-7', '0.000001', '123.456', '2.5e-8']
    """
    if isinstance(number, bool):
        raise LedgerError(f"{number!r} is a bool, not a number")
    if isinstance(number, int):
        if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
            return str(number)
        raise LedgerError(
            f"integer {number} is outside ±{MAX_SAFE_INTEGER}, which JSON readers keep exactly; "
            "write it as a string"
        )
    if not math.isfinite(number):
        raise LedgerError(f"number {number!r} has no JSON form; use a finite number")
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    # repr() gives the shortest digits that read back to the same double (the nearest of
    # them when several tie), which is the digit string ECMAScript chooses too.
    shortest = Decimal(repr(abs(number))).normalize().as_tuple()
    digits = "".join(map(str, shortest.digits))
    point = len(digits) + int(shortest.exponent)  # value = 0.<digits> x 10**point
    k = len(digits)
    if k <= point <= 21:
        text = digits + "0" * (point - k)
    elif 0 < point <= 21:
        text = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        exponent = point - 1
        head = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{head}e{'+' if exponent > 0 else '-'}{abs(exponent)}"
    return sign + text


def _json_int(literal: str) -> int | float:
    """An integer literal: exact within the safe range, a double (as ECMAScript) beyond."""
    try:
        number = int(literal)
        return number if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER else float(number)
    except (ValueError, OverflowError):
        raise LedgerError(f"number {literal[:40]}... is beyond a double; use a string") from None


def parse_json(text: str | bytes) -> Any:
    """Parse JSON text, refusing NaN/Infinity and duplicate object keys (one-line errors).

    Integers beyond ±(2**53 - 1) become floats, as every ECMAScript reader takes them.
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, item in items:
            if key in result:
                raise LedgerError(f"object key {key!r} appears twice; keys must be unique")
            result[key] = item
        return result

    def constant(name: str) -> Any:
        raise LedgerError(f"{name} is not JSON; use a finite number")

    try:
        return json.loads(
            text, object_pairs_hook=pairs, parse_constant=constant, parse_int=_json_int
        )
    except json.JSONDecodeError as exc:
        raise LedgerError(f"not JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise LedgerError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None


def parse_canonical(text: str) -> Any:
    """Parse ``text`` and check it is canonical JSON; returns the value.

    Raises :class:`LedgerError` (one line) when it is not JSON or not in canonical form.
    A fast path (the C encoder) decides the common case: no floats, no big integers and no
    characters beyond the BMP, where Python's sorted, compact ``json.dumps`` is RFC 8785.
    """
    exotic = False  # a float or an integer of 16+ digits: leave those to the slow path

    def seen_float(literal: str) -> float:
        nonlocal exotic
        exotic = True
        return float(literal)

    def seen_int(literal: str) -> int:
        nonlocal exotic
        exotic = exotic or len(literal) > 15
        return int(literal)

    def constant(name: str) -> Any:
        raise LedgerError(f"{name} is not JSON; use a finite number")

    try:
        value = json.loads(
            text, parse_float=seen_float, parse_int=seen_int, parse_constant=constant
        )
        fast = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    except (json.JSONDecodeError, TypeError, ValueError, RecursionError):
        fast = None
    if fast == text and not exotic and (text.isascii() or not _ASTRAL.search(text)):
        return value
    value = parse_json(text)
    if canonical_text(value) != text:
        raise LedgerError("JSON text is not in canonical form (RFC 8785)")
    return value
