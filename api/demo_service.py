"""``skyledger demo``: the whole chain through the service, then the service left serving.

The demo starts the service (:func:`api.app.create_app` under uvicorn, on loopback) on a
data folder, adds a crew member, an admin and a regulator, and then acts as a client over
HTTP like any other: it loads the sample city's assets, plans each inspection, checks it
for a school-day morning and repairs it where it can, asks for approval, approves as the
admin, flies each approved plan (ArduPilot SITL when a binary is found, else the built-in
vehicle) as a job, renders each flight's footage of the synthetic world and uploads it, and
waits for the detection job. Everything is stored by the service itself, and every flight is
disclosed in the signed public log. Then a citizen verifies a flight with the downloaded
``verify.py`` and asks a question that the crew answers, and a regulator exports and audits
everything (:mod:`api.demo_public`). It prints what happened and the URLs to open, and keeps
serving (``--no-serve`` stops instead).

The tokens of the demo's users are written to ``DATA_DIR/demo-tokens.txt`` (readable by its
owner only) so they can be used with the API afterwards, and the sample city and its zones to
``DATA_DIR/sample_city.geojson`` and ``sample_zones.geojson`` for the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api import commands
from api.commands import CommandError
from api.demo import FOOTAGE_FPS, FOOTAGE_SIZE
from api.demo_public import citizens_and_regulators

__all__ = ["add_commands", "run"]

DEFAULT_DATA_DIR = "demo-data"
JOB_TIMEOUT_S = 1800.0


class Client:
    """A small JSON client of the service over HTTP (the standard library's urllib)."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base, self.token = base.rstrip("/"), token

    def as_user(self, token: str) -> Client:
        return Client(self.base, token)

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> Any:
        req = urllib.request.Request(self.base + path, data=body, method=method)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=600) as answer:
                data = answer.read()
                kind = answer.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            with contextlib.suppress(ValueError, KeyError, TypeError):
                detail = json.loads(detail)["detail"]
            raise CommandError(f"{method} {path}: {exc.code} {detail}") from None
        return (
            json.loads(data) if kind.startswith(("application/json", "application/geo")) else data
        )

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        body = json.dumps(payload or {}).encode()
        return self.request("POST", path, body, "application/json")

    def upload(self, path: str, file: Path, media_type: str) -> Any:
        """POST ``file`` as the multipart field ``file``."""
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{file.name}"\r\nContent-Type: {media_type}\r\n\r\n'
        ).encode()
        body = head + file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        return self.request("POST", path, body, f"multipart/form-data; boundary={boundary}")


@dataclass
class Inspected:
    """One sample-city asset as the demo took it through the service."""

    asset: str
    plan_id: int
    verdict: str
    fixed_verdict: str | None = None
    flight: dict[str, Any] | None = None
    conformance: dict[str, Any] | None = None
    inspection: dict[str, Any] = field(default_factory=dict)


def wait_job(client: Client, job: dict[str, Any], what: str) -> dict[str, Any]:
    """Poll a job until it ends, with a progress bar; a failed job is a CommandError."""
    from rich.progress import Progress

    deadline = time.monotonic() + JOB_TIMEOUT_S
    with Progress(transient=True) as bar:
        task = bar.add_task(what, total=100)
        while True:
            job = client.get(f"/api/jobs/{job['id']}")
            bar.update(task, completed=job["percent"], description=f"{what}: {job['message']}"[:60])
            if job["state"] in ("succeeded", "failed"):
                break
            if time.monotonic() > deadline:
                raise CommandError(f"{what}: job {job['id']} still {job['state']} after 30 min")
            time.sleep(0.5)
    if job["state"] == "failed":
        raise CommandError(f"{what}: job {job['id']} failed: {job['error']}")
    return job


