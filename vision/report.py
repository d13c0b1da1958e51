"""Inspection results as files: GeoJSON of the defects, and an HTML report readable offline.

:func:`defects_geojson` is the machine-readable result: a FeatureCollection with one Point
(lon, lat) per distinct defect and the inspection's particulars, with its schema and
version, in a top-level ``skyledger`` member (as every document skyledger writes).

:func:`report_html` is for people: one self-contained page (no scripts, no fonts, no
pictures or styles fetched from anywhere; the crops are inline base64 JPEG, the map inline
SVG) with a summary table, a map of the defects over the line flown with a scale bar,
a table of all defects, and each defect with its redacted picture. Every text that comes
from input (file names, class names) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime
from typing import Any

import numpy as np

from mission.geodesy import LocalFrame
from vision.dedup import Defect
from vision.pipeline import Inspection

__all__ = ["DEFECTS_SCHEMA", "DEFECTS_VERSION", "defect_id", "defects_geojson", "report_html"]

DEFECTS_SCHEMA = "skyledger.defects"
DEFECTS_VERSION = 1
#: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies).
_PALETTE = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
_MAP_W = 760.0
_MAP_MARGIN = 28.0
_JPEG_QUALITY = 90


def defect_id(n: int) -> str:
    """The id of the ``n``-th defect (1-based) of an inspection: ``D001``, ``D002`` ..."""
    return f"D{n:03d}"


def _stamp(time: datetime | None) -> str | None:
    if time is None:
        return None
    return time.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def defects_geojson(inspection: Inspection) -> dict[str, Any]:
    """The distinct defects as a GeoJSON FeatureCollection.

    Each feature is a Point ``[lon, lat]`` (WGS84) with properties ``id``, ``class``,
    ``confidence`` (the best sighting's score), ``sightings`` (frames it was found in),
    ``time_s`` (seconds from frame 0 to its best sighting), ``utc``, ``error_m`` (1-sigma
    horizontal error of the position, metres), ``frame_index`` and ``box`` (the best
    sighting's box in that frame's pixels, x1 y1 x2 y2). The top-level ``skyledger``
    member carries the schema, its version and the inspection's particulars.
    """
    features = []
    for n, d in enumerate(inspection.defects, 1):
        ident = defect_id(n)
        features.append(
            {
                "type": "Feature",
                "id": ident,
                "geometry": {"type": "Point", "coordinates": [round(d.lon, 8), round(d.lat, 8)]},
                "properties": {
                    "id": ident,
                    "class": d.cls,
                    "confidence": round(float(d.confidence), 4),
                    "sightings": int(d.sightings),
                    "time_s": round(float(d.time_s), 3),
                    "utc": _stamp(inspection.utc_of(d.time_s)),
                    "error_m": round(float(d.error_m), 3),
                    "frame_index": int(d.frame_index),
                    "box": None if d.box is None else [round(v, 1) for v in d.box.xyxy],
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "skyledger": {
            "schema": DEFECTS_SCHEMA,
            "version": DEFECTS_VERSION,
            "source": inspection.source,
            "kind": inspection.kind,
            "weights": inspection.weights,
            "camera": inspection.camera,
            "home": [inspection.home[0], inspection.home[1]],
            "t0": _stamp(inspection.t0),
            "alignment": inspection.alignment,
            "frames_total": inspection.frames_total,
            "frames_processed": inspection.frames_processed,
            "detections": inspection.detections,
            "unplaced": inspection.unplaced,
            "redacted_regions": inspection.redacted_regions,
            "classes": list(inspection.classes),
            "counts": inspection.counts(),
        },
        "features": features,
    }


# --- HTML ---------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


def _jpeg_data_uri(image: np.ndarray) -> str | None:
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def _colours(inspection: Inspection) -> dict[str, str]:
    names = list(inspection.classes)
    names += sorted({d.cls for d in inspection.defects} - set(names))
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(names)}


def _nice_length(target_m: float) -> float:
    """The largest of 1, 2, 5 x 10^k metres not above ``target_m``."""
    if target_m <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(target_m))
    for step in (5.0, 2.0, 1.0):
        if step * power <= target_m:
            return step * power
    return power


def _metres(length_m: float) -> str:
    return f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"


def _map_svg(inspection: Inspection, colours: dict[str, str]) -> str:
    """An SVG map (north up, metres to scale) of the defects and the line flown."""
    frame = LocalFrame(*inspection.home)
    dx, dy = [], []
    if inspection.defects:
        x, y = frame.to_local(
            [d.lon for d in inspection.defects], [d.lat for d in inspection.defects]
        )
        dx, dy = [float(v) for v in x], [float(v) for v in y]
    tx: list[float] = []
    ty: list[float] = []
    if inspection.track:
        x, y = frame.to_local([p[0] for p in inspection.track], [p[1] for p in inspection.track])
        tx, ty = [float(v) for v in x], [float(v) for v in y]
    xs, ys = dx + tx, dy + ty
    if not xs:
        xs, ys = [0.0], [0.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    span = max(x1 - x0, y1 - y0, 20.0)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    half_w = max(x1 - x0, span * 0.5) / 2.0 * 1.1
    half_h = max(y1 - y0, span * 0.3) / 2.0 * 1.1
    inner_w = _MAP_W - 2 * _MAP_MARGIN
    scale = inner_w / (2 * half_w)  # px per metre
    inner_h = 2 * half_h * scale
    if inner_h > inner_w:  # a tall map: fit the height instead
        scale = inner_w / (2 * half_h)
        inner_h = inner_w
    height = inner_h + 2 * _MAP_MARGIN + 24

    def px(x: float, y: float) -> tuple[float, float]:
        return (_MAP_W / 2 + (x - cx) * scale, _MAP_MARGIN + inner_h / 2 - (y - cy) * scale)

    n = len(inspection.defects)
    desc = (
        f"{n} defect{'s' if n != 1 else ''} placed on a plan view, north up"
        + (", over the line flown" if tx else "")
        + "."
    )
    parts = [
        f'<svg class="map" viewBox="0 0 {_MAP_W:.0f} {height:.0f}" role="img" '
        'aria-labelledby="map-title map-desc">',
        '<title id="map-title">Map of the defects found</title>',
        f'<desc id="map-desc">{_e(desc)}</desc>',
        f'<rect x="0" y="0" width="{_MAP_W:.0f}" height="{height:.0f}" class="map-bg"/>',
    ]
    if tx:
        points = " ".join("{:.1f},{:.1f}".format(*px(x, y)) for x, y in zip(tx, ty, strict=True))
        parts.append(
            f'<polyline class="track" points="{points}"><title>line flown</title></polyline>'
        )
    for k, d in enumerate(inspection.defects):
        ident = defect_id(k + 1)
        u, v = px(dx[k], dy[k])
        colour = colours.get(d.cls, _PALETTE[0])
        label = f"{ident}: {d.cls}, confidence {d.confidence:.2f}, ±{d.error_m:.1f} m"
        ring = d.error_m * scale
        parts.append(f'<a href="#{ident}"><g class="defect"><title>{_e(label)}</title>')
        if ring >= 2.0:
            parts.append(
                f'<circle cx="{u:.1f}" cy="{v:.1f}" r="{ring:.1f}" class="error" '
                f'stroke="{colour}"/>'
            )
        parts.append(f'<circle cx="{u:.1f}" cy="{v:.1f}" r="5" fill="{colour}" class="dot"/>')
        parts.append(f'<text x="{u + 7:.1f}" y="{v - 6:.1f}" class="label">{_e(ident)}</text>')
        parts.append("</g></a>")
    # the scale bar and the north arrow
    bar_m = _nice_length(inner_w / scale / 4.0)
    bar_px = bar_m * scale
    bx, by = _MAP_MARGIN, height - 14
    parts.append(
        f'<g class="scale" aria-hidden="true"><rect x="{bx:.1f}" y="{by - 6:.1f}" '
        f'width="{bar_px:.1f}" height="6"/><text x="{bx + bar_px + 6:.1f}" y="{by:.1f}">'
        f"{_e(_metres(bar_m))}</text></g>"
    )
    ax = _MAP_W - _MAP_MARGIN
    parts.append(
        f'<g class="north" aria-hidden="true"><path d="M{ax:.1f},{_MAP_MARGIN - 16:.1f} '
        f'l6,14 h-12 z"/><text x="{ax:.1f}" y="{_MAP_MARGIN + 10:.1f}" '
        'text-anchor="middle">N</text></g>'
    )
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:62rem;padding:1rem;color:#1b1b1b;background:#fff;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.3rem;margin-top:2rem;border-bottom:1px solid #ccc}
h3{font-size:1.1rem;margin:0 0 .5rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}caption{text-align:left;font-weight:600;
padding:.3rem 0}th,td{border:1px solid #bbb;padding:.25rem .6rem;text-align:left;
vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
thead th{background:#eef1f4}tfoot th,tfoot td{font-weight:600}
.map{width:100%;height:auto;border:1px solid #999}.map-bg{fill:#f7f7f2}
.track{fill:none;stroke:#555;stroke-width:2;stroke-dasharray:6 4}
.error{fill:none;stroke-width:1.5;stroke-dasharray:3 2}.dot{stroke:#000;stroke-width:1}
.label{font-size:12px;fill:#000}.scale rect{fill:#000}.scale text,.north text{font-size:12px}
.north path{fill:#000}.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1rem}
.swatch{display:inline-block;width:.9rem;height:.9rem;border:1px solid #000;
vertical-align:middle;margin-right:.3rem}
.defects{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:1rem}
article{border:1px solid #bbb;border-radius:4px;padding:.8rem}
article img{width:12rem;height:auto;image-rendering:pixelated;border:1px solid #888}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:.5rem 0 0}
dt{font-weight:600}dd{margin:0}.note{color:#444;font-size:.9rem}
@media print{article{break-inside:avoid}}
"""


def _summary(inspection: Inspection) -> str:
    ins = inspection
    frames = "photos" if ins.kind == "photos" else "frames"
    rows = [
        ("Source", ins.source),
        ("Kind", "folder of photos" if ins.kind == "photos" else "video"),
        ("Start (UTC)", _stamp(ins.t0) or "-"),
        ("Alignment", ins.alignment),
        ("Camera", ins.camera),
        ("Weights", ins.weights),
        (f"{frames.capitalize()} processed", f"{ins.frames_processed} of {ins.frames_total}"),
        ("Detections", f"{ins.detections} ({ins.unplaced} not placed on the ground)"),
        ("Distinct defects", str(len(ins.defects))),
        ("Regions redacted", str(ins.redacted_regions)),
    ]
    body = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in rows)
    out = [f"<table><caption>Inspection</caption><tbody>{body}</tbody></table>"]
    counts = ins.counts()
    seen: dict[str, int] = {}
    for d in ins.defects:
        seen[d.cls] = seen.get(d.cls, 0) + d.sightings
    lines = "".join(
        f'<tr><th scope="row">{_e(cls)}</th><td class="n">{n}</td>'
        f'<td class="n">{seen.get(cls, 0)}</td></tr>'
        for cls, n in counts.items()
    )
    out.append(
        "<table><caption>Distinct defects per class</caption><thead><tr>"
        '<th scope="col">Class</th><th scope="col">Defects</th><th scope="col">Sightings</th>'
        f'</tr></thead><tbody>{lines}</tbody><tfoot><tr><th scope="row">All</th>'
        f'<td class="n">{len(ins.defects)}</td><td class="n">{ins.sightings}</td></tr>'
        "</tfoot></table>"
    )
    return "".join(out)


