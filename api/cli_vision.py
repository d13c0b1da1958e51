"""``skyledger vision train|eval``: train and evaluate detection models (work in :mod:`vision.training`).

    skyledger vision train --data DATASET --epochs N --imgsz S -o WEIGHTS.pt|.onnx
                           [--model yolo11n.yaml|START.pt] [--export-imgsz S] [--batch B]
                           [--val-fraction F]
                           [--seed N] [--device auto|cpu|0] [--workdir DIR]
    skyledger vision eval  --data DATASET --weights WEIGHTS [--split val|all] [--imgsz S]
                           [--val-fraction F] [--device auto|cpu|0] [--json]

DATASET is a Pascal VOC folder (``images/`` + ``annotations/*.xml``) or a YOLO folder
(``data.yaml``, or ``images/`` + ``labels/``). Without a split of its own, the project's split
is used for both commands, so ``eval`` measures the images ``train`` held out.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from api.commands import CommandError


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _classes(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give class names separated by commas, once each"
        )
    return names


def add_commands(sub: Any) -> None:
    """Add ``vision train`` and ``vision eval`` to the ``skyledger`` sub-command parsers."""
    vision = sub.add_parser("vision", help="train and evaluate defect detection models")
    cmds = vision.add_subparsers(dest="vision_command", required=True, metavar="COMMAND")

    t = cmds.add_parser("train", help="train a YOLO detector from a VOC or YOLO dataset")
    t.add_argument("--data", required=True, metavar="DATASET", help="dataset folder")
    t.add_argument("--epochs", required=True, type=int, metavar="N")
    t.add_argument("--imgsz", required=True, type=int, metavar="S", help="training image size")
    t.add_argument("-o", "--output", required=True, metavar="WEIGHTS", help=".pt or .onnx")
    t.add_argument(
        "--model",
        default="yolo11n.yaml",
        metavar="YAML|PT",
        help="architecture to start from at random (default yolo11n.yaml) or weights to go on from",
    )
    t.add_argument(
        "--export-imgsz",
        type=int,
        metavar="S",
        help="default inference size of the weights (default: --imgsz); train on crops at "
        "the scale of frames this size across",
    )
    t.add_argument(
        "--balance",
        action="store_true",
        help="train on the images that show the rarest class and as many others",
    )
    t.add_argument(
        "--classes",
        type=_classes,
        metavar="A,B",
        help="train on these of the dataset's classes only (the others' boxes are dropped)",
    )
    t.add_argument("--batch", type=int, default=16, metavar="B")
    t.add_argument("--val-fraction", type=_fraction, default=0.2, metavar="F")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, or 0, 1, ...")
    t.add_argument("--workdir", metavar="DIR", help="keep the run's files here (default: a temp)")
    t.set_defaults(func=cmd_train)

    e = cmds.add_parser("eval", help="precision, recall and mAP per class on a dataset")
    e.add_argument("--data", required=True, metavar="DATASET", help="dataset folder")
    e.add_argument("--weights", required=True, metavar="WEIGHTS", help=".pt or .onnx")
    e.add_argument(
        "--split",
        choices=("val", "all"),
        default="val",
        help="val: the project's validation split (default); all: every image",
    )
    e.add_argument("--imgsz", type=int, metavar="S", help="default: the size trained at")
    e.add_argument("--val-fraction", type=_fraction, default=0.2, metavar="F")
    e.add_argument("--device", default="auto")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=cmd_eval)


def _dataset(path: str) -> Path:
    data = Path(path)
    if not data.is_dir():
        raise CommandError(f"--data {path!r} is not a folder (a Pascal VOC or YOLO dataset)")
    return data


def cmd_train(args: argparse.Namespace) -> int:
    from vision import training

    command = "skyledger " + " ".join(shlex.quote(a) for a in args.argv)
    trained = training.train(
        _dataset(args.data),
        Path(args.output),
        epochs=args.epochs,
        imgsz=args.imgsz,
        model=args.model,
        batch=args.batch,
        val_fraction=args.val_fraction,
        seed=args.seed,
        device=args.device,
        workdir=Path(args.workdir) if args.workdir else None,
        command=command,
        export_imgsz=args.export_imgsz,
        balance=args.balance,
        classes=args.classes,
    )
    print(trained.evaluation.table())
    print(f"trained in {trained.seconds / 60:.1f} min")
    print(f"wrote {trained.weights}")
    print(f"wrote {trained.card} and {trained.card.with_suffix('.json')}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from vision import training

    if args.imgsz is not None and (not 32 <= args.imgsz <= 2048 or args.imgsz % 32):
        raise CommandError(f"--imgsz {args.imgsz} must be a multiple of 32 between 32 and 2048")
    evaluation = training.evaluate(
        _dataset(args.data),
        Path(args.weights),
        split=args.split,
        imgsz=args.imgsz,
        val_fraction=args.val_fraction,
        device=args.device,
    )
    if args.json:
        json.dump(evaluation.to_dict(), sys.stdout, indent=1)
        print()
    else:
        print(
            f"{evaluation.weights} on {evaluation.dataset} ({evaluation.split}, {evaluation.imgsz} px)"
        )
        print(evaluation.table())
    return 0
