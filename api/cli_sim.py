"""``skyledger sim render``: footage of the synthetic world along a flown track (work in
:mod:`sim.render`).

    skyledger sim render TRACK [--world sample|random:SEED] -o FOOTAGE.mp4
                         [--truth TRUTH.geojson] [--camera NAME|FILE] [--fps N] [--size WxH]
                         [--gimbal-pitch DEG] [--offset S] [--duration S] [--json]
    skyledger sim dataset -o FOLDER [--images N] [--imgsz PX] [--frame-width PX] [--seed S]
                          [--camera NAME|FILE] [--json]

Frame 0 is the track's first airborne sample (``--offset S``: ``S`` seconds after the
track's first sample); the footage runs to the last airborne sample or for ``--duration``.
The truth file lists the defects the footage shows, one Point each, with ``class``, ``id``,
``size_m`` and how they appear (``frames``, ``first_time_s``, ``last_time_s``, ``max_px``).
Every bad input ends in one line and exit status 2 before anything is written; the video
and the truth file are moved into place together at the end.

``sim dataset`` writes the synthetic world's YOLO training data (:mod:`sim.synthdata`) into
a new folder (one that already holds a ``data.yaml`` is refused).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.commands import CommandError, output_file

if TYPE_CHECKING:
    from sim.render import RenderResult

DEFAULT_CAMERA = "mavic3-enterprise"
VIDEO_EXTENSIONS = (".mp4",)
TRUTH_EXTENSIONS = (".geojson", ".json")


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT in pixels (e.g. 1920x1080)")
    w, h = int(m.group(1)), int(m.group(2))
    if not all(16 <= v <= 8192 and v % 2 == 0 for v in (w, h)):
        raise argparse.ArgumentTypeError(
            f"frame size {w}x{h} must be even numbers of pixels from 16 to 8192"
        )
    return w, h


def _number(text: str, low: float, high: float, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise argparse.ArgumentTypeError(f"{what} {text} must be within {low:g}..{high:g}")
    return value


def _fps(text: str) -> float:
    value = _number(text, 0.0, 240.0, "frame rate")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"frame rate {text} must be > 0")
    return value


def _pitch(text: str) -> float:
    return _number(text, -90.0, 30.0, "gimbal pitch")


def _seconds(text: str) -> float:
    return _number(text, 0.0, 1e7, "time")


def add_commands(sub: Any) -> None:
    """Add ``sim render`` to the ``skyledger`` sub-command parsers."""
    sim = sub.add_parser("sim", help="the synthetic world: render footage along a track")
    inner = sim.add_subparsers(dest="sim_command", required=True, metavar="COMMAND")
    p = inner.add_parser(
        "render",
        help="render footage of the synthetic world along a flown track, and its ground truth",
    )
    p.add_argument("track", metavar="TRACK", help="a flight track (.csv, .tlog, .bin)")
    p.add_argument(
        "--world", default="sample", help="sample (the sample city, default) or random:SEED"
    )
    p.add_argument("-o", "--output", required=True, metavar="FOOTAGE.mp4", help="the video")
    p.add_argument("--truth", metavar="TRUTH.geojson", help="the defects the footage shows")
    p.add_argument(
        "--camera", default=DEFAULT_CAMERA, help=f"preset name or .json (default {DEFAULT_CAMERA})"
    )
    p.add_argument("--fps", type=_fps, default=30.0, metavar="N", help="frames per second (30)")
    p.add_argument(
        "--size", type=_size, default=(1920, 1080), metavar="WxH", help="frame size (1920x1080)"
    )
    p.add_argument(
        "--gimbal-pitch",
        type=_pitch,
        default=-90.0,
        metavar="DEG",
        help="camera pitch where the track has none: -90 straight down (default), 0 level",
    )
    p.add_argument(
        "--offset",
        type=_seconds,
        metavar="S",
        help="frame 0 this many seconds after the track's start (default: at takeoff)",
    )
    p.add_argument("--duration", type=_seconds, metavar="S", help="render only S seconds")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_render)

    d = inner.add_parser(
        "dataset", help="write YOLO training data: random views of random synthetic districts"
    )
    d.add_argument("-o", "--output", required=True, metavar="FOLDER", help="a new folder")
    d.add_argument("--images", type=_count, default=2000, metavar="N", help="how many (2000)")
    d.add_argument("--imgsz", type=_count, default=640, metavar="PX", help="image side (640)")
    d.add_argument(
        "--frame-width",
        type=_count,
        default=1920,
        metavar="PX",
        help="pixel scale: that of footage this wide, as the detector will see it (1920)",
    )
    d.add_argument("--seed", type=_count0, default=0, metavar="S", help="world seed (0)")
    d.add_argument(
        "--camera", default=DEFAULT_CAMERA, help=f"preset name or .json (default {DEFAULT_CAMERA})"
    )
    d.add_argument("--json", action="store_true", help="print one JSON object")
    d.set_defaults(func=cmd_dataset)


def _count0(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def _count(text: str) -> int:
    value = _count0(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be >= 1")
    return value


def cmd_dataset(args: argparse.Namespace) -> int:
    from api.commands import load_camera
    from sim.synthdata import make_dataset

    out = Path(args.output)
    if not out.parent.is_dir():
        raise CommandError(f"output folder {str(out.parent)!r} does not exist")
    camera = load_camera(args.camera)
    progress = _Progress(sys.stderr, "images") if not args.json else None
    result = make_dataset(
        args.seed,
        out,
        args.images,
        args.imgsz,
        camera=camera,
        frame_width_px=args.frame_width,
        progress=progress,
    )
    if progress is not None:
        progress.close()
    made = {  # read by `skyledger vision train` into the model card
        "command": "skyledger " + " ".join(shlex.quote(a) for a in args.argv),
        "images": args.images,
        "imgsz": args.imgsz,
        "frame_width_px": args.frame_width,
        "seed": args.seed,
        "camera": camera.name,
        "boxes": result.boxes,
    }
    (out / "dataset.json").write_text(json.dumps(made, indent=1) + "\n")
    if args.json:
        doc = {
            "data": str(result.data_yaml),
            "train_images": result.train_images,
            "val_images": result.val_images,
            "boxes": result.boxes,
        }
        print(json.dumps(doc, indent=1))
    else:
        boxes = ", ".join(f"{n} {k}" for k, n in result.boxes.items())
        print(
            f"wrote {result.train_images} training and {result.val_images} validation images "
            f"({boxes})\nwrote {result.data_yaml}"
        )
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from api.commands import load_camera, read_bytes
    from mission.track import read_track
    from sim.render import render_track
    from sim.world import World

    video = output_file(args.output, VIDEO_EXTENSIONS, "-o")
    truth = output_file(args.truth, TRUTH_EXTENSIONS, "--truth") if args.truth else None
    if truth is not None and truth.resolve() == video.resolve():
        raise CommandError("-o and --truth name the same file")
    if args.duration is not None and args.duration <= 0:
        raise CommandError(f"--duration {args.duration:g} must be > 0")
    camera = load_camera(args.camera)
    track = read_track(read_bytes(args.track, "track file"), args.track)
    first = track.samples[0]
    home = track.home[:2] if track.home else (first.lon_deg, first.lat_deg)
    world = World.named(args.world, home=None if args.world == "sample" else home)

    progress = _Progress(sys.stderr) if not args.json else None
    fd, temp = tempfile.mkstemp(prefix=f".{video.stem}.", suffix=video.suffix, dir=video.parent)
    os.close(fd)
    try:
        result = render_track(
            world, track, camera, temp, fps=args.fps, size=args.size,
            gimbal_pitch_deg=args.gimbal_pitch, start_offset_s=args.offset,
            duration_s=args.duration, progress=progress,
        )  # fmt: skip
        if progress is not None:
            progress.close()
        written = [video]
        if truth is not None:
            from api.commands import write_texts

            doc = world.truth_geojson(only=_seen(result))
            write_texts([truth], [json.dumps(doc, indent=1) + "\n"])
            written.append(truth)
        os.replace(temp, video)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if args.json:
        print(json.dumps(summary(result, args.world, video, written), indent=1))
    else:
        print(describe(result, args.world, args.track, written))
    return 0


def _seen(result: RenderResult) -> dict[str, dict[str, Any]]:
    return {
        key: {
            "frames": s.frames,
            "first_time_s": round(s.first_time_s, 3),
            "last_time_s": round(s.last_time_s, 3),
            "max_px": round(s.max_px, 1),
        }
        for key, s in result.seen.items()
    }


def summary(result: RenderResult, world: str, video: Path, written: list[Path]) -> dict[str, Any]:
    """The rendering as JSON."""
    return {
        "world": world,
        "video": str(video),
        "frames": result.frames,
        "fps": result.fps,
        "width": result.width,
        "height": result.height,
        "duration_s": round(result.duration_s, 3),
        "start": result.start.isoformat().replace("+00:00", "Z"),
        "start_offset_s": round(result.start_offset_s, 3),
        "defects_seen": len(result.seen),
        "files": [str(p) for p in written],
    }


def describe(result: RenderResult, world: str, track: str, written: list[Path]) -> str:
    """What ``skyledger sim render`` prints."""
    lines = [
        f"rendered {result.frames} frames of the {world} world along {track}: "
        f"{result.duration_s:.1f} s at {result.fps:g} fps, {result.width}x{result.height}",
        f"  frame 0 at {result.start.isoformat().replace('+00:00', 'Z')} "
        f"({result.start_offset_s:.1f} s after the track's first sample)",
        f"  defects in view  {len(result.seen)}",
    ]
    lines += [f"wrote {p}" for p in written]
    return "\n".join(lines)


class _Progress:
    """``progress(done, total)`` on a stream: redrawn in place on a terminal, else a line
    every tenth of the way."""

    def __init__(self, stream: Any, unit: str = "frames") -> None:
        self.stream = stream
        self.unit = unit
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._tenth = -1

    def __call__(self, done: int, total: int) -> None:
        share = done / max(total, 1)
        if self.tty:
            self.stream.write(f"\rrendering {share * 100:3.0f}% ({done}/{total} {self.unit})")
        elif math.floor(share * 10) != self._tenth:
            self._tenth = math.floor(share * 10)
            self.stream.write(f"rendering: {share * 100:3.0f}% ({done}/{total} {self.unit})\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
