"""What the ``skyledger`` commands do: read inputs, plan, render, write, measure.

:mod:`api.cli` parses the arguments and prints; the functions here do the work and
are what :mod:`api.demo` (and later the web service) call, so every path through the
project plans and writes files the same way. All file I/O of the command line lives
here: :mod:`mission` only ever sees text.

Writing is all or nothing: every output text is rendered before the first byte is
written, each file goes to a temporary name beside its target and is moved into place
with :func:`os.replace` once all of them are written.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mission.errors import MissionError

if TYPE_CHECKING:
    from mission.analysis import Analysis
    from mission.camera import Camera
    from mission.plan import Home, Plan, Vehicle


class CommandError(Exception):
    """A bad command-line input found outside :mod:`mission` (a file, an extension, a flag)."""


def number_arg(text: str) -> float:
    """An ``argparse`` type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def output_file(path: str, extensions: tuple[str, ...], option: str) -> Path:
    """``path`` as an output file of one of ``extensions`` in an existing folder."""
    p = Path(path)
    if p.suffix.lower() not in extensions:
        raise CommandError(f"{option} {path!r} must end in {' or '.join(extensions)}")
    if not p.parent.is_dir():
        raise CommandError(f"output folder {str(p.parent)!r} does not exist")
    if p.is_dir():
        raise CommandError(f"{option} {path!r} is a folder; give a file name")
    return p


def user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a command reports in one line as the user's error (exit status 2)."""
    from compliance.errors import ComplianceError
    from sim.errors import SimError
    from vision.errors import VisionError

    return (CommandError, MissionError, ComplianceError, SimError, VisionError, OSError)


# --- reading ----------------------------------------------------------------------------------


def read_bytes(path: str | os.PathLike[str], what: str) -> bytes:
    """The bytes of a file, or a one-line :class:`CommandError` saying why not."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise CommandError(f"{what} {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise CommandError(f"{what} {str(p)!r} is a folder, not a file") from None
    except OSError as exc:
        raise CommandError(f"cannot read {what} {str(p)!r}: {exc.strerror or exc}") from None


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of a file, or a one-line :class:`CommandError` saying why not."""
    try:
        return read_bytes(path, what).decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{what} {str(path)!r} is not UTF-8 text") from None


def load_camera(spec: str) -> Camera:
    """A preset camera by name, or a custom camera from a ``.json`` file."""
    from mission.camera import PRESETS, camera_from_json, preset

    if spec in PRESETS:
        return PRESETS[spec]
    if spec.lower().endswith(".json") or os.sep in spec or Path(spec).is_file():
        return camera_from_json(read_text(spec, "camera file"), source=spec)
    return preset(spec)  # raises, naming the presets


