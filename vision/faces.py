"""Face detection, landmarks and 128-d embeddings with dlib (seed section 6).

Pipeline, as in dlib's ``dnn_face_recognition_ex.py`` and the seed's
``compare_face_w_dlib.py``: find faces (HOG + linear SVM by default, or
dlib's MMOD CNN detector), fit the 68-point shape predictor, and compute the
ResNet embedding from the aligned face chip. Two embeddings closer than 0.6
(Euclidean) are the same person (see ``vision.matching``).

All images are ``(height, width, 3) uint8 RGB`` arrays as returned by
``vision.images.load_image`` (EXIF orientation already applied), and every box
is pixel ``(xmin, ymin, xmax, ymax)`` in that image, ``xmax``/``ymax``
exclusive.

Command line::

    python -m vision.faces compare A.jpg B.jpg
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from vision import registry
from vision.errors import FaceQualityError, NoFaceFoundError, VisionError
from vision.matching import DEFAULT_THRESHOLD, face_distance

DETECTORS = ("hog", "cnn")
DEFAULT_UPSAMPLE = 1
"""Times the image is doubled before HOG detection. dlib's HOG finds faces
down to about 80 px; one upsampling finds ~40 px faces at ~4x the cost."""

MIN_FACE_SIZE = 60
"""Smallest face side (pixels) accepted for enrolment; dlib's ResNet input
chip is 150 px and embeddings of tiny faces drift."""

MIN_SHARPNESS = 15.0
"""Smallest variance of the Laplacian of the face, resized to 100x100 grey,
accepted for enrolment (Pech-Pacheco et al. 2000, "Diatom autofocusing");
motion-blurred faces score in single digits."""


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        box: pixel ``(xmin, ymin, xmax, ymax)`` ints, clipped to the image.
        score: detector confidence (HOG SVM margin, or CNN confidence); higher
            is surer, around 0..3.
        landmarks: ``(68, 2)`` int32 pixel ``(x, y)`` points in iBUG 300-W order.
        embedding: ``(128,)`` float32 dlib ResNet embedding (norm about 1).
    """

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray
    embedding: np.ndarray

    @property
    def size(self) -> int:
        """Shorter side of the box, pixels."""
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("image must be a (height, width, 3) uint8 RGB array")
    return np.ascontiguousarray(image)


def face_locations(image: np.ndarray, *, detector: str = "hog", upsample: int = DEFAULT_UPSAMPLE) -> list[tuple[tuple[int, int, int, int], float]]:
    """Find faces.

    Args:
        image: ``(H, W, 3) uint8 RGB``.
        detector: ``"hog"`` (dlib frontal HOG, fast on a CPU) or ``"cnn"``
            (dlib MMOD CNN, finds rotated/profile faces, slow without a GPU).
        upsample: 0..3, see ``DEFAULT_UPSAMPLE``.

    Returns:
        ``[(box, score), ...]`` with ``box`` pixel ``(xmin, ymin, xmax, ymax)``.

    Raises:
        ValueError: unknown detector, bad upsample or bad image array.
    """
    image = _check_image(image)
    if detector not in DETECTORS:
        raise ValueError(f"Unknown detector {detector!r}; choose one of {DETECTORS}")
    if not 0 <= int(upsample) <= 3:
        raise ValueError("upsample must be between 0 and 3")
    h, w = image.shape[:2]
    if detector == "hog":
        rects, scores, _ = registry.load("dlib_hog_detector").run(image, int(upsample), 0.0)
        found = list(zip(rects, scores))
    else:
        found = [(d.rect, d.confidence) for d in registry.load("dlib_cnn_detector")(image, int(upsample))]
    out = []
    for r, s in found:
        box = (max(0, r.left()), max(0, r.top()), min(w, r.right() + 1), min(h, r.bottom() + 1))
        if box[2] > box[0] and box[3] > box[1]:
            out.append((box, float(s)))
    return out


def _shapes(image: np.ndarray, boxes):
    import dlib

    predictor = registry.load("dlib_landmarks_68")
    return [predictor(image, dlib.rectangle(int(b[0]), int(b[1]), int(b[2]) - 1, int(b[3]) - 1)) for b in boxes]


def face_landmarks(image: np.ndarray, boxes) -> np.ndarray:
    """68-point landmarks (iBUG 300-W order: jaw 0-16, brows 17-26, nose
    27-35, eyes 36-47, mouth 48-67) for each box.

    Returns:
        ``(n, 68, 2)`` int32 pixel ``(x, y)``.
    """
    image = _check_image(image)
    shapes = _shapes(image, boxes)
    return np.array([[(p.x, p.y) for p in s.parts()] for s in shapes], dtype=np.int32).reshape(-1, 68, 2)


