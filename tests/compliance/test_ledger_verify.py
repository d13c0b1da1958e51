"""verify.py, the standalone verifier: its imports, its command line, and online checks."""

import ast
import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from compliance.ledger import (
    EMPTY_ROOT,
    MerkleTree,
    entry_bytes,
    leaf_hash,
    make_entry,
    public_key_hex,
    sign_checkpoint,
    verify,
)

VERIFY_PY = Path(verify.__file__)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PUBLIC = public_key_hex(KEY)


class Log:
    """A small published log, as the service's public endpoints answer it."""

    def __init__(self, size: int) -> None:
        self.tree, self.entries = MerkleTree(), []
        for i in range(size):
            entry = make_entry(
                i,
                "question_reviewed",
                f"question:{i}",
                "2026-12-07T07:13:17.123Z",
                self.tree.root(),
                {"question_id": i, "published": i % 2 == 0},
            )
            self.entries.append(entry)
            self.tree.append(leaf_hash(entry_bytes(entry)))

    def checkpoint(self, size=None, key=KEY):
        size = self.tree.size if size is None else size
        return sign_checkpoint(key, size, self.tree.root(size), 1_765_091_597_000 + size).to_json()

    def entry(self, index):
        return {
            "index": index,
            "entry": self.entries[index],
            "leaf_hash": self.tree.leaf(index).hex(),
        }

    def inclusion(self, index, size):
        proof = self.tree.inclusion_proof(index, size)
        return {"index": index, "tree_size": size, "audit_path": [p.hex() for p in proof]}

    def consistency(self, first, second):
        proof = self.tree.consistency_proof(first, second)
        return {"first": first, "second": second, "proof": [p.hex() for p in proof]}


LOG = Log(13)


