"""The synthetic ground as a texture pyramid: surfaces of materials, procedural, in tiles.

The ground is the plane ``z = 0`` of a world's local frame. Level ``L`` of the pyramid has
``BASE_MPP * 2**L`` metres per pixel; its pixel grid is anchored at the frame's origin
(column ``c`` covers ``x`` from ``c * mpp`` to ``(c + 1) * mpp``, row ``r`` covers ``y`` from
``-r * mpp`` down to ``-(r + 1) * mpp``) and cut into :data:`TILE` x :data:`TILE` tiles that are
made when first asked for and kept in a bounded cache.

Every level is drawn from the same description in metres: value noise whose lattice is
fixed in the world (octaves finer than two pixels are left out, as a lens would blur them),
slab joints and roof ridges in each surface's own grid, and the marks of :mod:`sim.marks`.
So a tile at any level is the same ground, only sharper or softer, and a frame can take the
level that matches its ground sample distance.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.errors import SimError
from sim.marks import Mark, draw

__all__ = ["BASE_MPP", "LEVELS", "MATERIALS", "TILE", "Ground", "Surface", "level_for"]

BASE_MPP = 0.01
LEVELS = 9  # 0.01 .. 2.56 m per pixel
TILE = 512


@dataclass(frozen=True)
class _Material:
    colour_a: tuple[float, float, float]  # BGR 0..1
    colour_b: tuple[float, float, float]
    mix: tuple[tuple[float, float], ...]  # (wavelength m, weight) of the a/b mixing noise
    light: tuple[tuple[float, float], ...]  # (wavelength m, amplitude) of brightness noise
    joints: float = 0.0  # darkening of slab joints (0: no slabs)
    stripes: float = 0.0  # amplitude of ridges along the surface's angle (roofs)


_MATERIALS: dict[str, _Material] = {
    "grass": _Material(
        (0.2, 0.42, 0.3), (0.28, 0.48, 0.52), ((9.0, 0.7), (2.2, 0.3)),
        ((4.0, 0.08), (0.7, 0.07), (0.12, 0.08), (0.035, 0.07)),
    ),
    "asphalt": _Material(
        (0.25, 0.25, 0.26), (0.31, 0.31, 0.3), ((7.0, 0.8), (1.1, 0.2)),
        ((3.0, 0.05), (0.3, 0.04), (0.05, 0.08), (0.022, 0.07)),
    ),
    "concrete": _Material(
        (0.6, 0.62, 0.63), (0.52, 0.56, 0.6), ((5.0, 0.7), (0.9, 0.3)),
        ((2.5, 0.05), (0.4, 0.04), (0.06, 0.04), (0.022, 0.04)), joints=0.35,
    ),
    "pavers": _Material(
        (0.5, 0.55, 0.62), (0.42, 0.47, 0.56), ((4.0, 0.6), (0.8, 0.4)),
        ((2.0, 0.05), (0.25, 0.04), (0.03, 0.05)), joints=0.3,
    ),
    "roof": _Material(
        (0.24, 0.3, 0.55), (0.45, 0.46, 0.47), ((30.0, 1.0),),
        ((3.0, 0.04), (0.5, 0.03), (0.05, 0.03)), stripes=0.12,
    ),
    "gravel": _Material(
        (0.44, 0.5, 0.55), (0.34, 0.39, 0.44), ((4.0, 0.6), (0.6, 0.4)),
        ((2.0, 0.05), (0.12, 0.08), (0.04, 0.12), (0.02, 0.1)),
    ),
    "water": _Material(
        (0.3, 0.28, 0.16), (0.36, 0.34, 0.2), ((12.0, 1.0),),
        ((5.0, 0.05), (0.6, 0.03)),
    ),
}  # fmt: skip
MATERIALS = tuple(_MATERIALS)


@dataclass(frozen=True)
class Surface:
    """A patch of one material: an outline in local metres (counter-clockwise or not), holes.

    ``angle_deg`` turns its slab grid or roof ridges counter-clockwise from east, ``cell_m``
    is the slab size (concrete, pavers) or ridge spacing (roofs), ``seed`` varies its shade.
    Later surfaces of a world cover earlier ones.
    """

    material: str
    polygon: tuple[tuple[float, float], ...]
    holes: tuple[tuple[tuple[float, float], ...], ...] = ()
    angle_deg: float = 0.0
    cell_m: float = 3.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.material not in _MATERIALS:
            valid = ", ".join(MATERIALS)
            raise SimError(f"surface material {self.material!r} is not one of {valid}")
        if len(self.polygon) < 3:
            raise SimError(f"a {self.material} surface needs 3 or more corners")
        if not (math.isfinite(self.cell_m) and self.cell_m > 0):
            raise SimError(f"surface cell {self.cell_m} m must be > 0")

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        xy = np.asarray(self.polygon, float)
        return (xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max())


class _World(Protocol):
    @property
    def seed(self) -> int: ...

    @property
    def surfaces(self) -> tuple[Surface, ...]: ...

    def marks_in(self, x0: float, y0: float, x1: float, y1: float) -> list[Mark]: ...


def level_for(mpp: float) -> int:
    """The coarsest level whose pixels are no larger than ``mpp`` metres (0 when all are)."""
    if not (math.isfinite(mpp) and mpp > 0):
        return 0
    return int(min(LEVELS - 1, max(0, math.floor(math.log2(mpp / BASE_MPP) + 1e-9))))


def mpp_of(level: int) -> float:
    return BASE_MPP * 2.0**level


# --- noise ----------------------------------------------------------------------------------

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0xBF58476D1CE4E5B9)
_M4 = np.uint64(0x94D049BB133111EB)


def _hash(a: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    """Values in -1..1 for integer lattice nodes ``a`` (columns) x ``b`` (rows)."""
    s = np.array([seed & 0xFFFFFFFF], np.uint64) * _M4
    h = (a.view(np.uint64)[None, :] * _M1) ^ (b.view(np.uint64)[:, None] * _M2) ^ s
    h ^= h >> np.uint64(30)
    h *= _M3
    h ^= h >> np.uint64(27)
    h *= _M4
    h ^= h >> np.uint64(31)
    return (h >> np.uint64(40)).astype(np.float32) * np.float32(2.0 / (1 << 24)) - 1.0


def _noise(
    wavelength: float, seed: int, x0: float, y1: float, mpp: float, w: int, h: int
) -> np.ndarray:
    """Value noise of ``wavelength`` metres over ``h`` x ``w`` pixels whose top-left corner is
    at ``(x0, y1)`` metres (float32, -1..1).

    The lattice is fixed in the world, so neighbouring tiles and other levels agree.
    """
    import cv2

    step = mpp / wavelength
    a0 = math.floor(x0 / wavelength) - 2
    b0 = math.floor((y1 - h * mpp) / wavelength) - 2
    lattice = _hash(
        np.arange(a0, a0 + math.ceil(w * step) + 6, dtype=np.int64),
        np.arange(b0, b0 + math.ceil(h * step) + 6, dtype=np.int64),
        seed,
    )
    m = np.array(
        [
            [step, 0.0, (x0 + 0.5 * mpp) / wavelength - a0],
            [0.0, -step, (y1 - 0.5 * mpp) / wavelength - b0],
        ]
    )
    # cubic where a lattice cell spans many pixels (linear would show its facets)
    smooth = cv2.INTER_CUBIC if step < 1 / 12 else cv2.INTER_LINEAR
    return cv2.warpAffine(
        lattice, m, (w, h), flags=smooth | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )


def _octaves(
    octaves: Sequence[tuple[float, float]], seed: int, x0: float, y1: float, mpp: float,
    w: int, h: int,
) -> np.ndarray | None:  # fmt: skip
    total: np.ndarray | None = None
    for k, (wavelength, amp) in enumerate(octaves):
        if wavelength < 2.0 * mpp:
            continue  # finer than the pixels: blurred away
        layer = _noise(wavelength, seed * 31 + k, x0, y1, mpp, w, h)
        layer *= np.float32(amp)
        if total is None:
            total = layer
        else:
            total += layer
    return total


# --- tiles ----------------------------------------------------------------------------------


def _shade(
    surface: Surface | None, world_seed: int, x0: float, y1: float, mpp: float, w: int, h: int
) -> np.ndarray:
    """The colour (float32 BGR, ``h`` x ``w``) of a surface, or of the ground between surfaces
    (``None``), over pixels whose top-left corner is at ``(x0, y1)`` metres."""
    material = surface.material if surface else "grass"
    mat = _MATERIALS[material]
    seed = world_seed * 7919 + (surface.seed if surface else 0) * 104729 + MATERIALS.index(material)
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 17])
    tint = np.float32(1.0 + rng.uniform(-0.08, 0.08))
    a = np.asarray(mat.colour_a, np.float32) * tint
    b = np.asarray(mat.colour_b, np.float32) * tint
    mix = _octaves(mat.mix, seed, x0, y1, mpp, w, h)
    light = _octaves(mat.light, seed + 1, x0, y1, mpp, w, h)
    factor = np.ones((h, w), np.float32) if light is None else light + np.float32(1.0)
    if surface is not None and (mat.joints or mat.stripes):
        factor *= _pattern(surface, mat, seed, x0, y1, mpp, w, h)
    if mix is None:
        return factor[:, :, None] * ((a + b) / 2.0)
    mix *= np.float32(0.9)
    mix += np.float32(0.5)
    np.clip(mix, 0.0, 1.0, out=mix)
    out: np.ndarray = mix[:, :, None] * (b - a)
    out += a
    out *= factor[:, :, None]
    return out


def _pattern(
    surface: Surface, mat: _Material, seed: int, x0: float, y1: float, mpp: float, w: int, h: int
) -> np.ndarray:
    """Slab joints and per-slab shade, or roof ridges, in the surface's own grid."""
    t = math.radians(surface.angle_deg)
    cos, sin = np.float32(math.cos(t)), np.float32(math.sin(t))
    xs = (x0 + (np.arange(w, dtype=np.float32) + 0.5) * mpp)[None, :]
    ys = (y1 - (np.arange(h, dtype=np.float32) + 0.5) * mpp)[:, None]
    u = (xs * cos + ys * sin) / np.float32(surface.cell_m)
    v = (ys * cos - xs * sin) / np.float32(surface.cell_m)
    factor = np.ones((h, w), np.float32)
    cell_px = surface.cell_m / mpp
    if mat.stripes:
        fade = np.float32(min(1.0, max(0.0, (cell_px - 2.0) / 4.0)))
        if fade > 0:
            factor += np.float32(mat.stripes) * fade * np.cos(np.float32(2 * math.pi) * v)
        return factor
    if mat.joints:
        # each slab a shade of its own: a hash of its grid cell
        iu, iv = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
        slab = _cell_value(iu, iv, seed)
        factor += np.float32(0.07) * slab
        joint_m = 0.02 if surface.cell_m > 1.0 else 0.008
        for coord in (u, v):
            d = np.abs(coord - np.floor(coord + 0.5)) * np.float32(surface.cell_m)  # metres
            half = max(joint_m, mpp) / 2.0
            cover = np.clip((half + mpp / 2.0 - d) / np.float32(mpp), 0.0, 1.0)
            factor -= np.float32(mat.joints * min(1.0, joint_m / mpp)) * cover
    return factor


