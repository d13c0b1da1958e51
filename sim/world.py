"""A georeferenced synthetic world: flat ground of surfaces, with defects at known positions.

A :class:`World` is a plane at the home elevation around a home ``(lon, lat)``, described in
the home's :class:`~mission.geodesy.LocalFrame` (``x`` east, ``y`` north, metres): surfaces of
materials (:class:`~sim.ground.Surface`: grass, asphalt, concrete slabs, pavers, roofs, gravel,
water) and marks (:class:`~sim.marks.Mark`): defects of :data:`~sim.marks.DEFECT_CLASSES`
and distractors that look a little like them. :mod:`sim.render` draws what a camera sees of
it; :meth:`World.truth_geojson` says where the defects are, for measuring a detector.

Worlds are values, the same for the same arguments: :meth:`World.sample` is the sample city
(``mission/data/sample_city.geojson``) with defects on and around each of its assets,
:meth:`World.random` a random district for training data, and :meth:`World.named` picks
either by the name the command line uses.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from mission.errors import MissionError
from mission.geodesy import LocalFrame, check_lonlat
from sim.errors import SimError
from sim.ground import Surface
from sim.marks import DEFECT_CLASSES, Mark, shape

__all__ = ["TRUTH_SCHEMA", "WORLD_NAMES", "TruthDefect", "World", "read_truth"]

TRUTH_SCHEMA = "skyledger.truth"
#: What ``--world`` takes: the sample city, or ``random:SEED`` (a random district).
WORLD_NAMES = ("sample", "random:SEED")
_INDEX_CELL_M = 16.0


@dataclass(frozen=True)
class TruthDefect:
    """One ground-truth defect: where it is (WGS84), its class, its size across (metres)."""

    id: str
    cls: str
    lon: float
    lat: float
    size_m: float


@dataclass(frozen=True, eq=False)
class World:
    """Flat ground around ``home`` (lon, lat): ``surfaces`` (later over earlier) and ``marks``.

    ``seed`` shades the ground between surfaces; mark ids must be unique.
    """

    name: str
    home: tuple[float, float]
    surfaces: tuple[Surface, ...] = ()
    marks: tuple[Mark, ...] = ()
    seed: int = 0
    _index: dict[tuple[int, int], list[int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    #: what renderers keep of this world between calls (:func:`sim.render.render_view`)
    cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            lon, lat = (float(v) for v in self.home)
            check_lonlat(lon, lat, f"world {self.name!r} home")
        except (MissionError, TypeError, ValueError) as exc:
            raise SimError(f"world {self.name!r}: home {self.home!r}: {exc}") from None
        object.__setattr__(self, "home", (lon, lat))
        object.__setattr__(self, "surfaces", tuple(self.surfaces))
        object.__setattr__(self, "marks", tuple(self.marks))
        seen: set[str] = set()
        for m in self.marks:
            if m.id in seen:
                raise SimError(f"world {self.name!r}: mark id {m.id!r} is used twice")
            seen.add(m.id)

    @cached_property
    def frame(self) -> LocalFrame:
        """The local metric frame of the world (origin at home, ``z`` = 0 the ground)."""
        return LocalFrame(*self.home)

    @property
    def defects(self) -> tuple[Mark, ...]:
        """The marks that are defects, in world order."""
        return tuple(m for m in self.marks if m.is_defect)

    def marks_in(self, x0: float, y0: float, x1: float, y1: float) -> list[Mark]:
        """The marks whose drawing reaches into the box ``[x0, x1] x [y0, y1]`` (metres)."""
        if not self._index and self.marks:
            self._build_index()
        c = _INDEX_CELL_M
        found: set[int] = set()
        for ix in range(math.floor(x0 / c), math.floor(x1 / c) + 1):
            for iy in range(math.floor(y0 / c), math.floor(y1 / c) + 1):
                found.update(self._index.get((ix, iy), ()))
        out = []
        for k in sorted(found):
            bx0, by0, bx1, by1 = shape(self.marks[k]).bounds
            if bx1 >= x0 and bx0 <= x1 and by1 >= y0 and by0 <= y1:
                out.append(self.marks[k])
        return out

    def _build_index(self) -> None:
        index: dict[tuple[int, int], list[int]] = defaultdict(list)
        c = _INDEX_CELL_M
        for k, m in enumerate(self.marks):
            bx0, by0, bx1, by1 = shape(m).bounds
            for ix in range(math.floor(bx0 / c), math.floor(bx1 / c) + 1):
                for iy in range(math.floor(by0 / c), math.floor(by1 / c) + 1):
                    index[(ix, iy)].append(k)
        self._index.update(index)

    def lonlat(self, mark: Mark) -> tuple[float, float]:
        """The WGS84 position of a mark's centre."""
        return self.frame.point_to_wgs84(mark.x_m, mark.y_m)

    def with_mark(
        self,
        kind: str,
        lon: float,
        lat: float,
        size_m: float,
        angle_deg: float = 0.0,
        seed: int = 0,
        id: str | None = None,
    ) -> World:
        """This world with one more mark, centred at ``(lon, lat)``."""
        check_lonlat(lon, lat, "mark")
        x, y = self.frame.to_local(lon, lat)
        mark = Mark(id or f"{kind}-{len(self.marks) + 1}", kind, float(x), float(y), size_m,
                    angle_deg, seed)  # fmt: skip
        return replace(self, marks=(*self.marks, mark))

    def truth(self) -> list[TruthDefect]:
        """The defects as ground truth, in world order."""
        out = []
        for m in self.defects:
            lon, lat = self.lonlat(m)
            out.append(TruthDefect(m.id, m.kind, lon, lat, m.size_m))
        return out

    def truth_geojson(self, only: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """The defects as a GeoJSON FeatureCollection: one Point (lon, lat) per defect with
        properties ``class``, ``id`` and ``size_m``; the world's name and home in ``skyledger``.

        ``only``: just the defects with these ids, each with these further properties (for
        footage: the defects it shows, and how).
        """
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(d.lon, 9), round(d.lat, 9)]},
                "properties": {
                    "class": d.cls, "id": d.id, "size_m": round(d.size_m, 3),
                    **(only[d.id] if only is not None else {}),
                },
            }
            for d in self.truth()
            if only is None or d.id in only
        ]  # fmt: skip
        return {
            "type": "FeatureCollection",
            "skyledger": {
                "schema": TRUTH_SCHEMA,
                "version": 1,
                "world": self.name,
                "home": [self.home[0], self.home[1]],
                "classes": list(DEFECT_CLASSES),
            },
            "features": features,
        }

    # --- the worlds there are -------------------------------------------------------------

    @classmethod
    def sample(cls, home: tuple[float, float] | None = None, seed: int = 0) -> World:
        """The sample city with defects on and around each asset; ``home`` (lon, lat) moves
        only the local frame's origin (default: the city's home marker)."""
        from sim.layout import sample_city_world

        return sample_city_world(home, seed)

    @classmethod
    def random(
        cls, seed: int, home: tuple[float, float] | None = None, extent_m: float = 200.0
    ) -> World:
        """A random district ``extent_m`` across around ``home`` (default: the sample city's)."""
        from sim.layout import random_world

        if not (math.isfinite(extent_m) and 20.0 <= extent_m <= 5000.0):
            raise SimError(f"world extent {extent_m} m must be 20..5000 m")
        return random_world(seed, home, extent_m)

    @classmethod
    def named(cls, name: str, home: tuple[float, float] | None = None) -> World:
        """``"sample"`` or ``"random:SEED"`` (see :data:`WORLD_NAMES`)."""
        if name == "sample":
            return cls.sample(home)
        kind, _, seed = name.partition(":")
        if kind == "random" and seed.isdigit():
            return cls.random(int(seed), home)
        raise SimError(f"unknown world {name!r}; worlds: {', '.join(WORLD_NAMES)}")


def read_truth(text: str, source: str = "truth") -> list[TruthDefect]:
    """The defects of a truth GeoJSON that :meth:`World.truth_geojson` wrote."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SimError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise SimError(f"{source}: expected a GeoJSON FeatureCollection of defect Points")
    out = []
    for k, f in enumerate(doc.get("features") or []):
        where = f"{source}: feature {k}"
        try:
            geom, props = f["geometry"], f["properties"]
            if geom["type"] != "Point":
                raise SimError(f"{where}: geometry {geom['type']!r} is not a Point")
            lon, lat = (float(v) for v in geom["coordinates"][:2])
            check_lonlat(lon, lat, where)
            cls_, id_, size = props["class"], props["id"], float(props["size_m"])
        except (KeyError, TypeError, ValueError, MissionError) as exc:
            raise SimError(f"{where}: not a defect Point with class, id, size_m ({exc})") from None
        if cls_ not in DEFECT_CLASSES:
            raise SimError(f"{where}: class {cls_!r} is not one of {', '.join(DEFECT_CLASSES)}")
        out.append(TruthDefect(str(id_), cls_, lon, lat, size))
    return out
