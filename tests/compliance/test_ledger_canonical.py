"""RFC 8785 canonical JSON against the published vectors, verify.py's own version and node."""

import json
import math
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.errors import LedgerError
from compliance.ledger import verify
from compliance.ledger.canonical import (
    _slow_text,
    canonical_json,
    canonical_text,
    format_number,
    parse_canonical,
    parse_json,
)

JCS = Path(__file__).parents[1] / "data" / "ledger" / "jcs"
CASES = sorted(path.stem for path in (JCS / "input").glob("*.json"))

#: RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
    # cyberphone/json-canonicalization's es6testfile samples
    ("4340000000000001", "9007199254740994"),
    ("4340000000000002", "9007199254740996"),
]
#: RFC 8785 §3.2.4: the UTF-8 bytes of the canonical form of the §3.2.2 sample.
SAMPLE_HEX = (
    "7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72 75 65 2c 66 61 6c 73 65 5d "
    "2c 22 6e 75 6d 62 65 72 73 22 3a 5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 "
    "2c 31 65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37 5d 2c 22 73 74 72 69 "
    "6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30 30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d"
)


def double(bits: str) -> float:
    return struct.unpack(">d", bytes.fromhex(bits))[0]


@pytest.mark.parametrize("name", CASES)
def test_the_published_jcs_test_data(name):
    value = json.loads((JCS / "input" / f"{name}.json").read_text(encoding="utf-8"))
    expected = (JCS / "output" / f"{name}.json").read_bytes()
    assert canonical_json(value) == expected
    assert verify.canonical_json(value) == expected
    assert parse_canonical(expected.decode("utf-8")) == value


def test_the_rfc_sample_bytes():
    sample = json.loads((JCS / "input" / "values.json").read_text(encoding="utf-8"))
    assert canonical_json(sample) == bytes.fromhex(SAMPLE_HEX.replace(" ", ""))


@pytest.mark.parametrize(("bits", "text"), APPENDIX_B)
def test_appendix_b_numbers(bits, text):
    assert format_number(double(bits)) == text
    assert verify.canonical_json(double(bits)) == text.encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinities_are_refused(bits):
    with pytest.raises(LedgerError, match="finite"):
        canonical_json({"x": double(bits)})
    with pytest.raises(verify.BadInput):
        verify.canonical_json(double(bits))


def test_integers_are_exact_within_the_safe_range():
    assert canonical_json([0, -1, 2**53 - 1, -(2**53 - 1), True, False, None]) == (
        b"[0,-1,9007199254740991,-9007199254740991,true,false,null]"
    )
    with pytest.raises(LedgerError, match=r"9007199254740992.*string"):
        canonical_json(2**53)


def test_strings_escape_as_json_stringify():
    text = '\x00\x01\x08\t\n\x0b\x0c\r\x1f "\\/\x7f\u2028é€😂'
    expected = '"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \\"\\\\/\x7f\u2028é€😂"'
    assert canonical_json(text) == expected.encode("utf-8")
    assert verify.canonical_json(text) == expected.encode("utf-8")


def test_keys_sort_by_utf16_code_units_not_code_points():
    # U+1F602 is D83D DE02 in UTF-16, so it sorts before U+FB33 although its code point is larger.
    value = {"\ufb33": 1, "\U0001f602": 2, "\u20ac": 3, "a": 4, "": 5}
    expected = '{"":5,"a":4,"€":3,"😂":2,"דּ":1}'.encode()
    assert canonical_json(value) == expected
    assert verify.canonical_json(value) == expected
    assert parse_canonical(expected.decode()) == value


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ({1: "a"}, "key 1 is a int"),
        ({"a": {1, 2}}, "type set has no JSON form"),
        (b"bytes", "type bytes"),
        ("\ud800", "lone surrogate"),
        (float("nan"), "finite"),
    ],
)
def test_what_has_no_canonical_form_is_refused_in_one_line(value, pattern):
    with pytest.raises(LedgerError, match=pattern) as caught:
        canonical_json(value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        '{"b":1,"a":2}',  # unsorted
        '{"a": 1}',  # white space
        '{"a":1.0}',  # not the shortest number
        '{"a":1E+2}',
        '{"a":-0}',
        '{"a":"\\u00e9"}',  # escaped where literal is canonical
        '{"a":"\\/"}',
        '{"a":1,"a":1}',  # duplicate key
        '{"a":NaN}',
        '{"a":12345678901234567890}',  # beyond what JSON numbers hold exactly
        '{"\ufb33":2,"\U0001f602":1}',  # sorted by code point, not UTF-16
        '{"a":"\\ud800"}',
        "[1,2",
    ],
)
def test_parse_canonical_refuses_what_is_not_canonical(text):
    with pytest.raises(LedgerError):
        parse_canonical(text)


def test_parse_json_refuses_duplicates_and_constants():
    with pytest.raises(LedgerError, match="twice"):
        parse_json('{"a":1,"a":2}')
    with pytest.raises(LedgerError, match="Infinity"):
        parse_json("[Infinity]")
    with pytest.raises(LedgerError, match="not UTF-8"):
        parse_json(b'"\xff"')


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_two_implementations_agree_and_round_trip(value):
    text = canonical_text(value)
    assert text == _slow_text(value)  # the C encoder's fast path and the writer agree
    assert canonical_json(value) == verify.canonical_json(value)
    parsed = parse_canonical(text)
    assert canonical_text(parsed) == text  # parse then serialise gives the same bytes


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_read_back_to_the_same_double(number):
    text = format_number(number)
    assert float(text) == number or (number == 0 and text == "0")
    assert verify.canonical_json(number).decode() == text


def test_random_doubles_agree_with_verify_py():
    rng = random.Random(8785)
    for _ in range(20_000):
        number = double(f"{rng.getrandbits(64):016x}")
        if math.isfinite(number):
            assert canonical_json(number) == verify.canonical_json(number), number.hex()


@pytest.mark.skipif(shutil.which("node") is None, reason="node (ECMAScript's own JSON) not found")
def test_random_doubles_agree_with_ecmascript():
    rng = random.Random(262)
    bits = [f"{rng.getrandbits(64):016x}" for _ in range(5000)]
    bits += [f"{rng.getrandbits(12):03x}{'0' * 13}" for _ in range(500)]  # round numbers
    numbers = [double(b) for b in bits if math.isfinite(double(b))]
    script = (
        "const bits = require('fs').readFileSync(0, 'utf8').trim().split('\\n');"
        "const v = new DataView(new ArrayBuffer(8));"
        "console.log(bits.map(b => { v.setBigUint64(0, BigInt('0x' + b));"
        " return JSON.stringify(v.getFloat64(0)); }).join('\\n'));"
    )
    finite = [b for b in bits if math.isfinite(double(b))]
    answer = subprocess.run(
        ["node", "-e", script], input="\n".join(finite), capture_output=True, text=True, check=True
    )
    assert answer.stdout.split() == [format_number(n) for n in numbers]
