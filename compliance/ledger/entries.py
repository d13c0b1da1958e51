"""The ledger's entry format (schema 1) and its validation.

An entry is a JSON object::

    {"schema": 1, "index": i, "kind": K, "subject": "flight:12",
     "time": "2026-12-07T07:13:17.123Z", "prev_root": <hex root of entries 0..i-1>,
     "data": {...}, "corrects": <index>}

``corrects`` is required for kind ``correction`` (an earlier index) and optional elsewhere.
The leaf's bytes are ``canonical_json(entry)``. ``prev_root`` chains each entry to the whole
log before it, so an audit can name a rewritten entry even when its leaf hash was rewritten
too.

Personal data never enters the log: a key (at any depth of ``data``) is refused when any of
its words (split on ``_``, ``-``, ``.``, spaces and lower/upper-case changes) is in
:data:`PERSONAL_WORDS`; people appear as a role (and unit) only. Strings are at most
:data:`MAX_STRING` characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from compliance.errors import LedgerError
from compliance.ledger.canonical import MAX_SAFE_INTEGER, canonical_json

__all__ = [
    "ENTRY_KEYS",
    "ENTRY_KINDS",
    "MAX_STRING",
    "PERSONAL_WORDS",
    "SCHEMA",
    "SUBJECT_PATTERN",
    "entry_bytes",
    "format_time",
    "make_entry",
    "validate_entry",
    "validate_record",
]

SCHEMA = 1
MAX_STRING = 1000
#: ``<kind of record>:<its id>``, e.g. ``flight:12``.
SUBJECT_PATTERN = re.compile(r"[a-z][a-z_]{0,31}:[A-Za-z0-9._-]{1,64}")
#: Words that mark a key as personal data (compared lowercase, word by word).
PERSONAL_WORDS = frozenset(
    {
        "name",
        "names",
        "username",
        "user",
        "users",
        "email",
        "mail",
        "phone",
        "telephone",
        "mobile",
        "pilot",
        "address",
    }
)
ENTRY_KEYS = frozenset(
    {"schema", "index", "kind", "subject", "time", "prev_root", "data", "corrects"}
)

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")

Check = Callable[[Any], bool]


def _sha256(value: Any) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def _opt_sha256(value: Any) -> bool:
    return value is None or _sha256(value)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    return _int(value) and value >= 0


def _opt_int(value: Any) -> bool:
    return value is None or _int(value)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _opt_bool(value: Any) -> bool:
    return value is None or isinstance(value, bool)


def _one_of(*options: str) -> Check:
    def check(value: Any) -> bool:
        return value in options

    check.__doc__ = " | ".join(options)
    return check


def _time_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def _opt_time(value: Any) -> bool:
    return value is None or _time_text(value)


def _counts(value: Any) -> bool:
    return isinstance(value, dict) and all(_count(n) for n in value.values())


def _list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str | int) for v in value)


def _sha256_list(value: Any) -> bool:
    return isinstance(value, list) and all(_sha256(v) for v in value)


def _any(value: Any) -> bool:
    return True


_WHAT: dict[Check, str] = {
    _sha256: "64 lowercase hex digits (SHA-256)",
    _opt_sha256: "64 lowercase hex digits or null",
    _int: "an integer",
    _count: "an integer >= 0",
    _opt_int: "an integer or null",
    _text: "a non-empty string",
    _bool: "true or false",
    _opt_bool: "true, false or null",
    _time_text: "an ISO 8601 time with offset",
    _opt_time: "an ISO 8601 time with offset, or null",
    _counts: "an object of integers >= 0",
    _list: "a list of ids or strings",
    _sha256_list: "a list of SHA-256 hex digests",
    _any: "any JSON value",
}

#: Each kind's required ``data`` fields and what each must be.
ENTRY_FIELDS: dict[str, dict[str, Check]] = {
    "plan_checked": {
        "plan_id": _int,
        "plan_sha256": _sha256,
        "report_sha256": _sha256,
        "verdict": _text,
        "rules": _any,
        "window_start": _opt_time,
        "window_end": _opt_time,
    },
    "flight_approved": {
        "plan_id": _int,
        "approval_id": _int,
        "approved_by_role": _text,
        "decision": _one_of("approved", "rejected"),
        "authorisations": _list,
    },
    "flight_flown": {
        "flight_id": _int,
        "plan_id": _opt_int,
        "source": _one_of("builtin", "sitl", "upload"),
        "track_sha256": _opt_sha256,
        "log_sha256": _opt_sha256,
        "started_at": _opt_time,
        "ended_at": _opt_time,
        "conforms": _opt_bool,
        "deviations": _count,
    },
    "inspection_published": {
        "flight_id": _int,
        "inspection_id": _int,
        "footage_sha256": _opt_sha256,
        "geojson_sha256": _sha256,
        "counts": _counts,
        "redacted_regions": _count,
    },
    "disclosure_published": {"flight_id": _int, "version": _count, "record_sha256": _sha256},
    "question_asked": {"flight_id": _int, "question_id": _int, "text_sha256": _sha256},
    "question_reviewed": {"question_id": _int, "published": _bool},
    "answer_given": {"question_id": _int, "answer_sha256": _sha256, "answered_after_s": _count},
    "correction": {"reason": _text},
    "data_deleted": {
        "flight_id": _int,
        "files": _sha256_list,
        "retention_days": _count,
        "reason": _one_of("retention"),
    },
}
#: Each kind's required ``data`` fields.
ENTRY_KINDS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in ENTRY_FIELDS.items()}


def format_time(moment: datetime) -> str:
    """``moment`` as the entry's ``time``: UTC, milliseconds, ``Z``.

    >>> format_time(datetime(2026, 12, 7, 7, 13, 17, 123456, tzinfo=UTC))
    '2026-12-07T07:13:17.123Z'
    """
    if moment.tzinfo is None:
        raise LedgerError(f"time {moment.isoformat()} has no time zone; use an aware UTC datetime")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@lru_cache(maxsize=4096)
def _personal(key: str) -> frozenset[str]:
    """The words of :data:`PERSONAL_WORDS` in ``key``."""
    return PERSONAL_WORDS.intersection(word.lower() for word in _WORDS.findall(key))


def _check_value(value: Any, where: str, depth: int = 0) -> None:
    """Refuse personal-data keys and long strings anywhere in ``value``."""
    if depth > 20:
        raise LedgerError(f"{where} is nested deeper than 20 levels; flatten it")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerError(f"{where} has key {key!r}; keys must be strings")
            personal = _personal(key)
            if personal:
                raise LedgerError(
                    f"{where} key {key!r} names personal data ({', '.join(sorted(personal))}); "
                    "people enter the log by role and unit only"
                )
            if len(key) > 100:
                raise LedgerError(f"{where} key {key[:40]!r}... is longer than 100 characters")
            if isinstance(item, str | dict | list | tuple):
                _check_item(item, where, f".{key}", depth)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if isinstance(item, str | dict | list | tuple):
                _check_item(item, where, f"[{i}]", depth)
    elif isinstance(value, str) and len(value) > MAX_STRING:
        raise LedgerError(f"{where} is a string of {len(value)} characters; at most {MAX_STRING}")


def _check_item(item: Any, where: str, step: str, depth: int) -> None:
    if isinstance(item, str):
        if len(item) > MAX_STRING:
            raise LedgerError(
                f"{where}{step} is a string of {len(item)} characters; at most {MAX_STRING}"
            )
    else:
        _check_value(item, where + step, depth + 1)


def validate_record(
    kind: str, subject: str, data: Mapping[str, Any], corrects: int | None = None
) -> None:
    """Check what a caller gives for an entry (all but index, time and prev_root).

    Raises :class:`LedgerError` with one line naming the first problem.
    """
    _check_record(kind, subject, data, corrects)
    canonical_json(dict(data))  # every value JSON-able, numbers finite and exact


def _check_record(kind: Any, subject: Any, data: Any, corrects: Any) -> None:
    fields = ENTRY_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise LedgerError(f"entry kind {kind!r} is not one of {', '.join(ENTRY_FIELDS)}")
    if not isinstance(subject, str) or not SUBJECT_PATTERN.fullmatch(subject):
        raise LedgerError(
            f"subject {subject!r} is not '<record kind>:<id>' like 'flight:12' "
            f"({SUBJECT_PATTERN.pattern})"
        )
    if not isinstance(data, Mapping):
        raise LedgerError(f"entry data {data!r:.80} is not an object")
    for name, check in fields.items():
        if name not in data:
            raise LedgerError(f"{kind} entry data lacks {name!r}; it needs {', '.join(fields)}")
        if not check(data[name]):
            raise LedgerError(
                f"{kind} entry data {name} = {data[name]!r:.80} is not {_WHAT.get(check) or check.__doc__}"
            )
    if "corrects" in data:
        raise LedgerError("entry data has 'corrects'; it is a top-level key (pass corrects=)")
    if corrects is not None and (not _int(corrects) or corrects < 0):
        raise LedgerError(f"corrects {corrects!r} is not an entry index (an integer >= 0)")
    if kind == "correction" and corrects is None:
        raise LedgerError("a correction entry needs corrects=<the index it corrects>")
    _check_value(dict(data), "data")


def make_entry(
    index: int,
    kind: str,
    subject: str,
    time: datetime | str,
    prev_root: bytes | str,
    data: Mapping[str, Any],
    corrects: int | None = None,
) -> dict[str, Any]:
    """Build and validate the entry at ``index``; returns the JSON object.

    ``time`` an aware datetime (or text already in :func:`format_time`'s form),
    ``prev_root`` the root (bytes or hex) of the log's first ``index`` entries; ``corrects``
    must be an earlier index.
    """
    entry = _entry(index, kind, subject, time, prev_root, data, corrects)
    canonical_json(entry)  # every value JSON-able, numbers finite and exact
    return entry


def _entry(
    index: Any,
    kind: Any,
    subject: Any,
    time: Any,
    prev_root: Any,
    data: Any,
    corrects: Any,
) -> dict[str, Any]:
    if not _int(index) or not 0 <= index <= MAX_SAFE_INTEGER:
        raise LedgerError(f"entry index {index!r} is not an integer >= 0")
    _check_record(kind, subject, data, corrects)
    if corrects is not None and corrects >= index:
        raise LedgerError(f"corrects {corrects} is not an earlier entry than index {index}")
    if isinstance(time, datetime):
        time = format_time(time)
    elif not isinstance(time, str) or not _TIME.fullmatch(time):
        raise LedgerError(f"time {time!r} is not like 2026-12-07T07:13:17.123Z")
    if isinstance(prev_root, bytes):
        prev_root = prev_root.hex()
    if not isinstance(prev_root, str) or not _HEX64.fullmatch(prev_root):
        raise LedgerError(f"prev_root {prev_root!r} is not a 32-byte hash (64 lowercase hex)")
    entry: dict[str, Any] = {
        "schema": SCHEMA,
        "index": index,
        "kind": kind,
        "subject": subject,
        "time": time,
        "prev_root": prev_root,
        "data": dict(data),
    }
    if corrects is not None:
        entry["corrects"] = corrects
    return entry


def validate_entry(entry: Any) -> None:
    """Check a parsed entry object (as stored) against schema 1: one-line LedgerError."""
    if not isinstance(entry, dict):
        raise LedgerError(f"entry {entry!r:.80} is not a JSON object")
    extra = set(entry) - ENTRY_KEYS
    missing = ENTRY_KEYS - {"corrects"} - set(entry)
    if extra or missing:
        raise LedgerError(
            f"entry keys {sorted(entry)} are not {sorted(ENTRY_KEYS)} (corrects optional)"
        )
    if "corrects" in entry and entry["corrects"] is None:
        raise LedgerError("entry corrects is null; leave the key out instead")
    if not _int(entry["schema"]) or entry["schema"] != SCHEMA:
        raise LedgerError(f"entry schema {entry['schema']!r} is not {SCHEMA}")
    _entry(
        entry["index"],
        entry["kind"],
        entry["subject"],
        entry["time"],
        entry["prev_root"],
        entry["data"],
        entry.get("corrects"),
    )


def entry_bytes(entry: Mapping[str, Any]) -> bytes:
    """The leaf's bytes: the canonical JSON of ``entry``."""
    return canonical_json(dict(entry))
