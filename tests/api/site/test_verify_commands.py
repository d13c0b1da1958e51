"""The commands the pages tell citizens to run work: the verifier downloaded from the site,
run as the flight page and the how-to-verify page write it, against the served site."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sitekit import add_flight


def _commands(url: str) -> list[str]:
    with urllib.request.urlopen(url, timeout=30) as answer:
        page = answer.read().decode()
    blocks = re.findall(r"<pre><code>(.*?)</code></pre>", page, re.S)
    return [
        html.unescape(line)
        for b in blocks
        for line in b.splitlines()
        if line.startswith("python verify.py online") and "--previous" not in line
    ]


def test_the_printed_commands_verify(client: TestClient, served: str, tmp_path: Path) -> None:
    app: Any = client.app
    add_flight(app)
    flight_id = add_flight(app, purpose="Second survey")
    with urllib.request.urlopen(f"{served}/verify.py", timeout=30) as answer:
        (tmp_path / "verify.py").write_bytes(answer.read())
    (on_flight,) = _commands(f"{served}/flights/{flight_id}")
    (on_verify,) = _commands(f"{served}/verify")
    assert on_flight == on_verify  # the example is the newest flight
    assert f"--flight {flight_id} --key {app.state.ledger.public_key_hex}" in on_flight
    for command in (on_flight, on_verify.replace(f"--flight {flight_id}", "--flight 1")):
        run = subprocess.run(
            [sys.executable, *command.split()[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stdout + run.stderr
