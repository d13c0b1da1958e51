"""sim.sitl: the launcher with stand-in binaries, and a real ArduPilot SITL flight when one
is found (``$SKYLEDGER_SITL_BINARY`` or ``arducopter`` on PATH)."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from mission.items import return_to_launch, takeoff, waypoint
from mission.plan import Home, Plan
from sim.errors import SimError
from sim.sitl import Sitl, find_sitl_binary

HOME = Home(-35.363261, 149.165230, 584.0)  # ArduPilot's CMAC test field
INSTANCE = 170  # port 7460: away from a real SITL's 5760


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def _fake_binary(tmp_path: Path, body: str) -> str:
    script = tmp_path / "arducopter"
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(0o755)
    return str(script)


LISTENER = """
import socket, subprocess, sys, time
args = sys.argv[1:]
port = 5760 + 10 * int(args[args.index("-I") + 1])
child = subprocess.Popen(["sleep", "60"])
open("child.pid", "w").write(str(child.pid))
open("args.txt", "w").write(" ".join(args))
server = socket.create_server(("127.0.0.1", port))
print("Waiting for connection", flush=True)
while True:
    conn, _ = server.accept()
    conn.close()
"""


def test_bogus_binary_names_what_was_tried(tmp_path: Path) -> None:
    sitl = Sitl(str(tmp_path / "no-such-arducopter"), home=HOME, workdir=tmp_path / "w")
    with pytest.raises(SimError, match=r"no ArduPilot SITL binary: tried '.*no-such-arducopter'"):
        sitl.start()
    assert sitl.process is None
    assert not (tmp_path / "w").exists()


def test_env_binary_is_named_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYLEDGER_SITL_BINARY", "/nowhere/arducopter-sitl")
    assert find_sitl_binary() is None
    with pytest.raises(SimError, match=r"'/nowhere/arducopter-sitl' \(from \$SKYLEDGER_SITL"):
        Sitl(home=HOME).command()


def test_start_runs_the_command_line_and_stop_leaves_no_process(tmp_path: Path) -> None:
    binary = _fake_binary(tmp_path, LISTENER)
    defaults = tmp_path / "copter.parm"
    defaults.write_text("FRAME_CLASS 1\n")
    work = tmp_path / "run"
    sitl = Sitl(
        binary, str(defaults), home=HOME, speedup=10, instance=INSTANCE, workdir=work, params={}
    )
    with sitl:
        assert sitl.url == f"tcp:127.0.0.1:{5760 + 10 * INSTANCE}"
        process = sitl.process
        assert process is not None
        child = int((work / "child.pid").read_text())
        assert _alive(process.pid) and _alive(child)
        args = (work / "args.txt").read_text()
        assert args == (
            f"--model quad --home -35.363261,149.16523,584.0,0.0 --speedup 10 -I {INSTANCE} "
            f"-w --defaults {defaults}"
        )
        assert "Waiting for connection" in sitl.log_tail()
    assert not _alive(process.pid)
    deadline = time.monotonic() + 3
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
    sitl.stop()  # again: harmless
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", 5760 + 10 * INSTANCE)) != 0


def test_a_binary_that_exits_reports_its_output(tmp_path: Path) -> None:
    binary = _fake_binary(tmp_path, 'import sys\nprint("Vehicle model (bogus) not found")\n')
    sitl = Sitl(
        binary, home=HOME, instance=INSTANCE, model="bogus", workdir=tmp_path / "w", params={}
    )
    with pytest.raises(SimError, match=r"exited with code 0 .*Vehicle model \(bogus\) not found"):
        sitl.start(timeout_s=10)
    assert sitl.process is None


# --- real SITL ---------------------------------------------------------------------------


@pytest.mark.sitl
def test_fly_a_small_plan_on_sitl() -> None:
    binary = find_sitl_binary()
    if binary is None:
        pytest.skip("no ArduPilot SITL: set $SKYLEDGER_SITL_BINARY or put arducopter on PATH")
    from sim.flight import fly_plan
    from sim.link import Link, item_row

    items = (
        takeoff(15.0),
        waypoint(HOME.lat_deg + 0.0003, HOME.lon_deg, 15.0),
        waypoint(HOME.lat_deg + 0.0003, HOME.lon_deg + 0.0003, 15.0),
        return_to_launch(),
    )
    plan = Plan(HOME, (items,), name="sitl-smoke")
    with Sitl(binary, home=HOME, speedup=10, instance=int(os.environ.get("SITL_I", "0"))) as sitl:
        with Link.connect(sitl.url, timeout_s=60) as link:
            link.upload_plan_sortie(plan, 0)
            assert [r[0] for r in link.download()[1:]] == [item_row(i)[0] for i in items]
        result = fly_plan(plan, sitl.url, timeout_s=900, prearm_timeout_s=180)
    assert result.completed, result.reason
    assert {seq for _, seq in result.items_reached} >= {2, 3}
    assert result.track is not None and max(s.alt_rel_m for s in result.track.samples) > 10
