"""The DroneKit example flies an exported plan against the built-in vehicle (needs the
optional extra: ``pip install -e '.[dronekit]'``, the maintained fork ``dronekit2``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mission import items as it
from mission.formats import render
from mission.geodesy import LocalFrame
from mission.plan import Home, Plan
from sim.vehicle import BuiltinVehicle

pytest.importorskip(
    "dronekit", reason="the dronekit extra is not installed (pip install -e '.[dronekit]')"
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "dronekit_fly.py"
HOME = Home(lat_deg=-35.363261, lon_deg=149.165230, alt_amsl_m=584.0)


def test_dronekit_flies_an_exported_plan(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("dronekit_fly", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    frame = LocalFrame(HOME.lon_deg, HOME.lat_deg)
    corners = [frame.point_to_wgs84(x, y) for x, y in ((0, 60), (60, 60), (60, 0))]
    items = (
        it.takeoff(20),
        *(it.waypoint(lat, lon, 20) for lon, lat in corners),
        it.return_to_launch(),
    )
    plan = Plan(home=HOME, sorties=(items,))
    path = tmp_path / "square.waypoints"
    path.write_text(render(plan, ".waypoints")[0])
    with BuiltinVehicle((HOME.lat_deg, HOME.lon_deg, HOME.alt_amsl_m), speedup=50.0) as vehicle:
        seen = example.fly(str(path), vehicle.url, timeout_s=120)
        held = vehicle.mission
        assert not vehicle.armed
    assert seen[0] == 1 and seen[-1] == len(items)  # every item was current in turn
    assert [m.command for m in held[1:]] == [i.command for i in items]
