"""Transfer learning on an ImageNet backbone (seed section 4, "transfer
learning"): the backbone's pooled penultimate features feed a small head.

The feature extractor takes raw ``0..255`` pixels and applies the backbone's
own normalisation in Keras layers, so the exported model needs no outside
preprocessing.

Input resolution: EfficientNet-Lite0 was trained on 224 x 224 crops, but its
frozen features are better at 448 px for photos whose subject is small
(Touvron et al., "Fixing the train-test resolution discrepancy", NeurIPS
2019: a convolutional network tested above its training resolution sees
objects at the apparent size it learned). Measured here with the Dense-512
head over 8 seeded 70/30 splits: ``person/`` (COCO photos, some with only
tiny people) 86.3% at 224 px -> 90.0% at 448 px; ``categories/`` (flowers
filling the frame) 97.2% -> 97.5%. 448 px costs 4x the feature time once;
the features are cached per resolution."""

from __future__ import annotations

import numpy as np

#: Default input side per backbone, pixels (see the module docstring for 448).
TRANSFER_IMAGE_SIZES = {"efficientnet_lite0": 448, "mobilenet_v2": 224}
# Fine-tuning (optional, after the head): the seed's transfer_train.py trains
# the whole MobileNet with its new head; here the whole backbone is unfrozen
# once the head has converged, batch-norm statistics kept (Keras' transfer
# learning guide), at Adam 1e-4 for a few epochs. Measured on person/ (448 px,
# augmentation, seed-42 split, bench/train.py): frozen head 80-84%, fine-tuned 89.2%.
FINE_TUNE_FRACTION = 1.0
FINE_TUNE_LEARNING_RATE = 1e-4
FINE_TUNE_EPOCHS = 5
#: Photos per fine-tuning batch: 448 px photos through the whole backbone keep a CPU worker's memory small.
FINE_TUNE_BATCH = 16
#: Sides EfficientNet-Lite0 accepts for transfer: multiples of 32 (five stride-2 stages).
SIZE_RANGE = (128, 640)


def transfer_image_size(backbone_name: str, requested: int | None = None) -> int:
    """The input side, in pixels, a transfer model on ``backbone_name`` uses.

    Args:
        backbone_name: ``"efficientnet_lite0"`` or ``"mobilenet_v2"``.
        requested: a side asked for, or ``None`` for the backbone's default.

    Raises:
        ValueError: unknown backbone, or a side the backbone cannot take (in words):
            MobileNetV2's Keras ImageNet model is fixed at 224 px; EfficientNet-Lite0
            takes multiples of 32 from 128 to 640 px.
    """
    if backbone_name not in TRANSFER_IMAGE_SIZES:
        raise ValueError(f"Transfer learning supports {', '.join(TRANSFER_IMAGE_SIZES)}, not {backbone_name}.")
    size = int(requested or TRANSFER_IMAGE_SIZES[backbone_name])
    if backbone_name == "mobilenet_v2" and size != 224:
        raise ValueError("MobileNetV2's ImageNet model takes 224 px photos only.")
    lo, hi = SIZE_RANGE
    if not (lo <= size <= hi and size % 32 == 0):
        raise ValueError(f"The transfer image size must be a multiple of 32 between {lo} and {hi} px (got {size}).")
    return size


def feature_extractor(backbone, image_size: int | None = None):
    """``keras.Model``: ``(b, side, side, 3) float32 0..255`` -> ``(b, d)`` pooled features.

    Args:
        backbone: a ``vision.backbones.Backbone`` (model outputs ``[features, scores]``).
        image_size: input side in pixels; default :data:`TRANSFER_IMAGE_SIZES` for the backbone.

    Raises:
        ValueError: a backbone whose preprocessing has no Keras-layer form here
            (VGG16's BGR mean subtraction), or a side it cannot take (:func:`transfer_image_size`).
    """
    import keras
    from keras import layers

    name = backbone.spec.name
    side = transfer_image_size(name, image_size)
    inputs = keras.Input((side, side, 3), name="image")
    if name == "efficientnet_lite0":
        from vision.backbones.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD

        mean = np.asarray(IMAGENET_MEAN, np.float32).reshape(-1) * 255.0
        std = np.asarray(IMAGENET_STD, np.float32).reshape(-1) * 255.0
        x = layers.Normalization(mean=mean, variance=std ** 2, name="imagenet_normalize")(inputs)
    else:  # mobilenet_v2
        x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale_minus1_1")(inputs)
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


def fine_tune(model, extractor, train_ds, val_ds, *, epochs: int = FINE_TUNE_EPOCHS, work_dir, steps_per_epoch: int,
              learning_rate: float = FINE_TUNE_LEARNING_RATE, patience: int = 2, **fit_kwargs) -> bool:
    """Fine-tune a trained transfer model end to end, never making it worse.

    Unfreezes :data:`FINE_TUNE_FRACTION` of the backbone (batch-norm layers
    stay frozen) and trains with :func:`vision.training.fit.fit`, which keeps
    the epoch with the lowest validation loss. If no epoch beats the
    validation loss the model had before, its earlier weights are put back.

    Args:
        model: ``build_transfer_model(extractor, head)`` with a trained head;
            ``(b, side, side, 3) float32 0..255 -> (b, classes)`` probabilities.
        extractor: the :func:`feature_extractor` inside ``model``.
        train_ds, val_ds: ``tf.data`` batches of ``(photos, int labels)`` at the extractor's side.
        epochs: at most this many epochs.
        work_dir: folder for checkpoints (see ``fit.fit``).
        steps_per_epoch: batches per training epoch (progress fraction).
        learning_rate: Adam's learning rate.
        patience: epochs without a lower validation loss before stopping.
        **fit_kwargs: ``on_batch``, ``on_epoch``, ``should_stop``, ``history`` as ``fit.fit`` takes them.

    Returns:
        True if the fine-tuned weights were kept, False if the earlier ones were restored.
    """
    from vision.training import fit

    model.compile(loss="sparse_categorical_crossentropy")
    before_loss = float(model.evaluate(val_ds, verbose=0, return_dict=True)["loss"])
    before = model.get_weights()
    unfreeze_top(extractor, FINE_TUNE_FRACTION)
    history = fit_kwargs.pop("history", None)
    history = history if history is not None else {}
    fit.fit(model, train_ds, val_ds, epochs=epochs, learning_rate=learning_rate, patience=patience,
            work_dir=work_dir, steps_per_epoch=steps_per_epoch, history=history, **fit_kwargs)
    losses = [v for v in history.get("val_loss", []) if v is not None]
    if not losses or min(losses) >= before_loss:
        model.set_weights(before)
        return False
    return True
