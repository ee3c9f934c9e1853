"""How long the image check before training takes: data_loader.verify.bad_images over every
training image of a demo set (files already in the OS cache, as right after a first read).

    python bench/verify_images.py                          # the default demo: 400 persons, 128x96
    python bench/verify_images.py --persons 300 --size 512,384   # competition-sized pictures

For reference it also times a plain full-size cv2 decode of the same files on the same threads.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from base.cli_types import size  # noqa: E402
from data_loader import verify  # noqa: E402
from data_loader.demo_data import demo_dir  # noqa: E402
from data_loader.layout import read_train  # noqa: E402


def full_decode(file: str) -> bool:
    return cv2.imdecode(np.fromfile(file, dtype=np.uint8), cv2.IMREAD_COLOR) is not None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=400)
    ap.add_argument("--size", type=size, default=(128, 96), metavar="H,W", help="picture size (default: 128,96)")
    args = ap.parse_args()
    root = demo_dir(args.persons, 100, tuple(args.size), 0)
    files = read_train(root)["file"].tolist()
    for file in files:  # into the OS cache, so both timings read from memory
        Path(file).read_bytes()
    threads = min(32, 2 * (os.cpu_count() or 1))
    started = time.perf_counter()
    bad = verify.bad_images(files, threads)
    check = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        assert all(pool.map(full_decode, files))
    full = time.perf_counter() - started
    print(f"{len(files)} images {args.size[0]}x{args.size[1]}, {threads} threads on {os.cpu_count()} cores: "
          f"check {check:.2f} s ({check / len(files) * 1e3:.2f} ms/image, {len(bad)} bad); "
          f"full cv2 decode {full:.2f} s ({full / len(files) * 1e3:.2f} ms/image)")


if __name__ == "__main__":
    main()
