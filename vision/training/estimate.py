"""How long a classifier training will take on this machine, before it
starts: from the photo count, the input side, the backbone and fine-tuning,
with per-photo costs measured here by ``bench/train_costs.py``.

Plain Python (no TensorFlow): the web form shows the estimate as the options
change, and ``classifier_train`` splits its progress bar by it, so that the
progress moves at an even pace and the job page's time left (from the job's
own progress rate, ``webapp.jobs.models.Job.eta_seconds``) holds from the first minute.

The model, per run:

* backbone features of each photo not yet cached (decode, resize, forward
  pass, cache write): ``fixed + n * per_photo(side)``, with
  ``per_photo(side) = decode + net * (side / 448) ** 2`` through the costs
  measured at 224 and 448 px (a convolutional network's work grows with the
  pixels); when fine-tuning, the same pass also writes the activations of
  each photo and its mirror image (``activations_448`` per photo);
* the head: ``epochs * (epoch_fixed + per_photo * n_train)``, with the
  largest number of epochs (early stopping usually ends sooner: an upper
  bound);
* fine-tuning: ``epochs * n_train * fine_tune_448 * (side / 448) ** 2``;
* the scratch CNN: ``epochs * (epoch_fixed + per_photo(side) * n_train)``;
* saving the model (``.keras``, TFLite, pictures).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Where the figures below come from: ``bench/train_costs.py`` on this machine (2 CPU cores,
#: TensorFlow 2.21 on the CPU, no GPU), 2026-12-07, while other work shared the cores (load
#: average 2-4): photos of ``../shared/datasets/categories`` (about 500 px), empty caches.
#:
#: * features: the steady-state pass (``feature_costs``: decode and resize + the extractor's
#:   ``predict`` on batches of 32, median of 3), times :data:`RUN_OVERHEAD`;
#: * fixed: building the extractor and its first (tracing) call took 2.0-4.5 s in the bench, but a
#:   job in a fresh worker process also imports TensorFlow and loads the weights: 12-30 s before
#:   the first photo in two runs of the job (``bench/train_estimate.py``), so 15 s;
#: * fine-tuning (Lite2 at 448 px) and saving: whole ``classifier_train`` runs of 32 and 96 photos;
#: * the head: ``head_costs`` (100, 500 and 2000 training photos);
#: * the scratch CNN: whole runs of 32 and 96 photos, 3 epochs.
#:
#: The machine was busy, so single figures moved by up to a factor of 2 between runs (Lite2 at
#: 224 px measured no slower than Lite1 there); the job page's time left follows the job's own
#: pace, whatever the machine. Issue 13's trial (the default on 719 photos: 35 minutes) is not
#: what the product's job costs here: ``bench/train_estimate.py`` ran it (719 photos of
#: ``categories/``, cold cache) in 146 s and 194 s (the second on a busier machine); estimated 158 s.
MEASURED = "bench/train_costs.py, 2026-12-07, this machine: 2 CPU cores (busy, load 2-4), TensorFlow 2.21, no GPU"
#: A whole run's features pass over the steady-state figures (cache writes, the last partial batch,
#: progress): Lite2 at 448 px, 0.160 s per photo in whole runs against 0.130 s steady.
RUN_OVERHEAD = 1.2


@dataclass(frozen=True)
class BackboneCosts:
    """Measured costs of one transfer backbone, in seconds.

    Attributes:
        features_224, features_448: per photo, cold cache, at 224 and 448 px (decode,
            resize, forward pass, cache write).
        fixed: per run: the extractor built and its graphs traced (the weights loaded too
            when the worker has not loaded this backbone yet).
        save: writing the trained model (``TrainedClassifier.save``: ``.keras``, TFLite, pictures).
        activations_448: per photo at 448 px when fine-tuning: features plus the activations
            of the photo and its mirror image, in one pass; None: not measured.
        fine_tune_448: per training photo per fine-tuning epoch at 448 px (photo and mirror);
            None: not measured.
    """

    features_224: float
    features_448: float
    fixed: float
    save: float
    activations_448: float | None = None
    fine_tune_448: float | None = None

    def features(self, side: int) -> float:
        """Seconds per photo at ``side`` px: ``decode + net * (side / 448) ** 2`` through the two
        measured sides (the decode part never below 0)."""
        net = max(0.0, (self.features_448 - self.features_224) * 4 / 3)
        decode = max(0.0, self.features_448 - net)
        return decode + net * (side / 448) ** 2


#: Per backbone (:data:`MEASURED`; steady features per photo at 224 / 448 px: Lite0 0.021 / 0.114 s,
#: Lite1 0.042 / 0.160 s, Lite2 0.035 / 0.130 s; saving 9-10 s, 24-29 s, 12-17 s). Lite2 fine-tuned
#: at 448 px: features and activations 0.347 s per photo, 0.210 s per training photo per epoch.
#: MobileNetV2's Keras weights are not on this machine: not measured, no estimate.
COSTS: dict[str, BackboneCosts] = {
    "efficientnet_lite0": BackboneCosts(features_224=0.021 * RUN_OVERHEAD, features_448=0.114 * RUN_OVERHEAD,
                                        fixed=15.0, save=10.0),
    "efficientnet_lite1": BackboneCosts(features_224=0.042 * RUN_OVERHEAD, features_448=0.160 * RUN_OVERHEAD,
                                        fixed=15.0, save=25.0),
    "efficientnet_lite2": BackboneCosts(features_224=0.035 * RUN_OVERHEAD, features_448=0.130 * RUN_OVERHEAD,
                                        fixed=15.0, save=15.0, activations_448=0.347, fine_tune_448=0.210),
}
#: The head (Dense 512 on pooled features and class peaks): seconds per epoch, fixed and per training
#: photo (validation included): 0.205 / 0.328 / 1.060 s per epoch at 100 / 500 / 2000 training photos.
HEAD_EPOCH_FIXED = 0.16
HEAD_PER_PHOTO = 0.00045
#: The seed's scratch CNN at 128 px: seconds per epoch, fixed (validation, checkpoint) and per training
#: photo (decode included); the per-photo part grows with the pixels; ``SCRATCH_SAVE`` seconds to save.
SCRATCH_EPOCH_FIXED = 1.25
SCRATCH_PER_PHOTO_128 = 0.0019
SCRATCH_SAVE = 1.0


@dataclass(frozen=True)
class TrainingEstimate:
    """How long a training run should take here, in seconds, by phase.

    Attributes:
        features: backbone features (and activations when fine-tuning) of the photos not
            cached yet, with the run's fixed start-up; 0 from scratch.
        head: training the head (transfer, at most ``epochs``) or the scratch CNN.
        fine_tune: fine-tuning the top blocks (0 when off).
        save: writing the model.
        n_photos, n_cached: photos in the run, and those whose features are cached already.
        epochs: the largest number of epochs of the head or the scratch CNN.
    """

    features: float
    head: float
    fine_tune: float
    save: float
    n_photos: int
    n_cached: int
    epochs: int

    @property
    def seconds(self) -> float:
        """The whole run, seconds."""
        return self.features + self.head + self.fine_tune + self.save

    def progress_shares(self) -> tuple[float, float, float]:
        """``(features, head, fine_tune)`` shares of the training part (saving excluded),
        summing to 1: how ``classifier_train`` splits its progress bar."""
        total = self.features + self.head + self.fine_tune
        if total <= 0:
            return 0.0, 1.0, 0.0
        return self.features / total, self.head / total, self.fine_tune / total

    def sentence(self) -> str:
        """The estimate for people: "About 6 min on this machine: backbone features of 719 photos
        5 min 30 s (then cached), the head up to 40 epochs 10 s, saving 20 s."."""
        parts = []
        todo = self.n_photos - self.n_cached
        if self.features and todo:
            what = "features and activations" if self.fine_tune else "features"
            parts.append(f"backbone {what} of {todo} photo{'s' * (todo != 1)} {duration_text(self.features)} "
                         "(then cached)")
        if self.n_cached:
            parts.append(f"{self.n_cached} photo{'s' * (self.n_cached != 1)} already cached")
        parts.append(f"{'the head' if self.features or self.n_cached else 'training'} up to {self.epochs} epochs "
                     f"{duration_text(self.head)}")
        if self.fine_tune:
            parts.append(f"fine-tuning {duration_text(self.fine_tune)}")
        parts.append(f"saving {duration_text(self.save)}")
        return f"About {duration_text(self.seconds)} on this machine: {', '.join(parts)}."


