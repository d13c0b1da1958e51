"""The synthetic world: layouts, ground truth, marks and the texture pyramid."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mission.camera import PRESETS
from mission.optics import Intrinsics
from sim.errors import SimError
from sim.ground import TILE, Ground, Surface, level_for, mpp_of
from sim.marks import DEFECT_CLASSES, Mark, shape
from sim.world import World, read_truth

HOME = (149.16523, -35.363261)
DEMO_CAMERA = "mavic3-enterprise"


@pytest.fixture(scope="module")
def city() -> World:
    return World.sample()


def test_the_sample_world_is_the_same_every_time(city: World):
    again = World.sample()
    assert again.marks == city.marks and again.surfaces == city.surfaces
    assert city.home == HOME and city.frame.lon0 == HOME[0]
    assert {m.kind for m in city.defects} == set(DEFECT_CLASSES)
    assert len({m.id for m in city.marks}) == len(city.marks)


def test_a_different_home_moves_the_frame_not_the_city(city: World):
    moved = World.sample(home=(HOME[0] + 0.001, HOME[1]))
    a, b = city.truth(), moved.truth()
    assert [d.id for d in a] == [d.id for d in b]
    for da, db in zip(a, b, strict=True):
        # within 2 cm: the roads run along the frame's axes, which turn a little with it
        assert abs(da.lon - db.lon) < 2e-7 and abs(da.lat - db.lat) < 2e-7


def test_every_sample_inspection_flight_passes_over_several_defects(tmp_path: Path, city: World):
    """Plan each asset as the demo does; at least three defects lie under the nadir frames
    (1080p, the demo camera) along its route."""
    from api import cli, commands, demo
    from mission.assets import sample_city

    doc = tmp_path / "city.geojson"
    doc.write_text(json.dumps(sample_city()))
    k = Intrinsics.of(PRESETS[DEMO_CAMERA], 1920, 1080)
    xy = np.array([(d.x_m, d.y_m) for d in city.defects])
    for feature in sample_city()["features"]:
        if feature["properties"].get("kind") == "home":
            continue
        argv = demo.command_line(feature, doc, tmp_path, DEMO_CAMERA)
        plan = commands.plan_from_args(cli.parse_args(argv))
        items = [
            it for sortie in plan.sorties for it in sortie
            if (it.lat_deg or it.lon_deg) and it.alt_m > 1
        ]  # fmt: skip
        x, y = city.frame.to_local([it.lon_deg for it in items], [it.lat_deg for it in items])
        route = np.column_stack([x, y, [it.alt_m for it in items]])
        seen: set[int] = set()
        for a, b in itertools.pairwise(route):
            for f in np.linspace(0, 1, max(2, int(np.hypot(*(b - a)[:2]) / 2.0))):
                px, py, alt = a + f * (b - a)
                # the half-height of the frame on the ground: inside it whatever the heading
                radius = alt * k.height_px / 2 / k.focal_px
                near = np.hypot(xy[:, 0] - px, xy[:, 1] - py) < radius
                seen.update(np.nonzero(near)[0].tolist())
        assert len(seen) >= 3, feature["properties"]["name"]


def test_truth_geojson_round_trips(city: World):
    doc = city.truth_geojson()
    assert doc["type"] == "FeatureCollection" and doc["skyledger"]["schema"] == "skyledger.truth"
    back = read_truth(json.dumps(doc), "truth.geojson")
    assert [(d.id, d.cls, d.size_m) for d in back] == [
        (m.id, m.kind, round(m.size_m, 3)) for m in city.defects
    ]
    for d, m in zip(back, city.defects, strict=True):
        x, y = city.frame.to_local(d.lon, d.lat)
        assert abs(float(x) - m.x_m) < 1e-3 and abs(float(y) - m.y_m) < 1e-3
        feature = next(f for f in doc["features"] if f["properties"]["id"] == d.id)
        assert set(feature["properties"]) == {"class", "id", "size_m"}


def test_truth_of_some_defects_with_their_sightings(city: World):
    first, second = city.defects[:2]
    doc = city.truth_geojson(only={second.id: {"frames": 12}})
    assert [f["properties"]["id"] for f in doc["features"]] == [second.id]
    assert doc["features"][0]["properties"]["frames"] == 12
    assert first.id not in json.dumps(doc)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ('{"type": "Feature"}', "FeatureCollection"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
         '{"type": "Point", "coordinates": [149.1, -35.3]}, "properties": {"class": "dent", '
         '"id": "a", "size_m": 1}}]}', "class 'dent' is not one of crack"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
         '{"type": "Point", "coordinates": [149.1, -35.3]}, "properties": {"class": "rust"}}]}',
         "not a defect Point"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
         '{"type": "Point", "coordinates": [-35.3, 149.1]}, "properties": {"class": "rust", '
         '"id": "a", "size_m": 1}}]}', "latitude 149.1"),
    ],
)  # fmt: skip
def test_bad_truth_files_are_refused_in_one_line(text: str, message: str):
    with pytest.raises(SimError, match=message) as err:
        read_truth(text, "t.geojson")
    assert "\n" not in str(err.value) and "t.geojson" in str(err.value)


def test_random_worlds_repeat_per_seed_and_hold_every_class():
    a, b, c = World.random(4), World.random(4), World.random(5)
    assert a.marks == b.marks and a.marks != c.marks
    assert {m.kind for m in a.defects} >= {"crack", "rust", "spalling"}
    kinds = {m.kind for seed in range(6) for m in World.random(seed).defects}
    assert kinds == set(DEFECT_CLASSES)
    assert len(a.marks) > 2 * len(a.defects)  # distractors outnumber defects


def test_worlds_by_name():
    assert World.named("sample").name == "sample"
    assert World.named("random:3", home=(10.0, 50.0)).home == (10.0, 50.0)
    for bad in ("mars", "random", "random:x", "random:-1"):
        with pytest.raises(SimError, match=r"unknown world .*; worlds: sample, random:SEED"):
            World.named(bad)


def test_marks_and_worlds_refuse_bad_values():
    with pytest.raises(SimError, match="kind 'dent' is not one of crack"):
        Mark("a", "dent", 0, 0, 1)
    with pytest.raises(SimError, match=r"size 0 m must be in 0\.\.100"):
        Mark("a", "crack", 0, 0, 0)
    with pytest.raises(SimError, match="mark id 'a' is used twice"):
        World("w", HOME, marks=(Mark("a", "crack", 0, 0, 1), Mark("a", "rust", 5, 0, 1)))
    with pytest.raises(SimError, match="home"):
        World("w", (HOME[1], HOME[0] + 100))
    with pytest.raises(SimError, match="material 'lava'"):
        Surface("lava", ((0, 0), (1, 0), (0, 1)))


def test_every_instance_looks_different_and_the_same_seed_alike():
    a = shape(Mark("a", "crack", 0, 0, 1.0, 0.0, seed=1))
    b = shape(Mark("b", "crack", 0, 0, 1.0, 0.0, seed=2))
    c = shape(Mark("c", "crack", 0, 0, 1.0, 0.0, seed=1))
    assert len(a.prims) == len(c.prims)
    assert all(np.array_equal(p.pts, q.pts) for p, q in zip(a.prims, c.prims, strict=True))
    assert len(a.prims) != len(b.prims) or not np.allclose(a.prims[1].pts, b.prims[1].pts)


@pytest.mark.parametrize("kind", DEFECT_CLASSES)
def test_defect_outlines_span_their_size(kind: str):
    for seed in range(5):
        m = Mark("d", kind, 10.0, -4.0, 0.8, 30.0, seed)
        ext = shape(m).extent
        across = np.max(np.hypot(*(ext[:, None, :] - ext[None, :, :]).transpose(2, 0, 1)))
        assert 0.5 * m.size_m <= across <= 1.6 * m.size_m
        centre = ext.mean(axis=0)
        assert np.hypot(centre[0] - 10.0, centre[1] + 4.0) < 0.35 * m.size_m


def test_the_pyramid_levels_show_the_same_ground(city: World):
    """Level 1 matches level 0 averaged 2x2 (the same world, only softer)."""
    import cv2

    g = Ground(city)
    deck = next(m for m in city.defects if m.id.startswith("bridge-deck"))
    i1, j1 = int(deck.x_m // (TILE * mpp_of(1))), int(-deck.y_m // (TILE * mpp_of(1)))
    coarse = g.tile(1, i1, j1).astype(np.float32)
    fine = g.window(0, 2 * i1 * TILE, 2 * j1 * TILE, 2 * (i1 + 1) * TILE, 2 * (j1 + 1) * TILE)
    down = cv2.resize(fine.astype(np.float32), (TILE, TILE), interpolation=cv2.INTER_AREA)
    blur = (3, 3)
    diff = np.abs(cv2.blur(coarse, blur) - cv2.blur(down, blur))
    assert float(diff.mean()) < 4.0 and float(np.percentile(diff, 99)) < 30.0
    assert float(coarse.std()) > 5.0  # not a blank tile


def test_tiles_join_without_seams(city: World):
    g = Ground(city)
    strip = g.window(1, 14 * TILE - 64, -8 * TILE, 14 * TILE + 64, -7 * TILE).astype(np.float32)
    steps = np.abs(np.diff(strip, axis=1)).mean(axis=(0, 2))
    assert steps[63] < 3 * np.median(steps) + 1.0  # the step across the tile edge (column 64)


def test_levels_follow_ground_sample_distance():
    assert level_for(0.005) == 0 and level_for(0.01) == 0 and level_for(0.0199) == 0
    assert level_for(0.02) == 1 and level_for(0.029) == 1 and level_for(0.07) == 2
    assert level_for(1e6) == 8


def test_a_world_with_a_mark_at_a_lonlat():
    w = World("w", HOME).with_mark("rust", HOME[0] + 1e-4, HOME[1], 0.6, id="r1")
    (m,) = w.marks
    assert m.id == "r1" and 9.0 < m.x_m < 9.2 and abs(m.y_m) < 0.01
    assert w.lonlat(m) == pytest.approx((HOME[0] + 1e-4, HOME[1]), abs=1e-9)
    assert replace(w, marks=()).defects == ()


def test_a_hole_shows_what_lies_under_it():
    square = ((0.0, 0.0), (4.0, 0.0), (4.0, -4.0), (0.0, -4.0))
    hole = ((1.0, -1.0), (3.0, -1.0), (3.0, -3.0), (1.0, -3.0))
    concrete = Surface("concrete", square, cell_m=10.0, seed=1)
    ring = Surface("water", square, holes=(hole,), seed=2)
    under = Ground(World("a", HOME, (concrete,))).tile(1, 0, 0)[:200, :200].astype(int)
    both = Ground(World("b", HOME, (concrete, ring))).tile(1, 0, 0)[:200, :200].astype(int)
    # pixels 60..140 lie in the hole (1..3 m at 2 cm a pixel), 10..40 in the water
    assert np.abs(both[60:140, 60:140] - under[60:140, 60:140]).max() <= 2  # rounding
    assert np.abs(both[10:40, 10:40] - under[10:40, 10:40]).mean() > 40
