"""Classifier architectures (seed section 4).

Inputs are ``(size, size, 3) float32`` RGB in 0..255; each model rescales
its own input so exported models take raw pixels.
"""

from __future__ import annotations

MODEL_KINDS = ("scratch", "transfer")


def build_scratch_cnn(num_classes: int, image_size: int = 128, *, dropout: float = 0.3):
    """The seed's small CNN ("train.py", section 4): Conv2D 16 5x5 -> max-pool
    -> dropout 0.3 -> Conv2D 32 3x3 -> pool -> dropout -> Conv2D 64 3x3 ->
    pool -> dropout -> Conv2D 64 3x3 -> pool -> dropout -> Flatten -> Dense
    512 ReLU -> softmax. Pixels are scaled to 0..1 first (the seed divides by 255).

    Returns:
        An uncompiled ``keras.Model`` mapping ``(b, size, size, 3)`` to ``(b, num_classes)`` probabilities.
    """
    import keras
    from keras import layers

    if num_classes < 2:
        raise ValueError("a classifier needs at least two classes")
    if image_size < 48:
        raise ValueError("image_size must be at least 48 pixels for four pooling stages")
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Rescaling(1 / 255, name="scale_0_1")(inputs)
    for i, (filters, k) in enumerate([(16, 5), (32, 3), (64, 3), (64, 3)]):
        x = layers.Conv2D(filters, k, activation="relu", name=f"conv{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
        x = layers.Dropout(dropout, name=f"dropout{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(512, activation="relu", name="dense")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="scratch_cnn")


def build_head(feature_dim: int, num_classes: int, *, dropout: float = 0.3, units: int = 512):
    """The transfer-learning head (seed, "transfer_train.py"): Dense 512 ReLU
    -> dropout -> softmax, on ``(b, feature_dim)`` pooled backbone features."""
    import keras
    from keras import layers

    if num_classes < 2:
        raise ValueError("a classifier needs at least two classes")
    inputs = keras.Input((feature_dim,), name="features")
    x = layers.Dense(units, activation="relu", name="head_dense")(inputs)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="head")


def build_transfer_model(backbone, head):
    """Stack a frozen pooled-feature backbone (``(b, s, s, 3)`` 0..255 ->
    ``(b, d)``) and a trained head into one model for export and prediction."""
    import keras

    backbone.trainable = False
    inputs = keras.Input(backbone.input_shape[1:], name="image")
    outputs = head(backbone(inputs, training=False))
    return keras.Model(inputs, outputs, name="transfer_classifier")


def leaf_layers(model):
    """Every layer of ``model`` that is not itself a model, depth first through nested models
    (a transfer model's backbone sits two levels down)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from leaf_layers(layer)
        else:
            yield layer
