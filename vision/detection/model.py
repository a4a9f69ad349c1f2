"""The detector network: FCOS-style, anchor-free, on an ImageNet backbone.

Method: Tian et al. 2019, "FCOS: Fully Convolutional One-Stage Object
Detection" (per-location class scores, distances to the box's four sides,
centre-ness; one head shared by the pyramid levels), with the pyramid of Lin
et al. 2017, "Feature Pyramid Networks" (1×1 laterals, top-down sum, 3×3
smoothing). Kept light for a CPU: three levels (strides 8, 16, 32) taken
from the backbone's stage outputs, :data:`FPN_CHANNELS` channels, two 3×3
convolutions per tower. The seed's SSD + MobileNet (section 5) is the same
family: a single-stage head on a pretrained backbone's multi-scale maps; the
anchor-free head needs no anchor shapes tuned per dataset.

The network is built in two nested parts so training can run the head alone
on cached backbone maps: ``backbone_maps`` (pixels → three maps, ImageNet
normalisation inside) and ``detector_head`` (maps → per-location outputs).

Output layout, per photo: ``(N, C + 5) float32`` for the ``N`` locations of
:func:`locations` in level order (stride 8 first, row-major): ``C`` class
logits, four side distances ``l, t, r, b`` in units of the level's stride
(≥ 0), and one centre-ness logit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

STRIDES = (8, 16, 32)
"""Pyramid strides, pixels per map cell (FCOS' P3..P5)."""

FPN_CHANNELS = 96
"""Channels of every pyramid level and head convolution (FCOS uses 256; 96 keeps the
head about 1 GMAC below the backbone at 320 px on a CPU)."""

PRIOR = 0.01
"""Initial class probability of every location (RetinaNet's π, Lin et al. 2017 §4.1): keeps
the focal loss from being swamped by the many easy background locations at the start."""

INPUT_SIZES = (256, 320, 384, 416, 448, 512)
"""Square input sides offered, multiples of 32 (the coarsest stride)."""


@dataclass(frozen=True)
class Level:
    """One pyramid level: ``stride`` px per cell, its ``size`` cells per side, and the
    range of box sizes it answers for (the longest side distance, pixels; FCOS §3.2)."""

    stride: int
    size: int
    lo: float
    hi: float


def levels(input_size: int) -> tuple[Level, ...]:
    """The three levels for a square input of ``input_size`` px (a multiple of 32).

    Size ranges follow FCOS (64, 128 at strides 8, 16) scaled by ``input_size / 320``
    so a photo's objects go to the same level whatever side it is resized to.

    Raises:
        ValueError: a side that is not a positive multiple of 32.
    """
    if input_size <= 0 or input_size % 32:
        raise ValueError(f"The detector's input side must be a multiple of 32 pixels, not {input_size}.")
    k = input_size / 320
    bounds = (0.0, 64 * k, 128 * k, float("inf"))
    return tuple(Level(s, input_size // s, bounds[i], bounds[i + 1]) for i, s in enumerate(STRIDES))


def locations(input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres of every output location and their strides.

    Returns:
        ``(points, strides)``: ``(N, 2) float32`` pixel ``(x, y)`` of each cell's centre
        (``(j + 0.5) * stride``), level by level, row-major; ``(N,) float32`` strides.
    """
    pts, strides = [], []
    for lv in levels(input_size):
        c = (np.arange(lv.size, dtype=np.float32) + 0.5) * lv.stride
        yy, xx = np.meshgrid(c, c, indexing="ij")
        pts.append(np.stack([xx.ravel(), yy.ravel()], axis=1))
        strides.append(np.full(lv.size * lv.size, lv.stride, np.float32))
    return np.concatenate(pts), np.concatenate(strides)


def block_strides(model) -> list[tuple[int, int]]:
    """``(n, stride)`` of every MBConv block ``block{n}_`` of an EfficientNet-Lite model
    (``vision.backbones.efficientnet_lite.build_model``): the stride of its output relative to
    the input (the stem halves, then each block's depthwise stride)."""
    names = {layer.name for layer in model.layers}
    out, stride, n = [], 2, 0
    while f"block{n}_dwconv" in names:
        stride *= int(model.get_layer(f"block{n}_dwconv").strides[0])
        out.append((n, stride))
        n += 1
    return out


def backbone_layers(model) -> list[str]:
    """Names of the layers whose outputs are the stride 8, 16 and 32 maps of an
    EfficientNet-Lite model: the last block of each stride (its residual ``add`` where it has one).

    Raises:
        ValueError: a model without EfficientNet-Lite's block layer names.
    """
    names = {layer.name for layer in model.layers}
    last = {s: (f"block{n}_add" if f"block{n}_add" in names else f"block{n}_project_bn") for n, s in block_strides(model)}
    if not all(s in last for s in STRIDES):
        raise ValueError("The detector needs an EfficientNet-Lite backbone (named blocks at strides 8, 16 and 32).")
    return [last[s] for s in STRIDES]


def build_backbone_maps(backbone_model, input_size: int):
    """``keras.Model`` ``backbone_maps``: ``(b, S, S, 3) float32`` pixels 0..255 → the three maps
    ``[(b, S/8, S/8, c3), (b, S/16, S/16, c4), (b, S/32, S/32, c5)]``, on a private copy of
    the backbone's weights (fine-tuning never touches the shared backbone)."""
    import keras
    from keras import layers

    from vision.backbones.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD

    private = keras.models.clone_model(backbone_model)
    private.set_weights(backbone_model.get_weights())
    names = backbone_layers(private)
    inner = keras.Model(private.inputs, [private.get_layer(n).output for n in names], name="efficientnet_maps")
    inputs = keras.Input((input_size, input_size, 3), name="image")
    mean = np.asarray(IMAGENET_MEAN, np.float32).reshape(-1) * 255.0
    std = np.asarray(IMAGENET_STD, np.float32).reshape(-1) * 255.0
    x = layers.Normalization(mean=mean, variance=std ** 2, name="imagenet_normalize")(inputs)
    return keras.Model(inputs, inner(x), name="backbone_maps")


def build_head(map_shapes, num_classes: int, *, channels: int = FPN_CHANNELS):
    """``keras.Model`` ``detector_head``: the three maps → ``(b, N, num_classes + 5)`` (module
    docstring). ``map_shapes``: the maps' ``(h, w, c)`` shapes, stride 8 first."""
    import keras
    from keras import layers

    inputs = [keras.Input(tuple(s), name=f"c{i + 3}") for i, s in enumerate(map_shapes)]
    lat = [layers.Conv2D(channels, 1, name=f"lateral{i + 3}")(x) for i, x in enumerate(inputs)]
    p = [None, None, lat[2]]
    for i in (1, 0):  # top-down: coarse meaning added to finer maps
        p[i] = layers.Add(name=f"topdown{i + 3}")([lat[i], layers.UpSampling2D(2, name=f"up{i + 4}")(p[i + 1])])
    p = [layers.Conv2D(channels, 3, padding="same", name=f"smooth{i + 3}")(x) for i, x in enumerate(p)]

    def tower(name):
        return [layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"{name}_conv{j}") for j in range(2)]

    cls_tower, box_tower = tower("cls"), tower("box")
    bias = float(-np.log((1 - PRIOR) / PRIOR))
    cls_out = layers.Conv2D(num_classes, 3, padding="same", name="class_logits",
                            bias_initializer=keras.initializers.Constant(bias))
    box_out = layers.Conv2D(4, 3, padding="same", name="side_distances")
    ctr_out = layers.Conv2D(1, 3, padding="same", name="centerness_logit")
    outs = []
    for i, x in enumerate(p):
        c = x
        for conv in cls_tower:
            c = conv(c)
        b = x
        for conv in box_tower:
            b = conv(b)
        # softplus: distances ≥ 0 with a gradient everywhere (FCOS' exp explodes early on)
        dist = layers.Activation("softplus", name=f"distances{i + 3}")(box_out(b))
        y = layers.Concatenate(name=f"level{i + 3}")([cls_out(c), dist, ctr_out(b)])
        outs.append(layers.Reshape((-1, num_classes + 5), name=f"flat{i + 3}")(y))
    return keras.Model(inputs, layers.Concatenate(axis=1, name="locations")(outs), name="detector_head")


def build_detector(backbone_model, num_classes: int, input_size: int = 320, *, channels: int = FPN_CHANNELS):
    """The whole detector: ``(b, S, S, 3) float32`` pixels 0..255 (RGB, the photo resized to
    ``S × S``) → ``(b, N, num_classes + 5) float32`` (module docstring).

    Args:
        backbone_model: an EfficientNet-Lite ``keras.Model`` (``vision.backbones.Backbone.model``);
            copied, not shared.
        num_classes: 1.. classes.
        input_size: ``S``, a multiple of 32 (:data:`INPUT_SIZES`).

    Raises:
        ValueError: a backbone without the named stride blocks, a bad side or no class.
    """
    import keras

    if num_classes < 1:
        raise ValueError("A detector needs at least one class.")
    levels(input_size)
    maps = build_backbone_maps(backbone_model, input_size)
    maps.trainable = False
    head = build_head([tuple(t.shape[1:]) for t in maps.outputs], num_classes, channels=channels)
    inputs = keras.Input((input_size, input_size, 3), name="pixels")
    return keras.Model(inputs, head(maps(inputs, training=False)), name="detector")


def parts(detector) -> tuple[Any, Any]:
    """``(backbone_maps, detector_head)`` of a :func:`build_detector` model."""
    return detector.get_layer("backbone_maps"), detector.get_layer("detector_head")
