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
head on the pooled features alone over 8 seeded 70/30 splits: ``person/`` (COCO photos, some with only
tiny people) 86.3% at 224 px -> 90.0% at 448 px; ``categories/`` (flowers
filling the frame) 97.2% -> 97.5%. 448 px costs 4x the feature time once;
the features are cached per resolution.

Class peaks: beside the 1280 pooled features, the extractor outputs, for each
of the 1000 ImageNet classes, the highest score the backbone's own classifier
gives any one place of the last feature map (its class activation map, Zhou
et al., "Learning Deep Features for Discriminative Localization", CVPR 2016),
the "Object Bank" idea of describing a photo by how strongly pretrained object
detectors fire anywhere in it (Li et al., NeurIPS 2010). Global pooling
averages a small person away into the scene (kitchen, street, bus); the peak
of the classes a person brings (jersey, suit, backpack, ...) survives.
Measured with the Dense-512 head on 31 seeded splits x 2 starting weights
(``person/``): 88.5% -> 91.1% mean (better in 48 runs, worse in 7);
``categories/`` (10 splits x 2): 97.3% -> 97.7%.

Tried on ``person/`` the same way (14 splits other than the product's seed 42
x 2 starting weights, mean validation accuracy; the product's features 91.1%)
and not adopted, none being better by more than noise: training on mirror
images too 91.0%, averaging photo and mirror at prediction 91.0%, 640 px
91.1%, class peaks max(448, 640 px) 91.1%, 448 px features + 640 px peaks
90.9%, pooled features at 224 + 448 px 89.6%, adding globally max-pooled
features 88.2%, GeM pooling (p = 3) 90.0%, class peaks as the mean of the top
four places 91.2%, an RBF SVM instead of the head 88.4%; of the head's errors
60% are missed people, most of them covering under 5% of their photo."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision.training.models import leaf_layers

#: Default input side per backbone, pixels (see the module docstring for 448). EfficientNet-Lite1 and
#: Lite2 (trained at 240 and 260 px) take 448 px too, by the same argument; ``bench/train.py --backbones``
#: prints what each costs and scores.
TRANSFER_IMAGE_SIZES = {"efficientnet_lite0": 448, "mobilenet_v2": 224, "efficientnet_lite1": 448,
                        "efficientnet_lite2": 448}
# Fine-tuning (optional, after the head; issue 4: "fine-tune the top blocks
# afterwards at a low learning rate"): the layers up to the cut stay frozen and
# their output is cached per photo and its mirror image, so each epoch runs only
# the top blocks (Yosinski et al., NeurIPS 2014: lower layers transfer as they
# are, top ones are task-specific). Batch-norm statistics stay frozen (Keras'
# transfer learning guide). EfficientNet-Lite0: the last five MBConv blocks (the
# stride-32 stages) and the 1x1 head convolution train; MobileNetV2: blocks 13-16.
# Measured on person/ (448 px, with class peaks, EfficientNet-Lite0, 8 tuning splits, seeds
# 2001-2008, through classifier_train): frozen head 87.5% -> fine-tuned 89.9% mean, two to five
# minutes per split on 2 CPU cores; on categories/ it lost (96.4% -> 95.7%, 3 splits), so the
# job's default does not fine-tune (vision.training.classifier.ClassifierOptions).
# Other EfficientNet-Lite sizes cut at the same place (fine_tune_cut).
FINE_TUNE_CUTS = {"efficientnet_lite0": "block10_add", "mobilenet_v2": "block_12_add"}
FINE_TUNE_LEARNING_RATE = 1e-4
#: At most this many fine-tuning epochs. On the 8 person/ tuning splits the epoch kept was the
#: first or second wherever fine-tuning was kept (runs of 8 with patience 3 went 4-6 epochs), so
#: 3 gives the same models in about half the time.
FINE_TUNE_EPOCHS = 3
#: Examples per fine-tuning batch (cut activations, not photos).
FINE_TUNE_BATCH = 16
#: Per backbone family: the last spatial feature map and the ImageNet classifier (Dense) the class peaks use.
CAM_LAYERS = {"efficientnet_lite": ("head_relu", "logits"), "mobilenet_v2": ("out_relu", "predictions")}
#: Class peaks are ImageNet logits (median about 4, up to about 45 on person/ at 448 px); times 1/8 they
#: sit in the range of the pooled ReLU6 features (0..6). Of 1/2, 1/4 and 1/8, 1/8 scored best on person/
#: (90.0%, 91.0%, 91.3% mean over 21 splits).
PEAK_SCALE = 1 / 8
#: Name of the frozen ImageNet classifier inside ``top_blocks`` (fine-tuning leaves it as trained).
CLASS_LAYER = "imagenet_classes"
#: Feature layout, part of the feature cache's folder name: pooled features, then class peaks.
FEATURE_LAYOUT = "gap-peaks"
#: Sides EfficientNet-Lite0 accepts for transfer: multiples of 32 (five stride-2 stages).
SIZE_RANGE = (128, 640)


def transfer_image_size(backbone_name: str, requested: int | None = None) -> int:
    """The input side, in pixels, a transfer model on ``backbone_name`` uses.

    Args:
        backbone_name: a key of :data:`TRANSFER_IMAGE_SIZES`, or any other
            ``efficientnet_lite*`` backbone (448 px by default).
        requested: a side asked for, or ``None`` for the backbone's default.

    Raises:
        ValueError: unknown backbone, or a side the backbone cannot take (in words):
            MobileNetV2's Keras ImageNet model is fixed at 224 px; the EfficientNet-Lite
            models take multiples of 32 from 128 to 640 px.
    """
    if backbone_name not in TRANSFER_IMAGE_SIZES and _family(backbone_name) != "efficientnet_lite":
        raise ValueError(f"Transfer learning supports {', '.join(TRANSFER_IMAGE_SIZES)}, not {backbone_name}.")
    size = int(requested or TRANSFER_IMAGE_SIZES.get(backbone_name, 448))
    if backbone_name == "mobilenet_v2" and size != 224:
        raise ValueError("MobileNetV2's ImageNet model takes 224 px photos only.")
    lo, hi = SIZE_RANGE
    if not (lo <= size <= hi and size % 32 == 0):
        raise ValueError(f"The transfer image size must be a multiple of 32 between {lo} and {hi} px (got {size}).")
    return size


def _family(backbone_name: str) -> str:
    """``"efficientnet_lite"`` for every EfficientNet-Lite size (one layer naming), else the name."""
    return "efficientnet_lite" if backbone_name.startswith("efficientnet_lite") else backbone_name


def fine_tune_cut(backbone) -> str:
    """The layer whose output fine-tuning starts from, for a loaded backbone.

    :data:`FINE_TUNE_CUTS` where the backbone is listed; for another
    EfficientNet-Lite size, the same place as Lite0's: the output of the last
    block before the stride-32 stages (the block before the last one whose
    depthwise convolution has stride 2), so the top blocks that train are the
    stride-32 stages and the head convolution.

    Args:
        backbone: a ``vision.backbones.Backbone``.

    Raises:
        ValueError: a backbone this module has no cut for.
    """
    name = backbone.spec.name
    if name in FINE_TUNE_CUTS:
        return FINE_TUNE_CUTS[name]
    if _family(name) != "efficientnet_lite":
        raise ValueError(f"Fine-tuning has no cut for {name}.")
    layers = {layer.name: layer for layer in backbone.model.layers}
    strided = [int(n.removeprefix("block").removesuffix("_dwconv")) for n, layer in layers.items()
               if n.startswith("block") and n.endswith("_dwconv") and tuple(layer.strides) == (2, 2)]
    if not strided:
        raise ValueError(f"{name} has no stride-2 blocks named blockN_dwconv; fine-tuning cannot find its cut.")
    before = f"block{max(strided) - 1}"
    return f"{before}_add" if f"{before}_add" in layers else f"{before}_project_bn"


def cache_folders(backbone_name: str, image_size: int, cut: str | None = None) -> tuple[str, str]:
    """Folder names, under a cache root, for the pooled features and for the
    fine-tuning activations of ``backbone_name`` at ``image_size`` px, e.g.
    ``("efficientnet_lite0-448px-gap-peaks", "efficientnet_lite0-448px-block10_add")``:
    a change of feature layout or cut never reads an older cache.

    Args:
        cut: the fine-tuning cut (:func:`fine_tune_cut`); needed for a backbone
            not in :data:`FINE_TUNE_CUTS`.
    """
    stem = f"{backbone_name}-{image_size}px"
    return f"{stem}-{FEATURE_LAYOUT}", f"{stem}-{cut or FINE_TUNE_CUTS[backbone_name]}"


def feature_extractor(backbone, image_size: int | None = None):
    """``keras.Model``: ``(b, side, side, 3) float32 0..255`` -> ``(b, d + 1000)`` features:
    the ``d`` globally averaged features of the last map (1280 for both backbones),
    then the 1000 ImageNet class peaks times :data:`PEAK_SCALE` (module docstring).

    Built from two nested models, ``frozen_blocks`` (pixels -> activations at
    :func:`fine_tune_cut`, normalisation included) and ``top_blocks``
    (activations -> features), that :func:`fine_tune` trains apart.
    Both run on a private copy of the backbone's weights: fine-tuning never
    changes the per-process backbone that search and other jobs share.

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
    if _family(name) == "efficientnet_lite":
        from vision.backbones.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD

        mean = np.asarray(IMAGENET_MEAN, np.float32).reshape(-1) * 255.0
        std = np.asarray(IMAGENET_STD, np.float32).reshape(-1) * 255.0
        x = layers.Normalization(mean=mean, variance=std ** 2, name="imagenet_normalize")(inputs)
    else:  # mobilenet_v2
        x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale_minus1_1")(inputs)
    private = keras.models.clone_model(backbone.model)
    private.set_weights(backbone.model.get_weights())
    cut = private.get_layer(fine_tune_cut(backbone)).output
    bottom = keras.Model(private.inputs, cut, name="frozen_blocks")
    map_layer, classifier = CAM_LAYERS[_family(name)]
    top_in = keras.Input(tuple(cut.shape[1:]), name="activations")
    fmap = keras.Model(cut, private.get_layer(map_layer).output, name=f"{name}_top")(top_in)
    kernel, bias = private.get_layer(classifier).get_weights()
    # a fresh Dense without activation: MobileNetV2's own classifier ends in softmax
    classes = layers.Dense(kernel.shape[1], name=CLASS_LAYER)
    scores = classes(fmap)  # (b, h, w, 1000): the class activation map
    classes.set_weights([kernel, bias])
    peaks = layers.Rescaling(PEAK_SCALE, name="class_peaks")(layers.GlobalMaxPooling2D(name="peak")(scores))
    pooled = layers.GlobalAveragePooling2D(name="pooled")(fmap)
    top = keras.Model(top_in, layers.Concatenate(name="features")([pooled, peaks]), name="top_blocks")
    bottom.trainable = top.trainable = False
    return keras.Model(inputs, top(bottom(x, training=False), training=False), name=f"{name}_extractor")


def extractor_parts(extractor):
    """``(frozen_blocks, top_blocks)`` of a :func:`feature_extractor`:
    ``(b, side, side, 3)`` normalised pixels -> ``(b, h, w, c)`` activations
    (h = side / 16 for both backbones) -> ``(b, d + 1000)`` features."""
    return extractor.get_layer("frozen_blocks"), extractor.get_layer("top_blocks")


def frozen_part(extractor):
    """``keras.Model``: ``(b, side, side, 3) float32 0..255`` -> ``(b, h, w, c)``
    activations at the fine-tuning cut (what :func:`fine_tune` trains on)."""
    import keras

    bottom, _ = extractor_parts(extractor)
    x = extractor.inputs[0]
    for layer in extractor.layers[1:]:  # normalisation, then the frozen blocks
        x = layer(x)
        if layer is bottom:
            break
    return keras.Model(extractor.inputs, x, name="to_activations")


def _unfreeze(top) -> int:
    """Make ``top``'s layers trainable except batch-norm and the ImageNet
    classifier of the class peaks; returns how many train."""
    import keras

    top.trainable = True
    count = 0
    for layer in leaf_layers(top):
        if isinstance(layer, keras.layers.BatchNormalization) or layer.name == CLASS_LAYER:
            layer.trainable = False
        elif layer.weights:
            count += 1
    return count


@dataclass(frozen=True)
class FineTuneResult:
    """What :func:`fine_tune` did.

    Attributes:
        kept: the fine-tuned weights were kept; False: no epoch lowered the validation
            loss, so the weights from before fine-tuning were put back.
        cancelled: ``should_stop`` ended it early (what was kept follows the same rule).
    """

    kept: bool
    cancelled: bool = False


def fine_tune(head, extractor, train_ds, val_ds, *, epochs: int = FINE_TUNE_EPOCHS, work_dir, steps_per_epoch: int,
              learning_rate: float = FINE_TUNE_LEARNING_RATE, patience: int = 3, **fit_kwargs) -> FineTuneResult:
    """Fine-tune the top blocks of a transfer model together with its trained head, never making it worse.

    Trains ``top_blocks`` (:func:`extractor_parts`; batch-norm layers stay
    frozen) and ``head`` on cut activations with :func:`vision.training.fit.fit`,
    which keeps the epoch with the lowest validation loss. If no epoch beats the
    validation loss the model had before, its earlier weights are put back.
    Afterwards ``extractor`` (whose ``top_blocks`` these are) and
    ``build_transfer_model(extractor, head)`` carry the fine-tuned weights.

    Args:
        head: the trained head, ``(b, d) -> (b, classes)`` probabilities.
        extractor: the :func:`feature_extractor` the head was trained on.
        train_ds, val_ds: ``tf.data`` batches of ``((b, h, w, c) float32 activations, (b,) int labels)``
            from :func:`frozen_part` (``vision.training.features.activation_dataset``).
        epochs: at most this many epochs.
        work_dir: folder for checkpoints (see ``fit.fit``; a retried job resumes there).
        steps_per_epoch: batches per training epoch (progress fraction).
        learning_rate: Adam's learning rate.
        patience: epochs without a lower validation loss before stopping.
        **fit_kwargs: ``on_batch``, ``on_epoch``, ``should_stop``, ``history`` as ``fit.fit`` takes them.

    Returns:
        :class:`FineTuneResult`: whether the fine-tuned weights were kept, and whether it was cancelled.
    """
    import keras

    from vision.training import fit

    _, top = extractor_parts(extractor)
    inputs = keras.Input(tuple(top.input_shape[1:]), name="activations")
    model = keras.Model(inputs, head(top(inputs)), name="top_and_head")
    model.compile(loss="sparse_categorical_crossentropy")
    before_loss = float(model.evaluate(val_ds, verbose=0, return_dict=True)["loss"])
    before = model.get_weights()
    _unfreeze(top)
    history = fit_kwargs.pop("history", None)
    history = history if history is not None else {}
    try:
        result = fit.fit(model, train_ds, val_ds, epochs=epochs, learning_rate=learning_rate, patience=patience,
                work_dir=work_dir, steps_per_epoch=steps_per_epoch, history=history, **fit_kwargs)
    finally:
        top.trainable = False
    losses = [v for v in history.get("val_loss", []) if v is not None]
    kept = bool(losses) and min(losses) < before_loss
    if not kept:
        model.set_weights(before)
    return FineTuneResult(kept=kept, cancelled=result.cancelled)


def fine_tune_cached(head, extractor, train_files, train_labels, val_files, val_labels, *, seed: int, work_dir,
                     epochs: int = FINE_TUNE_EPOCHS, **fit_kwargs) -> tuple[FineTuneResult, np.ndarray]:
    """:func:`fine_tune` on ``vision.training.features.cached_activations`` files:
    trains on each photo and its mirror image, validates on the photos as they are.

    Args:
        head, extractor: as :func:`fine_tune`.
        train_files, val_files: activation cache files (no None).
        train_labels, val_labels: class index per file.
        seed: shuffling seed.
        work_dir, epochs, **fit_kwargs: as :func:`fine_tune`.

    Returns:
        ``(result, features)``: the :class:`FineTuneResult`, and the validation
        photos' ``(n_val, d + 1000) float32`` features from the final top blocks.
    """
    from vision.training.features import activation_dataset

    train = activation_dataset(train_files, train_labels, views=(0, 1), batch_size=FINE_TUNE_BATCH, shuffle=True,
                               seed=seed)
    val = activation_dataset(val_files, val_labels, batch_size=FINE_TUNE_BATCH)
    result = fine_tune(head, extractor, train, val, epochs=epochs, work_dir=work_dir,
                     steps_per_epoch=-(-2 * len(train_files) // FINE_TUNE_BATCH), **fit_kwargs)
    _, top = extractor_parts(extractor)
    return result, np.asarray(top.predict(val.map(lambda x, y: x), verbose=0), np.float32)
