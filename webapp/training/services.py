"""Starting training, prediction and inspection jobs (web side)."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from vision.ocr.model import line_input
from vision.ocr.text import Rule
from vision.training.classifier import DEFAULT_EPOCHS, SCRATCH_IMAGE_SIZE, ClassifierOptions
from vision.training.ocr import CARD_LINE, CARD_WHOLE, PLATE_LINE, OcrOptions
from webapp.core.uploads import image_upload_check, stored_file
from webapp.datasets.models import Dataset, DatasetImage
from webapp.datasets.selectors import dataset_class_counts
from webapp.jobs.services import job_create
from webapp.registry.models import ModelVersion
from webapp.registry.services import model_version_activate
from webapp.training.jobs import ACTIVATIONS, CLASSIFIER, OCR, PREDICT, READ


def training_check(*, dataset: Dataset) -> list[str]:
    """Problems that stop training, in words (empty list: ready)."""
    rows = dataset_class_counts(dataset=dataset)
    usable = [r for r in rows if r["count"] >= 2]
    problems = []
    if dataset.kind != Dataset.Kind.CLASSIFICATION:
        problems.append("Only classification datasets (one class per photo) can train a classifier.")
    elif len(usable) < 2:
        have = ", ".join(f"“{r['name']}” ({r['count']})" for r in rows) or "none"
        problems.append(f"A classifier needs at least two classes with at least two photos each; this dataset has: {have}.")
    return problems


#: Job parameters that record the estimate made at the start (not settings of the training).
ESTIMATE_PARAMS = ("estimate_seconds", "estimate")


def options_from_params(p: dict, seed: int = 42) -> ClassifierOptions:
    """A training job's parameters (:func:`training_start`) as ``ClassifierOptions``.

    Raises:
        ValueError: a value out of range (sentence).
    """
    return ClassifierOptions(model_kind=p["model_kind"], backbone=p.get("backbone") or ClassifierOptions.backbone,
                             image_size=p.get("image_size"), epochs=p.get("epochs"),
                             learning_rate=p.get("learning_rate") or ClassifierOptions.learning_rate,
                             batch_size=p.get("batch_size") or ClassifierOptions.batch_size,
                             patience=p.get("patience") or ClassifierOptions.patience, augment=bool(p.get("augment")),
                             fine_tune=bool(p.get("fine_tune")), seed=seed)


def training_estimate(*, dataset: Dataset, options: ClassifierOptions):
    """How long training ``dataset`` with ``options`` should take on this machine, before it
    starts (``ClassifierOptions.estimate``: measured per-photo costs): its readable labelled
    photos, split by the dataset's validation share, and how many of them have their backbone
    features (and activations, when fine-tuning) cached already under ``CACHE_DIR``.

    Returns:
        ``vision.training.estimate.TrainingEstimate`` (seconds by phase).

    Raises:
        ValueError: no costs were measured for the backbone (sentence).
    """
    from vision.training.features import cached_count
    from vision.training.transfer import FEATURE_LAYOUT

    keys = list(dataset.images.filter(status=DatasetImage.Status.OK, label__isnull=False)
                .values_list("sha256", flat=True))
    n_val = round(len(keys) * dataset.validation_fraction)
    cached = 0
    if options.model_kind == "transfer" and keys:
        root = Path(settings.CACHE_DIR)
        dirs = [root / "features" / f"{options.backbone}-{options.side}px-{FEATURE_LAYOUT}"]
        if options.fine_tuning:  # the activations' folder is named by the backbone's cut: the one there is
            dirs += sorted((root / "activations").glob(f"{options.backbone}-{options.side}px-*"))[:1] or [
                root / "activations" / "none"]
        cached = cached_count(keys, dirs)
    return options.estimate(n_train=len(keys) - n_val, n_val=n_val, n_cached=cached)


def training_start(*, dataset: Dataset, model_kind: str, user=None, epochs: int | None = None,
                   image_size: int | None = None, batch_size: int | None = None, learning_rate: float | None = None,
                   patience: int = 5, augment: bool = False, fine_tune: bool = False,
                   backbone: str = "efficientnet_lite0"):
    """Queue a training job for ``dataset``.

    Raises:
        ValidationError: the dataset cannot train (sentence), bad parameters, or a training job of
            this kind already queued or running on the dataset with other settings (code "busy").
    """
    if model_kind not in DEFAULT_EPOCHS:
        raise ValidationError(f"Unknown model kind {model_kind!r}.", code="invalid")
    problems = training_check(dataset=dataset)
    if problems:
        raise ValidationError(problems[0], code="not_trainable")
    d = ClassifierOptions()  # the product's defaults, one place (vision.training.classifier)
    if model_kind == "transfer":
        from vision.training.transfer import transfer_image_size

        try:
            image_size = transfer_image_size(backbone, image_size)
        except ValueError as err:
            raise ValidationError(str(err), code="invalid") from err
    params = {
        "dataset_id": dataset.pk, "model_kind": model_kind, "backbone": backbone if model_kind == "transfer" else "",
        "epochs": int(epochs or DEFAULT_EPOCHS[model_kind]), "image_size": int(image_size or SCRATCH_IMAGE_SIZE),
        "batch_size": int(batch_size or d.batch_size), "learning_rate": float(learning_rate or d.learning_rate),
        "patience": int(patience), "augment": bool(augment), "fine_tune": bool(fine_tune and model_kind == "transfer"),
    }
    if not 1 <= params["epochs"] <= 500 or not 48 <= params["image_size"] <= 640 or not 1 <= params["batch_size"] <= 256:
        raise ValidationError("Epochs must be 1–500, image size 48–640 px, batch size 1–256.", code="invalid")
    try:  # said on the job page beside the time left: what was expected before it started
        est = training_estimate(dataset=dataset, options=options_from_params(params))
        estimate = {"estimate_seconds": round(est.seconds), "estimate": est.sentence()}
    except ValueError:  # a backbone never measured here
        estimate = {}
    job, created = job_create(CLASSIFIER, params={**params, **estimate}, user=user,
                              key=f"{CLASSIFIER.key('dataset', dataset.pk)}:{model_kind}")
    if not created and {k: v for k, v in job.params.items() if k not in ESTIMATE_PARAMS} != params:
        # the same request twice (a double click) just finds its job
        raise ValidationError(
            f"A {job.params.get('model_kind', model_kind)} training job for this dataset is already {job.state} "
            f"(#{job.pk}); wait for it to finish or cancel it, then start again. These settings were not used.",
            code="busy")
    return job


def embedding_check(*, dataset: Dataset) -> list[str]:
    """Problems that stop learning an embedding from ``dataset``'s classes, in words."""
    if dataset.kind != Dataset.Kind.CLASSIFICATION:
        return ["An embedding is learned from a classification dataset: each class is a group of similar photos."]
    usable = [r for r in dataset_class_counts(dataset=dataset) if r["count"] >= 2]
    if len(usable) < 4:
        return [f"An embedding needs at least four classes (groups) with at least two photos each, two to learn "
                f"from and two to check on; this dataset has {len(usable)}."]
    return []


