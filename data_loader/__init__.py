"""Data: the layout, labels, split, datasets, transforms, samplers and caches."""
import os

# albumentations asks PyPI for a newer release whenever it is imported; mask18 needs no network
# at run time, and on an offline GPU machine that request only costs its time-out.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
