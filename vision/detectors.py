"""Pretrained object detectors that run offline, behind one function.

* ``dlib_hog_face`` — dlib's frontal face detector: HOG features + linear SVM
  (Dalal & Triggs 2005; dlib ``get_frontal_face_detector``), fast on a CPU.
* ``dlib_cnn_face`` — dlib's MMOD CNN face detector (King 2015, "Max-Margin
  Object Detection"; ``mmod_human_face_detector.dat`` from
  ``face_recognition_models``), finds turned faces, slow without a GPU.
* ``opencv_hog_people`` — OpenCV 4.x's HOG people detector
  (``cv2.HOGDescriptor_getDefaultPeopleDetector``: Dalal & Triggs' 64×128
  pedestrian SVM). OpenCV 5 moved HOG to its contrib modules, hence the 4.x pin.
  This is the seed's "pretrained detector drawing boxes around people"
  (section 5), done with a detector that ships with the installed packages.

Models load once per process through :mod:`vision.registry` (declared in :mod:`vision.catalog`); dlib and cv2 are
imported only when a detector runs (the web process never imports them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision import registry

DETECTORS = {
    "dlib_hog_face": ("face", "dlib HOG face detector (fast)"),
    "dlib_cnn_face": ("face", "dlib CNN face detector (MMOD; slower, finds turned faces)"),
    "opencv_hog_people": ("person", "OpenCV HOG people detector (standing people)"),
}
"""name -> (class it finds, description)."""

PEOPLE_MIN_SIDE = 800
"""Photos whose longer side is below this are upscaled before the HOG people
detector runs: its window is 64×128 px, so smaller people are missed
(a speed/recall trade-off; larger is slower and finds smaller people)."""

PEOPLE_SHRINK = (0.15, 0.05)
"""Fraction of the HOG window's width and height cut from each side to get the
person's box (OpenCV ``samples/python/peopledetect.py``, ``draw_detections``)."""


@dataclass(frozen=True)
class DetectedObject:
    """One detection.

    Attributes:
        box: pixel ``(xmin, ymin, xmax, ymax)`` floats in the input image, clipped to it.
        label: class name (``"face"``, ``"person"``).
        score: detector confidence, higher is surer; the scale depends on the
            detector (dlib HOG: SVM margin around 0..3; dlib CNN: around 0..2;
            OpenCV HOG: SVM weight around 0..3).
    """

    box: tuple[float, float, float, float]
    label: str
    score: float




def detect_objects(image: np.ndarray, *, detector: str, min_score: float | None = None,
                   upsample: int = 1) -> list[DetectedObject]:
    """Run a pretrained detector.

    Args:
        image: ``(height, width, 3) uint8 RGB`` (as ``vision.images.load_image`` returns).
        detector: a key of :data:`DETECTORS`.
        min_score: drop detections scoring below this (None keeps all the
            detector returns; each has its own built-in threshold).
        upsample: for the dlib detectors, times the image is doubled (0..2; 1
            finds faces down to ~40 px).

    Returns:
        Detections sorted by score, highest first.

    Raises:
        ValueError: unknown detector or a bad image array.
        WeightsMissingError: the CNN weights are not installed.
    """
    if detector not in DETECTORS:
        raise ValueError(f"Unknown detector {detector!r}; choose one of {sorted(DETECTORS)}")
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("image must be a (height, width, 3) uint8 RGB array")
    label = DETECTORS[detector][0]
    h, w = image.shape[:2]
    out: list[DetectedObject] = []
    if detector.startswith("dlib_"):
        from vision.faces import face_locations

        for box, score in face_locations(image, detector="hog" if detector == "dlib_hog_face" else "cnn",
                                         upsample=upsample):
            out.append(DetectedObject(tuple(float(v) for v in box), label, float(score)))
    else:
        import cv2

        scale = max(1.0, PEOPLE_MIN_SIDE / max(h, w))
        img = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR) if scale > 1 else image
        rects, weights = registry.load("opencv_hog_people").detectMultiScale(
            np.ascontiguousarray(img[:, :, ::-1]), winStride=(8, 8), padding=(8, 8), scale=1.05)
        for (x, y, bw, bh), s in zip(np.asarray(rects).reshape(-1, 4), np.asarray(weights).reshape(-1)):
            # the 64x128 window holds a ~48x96 person with a margin: shrink as OpenCV's
            # samples/python/peopledetect.py draws it (15 % of the width, 5 % of the height each side)
            x, y, bw, bh = x + PEOPLE_SHRINK[0] * bw, y + PEOPLE_SHRINK[1] * bh, bw * (1 - 2 * PEOPLE_SHRINK[0]), bh * (1 - 2 * PEOPLE_SHRINK[1])
            box = (max(0.0, float(x) / scale), max(0.0, float(y) / scale),
                   min(float(w), float(x + bw) / scale), min(float(h), float(y + bh) / scale))
            if box[2] > box[0] and box[3] > box[1]:
                out.append(DetectedObject(box, label, float(s)))
    if min_score is not None:
        out = [d for d in out if d.score >= min_score]
    return sorted(out, key=lambda d: -d.score)
