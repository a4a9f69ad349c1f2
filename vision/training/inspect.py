"""Looking inside a trained CNN (seed section 3: its learned 3x3 kernel shown
as a grey image, and the activation map after a layer)."""

from __future__ import annotations

import io

import numpy as np

from vision.cnn import to_display


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


def conv_layer_names(model) -> list[str]:
    """Names of the top-level layers whose output is a 4-D feature map."""
    import keras

    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            if len(layer.output.shape) == 4:
                names.append(layer.name)
        except (AttributeError, ValueError):
            continue
    return names


def activations_png(model, image: np.ndarray, layer_name: str, max_maps: int = 32) -> bytes:
    """Feature maps of one photo after ``layer_name`` (seed: the activation
    table after MaxPooling), each channel scaled min-max to grey.

    Args:
        image: ``(s, s, 3) float32`` as the model's input.

    Raises:
        ValueError: unknown layer or a layer without a 2-D map output.
    """
    import keras

    if layer_name not in conv_layer_names(model):
        raise ValueError(f"Choose one of the layers with feature maps: {', '.join(conv_layer_names(model))}.")
    sub = keras.Model(model.inputs, model.get_layer(layer_name).output)
    maps = np.asarray(sub.predict(image[None].astype(np.float32), verbose=0))[0]
    tiles = [to_display(maps[:, :, c]) for c in range(min(maps.shape[2], max_maps))]
    return _grid_png(tiles, scale=max(1, 96 // maps.shape[0]))
