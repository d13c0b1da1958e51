"""Inline SVG for the public pages: a flight's route over its asset, and a bar chart.

No tiles, no script: the route is projected to a local metric frame
(:class:`mission.geodesy.LocalFrame`) and drawn with its asset's outline, a scale bar and a
north arrow, in at most ``max_points`` vertices so a page stays small. Every figure is
``role="img"`` with a ``<title>`` and ``<desc>`` (named by ``aria-labelledby``); the page
also says in words what it shows. Colours come from presentation attributes (the site's
Content-Security-Policy forbids ``style`` attributes) and keep 3:1 against the background.

>>> nice_length(730.0)
500.0
>>> nice_length(0.3)
0.2
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

__all__ = ["RouteFigure", "bar_chart_svg", "nice_length", "route_measures", "route_svg"]

ROUTE_COLOUR = "#0b5cab"
ASSET_COLOUR = "#8a4b00"
INK = "#1b1b1b"
BACKGROUND = "#f5f7fa"
#: Least ground extent drawn (metres), so a hover or a single point still has a frame.
MIN_EXTENT_M = 60.0


def nice_length(metres: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above ``metres``."""
    if metres <= 0 or not math.isfinite(metres):
        return 1.0
    power = 10.0 ** math.floor(math.log10(metres))
    for step in (5.0, 2.0, 1.0):
        if step * power <= metres * (1 + 1e-9):
            return round(step * power, 10)
    return power


@dataclass(frozen=True)
class RouteFigure:
    """A drawn route: the SVG and what it shows, for the text alternative."""

    svg: Markup
    length_m: float
    east_west_m: float
    north_south_m: float
    points_drawn: int