def write(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def run_main(capsys, *argv):
    status = verify.main([str(a) for a in argv])
    out = capsys.readouterr()
    return status, out.out, out.err


# -- standalone ----------------------------------------------------------------------------


def test_it_imports_only_the_standard_library_and_cryptography():
    tree = ast.parse(VERIFY_PY.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            roots.add((node.module or "").split(".")[0])
    third_party = roots - set(sys.stdlib_module_names)
    assert third_party == {"cryptography"}, third_party


def test_a_copy_runs_on_its_own(tmp_path):
    copy = tmp_path / "verify.py"
    shutil.copy(VERIFY_PY, copy)
    checkpoint = write(tmp_path, "cp.json", LOG.checkpoint())
    entry = write(tmp_path, "entry.json", LOG.entry(4))
    proof = write(tmp_path, "proof.json", LOG.inclusion(4, 13))
    answer = subprocess.run(
        [sys.executable, "-I", str(copy), "inclusion", entry, proof, checkpoint, "--key", PUBLIC],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert answer.returncode == 0, answer.stderr
    lines = answer.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("verified: ") for line in lines)
    assert "entry 4" in lines[1] and "size 13" in lines[1]


def test_the_exit_status_of_bad_input_from_the_real_entry_point(tmp_path):
    answer = subprocess.run(
        [sys.executable, "-I", str(VERIFY_PY), "checkpoint", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 2
    assert answer.stderr.startswith("bad input: cannot read") and answer.stderr.count("\n") == 1


# -- the commands --------------------------------------------------------------------------


def test_checkpoint(tmp_path, capsys):
    path = write(tmp_path, "cp.json", LOG.checkpoint())
    status, out, _ = run_main(capsys, "checkpoint", path)
    assert status == 0 and out.startswith("verified: checkpoint signature (tree size 13")
    status, out, _ = run_main(capsys, "checkpoint", path, "--key", PUBLIC)
    assert status == 0 and "the given key" in out
    other = public_key_hex(Ed25519PrivateKey.generate())
    status, out, _ = run_main(capsys, "checkpoint", path, "--key", other)
    assert status == 1 and out.startswith("NOT VERIFIED: ")


def test_checkpoint_with_a_changed_field(tmp_path, capsys):
    path = write(tmp_path, "cp.json", LOG.checkpoint() | {"tree_size": 12})
    status, out, _ = run_main(capsys, "checkpoint", path)
    assert status == 1 and out.count("\n") == 1


@pytest.mark.parametrize(
    "document",
    [[1, 2], {"tree_size": 3}, LOG.checkpoint() | {"root_hash": "xyz"}, "not json"],
)
def test_checkpoint_bad_input(tmp_path, capsys, document):
    path = tmp_path / "cp.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    status, out, err = run_main(capsys, "checkpoint", path)
    assert status == 2 and out == "" and err.startswith("bad input: ")


def test_inclusion_of_every_entry(tmp_path, capsys):
    checkpoint = write(tmp_path, "cp.json", LOG.checkpoint())
    for index in range(13):
        entry = write(tmp_path, "e.json", LOG.entry(index))
        proof = write(tmp_path, "p.json", LOG.inclusion(index, 13))
        status, out, _ = run_main(capsys, "inclusion", entry, proof, checkpoint, "--key", PUBLIC)
        assert status == 0, out


def test_inclusion_of_a_changed_entry_fails(tmp_path, capsys):
    checkpoint = write(tmp_path, "cp.json", LOG.checkpoint())
    changed = LOG.entry(3)
    changed["entry"] = changed["entry"] | {"data": {"question_id": 3, "published": True}}
    entry = write(tmp_path, "e.json", changed)
    proof = write(tmp_path, "p.json", LOG.inclusion(3, 13))
    status, out, _ = run_main(capsys, "inclusion", entry, proof, checkpoint)
    assert status == 1
    assert "leaf_hash" in out and "NOT VERIFIED: entry 3 (leaf" in out


def test_inclusion_against_an_older_checkpoint(tmp_path, capsys):
    checkpoint = write(tmp_path, "cp.json", LOG.checkpoint(9))
    entry = write(tmp_path, "e.json", LOG.entry(8))
    proof = write(tmp_path, "p.json", LOG.inclusion(8, 9))
    assert run_main(capsys, "inclusion", entry, proof, checkpoint)[0] == 0
    wrong_size = write(tmp_path, "p13.json", LOG.inclusion(8, 13))
    status, _, err = run_main(capsys, "inclusion", entry, wrong_size, checkpoint)
    assert status == 2 and "tree size 13" in err


def test_consistency(tmp_path, capsys):
    new = write(tmp_path, "new.json", LOG.checkpoint())
    for first in range(14):
        old = write(tmp_path, "old.json", LOG.checkpoint(first))
        proof = write(tmp_path, "p.json", LOG.consistency(first, 13))
        status, out, _ = run_main(capsys, "consistency", old, new, proof, "--key", PUBLIC)
        assert status == 0, (first, out)
        assert (
            out.splitlines()[-1] == f"verified: the log of size 13 extends the log of size {first}"
        )


def test_consistency_with_a_forked_log_fails(tmp_path, capsys):
    fork = Log(13)
    fork.entries[3]["data"]["published"] = True
    fork.tree = MerkleTree(leaf_hash(entry_bytes(e)) for e in fork.entries)
    old = write(tmp_path, "old.json", LOG.checkpoint(6))
    new = write(tmp_path, "new.json", fork.checkpoint())
    proof = write(tmp_path, "p.json", fork.consistency(6, 13))
    status, out, _ = run_main(capsys, "consistency", old, new, proof)
    assert status == 1 and out.splitlines()[-1].startswith("NOT VERIFIED: the log of size 13")


def test_usage_errors_are_bad_input(capsys):
    assert verify.main([]) == 2
    assert verify.main(["online", "http://x"]) == 2  # --index is required
    assert verify.main(["--help"]) == 0
    capsys.readouterr()


# -- online, against a local stand-in for the service -----------------------------------------


@pytest.fixture
def service():
    log, calls = LOG, []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
            calls.append(url.path)
            if url.path == "/api/public/ledger/checkpoint":
                body = log.checkpoint()
            elif url.path.startswith("/api/public/ledger/entries/"):
                index = int(url.path.rsplit("/", 1)[1])
                if index >= log.tree.size:
                    self.send_error(404)
                    return
                body = log.entry(index)
            elif url.path == "/api/public/ledger/proof/inclusion":
                body = log.inclusion(query["index"], query["tree_size"])
            elif url.path == "/api/public/ledger/proof/consistency":
                body = log.consistency(query["first"], query["second"])
            else:
                self.send_error(404)
                return
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_online(service, tmp_path, capsys):
    base, calls = service
    old = write(tmp_path, "old.json", LOG.checkpoint(5))
    status, out, err = run_main(
        capsys, "online", base, "--index", 7, "--key", PUBLIC, "--previous", old
    )
    assert status == 0, out + err
    assert len(out.splitlines()) == 4 and "NOT" not in out
    assert calls == [
        "/api/public/ledger/checkpoint",
        "/api/public/ledger/entries/7",
        "/api/public/ledger/proof/inclusion",
        "/api/public/ledger/proof/consistency",
    ]


def test_online_with_the_wrong_key_or_a_missing_entry(service, capsys):
    base, _ = service
    other = public_key_hex(Ed25519PrivateKey.generate())
    status, out, _ = run_main(capsys, "online", base, "--index", 0, "--key", other)
    assert status == 1 and out.startswith("NOT VERIFIED: checkpoint signature")
    status, _, err = run_main(capsys, "online", base, "--index", 99)
    assert status == 2 and "HTTP 404" in err


def test_online_refuses_what_is_not_http(capsys):
    status, _, err = run_main(capsys, "online", "file:///etc", "--index", 0)
    assert status == 2 and "not an http(s) URL" in err


def test_the_importable_functions():
    assert verify.leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    root = LOG.tree.root()
    path = LOG.tree.inclusion_proof(2, 13)
    assert verify.verify_inclusion(
        LOG.tree.leaf(2).hex(), 2, 13, [p.hex() for p in path], root.hex()
    )
    assert not verify.verify_inclusion("zz", 2, 13, path, root)
    assert verify.verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify.verify_checkpoint(LOG.checkpoint(), PUBLIC)
    assert not verify.verify_checkpoint({"tree_size": 1})
