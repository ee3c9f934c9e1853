"""A warning for a run that shrinks large photos to a CPU-sized input.

The CPU presets (config.py, configs/best.py, configs/fast.py) train at 64x48; pointed at the
competition's 384x512 photos they would throw away 98% of every picture's pixels without a word.
Reading a few files' headers (Pillow reads the size without decoding) is enough to say so.
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence

LARGER = 16  # photo area / model input area from which the input counts as far too small (4x per side)
GPU_PRESET = "configs/competition_best.py"


def photo_sizes(files: Sequence[str], sample: int = 8) -> list[tuple[int, int]]:
    """(height, width) of up to `sample` of `files`, spread over the list; unreadable ones skipped."""
    from PIL import Image

    step = max(1, len(files) // sample)
    sizes = []
    for file in list(files)[::step][:sample]:
        try:
            with Image.open(file) as image:
                sizes.append((image.height, image.width))
        except OSError:
            continue
    return sizes


def too_small_warning(files: Sequence[str], image_size: Sequence[int], face_crop: str = "off") -> str | None:
    """One line when the photos are at least LARGER times the model's input in area (a face crop
    keeps only the face, so no warning then); None otherwise."""
    sizes = photo_sizes(files)
    if face_crop != "off" or not sizes:
        return None
    height, width = (statistics.median(s[i] for s in sizes) for i in (0, 1))
    ratio = height * width / (image_size[0] * image_size[1])
    if ratio < LARGER:
        return None
    return (f"warning: the photos are about {height:.0f}x{width:.0f} and image_size is "
            f"{image_size[0]}x{image_size[1]} ({ratio:.0f}x fewer pixels); for real photos on a GPU start from "
            f"--config {GPU_PRESET}, or set image_size (and backbone, pretrained) to suit them")