def face_embeddings(image: np.ndarray, boxes, *, num_jitters: int = 0) -> np.ndarray:
    """128-d dlib ResNet embeddings (``dlib_face_recognition_resnet_model_v1``)
    for each box.

    Args:
        image: ``(H, W, 3) uint8 RGB``.
        boxes: pixel ``(xmin, ymin, xmax, ymax)`` boxes.
        num_jitters: extra random re-samplings averaged (dlib's option);
            0 is fastest, 10 is ~10x slower and slightly more accurate.

    Returns:
        ``(n, 128)`` float32.
    """
    image = _check_image(image)
    if len(boxes) == 0:
        return np.zeros((0, 128), dtype=np.float32)
    shapes = _shapes(image, boxes)
    encoder = registry.load("dlib_resnet_v1")
    return np.array([encoder.compute_face_descriptor(image, s, int(num_jitters)) for s in shapes], dtype=np.float32)


#: Long side, pixels, of the working copy faces are found on (``detect_faces(max_side=...)``): dlib
#: aligns every face to a 150 x 150 chip, so a face is read as well from a 1600 px copy as from a
#: 4032 px phone photo, while HOG detection time grows with the pixel count (issue 13: a 13-megapixel
#: photo took 8 s).
DEFAULT_WORKING_SIDE = 1600


#: Seconds per megapixel, as the detector sees the photo (after ``upsample`` doublings), of dlib's
#: MMOD CNN face detector on a CPU (dlib without CUDA), measured on the 2-core development machine
#: (``CNN_RATE_SOURCE``); the rate hardly depends on the size. With CUDA it does not apply.
CNN_CPU_SECONDS_PER_MEGAPIXEL = 7.0
CNN_RATE_SOURCE = "Barack_Obama/1.jpg at 400 and 800 px, upsample 0 and 1, 2-core CPU"


def cnn_on_cpu() -> bool:
    """True when dlib was built without CUDA, so the CNN detector runs on the CPU."""
    import dlib

    return not bool(getattr(dlib, "DLIB_USE_CUDA", False))


def cnn_seconds(height: int, width: int, upsample: int = DEFAULT_UPSAMPLE) -> float:
    """Estimated seconds for the CNN detector on a CPU over a ``height x width`` photo."""
    return height * width * 4 ** int(upsample) / 1e6 * CNN_CPU_SECONDS_PER_MEGAPIXEL


def cnn_side_within(height: int, width: int, upsample: int, seconds: float) -> int:
    """The longest side, pixels, a photo may be read at for the CPU CNN detector to
    finish in about ``seconds`` (never above the photo's own long side)."""
    scale = min(1.0, (seconds / max(cnn_seconds(height, width, upsample), 1e-9)) ** 0.5)
    return max(64, int(max(height, width) * scale))


def detect_faces(image: np.ndarray, *, detector: str = "hog", upsample: int = DEFAULT_UPSAMPLE, num_jitters: int = 0,
                 max_side: int | None = None) -> list[Face]:
    """Every face in a photo with box, score, landmarks and embedding,
    largest first.

    Args:
        image: ``(H, W, 3) uint8 RGB``.
        max_side: when the photo's longer side is above this many pixels, faces are
            found, aligned and embedded on a copy shrunk to it (Lanczos), and boxes
            and landmarks are mapped back to ``image``'s pixels; ``None``: full size.
        detector, upsample: as ``face_locations``.
        num_jitters: as ``face_embeddings``.

    Returns:
        Faces with boxes (pixel ``xmin, ymin, xmax, ymax``) and landmarks in ``image``'s pixels.

    Raises:
        ValueError: as ``face_locations``, or ``max_side`` under 1.
    """
    image = _check_image(image)
    scale = 1.0
    if max_side is not None:
        if int(max_side) < 1:
            raise ValueError(f"max_side must be >= 1, got {max_side}")
        if max(image.shape[:2]) > max_side:
            from vision.images import thumbnail

            work = np.ascontiguousarray(thumbnail(image, int(max_side)))
            scale = image.shape[1] / work.shape[1]
            image_full, image = image, work
    found = face_locations(image, detector=detector, upsample=upsample)
    if not found:
        return []
    shapes = _shapes(image, [b for b, _ in found])
    encoder = registry.load("dlib_resnet_v1")
    faces = [
        Face(
            box=box,
            score=score,
            landmarks=np.array([(p.x, p.y) for p in shape.parts()], dtype=np.int32),
            embedding=np.asarray(encoder.compute_face_descriptor(image, shape, int(num_jitters)), dtype=np.float32),
        )
        for (box, score), shape in zip(found, shapes)
    ]
    if scale != 1.0:  # back to the original photo's pixels
        h, w = image_full.shape[:2]
        faces = [Face(box=(max(0, round(f.box[0] * scale)), max(0, round(f.box[1] * scale)),
                           min(w, round(f.box[2] * scale)), min(h, round(f.box[3] * scale))),
                      score=f.score, landmarks=np.round(f.landmarks * scale).astype(np.int32), embedding=f.embedding)
                 for f in faces]
    return sorted(faces, key=lambda f: f.area, reverse=True)


