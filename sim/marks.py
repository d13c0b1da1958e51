"""What is drawn on the synthetic ground besides its surfaces: defects and their look-alikes.

A :class:`Mark` is one thing at a place in the world's local metric frame (``x`` east,
``y`` north, metres): a defect of one of :data:`DEFECT_CLASSES`, or a distractor (a shadow, an
oil stain, a manhole, road paint, a patch, an intact insulator string, a pole, a tree, a wire
or a test target) that a detector must learn to leave alone. Its appearance is vector
primitives in metres (:func:`shape`), drawn from the mark's own seed, so one mark looks the
same at every resolution and in every frame, and two marks of one class never look the same.

:func:`draw` rasterises marks into a ground tile of any metres per pixel, anti-aliased by
supersampling, so the texture pyramid of :mod:`sim.ground` holds one world at every level.
Colours are BGR in 0..1, as the rest of the renderer keeps them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from sim.errors import SimError

__all__ = ["DEFECT_CLASSES", "DISTRACTOR_KINDS", "KINDS", "Mark", "Shape", "draw", "shape"]

#: The defect classes of the synthetic world, in the order of the YOLO class ids.
DEFECT_CLASSES = ("crack", "rust", "spalling", "missing_disc")
#: Marks that are not defects: what a detector must not report.
DISTRACTOR_KINDS = (
    "shadow", "oil", "manhole", "paint", "patch", "insulator", "pole", "tree", "wire", "target",
)  # fmt: skip
KINDS = DEFECT_CLASSES + DISTRACTOR_KINDS

# Where shadows fall, as a ground offset per metre of height (local east, north): the sun
# high in the north-west, as on a late-morning flight in the southern hemisphere.
_SUN = np.array([0.45, -0.30])

_FILL, _STROKE, _DOT = 0, 1, 2
_SUBPIXEL_BITS = 4
_SUB = 1 << _SUBPIXEL_BITS


@dataclass(frozen=True)
class Mark:
    """A defect or distractor centred at ``(x_m, y_m)``, ``size_m`` across its long side.

    ``angle_deg`` turns its long axis counter-clockwise from east; ``seed`` draws its look.
    The label region of a ``missing_disc`` is the gap with a disc on either side, so its
    ``size_m`` is three disc spacings, and its centre is the missing disc's place.
    """

    id: str
    kind: str
    x_m: float
    y_m: float
    size_m: float
    angle_deg: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SimError(f"mark {self.id!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        for name in ("x_m", "y_m", "angle_deg"):
            if not math.isfinite(getattr(self, name)):
                raise SimError(f"mark {self.id!r}: {name} {getattr(self, name)} is not finite")
        if not (math.isfinite(self.size_m) and 0 < self.size_m <= 100):
            raise SimError(f"mark {self.id!r}: size {self.size_m} m must be in 0..100 m")

    @property
    def is_defect(self) -> bool:
        return self.kind in DEFECT_CLASSES


@dataclass(frozen=True)
class _Prim:
    kind: int
    pts: np.ndarray  # (n, 2) world metres; a dot's centre is its one row
    size: float  # stroke width or dot radius, metres
    colour: tuple[float, float, float]
    alpha: float


@dataclass(frozen=True)
class Shape:
    """A mark's primitives in world metres, its bounds, and (for defects) its label outline."""

    prims: tuple[_Prim, ...]
    bounds: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max
    extent: np.ndarray  # (n, 2) convex outline in world metres: what a label box covers


# --- building shapes -----------------------------------------------------------------------


