"""The demo's public half: what a citizen and a regulator do once the flights are disclosed.

Over HTTP like anyone else: a citizen reads the public flight list, downloads ``verify.py``
from the site and runs it (a separate Python process, with the key the agency published) to
check a flight's record against the signed checkpoint, and asks a question with contact
details in it; a crew member reviews and answers it; a regulator exports every record of the
day and runs the log's audit. Used by :mod:`api.demo_service`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from api.commands import CommandError

__all__ = ["QUESTION", "citizens_and_regulators"]

#: The demo citizen's question: the e-mail address and phone number are masked on publication.
QUESTION = (
    "Why was this flown during the school day, and was the playground filmed? "
    "Please write to me at jane.doe@example.org or call +61 2 6123 4567."
)
ANSWER = (
    "The flight kept to its approved route and window; the camera was off over the school "
    "grounds and no footage of the playground was kept."
)


def _verify(base: str, data_dir: Path, flight_id: int, key: str) -> tuple[bool, str]:
    """Download verify.py from the site and run it as a citizen would; (verified, output)."""
    from api.demo_service import Client

    script = data_dir / "verify.py"
    script.write_bytes(Client(base).get("/verify.py"))
    done = subprocess.run(
        [sys.executable, "-I", str(script), "online", base, "--flight", str(flight_id),
         "--key", key],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def _question(citizen: Any, crew: Any, flight_id: int) -> dict[str, Any]:
    """Ask as a citizen, publish and answer as the crew; the published question."""
    asked = citizen.post(
        f"/api/public/flights/{flight_id}/questions", {"text": QUESTION, "lang": "en"}
    )
    crew.post(f"/api/questions/{asked['id']}/review", {"publish": True, "note": "on topic"})
    crew.post(f"/api/questions/{asked['id']}/answer", {"text": ANSWER})
    published = citizen.get(f"/api/public/flights/{flight_id}/questions")["items"]
    return next(q for q in published if q["id"] == asked["id"])


def citizens_and_regulators(
    base: str, citizen: Any, crew: Any, regulator: Any, data_dir: Path, key: str
) -> list[str]:
    """Run the public half of the demo; the lines to print. ``key``: the log's public key
    (hex) as the agency publishes it, which the citizen's verifier requires."""
    flights = citizen.get("/api/public/flights?limit=100")
    if not flights["items"]:
        raise CommandError("no flight was disclosed: nothing for the public site to show")
    flight_id = flights["items"][0]["flight_id"]
    lines = [f"{flights['total']} flights disclosed on the public site"]

    verified, output = _verify(base, data_dir, flight_id, key)
    lines.append(
        f"flight {flight_id} checked with {data_dir / 'verify.py'} (a separate process): "
        + ("verified" if verified else "NOT VERIFIED")
    )
    lines += [f"    {line}" for line in output.splitlines()]
    if not verified:
        raise CommandError(f"verify.py could not verify flight {flight_id}: {output}")

    question = _question(citizen, crew, flight_id)
    lines.append(f"a citizen asked about flight {flight_id}; published as: {question['text']!r}")
    lines.append(f"answered after {question['answered_after_s']} s: {question['answer']!r}")

    export = regulator.get("/api/audit/export?format=json")  # everything, non-public included
    path = data_dir / "audit-export.json"
    path.write_text(json.dumps(export, indent=1) + "\n")
    audit = regulator.get("/api/audit/ledger")
    lines.append(f"regulator export: {sum(export['counts'].values())} records in {path}")
    lines.append(f"ledger audit: {'clean' if audit['ok'] else 'PROBLEM'}: {audit['message']}")
    return lines