def load_feature(
    path: str, kinds: tuple[str, ...], feature: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The chosen feature of a GeoJSON/KML file and the file's home marker, if it has one."""
    from mission import assets

    text = read_text(path, "file")
    fmt = "kml" if path.lower().endswith(".kml") else None
    document = assets.read_document(text, path, fmt)
    try:
        chosen = assets.pick_feature(document, path, kinds, feature=feature)
    except assets.FeatureChoiceError as exc:
        raise CommandError(f"{exc} with --feature NAME") from None
    return chosen, assets.find_home(document, path)


# --- plan parameters --------------------------------------------------------------------------


def resolve_home(
    home: tuple[float, float, float | None] | None, marker: dict[str, Any] | None
) -> Home | None:
    """``--home LAT,LON[,ALT]``, else the input file's home marker, else ``None`` (planner's)."""
    from mission.plan import Home

    if home is not None:
        lat, lon, alt = home
        return Home(lat_deg=lat, lon_deg=lon, alt_amsl_m=0.0 if alt is None else alt)
    if marker is not None:
        lon, lat = marker["geometry"]["coordinates"]
        alt = marker["properties"].get("alt_amsl_m")
        return Home(lat_deg=lat, lon_deg=lon, alt_amsl_m=0.0 if alt is None else float(alt))
    return None


def from_feature(
    value: Any, feature: dict[str, Any] | None, key: str, option: str, kind: type = float
) -> Any:
    """A parameter from the command line, else from the feature's properties, else an error."""
    if value is not None:
        return value
    props = (feature or {}).get("properties") or {}
    if key in props:
        found = props[key]
        if kind is float:
            if (
                isinstance(found, bool)
                or not isinstance(found, int | float)
                or not math.isfinite(found)
            ):
                raise CommandError(f"feature property {key} {found!r} is not a number")
            return float(found)
        return found
    raise CommandError(f"{option} is required (or a {key} property on the input feature)")


def _vehicle(args: argparse.Namespace) -> Vehicle | None:
    from mission.plan import Vehicle

    return None if args.endurance is None else Vehicle(endurance_s=args.endurance)


def _name(args: argparse.Namespace, feature: dict[str, Any] | None, path: str | None) -> str:
    if args.name:
        return str(args.name)
    name = ((feature or {}).get("properties") or {}).get("name")
    if isinstance(name, str) and name:
        return name
    return Path(path).stem if path else ""


def plan_from_args(args: argparse.Namespace) -> Plan:
    """Plan the pattern ``args.pattern`` from parsed ``skyledger plan ...`` arguments."""
    check_output_path(args.output)
    camera = load_camera(args.camera)
    common: dict[str, Any] = {
        "front_overlap": args.front_overlap / 100.0,
        "side_overlap": args.side_overlap / 100.0,
        "vehicle": _vehicle(args),
        "hover": args.hover,
        "ceiling_m": args.ceiling,
    }
    if args.pattern == "survey":
        from mission.survey import plan_survey

        area, marker = load_feature(args.area, ("Polygon",), args.feature)
        return plan_survey(
            area["geometry"],
            camera,
            gsd_cm=args.gsd,
            altitude_m=args.altitude,
            angle_deg=args.angle,
            turnaround_m=args.turnaround,
            crosshatch=args.crosshatch,
            home=resolve_home(args.home, marker),
            name=_name(args, area, args.area),
            **common,
        )
    if args.pattern == "corridor":
        from mission.corridor import plan_corridor

        line, marker = load_feature(args.line, ("LineString",), args.feature)
        return plan_corridor(
            line["geometry"],
            from_feature(args.width, line, "width_m", "--width"),
            camera,
            gsd_cm=args.gsd,
            altitude_m=args.altitude,
            turnaround_m=args.turnaround,
            home=resolve_home(args.home, marker),
            name=_name(args, line, args.line),
            **common,
        )
    if args.pattern == "structure":
        return _plan_structure(args, camera, common)
    if args.pattern == "facade":
        from mission.facade import plan_facade

        line, marker = load_feature(args.line, ("LineString",), args.feature)
        return plan_facade(
            line["geometry"],
            camera,
            height_min_m=from_feature(args.height_min, line, "height_min_m", "--height-min"),
            height_max_m=from_feature(args.height_max, line, "height_max_m", "--height-max"),
            standoff_m=args.standoff,
            gsd_cm=args.gsd,
            side=_side(args.side, line),
            home=resolve_home(args.home, marker),
            name=_name(args, line, args.line),
            **common,
        )
    raise CommandError(f"unknown pattern {args.pattern!r}")  # argparse prevents this


def _side(value: str | None, feature: dict[str, Any]) -> str:
    side = value or (feature.get("properties") or {}).get("side") or "left"
    if side not in ("left", "right"):
        raise CommandError(f"feature property side {side!r} is not 'left' or 'right'")
    return str(side)


def _plan_structure(args: argparse.Namespace, camera: Camera, common: dict[str, Any]) -> Plan:
    from mission.structure import plan_structure

    feature: dict[str, Any] | None = None
    marker = None
    center: tuple[float, float] | None = None
    footprint = None
    radius = args.radius
    if args.center is not None:
        lat, lon, _ = args.center
        center = (lon, lat)
        if radius is None:
            raise CommandError("--radius is required with --center (metres, > 0)")
    else:
        feature, marker = load_feature(args.footprint, ("Polygon", "Point"), args.feature)
        if feature["geometry"]["type"] == "Point":
            lon, lat = feature["geometry"]["coordinates"]
            center = (lon, lat)
            radius = from_feature(radius, feature, "radius_m", "--radius")
        else:
            footprint = feature["geometry"]
    return plan_structure(
        camera,
        center=center,
        radius_m=radius,
        footprint=footprint,
        height_m=from_feature(args.height, feature, "height_m", "--height"),
        standoff_m=args.standoff,
        gsd_cm=args.gsd,
        gimbal_pitch_deg=args.gimbal_pitch,
        home=resolve_home(args.home, marker),
        name=_name(args, feature, args.footprint),
        **common,
    )


# --- formats ----------------------------------------------------------------------------------


def extensions() -> tuple[str, ...]:
    """The file extensions skyledger reads and writes, with their dot."""
    from mission import formats

    return tuple(e if e.startswith(".") else f".{e}" for e in formats.EXTENSIONS)


def format_of(path: str | os.PathLike[str]) -> str:
    """The extension of ``path`` (lower case, with dot) when it is a known plan format."""
    ext = Path(path).suffix.lower()
    known = extensions()
    if ext not in known:
        shown = repr(ext) if ext else "no extension"
        raise CommandError(f"{str(path)!r} has {shown}; use one of {', '.join(known)}")
    return ext


def check_output_path(path: str | os.PathLike[str]) -> str:
    """Fail early, before planning, on an unknown extension or a missing output folder."""
    ext = format_of(path)
    parent = Path(path).parent
    if not parent.is_dir():
        raise CommandError(f"output folder {str(parent)!r} does not exist")
    return ext


def output_paths(path: str | os.PathLike[str], count: int) -> list[Path]:
    """``OUT`` for one file; ``OUT-s1.ext``, ``OUT-s2.ext`` ... for one file per sortie."""
    p = Path(path)
    if count == 1:
        return [p]
    from mission import formats

    return [p.with_name(Path(n).name) for n in formats.output_names(p.stem, p.suffix, count)]


def read_plan(path: str) -> Plan:
    """A plan from any file skyledger reads, told by its extension."""
    from mission import formats

    ext = format_of(path)
    return formats.parse(read_text(path, "plan file"), ext, path)


def _umask_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file (0o666 less the umask)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_texts(paths: Sequence[Path], texts: Sequence[str | bytes]) -> None:
    """Write every text (or bytes) to its path, all or nothing as far as the file system allows."""
    temps: list[str] = []
    try:
        for path, text in zip(paths, texts, strict=True):
            fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            temps.append(temp)
            data = text if isinstance(text, bytes) else text.encode("utf-8")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        mode = _umask_mode()
        for temp, path in zip(temps, paths, strict=True):
            os.chmod(temp, mode)  # mkstemp makes files private; outputs are ordinary files
            os.replace(temp, path)
    except OSError as exc:
        for temp in temps:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        where = exc.filename or (paths[0] if paths else "")
        raise CommandError(f"cannot write {str(where)!r}: {exc.strerror or exc}") from None


def write_plan(
    plan: Plan, path: str | os.PathLike[str], analysis: Analysis | None = None
) -> list[Path]:
    """Render ``plan`` in the format ``path``'s extension names and write it (several files
    for a multi-sortie ``.plan``/``.waypoints``). Returns the paths written.

    ``analysis`` is the plan's paper flight, when the caller has it, so writers that show
    metrics or photo footprints do not fly it again."""
    from mission import formats

    ext = check_output_path(path)
    texts = formats.render(plan, ext, analysis)
    paths = output_paths(path, len(texts))
    write_texts(paths, texts)
    return paths


# --- measuring and describing -----------------------------------------------------------------


def analyse(plan: Plan) -> Analysis:
    """The plan flown on paper (:func:`mission.analysis.analyse`), once per command."""
    from mission.analysis import analyse as fly

    return fly(plan)


def measure(plan: Plan, analysis: Analysis) -> tuple[dict[str, Any], list[str]]:
    """The plan's metrics (:meth:`PlanMetrics.to_dict`) with pattern and name, and warnings."""
    metrics = {"pattern": plan.pattern, "name": plan.name, **analysis.metrics.to_dict()}
    return metrics, list(analysis.warnings)


def km(distance_m: float) -> str:
    return f"{distance_m / 1000:.2f} km" if distance_m >= 1000 else f"{distance_m:.0f} m"


def duration(seconds: float) -> str:
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def gsd(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} cm/px"


def coverage(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def summary(metrics: dict[str, Any]) -> str:
    """One line: pattern, distance, duration, photos, GSD, coverage, sorties, items."""
    name = f" {metrics['name']!r}" if metrics.get("name") else ""
    sorties = metrics["sorties"]
    return (
        f"{metrics['pattern']}{name}: {km(metrics['distance_m'])}, "
        f"{duration(metrics['duration_s'])}, {metrics['photos']} photos, "
        f"GSD {gsd(metrics['gsd_cm'])}, coverage {coverage(metrics['coverage'])}, "
        f"{sorties} {'sortie' if sorties == 1 else 'sorties'}, {metrics['items']} items"
    )


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain text table, columns left-aligned, numbers right-aligned."""
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def numeric(text: str) -> bool:
        return re.fullmatch(r"-|[-+]?[\d.,]+(?: ?[%a-z/]+)?", text) is not None

    lines = []
    for n, row in enumerate(cells):
        parts = [
            c.rjust(w) if n and numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
