"""Face crop: keep the face with a margin, drop the background (the 5th-place team's step).

Offline, once, into a complete copy of the competition layout (csv files copied, every picture
cropped under the same name), so that `data_dir = CROPPED_DIR` is the only change:

    python -m data_loader.face_crop --src DATA_DIR --dst CROPPED_DIR [--detector auto]
        [--margin 0.4] [--size 256,192] [--fallback 0.6] [--workers N]

It runs over all CPU cores, skips pictures already written (so it can be stopped and run again),
writes each picture whole or not at all, and ends with a summary: how many faces each detector
found and how many pictures fell back to the centre crop; `face_crop.csv` in CROPPED_DIR lists the
box of every picture. Or on the fly, before the decoded-image cache, with the config knob
`face_crop` (the `FaceCrop` transform). Detectors: data_loader/face_detectors.py.

The box: the largest face found, grown by `margin` of its size on every side, then to the output's
aspect ratio (never cutting the face), moved inside the picture. No face found: the centre of the
picture, `fallback` of its size, in the output's aspect ratio (1.0 = as much as fits).
"""
from __future__ import annotations

import argparse
import functools
import math
import multiprocessing
import os
import shutil
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm import tqdm

from base import cli_types
from base.errors import ArgumentParser, UserError, exit_on_user_error
from data_loader.face_detectors import DETECTORS, Box, Detector, mediapipe_available
from data_loader.layout import IMAGE_EXTENSIONS

if TYPE_CHECKING:
    import albumentations as A

# albumentations (which imports torch), OpenCV and base.atomic (torch) are imported where they are
# used, so that the command's --help and a bad command line answer at once.

MANIFEST = "face_crop.csv"
FALLBACK = "fallback"


def crop_box(face: Box, height: int, width: int, margin: float, aspect: float) -> tuple[int, int, int, int]:
    """The integer crop (x0, y0, x1, y1) around `face` in a height x width picture; `aspect` is
    the output's height / width."""
    x0, y0 = max(0.0, face[0]), max(0.0, face[1])
    x1, y1 = min(float(width), face[2]), min(float(height), face[3])
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = (x1 - x0) * (1 + 2 * margin), (y1 - y0) * (1 + 2 * margin)
    if h < w * aspect:
        h = w * aspect
    else:
        w = h / aspect
    return _place(cx, cy, w, h, height, width)


def centre_box(height: int, width: int, share: float, aspect: float) -> tuple[int, int, int, int]:
    """The fallback crop: the picture's centre, `share` of its size, in the output's aspect ratio."""
    w = min(width, height / aspect) * share
    return _place(width / 2, height / 2, w, w * aspect, height, width)


def _place(cx: float, cy: float, w: float, h: float, height: int, width: int) -> tuple[int, int, int, int]:
    """A w x h box centred on (cx, cy), shrunk to the picture where larger and moved inside it."""
    w, h = min(w, width), min(h, height)
    x0 = min(max(cx - w / 2, 0.0), width - w)
    y0 = min(max(cy - h / 2, 0.0), height - h)
    return (max(0, math.floor(x0)), max(0, math.floor(y0)),
            min(width, math.ceil(x0 + w)), min(height, math.ceil(y0 + h)))


def find_crop(image: np.ndarray, detector: Detector, margin: float, aspect: float,
              fallback: float) -> tuple[tuple[int, int, int, int], str]:
    """(crop box, the detector stage that found the face or "fallback") for one RGB picture."""
    height, width = image.shape[:2]
    boxes, stage = detector(image)
    if not boxes:
        return centre_box(height, width, fallback, aspect), FALLBACK
    largest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    return crop_box(largest, height, width, margin, aspect), stage


@functools.cache
def _face_crop_class() -> type[A.ImageOnlyTransform]:
    import albumentations as A

    class FaceCrop(A.ImageOnlyTransform):
        """The crop as an albumentations transform: `aspect` is the output's height / width (the
        resize after it), the rest as in `find_crop`."""

        def __init__(self, detector: str = "auto", margin: float = 0.4, aspect: float = 4 / 3,
                     fallback: float = 0.6, p: float = 1.0):
            super().__init__(p=p)
            self.detector = Detector(detector)
            self.margin, self.aspect, self.fallback = margin, aspect, fallback

        def apply(self, img: np.ndarray, **params) -> np.ndarray:
            (x0, y0, x1, y1), _ = find_crop(img, self.detector, self.margin, self.aspect, self.fallback)
            return np.ascontiguousarray(img[y0:y1, x0:x1])

        def get_transform_init_args_names(self) -> tuple[str, ...]:
            return ("margin", "aspect", "fallback")

    FaceCrop.__qualname__ = "FaceCrop"  # pickled (DataLoader workers) as data_loader.face_crop.FaceCrop
    globals()["FaceCrop"] = FaceCrop
    return FaceCrop