def embedding_options_from_params(p: dict, seed: int = 42):
    """An embedding job's parameters (:func:`embedding_start`) as ``RankingOptions``.

    Raises:
        ValueError: a value out of range (sentence).
    """
    from vision.training.ranking import RankingOptions

    d = RankingOptions()
    return RankingOptions(epochs=int(p.get("epochs", d.epochs)), mining=p.get("mining") or d.mining,
                          margin=float(p.get("margin", d.margin)),
                          architecture=p.get("architecture") or d.architecture, seed=seed)


def embedding_start(*, dataset: Dataset, user=None, epochs: int | None = None, mining: str | None = None,
                    margin: float | None = None, architecture: str | None = None):
    """Queue learning a similarity embedding from ``dataset``'s classes (``training.embedding``).

    Raises:
        ValidationError: the dataset cannot train one (sentence), a setting out of range, or such a
            job already queued or running on it with other settings (code "busy").
    """
    from vision.training.ranking import RankingOptions

    from webapp.training.jobs import EMBEDDING

    problems = embedding_check(dataset=dataset)
    if problems:
        raise ValidationError(problems[0], code="not_trainable")
    d = RankingOptions()
    params = {"dataset_id": dataset.pk, "epochs": d.epochs if epochs is None else int(epochs),
              "mining": mining or d.mining, "margin": d.margin if margin is None else float(margin),
              "backbone": d.backbone, "image_size": d.image_size, "dim": d.dim,
              "architecture": architecture or d.architecture}
    return dataset_job_start(EMBEDDING, dataset=dataset, params=params, user=user,
                              options_from_params=embedding_options_from_params, what="An embedding job")


