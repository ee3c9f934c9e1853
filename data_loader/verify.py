"""Decode every image once before training or inference, so a bad file stops the run at the start
with one line naming it, not hours later inside a DataLoader worker.

    python -m data_loader.verify DATA_DIR     # list every bad train and eval image, one per line

It prints one line per bad file (the file, a tab, what is wrong with it), a count on stderr, and
exits with 1 when any file is bad, 0 when none is.

The check decodes with OpenCV, the reader training uses, at an eighth of the size: a JPEG then
skips nearly all of its inverse DCT but still reads all of its data (about 3x faster than a full
decode; see bench/verify_images.py). OpenCV's handling of a truncated JPEG has
changed between versions (some return the picture with the missing part grey), so a JPEG that
does not end with its end-of-image marker is also fully read by Pillow, which reports truncation.
Files already found good (same path, size and modification time) are not decoded again.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from base.cli_types import HelpFormatter
from base.errors import ArgumentParser, UserError, exit_on_user_error

SHOWN = 3  # bad files named in the one-line message; the CLI above lists them all
_good: set[tuple[str, int, int]] = set()


def image_problem(file: str) -> str | None:
    """Why `file` cannot be used as a training picture, or None when it decodes."""
    import cv2  # here, not at the top: the command's --help needs no OpenCV

    try:
        stat = os.stat(file)
        key = (file, stat.st_size, stat.st_mtime_ns)
        if key in _good:
            return None
        data = np.fromfile(file, dtype=np.uint8)
    except OSError as err:
        return f"unreadable: {err.strerror or err}"
    if data.size == 0:
        return "empty file"
    decoded = None
    # An eighth of the size decodes fastest; a side under 8 pixels has no such reduction (OpenCV
    # raises), so what fails reduced is tried whole before it is called undecodable.
    for mode in (cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_COLOR):
        try:
            decoded = cv2.imdecode(data, mode)
        except cv2.error:  # e.g. a header claiming more pixels than OpenCV accepts
            decoded = None
        if decoded is not None:
            break
    if decoded is None:
        return "not a decodable image"
    if data[:2].tobytes() == b"\xff\xd8" and not _ends_with_eoi(data) and _truncated(file):
        return "truncated"
    _good.add(key)
    return None


def bad_images(files: Sequence[str], threads: int | None = None) -> dict[str, str]:
    """{file: problem} of the files that do not decode, in the order given. Decoding releases the
    GIL, so threads use every core."""
    threads = threads or min(32, 2 * (os.cpu_count() or 1))
    with _quiet_native_stderr(), ThreadPoolExecutor(threads) as pool:
        problems = list(pool.map(image_problem, files))
    return {f: p for f, p in zip(files, problems, strict=True) if p is not None}


def check_images(table: pd.DataFrame, what: str, skip: bool = False) -> pd.DataFrame:
    """`table` (a "file" column) when every image decodes; else a UserError naming the bad files,
    or with `skip` the table without them and a warning."""
    bad = bad_images(table["file"].tolist())
    if not bad:
        return table
    listed = ", ".join(f"{f} ({p})" for f, p in list(bad.items())[:SHOWN])
    more = f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    summary = f"{len(bad)} of {len(table)} {what} images cannot be used: {listed}{more}"
    if not skip:
        fix = ("replace or remove them, or set skip_bad_images=True to train without them" if what == "training"
               else "replace them: every eval image needs a prediction")
        raise UserError(f"{summary}; {fix} (python -m data_loader.verify DATA_DIR lists them all)")
    kept = table[~table["file"].isin(bad)].reset_index(drop=True)
    if kept.empty:
        raise UserError(f"no usable {what} images left after leaving out {len(bad)} bad ones; check data_dir")
    logging.getLogger("mask18").warning(f"warning: {summary}; left out (skip_bad_images=True)")
    return kept


def _ends_with_eoi(data: np.ndarray) -> bool:
    return data[-64:].tobytes().rstrip(b"\x00\r\n\t ").endswith(b"\xff\xd9")


def _truncated(file: str) -> bool:
    """A JPEG that stops before its image data ends (data after a complete image is fine)."""
    from PIL import Image  # Pillow comes with torchvision; only needed for this rare case

    try:
        with Image.open(file) as image:
            image.load()
    except (OSError, SyntaxError, ValueError):
        return True
    return False


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """libpng and libjpeg print their complaints straight to the process's stderr; each bad file
    is named in our one line instead."""
    try:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):  # no real stderr (an embedded interpreter): nothing to hide
        yield
        return
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="python -m data_loader.verify", description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("data_dir", type=Path, metavar="DATA_DIR",
                    help="the competition folder (holding train/ and eval/); only read")
    return ap


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    from data_loader.layout import read_eval, read_train

    root = build_parser().parse_args(argv).data_dir
    if not root.is_dir():
        raise UserError(f"DATA_DIR {root} is not a folder; name the competition folder (holding train/ and eval/)")
    files = read_train(root)["file"].tolist()
    if (root / "eval" / "info.csv").is_file():
        files += read_eval(root)["file"].tolist()
    bad = bad_images(files)
    for file, problem in bad.items():
        print(f"{file}\t{problem}")
    print(f"{len(bad)} of {len(files)} images cannot be used", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