def __getattr__(name: str):
    """`FaceCrop`, the albumentations transform, made on first use (PEP 562)."""
    if name == "FaceCrop":
        return _face_crop_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def config_transform(cfg) -> A.ImageOnlyTransform | None:
    """The on-the-fly crop the config asks for (knob `face_crop`, a `FaceCrop`), or None."""
    if cfg.face_crop == "off":
        return None
    height, width = cfg.image_size
    return _face_crop_class()(cfg.face_crop, cfg.face_crop_margin, height / width, cfg.face_crop_fallback)


# ---- the command ----------------------------------------------------------------------------
_worker: dict = {}


def _init_worker(detector: Detector, margin: float, size: tuple[int, int], fallback: float, quality: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    _worker.update(detector=detector, margin=margin, size=size, fallback=fallback, quality=quality)


def _crop_file(job: tuple[str, str]) -> tuple[str, str, int, int, int, int]:
    """Crop one picture into its place in the copy: (destination, method, crop box)."""
    import cv2

    from base.atomic import atomic_path
    from data_loader.images import read_rgb

    src, dst = job
    height, width = _worker["size"]
    try:
        image = read_rgb(src)
    except UserError:  # copied as it is; data_loader.verify names it when the copy is used
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        return dst, "unreadable", 0, 0, 0, 0
    box, method = find_crop(image, _worker["detector"], _worker["margin"], height / width, _worker["fallback"])
    x0, y0, x1, y1 = box
    crop = cv2.resize(image[y0:y1, x0:x1], (width, height), interpolation=cv2.INTER_AREA)
    suffix = Path(dst).suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, _worker["quality"]] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise OSError(f"{dst}: could not be encoded")
    with atomic_path(dst) as tmp:
        tmp.write_bytes(buf.tobytes())
    return dst, method, x0, y0, x1, y1


