"""Fly an exported plan with DroneKit's Vehicle API against skyledger's built-in vehicle.

    pip install -e '.[dronekit]'          # the maintained fork dronekit2 (module `dronekit`)
    skyledger plan survey ... -o deck.waypoints
    python examples/dronekit_fly.py deck.waypoints            # starts a built-in vehicle
    python examples/dronekit_fly.py deck.waypoints tcp:127.0.0.1:5760   # or any vehicle/SITL

DroneKit uploads the mission with its own `vehicle.commands` (the legacy MISSION_ITEM
protocol), switches to GUIDED, arms, takes off, switches to AUTO and watches
`vehicle.commands.next` until the vehicle has landed and disarmed. skyledger only reads
the plan file and, without a URL, runs the vehicle. Nothing here is used by skyledger
itself: it shows that plans made by skyledger fly with a third-party ground-station API.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def fly(plan_path: str, url: str, timeout_s: float = 600.0) -> list[int]:
    """Upload the plan's first sortie with DroneKit, fly it in AUTO; return the items seen."""
    from dronekit import Command, VehicleMode, connect

    from mission import formats

    ext = Path(plan_path).suffix
    plan = formats.parse(Path(plan_path).read_text(), ext, plan_path)
    vehicle = connect(url, wait_ready=False, heartbeat_timeout=30, source_system=254)
    try:
        commands = vehicle.commands
        commands.download()  # DroneKit keeps the vehicle's home as item 0 and numbers from 1
        commands.wait_ready()
        commands.clear()
        for item in plan.sorties[0]:
            commands.add(
                Command(0, 0, 0, item.frame, item.command, 0, int(item.autocontinue), *item.params)
            )
        commands.upload(timeout=60)
        deadline = time.monotonic() + timeout_s
        vehicle.mode = VehicleMode("GUIDED")
        while not vehicle.armed:
            vehicle.armed = True  # refused until the vehicle's pre-arm checks pass
            time.sleep(0.5)
            if time.monotonic() > deadline:
                raise TimeoutError("the vehicle would not arm")
        vehicle.mode = VehicleMode("AUTO")
        seen: list[int] = []
        while vehicle.armed and time.monotonic() < deadline:
            if commands.next and (not seen or seen[-1] != commands.next):
                seen.append(commands.next)
            time.sleep(0.05)
        if vehicle.armed:
            raise TimeoutError(f"the mission did not end within {timeout_s:g} s")
        return seen
    finally:
        vehicle.close()


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__)
        return 2
    if len(argv) == 2:
        seen = fly(argv[0], argv[1])
    else:
        from mission import formats
        from sim.vehicle import BuiltinVehicle

        plan = formats.parse(Path(argv[0]).read_text(), Path(argv[0]).suffix, argv[0])
        home = (plan.home.lat_deg, plan.home.lon_deg, plan.home.alt_amsl_m)
        with BuiltinVehicle(home, speedup=20.0) as v:
            seen = fly(argv[0], v.url)
    print(
        f"flown with DroneKit: mission items {seen[0]}..{seen[-1]} current in turn, landed, disarmed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
