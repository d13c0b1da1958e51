"""Training and evaluating the project's YOLO models, offline, with a model card each.

Ultralytics is imported inside the functions, with ``YOLO_OFFLINE=true`` set first so that
nothing is downloaded: models start from the architecture yaml that ships with Ultralytics
(``yolo11n.yaml``: random weights), mixed precision is off (its check fetches weights) and so
are plots (they fetch a font). A training run writes the weights, their ONNX export when asked
(``-o NAME.onnx``), and a model card beside them (``NAME.md`` and ``NAME.json``): the data,
the command, epochs, image size, wall time, the machine, and the metrics on the validation
split.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vision.dataset import Prepared, prepare
from vision.errors import VisionError

__all__ = ["ClassMetrics", "Evaluation", "evaluate", "train"]

WEIGHT_SUFFIXES = (".pt", ".onnx")


def ultralytics() -> Any:
    """The ``ultralytics`` module, imported offline (see the module's docstring)."""
    os.environ["YOLO_OFFLINE"] = "true"  # "1" is not recognised
    try:
        import ultralytics as ul
    except ImportError:
        raise VisionError(
            "training and evaluation need Ultralytics: pip install 'skyledger[train]'"
        ) from None
    return ul


@contextmanager
def quiet() -> Iterator[None]:
    """Silence Ultralytics' log lines (it writes them to standard output) for a while."""
    import logging

    ultralytics()
    logger = logging.getLogger("ultralytics")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def device_name(device: str) -> str:
    """``auto`` is the first CUDA device when torch sees one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class ClassMetrics:
    """Detection metrics of one class (or ``all``) on one split."""

    name: str
    images: int
    instances: int
    precision: float
    recall: float
    map50: float
    map50_95: float


@dataclass(frozen=True)
class Evaluation:
    """The per-class and overall metrics of one set of weights on one dataset split."""

    weights: str
    dataset: str
    split: str
    imgsz: int
    classes: tuple[ClassMetrics, ...]
    overall: ClassMetrics
    ignored: tuple[str, ...] = ()  # the dataset's classes the model does not detect

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        """The evaluation :meth:`to_dict` gave (as a model card's ``validation`` keeps it)."""
        return cls(
            **{k: v for k, v in d.items() if k not in ("classes", "overall", "ignored")},
            classes=tuple(ClassMetrics(**c) for c in d["classes"]),
            overall=ClassMetrics(**d["overall"]),
            ignored=tuple(d.get("ignored", ())),
        )

    def table(self) -> str:
        """The metrics as an aligned text table."""
        head = f"{'class':<14}{'images':>8}{'boxes':>8}{'P':>8}{'R':>8}{'mAP50':>8}{'mAP50-95':>10}"
        rows = [head]
        for m in (*self.classes, self.overall):
            rows.append(
                f"{m.name:<14}{m.images:>8}{m.instances:>8}{m.precision:>8.3f}{m.recall:>8.3f}"
                f"{m.map50:>8.3f}{m.map50_95:>10.3f}"
            )
        if self.ignored:
            rows.append(f"(not evaluated, the model does not detect: {', '.join(self.ignored)})")
        return "\n".join(rows)


@dataclass(frozen=True)
class Trained:
    """What :func:`train` wrote and measured."""

    weights: Path
    card: Path
    seconds: float
    evaluation: Evaluation
    dataset: Prepared = field(repr=False)


@contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="skyledger-vision-") as tmp:
        yield Path(tmp)


def _check_out(out: Path) -> None:
    if out.suffix.lower() not in WEIGHT_SUFFIXES:
        raise VisionError(f"output {out} must end in .pt or .onnx")
    if not out.parent.is_dir():
        raise VisionError(f"output folder {out.parent} does not exist")


def load_model(weights: Path) -> tuple[Any, list[str]]:
    """Ultralytics' model for ``weights`` (.pt or .onnx) and its class names; one-line
    errors for bad files."""
    weights = Path(weights)
    if weights.suffix.lower() not in WEIGHT_SUFFIXES:
        raise VisionError(f"weights {weights} must be a .pt or .onnx file")
    if not weights.is_file():
        raise VisionError(f"weights {weights} do not exist")
    ul = ultralytics()
    try:
        with quiet():
            model = ul.YOLO(str(weights), task="detect")
            names = model.names
    except Exception as exc:  # torch/onnx raise many kinds for a corrupt file
        raise VisionError(
            f"weights {weights} cannot be loaded as a YOLO model ({type(exc).__name__})"
        ) from None
    if model.task != "detect":
        raise VisionError(f"weights {weights} are a {model.task} model; a detect model is needed")
    if not names:
        raise VisionError(f"weights {weights} name no classes")
    return model, [str(names[k]) for k in sorted(names)] if isinstance(names, dict) else list(names)


def card_imgsz(weights: Path) -> int | None:
    """The image size the model card beside ``weights`` says it was trained and validated
    at (so that ``eval`` reproduces the card), or None without a card."""
    try:
        size = json.loads(weights.with_suffix(".json").read_text()).get("imgsz")
    except (OSError, ValueError, AttributeError):
        return None
    return size if isinstance(size, int) and size > 0 else None


def trained_imgsz(model: Any, weights: Path) -> int:
    """The image size ``weights`` were trained (.pt) or exported (.onnx) at; 640 if unknown."""
    if weights.suffix.lower() == ".onnx":
        import ast

        import onnxruntime

        meta = onnxruntime.InferenceSession(str(weights)).get_modelmeta().custom_metadata_map
        try:
            size = ast.literal_eval(meta.get("imgsz", "640"))
        except (ValueError, SyntaxError):
            return 640
    else:
        size = (getattr(model, "ckpt", None) or {}).get("train_args", {}).get("imgsz", 640)
    return int(max(size) if isinstance(size, list | tuple) else size)


def _metrics(
    result: Any, names: Sequence[str], split: str
) -> tuple[list[ClassMetrics], ClassMetrics]:
    box = result.box
    per_image = list(getattr(result, "nt_per_image", []))
    per_class = list(getattr(result, "nt_per_class", []))

    def count(values: list[Any], i: int) -> int:
        return int(values[i]) if i < len(values) else 0

    rows = []
    for j, i in enumerate(box.ap_class_index):
        p, r, ap50, ap = box.class_result(j)
        rows.append(
            ClassMetrics(
                names[int(i)],
                count(per_image, int(i)),
                count(per_class, int(i)),
                float(p),
                float(r),
                float(ap50),
                float(ap),
            )
        )
    mp, mr, map50, map_ = box.mean_results()
    images = int(getattr(result, "seen", 0)) or max((m.images for m in rows), default=0)
    overall = ClassMetrics(
        "all",
        images,
        sum(m.instances for m in rows),
        float(mp),
        float(mr),
        float(map50),
        float(map_),
    )
    return rows, overall


def evaluate(
    data: Path,
    weights: Path,
    *,
    split: str = "val",
    imgsz: int | None = None,
    val_fraction: float = 0.2,
    device: str = "auto",
    workdir: Path | None = None,
) -> Evaluation:
    """Precision, recall, mAP50 and mAP50-95 per class of ``weights`` on ``data``.

    ``split`` is ``val`` (the project's own validation split, as :func:`prepare` makes it) or
    ``all`` (every image: for a dataset the model never saw).
    """
    if split not in ("val", "all"):
        raise VisionError(f"split {split!r} must be 'val' or 'all'")
    model, names = load_model(weights)
    size = imgsz or card_imgsz(Path(weights)) or trained_imgsz(model, Path(weights))
    with _workdir(workdir) as work:
        prepared = prepare(
            Path(data),
            work / "dataset",
            val_fraction,
            names=names,
            all_val=split == "all",
            drop_unknown=True,
        )
        try:
            with quiet():
                result = model.val(
                    data=str(prepared.yaml),
                    split="val",
                    imgsz=size,
                    batch=16,
                    plots=False,
                    device=device_name(device),
                    project=str(work),
                    name="val",
                    exist_ok=True,
                    verbose=False,
                    workers=0,
                )
        except (RuntimeError, ValueError) as exc:
            raise VisionError(
                f"evaluation of {weights} failed: {' '.join(str(exc).split())[:200]}"
            ) from None
    rows, overall = _metrics(result, names, split)
    return Evaluation(str(weights), str(data), split, size, tuple(rows), overall, prepared.dropped)


def train(
    data: Path,
    out: Path,
    *,
    epochs: int,
    imgsz: int,
    model: str = "yolo11n.yaml",
    batch: int = 16,
    val_fraction: float = 0.2,
    seed: int = 0,
    device: str = "auto",
    workdir: Path | None = None,
    command: str = "",
    export_imgsz: int | None = None,
    balance: bool = False,
    classes: Sequence[str] | None = None,
) -> Trained:
    """Train a detector on ``data`` (VOC or YOLO folder) and write ``out`` and its card.

    An ``.onnx`` output also keeps the ``.pt`` it was exported from beside it. ``balance``
    thins the training list round the rarest class and ``classes`` trains on those classes
    only (:func:`vision.dataset.prepare`).
    """
    if epochs < 1:
        raise VisionError(f"epochs {epochs} must be at least 1")
    if batch < 1:
        raise VisionError(f"batch {batch} must be at least 1")
    export_imgsz = export_imgsz or imgsz
    for what, size in (("image size", imgsz), ("export image size", export_imgsz)):
        if not 32 <= size <= 4096 or size % 32:
            raise VisionError(f"{what} {size} must be a multiple of 32 between 32 and 4096")
    out = Path(out)
    _check_out(out)
    ul = ultralytics()
    with _workdir(workdir) as work:
        prepared = prepare(
            Path(data), work / "dataset", val_fraction, balance=balance, only=classes
        )
        yolo = ul.YOLO(model)
        started = time.monotonic()
        yolo.train(
            data=str(prepared.yaml),
            epochs=epochs,
            imgsz=imgsz,
            batch=batch,
            workers=2,
            amp=False,
            plots=False,
            device=device_name(device),
            project=str(work),
            name="run",
            exist_ok=True,
            seed=seed,
            deterministic=True,
            cache="ram",
            patience=0,
        )
        seconds = time.monotonic() - started
        best = work / "run" / "weights" / "best.pt"
        if not best.is_file():
            raise VisionError(f"training wrote no weights under {work}")
        evaluation = evaluate(
            Path(data),
            best,
            imgsz=imgsz,
            val_fraction=val_fraction,
            device=device,
            workdir=work / "eval",
        )
        staged = export(best, work / "out" / out.name, export_imgsz)
        write_card(
            staged,
            prepared,
            evaluation,
            seconds,
            data=Path(data),
            epochs=epochs,
            imgsz=imgsz,
            model=model,
            batch=batch,
            seed=seed,
            command=command,
            export_imgsz=export_imgsz,
        )
        sources = [staged.with_suffix(".json"), staged.with_suffix(".md")]
        if staged.suffix.lower() == ".onnx":  # keep the PyTorch weights it was exported from
            shutil.copyfile(best, staged.with_suffix(".pt"))
            sources.append(staged.with_suffix(".pt"))
        # the weights last, so that weights never lack their card
        for src in (*sources, staged):
            shutil.move(str(src), out.parent / src.name)
    written, card = out, out.with_suffix(".md")
    return Trained(written, card, seconds, evaluation, prepared)


def export(best: Path, out: Path, imgsz: int) -> Path:
    """Copy ``best`` to ``out`` (.pt), or export it to ONNX there (.onnx).

    The ONNX graph takes any input size (a 16:9 frame is letterboxed to ``imgsz`` across and
    the next multiple of 32 down the side, not padded to a square); ``imgsz`` is its default.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".pt":
        shutil.copyfile(best, out)
        return out
    model = ultralytics().YOLO(str(best))
    with warnings.catch_warnings():  # torch warns about tracing and its older exporter
        warnings.simplefilter("ignore")
        onnx = Path(model.export(format="onnx", imgsz=imgsz, simplify=True, dynamic=True))
    shutil.move(str(onnx), out)
    return out


def write_card(
    weights: Path,
    prepared: Prepared,
    evaluation: Evaluation,
    seconds: float,
    **settings: Any,
) -> Path:
    """Write ``weights``' model card (``.md`` for people, ``.json`` for programs)."""
    import torch

    ul = ultralytics()
    provenance = None
    made_by = Path(settings["data"]) / "dataset.json"  # written by `skyledger sim dataset`
    if made_by.is_file():
        with contextlib.suppress(OSError, ValueError):
            provenance = json.loads(made_by.read_text())
    start = str(settings["model"])
    initial = (
        "random initial weights, no pretraining"
        if start.endswith((".yaml", ".yml"))
        else f"continued from {Path(start).name}"
    )
    previous = None  # the card of the weights this run went on from
    if not start.endswith((".yaml", ".yml")):
        with contextlib.suppress(OSError, ValueError):
            card = json.loads(Path(start).with_suffix(".json").read_text())
            keys = ("weights", "command", "training_data_made_by", "epochs", "imgsz",
                    "train_seconds", "previous_training")  # fmt: skip
            previous = {k: card.get(k) for k in keys}
    split = (
        "the project's own split"
        if prepared.own_split
        else "the dataset's own train/validation split"
    )
    facts = {
        "weights": weights.name,
        "task": "detect",
        "classes": list(prepared.names),
        "training_data": str(settings["data"]),
        "training_data_made_by": provenance,
        "initial_weights": initial,
        "previous_training": previous,
        "images": {"train": prepared.train_images, "val": prepared.val_images},
        "split": split,
        "balanced_train_images": prepared.listed,
        "instances": prepared.instances,
        "command": settings["command"],
        "architecture": settings["model"],
        "epochs": settings["epochs"],
        "imgsz": settings["imgsz"],
        "inference_imgsz": settings["export_imgsz"],
        "batch": settings["batch"],
        "seed": settings["seed"],
        "train_seconds": round(seconds, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        + ("CUDA" if torch.cuda.is_available() else "CPU only"),
        "software": f"ultralytics {ul.__version__}, torch {torch.__version__}",
        "validation": {**evaluation.to_dict(), "weights": weights.name},
    }
    weights.with_suffix(".json").write_text(json.dumps(facts, indent=2) + "\n")
    md = weights.with_suffix(".md")
    md.write_text(card_markdown(facts))
    return md


def card_markdown(facts: dict[str, Any]) -> str:
    """A model card for people, from the card for programs (``NAME.json``) alone."""
    previous, seconds = facts.get("previous_training"), facts["train_seconds"]
    lines = [
        f"# Model card: {facts['weights']}",
        "",
        f"- Task: object detection, classes {', '.join(facts['classes'])}",
        f"- Architecture: {facts['architecture']} ({facts['initial_weights']})",
        f"- Training data: {facts['training_data']} ({facts['images']['train']} training and "
        f"{facts['images']['val']} validation images, {facts['split']})",
    ]
    listed = facts.get("balanced_train_images")
    if listed is not None:
        lines.append(
            f"- Class balance: each pass used {listed} of the {facts['images']['train']} "
            "training images: all that show the rarest class and as many others"
        )
    chain, total_s = previous, seconds
    while chain:  # the runs before this one, newest first
        made = (chain.get("training_data_made_by") or {}).get("command")
        lines.append(
            f"- Before this run: `{chain.get('command')}` ({chain.get('epochs')} epochs, "
            f"{(chain.get('train_seconds') or 0) / 60:.1f} min"
            + (f"; its data made by `{made}`)" if made else ")")
        )
        total_s += chain.get("train_seconds") or 0
        chain = chain.get("previous_training")
    provenance = facts.get("training_data_made_by")
    if provenance:
        lines.append(f"- Training data made by: `{provenance.get('command', '?')}`")
    lines += [
        f"- Command: `{facts['command']}`",
        f"- Epochs: {facts['epochs']}, image size {facts['imgsz']}, "
        f"batch {facts['batch']}, seed {facts['seed']}",
    ]
    if facts["inference_imgsz"] != facts["imgsz"]:
        lines.append(
            f"- Inference image size: {facts['inference_imgsz']} (the network is convolutional: "
            "trained on crops at the pixel scale of frames that size across)"
        )
    lines += [
        f"- Training time: {seconds / 60:.1f} min on {facts['machine']}"
        + (f" ({total_s / 60:.1f} min with the runs before)" if previous else ""),
        f"- Software: {facts['software']}",
        "",
        f"## Validation metrics ({facts['imgsz']} px)",
        "",
        "```",
        Evaluation.from_dict(facts["validation"]).table(),
        "```",
    ]
    return "\n".join(lines) + "\n"
