#!/usr/bin/env python3
"""Verify skyledger's public transparency log offline: one file, standard library + cryptography.

Checks a signed checkpoint, that an entry is in the log (inclusion proof) and that a newer
checkpoint extends an older one (consistency proof), as RFC 9162 §2.1.3.2 and §2.1.4.2
describe; entries are hashed as SHA-256(0x00 || canonical JSON (RFC 8785) of the entry).

Usage::

    python verify.py checkpoint CHECKPOINT.json [--key HEX]
    python verify.py inclusion ENTRY.json PROOF.json CHECKPOINT.json [--key HEX]
    python verify.py consistency OLD.json NEW.json PROOF.json [--key HEX]
    python verify.py record FLIGHT.json ENTRY.json
    python verify.py online https://agency.example --index 12 [--key HEX] [--previous OLD.json]
    python verify.py online https://agency.example --flight 7 [--key HEX] [--previous OLD.json]

``record`` checks that a flight's published record (the ``/api/public/flights/{id}`` answer)
is the one its ``disclosure_published`` entry names; ``online --flight`` fetches the record,
finds that entry and checks both the record and the entry's place in the signed log.

Exit status 0 when everything verified, 1 when something did not, 2 for bad input. Needs
``pip install cryptography`` for signatures. Importable too: :func:`canonical_json`,
:func:`leaf_hash`, :func:`verify_inclusion`, :func:`verify_consistency`,
:func:`verify_checkpoint`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "BadInput",
    "canonical_json",
    "leaf_hash",
    "main",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]

CHECKPOINT_FIELDS = ("tree_size", "root_hash", "timestamp", "signature", "public_key")


class BadInput(ValueError):
    """Input that cannot be checked at all (exit status 2)."""


# -- RFC 8785 canonical JSON -------------------------------------------------------------

_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def _quote(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[code])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise BadInput(f"string holds a lone surrogate U+{code:04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _number(value: float | int) -> str:
    """ECMAScript Number.prototype.toString, for a finite double or a safe integer."""
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise BadInput(f"integer {value} is beyond what JSON numbers hold exactly")
        return str(value)
    if not math.isfinite(value):
        raise BadInput(f"{value} is not a JSON number")
    if value == 0:
        return "0"
    # The fewest significant digits that read back as the same double. The correctly
    # rounded p-digit value is the nearest; when it misses (a power of two has a narrower
    # gap below it), the p-digit neighbour across the value may still read back.
    magnitude = abs(value)
    for precision in range(1, 18):
        mantissa, exponent = f"{magnitude:.{precision - 1}e}".split("e")
        nearest = int(mantissa.replace(".", ""))
        scale = int(exponent) - (precision - 1)  # value ~ nearest * 10**scale
        hits = [
            d for d in (nearest, nearest - 1, nearest + 1) if float(f"{d}e{scale}") == magnitude
        ]
        if hits:
            break
    digits = str(hits[0]).rstrip("0")
    n = len(str(hits[0])) + scale  # value = 0.DIGITS * 10**n
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        fraction = "." + digits[1:] if k > 1 else ""
        body = f"{digits[0]}{fraction}e{n - 1:+d}"
    return ("-" if value < 0 else "") + body


def _canonical(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise BadInput("object keys must be strings")
        # Sort by UTF-16 code units, as RFC 8785 §3.2.3 says.
        ordered = sorted(value, key=lambda key: [unit for unit in _utf16_units(key)])
        members = (_quote(key) + ":" + _canonical(value[key]) for key in ordered)
        return "{" + ",".join(members) + "}"
    raise BadInput(f"{type(value).__name__} is not a JSON value")


def _utf16_units(text: str) -> list[int]:
    units: list[int] = []
    for char in text:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            units += [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]
        else:
            units.append(code)
    return units


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of ``value``, as UTF-8 bytes."""
    return _canonical(value).encode("utf-8")


# -- RFC 9162 hashes and proofs ------------------------------------------------------------