class _Builder:
    """Primitives in the mark's own frame (long axis along x), moved into the world at the end."""

    def __init__(self, mark: Mark) -> None:
        self.mark = mark
        self.rng = np.random.default_rng([mark.seed, KINDS.index(mark.kind)])
        self.prims: list[tuple[int, np.ndarray, float, tuple[float, float, float], float]] = []
        a = math.radians(mark.angle_deg)
        self.rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        self.sun = self.rot.T @ _SUN  # the shadow direction in the mark's own frame
        self.extent: np.ndarray | None = None

    def fill(self, pts: np.ndarray, colour: tuple[float, float, float], alpha: float) -> None:
        self.prims.append((_FILL, np.asarray(pts, float), 0.0, colour, alpha))

    def stroke(
        self, pts: np.ndarray, width: float, colour: tuple[float, float, float], alpha: float
    ) -> None:
        self.prims.append((_STROKE, np.asarray(pts, float), width, colour, alpha))

    def dot(
        self, x: float, y: float, r: float, colour: tuple[float, float, float], alpha: float
    ) -> None:
        self.prims.append((_DOT, np.array([[x, y]], float), r, colour, alpha))

    def colour(self, base: tuple[float, float, float], spread: float) -> tuple[float, float, float]:
        """``base`` with its brightness and each channel a little off, per instance."""
        k = 1.0 + self.rng.uniform(-spread, spread)
        c = [min(1.0, max(0.0, v * k + self.rng.uniform(-spread, spread) * 0.15)) for v in base]
        return (c[0], c[1], c[2])

    def blob(self, r: float, rough: float, n: int = 20, stretch: float = 1.0) -> np.ndarray:
        """An irregular closed outline of mean radius ``r``, ``stretch`` times longer along x."""
        t = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
        radius = np.ones(n)
        for k in range(2, 6):
            radius += self.rng.uniform(0, rough / k) * np.cos(k * t + self.rng.uniform(0, 6.3))
        radius += self.rng.uniform(-rough / 3, rough / 3, n)
        radius = r * np.clip(radius, 0.35, 1.6)
        return np.column_stack([radius * np.cos(t) * stretch, radius * np.sin(t)])

    def walk(self, start: np.ndarray, heading: float, length: float, steps: int, wiggle: float):
        """A random-walk polyline of ``steps`` segments that keeps roughly to ``heading``."""
        pts = [np.asarray(start, float)]
        h = heading
        for _ in range(steps):
            h += self.rng.normal(0.0, wiggle) + 0.3 * (heading - h)
            step = length / steps * self.rng.uniform(0.6, 1.4)
            pts.append(pts[-1] + step * np.array([math.cos(h), math.sin(h)]))
        return np.array(pts)

    def done(self) -> Shape:
        m = self.mark
        offset = np.array([m.x_m, m.y_m])
        prims = []
        corners = []
        for kind, pts, size, colour, alpha in self.prims:
            world = pts @ self.rot.T + offset
            prims.append(_Prim(kind, world, size, colour, alpha))
            pad = size if kind == _DOT else size / 2.0
            corners.append(world - pad)
            corners.append(world + pad)
        allpts = np.vstack(corners)
        lo, hi = allpts.min(axis=0), allpts.max(axis=0)
        if self.extent is not None:
            extent = self.extent @ self.rot.T + offset
        else:
            solid = [p for p in prims if p.alpha > 0.3] or prims  # not faint halos
            extent = _hull(np.vstack([_outline(p) for p in solid]))
        return Shape(tuple(prims), (lo[0], lo[1], hi[0], hi[1]), extent)


def _outline(p: _Prim) -> np.ndarray:
    if p.kind == _DOT:
        t = np.linspace(0, 2 * math.pi, 12, endpoint=False)
        return p.pts[0] + p.size * np.column_stack([np.cos(t), np.sin(t)])
    if p.kind == _STROKE:
        h = p.size / 2.0
        return np.vstack([p.pts + d for d in ((h, h), (h, -h), (-h, h), (-h, -h))])
    return p.pts


def _hull(pts: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2).astype(float)


def _grey(v: float) -> tuple[float, float, float]:
    return (v, v, v)


