"""Similarity embeddings learned from groups of photos (issue 17; seed
section 8, Deep Ranking: triplets of query, positive and negative).

One call, :func:`embedding_train`, in the shape every trainer shares
(``vision.training.recipe``): photos with a group (same group = similar) in,
a trained embedding out. The default variant is the light one, a
projection head on cached backbone features, fast on a CPU:

1. the backbone's pooled features of each photo (the search embedding before
   its normalisation, ``vision.training.transfer.feature_extractor``),
   computed once and cached by content, L2-normalised;
2. a Dense ``dim`` projection, then L2 normalisation, set in closed form to
   *learned whitening* fitted on the training groups (Radenović, Tolias &
   Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation", TPAMI
   2018, section 3.3: whiten by the within-group covariance, then rotate to
   the principal directions of the whitened set, keep ``dim``);
3. optionally (``epochs`` > 0) trained further with a triplet hinge loss
   (margin on squared distances): semi-hard negatives mined inside batches
   of P groups x K photos (Schroff et al., FaceNet, CVPR 2015), or random
   triplets with a share of the negatives from the anchor's coarse group
   (the seed's colour group, so the model does not learn colour alone);
   the epoch with the best validation MAP@R is kept, the whitening (epoch 0)
   included, on validation groups never trained on.

How the defaults were chosen (``bench/ranking.py``): ``categories/`` (12
flower species), half the species held out, EfficientNet-Lite0 at 224 px,
MAP@R on the held-out species (Musgrave et al. 2020), mean over species
splits 1-6 (kept for tuning; the accuracy test reports splits 101-106):

======================================================  ==========================
variant                                                 MAP@R change vs. frozen
======================================================  ==========================
triplets (semi-hard) from a random projection           -5 to -8 per split (splits 1-3)
whitening, shrink 0.3 / 1 / 3 / 10                      +1.8 / +4.5 / +4.9 / +4.4
whitening (shrink 3) then triplets, Adam 1e-4, 4 epochs +4.7 (flat from epoch 1)
whitening (shrink 3) then triplets, Adam 1e-3, 4 epochs +2.7 (lower every epoch)
whitening (shrink 3), splits 1-3 / 4-6                  +5.7 / +4.2
+ shallow multi-scale channels, 4 semi-hard epochs      +6.2 / +4.3
======================================================  ==========================

Six training species are too few for triplets to generalise to new ones:
no triplet epoch on the projection raised the held-out figures. So the
default is the whitening alone (``epochs=0``, a second's work on cached
features); triplet training is an option for sets with many groups, and is
kept only when it raises the validation MAP@R.

The seed's shallow multi-scale channels (``architecture="multiscale"``: two
small convolution channels on the photo at 56 and 28 px, beside the cached
backbone features; :func:`_head`) are built as an option: they run on tiny
images, so they train in seconds on a CPU without a backbone pass per step.
They added 0.3 points over the whitening alone on the tuning splits, less
than choosing the best of five epochs on the validation groups can add by
chance, so they are not the default. Fine-tuning the backbone itself would
cost a backbone pass per photo and step on a CPU, and is not built.

TensorFlow is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vision.search import retrieval_metrics
from vision.training.recipe import Callbacks, EpochCallback, ProgressCallback, StopCallback, TrainingResult, WorkDir

MINING = ("semi-hard", "random")
#: ``"projection"``: a head on the cached backbone features (the default: module docstring);
#: ``"multiscale"``: the same plus the seed's two shallow multi-scale channels on the pixels.
ARCHITECTURES = ("projection", "multiscale")
#: Side in pixels of the photo the shallow channels see: the seed's 4:1 subsample of a 224 px input;
#: the second channel subsamples it again 2:1 (the seed's 8:1).
SHALLOW_SIDE = 56
#: Filters of each shallow channel (the seed: 96; fewer here, as they only add to a 1280-d backbone).
SHALLOW_FILTERS = 32
#: Mean pairwise distance of validation embeddings (unit vectors: 0..2) under which the embedding has collapsed.
COLLAPSE_DISTANCE = 1e-3


@dataclass(frozen=True)
class RankingOptions:
    """How to train an embedding; the defaults are the product's.

    Attributes:
        backbone: registry name of the frozen backbone (``vision.registry.load``).
        architecture: one of :data:`ARCHITECTURES`; ``"multiscale"`` learns its shallow
            channels in the triplet epochs, so it needs ``epochs`` >= 1.
        image_size: input side in pixels, a multiple of 32 from 128 to 640 (the search
            embeds at 224 for EfficientNet-Lite0).
        dim: embedding dimensions, 8..1024 (the seed: 256); at most the backbone's.
        margin: triplet margin on squared Euclidean distance between unit vectors (0..4).
        mining: ``"semi-hard"`` (in-batch, FaceNet) or ``"random"`` (random triplets,
            ``coarse_share`` of negatives from the anchor's coarse group when given).
        coarse_share: 0..1, see ``mining``.
        epochs: triplet epochs after the whitening, 0..500; 0 (default): the whitening alone
            (module docstring: triplets lowered the figures on new groups here).
        steps_per_epoch: batches per epoch.
        groups_per_batch, per_group: a batch is P groups x K photos (semi-hard) or
            P x K triplets (random).
        learning_rate: Adam's, for triplet epochs; low, since they start from the whitening.
        patience: epochs without a higher validation MAP@R before stopping early.
        shrink: ridge added to the within-group covariance, as a share of its mean
            eigenvalue (0.1..10): higher trusts the few training groups less (3: best of
            0.3, 1, 3, 10 on the tuning splits).
        seed: seeds batches, triplets and the optimiser.

    Raises:
        ValueError: a setting out of range, in words.
    """

    backbone: str = "efficientnet_lite0"
    architecture: str = "projection"
    image_size: int = 224
    dim: int = 256
    margin: float = 0.2
    mining: str = "semi-hard"
    coarse_share: float = 0.3
    epochs: int = 0
    steps_per_epoch: int = 30
    groups_per_batch: int = 6
    per_group: int = 8
    learning_rate: float = 1e-4
    patience: int = 4
    shrink: float = 3.0
    seed: int = 42

    def __post_init__(self):
        from vision.training.transfer import transfer_image_size

        transfer_image_size(self.backbone, self.image_size)  # raises, in words, for a side it cannot take
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"Unknown architecture {self.architecture!r}; choose one of {', '.join(ARCHITECTURES)}.")
        if self.architecture == "multiscale" and self.epochs < 1:
            raise ValueError("The multi-scale channels are learned in triplet epochs: choose at least one epoch.")
        if self.mining not in MINING:
            raise ValueError(f"Unknown mining {self.mining!r}; choose one of {', '.join(MINING)}.")
        checks = [(8 <= self.dim <= 1024, "The embedding size must be 8–1024."),
                  (0 < self.margin <= 4, "The margin must be above 0 and at most 4."),
                  (0 <= self.coarse_share <= 1, "The coarse-group share must be 0–1."),
                  (0 <= self.epochs <= 500, "Epochs must be 0–500."),
                  (self.steps_per_epoch >= 1 and self.patience >= 1, "Steps and patience must be at least 1."),
                  (self.groups_per_batch >= 2 and self.per_group >= 2,
                   "A batch needs at least 2 groups of at least 2 photos."),
                  (self.learning_rate > 0, "The learning rate must be above 0."),
                  (0.1 <= self.shrink <= 10, "The whitening shrinkage must be 0.1–10.")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass(frozen=True)
class GroupedPhoto:
    """One photo of a ranking dataset.

    Attributes:
        path: the photo file.
        group: its group index (same group = similar), >= 0.
        coarse: its coarse group index (hard negatives), or -1 when not given.
        key: a stable key of its content (sha256) naming its feature cache file; empty: from the file.
    """

    path: str
    group: int
    coarse: int = -1
    key: str = ""


def learned_whitening(x: np.ndarray, groups: np.ndarray, dim: int, *, shrink: float = 1.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Supervised whitening (Radenović et al. 2018, section 3.3) as one affine map.

    Args:
        x: ``(n, d) float32`` features of the training photos.
        groups: ``(n,)`` group of each row; at least two groups with two rows.
        dim: output dimensions, at most ``d``.
        shrink: ridge on the within-group covariance, times its mean eigenvalue.

    Returns:
        ``(kernel (d, dim), bias (dim,)) float32``: ``x @ kernel + bias`` whitens by the
        within-group covariance, then projects on the ``dim`` principal directions of the
        whitened training set (the group structure), largest first.

    Raises:
        ValueError: fewer than two groups of two rows, or ``dim`` above ``d``.
    """
    x = np.asarray(x, np.float64)
    groups = np.asarray(groups)
    ids, counts = np.unique(groups, return_counts=True)
    if (counts >= 2).sum() < 2:
        raise ValueError("Learning an embedding needs at least two groups with at least two photos each.")
    if dim > x.shape[1]:
        raise ValueError(f"The embedding size {dim} is above the backbone's {x.shape[1]} features.")
    mean = x.mean(0)
    within = np.zeros((x.shape[1], x.shape[1]))
    for g in ids:
        d = x[groups == g] - x[groups == g].mean(0)
        within += d.T @ d
    within /= len(x)
    within += np.eye(len(within)) * shrink * np.trace(within) / len(within)
    w, v = np.linalg.eigh(within)
    whiten = v / np.sqrt(np.maximum(w, 1e-12))
    z = (x - mean) @ whiten
    _, _, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
    kernel = whiten @ vt[:dim].T
    if kernel.shape[1] < dim:  # fewer photos than dimensions: pad with orthogonal directions
        extra = np.linalg.qr(np.random.default_rng(0).normal(size=(x.shape[1], dim)))[0][:, kernel.shape[1]:]
        kernel = np.hstack([kernel, extra * np.linalg.norm(kernel, axis=0).mean()])
    # the embedding is normalised after the map, so its scale is free: unit-norm columns on
    # average, so that the optimiser's steps are not tiny against the whitening's large weights
    kernel = kernel / np.linalg.norm(kernel, axis=0).mean()
    return kernel.astype(np.float32), (-mean @ kernel).astype(np.float32)


def semi_hard_triplet_loss(margin: float):
    """Keras 3 loss over a batch of labelled embeddings (FaceNet's online semi-hard mining;
    TF Addons' version does not run on Keras 3): for every anchor-positive pair, the
    nearest negative farther than the positive, else the farthest negative; hinge on
    ``d(a,p) - d(a,n) + margin`` with squared distances of unit vectors (0..4), averaged
    over the pairs.

    ``y_true``: ``(b,)`` or ``(b, 1)`` group ids; ``y_pred``: ``(b, dim)`` unit vectors.
    """
    from keras import ops

    def loss(y_true, y_pred):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        d = ops.maximum(2.0 - 2.0 * ops.matmul(y_pred, ops.transpose(y_pred)), 0.0)
        same = ops.equal(labels[:, None], labels[None, :])
        positive = ops.cast(ops.logical_and(same, ops.logical_not(ops.eye(ops.shape(labels)[0], dtype="bool"))),
                            "float32")
        negative = ops.cast(ops.logical_not(same), "float32")[:, None, :]  # (a, 1, n)
        d_ap, d_an = d[:, :, None], d[:, None, :]  # (a, p, 1), (a, 1, n)
        farther = ops.cast(d_an > d_ap, "float32") * negative
        big = 1e6
        semi_hard = ops.min(d_an * farther + big * (1.0 - farther), axis=2)
        hardest = ops.max(d_an * negative - big * (1.0 - negative), axis=2)
        chosen = ops.where(semi_hard < big / 2, semi_hard, hardest)
        hinge = ops.maximum(d - chosen + margin, 0.0) * positive
        return ops.sum(hinge) / ops.maximum(ops.sum(positive), 1.0)

    return loss


def triplet_loss(margin: float):
    """Keras 3 loss over explicit triplets: ``y_pred`` is ``(3b, dim)`` unit vectors,
    anchors then positives then negatives; hinge on ``d(a,p) - d(a,n) + margin``
    (squared distances), averaged. ``y_true`` is ignored."""
    from keras import ops

    def loss(y_true, y_pred):
        a, p, n = ops.split(y_pred, 3, axis=0)
        return ops.mean(ops.maximum(ops.sum((a - p) ** 2, 1) - ops.sum((a - n) ** 2, 1) + margin, 0.0))

    return loss


class _Batches:
    """Seeded batches from the training rows: P groups x K photos (semi-hard) or
    P x K random triplets, a ``coarse_share`` of their negatives from the anchor's
    coarse group where it has other groups."""

    def __init__(self, groups: np.ndarray, coarse: np.ndarray, options: RankingOptions, seed: int):
        self.rng = np.random.default_rng(seed)
        self.o = options
        self.groups, self.coarse = groups, coarse
        self.rows = {g: np.flatnonzero(groups == g) for g in np.unique(groups)}
        self.pairable = [g for g, r in self.rows.items() if len(r) >= 2]

    def semi_hard(self) -> np.ndarray:
        picked = self.rng.choice(self.pairable, min(self.o.groups_per_batch, len(self.pairable)), replace=False)
        return np.concatenate([self.rng.choice(self.rows[g], self.o.per_group, replace=len(self.rows[g]) < self.o.per_group)
                               for g in picked])

    def triplets(self) -> np.ndarray:
        b = self.o.groups_per_batch * self.o.per_group
        anchors_g = self.rng.choice(self.pairable, b)
        a, p, n = [], [], []
        for g in anchors_g:
            i, j = self.rng.choice(self.rows[g], 2, replace=False)
            others = np.flatnonzero(self.groups != g)
            c = self.coarse[i]
            if c >= 0 and self.rng.random() < self.o.coarse_share:
                hard = others[self.coarse[others] == c]
                others = hard if len(hard) else others
            a.append(i), p.append(j), n.append(self.rng.choice(others))
        return np.concatenate([a, p, n])


@dataclass(frozen=True, kw_only=True, eq=False)
class TrainedEmbedding(TrainingResult):
    """A trained embedding and how it retrieves on the validation groups
    (plus :class:`~vision.training.recipe.TrainingResult`'s fields; epochs
    count from the whitening start, epoch 0).

    Attributes:
        head: ``keras.Model``, ``(b, d) float32`` L2-normalised backbone features (and, for the
            multi-scale architecture, ``(b, SHALLOW_SIDE, SHALLOW_SIDE, 3)`` pixels 0..255) ->
            ``(b, dim)`` unit vectors (:func:`head_embed` runs either).
        options: the options used.
        metrics: ``vision.search.retrieval_metrics`` of the kept epoch on the validation groups.
        frozen_metrics: the same for the frozen backbone's normalised features.
        whitening_metrics: the same for the whitening start (epoch 0).
        n_train, n_val: photos; n_train_groups, n_val_groups: groups.
        note: sentences people should know: validation photos left out (the only readable one of
            their group), training stopped because the embedding collapsed; empty when neither.
    """

    head: Any
    options: RankingOptions
    metrics: dict
    frozen_metrics: dict
    whitening_metrics: dict
    n_train: int
    n_val: int
    n_train_groups: int
    n_val_groups: int
    note: str = ""

    @property
    def better_than_frozen(self) -> bool:
        """Whether it retrieves at least as well as the frozen backbone (MAP@R on the
        validation groups): an embedding that does not is never made active."""
        return self.metrics["map_at_r"] >= self.frozen_metrics["map_at_r"]

    def embed(self, features: np.ndarray, pixels: np.ndarray | None = None) -> np.ndarray:
        """``(n, d)`` backbone pooled features (normalised here), and for the multi-scale
        architecture ``(n, SHALLOW_SIDE, SHALLOW_SIDE, 3) uint8`` photos (:func:`shallow_pixels`)
        -> ``(n, dim) float32`` unit vectors.

        Raises:
            ValueError: the multi-scale architecture without ``pixels``.
        """
        return head_embed(self.head, features, pixels)

    def report(self) -> dict:
        """JSON-ready figures: the validation metrics of the kept epoch, the frozen
        backbone's and the whitening start's, the curves, counts and the note."""
        return {"metrics": self.metrics, "frozen_metrics": self.frozen_metrics,
                "whitening_metrics": self.whitening_metrics, "better_than_frozen": self.better_than_frozen,
                "history": self.history, "best_epoch": self.best_epoch, "epochs_run": self.epochs_run,
                "stopped_early": self.stopped_early, "cancelled": self.cancelled, "n_train": self.n_train,
                "n_val": self.n_val, "n_train_groups": self.n_train_groups, "n_val_groups": self.n_val_groups,
                "note": self.note, "backbone": self.options.backbone, "image_size": self.options.image_size,
                "dim": self.options.dim, "architecture": self.options.architecture}

    def save(self, folder: str | Path) -> Path:
        """Write ``head.keras`` and ``metrics.json`` to ``folder`` (created); returns the model path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "head.keras"
        self.head.save(path)
        (folder / "metrics.json").write_text(json.dumps(self.report(), default=float))
        return path


def shallow_pixels(image: np.ndarray) -> np.ndarray:
    """What the multi-scale channels see of a photo: ``(h, w, 3) uint8`` RGB, the whole photo
    resized bilinearly (as the backbone's input is) -> ``(SHALLOW_SIDE, SHALLOW_SIDE, 3) uint8``."""
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((SHALLOW_SIDE, SHALLOW_SIDE), Image.BILINEAR), np.uint8)


def head_embed(head, features: np.ndarray, pixels: np.ndarray | None = None) -> np.ndarray:
    """Run a learned head: ``(n, d)`` backbone pooled features (L2-normalised here) and, for a
    multi-scale head (two inputs), ``(n, SHALLOW_SIDE, SHALLOW_SIDE, 3) uint8`` photos ->
    ``(n, dim) float32`` unit vectors.

    Raises:
        ValueError: a multi-scale head without ``pixels``.
    """
    x = np.asarray(features, np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if len(head.inputs) == 2:
        if pixels is None:
            raise ValueError("This embedding has multi-scale channels: it needs the photos' pixels too.")
        return np.asarray(head.predict([x, np.asarray(pixels, np.float32)], batch_size=256, verbose=0), np.float32)
    return np.asarray(head.predict(x, batch_size=256, verbose=0), np.float32)


def load_embedding(path: str | Path) -> tuple[Any, dict]:
    """A saved embedding (:meth:`TrainedEmbedding.save`): ``(head, report)``; the head maps
    ``(b, d) float32`` L2-normalised backbone features to ``(b, dim)`` unit vectors, the
    report (``metrics.json`` beside it) names the ``backbone``, ``image_size`` and ``dim``.

    Raises:
        OSError: the files are missing or unreadable.
    """
    import keras

    path = Path(path)
    return keras.models.load_model(path, compile=False), json.loads((path.parent / "metrics.json").read_text())


class LearnedBackbone:
    """A learned embedding used where a backbone is: the frozen backbone's normalised
    pooled features (its ``embeddings``, which resize the whole photo to its side as the
    training features did), then the learned head.

    Attributes:
        spec: ``vision.backbones.BackboneSpec``-like: ``name`` (e.g. ``"learned_12"``),
            ``label``, ``version`` (the base's weights and the version id), ``embedding_dim``,
            ``cost``.
        base: the frozen backbone.
        head: the learned head (:func:`load_embedding`).
        image_size: the side its training features were computed at (the report's
            ``image_size``); None: not checked.

    Raises:
        ValueError: ``image_size`` is not the side the backbone embeds photos at, so the
            features the head would get are not those it learned from (sentence).
    """

    def __init__(self, name: str, label: str, version: str, base, head, image_size: int | None = None):
        from vision.backbones import BackboneSpec

        if image_size is not None and image_size != base.spec.input_size:
            raise ValueError(f"This embedding was learned from features at {image_size} px, but {base.spec.label} "
                             f"embeds photos at {base.spec.input_size} px: learn it again at {base.spec.input_size} px.")
        dim = int(head.output_shape[-1])
        self.base, self.head = base, head
        self.spec = BackboneSpec(name=name, label=label, version=f"{base.spec.version}+{version}", embedding_dim=dim,
                                 weights_file="", input_size=base.spec.input_size,
                                 cost=f"learned from your groups, {dim}-d, on {base.spec.label}")

    def embeddings(self, images: list[np.ndarray]) -> np.ndarray:
        """``(h, w, 3) uint8`` RGB photos -> ``(n, dim) float32`` unit vectors."""
        if not images:
            return np.zeros((0, self.spec.embedding_dim), np.float32)
        pixels = np.stack([shallow_pixels(im) for im in images]) if len(self.head.inputs) == 2 else None
        return head_embed(self.head, self.base.embeddings(images), pixels)


def _features(photos: Sequence[GroupedPhoto], options: RankingOptions, cache_dir: Path, cb: Callbacks,
              lo: float, hi: float) -> np.ndarray:
    """``(n, d)`` L2-normalised pooled backbone features (cached; NaN rows: unreadable)."""
    from vision import registry
    from vision.training.classifier import _content_key
    from vision.training.features import cached_features
    from vision.training.transfer import cache_folders, feature_extractor

    backbone = registry.load(options.backbone)
    extractor = feature_extractor(backbone, options.image_size)
    folder = cache_dir / "features" / cache_folders(options.backbone, options.image_size)[0]
    keys = [p.key or _content_key(p.path) for p in photos]
    x = cached_features(extractor, [p.path for p in photos], keys, image_size=options.image_size, cache_dir=folder,
                        progress=lambda f: cb.progress_or_stop(lo + (hi - lo) * f, "Computing backbone features",
                                                               "Cancelled while computing the backbone features."))
    d = backbone.spec.embedding_dim
    x = x[:, :d]
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _photos_pixels(photos: Sequence[GroupedPhoto]) -> np.ndarray:
    """``(n, SHALLOW_SIDE, SHALLOW_SIDE, 3) uint8`` of each photo (zeros where unreadable:
    those rows are left out by their NaN features)."""
    from vision.errors import InvalidImageError
    from vision.images import load_image

    out = np.zeros((len(photos), SHALLOW_SIDE, SHALLOW_SIDE, 3), np.uint8)
    for i, p in enumerate(photos):
        try:
            out[i] = shallow_pixels(load_image(p.path).pixels)
        except (InvalidImageError, OSError):
            pass
    return out


def _head(kernel: np.ndarray, bias: np.ndarray, architecture: str = "projection"):
    """The head, its projection set to the whitening. The multi-scale one (Wang et al.,
    "Learning Fine-grained Image Similarity with Deep Ranking", CVPR 2014, figure 3) adds
    two shallow channels on the pixels (8x8 convolutions at stride 4 and max pooling, on the
    photo at :data:`SHALLOW_SIDE` and at half that), pooled and concatenated with the
    backbone's features before the projection; their rows of the projection start at zero,
    so epoch 0 is the whitening exactly and the triplet epochs learn what they add."""
    import keras
    from keras import layers

    features = keras.Input((kernel.shape[0],), name="features")
    inputs, joined = features, features
    if architecture == "multiscale":
        pixels = keras.Input((SHALLOW_SIDE, SHALLOW_SIDE, 3), name="pixels")
        scaled = layers.Rescaling(1 / 127.5, -1.0)(pixels)
        channels = []
        for i, x in enumerate((scaled, layers.AveragePooling2D(2)(scaled))):
            x = layers.Conv2D(SHALLOW_FILTERS, 8, strides=4, padding="same", activation="relu", name=f"shallow{i + 1}")(x)
            x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
            channels.append(layers.UnitNormalization()(layers.GlobalAveragePooling2D()(x)))
        inputs, joined = [features, pixels], layers.Concatenate()([features, *channels])
        kernel = np.vstack([kernel, np.zeros((2 * SHALLOW_FILTERS, kernel.shape[1]), np.float32)])
    dense = layers.Dense(kernel.shape[1], name="projection")
    out = layers.UnitNormalization(name="embedding")(dense(joined))
    model = keras.Model(inputs, out, name="ranking_head")
    dense.set_weights([kernel, bias])
    return model


def embedding_train(train: Sequence[GroupedPhoto], validation: Sequence[GroupedPhoto], *,
                    options: RankingOptions = RankingOptions(), work_dir: str | Path,
                    cache_dir: str | Path | None = None, on_progress: ProgressCallback | None = None,
                    on_epoch: EpochCallback | None = None, should_stop: StopCallback | None = None,
                    history: dict | None = None) -> TrainedEmbedding:
    """Learn an embedding from grouped photos (module docstring).

    Args:
        train: photos of the training groups.
        validation: photos of other groups (never trained on): the retrieval figures
            per epoch, the kept epoch and the frozen backbone's figures come from them.
        options: :class:`RankingOptions`.
        work_dir: resumable folder (``vision.training.recipe.WorkDir``): the last and best
            weights and the curves after every epoch; a call given the same folder goes on
            from its last finished epoch.
        cache_dir: root of the feature cache (default: inside ``work_dir``).
        on_progress, on_epoch, should_stop, history: see ``vision.training.recipe``.

    Returns:
        :class:`TrainedEmbedding`.

    Raises:
        ValueError: fewer than two trainable groups (two photos each) on a side, a group on both
            sides, or every photo of a side unreadable (in words).
        vision.errors.TrainingCancelled: cancelled while the features were computed.
    """
    import keras

    t0 = time.perf_counter()
    cb = Callbacks(on_progress, on_epoch, should_stop)
    wd = WorkDir(work_dir)
    cache = Path(cache_dir) if cache_dir is not None else wd.path / "cache"
    _check_groups(train, validation)
    x = _features([*train, *validation], options, cache, cb, 0.0, 0.5)
    ok = ~np.isnan(x).any(axis=1)
    groups = np.array([p.group for p in [*train, *validation]])
    coarse = np.array([p.coarse for p in [*train, *validation]])
    is_train = np.arange(len(x)) < len(train)
    tr, va = np.flatnonzero(ok & is_train), np.flatnonzero(ok & ~is_train)
    _, where, counts = np.unique(groups[va], return_inverse=True, return_counts=True)
    lone = int((counts[where] < 2).sum())  # nothing to retrieve for them: no figure can count them
    va = va[counts[where] >= 2]
    notes = [f"{lone} validation photo{'s were' if lone != 1 else ' was'} left out of the figures: the only readable "
             "photo of its group, so there is nothing of its group to find."] if lone else []
    for rows, side in ((tr, "training"), (va, "validation")):
        _, counts = np.unique(groups[rows], return_counts=True)
        if (counts >= 2).sum() < 2:
            raise ValueError(f"The {side} side has fewer than two groups with two readable photos.")
    keras.utils.set_random_seed(options.seed)
    kernel, bias = learned_whitening(x[tr], groups[tr], options.dim, shrink=options.shrink)
    head = _head(kernel, bias, options.architecture)
    px = _photos_pixels([*train, *validation]) if options.architecture == "multiscale" else None

    def inputs(rows):
        return x[rows] if px is None else [x[rows], px[rows].astype(np.float32)]

    frozen = retrieval_metrics(x[va], groups[va])
    start = retrieval_metrics(head.predict(inputs(va), batch_size=256, verbose=0), groups[va])
    history = dict(history or wd.history() or {})
    last, best_path = wd.path / "last.weights.h5", wd.path / "best.weights.h5"
    done = len(history.get("val_map_at_r", [])) - 1  # epochs after the start already run
    if done > 0 and last.exists() and best_path.exists():  # loaded before compiling: no optimiser state in them
        head.load_weights(best_path)
        best_weights = head.get_weights()
        head.load_weights(last)
    else:
        history, done = {"loss": [None], **{f"val_{k}": [start[k]] for k in start if k not in ("k", "n")}}, 0
        best_weights = head.get_weights()
        head.save_weights(best_path)
    loss = semi_hard_triplet_loss(options.margin) if options.mining == "semi-hard" else triplet_loss(options.margin)
    head.compile(optimizer=keras.optimizers.Adam(options.learning_rate), loss=loss)
    batches = _Batches(groups[tr], coarse[tr], options, options.seed + done)
    maps = history["val_map_at_r"]
    best_epoch = int(np.argmax(maps))
    cancelled = stopped_early = False
    epoch = done
    for epoch in range(done + 1, options.epochs + 1):
        losses = []
        for step in range(options.steps_per_epoch):
            rows = tr[batches.semi_hard() if options.mining == "semi-hard" else batches.triplets()]
            losses.append(float(head.train_on_batch(inputs(rows), groups[rows])))
            cb.progress(0.5 + 0.5 * (epoch - 1 + (step + 1) / options.steps_per_epoch) / max(1, options.epochs),
                        f"Training the embedding: epoch {epoch}, batch {step + 1}")
            if cb.stopped():
                cancelled = True
                break
        if cancelled:
            break
        val_emb = head.predict(inputs(va), batch_size=256, verbose=0)
        m = retrieval_metrics(val_emb, groups[va])
        history["loss"].append(float(np.mean(losses)))
        for k in m:
            if k not in ("k", "n"):
                history[f"val_{k}"].append(m[k])
        head.save_weights(last)
        if m["map_at_r"] > max(maps[:-1]):
            best_epoch, best_weights = epoch, head.get_weights()
            head.save_weights(best_path)
        wd.history_save(history)
        if on_epoch:
            on_epoch(history, "Training the embedding")
        cb.progress(None, f"Training the embedding: epoch {epoch} done, validation MAP@R {m['map_at_r']:.3f}",
                    force=True)
        spread = float(np.mean(np.sqrt(np.maximum(2 - 2 * (val_emb @ val_emb.T), 0))))
        if spread < COLLAPSE_DISTANCE or abs(history["loss"][-1] - options.margin) < 1e-4:
            notes.append(f"Training stopped at epoch {epoch}: the embedding collapsed (every photo mapped to nearly "
                         "the same point, or the loss stuck at the margin); the best epoch before it was kept.")
            break
        if epoch - best_epoch >= options.patience:
            stopped_early = True
            break
    head.set_weights(best_weights)
    return TrainedEmbedding(
        history=history, best_epoch=best_epoch, epochs_run=len(history["loss"]) - 1, stopped_early=stopped_early,
        cancelled=cancelled, seconds=time.perf_counter() - t0, head=head, options=options,
        metrics={k: history[f"val_{k}"][best_epoch] for k in start if k not in ("k", "n")} | {"k": start["k"],
                                                                                             "n": start["n"]},
        frozen_metrics=frozen, whitening_metrics=start, n_train=int(len(tr)), n_val=int(len(va)),
        n_train_groups=int(len(np.unique(groups[tr]))), n_val_groups=int(len(np.unique(groups[va]))),
        note=" ".join(notes))


def _check_groups(train: Sequence[GroupedPhoto], validation: Sequence[GroupedPhoto]) -> None:
    """Raises ValueError, in words, for a side without two groups or a group on both sides."""
    for photos, side in ((train, "training"), (validation, "validation")):
        if len({p.group for p in photos}) < 2:
            raise ValueError(f"The {side} side needs photos of at least two groups.")
    both = {p.group for p in train} & {p.group for p in validation}
    if both:
        raise ValueError(f"Group {sorted(both)[0]} is on both sides of the split: validation groups must be "
                         "new to the model.")


def split_by_group(photos: Sequence[GroupedPhoto], *, validation_share: float = 0.5, seed: int = 42
                   ) -> tuple[list[GroupedPhoto], list[GroupedPhoto]]:
    """Seeded split by group (a group's photos all on one side), so validation groups are
    never seen in training (Musgrave et al. 2020's protocol: held-out classes). A group of one
    photo is never held out (there would be nothing of it to retrieve): it trains, as a negative.

    Args:
        photos: the dataset.
        validation_share: share of the groups of two photos or more held out, 0..1 (at least
            two on each side).

    Raises:
        ValueError: fewer than four groups of at least two photos.
    """
    sizes: dict[int, int] = {}
    for p in photos:
        sizes[p.group] = sizes.get(p.group, 0) + 1
    ids = sorted(g for g, n in sizes.items() if n >= 2)
    if len(ids) < 4:
        raise ValueError("Learning an embedding needs at least four groups of two photos or more: two to train on, "
                         f"two to check on; there {'are' if len(ids) != 1 else 'is'} {len(ids)}.")
    rng = np.random.default_rng(seed)
    n_val = min(len(ids) - 2, max(2, round(len(ids) * validation_share)))
    held = set(rng.permutation(ids)[:n_val].tolist())
    return [p for p in photos if p.group not in held], [p for p in photos if p.group in held]