def add_users(data_dir: Path, url: str) -> dict[str, str]:
    """A crew member, an admin and a regulator for this run; their tokens by role."""
    from api.auth import add_user
    from api.storage import migrate
    from api.storage.db import Database
    from api.storage.models import User

    migrate.upgrade(url)
    db = Database(url)
    tokens = {}
    try:
        with db.session() as session:
            taken = {name for (name,) in session.query(User.name)}
            for role in ("crew", "admin", "regulator"):
                name = next(n for i in range(1, 10_000) if (n := f"demo-{role}-{i}") not in taken)
                tokens[role] = add_user(session, name, role).token
    finally:
        db.close()
    path = data_dir / "demo-tokens.txt"
    path.write_text("".join(f"{role} {token}\n" for role, token in tokens.items()))
    path.chmod(0o600)
    return tokens


def plan_and_approve(crew: Client, admin: Client, now: datetime) -> list[Inspected]:
    """Plan, check (repairing where it can) and approve every sample-city asset."""
    from api.demo import school_day

    start, end = school_day(now)
    crew.post("/api/assets/sample")
    assets = crew.get("/api/assets?limit=500")["items"]
    done = []
    for asset in assets:
        plan = crew.post("/api/plans", {"asset_id": asset["id"]})
        checked = crew.post(
            f"/api/plans/{plan['id']}/checks",
            {
                "start": start.isoformat(),
                "duration_min": (end - start).total_seconds() / 60,
                "rules": "eu-open",
                "fix": True,
            },
        )
        check = checked["fixed_check"] or checked["check"]
        flown_plan = checked["fixed_plan"] or plan
        item = Inspected(
            asset["name"],
            flown_plan["id"],
            checked["check"]["verdict"],
            checked["fixed_check"]["verdict"] if checked["fixed_check"] else None,
        )
        if check["verdict"] == "APPROVED":
            asked = crew.post(
                f"/api/plans/{flown_plan['id']}/approval-requests",
                {"check_id": check["id"], "note": "sample city inspection"},
            )
            admin.post(f"/api/approvals/{asked['id']}/decision", {"approve": True, "note": "demo"})
        done.append(item)
    return done


def fly(crew: Client, items: Sequence[Inspected], vehicle: str) -> None:
    """Fly every approved plan as a job and read back its conformance."""
    for item in items:
        if (item.fixed_verdict or item.verdict) != "APPROVED":
            continue
        started = crew.post(
            "/api/flights",
            {"plan_id": item.plan_id, "vehicle": vehicle, "purpose": f"{item.asset} inspection"},
        )
        wait_job(crew, started["job"], f"flying {item.asset}")
        item.flight = crew.get(f"/api/flights/{started['flight']['id']}")
        item.conformance = crew.get(f"/api/flights/{started['flight']['id']}/conformance")


def inspect(crew: Client, items: Sequence[Inspected], work: Path) -> None:
    """Render each flight's footage, upload it, wait for the detection, score it."""
    from api.cli import parse_args
    from sim.world import World
    from vision.score import points_from_geojson, score

    world = World.sample()
    for item in items:
        if item.flight is None or item.flight["state"] != "flown":
            continue
        flight_id = item.flight["id"]
        track, video = work / f"{item.asset}-track.csv", work / f"{item.asset}.mp4"
        truth = work / f"{item.asset}-truth.geojson"
        track.write_bytes(crew.get(f"/api/flights/{flight_id}/track"))
        print(f"rendering the {item.asset} footage ...", flush=True)
        args = parse_args(
            ["sim", "render", str(track), "--world", "sample", "-o", str(video),
             "--truth", str(truth), "--size", FOOTAGE_SIZE, "--fps", str(FOOTAGE_FPS)]
        )  # fmt: skip
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            args.func(args)
        started = crew.upload(f"/api/flights/{flight_id}/footage", video, "video/mp4")
        job = wait_job(crew, started["job"], f"detecting defects ({item.asset})")
        found = crew.get(f"/api/flights/{flight_id}/defects")
        got = score(
            points_from_geojson(found),
            points_from_geojson(json.loads(truth.read_text())),
            world.frame,
        )
        item.inspection = {"job": job, "score": got, "defects": len(found["features"])}


