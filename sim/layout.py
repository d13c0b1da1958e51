"""Where things are in the synthetic worlds: the sample city's and random districts' layouts.

:func:`sample_city_world` dresses each asset of ``mission/data/sample_city.geojson`` so its
inspection flight sees several defects: a slab deck over a creek with cracks, spalling and
rust; poles along the power line carrying insulator strings, some with a missing disc, and
stained pads at its substation and pump station; a paved apron and roof at the water tower;
a pavement along the library facade; paths and a plaza in the park. Roads with paint,
manholes, patches and oil stains join them. :func:`random_world` makes a random district of
the same ingredients for training data. Both are deterministic for their seed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from mission.geodesy import LocalFrame
from sim.ground import Surface
from sim.marks import Mark
from sim.world import World

__all__ = ["random_world", "sample_city_world"]

_HARD = ("asphalt", "concrete", "pavers")


class _Placer:
    """Marks and surfaces being laid out; marks keep clear of each other (labels stay clean)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 20240501])
        self.surfaces: list[Surface] = []
        self.marks: list[Mark] = []
        self._taken: list[tuple[float, float, float]] = []
        self._count: dict[str, int] = {}

    def surface(
        self, material: str, geom: BaseGeometry, angle_deg: float = 0.0, cell_m: float = 3.0
    ) -> None:
        polys = getattr(geom, "geoms", [geom])
        for poly in polys:
            if not isinstance(poly, Polygon) or poly.is_empty or poly.area < 0.5:
                continue
            self.surfaces.append(
                Surface(
                    material,
                    tuple(map(tuple, np.asarray(poly.exterior.coords)[:-1])),
                    tuple(tuple(map(tuple, np.asarray(r.coords)[:-1])) for r in poly.interiors),
                    angle_deg,
                    cell_m,
                    int(self.rng.integers(1 << 30)),
                )
            )

    def add(
        self, kind: str, x: float, y: float, size: float, angle: float | None = None,
        prefix: str = "", clear: bool = True,
    ) -> Mark:  # fmt: skip
        name = prefix or kind
        self._count[name] = self._count.get(name, 0) + 1
        if angle is None:
            angle = float(self.rng.uniform(0, 360))
        mark = Mark(f"{name}-{self._count[name]:02d}", kind, float(x), float(y), float(size),
                    float(angle), int(self.rng.integers(1 << 30)))  # fmt: skip
        self.marks.append(mark)
        if clear:
            self._taken.append((float(x), float(y), _radius(kind, size)))
        return mark

    def free(self, x: float, y: float, kind: str, size: float) -> bool:
        r = _radius(kind, size)
        return all(math.hypot(x - a, y - b) > r + c + 0.3 for a, b, c in self._taken)

    def scatter(
        self, region: BaseGeometry, kinds: Sequence[str], count: int,
        sizes: tuple[float, float], prefix: str = "", tries: int = 400,
    ) -> int:  # fmt: skip
        """Place up to ``count`` marks inside ``region``, kinds in turn; how many were placed."""
        if region.is_empty:
            return 0
        shapely.prepare(region)
        x0, y0, x1, y1 = region.bounds
        placed = 0
        for k in range(count):
            kind = kinds[k % len(kinds)]
            size = float(self.rng.uniform(*sizes))
            for _ in range(tries):
                x, y = self.rng.uniform(x0, x1), self.rng.uniform(y0, y1)
                if shapely.contains_xy(region, x, y) and self.free(x, y, kind, size):
                    self.add(kind, x, y, size, prefix=prefix)
                    placed += 1
                    break
        return placed

    def world(self, name: str, home: tuple[float, float], seed: int) -> World:
        # wires over everything else; otherwise in the order laid
        order = sorted(range(len(self.marks)), key=lambda k: self.marks[k].kind == "wire")
        return World(name, home, tuple(self.surfaces), tuple(self.marks[k] for k in order), seed)