def _sha256(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def leaf_hash(entry_bytes: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || entry_bytes)."""
    return _sha256(b"\x00", entry_bytes)


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01", left, right)


def _raw(value: bytes | str) -> bytes:
    """A SHA-256 hash given as bytes or hex (ValueError when it is not 32 bytes)."""
    raw = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError(f"a hash is 32 bytes, not {len(raw)}")
    return raw


def verify_inclusion(
    leaf: bytes | str,
    index: int,
    tree_size: int,
    proof: Sequence[bytes | str],
    root: bytes | str,
) -> bool:
    """RFC 9162 §2.1.3.2: is ``leaf`` (a leaf hash) at ``index`` of the tree with ``root``?"""
    try:
        path = [_raw(p) for p in proof]
        r, expected = _raw(leaf), _raw(root)
    except (ValueError, TypeError):
        return False
    if index >= tree_size or index < 0:
        return False
    fn, sn = index, tree_size - 1
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes | str,
    second_root: bytes | str,
    proof: Sequence[bytes | str],
) -> bool:
    """RFC 9162 §2.1.4.2: does the tree of size ``second`` extend the one of size ``first``?"""
    try:
        path = [_raw(p) for p in proof]
        old, new = _raw(first_root), _raw(second_root)
    except (ValueError, TypeError):
        return False
    if first < 0 or second < first:
        return False
    if first == second:
        return not path and old == new
    if first == 0:
        return not path and old == hashlib.sha256(b"").digest()
    if first & (first - 1) == 0:  # an exact power of two: the old root is the first node
        path = [old, *path]
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old and sr == new and sn == 0


# -- checkpoints ---------------------------------------------------------------------------


def _checkpoint_fields(checkpoint: Any) -> dict[str, Any]:
    if hasattr(checkpoint, "to_json"):
        checkpoint = checkpoint.to_json()
    if not isinstance(checkpoint, Mapping):
        raise BadInput("a checkpoint is a JSON object")
    missing = [name for name in CHECKPOINT_FIELDS if name not in checkpoint]
    if missing:
        raise BadInput(f"checkpoint lacks {', '.join(missing)}")
    size, stamp = checkpoint["tree_size"], checkpoint["timestamp"]
    for name, number in (("tree_size", size), ("timestamp", stamp)):
        if type(number) is not int or not 0 <= number < 2**53:
            raise BadInput(f"checkpoint {name} {number!r} is not an integer in 0..2**53-1")
    for name, length in (("root_hash", 32), ("signature", 64), ("public_key", 32)):
        text = checkpoint[name]
        if not isinstance(text, str) or len(text) != 2 * length:
            raise BadInput(f"checkpoint {name} is not {length} bytes of hex")
        try:
            bytes.fromhex(text)
        except ValueError:
            raise BadInput(f"checkpoint {name} is not hex") from None
    return dict(checkpoint)


def verify_checkpoint(checkpoint: Any, public_key_hex: str | None = None) -> bool:
    """Is the checkpoint's Ed25519 signature valid (and, given a key, by that key)?"""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        fields = _checkpoint_fields(checkpoint)
    except BadInput:
        return False
    if public_key_hex is not None and public_key_hex.lower() != fields["public_key"].lower():
        return False
    message = canonical_json(
        {
            "tree_size": fields["tree_size"],
            "root_hash": fields["root_hash"],
            "timestamp": fields["timestamp"],
        }
    )
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(fields["public_key"]))
        key.verify(bytes.fromhex(fields["signature"]), message)
    except (InvalidSignature, ValueError):
        return False
    return True


# -- the command line ----------------------------------------------------------------------


class _Report:
    def __init__(self) -> None:
        self.failed = False

    def line(self, ok: bool, text: str) -> None:
        print(("verified: " if ok else "NOT VERIFIED: ") + text)
        self.failed = self.failed or not ok


def _load(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path} is not JSON: {exc}") from None


def _field(document: Any, name: str, what: str) -> Any:
    if not isinstance(document, Mapping) or name not in document:
        raise BadInput(f"{what} has no {name!r}")
    return document[name]