def _table(inspection: Inspection) -> str:
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in (
            "Defect", "Class", "Confidence", "Longitude", "Latitude", "Error (1σ)",
            "Sightings", "Time", "Frame",
        )
    )  # fmt: skip
    rows = []
    for n, d in enumerate(inspection.defects, 1):
        ident = defect_id(n)
        rows.append(
            f'<tr><th scope="row"><a href="#{ident}">{ident}</a></th><td>{_e(d.cls)}</td>'
            f'<td class="n">{d.confidence:.2f}</td><td class="n">{d.lon:.7f}</td>'
            f'<td class="n">{d.lat:.7f}</td><td class="n">{d.error_m:.1f} m</td>'
            f'<td class="n">{d.sightings}</td><td class="n">{_clock(d.time_s)}</td>'
            f'<td class="n">{d.frame_index}</td></tr>'
        )
    return (
        "<table><caption>All defects (positions WGS84, error 1-sigma horizontal; time from "
        f"the first frame, minutes:seconds)</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _article(inspection: Inspection, n: int, d: Defect) -> str:
    ident = defect_id(n)
    where = "photo" if inspection.kind == "photos" else "frame"
    uri = None if d.crop is None or not getattr(d.crop, "size", 0) else _jpeg_data_uri(d.crop)
    if uri is not None:
        h, w = d.crop.shape[:2] if d.crop is not None else (0, 0)
        alt = (
            f"Redacted picture of defect {ident}, a {d.cls}, from {where} {d.frame_index} "
            f"(confidence {d.confidence:.2f})"
        )
        picture = f'<img src="{uri}" width="{w}" height="{h}" alt="{_e(alt)}">'
    else:
        picture = '<p class="note">No picture of this defect.</p>'
    utc = _stamp(inspection.utc_of(d.time_s))
    items = [
        ("Class", d.cls),
        ("Confidence", f"{d.confidence:.2f}"),
        ("Position", f"{d.lat:.7f}, {d.lon:.7f} (lat, lon)"),
        ("Error (1σ)", f"{d.error_m:.2f} m"),
        ("Sightings", str(d.sightings)),
        ("Time", f"{_clock(d.time_s)} ({d.time_s:.1f} s)" + (f", {utc}" if utc else "")),
        (where.capitalize(), str(d.frame_index)),
    ]
    facts = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return (
        f'<article id="{ident}" aria-labelledby="{ident}-h"><h3 id="{ident}-h">{ident}: '
        f"{_e(d.cls)}</h3>{picture}<dl>{facts}</dl></article>"
    )


def report_html(inspection: Inspection, title: str | None = None) -> str:
    """A self-contained HTML report of ``inspection`` (see the module notes)."""
    ins = inspection
    heading = title or f"Inspection report: {ins.source}"
    colours = _colours(ins)
    legend = "".join(
        f'<li><span class="swatch" style="background:{c}" aria-hidden="true"></span>{_e(cls)}</li>'
        for cls, c in colours.items()
    )
    if ins.defects:
        listing = _table(ins) + (
            '<div class="defects">'
            + "".join(_article(ins, n, d) for n, d in enumerate(ins.defects, 1))
            + "</div>"
        )
    else:
        listing = "<p>No defects were found.</p>"
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{_e(heading)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n",
            f"<header><h1>{_e(heading)}</h1>",
            f'<p class="note">Generated by skyledger from {_e(ins.source)}. Pictures are '
            "redacted: faces and people are blurred before they are kept.</p></header>\n<main>\n",
            f'<section aria-labelledby="summary"><h2 id="summary">Summary</h2>{_summary(ins)}'
            "</section>\n",
            '<section aria-labelledby="map"><h2 id="map">Map</h2><figure>',
            _map_svg(ins, colours),
            "<figcaption>Defects (dots, with a dashed circle of their 1-sigma error where it "
            "shows at this scale) and the line flown (dashed), north up.</figcaption></figure>"
            f'<ul class="legend" aria-label="Classes">{legend}</ul></section>\n',
            f'<section aria-labelledby="defects"><h2 id="defects">Defects</h2>{listing}'
            "</section>\n</main>\n</body>\n</html>\n",
        ]
    )