def _cell_value(iu: np.ndarray, iv: np.ndarray, seed: int) -> np.ndarray:
    """A value in -1..1 per integer cell ``(iu, iv)`` (arrays of one shape)."""
    h = (iu.view(np.uint64) * _M1) ^ (iv.view(np.uint64) * _M2) ^ np.uint64(seed & 0xFFFFFFFF)
    h ^= h >> np.uint64(31)
    h *= _M3
    h ^= h >> np.uint64(29)
    return (h >> np.uint64(40)).astype(np.float32) * np.float32(2.0 / (1 << 24)) - 1.0


class Ground:
    """The texture pyramid of one world, made tile by tile and cached (least recently used)."""

    def __init__(self, world: _World, cache_tiles: int = 192) -> None:
        self.world = world
        self.cache_tiles = cache_tiles
        self._tiles: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()

    def tile(self, level: int, i: int, j: int) -> np.ndarray:
        """Tile ``(i, j)`` of ``level`` (uint8 BGR), column ``i`` eastward, row ``j`` southward."""
        key = (level, i, j)
        found = self._tiles.get(key)
        if found is not None:
            self._tiles.move_to_end(key)
            return found
        made = self._make(level, i, j)
        self._tiles[key] = made
        while len(self._tiles) > self.cache_tiles:
            self._tiles.popitem(last=False)
        return made

    def window(self, level: int, c0: int, r0: int, c1: int, r1: int) -> np.ndarray:
        """Pixels ``[r0, r1) x [c0, c1)`` of ``level``'s grid, assembled from tiles."""
        out = np.empty((r1 - r0, c1 - c0, 3), np.uint8)
        for j in range(r0 // TILE, (r1 - 1) // TILE + 1):
            for i in range(c0 // TILE, (c1 - 1) // TILE + 1):
                t = self.tile(level, i, j)
                ta, tb = max(c0, i * TILE), min(c1, (i + 1) * TILE)
                ra, rb = max(r0, j * TILE), min(r1, (j + 1) * TILE)
                out[ra - r0 : rb - r0, ta - c0 : tb - c0] = t[
                    ra - j * TILE : rb - j * TILE, ta - i * TILE : tb - i * TILE
                ]
        return out

    def _make(self, level: int, i: int, j: int) -> np.ndarray:
        import cv2

        mpp = mpp_of(level)
        x0, y1 = i * TILE * mpp, -j * TILE * mpp
        x1, y0 = x0 + TILE * mpp, y1 - TILE * mpp
        seed = int(self.world.seed)
        tile = np.empty((TILE, TILE, 3), np.float32)
        index = np.zeros((TILE, TILE), np.int32)
        drawn: list[tuple[int, Surface | None]] = [(0, None)]  # the ground between surfaces
        for surface in self.world.surfaces:
            sx0, sy0, sx1, sy1 = surface.bounds
            if sx1 < x0 or sx0 > x1 or sy1 < y0 or sy0 > y1:
                continue
            k = len(drawn)
            ring = _pixels(surface.polygon, x0, y1, mpp)
            if not surface.holes:
                cv2.fillPoly(index, [ring], k, cv2.LINE_8, 4)
            else:  # what lies under a hole stays as it was
                inside = np.zeros((TILE, TILE), np.uint8)
                cv2.fillPoly(inside, [ring], 1, cv2.LINE_8, 4)
                holes = [_pixels(h, x0, y1, mpp) for h in surface.holes]
                cv2.fillPoly(inside, holes, 0, cv2.LINE_8, 4)
                index[inside > 0] = k
            drawn.append((k, surface))
        for k, shown in drawn:
            mask = index == k
            if not mask.any():
                continue
            rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
            r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            shaded = _shade(shown, seed, x0 + c0 * mpp, y1 - r0 * mpp, mpp, c1 - c0, r1 - r0)
            np.copyto(tile[r0:r1, c0:c1], shaded, where=mask[r0:r1, c0:c1, None])
        draw(self.world.marks_in(x0, y0, x1, y1), tile, x0, y1, mpp)
        return np.clip(tile * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _pixels(ring: Sequence[tuple[float, float]], x0: float, y1: float, mpp: float) -> np.ndarray:
    """A ring in metres as fixed-point (4 fractional bits) tile pixel coordinates."""
    xy = np.asarray(ring, float)
    u = (xy[:, 0] - x0) / mpp - 0.5
    v = (y1 - xy[:, 1]) / mpp - 0.5
    return np.round(np.column_stack([u, v]) * 16).astype(np.int32)