def face_sharpness(image: np.ndarray, box) -> float:
    """Variance of the Laplacian of the face, resized to 100x100 grey
    (higher is sharper; see ``MIN_SHARPNESS``)."""
    from PIL import Image

    x0, y0, x1, y1 = (int(v) for v in box)
    crop = Image.fromarray(_check_image(image)[y0:y1, x0:x1]).convert("L").resize((100, 100), Image.BILINEAR)
    g = np.asarray(crop, dtype=np.float32)
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def enrolment_face(image: np.ndarray, faces: list[Face], *, min_size: int = MIN_FACE_SIZE, min_sharpness: float = MIN_SHARPNESS) -> Face:
    """The one face of an enrolment photo, if it is good enough.

    Args:
        image: ``(H, W, 3) uint8 RGB`` the faces were found in.
        faces: result of ``detect_faces(image)``.
        min_size: smallest accepted face side, pixels.
        min_sharpness: smallest accepted ``face_sharpness``.

    Returns:
        The single face.

    Raises:
        NoFaceFoundError: no face.
        FaceQualityError: several faces, a face too small or too blurry.
    """
    if not faces:
        raise NoFaceFoundError("No face was found in this photo.")
    if len(faces) > 1:
        raise FaceQualityError(f"{len(faces)} faces were found; an enrolment photo must show only the member.", "several_faces")
    face = faces[0]
    if face.size < min_size:
        raise FaceQualityError(f"The face is too small ({face.size} px; at least {min_size} px needed).", "face_too_small")
    sharpness = face_sharpness(image, face.box)
    if sharpness < min_sharpness:
        raise FaceQualityError(f"The face is too blurry (sharpness {sharpness:.0f}; at least {min_sharpness:.0f} needed).", "face_blurry")
    return face


def _largest_face_embedding(path: str, detector: str, upsample: int) -> np.ndarray:
    from vision.errors import InvalidImageError
    from vision.images import load_image

    try:
        pixels = load_image(path).pixels
    except InvalidImageError as err:
        raise InvalidImageError(f"{path}: {err.message}", err.code) from err
    except OSError as err:
        raise InvalidImageError(f"{path}: cannot be read ({err.strerror or err}).", "unreadable") from err
    faces = detect_faces(pixels, detector=detector, upsample=upsample)
    if not faces:
        raise NoFaceFoundError(f"No face found in {path}")
    return faces[0].embedding


def main(argv: list[str] | None = None) -> int:
    """``python -m vision.faces compare A.jpg B.jpg [--threshold 0.6]``.

    Prints ``Same person`` or ``Two people`` with the distance (largest face of
    each photo), or names the file with no face. Exit status 0 when both
    photos had a face, 1 otherwise.
    """
    parser = argparse.ArgumentParser(prog="python -m vision.faces", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser("compare", help="Are the largest faces of two photos the same person?")
    cmp.add_argument("a")
    cmp.add_argument("b")
    cmp.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    cmp.add_argument("--detector", choices=DETECTORS, default="hog")
    cmp.add_argument("--upsample", type=int, default=DEFAULT_UPSAMPLE)
    args = parser.parse_args(argv)
    from vision import catalog

    catalog.setup()  # a process of its own: register the models it may load
    try:
        a = _largest_face_embedding(args.a, args.detector, args.upsample)
        b = _largest_face_embedding(args.b, args.detector, args.upsample)
    except VisionError as err:
        print(err.message)
        return 1
    d = float(face_distance(a[None, :], b)[0])
    print(f"{'Same person' if d < args.threshold else 'Two people'} (distance {d:.3f}, threshold {args.threshold})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