def duration_text(seconds: float) -> str:
    """``"40 s"``, ``"5 min 30 s"``, ``"1 h 10 min"`` (rounded: 10 s steps under 10 minutes)."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{max(1, s)} s"
    if s < 600:
        m, r = divmod(int(round(s / 10)) * 10, 60)
        return f"{m} min" + (f" {r} s" if r else "")
    m = int(round(s / 60))
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    return f"{h} h" + (f" {m} min" if m else "")


def training_estimate(*, model_kind: str, backbone: str, side: int, epochs: int, fine_tune: bool,
                      fine_tune_epochs: int, n_train: int, n_val: int, n_cached: int = 0) -> TrainingEstimate:
    """Estimate a ``classifier_train`` run on this machine (module docstring).

    ``vision.training.classifier.ClassifierOptions.estimate`` fills the options in.

    Args:
        model_kind: ``"transfer"`` or ``"scratch"``.
        backbone: transfer: a key of :data:`COSTS`.
        side: input side in pixels.
        epochs: the largest number of epochs (head or scratch CNN).
        fine_tune: transfer: whether the top blocks are fine-tuned; ``fine_tune_epochs`` at most.
        n_train, n_val: training and validation photos.
        n_cached: photos whose features (and activations, when fine-tuning) are cached already.

    Returns:
        :class:`TrainingEstimate` (seconds).

    Raises:
        ValueError: an unknown model kind, a backbone with no measured costs, or counts out of
            range (sentence).
    """
    if n_train < 0 or n_val < 0 or not 0 <= n_cached <= n_train + n_val or epochs < 1 or side < 1:
        raise ValueError("Photo counts, epochs and the image size must be positive (cached at most all photos).")
    n = n_train + n_val
    if model_kind == "scratch":
        per_photo = SCRATCH_PER_PHOTO_128 * (side / 128) ** 2
        head = epochs * (SCRATCH_EPOCH_FIXED + per_photo * n_train) + per_photo * n_val
        return TrainingEstimate(0.0, head, 0.0, SCRATCH_SAVE, n, 0, epochs)
    if model_kind != "transfer":
        raise ValueError(f"Unknown model kind {model_kind!r}; choose transfer or scratch.")
    costs = COSTS.get(backbone)
    if costs is None:
        raise ValueError(f"No training costs were measured for {backbone} on this machine "
                         f"(measured: {', '.join(COSTS)}), so there is no estimate.")
    per_photo = costs.features(side)
    ft = 0.0
    if fine_tune:
        if costs.activations_448 is None or costs.fine_tune_448 is None:
            # not measured for this backbone: Lite2's fine-tuning costs scaled by its feature cost
            ref = COSTS["efficientnet_lite2"]
            ratio = costs.features_448 / ref.features_448
            act, tune = ref.activations_448 * ratio, ref.fine_tune_448 * ratio
        else:
            act, tune = costs.activations_448, costs.fine_tune_448
        per_photo = act * per_photo / costs.features_448
        ft = min(fine_tune_epochs, epochs) * n_train * tune * (side / 448) ** 2
    features = costs.fixed + (n - n_cached) * per_photo
    head = epochs * (HEAD_EPOCH_FIXED + HEAD_PER_PHOTO * n_train)
    return TrainingEstimate(features, head, ft, costs.save, n, n_cached, epochs)