def _radius(kind: str, size: float) -> float:
    """How far from its centre a mark reaches, for keeping marks apart."""
    if kind in ("missing_disc", "insulator"):
        return size * 2.2  # the whole string, not only the label's three spacings
    if kind == "tree":
        return size * 0.9
    return size * 0.6


def _angle(line: LineString) -> float:
    (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def _axis(poly: Polygon) -> float:
    """The direction of a polygon's long side, degrees counter-clockwise from east."""
    rect = np.asarray(poly.minimum_rotated_rectangle.exterior.coords)
    sides = [rect[1] - rect[0], rect[2] - rect[1]]
    long = max(sides, key=lambda v: float(np.hypot(*v)))
    return math.degrees(math.atan2(long[1], long[0]))


def _road(p: _Placer, line: LineString, width: float, dashes: bool = True) -> BaseGeometry:
    """An asphalt road along ``line`` with a dashed centre line and the odd manhole or patch."""
    road = line.buffer(width / 2.0, cap_style="flat")
    p.surface("asphalt", road)
    for seg in zip(line.coords[:-1], line.coords[1:], strict=True):
        piece = LineString(seg)
        angle = _angle(piece)
        if dashes:
            for d in np.arange(3.0, piece.length - 3.0, 9.0):
                at = piece.interpolate(d)
                p.add("paint", at.x, at.y, 3.0, angle, prefix="paint", clear=False)
    p.scatter(road.buffer(-1.5), ["manhole", "patch", "oil"], int(line.length / 35), (0.5, 1.4))
    return road


def _power_line(
    p: _Placer, line: LineString, missing: int, spacing: float = 42.0,
    discs: tuple[float, float] = (0.15, 0.25),
) -> None:  # fmt: skip
    """Poles along ``line`` with three insulator strings each and wires between; ``missing``
    of the strings lack a disc; ``discs``: the range of disc spacings (metres)."""
    p.surface("gravel", line.buffer(1.6, cap_style="flat"))
    poles: list[tuple[float, float, float]] = []  # x, y, direction of the line there
    coords = list(line.coords)
    for (ax, ay), (bx, by) in itertools.pairwise(coords):
        seg = LineString([(ax, ay), (bx, by)])
        n = max(1, math.ceil(seg.length / spacing))
        for k in range(n):
            at = seg.interpolate(k / n, normalized=True)
            poles.append((at.x, at.y, _angle(seg)))
    poles.append((coords[-1][0], coords[-1][1], poles[-1][2]))
    strings = [(i, off) for i in range(len(poles)) for off in (-1.2, 0.0, 1.2)]
    chosen = set(
        p.rng.choice(len(strings), size=min(missing, len(strings)), replace=False).tolist()
    )
    spacing_m = float(p.rng.uniform(*discs))
    for k, (i, off) in enumerate(strings):
        x, y, heading = poles[i]
        t = math.radians(heading)
        nx, ny = -math.sin(t), math.cos(t)
        sx, sy = x + off * nx + 1.2 * math.cos(t), y + off * ny + 1.2 * math.sin(t)
        kind = "missing_disc" if k in chosen else "insulator"
        p.add(kind, sx, sy, spacing_m * 3, heading, prefix="power-line" if k in chosen else "")
    for x, y, heading in poles:
        p.add("pole", x, y, 2.8, heading + 90.0, clear=False)
    for (ax, ay, _h), (bx, by, _h2) in itertools.pairwise(poles):
        t = math.atan2(by - ay, bx - ax)
        nx, ny = -math.sin(t), math.cos(t)
        length = math.hypot(bx - ax, by - ay) - 3.0
        for off in (-1.2, 0.0, 1.2):
            cx, cy = (ax + bx) / 2 + off * nx, (ay + by) / 2 + off * ny
            p.add("wire", cx, cy, max(0.5, length), math.degrees(t), clear=False)


def _station(p: _Placer, at: Point, toward: float, name: str, roof: bool) -> None:
    """A substation or pump station: gravel yard, concrete pads (or a roof), stains."""
    t = math.radians(toward)
    cx, cy = at.x - 16 * math.cos(t), at.y - 16 * math.sin(t)
    yard = affinity.rotate(box(cx - 14, cy - 10, cx + 14, cy + 10), toward, (cx, cy))
    p.surface("gravel", yard)
    pads = []
    for dx in (-8.0, 0.0, 8.0):
        pad = affinity.rotate(box(cx + dx - 2.5, cy - 2, cx + dx + 2.5, cy + 2), toward,
                                      (cx, cy))  # fmt: skip
        pads.append(pad)
        p.surface("roof" if roof and dx == 0.0 else "concrete", pad, toward, 1.5 if roof else 4)
    hard = shapely.union_all(pads).buffer(-0.4)
    p.scatter(hard, ["rust", "rust", "crack", "spalling"], 4, (0.4, 1.0), prefix=name)
    p.scatter(yard.difference(hard.buffer(1)), ["oil", "shadow", "patch"], 3, (0.6, 2.0))


def sample_city_world(home: tuple[float, float] | None, seed: int) -> World:
    """The sample city (see the module's docstring)."""
    from mission.assets import sample_city

    city = sample_city()
    assets = {f["properties"]["name"]: f for f in city["features"]}
    marker = next(f for f in city["features"] if f["properties"].get("kind") == "home")
    lon0, lat0 = marker["geometry"]["coordinates"][:2]
    origin = (float(lon0), float(lat0)) if home is None else (float(home[0]), float(home[1]))
    frame = LocalFrame(*origin)

    def local(name: str) -> BaseGeometry:
        def move(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(frame.to_local(xy[:, 0], xy[:, 1]))

        return shapely.transform(shape(assets[name]["geometry"]), move)

    p = _Placer(seed)
    hx, hy = (float(v) for v in frame.to_local(lon0, lat0))
    _sample_roads(p, local, (hx, hy))
    pad = box(hx - 10, hy - 10, hx + 10, hy + 10)
    p.surface("concrete", pad, 0.0, 4.0)
    p.scatter(pad.buffer(-1), ["crack", "rust", "spalling"], 3, (0.4, 1.0), prefix="home")
    p.scatter(pad.buffer(-1), ["oil", "paint", "manhole"], 3, (0.5, 1.5))
    for name, dress in (
        ("bridge-deck", _bridge), ("power-line", _line), ("water-tower", _tower),
        ("facade", _facade), ("park", _park),
    ):  # fmt: skip
        if name in assets:
            dress(p, local(name), assets[name]["properties"], name)
    p.scatter(
        box(hx - 450, hy - 450, hx + 450, hy + 450).difference(
            shapely.union_all([Polygon(s.polygon) for s in p.surfaces]).buffer(2)
        ),
        ["tree", "shadow", "tree"], 90, (3.0, 8.0),
    )  # fmt: skip
    return p.world("sample", origin, seed)


def _sample_roads(
    p: _Placer, local: Callable[[str], BaseGeometry], home: tuple[float, float]
) -> None:
    hx, hy = home
    roads = [
        LineString([(hx - 460, hy + 40), (hx + 460, hy + 40)]),
        LineString([(hx - 60, hy - 460), (hx - 60, hy + 460)]),
    ]
    street = local("facade")
    if isinstance(street, LineString):
        roads.append(street.offset_curve(-19.0).simplify(1.0))
    for line in roads:
        if isinstance(line, LineString) and line.length > 10:
            road = _road(p, line, 7.0)
            p.scatter(road.buffer(-1), ["crack", "patch"], int(line.length / 120), (0.5, 1.2),
                      prefix="road")  # fmt: skip


def _bridge(p: _Placer, deck: BaseGeometry, props: dict, name: str) -> None:
    axis = _axis(deck)
    c = deck.centroid
    t = math.radians(axis + 90.0)
    creek = LineString([(c.x - 160 * math.cos(t), c.y - 160 * math.sin(t)),
                        (c.x + 160 * math.cos(t), c.y + 160 * math.sin(t))])  # fmt: skip
    p.surface("gravel", creek.buffer(13))
    p.surface("water", creek.buffer(9))
    ta = math.radians(axis)
    approach = LineString([(c.x - 110 * math.cos(ta), c.y - 110 * math.sin(ta)),
                           (c.x + 110 * math.cos(ta), c.y + 110 * math.sin(ta))])  # fmt: skip
    p.surface("asphalt", approach.buffer(6.5, cap_style="flat"))
    p.surface("concrete", deck, axis, 5.0)
    inner = deck.buffer(-1.0)
    for off in (-2.5, 2.5):
        lane = approach.offset_curve(off).intersection(inner)
        for seg in getattr(lane, "geoms", [lane]):
            for d in np.arange(2.0, seg.length - 2, 8.0) if seg.length > 4 else ():
                at = seg.interpolate(d)
                p.add("paint", at.x, at.y, 3.0, axis, clear=True)
    p.scatter(inner, ["crack", "spalling", "rust"], 9, (0.4, 1.2), prefix=name)
    p.scatter(inner, ["oil", "patch", "manhole", "oil"], 4, (0.5, 1.2))


def _line(p: _Placer, line: BaseGeometry, props: dict, name: str) -> None:
    if not isinstance(line, LineString):
        return
    _power_line(p, line, 8, discs=(0.2, 0.25))  # big enough to see from 56 m
    first, last = LineString(line.coords[:2]), LineString(line.coords[-2:])
    _station(p, Point(line.coords[0]), _angle(first), "substation", roof=False)
    _station(p, Point(line.coords[-1]), _angle(last) + 180.0, "pump-station", roof=True)


def _tower(p: _Placer, centre: BaseGeometry, props: dict, name: str) -> None:
    radius = float(props.get("radius_m", 6.0))
    ring = float(props.get("standoff_m", 12.0)) + radius
    c = centre.centroid
    apron = c.buffer(ring + 7, 48)
    p.surface("concrete", apron, 15.0, 3.0)
    p.surface("roof", c.buffer(radius, 48), 0.0, 0.6)
    shadow_dir = math.atan2(-0.3, 0.45)
    p.add("shadow", c.x + (radius + 9) * math.cos(shadow_dir), c.y + (radius + 9) * math.sin(
        shadow_dir), 16.0, math.degrees(shadow_dir))  # fmt: skip
    p.scatter(c.buffer(radius - 1.0), ["rust", "crack"], 2, (0.4, 0.9), prefix=name)
    band = c.buffer(ring + 5).difference(c.buffer(ring - 6))
    p.scatter(band, ["crack", "spalling", "rust"], 6, (0.4, 1.2), prefix=name)
    p.scatter(band, ["manhole", "oil", "patch"], 3, (0.5, 1.2))


def _facade(p: _Placer, line: BaseGeometry, props: dict, name: str) -> None:
    if not isinstance(line, LineString):
        return
    right = props.get("side", "right") == "right"
    sign = -1.0 if right else 1.0  # shapely: positive distance buffers to the left
    axis = _angle(LineString(line.coords[:2]))
    pavement = line.buffer(sign * 15.0, single_sided=True)
    p.surface("pavers", pavement, axis, 0.5)
    p.surface("roof", line.buffer(-sign * 20.0, single_sided=True), axis, 0.5)
    near = line.buffer(sign * 11.0, single_sided=True).difference(
        line.buffer(sign * 3.0, single_sided=True).buffer(0.5))  # fmt: skip
    p.scatter(near, ["crack", "spalling", "rust"], 8, (0.4, 1.0), prefix=name)
    p.scatter(near, ["manhole", "oil", "tree"], 3, (0.6, 1.2))


def _park(p: _Placer, park: BaseGeometry, props: dict, name: str) -> None:
    if not isinstance(park, Polygon):
        return
    p.surface("grass", Polygon(park.exterior))
    for hole in park.interiors:
        p.surface("water", Polygon(hole))
    x0, y0, x1, y1 = park.bounds
    dry = park.buffer(-2)
    paths = [
        LineString([(x0, y0), (x1, y1)]),
        LineString([(x0, (y0 + y1) / 2), (x1, (y0 + y1) / 2 + 12)]),
    ]
    walk = shapely.union_all([line.buffer(1.8, cap_style="flat") for line in paths]).intersection(
        dry)  # fmt: skip
    p.surface("asphalt", walk)
    c = dry.representative_point()
    plaza = box(c.x - 9, c.y - 9, c.x + 9, c.y + 9).intersection(dry)
    p.surface("concrete", plaza, 0.0, 3.0)
    hard = shapely.union_all([walk, plaza]).buffer(-0.5)
    p.scatter(hard, ["crack", "spalling", "rust"], 8, (0.9, 1.5), prefix=name)
    p.scatter(dry.difference(hard.buffer(2)), ["tree", "shadow"], 14, (3.0, 7.0))
    p.scatter(hard, ["manhole", "oil", "paint"], 4, (0.6, 1.5))


def random_world(seed: int, home: tuple[float, float] | None, extent_m: float) -> World:
    """A random district: areas of hard surfaces and roofs, roads, maybe a power line, and
    many defects and distractors on them (dense, for training images)."""
    from mission.assets import sample_city

    if home is None:
        marker = next(f for f in sample_city()["features"] if f["properties"].get("kind") == "home")
        home = (float(marker["geometry"]["coordinates"][0]),
                float(marker["geometry"]["coordinates"][1]))  # fmt: skip
    p = _Placer(seed)
    rng = p.rng
    half = extent_m / 2.0
    area = box(-half, -half, half, half)
    hard: list[BaseGeometry] = []
    roofs: list[BaseGeometry] = []
    for _ in range(int(rng.integers(6, 12))):
        material = str(rng.choice(["concrete", "asphalt", "pavers", "roof", "gravel", "concrete"]))
        cx, cy = rng.uniform(-half, half, 2)
        w, h = rng.uniform(12, extent_m * 0.3, 2)
        angle = float(rng.uniform(0, 180))
        rect = affinity.rotate(box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), angle)
        p.surface(material, rect, angle, float(rng.uniform(0.4, 0.8) if material in ("pavers",
                  "roof") else rng.uniform(2.5, 5)))  # fmt: skip
        (roofs if material in ("roof", "gravel") else hard).append(rect)
    for _ in range(int(rng.integers(1, 4))):
        a = rng.uniform(0, math.pi)
        off = rng.uniform(-half * 0.7, half * 0.7)
        d, n = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
        line = LineString([n * off - d * extent_m, n * off + d * extent_m]).intersection(area)
        if isinstance(line, LineString) and line.length > 20:
            hard.append(_road(p, line, float(rng.uniform(5, 9))))
    if rng.random() < 0.7:
        a = rng.uniform(0, math.pi)
        d = np.array([math.cos(a), math.sin(a)])
        start = rng.uniform(-half * 0.3, half * 0.3, 2)
        line = LineString([start - d * half * 0.9, start + d * half * 0.9])
        _power_line(p, line, int(rng.integers(4, 10)), float(rng.uniform(28, 42)))
    ground = shapely.union_all(hard).intersection(area).buffer(-0.6)
    top = shapely.union_all(roofs).intersection(area).buffer(-0.6) if roofs else Polygon()
    count = int(extent_m * extent_m / 400.0)
    p.scatter(ground, ["crack", "spalling", "rust", "crack"], count, (0.3, 1.5), prefix="d")
    p.scatter(top, ["rust", "crack"], count // 5, (0.3, 1.2), prefix="d")
    p.scatter(ground, ["oil", "patch", "manhole", "paint", "shadow"], count, (0.4, 1.8))
    p.scatter(area.difference(ground.buffer(1)), ["tree", "shadow", "oil"], count // 3, (1, 6))
    return p.world(f"random:{seed}", home, seed)