def dataset_job_start(job_type, *, dataset: Dataset, params: dict, user, options_from_params, what: str):
    """Queue a training job of ``job_type`` on ``dataset`` (one at a time per dataset: the same
    request twice, a double click, finds its job) once ``options_from_params(params)`` accepts
    the settings.

    Args:
        what: the job in words, for the refusal ("An embedding job").

    Raises:
        ValidationError: a setting out of range (code "invalid"), or a job of this kind already
            queued or running on the dataset with other settings (code "busy"); in words.
    """
    try:
        options_from_params(params)
    except ValueError as err:
        raise ValidationError(str(err), code="invalid") from err
    job, created = job_create(job_type, params=params, user=user, key=job_type.key("dataset", dataset.pk))
    if not created and job.params != params:
        raise ValidationError(f"{what} for this dataset is already {job.state} (#{job.pk}); wait for it to finish "
                              "or cancel it, then start again. These settings were not used.", code="busy")
    return job


#: Reader presets (``vision.training.ocr``) by the name a job stores: what each reads is said on the form.
OCR_PRESETS = {"card_line": CARD_LINE, "card_whole": CARD_WHOLE, "plate": PLATE_LINE}
#: Readable photos with their text a reader job asks for: 70 % of 20 (the default validation share) leaves
#: 14 to learn from and 6 to check on, about the least that says anything (the seed trains on 1,000 cards).
OCR_MIN_LINES = 20
#: ``OcrOptions`` fields a job's ``options`` may set over its preset (its epochs, plate pattern and seed
#: have their own parameters): the command line and tests choose a smaller model, fine-tuning copies the
#: reader it starts from.
OCR_SETTINGS = frozenset(f.name for f in dataclasses.fields(OcrOptions)) - {"epochs", "rule", "pattern", "seed"}
#: What a fine-tuned reader keeps of the one it starts from: its input, alphabet and layer widths.
OCR_ARCHITECTURE = ("alphabet", "height", "width", "keep_aspect", "max_length", "filters", "rnn_units")


def ocr_check(*, dataset: Dataset) -> list[str]:
    """Problems that stop training a text-line reader on ``dataset``, in words (empty list: ready)."""
    if dataset.kind != Dataset.Kind.TEXT_LINES:
        return ["A text-line reader learns from a text-lines dataset: one photo of a line per row, with its text."]
    n = dataset.images.filter(status=DatasetImage.Status.OK).exclude(text="").count()
    if n < OCR_MIN_LINES:
        return [f"A reader needs at least {OCR_MIN_LINES} readable photos with their text, some to learn from and "
                f"some to check on; this dataset has {n}."]
    return []


def ocr_options_from_params(p: dict, seed: int = 42) -> OcrOptions:
    """A reader job's parameters (:func:`ocr_start`) as ``OcrOptions``: its preset with the
    job's epochs, its plate pattern (a ``"pattern"`` rule) and its further ``options`` over it.

    Raises:
        ValueError: an unknown preset or setting name, a value out of range (sentence).
    """
    if p.get("preset") not in OCR_PRESETS:
        raise ValueError(f"Unknown reader preset {p.get('preset')!r}; known: {', '.join(OCR_PRESETS)}.")
    extra = dict(p.get("options") or {})
    unknown = sorted(set(extra) - OCR_SETTINGS)
    if unknown:
        raise ValueError(f"Unknown reader setting{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.")
    if p.get("pattern"):
        extra.update(rule="pattern", pattern=p["pattern"])
    return dataclasses.replace(OCR_PRESETS[p["preset"]], **extra, epochs=int(p["epochs"]), seed=seed)


