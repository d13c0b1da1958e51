"""Dataset import: VOC and YOLO folders to one YOLO layout with the project's own split."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vision.dataset import (
    Annotation,
    LabelBox,
    balanced,
    prepare,
    read_voc,
    voc_to_yolo,
    yolo_to_voc,
)
from vision.errors import VisionError

CPLID = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "cplid-dev"


def voc_xml(name: str, size: tuple[int, int], boxes: list[tuple[str, int, int, int, int]]) -> str:
    objects = "".join(
        f"<object><name>{c}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for c, x0, y0, x1, y1 in boxes
    )
    return (
        f"<annotation><filename>{name}.jpg</filename><size><width>{size[0]}</width>"
        f"<height>{size[1]}</height><depth>3</depth></size>{objects}</annotation>"
    )


def make_voc(root: Path, n: int, rare_every: int = 4) -> Path:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for i in range(n):
        Image.new("RGB", (64, 48), (i * 7 % 255, 90, 40)).save(root / "images" / f"img_{i:03}.jpg")
        boxes = [("insulator", 4, 5, 40, 30)]
        if i % rare_every == 0:
            boxes.append(("defect", 10 + i % 20, 8, 30 + i % 20, 20))
        (root / "annotations" / f"img_{i:03}.xml").write_text(
            voc_xml(f"img_{i:03}", (64, 48), boxes)
        )
    return root


box_ints = st.tuples(
    st.integers(1, 4000), st.integers(1, 4000), st.integers(0, 3999), st.integers(0, 3999)
).flatmap(
    lambda t: st.tuples(
        st.just(t[0]),
        st.just(t[1]),
        st.integers(0, t[0] - 1),
        st.integers(0, t[1] - 1),
    ).flatmap(
        lambda u: st.tuples(st.just(u), st.integers(u[2] + 1, u[0]), st.integers(u[3] + 1, u[1]))
    )
)


@given(box_ints, st.sampled_from(["insulator", "defect"]))
def test_voc_to_yolo_round_trips_boxes_exactly(case, name):
    (w, h, x0, y0), x1, y1 = case
    ann = Annotation(Path("a.jpg"), w, h, (LabelBox(name, x0, y0, x1, y1),))
    names = ["defect", "insulator"]
    (back,) = yolo_to_voc(voc_to_yolo(ann, names), w, h, names, "label")
    assert back.name == name
    got = (back.xmin, back.ymin, back.xmax, back.ymax)
    assert all(math.isclose(g, e, abs_tol=1e-6) for g, e in zip(got, (x0, y0, x1, y1), strict=True))
    assert tuple(round(v) for v in got) == (x0, y0, x1, y1)


def test_prepare_voc_splits_by_name_and_keeps_rare_class_in_both_halves(tmp_path):
    src = make_voc(tmp_path / "voc", 40)
    got = prepare(src, tmp_path / "out")
    assert got.names == ("defect", "insulator")
    assert (got.train_images, got.val_images) == (32, 8)
    assert got.instances == {"defect": 10, "insulator": 40}
    val_labels = list((tmp_path / "out" / "labels" / "val").glob("*.txt"))
    assert (
        sum(1 for p in val_labels if p.read_text().startswith("0 ") or "\n0 " in p.read_text()) >= 2
    )
    yaml_text = got.yaml.read_text()
    assert "train: images/train" in yaml_text and "1: insulator" in yaml_text
    # the same files under other listing order (a copy) give the same split
    again = prepare(src, tmp_path / "out2")
    assert sorted(p.name for p in (tmp_path / "out2" / "images" / "val").iterdir()) == sorted(
        p.name for p in (tmp_path / "out" / "images" / "val").iterdir()
    )
    assert again.val_images == 8


def test_balance_keeps_rare_class_images_and_as_many_others_in_training_only(tmp_path):
    src = make_voc(tmp_path / "voc", 40)  # 40 insulator boxes, 10 defect boxes
    plain = prepare(src, tmp_path / "plain")
    got = prepare(src, tmp_path / "out", balance=True)
    listing = (tmp_path / "out" / "train.txt").read_text().split()
    assert "train: train.txt" in got.yaml.read_text()
    assert (got.train_images, got.val_images) == (plain.train_images, plain.val_images)
    assert all("/images/train/" in path for path in listing)  # validation never thinned
    defect_stems = {
        p.stem
        for p in (tmp_path / "out" / "labels" / "train").glob("*.txt")
        if any(line.startswith("0 ") for line in p.read_text().splitlines())
    }
    stems = [Path(path).stem for path in listing]
    assert len(stems) == len(set(stems)) == got.listed == 2 * len(defect_stems)
    assert defect_stems <= set(stems)
    # the others are chosen by name, not by listing order
    again = prepare(src, tmp_path / "again", balance=True)
    assert (tmp_path / "again" / "train.txt").read_text().replace("again", "out") == (
        tmp_path / "out" / "train.txt"
    ).read_text()
    assert again.listed == got.listed
    one_class = {"a": {"insulator"}, "b": {"insulator"}}
    assert balanced(one_class, {"defect": 0, "insulator": 2}) == ["a", "b"]


def test_only_some_classes_keeps_the_whole_datasets_split(tmp_path):
    src = make_voc(tmp_path / "voc", 40)
    whole = prepare(src, tmp_path / "whole")
    got = prepare(src, tmp_path / "defects", only=["defect"], balance=True)
    assert got.names == ("defect",) and got.instances == {"defect": 10}
    for split in ("train", "val"):
        assert sorted(
            p.name for p in (tmp_path / "defects" / "images" / split).iterdir()
        ) == sorted(p.name for p in (tmp_path / "whole" / "images" / split).iterdir())
    labels = [p.read_text() for p in (tmp_path / "defects" / "labels").rglob("*.txt")]
    assert all(line.startswith("0 ") for text in labels for line in text.splitlines())
    assert sum(1 for text in labels if not text.strip()) == 30  # the others are backgrounds
    # one class: the images that show it and as many backgrounds
    assert got.listed == 2 * (got.instances["defect"] - 2)  # two defect images are in val
    assert whole.instances == {"defect": 10, "insulator": 40}
    with pytest.raises(VisionError, match="has no class rust"):
        prepare(src, tmp_path / "x", only=["rust"])
    # evaluating a defect-only model on the whole dataset leaves the insulators out
    judged = prepare(src, tmp_path / "eval", names=["defect"], drop_unknown=True)
    assert judged.dropped == ("insulator",) and judged.instances == {"defect": 10}
    with pytest.raises(VisionError, match="does not know"):
        prepare(src, tmp_path / "y", names=["rust"], drop_unknown=True)


def test_prepare_yolo_with_own_split_keeps_it_and_reorders_to_model_names(tmp_path):
    from PIL import Image

    root = tmp_path / "myimages" / "yolo"  # only the last 'images' folder maps to 'labels'
    for split, n in (("train", 3), ("val", 2)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (100, 50)).save(root / "images" / split / f"{split}{i}.png")
            (root / "labels" / split / f"{split}{i}.txt").write_text("1 0.5 0.5 0.2 0.4\n")
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames:\n  0: crack\n  1: rust\n"
    )
    got = prepare(root, tmp_path / "out", names=["rust", "crack"])
    assert (got.train_images, got.val_images, got.own_split) == (3, 2, False)
    assert got.instances == {"rust": 5, "crack": 0}  # every label found
    label = next((tmp_path / "out" / "labels" / "val").glob("*.txt")).read_text()
    assert label.split()[0] == "0"  # rust is class 0 for this model
    everything = prepare(root, tmp_path / "all", all_val=True)
    assert (everything.train_images, everything.val_images) == (0, 5)


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<annotation>", "not well-formed"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><annotation/>', "DOCTYPE"),
        ("<annotation><filename>a</filename></annotation>", "<size> is missing"),
        (voc_xml("a", (64, 48), [("defect", 10, 10, 80, 20)]), "outside the 64x48 image"),
        (voc_xml("a", (64, 48), [("defect", 10, 10, 10, 20)]), "is empty"),
        (
            voc_xml("a", (64, 48), []).replace("<width>64", "<width>six4"),
            "<width> 'six4' is not a number",
        ),
    ],
)
def test_bad_voc_annotations_are_one_line_errors(xml, message):
    with pytest.raises(VisionError, match=message) as err:
        read_voc(xml.encode(), Path("a.jpg"), "a.xml")
    assert "\n" not in str(err.value) and "a.xml" in str(err.value)


def test_bad_yolo_label_lines_name_the_line():
    with pytest.raises(VisionError, match=re.escape("line 2 '0 0.5' is not 'class cx cy w h'")):
        yolo_to_voc("0 0.5 0.5 0.1 0.1\n0 0.5\n", 10, 10, ["a"], "x.txt")
    with pytest.raises(VisionError, match=re.escape("class 3 is not one of 0..0")):
        yolo_to_voc("3 0.5 0.5 0.1 0.1\n", 10, 10, ["a"], "x.txt")
    with pytest.raises(VisionError, match=re.escape("outside 0..1")):
        yolo_to_voc("0 1.5 0.5 0.1 0.1\n", 10, 10, ["a"], "x.txt")


def test_prepare_refuses_what_is_not_a_dataset(tmp_path):
    with pytest.raises(VisionError, match="is not a folder"):
        prepare(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VisionError, match="expected images/ with annotations"):
        prepare(tmp_path / "empty", tmp_path / "out")
    src = make_voc(tmp_path / "voc", 4)
    with pytest.raises(VisionError, match="class\\(es\\) insulator that the model does not know"):
        prepare(src, tmp_path / "out", names=["defect"])
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not CPLID.is_dir(), reason="../shared/datasets/cplid-dev is not here")
def test_cplid_dev_imports_with_both_classes_in_validation(tmp_path):
    got = prepare(CPLID, tmp_path / "out")
    assert got.names == ("defect", "insulator")
    total = got.train_images + got.val_images
    assert abs(got.val_images / total - 0.2) < 0.02
    val = [p.read_text() for p in (tmp_path / "out" / "labels" / "val").glob("*.txt")]
    assert sum("\n0 " in "\n" + t for t in val) >= 0.15 * sum(
        1 for p in CPLID.glob("images/defective_*")
    )
