"""The public ledger endpoints: exact shapes, errors, cache headers, and what they answer
verified with the standalone verifier (compliance/ledger/verify.py), in-process and as the
command a citizen runs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ledgerkit import disclosed

from compliance.ledger import verify

IMMUTABLE = "public, max-age=31536000, immutable"
VERIFY_PY = Path(verify.__file__)
CHECKPOINT_KEYS = {"tree_size", "root_hash", "timestamp", "signature", "public_key"}


def _json(client: TestClient, path: str, status: int = 200, **params: Any) -> Any:
    answer = client.get(path, params=params)
    assert answer.status_code == status, answer.text
    return answer.json()


def _record(client: TestClient, *flight_ids: int) -> None:
    disclosed(client.app.state.db, *flight_ids)  # type: ignore[attr-defined]


def test_the_checkpoint_is_signed_from_the_start(client: TestClient) -> None:
    answer = client.get("/api/public/ledger/checkpoint")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=2"
    checkpoint = answer.json()
    assert set(checkpoint) == CHECKPOINT_KEYS
    assert checkpoint["tree_size"] == 0 and isinstance(checkpoint["timestamp"], int)
    assert checkpoint["root_hash"] == hashlib.sha256(b"").hexdigest()
    key = client.app.state.ledger.public_key_hex  # type: ignore[attr-defined]
    assert checkpoint["public_key"] == key and len(key) == 64
    assert verify.verify_checkpoint(checkpoint, key)
    assert checkpoint["timestamp"] <= time.time() * 1000 + 1


def test_entries_and_proofs_have_exactly_the_published_shapes(client: TestClient) -> None:
    _record(client, 11, 12, 13, 14, 15)
    checkpoint = _json(client, "/api/public/ledger/checkpoint")
    assert checkpoint["tree_size"] == 5
    for index in range(5):
        answer = client.get(f"/api/public/ledger/entries/{index}")
        assert answer.headers["cache-control"] == IMMUTABLE
        doc = answer.json()
        assert set(doc) == {"index", "entry", "leaf_hash"} and doc["index"] == index
        assert doc["entry"]["index"] == index and doc["entry"]["subject"] == f"flight:{11 + index}"
        assert doc["leaf_hash"] == verify.leaf_hash(verify.canonical_json(doc["entry"])).hex()
        answer = client.get(
            "/api/public/ledger/proof/inclusion", params={"index": index, "tree_size": 5}
        )
        assert answer.headers["cache-control"] == IMMUTABLE
        proof = answer.json()
        assert set(proof) == {"index", "tree_size", "audit_path"}
        assert (proof["index"], proof["tree_size"]) == (index, 5)
        assert verify.verify_inclusion(
            doc["leaf_hash"], index, 5, proof["audit_path"], checkpoint["root_hash"]
        )
    _record(client, 16, 17)
    new = _json(client, "/api/public/ledger/checkpoint")
    # the root of the first i entries is entry i's prev_root
    roots = [
        _json(client, f"/api/public/ledger/entries/{i}")["entry"]["prev_root"] for i in range(7)
    ]
    roots.append(new["root_hash"])
    for first in range(0, 8):
        answer = client.get(
            "/api/public/ledger/proof/consistency", params={"first": first, "second": 7}
        )
        assert answer.headers["cache-control"] == IMMUTABLE
        proof = answer.json()
        assert set(proof) == {"first", "second", "proof"}
        assert (proof["first"], proof["second"]) == (first, 7)
        assert verify.verify_consistency(first, 7, roots[first], roots[7], proof["proof"])
    signed = _json(client, "/api/public/ledger/checkpoints")["items"]
    assert [c["tree_size"] for c in signed] == [0, 5, 7] and roots[5] == signed[1]["root_hash"]
    assert all(verify.verify_checkpoint({k: c[k] for k in CHECKPOINT_KEYS}) for c in signed)


def test_the_whole_log_can_be_downloaded_in_pages(client: TestClient) -> None:
    _record(client, *range(1, 8))
    page = client.get("/api/public/ledger/entries", params={"start": 2, "limit": 3})
    assert page.headers["cache-control"] == IMMUTABLE  # a full page never changes
    doc = page.json()
    assert set(doc) == {"items", "start", "limit", "tree_size"}
    assert [e["index"] for e in doc["items"]] == [2, 3, 4] and doc["tree_size"] == 7
    tail = client.get("/api/public/ledger/entries", params={"start": 5, "limit": 1000})
    assert tail.headers["cache-control"] == "public, max-age=2"  # it grows
    assert [e["index"] for e in tail.json()["items"]] == [5, 6]
    everything = _json(client, "/api/public/ledger/entries")["items"]
    assert [e["index"] for e in everything] == list(range(7))
    too_many = client.get("/api/public/ledger/entries", params={"limit": 1001})
    assert too_many.status_code == 422 and "limit" in too_many.json()["detail"]
    checkpoints = _json(client, "/api/public/ledger/checkpoints", limit=1, offset=1)
    assert checkpoints["total"] == 2 and checkpoints["items"][0]["number"] == 2
    assert set(checkpoints["items"][0]) == CHECKPOINT_KEYS | {"number"}


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/api/public/ledger/entries/3", {}, 404, "ledger entry 3 does not exist"),
        ("/api/public/ledger/entries/-1", {}, 422, "index"),
        ("/api/public/ledger/entries/x", {}, 422, "index"),
        ("/api/public/ledger/proof/inclusion", {"index": 3, "tree_size": 3}, 400, "below"),
        ("/api/public/ledger/proof/inclusion", {"index": 0, "tree_size": 4}, 400, "tree_size 4"),
        ("/api/public/ledger/proof/inclusion", {"index": 0}, 422, "tree_size"),
        ("/api/public/ledger/proof/inclusion", {"index": -1, "tree_size": 2}, 422, "index"),
        ("/api/public/ledger/proof/consistency", {"first": 3, "second": 2}, 400, "first 3"),
        ("/api/public/ledger/proof/consistency", {"first": 1, "second": 9}, 400, "second 9"),
        ("/api/public/ledger/proof/consistency", {"first": 2**60, "second": 1}, 422, "first"),
    ],
)
def test_errors_are_one_line(
    client: TestClient, path: str, params: dict[str, Any], status: int, says: str
) -> None:
    _record(client, 1, 2, 3)
    answer = client.get(path, params=params)
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and says in detail
    assert "immutable" not in answer.headers.get("cache-control", "")


def test_a_citizen_verifies_an_entry_offline_with_verify_py(
    client: TestClient, tmp_path: Path
) -> None:
    _record(client, 21, 22)
    old = _json(client, "/api/public/ledger/checkpoint")
    _record(client, 23, 24, 25)
    new = _json(client, "/api/public/ledger/checkpoint")
    files = {
        "old.json": old,
        "new.json": new,
        "entry.json": _json(client, "/api/public/ledger/entries/3"),
        "proof.json": _json(client, "/api/public/ledger/proof/inclusion", index=3, tree_size=5),
        "consistency.json": _json(
            client, "/api/public/ledger/proof/consistency", first=2, second=5
        ),
    }
    for name, doc in files.items():
        (tmp_path / name).write_text(json.dumps(doc))
    key = new["public_key"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(VERIFY_PY), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    for args in (
        ("checkpoint", "new.json", "--key", key),
        ("inclusion", "entry.json", "proof.json", "new.json"),
        ("consistency", "old.json", "new.json", "consistency.json"),
    ):
        done = run(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert "NOT VERIFIED" not in done.stdout
    forged = dict(files["entry.json"])
    forged["entry"] = {**forged["entry"], "data": {**forged["entry"]["data"], "version": 2}}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    done = run("inclusion", "forged.json", "proof.json", "new.json")
    assert done.returncode == 1 and "NOT VERIFIED" in done.stdout


def test_verify_py_online_checks_a_running_service(
    client: TestClient, served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _record(client, 1, 2, 3)
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(_json(client, "/api/public/ledger/checkpoint")))
    _record(client, 4, 5)
    key = client.app.state.ledger.public_key_hex  # type: ignore[attr-defined]
    status = verify.main(["online", served, "--index", "3", "--key", key, "--previous", str(saved)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "NOT VERIFIED" not in out and out.count("verified") >= 3