def plan(src: Path, dst: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """(csv files to copy, (source, destination) pictures) of a competition-layout folder."""
    if not ((src / "train" / "train.csv").is_file() or (src / "eval" / "info.csv").is_file()):
        raise UserError(f"--src {src}: no train/train.csv or eval/info.csv; point it at the competition folder")
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise UserError(f"--dst {dst}: must be outside --src; choose a new folder")
    csvs, jobs = [], []
    for part in ("train", "eval"):
        csvs += sorted((src / part).glob("*.csv"))
        for root, dirs, files in os.walk(src / part / "images"):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                    file = Path(root) / name
                    jobs.append((str(file), str(dst / file.relative_to(src))))
    if not jobs:
        raise UserError(f"--src {src}: no pictures under train/images or eval/images")
    return csvs, jobs


def crop_folder(src: Path, dst: Path, detector: str = "auto", margin: float = 0.4,
                size: tuple[int, int] = (256, 192), fallback: float = 0.6, workers: int = 0,
                quality: int = 95, progress: bool = True) -> tuple[pd.DataFrame, int]:
    """Write the cropped copy of `src` into `dst`; return the manifest (one row per picture) and
    how many pictures this call cropped (the others were there already)."""
    from base.atomic import atomic_path, write_csv

    csvs, jobs = plan(src, dst)
    chosen = Detector(detector)
    todo = [job for job in jobs if not os.path.exists(job[1])]
    for folder in sorted({os.path.dirname(d) for _, d in todo}):
        os.makedirs(folder, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    rows = []
    args = (chosen, margin, size, fallback, quality)
    if todo:
        spawn = multiprocessing.get_context("spawn")  # MediaPipe does not survive a fork of a user
        with ProcessPoolExecutor(workers, spawn, initializer=_init_worker, initargs=args) as pool:
            results = pool.map(_crop_file, todo, chunksize=max(1, min(64, len(todo) // (8 * workers))))
            rows = list(tqdm(results, total=len(todo), desc="face crop", unit="img", disable=not progress))
    for file in csvs:  # last: a copy with its csv files is a finished copy
        target = dst / file.relative_to(src)
        with atomic_path(target) as tmp:
            shutil.copyfile(file, tmp)
    manifest = _merge(dst, rows, [d for _, d in jobs])
    write_csv(dst / MANIFEST, manifest)
    return manifest, len(todo)


def _merge(dst: Path, rows: list[tuple], everything: list[str]) -> pd.DataFrame:
    """This run's rows, plus the earlier runs' for the pictures it skipped."""
    columns = ["file", "method", "x0", "y0", "x1", "y1"]
    new = pd.DataFrame([(os.path.relpath(r[0], dst), *r[1:]) for r in rows], columns=columns)
    old = pd.read_csv(dst / MANIFEST) if (dst / MANIFEST).is_file() else pd.DataFrame(columns=columns)
    table = pd.concat([old[~old["file"].isin(new["file"])], new], ignore_index=True)
    known = set(table["file"])
    missing = [os.path.relpath(d, dst) for d in everything if os.path.relpath(d, dst) not in known]
    if missing:  # written by a run that was stopped before its manifest
        table = pd.concat([table, pd.DataFrame({"file": missing, "method": "earlier run"})], ignore_index=True)
    return table.sort_values("file", ignore_index=True)


def summary(manifest: pd.DataFrame, done_now: int) -> str:
    counts = Counter(manifest["method"])
    parts = [f"{n} {method}" for method, n in sorted(counts.items())]
    share = counts.get(FALLBACK, 0) / max(1, len(manifest))
    return (f"{len(manifest)} pictures ({done_now} cropped now, {len(manifest) - done_now} already done): "
            f"{', '.join(parts)}; {share:.1%} used the centre-crop fallback")


MIN_SIDE = 8  # smaller keeps no face to train on; no step of the crop itself needs the rule


def _crop_size(text: str) -> tuple[int, int]:
    height, width = cli_types.size(text)
    if min(height, width) < MIN_SIDE:
        raise argparse.ArgumentTypeError(f"{text!r}: both sides must be at least {MIN_SIDE} pixels")
    return height, width


def _margin(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number, 0 or more")
    return value


def _quality(text: str) -> int:
    value = cli_types.positive_int(text)
    if value > 100:
        raise argparse.ArgumentTypeError(f"{text!r}: JPEG quality is 1..100")
    return value


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m data_loader.face_crop", description=__doc__,
                            formatter_class=cli_types.HelpFormatter)
    parser.add_argument("--src", type=Path, required=True, default=argparse.SUPPRESS, metavar="DATA_DIR",
                        help="the competition folder (holding train/ and eval/); only read")
    parser.add_argument("--dst", type=Path, required=True, default=argparse.SUPPRESS, metavar="CROPPED_DIR",
                        help="the folder the cropped copy goes into (new, or an earlier copy to finish); "
                        "outside --src")
    parser.add_argument("--detector", choices=DETECTORS, default="auto",
                        help="auto: MediaPipe when installed, Haar cascade for what it misses (or alone)")
    parser.add_argument("--margin", type=_margin, default=0.4, metavar="SHARE",
                        help="added on every side, share of the face box")
    parser.add_argument("--size", type=_crop_size, default="256,192", metavar="HEIGHT,WIDTH",
                        help=f"output size in pixels, each side at least {MIN_SIDE}")
    parser.add_argument("--fallback", type=cli_types.share, default=0.6, metavar="SHARE",
                        help="no face found: keep this share of the picture around its centre (1 = all)")
    parser.add_argument("--workers", type=cli_types.count, default=0, metavar="N",
                        help="processes (0: one per CPU core)")
    parser.add_argument("--quality", type=_quality, default=95, metavar="Q",
                        help="JPEG quality of the cropped pictures, 1..100")
    return parser


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if not args.src.is_dir():
        raise UserError(f"--src {args.src} is not a folder; name the competition folder (holding train/ and eval/)")
    if args.dst.exists() and not args.dst.is_dir():
        raise UserError(f"--dst {args.dst} is a file; name a folder for the cropped copy (new, or an earlier copy)")
    # Bad folders end in their one line before any note about the detectors (crop_folder walks
    # the folders again: milliseconds beside the cropping).
    plan(args.src, args.dst)
    try:
        args.dst.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--dst {args.dst}: cannot make the folder ({err.strerror}); name a writable place") from None
    if args.detector == "auto" and not mediapipe_available():
        print("mediapipe is not installed: Haar cascade only, which misses most masked faces; "
              "pip install -e \".[facecrop]\" for MediaPipe", file=sys.stderr)
    manifest, done_now = crop_folder(args.src, args.dst, args.detector, args.margin, args.size, args.fallback,
                                     args.workers, args.quality, progress=sys.stderr.isatty())
    print(summary(manifest, done_now))
    print(f"boxes: {args.dst / MANIFEST}; train on it with data_dir = \"{args.dst}\"")


if __name__ == "__main__":
    main()
