"""Built-in demo data: drawn faces laid out exactly like the competition's data.

Every person gets a fixed look (skin, face shape, hair, clothes, background) and seven
pictures of one sitting (mask1..mask5 with five different masks, incorrect_mask, normal),
each with its own small pose / light / noise jitter. What the labels mean is drawn in:
- mask: worn (nose and mouth covered), incorrect (nose out, or the mask on the chin), none;
- gender: long hair for women, short for men (several styles each), lipstick, stubble;
- age: hair greys from 30 and is white from 60; forehead lines appear at 30 and multiply.
Ages follow the competition's imbalance (>=60 is about 7% of persons).

    python -m data_loader.demo_data --out DIR [--persons 400 --eval-persons 100 --size 128,96 --seed 0]

The same arguments always give the same files (byte for byte). The limits are the config's for
the "demo" data_dir (demo_persons, demo_eval_persons, demo_image_size).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from base.cli_types import HelpFormatter, count, positive_int, size
from base.errors import ArgumentParser, UserError, exit_on_user_error
from data_loader.labels import MASK_STEMS, age_group, encode

GENERATOR_VERSION = 3
AGE_SHARES = (0.47, 0.46, 0.07)
AGE_RANGES = ((18, 29), (30, 59), (60, 69))
FEMALE_SHARE = 0.61
SKIN = [(205, 225, 245), (170, 200, 235), (140, 180, 220), (110, 150, 200), (80, 115, 165)]
YOUNG_HAIR = [(20, 20, 25), (30, 45, 70), (40, 70, 110), (90, 150, 200), (30, 50, 120)]
MASK_COLOURS = [(245, 245, 245), (235, 200, 150), (40, 40, 40), (150, 150, 150), (200, 170, 230),
                (110, 80, 40), (180, 220, 250), (60, 90, 150), (120, 160, 120), (220, 220, 200)]
EXTENSIONS = (".jpg", ".png", ".jpeg")
MIN_PERSONS, MIN_EVAL_PERSONS, MIN_SIDE = 10, 1, 32  # as base/config.py's rules for the demo_* knobs


@dataclass
class Person:
    id: str
    gender: str
    age: int
    skin: np.ndarray
    hair: np.ndarray
    background: np.ndarray
    shirt: np.ndarray
    hair_style: int
    face_w: float
    face_h: float
    stubble: bool
    mask_colours: list


def default_cache_dir() -> Path:
    """Where generated demo data lives: $MASK18_CACHE, else ~/.cache/mask18."""
    return Path(os.environ.get("MASK18_CACHE", Path.home() / ".cache" / "mask18"))


def demo_dir(persons: int = 400, eval_persons: int = 100, size: tuple[int, int] = (128, 96),
             seed: int = 0, cache_dir: Path | None = None) -> Path:
    """The demo data folder for these parameters, generated on first use."""
    name = f"demo-v{GENERATOR_VERSION}-p{persons}-e{eval_persons}-{size[0]}x{size[1]}-s{seed}"
    out = Path(cache_dir or default_cache_dir()) / name
    if not (out / "eval" / "answers.csv").exists():
        generate(out, persons, eval_persons, size, seed)
    return out


def generate(out: Path, persons: int, eval_persons: int, size: tuple[int, int], seed: int) -> None:
    """Write the whole layout into a temp folder beside `out`, then rename it into place."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent))
    try:
        rng = np.random.default_rng(seed)
        people = [_person(rng, 1 + i * 3) for i in range(persons + eval_persons)]
        _write_train(tmp / "train", people[:persons], size, rng)
        _write_eval(tmp / "eval", people[persons:], size, rng, seed)
        try:
            os.replace(tmp, out)
        except OSError:  # another process finished first; its copy is identical
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _person(rng: np.random.Generator, number: int) -> Person:
    group = rng.choice(3, p=AGE_SHARES)
    age = int(rng.integers(AGE_RANGES[group][0], AGE_RANGES[group][1] + 1))
    gender = "female" if rng.random() < FEMALE_SHARE else "male"
    young = np.array(YOUNG_HAIR[rng.integers(len(YOUNG_HAIR))], float)
    grey = 0.0 if age < 30 else 0.3 + 0.25 * (age - 30) / 30 if age < 60 else 1.0
    hair = (1 - grey) * young + grey * np.array([228, 228, 232.0])
    colours = rng.permutation(len(MASK_COLOURS))[:6]
    return Person(
        id=f"{number:06d}", gender=gender, age=age,
        skin=np.array(SKIN[rng.integers(len(SKIN))], float) + rng.normal(0, 6, 3),
        hair=hair + rng.normal(0, 5, 3),
        background=_contrasting(rng, hair),
        shirt=rng.uniform(20, 235, 3),
        hair_style=int(rng.integers(3)),
        face_w=float(rng.uniform(0.24, 0.29)),
        face_h=float(rng.uniform(0.23, 0.27)),
        stubble=gender == "male" and rng.random() < 0.3,
        mask_colours=[MASK_COLOURS[c] for c in colours],
    )