def ocr_start(*, dataset: Dataset, user=None, preset: str = "card_line", epochs: int | None = None,
              pattern: str = "", base_model_version_id: int | None = None, options: dict | None = None):
    """Queue training a text-line reader on ``dataset``'s lines (``training.ocr``, batch queue).

    Args:
        preset: a key of :data:`OCR_PRESETS`.
        epochs: at most this many (early stopping on the validation accuracy); ``None``: the preset's.
        pattern: plates only: a regular expression the whole plate must match (checked on
            every reading; a reading failing it is flagged, never changed).
        base_model_version_id: fine-tune this reader (active, trained with the same preset)
            instead of starting from random weights; its input, alphabet and widths are kept.
        options: further ``OcrOptions`` fields (:data:`OCR_SETTINGS`), e.g. a smaller model.

    Raises:
        ValidationError: the dataset cannot train a reader (code "not_trainable"), a setting out
            of range or unknown, or a reader job already queued or running on it with other
            settings (code "busy"); each in words.
        QueueUnavailable: the broker is down (the job is marked failed).
    """
    problems = ocr_check(dataset=dataset)
    if problems:
        raise ValidationError(problems[0], code="not_trainable")
    if preset not in OCR_PRESETS:
        raise ValidationError(f"Unknown reader preset {preset!r}; known: {', '.join(OCR_PRESETS)}.", code="invalid")
    pattern = (pattern or "").strip()
    if pattern and OCR_PRESETS[preset].rule == "card":
        raise ValidationError("A pattern is for plates: a card number is checked by its 16 digits and its Luhn "
                              "check digit.", code="invalid")
    extra = dict(options or {})
    if base_model_version_id:
        base = ModelVersion.objects.filter(pk=base_model_version_id, kind=ModelVersion.Kind.OCR).first()
        if base is None or not base.active or base.params.get("preset") != preset:
            raise ValidationError("Fine-tuning starts from an active reader trained with the same preset; choose "
                                  "one of those, or none to train a new reader.", code="invalid")
        extra = {**{k: base.metrics["options"][k] for k in OCR_ARCHITECTURE}, **extra}
    params = {"dataset_id": dataset.pk, "preset": preset,
              "epochs": OCR_PRESETS[preset].epochs if epochs is None else int(epochs), "pattern": pattern,
              "base_model_version_id": int(base_model_version_id) if base_model_version_id else None,
              "options": extra}
    return dataset_job_start(OCR, dataset=dataset, params=params, user=user,
                              options_from_params=ocr_options_from_params, what="A reader job")


def reader_options(*, model_version: ModelVersion) -> OcrOptions:
    """The options a reader version was trained with (its report's), which say what input it takes."""
    return OcrOptions(**model_version.metrics["options"])


def _stage_upload(upload, folder: str, check=None) -> tuple[str, str]:
    """Check an uploaded photo (size and content, ``webapp.core.uploads``; then ``check(loaded)``,
    which raises ``ValidationError``) and store it under ``folder``; ``(path, url)``."""
    loaded, data = image_upload_check(upload)
    if check is not None:
        check(loaded)
    f = stored_file(loaded, data)
    name = default_storage.save(f"{folder}/{f.name}", f)
    return default_storage.path(name), default_storage.url(name)


def prediction_start(*, model_version: ModelVersion, upload, user=None):
    """Queue a prediction of one uploaded photo. Raises ValidationError for a bad upload."""
    path, url = _stage_upload(upload, "predict")
    job, _ = job_create(PREDICT, user=user,
                        params={"model_version_id": model_version.pk, "path": path, "url": url})
    return job


def activations_start(*, model_version: ModelVersion, upload, layer: str, user=None):
    """Queue the activation maps of one photo at ``layer``."""
    path, _url = _stage_upload(upload, "inspect")
    job, _ = job_create(ACTIVATIONS, user=user,
                        params={"model_version_id": model_version.pk, "path": path, "layer": layer,
                                "out": f"inspect/{uuid.uuid4().hex}.png"})
    return job


def reading_start(*, model_version: ModelVersion, upload, pattern: str = "", user=None):
    """Queue reading the text line of one uploaded photo (``training.read``, interactive queue).

    The photo is refused here, before a worker is asked, when it is not a readable image of an
    accepted size (every upload's checks) or does not fit the reader's input
    (``vision.ocr.model.line_input``: under 8 px on a side, or a line much wider than the reader
    takes once scaled to its height).

    Args:
        pattern: a regular expression the whole text must match, checked instead of the
            reader's own rule (a plate format); empty: the reader's rule.

    Raises:
        ValidationError: the photo or the pattern, in words (code "invalid_image", "invalid", ...).
        QueueUnavailable: the broker is down (the photo stays stored, the job failed).
    """
    pattern = (pattern or "").strip()
    if pattern:
        try:
            Rule("pattern", pattern)
        except ValueError as err:
            raise ValidationError(str(err), code="invalid") from err
    shape = reader_options(model_version=model_version).shape

    def fits(loaded) -> None:
        try:
            line_input(loaded.pixels, shape)
        except ValueError as err:
            raise ValidationError(str(err), code="invalid_image") from err

    path, url = _stage_upload(upload, "read", check=fits)
    job, _ = job_create(READ, user=user, params={"model_version_id": model_version.pk, "path": path, "url": url,
                                                 "pattern": pattern})
    return job


def model_activate(*, model_version: ModelVersion) -> None:
    model_version_activate(model_version=model_version)
