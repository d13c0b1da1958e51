"""``skyledger detect``: footage or photos to a located, de-duplicated defect list (work in
:mod:`vision.pipeline`).

    skyledger detect FOOTAGE --track TRACK [--camera NAME|FILE] [--weights W]
                     [--offset S | --align takeoff|camera] [--gimbal-pitch DEG]
                     [--distortion K1,K2,P1,P2[,K3]]
                     [--imgsz N] [--conf C] [--slice PX] [--max-overlap F] [--every-frame]
                     [--device auto|cpu|cuda] [--redact-plates]
                     -o DEFECTS.geojson [--report REPORT.html] [--json]
    skyledger detect PHOTOS_DIR [--track TRACK] [--ground-amsl M] ... -o DEFECTS.geojson

Pictures in the report are always redacted (faces and people blurred); there is no option
to turn that off. Every bad input (an unreadable or truncated video, a track that does not
cover the footage, missing weights or weights of another task, an unknown camera) ends in
one line and exit status 2 before anything is written; the outputs are written together at
the end (:func:`api.commands.write_texts`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from api.commands import CommandError, number_arg, output_file

if TYPE_CHECKING:
    from vision.pipeline import Inspection

DEFAULT_CAMERA = "mavic3-enterprise"
DEFAULT_WEIGHTS = "synthetic-defects.onnx"
GEOJSON_EXTENSIONS = (".geojson", ".json")
REPORT_EXTENSIONS = (".html", ".htm")


def default_weights() -> Path:
    """The shipped model of the synthetic world's defects (``vision/models``)."""
    import vision

    return Path(vision.__file__).parent / "models" / DEFAULT_WEIGHTS


def _fraction(text: str) -> float:
    value = number_arg(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} must be within 0 to < 1 (e.g. 0.5)")
    return value


