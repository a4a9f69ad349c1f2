"""ImageNet-1k class names and top-k decoding.

``vision/data/imagenet_classes.json`` lists the 1000 ILSVRC-2012 class names
in the models' output order (index 0 "tench" ... 999 "toilet tissue"; the
seed's section 4 example: 282 "tiger cat"). The order is the sorted WordNet
synset ids every ImageNet model (Keras applications, torchvision, the
EfficientNet checkpoints) uses; the short names are the ones torchvision
shows. Shipped in the repository because no installed package carries them
offline (Keras downloads its ``imagenet_class_index.json`` on first use).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CLASSES_FILE = Path(__file__).with_name("data") / "imagenet_classes.json"


@functools.cache
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 class names, index = class id."""
    names = json.loads(CLASSES_FILE.read_text(encoding="utf-8"))
    if len(names) != 1000:
        raise ValueError(f"{CLASSES_FILE} must list 1000 names, has {len(names)}")
    return tuple(names)


@dataclass(frozen=True)
class ClassScore:
    """One of the top-k classes: ``class_id`` 0..999, ``name``, ``probability`` 0..1."""

    class_id: int
    name: str
    probability: float


def top_k_classes(probabilities: np.ndarray, k: int = 5) -> list[ClassScore]:
    """The ``k`` most probable classes of one photo, most probable first.

    Args:
        probabilities: ``(1000,)`` float, summing to ~1 (softmax output).
        k: 1..1000.

    Raises:
        ValueError: wrong shape or k.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape != (1000,):
        raise ValueError(f"probabilities must have shape (1000,), got {p.shape}")
    if not 1 <= int(k) <= 1000:
        raise ValueError(f"k must be in 1..1000, got {k}")
    names = imagenet_class_names()
    order = np.argsort(-p, kind="stable")[: int(k)]
    return [ClassScore(int(i), names[int(i)], float(p[i])) for i in order]