def _check_checkpoint(report: _Report, checkpoint: Any, key: str | None, label: str) -> None:
    fields = _checkpoint_fields(checkpoint)
    ok = verify_checkpoint(fields, key)
    whose = "the given key" if key else f"key {fields['public_key']}"
    report.line(
        ok,
        f"{label} signature (tree size {fields['tree_size']}, root {fields['root_hash']}, "
        f"signed by {whose})",
    )


def _check_inclusion(report: _Report, entry_doc: Any, proof_doc: Any, checkpoint: Any) -> None:
    fields = _checkpoint_fields(checkpoint)
    index = _field(entry_doc, "index", "the entry")
    entry = _field(entry_doc, "entry", "the entry")
    if type(index) is not int or index < 0:
        raise BadInput(f"entry index {index!r} is not an integer >= 0")
    if _field(proof_doc, "index", "the proof") != index:
        raise BadInput(f"the proof is for index {proof_doc['index']}, the entry is {index}")
    if _field(proof_doc, "tree_size", "the proof") != fields["tree_size"]:
        raise BadInput(
            f"the proof is for tree size {proof_doc['tree_size']}, "
            f"the checkpoint's is {fields['tree_size']}"
        )
    path = _field(proof_doc, "audit_path", "the proof")
    if not isinstance(path, list) or not all(isinstance(p, str) for p in path):
        raise BadInput("audit_path is not a list of hex strings")
    leaf = leaf_hash(canonical_json(entry))
    if isinstance(entry, Mapping) and entry.get("index") != index:
        report.line(False, f"entry {index} says its index is {entry.get('index')!r}")
    given = entry_doc.get("leaf_hash") if isinstance(entry_doc, Mapping) else None
    if given is not None and given != leaf.hex():
        report.line(False, f"entry {index}'s leaf_hash {given} is not the hash of its entry")
    ok = verify_inclusion(leaf, index, fields["tree_size"], path, fields["root_hash"])
    report.line(
        ok, f"entry {index} (leaf {leaf.hex()}) is in the log of size {fields['tree_size']}"
    )


def _check_consistency(report: _Report, old: Any, new: Any, proof_doc: Any) -> None:
    before, after = _checkpoint_fields(old), _checkpoint_fields(new)
    first = _field(proof_doc, "first", "the proof")
    second = _field(proof_doc, "second", "the proof")
    if (first, second) != (before["tree_size"], after["tree_size"]):
        raise BadInput(
            f"the proof is for sizes {first}..{second}, the checkpoints are "
            f"{before['tree_size']}..{after['tree_size']}"
        )
    path = _field(proof_doc, "proof", "the proof")
    if not isinstance(path, list) or not all(isinstance(p, str) for p in path):
        raise BadInput("proof is not a list of hex strings")
    if before["public_key"].lower() != after["public_key"].lower():
        report.line(False, "the two checkpoints are signed by different keys")
    ok = verify_consistency(first, second, before["root_hash"], after["root_hash"], path)
    report.line(ok, f"the log of size {second} extends the log of size {first}")


