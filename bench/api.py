"""Service benchmark: the public flight list and one flight's JSON with 100,000 flights stored,
served by uvicorn with 2 workers on loopback, against a static file from the same server.

The baseline (the ceiling) is ``/static/site.css`` served by the same server in the same run:
it costs the framework and the network but no database or serialisation, so ``× static``
says how much of the server's speed each endpoint keeps. Load comes from wrk (Debian's
``wrk``; ``make bench`` installs it where it can) with a bounded duration and a fixed number
of connections; without wrk, a small Python load generator stands in (slower, and so a
lower ceiling: the table says which one ran). Not a test: the machine is shared and noisy.

    .venv/bin/python bench/api.py [--flights 100000] [--seconds 10] [--connections 16]

Target (the service issue): ≥ 500 requests/s and p99 ≤ 100 ms for the list on this machine.
The public's list answers are kept for 2 s (``Cache-Control: public, max-age=2``); staff lists
are read fresh on every request, so the staff row is the cost of the query and serialisation.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script, this folder would come first on the path (bench/compliance.py would
# shadow the package of that name).
sys.path[:] = [
    p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))
]

PURPOSES = ("bridge inspection", "power line patrol", "water tower survey", "facade survey")


def populate(data_dir: Path, flights: int) -> str:
    """A migrated database with ``flights`` public flights, inserted in bulk; a crew
    member's token."""
    from sqlalchemy import insert

    from api.auth import add_user
    from api.settings import Settings
    from api.storage import migrate
    from api.storage.db import Database
    from api.storage.models import Flight

    settings = Settings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.url)
    db = Database(settings.url)
    rng = random.Random(1)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with db.session() as session:
        made = add_user(session, "bench-crew", "crew")
        crew = made.user
        batch = []
        for i in range(flights):
            began = start + timedelta(minutes=17 * i + rng.randrange(10))
            batch.append(
                {
                    "source": "builtin",
                    "state": "flown",
                    "purpose": PURPOSES[i % len(PURPOSES)],
                    "started_at": began,
                    "ended_at": began + timedelta(seconds=300 + rng.randrange(900)),
                    "summary": {"duration_s": 600.0, "distance_m": 2400.0, "photos": 120},
                    "public": True,
                    "created_by": crew.id,
                    "created_at": began,
                }
            )
            if len(batch) == 10_000:
                session.execute(insert(Flight), batch)
                batch = []
        if batch:
            session.execute(insert(Flight), batch)
    db.close()
    return made.token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"SKYLEDGER_DATA_DIR": str(data_dir)}
    env.pop("SKYLEDGER_DB", None)
    command = [sys.executable, "-m", "uvicorn", "api.cli_service:app_from_env", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    command += ["--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/site.css", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    stop(server)
    raise SystemExit("the server did not answer within 60 s")


def stop(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: float, connections: int, token: str = "") -> dict[str, float]:
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", *auth, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {m[0]: _ms(m[1]) for m in re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": lat["50"],
        "p99": lat["99"],
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def python_load(url: str, seconds: float, connections: int, token: str = "") -> dict[str, float]:
    """A stand-in for wrk: ``connections`` threads issuing requests back to back."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine = []
        while time.monotonic() < until:
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - t0) * 1000)
            if response.status >= 400:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": float(errors[0]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flights", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    load = wrk if shutil.which("wrk") else python_load
    with tempfile.TemporaryDirectory(prefix="skyledger-bench-") as tmp:
        data = Path(tmp) / "data"
        t0 = time.monotonic()
        token = populate(data, args.flights)
        print(f"stored {args.flights} flights in {time.monotonic() - t0:.1f} s")
        port = free_port()
        server = serve(data, port)
        base = f"http://127.0.0.1:{port}"
        targets = [
            ("static file (ceiling)", f"{base}/static/site.css", ""),
            ("public list, first page", f"{base}/api/flights?limit=50", ""),
            ("public list, deep page", f"{base}/api/flights?limit=50&offset=90000", ""),
            ("staff list, first page (read fresh)", f"{base}/api/flights?limit=50", token),
            ("one flight", f"{base}/api/flights/{args.flights // 2}", ""),
        ]
        try:
            for _, url, auth in targets:  # warm both workers' caches
                load(url, 1, 4, auth)
            rows = [
                (name, load(url, args.seconds, args.connections, auth))
                for name, url, auth in targets
            ]
        finally:
            stop(server)
    ceiling = rows[0][1]["rps"]
    print()
    print(
        f"API benchmark: {args.flights} flights in SQLite, uvicorn with 2 workers, "
        f"{'wrk' if load is wrk else 'Python threads'}, {args.connections} connections, "
        f"{args.seconds:.0f} s each"
    )
    print()
    print("| endpoint | requests/s | × static | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['rps']:.0f} | {r['rps'] / ceiling:.2f} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['errors']:.0f} |"
        )
    first = rows[1][1]
    met = first["rps"] >= 500 and first["p99"] <= 100
    print(
        f"\nTarget: list ≥ 500 requests/s and p99 ≤ 100 ms: {'met' if met else 'NOT met'} "
        f"({first['rps']:.0f}/s, p99 {first['p99']:.1f} ms)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
