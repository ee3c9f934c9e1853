"""Decoded-image cache: every picture decoded and resized once, into one uint8 array.

JPEG/PNG decoding is where a few CPU cores spend an epoch; with the cache, epochs after the
first (which builds it) only augment. The array is (N, H, W, 3) RGB at `cache_size` (default
`image_size`), resized with the configured policy, so the pipeline's own resize then has nothing
left to do. It lives in memory (DataLoader workers are forked and share its pages without
copying) or, for data larger than the memory budget, in an .npy file opened as a memmap (every
worker maps the same file; the OS page cache shares it). A disk cache is kept and reused by
later runs; its name is a hash of the files (path, size, modification time), the size and the
resize policy, so a change of any of them builds a new one. A cache file is built by one process
and never replaced, even where machines share the cache folder (data_loader/build_once.py).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import albumentations as A
import numpy as np

from base.errors import UserError
from data_loader.build_once import build_once
from data_loader.datasets import image_reader
from data_loader.demo_data import default_cache_dir
from data_loader.transforms import resize

CACHE_VERSION = 1


def cache_shape(cfg) -> tuple[int, int]:
    return tuple(cfg.cache_size) if min(cfg.cache_size) > 0 else tuple(cfg.image_size)


def cache_key(files: Sequence[str], size: tuple[int, int], policy: str, crop: str = "") -> str:
    h = hashlib.sha1(f"v{CACHE_VERSION} {size} {policy}{crop}".encode())
    for file in files:
        stat = os.stat(file)
        h.update(f"{file}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def cache_mode(files: Sequence[str], cfg, processes: int = 1) -> str:
    """"off", "memory" or "disk" for `files`. `processes` on one machine (torchrun) each keep their
    own memory cache, so they share the `cache_memory_gb` budget."""
    if not len(files):
        return "off"
    if cfg.cache != "auto":
        return cfg.cache
    height, width = cache_shape(cfg)
    return "memory" if len(files) * height * width * 3 <= cfg.cache_memory_gb * 2**30 / processes else "disk"


def load(files: Sequence[str], cfg, threads: int | None = None, processes: int = 1) -> np.ndarray | None:
    """The decoded images of `files` in order, from or into the cache; None when the cache is off."""
    mode = cache_mode(files, cfg, processes)
    if mode == "off":
        return None
    height, width = cache_shape(cfg)
    shrink = A.Compose(resize(cfg.replace(image_size=(height, width))))
    if mode == "memory":
        images = np.empty((len(files), height, width, 3), np.uint8)
        _fill(images, files, shrink, image_reader(cfg), threads)
        return images
    folder = disk_folder(cfg)
    crop = "" if cfg.face_crop == "off" else \
        f" {cfg.face_crop} {cfg.face_crop_margin} {cfg.face_crop_fallback} {cfg.image_size}"
    path = folder / f"{cache_key(files, (height, width), cfg.resize, crop)}.npy"

    def write(tmp: Path) -> None:
        images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(files), height, width, 3))
        _fill(images, files, shrink, image_reader(cfg), threads)
        images.flush()
        del images

    build_once(path, write)  # one builder per file, however many machines share the folder
    return np.load(path, mmap_mode="r")


def disk_folder(cfg) -> Path:
    """The folder disk caches live in, made if missing; one line when it cannot be made or written."""
    folder = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir() / "images"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        problem = err.strerror or type(err).__name__
    else:
        problem = None if os.access(folder, os.W_OK) else "not writable"
    if problem:
        knob = "cache_dir" if cfg.cache_dir else "cache_dir (default: $MASK18_CACHE/images)"
        raise UserError(f"config knob {knob}: {folder} cannot hold the disk cache ({problem}); set cache_dir to a "
                        "writable folder, or cache='memory' or 'off'")
    return folder


def _fill(images: np.ndarray, files: Sequence[str], shrink: A.Compose, read, threads: int | None) -> None:
    def one(i: int) -> None:
        images[i] = shrink(image=read(files[i]))["image"]

    # OpenCV decodes and resizes with the GIL released, so threads keep every core busy.
    with ThreadPoolExecutor(threads or min(32, 2 * (os.cpu_count() or 1))) as pool:
        list(pool.map(one, range(len(files))))