def _coefficients(text: str) -> tuple[float, ...]:
    values = tuple(number_arg(part) for part in text.split(","))
    if len(values) not in (4, 5):
        raise argparse.ArgumentTypeError(
            f"{text!r} must be 4 or 5 comma-separated numbers: k1,k2,p1,p2[,k3]"
        )
    return values


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def add_commands(sub: Any) -> None:
    """Add ``detect`` to the ``skyledger`` sub-command parsers."""
    p = sub.add_parser(
        "detect",
        help="find, place and count defects in footage or photos",
        description="Find defects in a video (with its flight track) or a folder of "
        "geotagged photos, place each on the map and count it once. Pictures are always "
        "redacted.",
    )
    p.add_argument("input", metavar="FOOTAGE|PHOTOS_DIR", help="a video file or photo folder")
    p.add_argument(
        "--track", metavar="TRACK", help="flight log (.csv, .tlog, .bin); required for video"
    )
    p.add_argument(
        "--camera",
        default=DEFAULT_CAMERA,
        metavar="NAME|FILE.json",
        help=f"the camera that filmed (default {DEFAULT_CAMERA}; see 'skyledger cameras')",
    )
    p.add_argument(
        "--weights",
        metavar="W",
        help=f"YOLO detect weights, .onnx or .pt (default: vision/models/{DEFAULT_WEIGHTS})",
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument(
        "--offset",
        type=number_arg,
        metavar="S",
        help="seconds from the track's start to the first frame (negative: --offset=-2)",
    )
    when.add_argument(
        "--align",
        choices=("takeoff", "camera"),
        help="first frame at takeoff (default) or at the track's first camera event",
    )
    p.add_argument(
        "--gimbal-pitch",
        type=number_arg,
        default=-90.0,
        metavar="DEG",
        help="camera pitch where the track has none (default -90, straight down)",
    )
    p.add_argument(
        "--distortion",
        type=_coefficients,
        metavar="K1,K2,P1,P2[,K3]",
        help="the lens's distortion (OpenCV's model), removed before placing (default: none)",
    )
    p.add_argument(
        "--imgsz", type=_whole, metavar="N", help="network input size (default: the model's)"
    )
    p.add_argument(
        "--conf", type=_fraction, default=0.25, metavar="C", help="score threshold (default 0.25)"
    )
    p.add_argument("--slice", type=_whole, metavar="PX", help="also detect on tiles of PX pixels")
    p.add_argument(
        "--max-overlap",
        type=_fraction,
        default=None,
        metavar="F",
        help="take the next frame when its ground overlaps the last one by at most F (0.8)",
    )
    p.add_argument(
        "--every-frame", action="store_true", help="look at every frame (slow; a baseline)"
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument(
        "--ground-amsl",
        type=number_arg,
        metavar="M",
        help="ground elevation above sea level, for photos without a height above take-off",
    )
    p.add_argument("--redact-plates", action="store_true", help="also blur licence plates")
    p.add_argument(
        "-o", "--output", required=True, metavar="DEFECTS.geojson", help="the defects found"
    )
    p.add_argument("--report", metavar="REPORT.html", help="also write an HTML report")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_detect)


# --- progress -------------------------------------------------------------------------------


class ProgressBar:
    """``progress(done, total)`` drawn on a stream: a bar redrawn in place on a terminal,
    a line every tenth of the way otherwise (logs stay readable)."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str, unit: str, tty: bool | None = None) -> None:
        self.stream = stream
        self.label = label
        self.unit = unit
        self.tty = stream.isatty() if tty is None else tty
        self._drawn = False
        self._last = -math.inf
        self._tenth = 0  # lines at 10 %, 20 % ... 100 %

    def __call__(self, done: int, total: int) -> None:
        total = max(total, 1)
        done = min(max(done, 0), total)
        share = done / total
        if self.tty:
            now = time.monotonic()
            if done < total and now - self._last < 0.1:
                return
            self._last = now
            filled = round(share * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(
                f"\r{self.label} [{bar}] {share * 100:3.0f}% {done}/{total} {self.unit}"
            )
            self._drawn = True
        else:
            tenth = math.floor(share * 10)
            if tenth == self._tenth:
                return
            self._tenth = tenth
            self.stream.write(f"{self.label}: {share * 100:3.0f}% ({done}/{total} {self.unit})\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


# --- the command ----------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> tuple[Path, Path, Path | None]:
    """The input, the GeoJSON and the report paths, checked before any work."""
    output = output_file(args.output, GEOJSON_EXTENSIONS, "-o")
    report = None
    if args.report is not None:
        report = output_file(args.report, REPORT_EXTENSIONS, "--report")
        if report.resolve() == output.resolve():
            raise CommandError(f"--report and -o are the same file {args.report!r}")
    source = Path(args.input)
    if not source.exists():
        raise CommandError(f"{args.input!r} does not exist (a video file or a folder of photos)")
    if source.is_dir():
        for option, value in (
            ("--offset", args.offset),
            ("--align", args.align),
            ("--every-frame", args.every_frame or None),
        ):
            if value is not None:
                raise CommandError(f"{option} is for video footage, not a folder of photos")
    elif args.track is None:
        raise CommandError(f"--track is required for video footage {args.input!r}")
    elif args.ground_amsl is not None:
        raise CommandError("--ground-amsl is for photos; video is placed from its track")
    if not (math.isfinite(args.gimbal_pitch) and -180.0 <= args.gimbal_pitch <= 180.0):
        raise CommandError(f"--gimbal-pitch {args.gimbal_pitch:g} must be within -180..180")
    return source, output, report


def _load(args: argparse.Namespace) -> Any:
    from vision.detector import load_detector

    if args.weights is None:
        weights = default_weights()
        if not weights.is_file():
            raise CommandError(
                f"the default weights {weights} are not installed; give --weights W "
                "(YOLO detect weights, .onnx or .pt)"
            )
    else:
        weights = Path(args.weights)
    return load_detector(
        weights, imgsz=args.imgsz, conf=args.conf, device=args.device, slice_px=args.slice
    )


def run(args: argparse.Namespace, stderr: TextIO | None = None) -> tuple[Inspection, list[Path]]:
    """Do ``skyledger detect`` as parsed: detect, then write the files. Returns what was
    found and the paths written."""
    from api import commands
    from mission.track import read_track
    from vision.pipeline import detect_footage, detect_photos
    from vision.redact import Redactor
    from vision.report import defects_geojson, report_html

    source, output, report = _check(args)
    camera = commands.load_camera(args.camera)
    track = None
    if args.track is not None:
        track = read_track(commands.read_bytes(args.track, "track file"), args.track)
    redactor = Redactor(plates=args.redact_plates)
    err = sys.stderr if stderr is None else stderr
    show = err.isatty() or not args.json
    bar = ProgressBar(err, "detecting", "photos" if source.is_dir() else "frames")
    progress = bar if show else None
    try:
        if source.is_dir():
            inspection = detect_photos(
                source,
                camera,
                lambda: _load(args),
                track=track,
                ground_amsl_m=args.ground_amsl,
                redactor=redactor,
                progress=progress,
                gimbal_pitch_deg=args.gimbal_pitch,
                distortion=args.distortion,
            )
        else:
            assert track is not None  # _check saw to it
            inspection = detect_footage(
                source,
                track,
                camera,
                lambda: _load(args),
                offset_s=args.offset,
                align_mode=args.align or "takeoff",
                **({} if args.max_overlap is None else {"max_overlap": args.max_overlap}),
                every_frame=args.every_frame,
                redactor=redactor,
                progress=progress,
                gimbal_pitch_deg=args.gimbal_pitch,
                distortion=args.distortion,
            )
    finally:
        bar.close()
    paths = [output]
    texts = [json.dumps(defects_geojson(inspection), indent=1) + "\n"]
    if report is not None:
        paths.append(report)
        texts.append(report_html(inspection))
    commands.write_texts(paths, texts)
    return inspection, paths


def summary(inspection: Inspection, written: list[Path]) -> dict[str, Any]:
    """What ``--json`` prints."""
    ins = inspection
    return {
        "source": ins.source,
        "kind": ins.kind,
        "defects": len(ins.defects),
        "counts": ins.counts(),
        "sightings": ins.sightings,
        "detections": ins.detections,
        "unplaced": ins.unplaced,
        "frames_total": ins.frames_total,
        "frames_processed": ins.frames_processed,
        "redacted_regions": ins.redacted_regions,
        "weights": ins.weights,
        "camera": ins.camera,
        "t0": None if ins.t0 is None else ins.t0.isoformat().replace("+00:00", "Z"),
        "alignment": ins.alignment,
        "timings_s": ins.timings,
        "files": [str(p) for p in written],
    }


def describe(inspection: Inspection, written: list[Path]) -> str:
    """What ``skyledger detect`` prints."""
    ins = inspection
    n = len(ins.defects)
    per_class = ", ".join(f"{cls} {count}" for cls, count in ins.counts().items() if count)
    unit = "photos" if ins.kind == "photos" else "frames"
    t = ins.timings
    steps = ", ".join(
        f"{k} {t[k]:.1f}" for k in ("decode", "detect", "place", "merge", "redact") if k in t
    )
    lines = [
        f"{n} distinct defect{'s' if n != 1 else ''}"
        + (f" ({per_class})" if per_class else "")
        + f" from {ins.sightings} sightings in {ins.source}",
        f"  {unit} processed  {ins.frames_processed} of {ins.frames_total}",
        f"  detections        {ins.detections} ({ins.unplaced} not on the ground)",
        f"  redacted regions  {ins.redacted_regions}",
        f"  time              {t.get('total', 0.0):.1f} s ({steps})",
    ]
    lines += [f"wrote {p}" for p in written]
    return "\n".join(lines)


def cmd_detect(args: argparse.Namespace) -> int:
    inspection, written = run(args)
    if args.json:
        print(json.dumps(summary(inspection, written), indent=1))
    else:
        print(describe(inspection, written))
    return 0
