"""How well each face detector finds real (mask-wearing) faces, and how fast the crop command runs.

    python bench/face_crop.py --data FACEBENCH_DIR [--persons 100]

FACEBENCH_DIR is a built facebench folder (../shared/facebench/build.py --out DIR). Its pictures
are aligned 200x200 face photos with drawn masks; each is scaled to 140-240 px and pasted at a
random place on a 512x384 canvas (the competition's photo size, a plain light-to-dark gradient
behind), so where the face is, is known. Per detector: the share of pictures with a face found
(all, and those wearing a mask properly), the share of found crops that hold the face's core (the
central 60% of the pasted photo), and milliseconds per picture on one core. Then the whole
command (`python -m data_loader.face_crop`) on those canvases, over all cores: pictures per second.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_loader.face_crop import FALLBACK, crop_folder, find_crop  # noqa: E402
from data_loader.face_detectors import Detector, mediapipe_available  # noqa: E402
from data_loader.images import read_rgb  # noqa: E402
from data_loader.layout import read_train  # noqa: E402

CANVAS = (512, 384)


def canvases(table: pd.DataFrame, seed: int = 0):
    """(file name, RGB canvas, face core box, wears a mask) for every row."""
    rng = np.random.default_rng(seed)
    height, width = CANVAS
    background = np.linspace(200, 60, height).astype(np.uint8)[:, None, None]
    for row in table.itertuples():
        side = int(rng.integers(140, 241))
        face = cv2.resize(read_rgb(row.file), (side, side), interpolation=cv2.INTER_AREA)
        canvas = np.empty((height, width, 3), np.uint8)
        canvas[:] = background
        y, x = int(rng.integers(0, height - side)), int(rng.integers(0, width - side))
        canvas[y:y + side, x:x + side] = face
        core = (x + 0.2 * side, y + 0.2 * side, x + 0.8 * side, y + 0.8 * side)
        yield f"{row.folder}_{row.stem}", canvas, core, row.mask == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="a built facebench folder")
    ap.add_argument("--persons", type=int, default=100, help="training persons used (7 pictures each)")
    args = ap.parse_args()
    table = read_train(args.data)
    table = table[table["folder"].isin(sorted(table["folder"].unique())[:args.persons])]
    pictures = list(canvases(table))
    names = ["haar"] + (["mediapipe"] if mediapipe_available() else [])
    print(f"{len(pictures)} pictures of {args.persons} persons ({sum(p[3] for p in pictures)} wearing a mask)\n")
    print("| detector | faces found | masked faces found | crop holds the face | ms / picture (1 core) |")
    print("|---|---|---|---|---|")
    for name in names:
        detector = Detector(name)
        detector(pictures[0][1])  # build the models outside the timing
        found = masked = held = 0
        start = time.perf_counter()
        for _, canvas, core, wears in pictures:
            box, method = find_crop(canvas, detector, margin=0.4, aspect=4 / 3, fallback=0.6)
            if method != FALLBACK:
                found += 1
                masked += wears
                held += box[0] <= core[0] and box[1] <= core[1] and box[2] >= core[2] and box[3] >= core[3]
        ms = (time.perf_counter() - start) / len(pictures) * 1000
        n_masked = sum(p[3] for p in pictures)
        print(f"| {name} | {found / len(pictures):.1%} | {masked / max(1, n_masked):.1%} | "
              f"{held / max(1, found):.1%} | {ms:.1f} |")

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        (src / "eval" / "images").mkdir(parents=True)
        pd.DataFrame({"ImageID": [p[0] + ".jpg" for p in pictures], "ans": 0}).to_csv(src / "eval" / "info.csv",
                                                                                        index=False)
        for name, canvas, _, _ in pictures:
            cv2.imwrite(str(src / "eval" / "images" / f"{name}.jpg"), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        start = time.perf_counter()
        manifest, _ = crop_folder(src, Path(tmp) / "dst", "auto", progress=False)
        seconds = time.perf_counter() - start
    print(f"\npython -m data_loader.face_crop (detector auto = {Detector('auto').name}, "
          f"{os.cpu_count()} processes): {len(manifest)} pictures in {seconds:.1f} s = "
          f"{len(manifest) / seconds:.0f} pictures/s, {(manifest['method'] == FALLBACK).mean():.1%} fallback")


if __name__ == "__main__":
    main()