def _crack(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    width = rng.uniform(0.012, 0.03) * min(1.5, max(0.7, size))
    dark = b.colour((0.07, 0.08, 0.1), 0.4)
    main = b.walk(np.array([-size / 2, 0.0]), 0.0, size, int(rng.integers(10, 18)), 0.45)
    main -= (main[0] + main[-1]) / 2.0  # centred on the mark
    b.stroke(main, width * 3.5, dark, rng.uniform(0.12, 0.25))  # damp halo
    thirds = np.array_split(np.arange(len(main)), 3)
    for part, k in zip(thirds, (0.6, 1.0, 0.7), strict=True):
        idx = np.arange(max(0, part[0] - 1), part[-1] + 1)
        b.stroke(main[idx], width * k, dark, rng.uniform(0.8, 0.95))
    for _ in range(int(rng.integers(1, 4))):
        at = main[int(rng.integers(2, len(main) - 2))]
        heading = rng.choice([-1, 1]) * rng.uniform(0.5, 1.3) + rng.normal(0, 0.2)
        branch = b.walk(at, heading, size * rng.uniform(0.15, 0.4), int(rng.integers(3, 7)), 0.5)
        b.stroke(branch, width * rng.uniform(0.4, 0.7), dark, rng.uniform(0.7, 0.9))


def _rust(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    r = size / 2.0 * rng.uniform(0.55, 0.7)
    stretch = rng.uniform(1.0, 1.4)
    orange = b.colour((0.16, 0.38, 0.68), 0.25)
    brown = b.colour((0.08, 0.2, 0.42), 0.25)
    b.fill(b.blob(r * 1.15, 0.5, 24, stretch), orange, rng.uniform(0.3, 0.45))
    b.fill(b.blob(r * 0.85, 0.6, 22, stretch), brown if rng.random() < 0.5 else orange, 0.7)
    for _ in range(int(rng.integers(4, 9))):
        at = rng.uniform(-0.6, 0.6, 2) * r * np.array([stretch, 1.0])
        spot = b.blob(r * rng.uniform(0.12, 0.35), 0.7, 12) + at
        b.fill(spot, b.colour(brown, 0.3), rng.uniform(0.5, 0.85))
    for _ in range(int(rng.integers(2, 6))):  # run-off streaks, one way (downhill)
        x0 = rng.uniform(-0.7, 0.7) * r * stretch
        length = size * rng.uniform(0.2, 0.45)
        streak = b.walk(np.array([x0, 0.0]), -math.pi / 2, length, 4, 0.08)
        w = rng.uniform(0.02, 0.05)
        for i, a in enumerate((0.6, 0.45, 0.25)):
            b.stroke(streak[i : i + 3], w * (1 - 0.2 * i), orange, a)


def _spalling(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    r = size / 2.0 * 0.85
    outline = b.blob(r, 0.35, int(rng.integers(16, 28)), rng.uniform(1.0, 1.35))
    outline *= rng.uniform(0.85, 1.1, (len(outline), 1))  # jagged broken edge
    b.fill(outline * 1.06, _grey(rng.uniform(0.12, 0.22)), 0.55)  # shadowed lip
    b.fill(outline, b.colour((0.74, 0.78, 0.8), 0.12), 0.95)
    for _ in range(int(rng.integers(14, 32))):  # exposed aggregate
        at = rng.uniform(-0.6, 0.6, 2) * r
        stone = b.blob(rng.uniform(0.012, 0.045) * max(1.0, size), 0.6, 7) + at
        b.fill(stone, _grey(rng.uniform(0.45, 0.92)), 0.9)
    angle = rng.uniform(-0.3, 0.3)
    bars = int(rng.integers(1, 4))
    for i in range(bars):  # rebar
        off = (i - (bars - 1) / 2) * r * rng.uniform(0.35, 0.5)
        half = r * rng.uniform(0.45, 0.75)
        d = np.array([math.cos(angle), math.sin(angle)])
        n = np.array([-d[1], d[0]])
        bar = np.array([n * off - d * half, n * off + d * half])
        b.stroke(bar, rng.uniform(0.014, 0.028), b.colour((0.1, 0.17, 0.3), 0.3), 0.95)
    closed = np.vstack([outline, outline[:1]])
    b.stroke(closed, rng.uniform(0.015, 0.035), _grey(rng.uniform(0.1, 0.2)), 0.8)


def _string(b: _Builder, missing: bool) -> None:
    """An insulator string seen from above: discs on a rod, end fittings; maybe one missing."""
    rng = b.rng
    spacing = b.mark.size_m / 3.0
    radius = spacing * rng.uniform(0.55, 0.75)
    n = int(rng.integers(7, 13))
    gap = int(rng.integers(2, n - 2)) if missing else int(rng.integers(0, n))
    xs = (np.arange(n) - gap) * spacing
    # toughened glass (pale green), brown and white porcelain, grey composite: what lines carry
    palette = [(0.55, 0.66, 0.45), (0.2, 0.3, 0.5), (0.8, 0.82, 0.82), (0.55, 0.56, 0.56)]
    body = b.colour(palette[int(rng.integers(len(palette)))], 0.15)
    metal = _grey(rng.uniform(0.25, 0.4))
    ends = np.array([[xs[0] - spacing * 1.2, 0.0], [xs[-1] + spacing * 1.2, 0.0]])
    shade = b.sun * spacing * 1.5
    b.stroke(ends + shade, radius * 1.6, _grey(0.05), 0.25)  # its shadow
    b.stroke(ends, spacing * 0.25, metal, 0.95)  # rod and fittings
    for i, x in enumerate(xs):
        if missing and i == gap:
            if rng.random() < 0.5:  # a broken stub where the disc was
                b.dot(x, rng.uniform(-0.3, 0.3) * radius, radius * 0.3, body, 0.8)
            continue
        k = rng.uniform(0.9, 1.1)
        b.dot(x, 0.0, radius, (body[0] * 0.6, body[1] * 0.6, body[2] * 0.6), 0.95)
        b.dot(x, 0.0, radius * 0.82, (body[0] * k, body[1] * k, body[2] * k), 0.95)
        hi = (min(1, body[0] + 0.3), min(1, body[1] + 0.3), min(1, body[2] + 0.3))
        b.dot(x - radius * 0.3, radius * 0.3, radius * 0.3, hi, 0.6)
    for x in (ends[0, 0], ends[1, 0]):
        b.fill(_rect(x, 0.0, spacing * 0.8, spacing * 0.5), metal, 0.95)
    if missing:
        b.extent = _rect(0.0, 0.0, 3 * spacing, 2 * radius)


def _rect(x: float, y: float, length: float, width: float) -> np.ndarray:
    return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [length / 2, width / 2] + [x, y]


def _shadow(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    outline = b.blob(size / 2, 0.25, 24, 1.0) * [1.0, rng.uniform(0.12, 0.5)]
    a = rng.uniform(0.25, 0.5)
    b.fill(outline * 1.08, _grey(0.03), a * 0.5)
    b.fill(outline, _grey(0.03), a)


def _oil(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    b.fill(b.blob(size / 2, 0.45, 22, rng.uniform(1, 1.5)), _grey(rng.uniform(0.04, 0.1)), 0.35)
    b.fill(b.blob(size / 3, 0.5, 18), _grey(rng.uniform(0.02, 0.07)), rng.uniform(0.3, 0.6))


def _manhole(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    r = size / 2
    iron = _grey(rng.uniform(0.22, 0.38))
    if rng.random() < 0.7:
        b.dot(0, 0, r, _grey(rng.uniform(0.5, 0.65)), 0.95)  # frame
        b.dot(0, 0, r * 0.86, iron, 0.97)
        for k in (0.6, 0.35):
            t = np.linspace(0, 2 * math.pi, 25)
            ring = np.column_stack([np.cos(t), np.sin(t)]) * r * k
            b.stroke(ring, r * 0.06, _grey(iron[0] * 0.6), 0.8)
        for _ in range(2):
            hx, hy = rng.uniform(-0.4, 0.4, 2) * r
            b.dot(float(hx), float(hy), r * 0.07, _grey(0.05), 0.9)
    else:  # a square drain grate
        b.fill(_rect(0, 0, size, size * 0.7), _grey(rng.uniform(0.5, 0.6)), 0.95)
        b.fill(_rect(0, 0, size * 0.88, size * 0.58), iron, 0.97)
        for x in np.linspace(-0.36, 0.36, int(rng.integers(5, 9))) * size:
            b.stroke(np.array([[x, -size * 0.27], [x, size * 0.27]]), size * 0.03, _grey(0.05), 0.9)


def _paint(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    colour = b.colour((0.88, 0.9, 0.9) if rng.random() < 0.6 else (0.2, 0.75, 0.88), 0.08)
    width = rng.uniform(0.1, 0.16)
    lines = int(rng.integers(1, 4))
    for i in range(lines):
        y = (i - (lines - 1) / 2) * rng.uniform(0.3, 0.6)
        b.fill(_rect(0, y, size, width), colour, rng.uniform(0.6, 0.9))
        for _ in range(int(rng.integers(0, 4))):  # worn spots
            x = rng.uniform(-0.45, 0.45) * size
            b.fill(_rect(x, y, rng.uniform(0.03, 0.12), width * 1.1), _grey(0.3), 0.5)


def _patch(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    tar = _grey(rng.uniform(0.06, 0.2))
    if rng.random() < 0.35:  # a crack sealed with tar: smooth, wide, even
        path = b.walk(np.array([-size / 2, 0.0]), 0.0, size, 6, 0.15)
        b.stroke(path - path.mean(axis=0), rng.uniform(0.04, 0.08), tar, 0.85)
        return
    w = size * rng.uniform(0.4, 1.0)
    b.fill(_rect(0, 0, size, w), tar, 0.9)
    corners = np.vstack([_rect(0, 0, size, w), _rect(0, 0, size, w)[:1]])
    b.stroke(corners, 0.04, _grey(0.04), 0.6)


def _pole(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    height = rng.uniform(9, 12)
    b.stroke(np.array([[0, 0], b.sun * height]), 0.25, _grey(0.03), 0.35)  # the pole's shadow
    arm = np.array([[0, -size / 2], [0, size / 2]])
    b.stroke(arm + b.sun * height, 0.12, _grey(0.03), 0.3)
    b.stroke(arm, 0.12, b.colour((0.3, 0.38, 0.45), 0.2), 0.95)
    b.dot(0, 0, 0.16, _grey(rng.uniform(0.45, 0.6)), 0.95)


def _tree(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    r = size / 2
    b.fill(b.blob(r, 0.3, 24) + b.sun * size * 0.9, _grey(0.03), 0.45)
    leaf = b.colour((0.14, 0.32, 0.2), 0.25)
    b.fill(b.blob(r, 0.35, 24), (leaf[0] * 0.7, leaf[1] * 0.7, leaf[2] * 0.7), 0.95)
    for _ in range(int(rng.integers(6, 14))):
        at = rng.uniform(-0.55, 0.55, 2) * r
        k = rng.uniform(0.8, 1.35)
        clump = b.blob(r * rng.uniform(0.2, 0.4), 0.5, 12) + at
        b.fill(clump, (leaf[0] * k, leaf[1] * k, leaf[2] * k), 0.8)


def _wire(b: _Builder) -> None:
    size, rng = b.mark.size_m, b.rng
    line = np.array([[-size / 2, 0.0], [size / 2, 0.0]])
    b.stroke(line + b.sun * rng.uniform(6, 9), 0.03, _grey(0.03), 0.2)
    b.stroke(line, rng.uniform(0.02, 0.035), _grey(0.12), 0.7)


def _target(b: _Builder) -> None:
    r = b.mark.size_m / 2
    b.dot(0, 0, r * 1.5, _grey(1.0), 1.0)
    b.dot(0, 0, r, _grey(0.0), 1.0)


_DRAWERS = {
    "crack": _crack, "rust": _rust, "spalling": _spalling,
    "missing_disc": lambda b: _string(b, True), "insulator": lambda b: _string(b, False),
    "shadow": _shadow, "oil": _oil, "manhole": _manhole, "paint": _paint, "patch": _patch,
    "pole": _pole, "tree": _tree, "wire": _wire, "target": _target,
}  # fmt: skip


@functools.lru_cache(maxsize=8192)
def shape(mark: Mark) -> Shape:
    """The primitives of ``mark`` in world metres (the same every call)."""
    b = _Builder(mark)
    _DRAWERS[mark.kind](b)
    return b.done()


# --- rasterising ----------------------------------------------------------------------------


def _supersampling(mpp: float) -> int:
    return int(min(4, max(1, math.ceil(mpp / 0.01 - 1e-9))))


def draw(marks: list[Mark], tile: np.ndarray, x0: float, y1: float, mpp: float) -> None:
    """Draw ``marks`` over ``tile`` (float32 BGR, rows north to south) in place.

    ``x0`` and ``y1`` are the tile's west and north edges in metres, ``mpp`` its metres per
    pixel. Each mark is drawn at ``ss`` times the tile's resolution, then averaged down.
    """
    import cv2

    height, width = tile.shape[:2]
    ss = _supersampling(mpp)
    for mark in marks:
        sh = shape(mark)
        bx0, by0, bx1, by1 = sh.bounds
        c0 = max(0, math.floor((bx0 - x0) / mpp))
        c1 = min(width, math.ceil((bx1 - x0) / mpp))
        r0 = max(0, math.floor((y1 - by1) / mpp))
        r1 = min(height, math.ceil((y1 - by0) / mpp))
        if c1 <= c0 or r1 <= r0:
            continue
        h, w = (r1 - r0) * ss, (c1 - c0) * ss
        colour = np.zeros((h, w, 3), np.float32)
        alpha = np.zeros((h, w), np.float32)
        px_m = mpp / ss  # metres per canvas pixel
        ox, oy = x0 + c0 * mpp, y1 - r0 * mpp  # the canvas's top-left corner in metres
        for p in sh.prims:
            _prim(p, colour, alpha, ox, oy, px_m)
        if ss > 1:
            colour = cv2.resize(colour, (c1 - c0, r1 - r0), interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(alpha, (c1 - c0, r1 - r0), interpolation=cv2.INTER_AREA)
        region = tile[r0:r1, c0:c1]
        region *= (1.0 - alpha)[:, :, None]
        region += colour


def _prim(
    p: _Prim, colour: np.ndarray, alpha: np.ndarray, ox: float, oy: float, px_m: float
) -> None:
    """Composite one primitive ('over', premultiplied) into a canvas ``colour``/``alpha``."""
    import cv2

    h, w = alpha.shape
    # canvas pixel coordinates, pixel centres at integers (OpenCV's convention)
    u = (p.pts[:, 0] - ox) / px_m - 0.5
    v = (oy - p.pts[:, 1]) / px_m - 0.5
    size_px = p.size / px_m
    pad = (size_px if p.kind == _DOT else size_px / 2.0) + 2.0
    a0, a1 = max(0, math.floor(u.min() - pad)), min(w, math.ceil(u.max() + pad) + 1)
    b0, b1 = max(0, math.floor(v.min() - pad)), min(h, math.ceil(v.max() + pad) + 1)
    if a1 <= a0 or b1 <= b0:
        return
    mask = np.zeros((b1 - b0, a1 - a0), np.uint8)
    pts = np.round(np.column_stack([u - a0, v - b0]) * _SUB).astype(np.int32)
    strength = p.alpha
    if p.kind == _FILL:
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, _SUBPIXEL_BITS)
    elif p.kind == _STROKE:
        thick = max(1, round(size_px))
        strength *= min(1.0, size_px)  # a stroke thinner than a pixel: fainter, not wider
        cv2.polylines(mask, [pts], False, 255, thick, cv2.LINE_AA, _SUBPIXEL_BITS)
    else:
        radius = max(1, round(size_px * _SUB))
        strength *= min(1.0, size_px * size_px)
        cv2.circle(mask, (int(pts[0, 0]), int(pts[0, 1])), radius, 255, -1, cv2.LINE_AA,
                   _SUBPIXEL_BITS)  # fmt: skip
    rgb = np.asarray(p.colour, np.float32)
    region = colour[b0:b1, a0:a1]
    alpha_region = alpha[b0:b1, a0:a1]
    if mask.size > 16384 and cv2.countNonZero(mask) * 4 < mask.size:
        # a long thin stroke across a big box: blend only the pixels it covers
        hit = np.flatnonzero(mask)
        rows, cols = np.divmod(hit, mask.shape[1])
        a = mask.ravel()[hit].astype(np.float32) * np.float32(strength / 255.0)
        keep = 1.0 - a
        region[rows, cols] = region[rows, cols] * keep[:, None] + a[:, None] * rgb
        alpha_region[rows, cols] = alpha_region[rows, cols] * keep + a
        return
    a = mask.astype(np.float32) * np.float32(strength / 255.0)
    keep = 1.0 - a
    region *= keep[:, :, None]
    region += a[:, :, None] * rgb
    alpha_region *= keep
    alpha_region += a
