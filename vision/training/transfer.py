"""Transfer learning on an ImageNet backbone (seed section 4, "transfer
learning"): the backbone's pooled penultimate features feed a small head.

The feature extractor takes raw ``0..255`` pixels and applies the backbone's
own normalisation in Keras layers, so the exported model needs no outside
preprocessing."""

from __future__ import annotations

import numpy as np

TRANSFER_IMAGE_SIZE = 224  # every backbone here was trained on 224 x 224 ImageNet crops


def feature_extractor(backbone):
    """``keras.Model``: ``(b, 224, 224, 3) float32 0..255`` -> ``(b, d)`` pooled features.

    Args:
        backbone: a ``vision.backbones.Backbone`` (model outputs ``[features, scores]``).

    Raises:
        ValueError: a backbone whose preprocessing has no Keras-layer form here (VGG16's BGR mean subtraction).
    """
    import keras
    from keras import layers

    name = backbone.spec.name
    inputs = keras.Input((TRANSFER_IMAGE_SIZE, TRANSFER_IMAGE_SIZE, 3), name="image")
    if name == "efficientnet_lite0":
        from vision.backbones.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD

        mean = np.asarray(IMAGENET_MEAN, np.float32).reshape(-1) * 255.0
        std = np.asarray(IMAGENET_STD, np.float32).reshape(-1) * 255.0
        x = layers.Normalization(mean=mean, variance=std ** 2, name="imagenet_normalize")(inputs)
    elif name == "mobilenet_v2":
        x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale_minus1_1")(inputs)
    else:
        raise ValueError(f"Transfer learning supports efficientnet_lite0 and mobilenet_v2, not {name}.")
    features = keras.Model(backbone.model.inputs, backbone.model.outputs[0], name=f"{name}_features")
    features.trainable = False
    return keras.Model(inputs, features(x, training=False), name=f"{name}_extractor")


def unfreeze_top(extractor, fraction: float = 0.2) -> int:
    """Make the last ``fraction`` of the backbone's layers trainable for
    fine-tuning (BatchNormalization layers stay frozen, as Keras' transfer
    learning guide advises). Returns how many layers were unfrozen."""
    import keras

    inner = next(l for l in extractor.layers if isinstance(l, keras.Model))
    inner.trainable = True
    n = max(1, int(len(inner.layers) * fraction))
    for layer in inner.layers[:-n]:
        layer.trainable = False
    count = 0
    for layer in inner.layers[-n:]:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
        else:
            count += 1
    return count
