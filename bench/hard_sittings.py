"""A harder facebench: the seven pictures of a sitting differ as separate photos do.

    python bench/hard_sittings.py --out DIR [--facebench DIR] [--seed 0]

facebench makes a person's seven pictures from one aligned photo with mild jitter (a few degrees,
+-10% scale, a few pixels of shift), so the person vote's grouping finds its persons almost
perfectly (adjusted Rand index 0.99). The competition's seven pictures are seven photos. This
copies a facebench build (train and eval; labels, ImageIDs and answers unchanged) with every
picture independently mirrored or not, turned up to 15 degrees, rescaled by 0.8-1.2, framed up
to 12% off centre, and lit differently (brightness, contrast, gamma and a colour cast), so the
grouping has to look past what differs between photos of one sitting. The faces and the drawn
masks stay as they were: the classes are as hard as in facebench; only the sittings are not.
Deterministic for a given --seed; about two minutes for the full build on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from base.errors import UserError, exit_on_user_error  # noqa: E402

IMAGES = {".jpg", ".jpeg", ".png"}


def differ(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One picture as another photo of its sitting: mirror, turn, scale, framing, light, colour."""
    h, w = image.shape[:2]
    if rng.random() < 0.5:
        image = image[:, ::-1]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-15, 15), rng.uniform(0.8, 1.2))
    m[:, 2] += rng.uniform(-0.12, 0.12, 2) * (w, h)
    out = cv2.warpAffine(np.ascontiguousarray(image), m, (w, h), borderMode=cv2.BORDER_REFLECT101)
    out = out.astype(np.float32) / 255.0
    out = out ** rng.uniform(0.7, 1.4)  # gamma
    out = (out - 0.5) * rng.uniform(0.7, 1.3) + 0.5 + rng.uniform(-0.15, 0.15)  # contrast, brightness
    out = out * rng.uniform(0.85, 1.15, 3)  # colour cast (BGR)
    return np.clip(out * 255.0, 0, 255).astype(np.uint8)


def convert(job: tuple[str, str, int]) -> None:
    source, target, seed = job
    rng = np.random.default_rng([seed, int(hashlib.sha1(Path(source).name.encode()).hexdigest()[:12], 16),
                                 int(hashlib.sha1(str(Path(source).parent.name).encode()).hexdigest()[:12], 16)])
    image = cv2.imread(source, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"could not read {source}")
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if Path(target).suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(target, differ(image, rng), params):
        raise OSError(f"could not write {target}")


@exit_on_user_error
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="the folder to write (must not exist)")
    ap.add_argument("--facebench", type=Path, default=ROOT.parent / "shared" / "facebench",
                    help="a facebench folder with build.py (built once) or a build of it")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from facebench import built_facebench

    if args.out.exists():
        raise UserError(f"--out {args.out} exists; give a new folder")
    source = built_facebench(args.facebench)
    partial = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    jobs = []
    for file in sorted(source.rglob("*")):
        target = partial / file.relative_to(source)
        if file.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif file.suffix.lower() in IMAGES:
            jobs.append((str(file), str(target), args.seed))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
    with ProcessPoolExecutor() as pool:
        list(pool.map(convert, jobs, chunksize=256))
    partial.rename(args.out)
    print(f"wrote {args.out}: {len(jobs)} pictures from {source}, sittings made to differ (seed {args.seed})")


if __name__ == "__main__":
    main()