def _contrasting(rng: np.random.Generator, hair: np.ndarray) -> np.ndarray:
    """A background colour the hair stands out from (real photographers see to that too)."""
    while True:
        colour = rng.uniform(60, 230, 3)
        if np.abs(colour - hair).sum() > 120:
            return colour


def _write_train(root: Path, people: list[Person], size, rng) -> None:
    rows = []
    for p in people:
        path = f"{p.id}_{p.gender}_Asian_{p.age}"
        folder = root / "images" / path
        folder.mkdir(parents=True)
        for stem in MASK_STEMS:
            ext = EXTENSIONS[rng.choice(3, p=(0.8, 0.1, 0.1))]
            _save(folder / (stem + ext), draw(p, stem, size, rng))
        rows.append({"id": p.id, "gender": p.gender, "race": "Asian", "age": p.age, "path": path})
    pd.DataFrame(rows).to_csv(root / "train.csv", index=False)


def _write_eval(root: Path, people: list[Person], size, rng, seed: int) -> None:
    rows = []
    (root / "images").mkdir(parents=True)
    for p in people:
        for stem, mask in MASK_STEMS.items():
            image_id = hashlib.sha1(f"{seed}-{p.id}-{stem}".encode()).hexdigest() + ".jpg"
            _save(root / "images" / image_id, draw(p, stem, size, rng))
            gender, group = int(p.gender == "female"), int(age_group(p.age))
            rows.append({"ImageID": image_id, "ans": encode(mask, gender, group),
                         "mask": mask, "gender": gender, "age_group": group})
    answers = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    answers.assign(ans=0)[["ImageID", "ans"]].to_csv(root / "info.csv", index=False)
    answers.to_csv(root / "answers.csv", index=False)


def _save(path: Path, image: np.ndarray) -> None:
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if path.suffix != ".png" else []
    ok, buf = cv2.imencode(path.suffix, image, params)
    assert ok, path
    path.write_bytes(buf.tobytes())


