"""Looking inside a trained CNN (seed section 3: its learned 3x3 kernel shown
as a grey image, and the activation map after a layer)."""

from __future__ import annotations

import io

import numpy as np

from vision.cnn import to_display
from vision.training.models import leaf_layers


def model_summary(model) -> list[dict]:
    """One row per layer: ``name, type, output_shape, params`` (what the
    seed's ``model.summary()`` prints), plus a totals row at the end."""
    rows = []
    for layer in model.layers:
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):
            shape = "?"
        rows.append({"name": layer.name, "type": type(layer).__name__, "output_shape": shape,
                     "params": int(layer.count_params())})
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    total = int(model.count_params())
    rows.append({"name": "Total", "type": "", "output_shape": f"trainable {trainable:,}",
                 "params": total})
    return rows


def _grid_png(tiles: list[np.ndarray], scale: int) -> bytes:
    from PIL import Image

    n = len(tiles)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    h, w = tiles[0].shape[:2]
    pad = 2
    canvas = np.full((rows * (h * scale + pad) + pad, cols * (w * scale + pad) + pad, 3), 255, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        big = np.kron(t if t.ndim == 3 else np.repeat(t[..., None], 3, 2), np.ones((scale, scale, 1), np.uint8))
        y, x = pad + r * (h * scale + pad), pad + c * (w * scale + pad)
        canvas[y:y + h * scale, x:x + w * scale] = big
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, "PNG")
    return buf.getvalue()


def first_conv_layer(model):
    """The first Conv2D layer (searching nested models), or None."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            return layer
        if isinstance(layer, keras.Model):
            inner = first_conv_layer(layer)
            if inner is not None:
                return inner
    return None


def kernels_png(model, max_kernels: int = 64) -> bytes | None:
    """The first convolution's kernels as a grid of small images (RGB when
    the layer sees 3 channels, each scaled min-max as the seed does)."""
    layer = first_conv_layer(model)
    if layer is None:
        return None
    k = np.asarray(layer.get_weights()[0])  # (kh, kw, in, out)
    tiles = []
    for i in range(min(k.shape[3], max_kernels)):
        t = k[:, :, :3, i] if k.shape[2] >= 3 else k[:, :, 0, i]
        tiles.append(to_display(t))
    return _grid_png(tiles, scale=max(4, 48 // k.shape[0]))


def _is_map(layer) -> bool:
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):
        return False


# Inside a nested backbone, one map per block is what a person can look at:
# its output (residual Add, or the stem's and head's ReLU), not the ~6 layers within.
_BLOCK_OUTPUT_TYPES = ("Add", "ReLU")
_INNER_PARTS = ("expand", "depthwise", "dwconv")


def conv_layer_names(model) -> list[str]:
    """Names of the layers whose output is a 4-D feature map: the model's own
    (the scratch CNN's conv, pool and dropout layers), then, for a transfer
    model, each block output of its nested backbone (``stem_relu``,
    ``block3_add``, …, ``head_relu`` for EfficientNet-Lite0)."""
    import keras

    names = [layer.name for layer in model.layers
             if not isinstance(layer, (keras.layers.InputLayer, keras.Model)) and _is_map(layer)]
    for nested in model.layers:
        if isinstance(nested, keras.Model):
            names += [leaf.name for leaf in leaf_layers(nested)
                      if type(leaf).__name__ in _BLOCK_OUTPUT_TYPES and _is_map(leaf)
                      and not any(part in leaf.name for part in _INNER_PARTS)]
    return names


def _maps(model, x, layer_name: str):
    """Output of ``layer_name`` for input batch ``x``: read off the model's own
    graph, or, when the layer sits in a nested model, by running the chain of
    top-level layers (each transfer model level is one: image -> extractor ->
    head; image -> normalisation -> frozen_blocks -> top_blocks) up to it."""
    import keras

    if any(layer.name == layer_name for layer in model.layers):
        return keras.Model(model.inputs, model.get_layer(layer_name).output)(x, training=False)
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model) and any(leaf.name == layer_name for leaf in leaf_layers(layer)):
            return _maps(layer, x, layer_name)
        x = layer(x, training=False)
    raise ValueError(f"No layer named {layer_name}.")


def layer_channels(model, layer_name: str) -> int:
    """Channels of the feature map ``layer_name`` outputs (searching nested models).

    Raises:
        ValueError: no layer of that name.
    """
    for layer in leaf_layers(model):
        if layer.name == layer_name:
            return int(layer.output.shape[-1])
    raise ValueError(f"No layer named {layer_name}.")


#: Feature maps drawn per activation picture: the layer's first channels.
ACTIVATION_MAPS = 32


def activations_png(model, image: np.ndarray, layer_name: str, max_maps: int = ACTIVATION_MAPS) -> bytes:
    """Feature maps of one photo after ``layer_name`` (seed: the activation
    table after MaxPooling), each channel scaled min-max to grey.

    Args:
        image: ``(s, s, 3) float32`` as the model's input.
        layer_name: one of :func:`conv_layer_names`.

    Raises:
        ValueError: unknown layer or a layer without a 2-D map output.
    """
    if layer_name not in conv_layer_names(model):
        raise ValueError(f"Choose one of the layers with feature maps: {', '.join(conv_layer_names(model))}.")
    maps = np.asarray(_maps(model, image[None].astype(np.float32), layer_name))[0]
    tiles = [to_display(maps[:, :, c]) for c in range(min(maps.shape[2], max_maps))]
    return _grid_png(tiles, scale=max(1, 96 // maps.shape[0]))
