"""Reading a picture: any image file as an RGB uint8 array, for the datasets, the cache and the face crop."""
from __future__ import annotations

import cv2
import numpy as np

from base.errors import UserError

# One OpenCV thread, set in the main process before any OpenCV pool exists: DataLoader workers
# and the cache's decoding threads parallelise across pictures already, and changing the thread
# count inside a forked worker whose parent used OpenCV's pool can hang it (mmpretrain#1824).
cv2.setNumThreads(1)


def read_rgb(file: str) -> np.ndarray:
    """An image file as an RGB uint8 array (paths with any characters)."""
    image = cv2.imdecode(np.fromfile(file, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"{file}: cannot be decoded as an image; replace or remove it")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