def draw(p: Person, stem: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One BGR picture of person `p` wearing the mask that `stem` names."""
    import cv2  # here, not at the top: the command's --help needs no OpenCV

    h, w = size
    img = np.empty((h, w, 3), np.float32)
    img[:] = p.background
    img *= np.linspace(1.1, 0.85, h)[:, None, None]  # light from above
    cx, cy = w / 2, h * 0.44
    fw, fh = p.face_w * w, p.face_h * h
    c = lambda x: tuple(float(v) for v in np.clip(x, 0, 255))  # noqa: E731
    pt = lambda x, y: (int(round(x)), int(round(y)))  # noqa: E731

    _hair_back(img, p, cx, cy, fw, fh, c, pt)
    cv2.ellipse(img, pt(cx, h * 1.02), (int(w * 0.48), int(h * 0.22)), 0, 0, 360, c(p.shirt), -1)
    cv2.rectangle(img, pt(cx - fw * 0.4, cy + fh * 0.6), pt(cx + fw * 0.4, h * 0.86), c(p.skin * 0.9), -1)
    cv2.ellipse(img, pt(cx, cy), (int(fw), int(fh)), 0, 0, 360, c(p.skin), -1, cv2.LINE_AA)
    _hair_top(img, p, cx, cy, fw, fh, c, pt)
    _face_details(img, p, cx, cy, fw, fh, c, pt)
    mask = MASK_STEMS[stem]
    if mask != 2:
        colour = p.mask_colours[int(stem[-1]) - 1 if mask == 0 else 5]
        top = cy + fh * 0.02 if mask == 0 else cy + fh * rng.choice([0.38, 0.62])  # nose out / on the chin
        _mask(img, cx, top, fw, fh, colour, c, pt)
    return _jitter(img, rng)


def _hair_back(img, p, cx, cy, fw, fh, c, pt) -> None:
    import cv2

    if p.gender == "female":  # long hair behind the face and neck, to or over the shoulders
        length = (2.0, 1.6, 1.2)[p.hair_style]
        cv2.ellipse(img, pt(cx, cy - fh * 0.2), (int(fw * 1.25), int(fh * 0.95)), 0, 0, 360,
                    c(p.hair), -1, cv2.LINE_AA)
        cv2.rectangle(img, pt(cx - fw * 1.25, cy - fh * 0.2), pt(cx + fw * 1.25, cy + fh * length),
                      c(p.hair), -1)


def _hair_top(img, p, cx, cy, fw, fh, c, pt) -> None:
    import cv2

    thick = (0.55, 0.45, 0.35)[p.hair_style]
    cv2.ellipse(img, pt(cx, cy - fh * 0.62), (int(fw * 1.0), int(fh * thick + fh * 0.2)), 0, 180, 360,
                c(p.hair), -1, cv2.LINE_AA)
    if p.gender == "male" and p.hair_style == 2:  # side part
        cv2.line(img, pt(cx - fw * 0.35, cy - fh * 1.05), pt(cx - fw * 0.3, cy - fh * 0.6),
                 c(p.hair * 0.6), 1, cv2.LINE_AA)
    if p.age >= 30:  # grey temples
        for side in (-1, 1):
            cv2.ellipse(img, pt(cx + side * fw * 0.95, cy - fh * 0.3), (int(fw * 0.16), int(fh * 0.35)),
                        0, 0, 360, c(p.hair * 0.2 + 190), -1, cv2.LINE_AA)


def _face_details(img, p, cx, cy, fw, fh, c, pt) -> None:
    import cv2

    skin = p.skin
    for side in (-1, 1):
        ex, ey = cx + side * fw * 0.4, cy - fh * 0.12
        cv2.ellipse(img, pt(ex, ey), (max(2, int(fw * 0.16)), max(1, int(fh * 0.08))), 0, 0, 360,
                    c((240, 240, 240)), -1, cv2.LINE_AA)
        cv2.circle(img, pt(ex, ey), max(1, int(fw * 0.07)), c((40, 30, 20)), -1, cv2.LINE_AA)
        brow = 2 if p.gender == "male" else 1
        cv2.line(img, pt(ex - fw * 0.17, ey - fh * 0.16), pt(ex + fw * 0.17, ey - fh * 0.18),
                 c(p.hair * 0.7), brow, cv2.LINE_AA)
        if p.gender == "female":  # earrings
            cv2.circle(img, pt(cx + side * fw * 1.02, cy + fh * 0.2), max(1, int(fw * 0.06)),
                       c((40, 200, 230)), -1, cv2.LINE_AA)
    lines = 0 if p.age < 30 else 1 if p.age < 45 else 2 if p.age < 60 else 3
    thick = max(1, round(img.shape[0] / 64))
    for i in range(lines):  # forehead lines
        y = cy - fh * (0.38 + 0.1 * i)
        cv2.ellipse(img, pt(cx, y + fh * 0.1), (int(fw * 0.45), int(fh * 0.1)), 0, 200, 340,
                    c(skin * 0.55), thick, cv2.LINE_AA)
    if p.stubble:
        cv2.ellipse(img, pt(cx, cy + fh * 0.55), (int(fw * 0.65), int(fh * 0.4)), 0, 0, 180,
                    c(skin * 0.7), -1, cv2.LINE_AA)
    nose = np.array([pt(cx, cy - fh * 0.05), pt(cx - fw * 0.12, cy + fh * 0.25), pt(cx + fw * 0.12, cy + fh * 0.25)])
    cv2.fillConvexPoly(img, nose, c(skin * 0.78), cv2.LINE_AA)
    lips = (60, 50, 200) if p.gender == "female" else skin * 0.6
    cv2.ellipse(img, pt(cx, cy + fh * 0.5), (int(fw * 0.3), max(1, int(fh * 0.07))), 0, 0, 360,
                c(lips), -1, cv2.LINE_AA)


def _mask(img, cx, top, fw, fh, colour, c, pt) -> None:
    import cv2

    bottom = top + fh * 0.85
    poly = np.array([pt(cx - fw * 0.9, top + fh * 0.1), pt(cx, top - fh * 0.05), pt(cx + fw * 0.9, top + fh * 0.1),
                     pt(cx + fw * 0.8, bottom - fh * 0.2), pt(cx, bottom), pt(cx - fw * 0.8, bottom - fh * 0.2)])
    cv2.fillPoly(img, [poly], c(colour), cv2.LINE_AA)
    for side in (-1, 1):  # ear loops
        cv2.line(img, pt(cx + side * fw * 0.9, top + fh * 0.1), pt(cx + side * fw, top - fh * 0.25),
                 c(np.array(colour) * 0.8), 1, cv2.LINE_AA)
    cv2.line(img, pt(cx - fw * 0.7, top + fh * 0.35), pt(cx + fw * 0.7, top + fh * 0.35),
             c(np.array(colour) * 0.85), 1, cv2.LINE_AA)


def _jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The seven pictures of a sitting differ a little in pose, light and noise."""
    import cv2

    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-6, 6), rng.uniform(0.95, 1.05))
    m[:, 2] += rng.uniform(-0.04, 0.04, 2) * (w, h)
    img = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    img = img * rng.uniform(0.85, 1.15) + rng.uniform(-12, 12, 3) + rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _at_least(minimum: int, parse, what: str):
    """`parse`, refusing a value (or a side) under `minimum`."""
    def checked(text: str):
        value = parse(text)
        if min(value if isinstance(value, tuple) else (value,)) < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: {what} must be at least {minimum}")
        return value
    return checked


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="python -m data_loader.demo_data", description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--out", type=Path, required=True, default=argparse.SUPPRESS, metavar="DIR",
                    help="the folder to write train/ and eval/ into; it must not exist yet")
    ap.add_argument("--persons", type=_at_least(MIN_PERSONS, positive_int, "persons"), default=400, metavar="N",
                    help=f"train persons (7 images each; at least {MIN_PERSONS})")
    ap.add_argument("--eval-persons", type=_at_least(MIN_EVAL_PERSONS, positive_int, "eval persons"), default=100,
                    metavar="N", help=f"eval persons (7 images each; at least {MIN_EVAL_PERSONS})")
    ap.add_argument("--size", type=_at_least(MIN_SIDE, size, "each side"), default="128,96", metavar="HEIGHT,WIDTH",
                    help=f"picture size in pixels (each side at least {MIN_SIDE})")
    ap.add_argument("--seed", type=count, default=0, metavar="N", help="the same seed gives the same files")
    return ap


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    a = build_parser().parse_args(argv)
    if a.out.exists():
        kind = "folder" if a.out.is_dir() else "file"
        raise UserError(f"--out {a.out} already exists (a {kind}); name a new folder, or delete this one first")
    try:
        a.out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {a.out}: cannot make the folder it goes in ({err.strerror}); name a writable place") \
            from None
    generate(a.out, a.persons, a.eval_persons, a.size, a.seed)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