def route_measures(route: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """A route's length and its east-west and north-south extents, in metres."""
    from mission.geodesy import LocalFrame

    if not route:
        return 0.0, 0.0, 0.0
    lons, lats = [float(p[0]) for p in route], [float(p[1]) for p in route]
    frame = LocalFrame((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2)
    xs, ys = frame.to_local(lons, lats)
    xy = list(zip(xs.tolist(), ys.tolist(), strict=True))
    length = sum(math.dist(a, b) for a, b in itertools.pairwise(xy))
    return length, float(xs.max() - xs.min()), float(ys.max() - ys.min())


def _thin(xy: list[tuple[float, float]], max_points: int) -> list[tuple[float, float]]:
    """At most ``max_points`` vertices: simplified with a growing tolerance, then strided."""
    if len(xy) <= max_points:
        return xy
    from shapely.geometry import LineString

    line = LineString(xy)
    tolerance = 0.5
    coords = list(line.coords)
    while len(coords) > max_points and tolerance < 1e6:
        coords = list(line.simplify(tolerance, preserve_topology=False).coords)
        tolerance *= 2
    if len(coords) > max_points:
        step = math.ceil(len(coords) / max_points)
        coords = [*coords[::step][: max_points - 1], coords[-1]]
    return [(float(x), float(y)) for x, y in coords]


def _geometry_lines(geometry: dict[str, Any] | None) -> list[tuple[str, list[list[list[float]]]]]:
    """(kind, rings or lines) of a GeoJSON geometry: 'point', 'line' or 'polygon'."""
    if not geometry:
        return []
    kind = geometry.get("type")
    coords: Any = geometry.get("coordinates") or []
    if kind == "Point":
        return [("point", [[list(coords)]])]
    if kind == "MultiPoint":
        return [("point", [[list(c)]]) for c in coords]
    if kind == "LineString":
        return [("line", [coords])]
    if kind == "MultiLineString":
        return [("line", [c]) for c in coords]
    if kind == "Polygon":
        return [("polygon", coords)]
    if kind == "MultiPolygon":
        return [("polygon", c) for c in coords]
    if kind == "GeometryCollection":
        return [p for g in geometry.get("geometries", []) for p in _geometry_lines(g)]
    return []


def route_svg(
    route: Sequence[Sequence[float]],
    asset: dict[str, Any] | None,
    *,
    ident: str,
    title: str,
    desc: str,
    distance_text: Callable[[float], str],
    north: str = "N",
    width: int = 640,
    height: int = 420,
    max_points: int = 400,
) -> RouteFigure:
    """The route (lon, lat vertices) and the asset's GeoJSON geometry as one SVG figure.

    ``ident`` makes the ids of the title and description unique on the page;
    ``distance_text`` writes the scale bar's length in the page's language.
    """
    from mission.geodesy import LocalFrame

    shapes = _geometry_lines(asset)
    every = [(float(p[0]), float(p[1])) for p in route]
    every += [(float(c[0]), float(c[1])) for _, rings in shapes for ring in rings for c in ring]
    if not every:
        raise ValueError("a route figure needs at least one position")
    lons, lats = [p[0] for p in every], [p[1] for p in every]
    frame = LocalFrame((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2)

    def local(points: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
        if not points:
            return []
        xs, ys = frame.to_local([p[0] for p in points], [p[1] for p in points])
        return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]

    path = local(route)
    length = sum(math.dist(a, b) for a, b in itertools.pairwise(path))
    all_xy = local(every)
    min_x, max_x = min(p[0] for p in all_xy), max(p[0] for p in all_xy)
    min_y, max_y = min(p[1] for p in all_xy), max(p[1] for p in all_xy)
    span_x, span_y = max(max_x - min_x, MIN_EXTENT_M), max(max_y - min_y, MIN_EXTENT_M)
    pad = 28.0
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad - 24) / span_y)
    cx, cy = (min_x + max_x) / 2, (min_y + max_y) / 2

    def view(x: float, y: float) -> tuple[float, float]:
        return width / 2 + (x - cx) * scale, (height - 24) / 2 - (y - cy) * scale

    def to_view(x: float, y: float) -> str:
        vx, vy = view(x, y)
        return f"{vx:.1f},{vy:.1f}"

    drawn = _thin(path, max_points)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="route-map" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'focusable="false">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="{BACKGROUND}" '
        f'stroke="#767676" stroke-width="1"/>',
    ]
    for kind, rings in shapes:
        if kind == "point":
            px, py = view(*local(rings[0])[0])
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="7" fill="none" '
                f'stroke="{ASSET_COLOUR}" stroke-width="3"/>'
            )
        elif kind == "line":
            points = " ".join(to_view(*p) for p in local(rings[0]))
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{ASSET_COLOUR}" '
                f'stroke-width="4" stroke-dasharray="8 4"/>'
            )
        else:
            d = " ".join("M" + " L".join(to_view(*p) for p in local(ring)) + " Z" for ring in rings)
            parts.append(
                f'<path d="{d}" fill="{ASSET_COLOUR}" fill-opacity="0.15" fill-rule="evenodd" '
                f'stroke="{ASSET_COLOUR}" stroke-width="2.5"/>'
            )
    if len(drawn) > 1:
        points = " ".join(to_view(*p) for p in drawn)
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{ROUTE_COLOUR}" '
            f'stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>'
        )
    if drawn:
        sx, sy = view(*drawn[0])
        ex, ey = view(*drawn[-1])
        parts.append(
            f'<circle cx="{sx:.1f}" cy="{sy:.1f}" r="6" fill="#ffffff" '
            f'stroke="{INK}" stroke-width="2.5"/>'
        )
        parts.append(f'<rect x="{ex - 4:.1f}" y="{ey - 4:.1f}" width="8" height="8" fill="{INK}"/>')
    # scale bar (bottom left) and north arrow (top right)
    bar_m = nice_length(0.25 * width / scale)
    bar_px = bar_m * scale
    base = height - 14
    parts.append(
        f'<path d="M{pad:.1f},{base - 6} V{base} H{pad + bar_px:.1f} V{base - 6}" '
        f'fill="none" stroke="{INK}" stroke-width="2"/>'
    )
    parts.append(
        f'<text x="{pad + bar_px + 6:.1f}" y="{base}" font-size="16" fill="{INK}">'
        f"{escape(distance_text(bar_m))}</text>"
    )
    ax = width - 26
    parts.append(
        f'<path d="M{ax},12 L{ax + 8},34 L{ax},29 L{ax - 8},34 Z" fill="{INK}"/>'
        f'<text x="{ax}" y="52" font-size="16" text-anchor="middle" fill="{INK}">'
        f"{escape(north)}</text>"
    )
    parts.append("</svg>")
    return RouteFigure(
        svg=Markup("".join(parts)),
        length_m=length,
        east_west_m=max_x - min_x,
        north_south_m=max_y - min_y,
        points_drawn=len(drawn),
    )


def bar_chart_svg(
    rows: Sequence[tuple[str, int]],
    *,
    ident: str,
    title: str,
    desc: str,
    width: int = 640,
) -> Markup:
    """Horizontal bars, one row per (label, value), the value written at each bar's end."""
    label_w, row_h, pad = 110, 24, 8
    height = pad * 2 + row_h * max(len(rows), 1)
    top = max((v for _, v in rows), default=0) or 1
    usable = width - label_w - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="chart" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'focusable="false">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
    ]
    for i, (label, value) in enumerate(rows):
        y = pad + i * row_h
        bar = usable * value / top
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="14" text-anchor="end" '
            f'fill="{INK}">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="{row_h - 8}" '
            f'fill="{ROUTE_COLOUR}"/>'
            f'<text x="{label_w + bar + 6:.1f}" y="{y + 16}" font-size="14" '
            f'fill="{INK}">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
