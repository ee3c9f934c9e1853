"""Face detectors for face crop: each turns an RGB picture into face boxes (x0, y0, x1, y1).

    "mediapipe"  MediaPipe's BlazeFace, bundled in the `mediapipe==0.10.14` wheel (the `facecrop`
                 extra; releases from 0.10.30 bundle no model): finds masked faces, ~2 ms a picture.
                 Tried as the short-range model, then on the picture padded (a face that fills
                 the frame is found once it has a border), then the full-range model.
    "haar"       OpenCV's frontal-face Haar cascade (always installed): finds far fewer masked
                 faces, a fallback only.
    "auto"       mediapipe, then haar when mediapipe finds nothing; haar alone when mediapipe is
                 not installed.

A detector's models are built lazily in each process and thread that uses them (the crop
command's worker processes, DataLoader workers, the image cache's decoding threads): MediaPipe
graphs are not shared across threads, and a process forked after MediaPipe ran aborts when it
builds new ones (so the crop command starts its workers with spawn).
"""
from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Callable, Iterator

import cv2
import numpy as np

from base.errors import UserError

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
DETECTORS = ("auto", "mediapipe", "haar")
MEDIAPIPE_PIN = "mediapipe==0.10.14"
_mediapipe_pid: int | None = None  # the process whose MediaPipe graphs exist: a fork of it cannot make new ones


def mediapipe_available() -> bool:
    try:
        _import_mediapipe()
    except ImportError:
        return False
    return True


def _import_mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's start-up chatter on stderr
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mediapipe.python.solutions import face_detection
    return face_detection


class Detector:
    """Callable: RGB uint8 picture -> (boxes, the name of the stage that found them)."""

    def __init__(self, name: str = "auto"):
        if name not in DETECTORS:
            raise UserError(f"face detector {name!r} is unknown; use one of {', '.join(DETECTORS)}")
        if name == "mediapipe" and not mediapipe_available():
            raise UserError(f"face detector 'mediapipe' is not installed; pip install '{MEDIAPIPE_PIN}' "
                            "(or the facecrop extra), or use detector 'haar'")
        if name == "auto":
            name = "mediapipe" if mediapipe_available() else "haar"
        self.name = name
        self._local = threading.local()

    def __call__(self, image: np.ndarray) -> tuple[list[Box], str]:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # first use in this thread and process
            with _quiet_stderr():
                local.stages, local.pid = self._build(), os.getpid()
                for _, detect in local.stages:  # warm up while stderr is quiet
                    detect(np.zeros((64, 64, 3), np.uint8))
        for stage, detect in local.stages:
            boxes = detect(image)
            if boxes:
                return boxes, stage
        return [], ""

    def _build(self) -> list[tuple[str, Callable]]:
        global _mediapipe_pid
        stages = []
        if self.name == "mediapipe":
            if _mediapipe_pid not in (None, os.getpid()):  # it would abort the process
                raise UserError("face_crop with mediapipe cannot start in a process forked after MediaPipe "
                                "ran; use the image cache (cache = \"memory\" or \"disk\") or crop offline "
                                "with python -m data_loader.face_crop")
            _mediapipe_pid = os.getpid()
            face_detection = _import_mediapipe()
            short = face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5)
            full = face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
            stages += [("mediapipe", lambda im: _mediapipe(short, im)),
                       ("mediapipe", lambda im: _padded(lambda p: _mediapipe(short, p), im)),
                       ("mediapipe", lambda im: _mediapipe(full, im))]
        return stages + [("haar", _haar_detector())]

    def __getstate__(self) -> dict:  # picklable for worker processes: the models are rebuilt there
        return {"name": self.name}

    def __setstate__(self, state: dict) -> None:
        self.name, self._local = state["name"], threading.local()


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the TensorFlow Lite start-up lines MediaPipe's C++ side writes to stderr."""
    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")  # protobuf 4, per call
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _mediapipe(model, image: np.ndarray) -> list[Box]:
    result = model.process(np.ascontiguousarray(image))
    h, w = image.shape[:2]
    boxes = []
    for det in result.detections or []:
        b = det.location_data.relative_bounding_box
        boxes.append((b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h))
    return boxes


def _padded(detect: Callable, image: np.ndarray, share: float = 0.3) -> list[Box]:
    """Detect on the picture with a grey border of `share` of its size, boxes in its own pixels."""
    h, w = image.shape[:2]
    py, px = int(h * share), int(w * share)
    padded = cv2.copyMakeBorder(image, py, py, px, px, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    return [(x0 - px, y0 - py, x1 - px, y1 - py) for x0, y0, x1, y1 in detect(padded)]


def _haar_detector() -> Callable:
    data = getattr(cv2, "data", None)
    path = os.path.join(data.haarcascades, "haarcascade_frontalface_default.xml") if data else ""
    cascade = cv2.CascadeClassifier(path) if path and os.path.exists(path) else None
    if cascade is None or cascade.empty():
        raise UserError(f"OpenCV {cv2.__version__} has no Haar cascades; pip install 'opencv-python-headless<5'")

    def detect(image: np.ndarray) -> list[Box]:
        grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        smallest = max(16, min(grey.shape) // 10)
        found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
        return [(float(x), float(y), float(x + w), float(y + h)) for x, y, w, h in found]

    return detect