def _get(base: str, path: str, query: dict[str, int] | None = None) -> Any:
    url = base.rstrip("/") + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"{base} is not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise BadInput(f"GET {url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise BadInput(f"GET {url}: {getattr(exc, 'reason', exc)}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadInput(f"GET {url}: the answer is not JSON") from None


def _check_record(report: _Report, flight_doc: Any, entry_doc: Any) -> None:
    """The published record hashes to what its ``disclosure_published`` entry names."""
    record = _field(flight_doc, "record", "the flight record")
    entry = _field(entry_doc, "entry", "the entry")
    data = _field(entry, "data", "the entry")
    if _field(entry, "kind", "the entry") != "disclosure_published":
        raise BadInput(f"entry {entry_doc.get('index')} is a {entry['kind']!r} entry, "
                       "not 'disclosure_published'")  # fmt: skip
    flight = _field(flight_doc, "flight_id", "the flight record")
    digest = hashlib.sha256(canonical_json(record)).hexdigest()
    named = _field(data, "record_sha256", "the entry's data")
    report.line(
        digest == named and _field(data, "flight_id", "the entry's data") == flight,
        f"flight {flight}'s record (SHA-256 {digest}) is the one entry "
        f"{entry_doc.get('index')} names ({named})",
    )


def _disclosure_index(flight_doc: Any) -> int:
    """The index of the ``disclosure_published`` entry of the record's version."""
    version = _field(flight_doc, "version", "the flight record")
    entries = _field(flight_doc, "ledger", "the flight record")
    found = [
        e["index"]
        for e in entries
        if isinstance(e, Mapping) and e.get("kind") == "disclosure_published"
    ]
    if len(found) < version:
        raise BadInput(f"the flight record lists no log entry for its version {version}")
    return int(sorted(found)[version - 1])


def _online(report: _Report, args: argparse.Namespace) -> None:
    base = args.base_url
    checkpoint = _get(base, "/api/public/ledger/checkpoint")
    _check_checkpoint(report, checkpoint, args.key, "checkpoint")
    size = _checkpoint_fields(checkpoint)["tree_size"]
    index = args.index
    if args.flight is not None:
        flight_doc = _get(base, f"/api/public/flights/{args.flight}")
        index = _disclosure_index(flight_doc)
        if index >= size:
            report.line(False, f"entry {index} is not in the latest checkpoint yet (size {size})")
            return
    entry = _get(base, f"/api/public/ledger/entries/{index}")
    if args.flight is not None:
        _check_record(report, flight_doc, entry)
    proof = _get(base, "/api/public/ledger/proof/inclusion", {"index": index, "tree_size": size})
    _check_inclusion(report, entry, proof, checkpoint)
    if args.previous:
        old = _load(args.previous)
        _check_checkpoint(report, old, args.key, "previous checkpoint")
        first = _checkpoint_fields(old)["tree_size"]
        if first > size:
            report.line(False, f"the saved checkpoint ({first}) is larger than the log ({size})")
            return
        consistency = _get(
            base, "/api/public/ledger/proof/consistency", {"first": first, "second": size}
        )
        _check_consistency(report, old, checkpoint, consistency)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify.py", description="Verify skyledger transparency log proofs offline."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("checkpoint", help="check a checkpoint's signature")
    one.add_argument("checkpoint")
    inclusion = commands.add_parser("inclusion", help="check an entry is in the log")
    inclusion.add_argument("entry")
    inclusion.add_argument("proof")
    inclusion.add_argument("checkpoint")
    consistency = commands.add_parser("consistency", help="check a log only grew")
    consistency.add_argument("old")
    consistency.add_argument("new")
    consistency.add_argument("proof")
    record = commands.add_parser("record", help="check a flight record is the one logged")
    record.add_argument("flight")
    record.add_argument("entry")
    online = commands.add_parser("online", help="fetch and check from a running service")
    online.add_argument("base_url")
    which = online.add_mutually_exclusive_group(required=True)
    which.add_argument("--index", type=int, help="the entry to check")
    which.add_argument("--flight", type=int, help="the flight whose record to check")
    online.add_argument("--previous", help="a checkpoint saved earlier")
    for command in (one, inclusion, consistency, online):
        command.add_argument("--key", help="the published public key (hex) to require")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 verified, 1 not, 2 bad input)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    report = _Report()
    try:
        if args.command == "checkpoint":
            _check_checkpoint(report, _load(args.checkpoint), args.key, "checkpoint")
        elif args.command == "inclusion":
            checkpoint = _load(args.checkpoint)
            _check_checkpoint(report, checkpoint, args.key, "checkpoint")
            _check_inclusion(report, _load(args.entry), _load(args.proof), checkpoint)
        elif args.command == "consistency":
            old, new = _load(args.old), _load(args.new)
            _check_checkpoint(report, old, args.key, "old checkpoint")
            _check_checkpoint(report, new, args.key, "new checkpoint")
            _check_consistency(report, old, new, _load(args.proof))
        elif args.command == "record":
            _check_record(report, _load(args.flight), _load(args.entry))
        else:
            for name in ("index", "flight"):
                if getattr(args, name) is not None and getattr(args, name) < 0:
                    raise BadInput(f"--{name} {getattr(args, name)} is not >= 0")
            _online(report, args)
    except BadInput as exc:
        print(f"bad input: {exc}", file=sys.stderr)
        return 2
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