def summary(items: Sequence[Inspected], vehicle: str) -> str:
    rows = []
    for it in items:
        conf = "-"
        if it.conformance:
            conf = "conforms" if it.conformance.get("conforms") else "deviates"
        found = "-"
        if it.inspection:
            got = it.inspection["score"]
            found = f"{len(got.matched)} of {got.truth}" + (
                f", median {got.median_error_m:.2f} m" if got.matched else ""
            )
        state = it.flight["state"] if it.flight else "not flown"
        fixed = f" -> {it.fixed_verdict}" if it.fixed_verdict else ""
        rows.append((it.asset, f"{it.verdict}{fixed}", state, conf, found))
    header = (
        "asset",
        "check (-> after fix)",
        f"flight ({vehicle})",
        "conformance",
        "defects found",
    )
    return commands.table(rows, header)


@contextlib.contextmanager
def serving(settings: Any, host: str, port: int) -> Iterator[str]:
    """The service under uvicorn in a thread on ``host:port`` (its base URL); stopped when
    the block ends."""
    import uvicorn

    from api.app import create_app

    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="skyledger-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise CommandError(
                f"the service could not listen on {host}:{port} (is the port taken?)"
            )
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def write_inputs(data_dir: Path) -> None:
    """The sample city and its zones as files beside the data, for the command line."""
    from compliance.sources import sample_zones_text
    from mission.assets import sample_city

    commands.write_texts(
        [data_dir / "sample_city.geojson", data_dir / "sample_zones.geojson"],
        [json.dumps(sample_city(), indent=1) + "\n", sample_zones_text()],
    )


def public_key(settings: Any) -> str:
    """The log's public key (hex), read from the service's own key file."""
    from api.ledger import load_key
    from compliance.ledger import public_key_hex

    return public_key_hex(load_key(settings.ledger_key_path))


def run(args: argparse.Namespace) -> int:
    from api.settings import Settings
    from sim.sitl import find_sitl_binary

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    write_inputs(data_dir)
    settings = Settings(data_dir=data_dir, db_url=args.db)
    tokens = add_users(data_dir, settings.url)
    vehicle = "sitl" if find_sitl_binary() else "builtin"
    with serving(settings, args.host, args.port) as base:
        anonymous = Client(base)
        crew, admin = anonymous.as_user(tokens["crew"]), anonymous.as_user(tokens["admin"])
        print(f"service running at {base} on {settings.url}", flush=True)
        items = plan_and_approve(crew, admin, datetime.now(UTC))
        fly(crew, items, vehicle)
        if not args.no_footage:
            work = data_dir / "demo-work"
            work.mkdir(exist_ok=True)
            inspect(crew, items, work)
        print(summary(items, vehicle))
        print(
            f"\nstored in {settings.url}; tokens of the demo's users in "
            f"{data_dir / 'demo-tokens.txt'}\n"
        )
        regulator = anonymous.as_user(tokens["regulator"])
        key = public_key(settings)
        for line in citizens_and_regulators(base, anonymous, crew, regulator, data_dir, key):
            print(line, flush=True)
        if args.no_serve:
            return 0
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        print(f"\nOpen {base}/ (the public flight log, English or Spanish), {base}/verify (how")
        print(f"to verify it), {base}/feed.atom, {base}/api/public/flights.geojson and .csv,")
        print(f"{base}/openapi.json (the API). Ctrl-C stops the service.", flush=True)
        stop.wait()
        print("stopping the service ...", flush=True)
    return 0


def add_commands(sub: Any) -> None:
    """Add ``skyledger demo`` to the sub-command parsers."""
    d = sub.add_parser(
        "demo",
        help="run the whole chain through the service on the sample city, then serve it",
    )
    d.add_argument("--data-dir", default=DEFAULT_DATA_DIR, metavar="DIR")
    d.add_argument("--db", metavar="URL", help="database URL (default: SQLite in --data-dir)")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    d.add_argument("--no-serve", action="store_true", help="stop after storing everything")
    d.add_argument("--no-footage", action="store_true", help="no rendering, no detection")
    d.set_defaults(func=run)
